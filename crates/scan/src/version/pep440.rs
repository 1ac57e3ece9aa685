//! Python's version order, PEP 440 as the `packaging` library implements it
//! (`packaging.version.Version`, the reference pip uses): `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`
//! with its normalisations (case-insensitive, a leading `v`, `alpha`/`beta`/`c`/`pre`/
//! `preview` spellings, optional separators, implicit numbers, `-N` as a post-release).
//!
//! Order: epoch, release (trailing zeros ignored), then dev-only releases before
//! pre-releases before the final release, post-releases after, a dev release before its
//! base; a local version sorts after the same public version, its segments numbers above
//! strings. Strings `packaging` refuses (`InvalidVersion`) fail [`parse`] and, in
//! [`compare`], sort before every valid version.

use std::cmp::Ordering;
use std::sync::LazyLock;

use regex::Regex;

use super::{Ecosystem, VersionError, cmp_digits, cmp_parsed};

/// PEP 440's grammar, with the spellings and separators it allows (PEP 440, "Appendix B").
static PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*
        v?
        (?:(?P<epoch>[0-9]+)!)?
        (?P<release>[0-9]+(?:\.[0-9]+)*)
        (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
        (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
        (?P<dev>[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>[0-9]+)?)?
        (?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?
        \s*$",
    )
    .expect("the PEP 440 pattern compiles")
});

/// A pre-release phase, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// `a`, `alpha`.
    Alpha,
    /// `b`, `beta`.
    Beta,
    /// `rc`, `c`, `pre`, `preview`.
    Rc,
}

/// One dot-separated segment of a local version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalPart {
    /// A number (compared numerically, above every string).
    Number(String),
    /// Letters and digits, lowercased (compared as strings).
    Text(String),
}

/// A parsed PEP 440 version; numbers kept as digit strings so any length compares right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// The epoch, `"0"` when absent.
    pub epoch: String,
    /// The release numbers.
    pub release: Vec<String>,
    /// The pre-release phase and number.
    pub pre: Option<(Phase, String)>,
    /// The post-release number.
    pub post: Option<String>,
    /// The dev-release number.
    pub dev: Option<String>,
    /// The local version's segments (empty when there is none).
    pub local: Vec<LocalPart>,
}

/// Parses a version as `packaging.version.Version` does.
pub fn parse(version: &str) -> Result<Version, VersionError> {
    let caps = PATTERN
        .captures(version)
        .ok_or_else(|| VersionError::invalid(Ecosystem::PyPI, version, "not a PEP 440 version"))?;
    let text = |name| caps.name(name).map(|m| m.as_str());
    // An implicit number is 0 (`1.0a` is `1.0a0`, `1.0.post` is `1.0.post0`).
    let number = |name| text(name).unwrap_or("0").to_owned();
    let pre = text("pre_l").map(|label| {
        let phase = match label.to_ascii_lowercase().as_str() {
            "a" | "alpha" => Phase::Alpha,
            "b" | "beta" => Phase::Beta,
            _ => Phase::Rc,
        };
        (phase, number("pre_n"))
    });
    let post = match (text("post_n1"), text("post_l")) {
        (Some(n), _) => Some(n.to_owned()),
        (None, Some(_)) => Some(number("post_n2")),
        (None, None) => None,
    };
    let local = text("local")
        .map(|local| {
            local
                .split(['-', '_', '.'])
                .map(|part| {
                    if part.bytes().all(|c| c.is_ascii_digit()) {
                        LocalPart::Number(part.to_owned())
                    } else {
                        LocalPart::Text(part.to_ascii_lowercase())
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Version {
        epoch: number("epoch"),
        release: text("release")
            .unwrap_or("0")
            .split('.')
            .map(str::to_owned)
            .collect(),
        pre,
        post,
        dev: text("dev_l").map(|_| number("dev_n")),
        local,
    })
}

/// Orders two versions as `packaging` does; see the module doc for refused strings.
pub fn compare(a: &str, b: &str) -> Ordering {
    cmp_parsed((a, parse(a)), (b, parse(b)), cmp_versions)
}

/// Orders two parsed versions (`packaging`'s `_cmpkey`).
pub fn cmp_versions(a: &Version, b: &Version) -> Ordering {
    cmp_digits(&a.epoch, &b.epoch)
        .then_with(|| cmp_release(&a.release, &b.release))
        .then_with(|| pre_key(a).cmp(&pre_key(b)))
        .then_with(|| cmp_optional(a.post.as_deref(), b.post.as_deref(), Ordering::Less))
        .then_with(|| cmp_optional(a.dev.as_deref(), b.dev.as_deref(), Ordering::Greater))
        .then_with(|| cmp_local(&a.local, &b.local))
}

/// Release numbers with trailing zeros ignored (`1.0` == `1`).
fn cmp_release(a: &[String], b: &[String]) -> Ordering {
    let len = a.len().max(b.len());
    (0..len)
        .map(|i| {
            cmp_digits(
                a.get(i).map_or("0", String::as_str),
                b.get(i).map_or("0", String::as_str),
            )
        })
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// Where the pre-release puts a version: a dev release of the final (`1.0.dev1`, no pre
/// or post) before every pre-release, the final release after them.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum PreKey<'a> {
    DevOfFinal,
    Pre(Phase, Digits<'a>),
    Final,
}

/// Digit strings ordered numerically.
#[derive(Debug, PartialEq, Eq)]
struct Digits<'a>(&'a str);

impl PartialOrd for Digits<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Digits<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(self.0, other.0)
    }
}

fn pre_key(v: &Version) -> PreKey<'_> {
    match &v.pre {
        Some((phase, n)) => PreKey::Pre(*phase, Digits(n)),
        None if v.post.is_none() && v.dev.is_some() => PreKey::DevOfFinal,
        None => PreKey::Final,
    }
}

/// Compares optional numbers; `absent` is where a missing one sorts against a present one.
fn cmp_optional(a: Option<&str>, b: Option<&str>, absent: Ordering) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => cmp_digits(x, y),
        (None, None) => Ordering::Equal,
        (None, Some(_)) => absent,
        (Some(_), None) => absent.reverse(),
    }
}

