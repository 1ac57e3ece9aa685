//! Version ordering per package ecosystem.
//!
//! Every ecosystem orders versions by its own rules (`1.0~rc1` is before `1.0` for dpkg,
//! `1.0rc1` equals `1.0RC1` for PEP 440, `1.0-r1` is a revision for apk), and a
//! vulnerability range is only right when judged with the rules of the package manager
//! that installed the package. Each module follows one reference implementation, named in
//! its doc, and is checked against it by the differential tests in `tests/`.
//!
//! Each module's `compare` is total: strings the reference refuses get a documented place
//! in the order (see the module), and each module's `parse`/`validate` says why a string is
//! refused.

use std::cmp::Ordering;
use std::fmt;

pub mod apk;
pub mod apk3;
pub mod dpkg;
pub mod go;
pub mod maven;
pub mod pep440;
pub mod rpm;
pub mod semver;

/// A package ecosystem, as OSV names them, each with its own version order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ecosystem {
    /// Debian and Ubuntu packages: dpkg's order.
    Debian,
    /// Alpine packages: apk-tools 2.14's order (releases before 3.23; [`apk3`] has
    /// apk-tools 3's, for 3.23 on).
    Alpine,
    /// RPM packages (Red Hat, Fedora, SUSE, Rocky, Alma): rpmvercmp.
    RedHat,
    /// Python packages: PEP 440.
    PyPI,
    /// Node packages: SemVer 2.0, loose spellings (`v1.2.3`) accepted.
    Npm,
    /// Go modules: SemVer with the `v` prefix, shorthand `v1.2`, pseudo-versions.
    Go,
    /// Rust crates: SemVer 2.0.
    CratesIo,
    /// Java packages: Maven's `ComparableVersion`.
    Maven,
}

impl Ecosystem {
    /// The ecosystem's name as OSV writes it (`"Debian"`, `"PyPI"`, `"crates.io"`).
    pub fn osv_name(self) -> &'static str {
        match self {
            Ecosystem::Debian => "Debian",
            Ecosystem::Alpine => "Alpine",
            Ecosystem::RedHat => "Red Hat",
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Npm => "npm",
            Ecosystem::Go => "Go",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Maven => "Maven",
        }
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.osv_name())
    }
}

/// A version string the ecosystem's reference implementation refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// The string is not a version of that ecosystem; `reason` is the reference's complaint.
    #[error("invalid {ecosystem} version {version:?}: {reason}")]
    Invalid {
        /// Whose rules refused it.
        ecosystem: Ecosystem,
        /// The string as given.
        version: String,
        /// Why, in the reference implementation's words where it has them.
        reason: &'static str,
    },
}

impl VersionError {
    pub(crate) fn invalid(ecosystem: Ecosystem, version: &str, reason: &'static str) -> Self {
        VersionError::Invalid {
            ecosystem,
            version: version.to_owned(),
            reason,
        }
    }
}

/// Orders two versions by `ecosystem`'s rules (see each module for strings it refuses).
pub fn compare(ecosystem: Ecosystem, a: &str, b: &str) -> Ordering {
    match ecosystem {
        Ecosystem::Debian => dpkg::compare(a, b),
        Ecosystem::Alpine => apk::compare(a, b),
        Ecosystem::RedHat => rpm::compare(a, b),
        Ecosystem::PyPI => pep440::compare(a, b),
        Ecosystem::Npm => semver::compare_loose(a, b),
        Ecosystem::Go => go::compare(a, b),
        Ecosystem::CratesIo => semver::compare(a, b),
        Ecosystem::Maven => maven::compare(a, b),
    }
}

/// Whether `version` is one `ecosystem`'s reference implementation accepts.
pub fn validate(ecosystem: Ecosystem, version: &str) -> Result<(), VersionError> {
    match ecosystem {
        Ecosystem::Debian => dpkg::parse(version).map(drop),
        Ecosystem::Alpine => apk::validate(version),
        Ecosystem::RedHat => rpm::parse(version).map(drop),
        Ecosystem::PyPI => pep440::parse(version).map(drop),
        Ecosystem::Npm => semver::parse_loose(version).map(drop),
        Ecosystem::Go => go::parse(version).map(drop),
        Ecosystem::CratesIo => semver::parse(version).map(drop),
        // Maven orders every string; none is refused.
        Ecosystem::Maven => Ok(()),
    }
}

