//! Scopes, access entries and the per-repository permission rules of token auth.
//!
//! A scope is what a client asks for (`repository:team/app:pull,push`), an access entry is
//! what a token grants (`{"type":"repository","name":"team/app","actions":["pull"]}`), and
//! an [`AccessRule`] from the config says which accounts may do what to which repositories.
//!
//! Rules combine by **union**: an account may do an action on a repository when any rule
//! that matches the account and the repository lists the action (or `*`). No rule can take
//! away what another grants, so the order of rules does not matter.

use serde::{Deserialize, Serialize};

/// `pull`: read manifests, blobs, tags and referrers.
pub const PULL: &str = "pull";
/// `push`: upload blobs, put manifests and tags.
pub const PUSH: &str = "push";
/// `delete`: delete manifests, tags and blobs.
pub const DELETE: &str = "delete";

/// Access to one resource: a token's `access` claim entry, or what a request needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceActions {
    /// The resource type: `repository`, or `registry` (for `catalog`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The resource name: a repository name, or `catalog`.
    pub name: String,
    /// The actions: `pull`, `push`, `delete`, or `*`.
    #[serde(default)]
    pub actions: Vec<String>,
}

impl ResourceActions {
    /// Access of `kind` to `name` for `actions`.
    pub fn new(kind: &str, name: &str, actions: &[&str]) -> ResourceActions {
        ResourceActions {
            kind: kind.to_string(),
            name: name.to_string(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// Repository access.
    pub fn repository(name: &str, actions: &[&str]) -> ResourceActions {
        ResourceActions::new("repository", name, actions)
    }

    /// The catalog (`registry:catalog:*`).
    pub fn catalog() -> ResourceActions {
        ResourceActions::new("registry", "catalog", &["*"])
    }

    /// Parses one scope, `TYPE[(CLASS)]:NAME:ACTION[,ACTION...]`. The name may hold colons
    /// (`localhost:5000/app`): the type ends at the first colon, the actions start after the
    /// last, as distribution parses them. `None` for a malformed scope.
    pub fn parse_scope(scope: &str) -> Option<ResourceActions> {
        let (kind, rest) = scope.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        // `repository(plugin)`: the class does not change what is granted.
        let kind = kind.split_once('(').map_or(kind, |(k, _)| k);
        if kind.is_empty() || name.is_empty() {
            return None;
        }
        let mut list: Vec<String> = Vec::new();
        for a in actions.split(',').map(str::trim).filter(|a| !a.is_empty()) {
            if !list.iter().any(|x| x == a) {
                list.push(a.to_string());
            }
        }
        Some(ResourceActions {
            kind: kind.to_string(),
            name: name.to_string(),
            actions: list,
        })
    }

    /// The scope string, `TYPE:NAME:A,B`.
    pub fn scope(&self) -> String {
        format!("{}:{}:{}", self.kind, self.name, self.actions.join(","))
    }
}

/// Parses the `scope` parameters of a token request: each may hold several scopes
/// separated by spaces. Malformed scopes are skipped (a token server grants less, it does
/// not fail).
pub fn parse_scopes<'a>(params: impl IntoIterator<Item = &'a str>) -> Vec<ResourceActions> {
    params
        .into_iter()
        .flat_map(str::split_whitespace)
        .filter_map(ResourceActions::parse_scope)
        .collect()
}

/// Whether `granted` (a token's access claim) allows every action of every entry of `needed`.
pub fn allows(granted: &[ResourceActions], needed: &[ResourceActions]) -> bool {
    needed.iter().all(|n| {
        n.actions.iter().all(|action| {
            granted.iter().any(|g| {
                g.kind == n.kind
                    && g.name == n.name
                    && g.actions.iter().any(|a| a == action || a == "*")
            })
        })
    })
}

/// One permission rule of the config: `account` may do `actions` to the resources whose
/// name matches `repository`.
///
/// In TOML: `[[auth.token.access]]` tables; in YAML: a list of maps under
/// `auth: token: access:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    /// A glob over account names: `alice`; `*` for everyone, anonymous clients included;
    /// `?*` for every authenticated account; the empty string for anonymous clients only.
    #[serde(default = "any")]
    pub account: String,
    /// The resource type: `repository` (the default) or `registry` (the catalog).
    #[serde(rename = "type", default = "repository_type")]
    pub kind: String,
    /// A glob over resource names (`team/*`, `*`; `*` also crosses `/`). `${account}`
    /// stands for the requesting account's name (`${account}/*`: own namespace).
    #[serde(alias = "name")]
    pub repository: String,
    /// The actions granted: `pull`, `push`, `delete`, or `*` for all (needed for the
    /// catalog, whose scope is `registry:catalog:*`).
    pub actions: Vec<String>,
}

fn any() -> String {
    "*".to_string()
}

fn repository_type() -> String {
    "repository".to_string()
}

impl AccessRule {
    /// A rule granting `actions` on repositories matching `repository` to `account`.
    pub fn new(account: &str, repository: &str, actions: &[&str]) -> AccessRule {
        AccessRule {
            account: account.to_string(),
            kind: repository_type(),
            repository: repository.to_string(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }

    /// Whether this rule applies to `account` (empty: anonymous) and resource `kind:name`.
    fn matches(&self, account: &str, kind: &str, name: &str) -> bool {
        if !glob(&self.account, account) || !glob(&self.kind, kind) {
            return false;
        }
        if self.repository.contains("${account}") {
            // An anonymous client has no namespace of its own.
            if account.is_empty() {
                return false;
            }
            return glob(&self.repository.replace("${account}", account), name);
        }
        glob(&self.repository, name)
    }
}

/// The permission rules of a token server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessList {
    rules: Vec<AccessRule>,
}

impl Default for AccessList {
    /// Without configured rules: every authenticated account may do everything (including
    /// the catalog); anonymous clients nothing.
    fn default() -> AccessList {
        AccessList {
            rules: vec![AccessRule {
                account: "?*".to_string(),
                kind: "*".to_string(),
                repository: "*".to_string(),
                actions: vec!["*".to_string()],
            }],
        }
    }
}

impl AccessList {
    /// A list of rules (combined by union).
    pub fn new(rules: Vec<AccessRule>) -> AccessList {
        AccessList { rules }
    }