/// Local versions: none first, then segment by segment (numbers above strings), a
/// shorter prefix first.
fn cmp_local(a: &[LocalPart], b: &[LocalPart]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let order = match (x, y) {
            (LocalPart::Number(x), LocalPart::Number(y)) => cmp_digits(x, y),
            (LocalPart::Text(x), LocalPart::Text(y)) => x.cmp(y),
            (LocalPart::Number(_), LocalPart::Text(_)) => Ordering::Greater,
            (LocalPart::Text(_), LocalPart::Number(_)) => Ordering::Less,
        };
        if order.is_ne() {
            return order;
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn normalisations_are_equal() {
        for (a, b) in [
            ("1.0RC1", "1.0rc1"),
            ("1.0c1", "1.0rc1"),
            ("1.0-pre1", "1.0rc1"),
            ("1.0.preview.1", "1.0rc1"),
            ("1.0alpha", "1.0a0"),
            ("1.0_BETA-2", "1.0b2"),
            ("v1.0", "1.0"),
            (" 1.0\n", "1.0"),
            ("1.0-1", "1.0.post1"),
            ("1.0rev", "1.0.post0"),
            ("1.0r3", "1.0.post3"),
            ("1.0-dev", "1.0.dev0"),
            ("1.0", "1.0.0.0"),
            ("0!1.0", "1.0"),
            ("1.0+Ubuntu-1", "1.0+ubuntu.1"),
            ("1.01", "1.1"),
        ] {
            assert_eq!(compare(a, b), Equal, "{a} vs {b}");
        }
    }

    #[test]
    fn pep440_order() {
        let ordered = [
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.1.dev1",
            "1!0.1",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Less, "{} < {}", pair[0], pair[1]);
            assert_eq!(
                compare(pair[1], pair[0]),
                Greater,
                "{} > {}",
                pair[1],
                pair[0]
            );
        }
    }

    #[test]
    fn invalid_versions_are_refused_and_sort_first() {
        for bad in [
            "",
            "1.0-",
            "a1",
            "1.0+",
            "1.0+a..b",
            "1.0.dev1.post1",
            "1.0 1",
            "1!",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
            assert_eq!(compare(bad, "0.dev0"), Less, "{bad}");
        }
    }

    #[test]
    fn numbers_of_any_length() {
        assert_eq!(
            compare("1.99999999999999999999", "1.100000000000000000000"),
            Less
        );
    }
}
