//! SemVer 2.0 precedence (semver.org §11), as the maintained `semver` crate implements it
//! (Cargo's own parser): major, minor, patch numerically, a pre-release before its
//! release, pre-release identifiers numerically when numeric (below alphanumeric ones),
//! build metadata ignored.
//!
//! crates.io versions are strict SemVer ([`parse`], [`compare`]). npm versions are what
//! node-semver's `SemVer` constructor accepts (its default, non-`loose` mode) and compare
//! as its `compare` does ([`parse_loose`], [`compare_loose`]): surrounding whitespace and
//! one leading `v` are dropped (`v1.2.3`); strings longer than 256 characters and
//! major/minor/patch numbers beyond JavaScript's safe integers (2^53 - 1) are refused.
//! Strings either refuses fail to parse and, in the compares, sort before every valid
//! version.

use std::cmp::Ordering;

use super::{Ecosystem, VersionError, cmp_parsed};

pub use ::semver::Version;

/// The `semver` crate's parser, minus the leading `=` it tolerates (a requirement's
/// operator, not part of a version).
pub(crate) fn parse_strict(version: &str) -> Option<Version> {
    if version.starts_with('=') {
        return None;
    }
    Version::parse(version).ok()
}

/// Parses a strict SemVer 2.0 version (crates.io).
pub fn parse(version: &str) -> Result<Version, VersionError> {
    parse_strict(version).ok_or_else(|| {
        VersionError::invalid(Ecosystem::CratesIo, version, "not a SemVer 2.0 version")
    })
}

/// node-semver's `MAX_LENGTH`: longer strings are not versions.
const NPM_MAX_LENGTH: usize = 256;
/// JavaScript's `Number.MAX_SAFE_INTEGER`, node-semver's bound on version numbers.
const NPM_MAX_NUMBER: u64 = (1 << 53) - 1;

/// Parses an npm version as node-semver does: SemVer after trimming and one leading `v`.
pub fn parse_loose(version: &str) -> Result<Version, VersionError> {
    let err = |reason| VersionError::invalid(Ecosystem::Npm, version, reason);
    if version.len() > NPM_MAX_LENGTH {
        return Err(err("longer than 256 characters"));
    }
    let trimmed = version.trim();
    let trimmed = trimmed.strip_prefix('v').unwrap_or(trimmed);
    let parsed = parse_strict(trimmed).ok_or_else(|| err("not a SemVer 2.0 version"))?;
    if [parsed.major, parsed.minor, parsed.patch]
        .iter()
        .any(|&n| n > NPM_MAX_NUMBER)
    {
        return Err(err("a version number is beyond 2^53 - 1"));
    }
    Ok(parsed)
}

/// Orders two strict SemVer versions by precedence (build metadata ignored).
pub fn compare(a: &str, b: &str) -> Ordering {
    cmp_parsed((a, parse(a)), (b, parse(b)), Version::cmp_precedence)
}

/// Orders two npm versions by precedence (build metadata ignored).
pub fn compare_loose(a: &str, b: &str) -> Ordering {
    cmp_parsed(
        (a, parse_loose(a)),
        (b, parse_loose(b)),
        Version::cmp_precedence,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn semver_spec_order() {
        let ordered = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "2.0.0",
            "10.0.0",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Less, "{} < {}", pair[0], pair[1]);
            assert_eq!(compare(pair[1], pair[0]), Greater);
        }
    }

    #[test]
    fn build_metadata_is_ignored() {
        assert_eq!(compare("1.0.0+build.1", "1.0.0+build.2"), Equal);
        assert_eq!(compare("1.0.0-rc.1+x", "1.0.0-rc.1"), Equal);
    }

    #[test]
    fn npm_loose_spellings() {
        assert_eq!(compare_loose("v1.2.3", "1.2.3"), Equal);
        assert_eq!(compare_loose(" v1.2.3\n", "1.2.3"), Equal);
        // node-semver's default mode refuses these.
        for bad in ["=1.2.3", "vv1.2.3", "V1.2.3", "9007199254740992.0.0"] {
            assert!(parse_loose(bad).is_err(), "{bad}");
        }
        assert!(parse_loose("9007199254740991.0.0").is_ok());
        assert!(parse_loose(&format!("1.0.0-{}", "a".repeat(251))).is_err());
        assert_eq!(compare_loose("v1.2.3-beta.1", "1.2.3"), Less);
        // crates.io is strict: a `v` prefix is not a version there.
        assert!(parse("v1.2.3").is_err());
    }

    #[test]
    fn invalid_versions_are_refused_and_sort_first() {
        for bad in [
            "1.2", "=1.2.3", "01.2.3", "1.2.3-", "1.2.3-01", "1.2.3+", "x",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
            assert_eq!(compare(bad, "0.0.0-0"), Less, "{bad}");
        }
    }
}