    /// The rules.
    pub fn rules(&self) -> &[AccessRule] {
        &self.rules
    }

    /// What `account` (empty: anonymous) gets of `requested`: for each requested entry,
    /// the requested actions some matching rule allows. Entries left with no action are
    /// dropped; nothing is an error.
    pub fn grant(&self, account: &str, requested: &[ResourceActions]) -> Vec<ResourceActions> {
        let mut out: Vec<ResourceActions> = Vec::new();
        for req in requested {
            let rules: Vec<&AccessRule> = self
                .rules
                .iter()
                .filter(|r| r.matches(account, &req.kind, &req.name))
                .collect();
            let actions: Vec<String> = req
                .actions
                .iter()
                .filter(|a| {
                    rules
                        .iter()
                        .any(|r| r.actions.iter().any(|x| x == *a || x == "*"))
                })
                .cloned()
                .collect();
            if actions.is_empty() {
                continue;
            }
            // Merge with an earlier entry for the same resource.
            if let Some(prev) = out
                .iter_mut()
                .find(|o| o.kind == req.kind && o.name == req.name)
            {
                for a in actions {
                    if !prev.actions.contains(&a) {
                        prev.actions.push(a);
                    }
                }
            } else {
                out.push(ResourceActions {
                    kind: req.kind.clone(),
                    name: req.name.clone(),
                    actions,
                });
            }
        }
        out
    }
}

/// Glob match: `*` matches any run of characters (`/` included), `?` one character,
/// anything else itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matcher with backtracking to the last star.
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) && p[pi] != '*' {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "team/app", true),
            ("?*", "", false),
            ("?*", "a", true),
            ("", "", true),
            ("", "alice", false),
            ("alice", "alice", true),
            ("alice", "alicex", false),
            ("team/*", "team/app", true),
            ("team/*", "team/a/b", true),
            ("team/*", "team", false),
            ("team/*", "other/app", false),
            ("*/app", "x/y/app", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(glob(p, t), *want, "glob({p:?}, {t:?})");
        }
    }

    type ScopeCase<'a> = (&'a str, Option<(&'a str, &'a str, &'a [&'a str])>);

    #[test]
    fn scopes() {
        let cases: &[ScopeCase] = &[
            (
                "repository:team/app:pull,push",
                Some(("repository", "team/app", &["pull", "push"])),
            ),
            (
                "repository:localhost:5000/app:pull",
                Some(("repository", "localhost:5000/app", &["pull"])),
            ),
            (
                "repository(plugin):app:pull",
                Some(("repository", "app", &["pull"])),
            ),
            ("registry:catalog:*", Some(("registry", "catalog", &["*"]))),
            ("repository:app:", Some(("repository", "app", &[]))),
            (
                "repository:app:pull,pull",
                Some(("repository", "app", &["pull"])),
            ),
            ("repository:app", None),
            ("nonsense", None),
            (":app:pull", None),
        ];
        for (s, want) in cases {
            let got = ResourceActions::parse_scope(s);
            let want = want.map(|(k, n, a)| ResourceActions::new(k, n, a));
            assert_eq!(got, want, "{s:?}");
        }
        let all = parse_scopes(["repository:a:pull repository:b:push", "bad"]);
        assert_eq!(
            all,
            vec![
                ResourceActions::repository("a", &["pull"]),
                ResourceActions::repository("b", &["push"]),
            ]
        );
        assert_eq!(
            ResourceActions::repository("a/b", &["pull", "push"]).scope(),
            "repository:a/b:pull,push"
        );
    }

    #[test]
    fn grants() {
        let list = AccessList::new(vec![
            AccessRule::new("*", "public/*", &["pull"]),
            AccessRule::new("alice", "team/*", &["pull", "push"]),
            AccessRule::new("alice", "team/app", &["delete"]),
            AccessRule::new("?*", "${account}/*", &["*"]),
            AccessRule {
                account: "admin".into(),
                kind: "registry".into(),
                repository: "catalog".into(),
                actions: vec!["*".into()],
            },
        ]);
        let r = |n: &str, a: &[&str]| ResourceActions::repository(n, a);
        let pp: &[&str] = &["pull", "push"];
        let cases: Vec<(&str, ResourceActions, Vec<&str>)> = vec![
            ("", r("public/x", pp), vec!["pull"]),
            ("", r("team/app", &["pull"]), vec![]),
            ("bob", r("public/x", pp), vec!["pull"]),
            (
                "alice",
                r("team/app", &["pull", "push", "delete"]),
                vec!["pull", "push", "delete"],
            ),
            (
                "alice",
                r("team/other", &["pull", "push", "delete"]),
                vec!["pull", "push"],
            ),
            ("alice", r("teams/x", pp), vec![]),
            (
                "bob",
                r("bob/app", &["pull", "push", "delete"]),
                vec!["pull", "push", "delete"],
            ),
            ("bob", r("alice/app", pp), vec![]),
            ("", r("/x", pp), vec![]),
            ("admin", ResourceActions::catalog(), vec!["*"]),
            ("alice", ResourceActions::catalog(), vec![]),
        ];
        for (account, req, want) in cases {
            let got = list.grant(account, std::slice::from_ref(&req));
            let got: Vec<&str> = got
                .first()
                .map(|g| g.actions.iter().map(String::as_str).collect())
                .unwrap_or_default();
            assert_eq!(got, want, "{account:?} {}", req.scope());
        }
        // Two scopes for one repository merge.
        let g = list.grant(
            "alice",
            &[r("team/app", &["pull"]), r("team/app", &["delete"])],
        );
        assert_eq!(g, vec![r("team/app", &["pull", "delete"])]);
        // The default: authenticated accounts everything, anonymous nothing.
        let d = AccessList::default();
        assert_eq!(d.grant("x", &[r("a", pp)]), vec![r("a", pp)]);
        assert_eq!(d.grant("x", &[ResourceActions::catalog()]).len(), 1);
        assert!(d.grant("", &[r("a", pp)]).is_empty());
    }

    #[test]
    fn allows_table() {
        let r = |n: &str, a: &[&str]| ResourceActions::repository(n, a);
        let granted = vec![
            r("a", &["pull", "push"]),
            r("b", &["pull"]),
            ResourceActions::catalog(),
        ];
        let cases: Vec<(Vec<ResourceActions>, bool)> = vec![
            (vec![], true),
            (vec![r("a", &["pull"])], true),
            (vec![r("a", &["pull", "push"])], true),
            (vec![r("a", &["delete"])], false),
            (vec![r("b", &["pull", "push"])], false),
            (vec![r("c", &["pull"])], false),
            (vec![ResourceActions::catalog()], true),
            (vec![r("a", &["pull"]), r("b", &["pull"])], true),
            (vec![r("a", &["pull"]), r("c", &["pull"])], false),
        ];
        for (needed, want) in cases {
            assert_eq!(allows(&granted, &needed), want, "{needed:?}");
        }
    }
}
