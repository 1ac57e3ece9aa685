//! Go module version order, as `golang.org/x/mod/semver` implements it (`semver.Compare`,
//! what the go command and the Go vulnerability database use; `tests/diff_go.rs` checks
//! it against that package): SemVer 2.0 with a required
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

    /// x/mod's own table (`semver/semver_test.go`, `TestCompare` and `TestIsValid`): in
    /// order, each with its canonical form ("" for invalid); versions with the same
    /// canonical form compare equal, the others by their place in the table.
    const XMOD_TESTS: &[(&str, &str)] = &[
        ("bad", ""),
        ("v1-alpha.beta.gamma", ""),
        ("v1-pre", ""),
        ("v1+meta", ""),
        ("v1-pre+meta", ""),
        ("v1.2-pre", ""),
        ("v1.2+meta", ""),
        ("v1.2-pre+meta", ""),
        ("v1.0.0-alpha", "v1.0.0-alpha"),
        ("v1.0.0-alpha.1", "v1.0.0-alpha.1"),
        ("v1.0.0-alpha.beta", "v1.0.0-alpha.beta"),
        ("v1.0.0-beta", "v1.0.0-beta"),
        ("v1.0.0-beta.2", "v1.0.0-beta.2"),
        ("v1.0.0-beta.11", "v1.0.0-beta.11"),
        ("v1.0.0-rc.1", "v1.0.0-rc.1"),
        ("v1", "v1.0.0"),
        ("v1.0", "v1.0.0"),
        ("v1.0.0", "v1.0.0"),
        ("v1.2", "v1.2.0"),
        ("v1.2.0", "v1.2.0"),
        ("v1.2.3-456", "v1.2.3-456"),
        ("v1.2.3-456.789", "v1.2.3-456.789"),
        ("v1.2.3-456-789", "v1.2.3-456-789"),
        ("v1.2.3-456a", "v1.2.3-456a"),
        ("v1.2.3-pre", "v1.2.3-pre"),
        ("v1.2.3-pre+meta", "v1.2.3-pre"),
        ("v1.2.3-pre.1", "v1.2.3-pre.1"),
        ("v1.2.3-zzz", "v1.2.3-zzz"),
        ("v1.2.3", "v1.2.3"),
        ("v1.2.3+meta", "v1.2.3"),
        ("v1.2.3+meta-pre", "v1.2.3"),
        ("v1.2.3+meta-pre.sha.256a", "v1.2.3"),
    ];

    #[test]
    fn x_mod_test_table() {
        for (i, (a, canon_a)) in XMOD_TESTS.iter().enumerate() {
            assert_eq!(parse(a).is_ok(), !canon_a.is_empty(), "validity of {a}");
            for (j, (b, canon_b)) in XMOD_TESTS.iter().enumerate() {
                let want = if canon_a == canon_b { Equal } else { i.cmp(&j) };
                assert_eq!(compare(a, b), want, "{a} vs {b}");
            }
        }
        assert_eq!(compare("v2", "v1"), Greater);
        assert_eq!(compare("v1.19", "v1.2"), Greater);
    }

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
