//! Go module version order, as `golang.org/x/mod/semver` implements it (`semver.Compare`,
//! what the go command and the Go vulnerability database use): SemVer 2.0 with a required
//! `v` prefix, the shorthands `vMAJOR` and `vMAJOR.MINOR` (`v1.2` is `v1.2.0`, only without
//! pre-release or build), build metadata ignored — so `+incompatible` does not change the
//! order, and pseudo-versions (`v0.0.0-20191109021931-daa7c04131f5`) are ordinary
//! pre-releases that order by their timestamp.
//!
//! As in x/mod, an invalid version is less than every valid one and all invalid versions
//! compare equal. One difference: numbers beyond `u64` are refused here (x/mod keeps them
//! as strings); no module uses them.

use std::cmp::Ordering;

use super::{Ecosystem, VersionError};

/// Parses a Go module version into the SemVer it stands for.
pub fn parse(version: &str) -> Result<::semver::Version, VersionError> {
    let err = |reason| VersionError::invalid(Ecosystem::Go, version, reason);
    let rest = version
        .strip_prefix('v')
        .ok_or_else(|| err("a module version starts with \"v\""))?;
    // Shorthands name the .0 releases; they may not carry pre-release or build parts.
    let full = match rest.split('.').count() {
        1 if is_number(rest) => format!("{rest}.0.0"),
        2 if rest.split('.').all(is_number) => format!("{rest}.0"),
        _ => rest.to_owned(),
    };
    super::semver::parse_strict(&full).ok_or_else(|| err("not a semantic version"))
}

/// A version number as x/mod accepts it: digits, no leading zero.
fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// Orders two Go module versions as `semver.Compare` does.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Ok(x), Ok(y)) => x.cmp_precedence(&y),
        (Err(_), Ok(_)) => Ordering::Less,
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Err(_)) => Ordering::Equal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Ordering::*;

    #[test]
    fn shorthands_and_incompatible() {
        assert_eq!(compare("v1", "v1.0.0"), Equal);
        assert_eq!(compare("v1.2", "v1.2.0"), Equal);
        assert_eq!(compare("v2.0.0+incompatible", "v2.0.0"), Equal);
        assert_eq!(compare("v2.1.0+incompatible", "v2.0.9"), Greater);
    }

    #[test]
    fn pseudo_versions_order_by_base_and_time() {
        let ordered = [
            "v0.0.0-20191109021931-daa7c04131f5",
            "v0.0.0-20200101000000-000000000000",
            "v1.2.3",
            "v1.2.4-0.20200101000000-abcdefabcdef",
            "v1.2.4-pre",
            "v1.2.4-pre.0.20200101000000-abcdefabcdef",
            "v1.2.4",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Less, "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn invalid_versions_are_refused_and_equal() {
        for bad in [
            "1.2.3",
            "v1.2-pre",
            "v01.2.3",
            "v1.2.3.4",
            "v",
            "v1.2.3-",
            "v1.2+meta",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
            assert_eq!(compare(bad, "v0.0.0-0"), Less, "{bad}");
            assert_eq!(compare(bad, "junk"), Equal, "{bad}");
        }
    }
}