/// Orders two runs of ASCII digits by their numeric value, however long they are
/// (versions like `20191002222144` overflow 32-bit ints, dates in versions grow).
pub(crate) fn cmp_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The total order modules use for strings their reference refuses: every refused string
/// sorts before every accepted one, refused strings among themselves by bytes, so sorting
/// and range checks stay consistent instead of panicking on junk from a database.
pub(crate) fn cmp_parsed<T, E>(
    a: (&str, Result<T, E>),
    b: (&str, Result<T, E>),
    cmp: impl FnOnce(&T, &T) -> Ordering,
) -> Ordering {
    match (a.1, b.1) {
        (Ok(x), Ok(y)) => cmp(&x, &y),
        (Err(_), Ok(_)) => Ordering::Less,
        (Ok(_), Err(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.0.cmp(b.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cmp_digits_is_numeric_past_u64() {
        assert_eq!(cmp_digits("007", "7"), Ordering::Equal);
        assert_eq!(cmp_digits("10", "9"), Ordering::Greater);
        assert_eq!(
            cmp_digits("99999999999999999999999", "100000000000000000000000"),
            Ordering::Less
        );
        assert_eq!(cmp_digits("", "0"), Ordering::Equal);
    }

    #[test]
    fn dispatch_uses_each_ecosystems_rules() {
        assert_eq!(compare(Ecosystem::Debian, "1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(
            compare(Ecosystem::PyPI, "1.0RC1", "1.0rc1"),
            Ordering::Equal
        );
        assert_eq!(compare(Ecosystem::Alpine, "1.0_rc1", "1.0"), Ordering::Less);
        assert_eq!(
            compare(Ecosystem::RedHat, "1.0^git1", "1.0"),
            Ordering::Greater
        );
        assert_eq!(compare(Ecosystem::Npm, "v1.2.3", "1.2.3"), Ordering::Equal);
        assert_eq!(compare(Ecosystem::Go, "v1.2", "v1.2.0"), Ordering::Equal);
        assert_eq!(
            compare(Ecosystem::CratesIo, "1.0.0-alpha", "1.0.0"),
            Ordering::Less
        );
    }

    /// Every order must be a total order, even over junk (sorting panics or misorders
    /// otherwise): antisymmetric and transitive over a mix of valid and invalid strings.
    /// Maven's order is left out: Maven's own is not transitive (see the maven module).
    #[test]
    fn every_order_is_total_over_valid_and_invalid_strings() {
        const SAMPLE: &[&str] = &[
            "",
            "0",
            "1",
            "1.0",
            "1.0.0",
            "v1.0.0",
            "1.0~rc1",
            "1.0-1",
            "1:1.0",
            "1.0a",
            "1.0_rc1",
            "1.0.post1",
            "1.0.dev0",
            "1.0-r1",
            "1.0^git1",
            "1.0+b1",
            "1.0.0-alpha",
            "a",
            "1..0",
            "~",
            "1.0-",
            "x:1",
            "1.0_p1-r2",
            "v1.2",
        ];
        type Order = fn(&str, &str) -> Ordering;
        let orders: [(&str, Order); 8] = [
            ("dpkg", dpkg::compare),
            ("apk", apk::compare),
            ("apk3", apk3::compare),
            ("rpm", rpm::compare),
            ("pep440", pep440::compare),
            ("npm", semver::compare_loose),
            ("go", go::compare),
            ("semver", semver::compare),
        ];
        for (eco, compare) in orders {
            let mut sorted: Vec<&str> = SAMPLE.to_vec();
            sorted.sort_by(|a, b| compare(a, b));
            for (i, a) in sorted.iter().enumerate() {
                for (j, b) in sorted.iter().enumerate() {
                    let order = compare(a, b);
                    assert_eq!(order, compare(b, a).reverse(), "{eco}: {a:?} vs {b:?}");
                    // Sorted order must agree with every pairwise answer (transitivity).
                    assert!(
                        order == Ordering::Equal || order == i.cmp(&j),
                        "{eco}: {a:?} vs {b:?} is {order:?} but they sort at {i} and {j}"
                    );
                }
            }
        }
    }

    #[test]
    fn validate_names_the_version() {
        let err = validate(Ecosystem::Debian, "a:1").unwrap_err();
        assert!(err.to_string().contains("\"a:1\""), "{err}");
        assert!(validate(Ecosystem::PyPI, "1.0.post1.dev2+local.7").is_ok());
    }
}
