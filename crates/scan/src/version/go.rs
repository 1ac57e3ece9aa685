//! Go module version order, as `golang.org/x/mod/semver` implements it (`semver.Compare`,
//! what the go command and the Go vulnerability database use; `tests/diff_go.rs` checks
//! it against that package): SemVer 2.0 with a required
//! `v` prefix, the shorthands `vMAJOR` and `vMAJOR.MINOR` (`v1.2` is `v1.2.0`, only without
//! pre-release or build), build metadata ignored — so `+incompatible` does not change the
//! order, and pseudo-versions (`v0.0.0-20191109021931-daa7c04131f5`) are ordinary
//! pre-releases that order by their timestamp.
//!
//! As in x/mod, an invalid version is less than every valid one and all invalid versions
//! compare equal, and numbers have no size limit (`v99999999999999999999.0.0` is valid).

use std::cmp::Ordering;

use ::semver::{BuildMetadata, Prerelease};

use super::{Ecosystem, VersionError, cmp_digits};

/// A valid Go module version, its numbers kept as digit strings (x/mod has no size limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    /// Major, minor and patch, shorthands filled with `0`.
    pub numbers: [String; 3],
    /// The pre-release identifiers (empty for a release).
    pub pre: Prerelease,
    /// Build metadata (`incompatible` for `+incompatible`), ignored by the order.
    pub build: BuildMetadata,
}

/// Parses a Go module version as x/mod's `semver.IsValid` accepts it.
pub fn parse(version: &str) -> Result<Version, VersionError> {
    let err = |reason| VersionError::invalid(Ecosystem::Go, version, reason);
    let rest = version
        .strip_prefix('v')
        .ok_or_else(|| err("a module version starts with \"v\""))?;
    let (core, build) = match rest.split_once('+') {
        Some((core, build)) => (core, Some(build)),
        None => (rest, None),
    };
    let (core, pre) = match core.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (core, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() > 3 || !parts.iter().all(|p| is_number(p)) {
        return Err(err("not a semantic version"));
    }
    // Shorthands name the .0 releases; they may not carry pre-release or build parts.
    if parts.len() < 3 && (pre.is_some() || build.is_some()) {
        return Err(err("a shorthand version has no pre-release or build"));
    }
    let number = |i: usize| parts.get(i).unwrap_or(&"0").to_string();
    // The semver crate checks identifiers by SemVer's rules, which are x/mod's.
    let pre = match pre {
        Some(pre) if !pre.is_empty() => Prerelease::new(pre).map_err(|_| err("bad pre-release"))?,
        Some(_) => return Err(err("bad pre-release")),
        None => Prerelease::EMPTY,
    };
    let build = match build {
        Some(build) if !build.is_empty() => {
            BuildMetadata::new(build).map_err(|_| err("bad build metadata"))?
        }
        Some(_) => return Err(err("bad build metadata")),
        None => BuildMetadata::EMPTY,
    };
    Ok(Version {
        numbers: [number(0), number(1), number(2)],
        pre,
        build,
    })
}

/// A version number as x/mod accepts it: digits, no leading zero.
fn is_number(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
}

/// Orders two Go module versions as `semver.Compare` does.
pub fn compare(a: &str, b: &str) -> Ordering {
    match (parse(a), parse(b)) {
        (Ok(x), Ok(y)) => cmp_versions(&x, &y),
        (Err(_), Ok(_)) => Ordering::Less,
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Err(_)) => Ordering::Equal,
    }
}

/// Numbers numerically, then a pre-release before its release, then pre-releases by
/// SemVer's rules; build metadata ignored.
pub fn cmp_versions(a: &Version, b: &Version) -> Ordering {
    a.numbers
        .iter()
        .zip(&b.numbers)
        .map(|(x, y)| cmp_digits(x, y))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
        .then_with(|| match (a.pre.is_empty(), b.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => a.pre.cmp(&b.pre),
        })
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
