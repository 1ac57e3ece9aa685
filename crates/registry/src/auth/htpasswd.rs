//! HTTP basic auth against an htpasswd file of bcrypt hashes.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;

use crate::error::ServerError;

use super::AuthError;

/// Users and their bcrypt hashes, read from an htpasswd file (`user:$2y$...` lines, as
/// `htpasswd -B` writes them).
pub struct Htpasswd {
    users: HashMap<String, String>,
    /// (user, sha256 of password) pairs already verified: bcrypt is slow by design, and
    /// clients send credentials with every request.
    verified: Mutex<HashSet<(String, String)>>,
}

impl std::fmt::Debug for Htpasswd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Htpasswd")
            .field("users", &self.users.len())
            .finish_non_exhaustive()
    }
}

impl Htpasswd {
    /// Reads an htpasswd file.
    pub fn load(path: &Path) -> Result<Htpasswd, ServerError> {
        Htpasswd::read(path).map_err(|message| ServerError::Htpasswd {
            path: path.display().to_string(),
            message,
        })
    }

    /// Reads an htpasswd file, for token auth.
    pub(crate) fn load_for_token(path: &Path) -> Result<Htpasswd, AuthError> {
        Htpasswd::read(path).map_err(|message| AuthError::Htpasswd {
            path: path.display().to_string(),
            message,
        })
    }

    fn read(path: &Path) -> Result<Htpasswd, String> {
        let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
        Htpasswd::parse(&text)
    }

    /// Whether `user` has an entry.
    pub fn has_user(&self, user: &str) -> bool {
        self.users.contains_key(user)
    }

    /// Parses htpasswd text. Only bcrypt entries are accepted.
    pub fn parse(text: &str) -> Result<Htpasswd, String> {
        let mut users = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = line.split_once(':') else {
                return Err(format!("line {}: expected USER:HASH", n + 1));
            };
            if !["$2a$", "$2b$", "$2x$", "$2y$"]
                .iter()
                .any(|p| hash.starts_with(p))
            {
                return Err(format!(
                    "line {}: user {user:?} has a non-bcrypt hash (create it with htpasswd -B)",
                    n + 1
                ));
            }
            users.insert(user.to_string(), hash.to_string());
        }
        Ok(Htpasswd {
            users,
            verified: Mutex::new(HashSet::new()),
        })
    }

    /// Whether `user` with `password` is allowed. Runs bcrypt on a blocking thread the
    /// first time a pair is seen.
    pub async fn check(&self, user: &str, password: &str) -> bool {
        let Some(hash) = self.users.get(user).cloned() else {
            return false;
        };
        let pw_hash = oci::Digest::sha256_of(password.as_bytes()).to_string();
        let pair = (user.to_string(), pw_hash);
        if self
            .verified
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&pair)
        {
            return true;
        }
        let password = password.to_string();
        let ok =
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
                .await
                .unwrap_or(false);
        if ok {
            self.verified
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(pair);
        }
        ok
    }
}

/// Splits an `Authorization: Basic ...` header value into user and password.
pub fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let (u, p) = s.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_headers() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("Basic dXNlcjpwYXNz", Some(("user", "pass"))),
            ("basic dXNlcjpwYTpzcw==", Some(("user", "pa:ss"))),
            ("Bearer abc", None),
            ("Basic !!!", None),
            ("Basic dXNlcg==", None),
            ("", None),
        ];
        for (h, want) in cases {
            let got = parse_basic(h);
            let want = want.map(|(u, p)| (u.to_string(), p.to_string()));
            assert_eq!(got, want, "{h:?}");
        }
    }

    #[tokio::test]
    async fn htpasswd_bcrypt() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let h = Htpasswd::parse(&format!("# users\nalice:{hash}\n\n")).unwrap();
        assert!(h.check("alice", "s3cret").await);
        assert!(h.check("alice", "s3cret").await);
        assert!(!h.check("alice", "wrong").await);
        assert!(!h.check("bob", "s3cret").await);
        assert!(Htpasswd::parse("bob:{SHA}abc").is_err());
        assert!(Htpasswd::parse("nocolon").is_err());
    }
}
