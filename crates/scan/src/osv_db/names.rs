//! The pure rules of the database: which ecosystem strings match a lookup, how package
//! names are normalised, where osv.dev keeps each ecosystem's zip.

use std::borrow::Cow;

use osv::schema::{Affected, Vulnerability};

/// Where osv.dev publishes its per-ecosystem exports (a public GCS bucket).
pub const DEFAULT_URL: &str = "https://osv-vulnerabilities.storage.googleapis.com";

/// The ecosystems strata's catalogers find packages of, as osv.dev names its export
/// directories (`<DEFAULT_URL>/<ecosystem>/all.zip`): what `strata scan db update` fetches
/// by default.
pub const SCANNED_ECOSYSTEMS: &[&str] = &[
    "Debian",
    "Ubuntu",
    "Alpine",
    "Red Hat",
    "PyPI",
    "npm",
    "Go",
    "crates.io",
    "Maven",
];

/// The URL of one ecosystem's `all.zip` under `base` (osv.dev's layout:
/// `<base>/<ecosystem>/all.zip`, the ecosystem percent-encoded as one path segment:
/// `Red Hat` → `Red%20Hat`; `crates.io` stays as it is). osv.dev exports the base
/// ecosystems only (`Debian`, not `Debian:12`); a suffix given here is kept, encoded.
pub fn ecosystem_zip_url(base: &str, ecosystem: &str) -> String {
    format!(
        "{}/{}/all.zip",
        base.trim_end_matches('/'),
        encode_segment(ecosystem)
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so the ecosystem is
/// one path segment whatever it holds (spaces, `:`, `/`).
fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An ecosystem's base name: what precedes the first `:` (`Debian:12` → `Debian`,
/// `Red Hat:enterprise_linux:9::appstream` → `Red Hat`, `PyPI` → `PyPI`).
pub fn ecosystem_base(ecosystem: &str) -> &str {
    ecosystem
        .split_once(':')
        .map_or(ecosystem, |(base, _)| base)
}

/// Whether a record's `affected[].package.ecosystem` applies to a lookup by `query`.
///
/// The rule (what [`Db::records_for`](super::Db::records_for) returns, and what the
/// matcher should use to pick a record's affected entries):
/// - a query with a suffix (`Debian:12`, `Alpine:v3.20`) matches that exact ecosystem, and
///   the bare base (`Debian`: a record that names no release applies to every release);
///   never another release (`Debian:11`);
/// - a query without one (`PyPI`, `Debian`, `Red Hat`) matches every ecosystem with that
///   base, any suffix or none: the caller does not know (or the ecosystem has no)
///   release, so every release's records are candidates.
///
/// Comparison is exact (OSV's ecosystem names are case-sensitive).
pub fn ecosystem_matches(query: &str, record_ecosystem: &str) -> bool {
    let base = ecosystem_base(query);
    if base.len() == query.len() {
        ecosystem_base(record_ecosystem) == base
    } else {
        record_ecosystem == query || record_ecosystem == base
    }
}

/// The affected entries of `vulnerability` that a lookup of `name` in `ecosystem` matched:
/// the same rule as [`Db::records_for`](super::Db::records_for) ([`ecosystem_matches`],
/// names through [`normalize_name`]), for the matcher to judge their ranges and no
/// others (a `Debian:12` lookup must not judge the record's `Debian:11` entry).
///
/// The entry's ecosystem is compared as the osv crate writes it back, which for a few
/// Ubuntu spellings drops a tail the crate does not model
/// (`Ubuntu:Pro:24.04:LTS:Realtime:Kernel` → `Ubuntu:Pro:24.04:LTS`).
pub fn matching_affected<'a>(
    vulnerability: &'a Vulnerability,
    ecosystem: &str,
    name: &str,
) -> Vec<&'a Affected> {
    let name = normalize_name(ecosystem, name);
    vulnerability
        .affected
        .iter()
        .flatten()
        .filter(|affected| {
            let Some(package) = &affected.package else {
                return false;
            };
            let Ok(serde_json::Value::String(entry)) = serde_json::to_value(&package.ecosystem)
            else {
                return false;
            };
            ecosystem_matches(ecosystem, &entry) && normalize_name(&entry, &package.name) == name
        })
        .collect()
}

/// A package name as the database indexes and looks it up: PyPI names are normalised
/// as PEP 503 says (lower case, each run of `-`, `_`, `.` one `-`), since pip treats
/// `Flask_Login` and `flask-login` as one package and OSV records spell it either way;
/// every other ecosystem's names are compared exactly (Go module paths, Maven
/// `group:artifact`, dpkg and apk names are case-sensitive or already canonical).
pub fn normalize_name<'a>(ecosystem: &str, name: &'a str) -> Cow<'a, str> {
    if ecosystem_base(ecosystem) != "PyPI" {
        return Cow::Borrowed(name);
    }
    // Most names are already canonical: no copy for them.
    let canonical = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut previous_sep = false;
    let already = name.bytes().all(|b| {
        let ok = canonical(b) || (b == b'-' && !previous_sep);
        previous_sep = b == b'-';
        ok
    });
    if already {
        return Cow::Borrowed(name);
    }
    Cow::Owned(crate::matching::ecosystem::pep503(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bases() {
        for (ecosystem, base) in [
            ("Debian:12", "Debian"),
            ("Debian", "Debian"),
            ("Alpine:v3.20", "Alpine"),
            ("Red Hat:enterprise_linux:9::appstream", "Red Hat"),
            ("Ubuntu:Pro:22.04:LTS", "Ubuntu"),
            ("Maven:https://repo1.example.com/maven2", "Maven"),
            ("crates.io", "crates.io"),
            ("", ""),
        ] {
            assert_eq!(ecosystem_base(ecosystem), base, "{ecosystem}");
        }
    }

    #[test]
    fn matching_rule() {
        for (query, record, expected) in [
            ("Debian:12", "Debian:12", true),
            ("Debian:12", "Debian", true),
            ("Debian:12", "Debian:11", false),
            ("Debian:12", "Debian:12.1", false),
            ("Debian:1", "Debian:12", false),
            ("Debian", "Debian:12", true),
            ("Debian", "Debian", true),
            ("Debian", "Debian-ish", false),
            ("Alpine:v3.20", "Alpine:v3.20", true),
            ("Alpine:v3.20", "Alpine:v3.2", false),
            ("Red Hat", "Red Hat:enterprise_linux:9::appstream", true),
            ("Red Hat:rhel_eus:9.2", "Red Hat:enterprise_linux:9", false),
            ("PyPI", "PyPI", true),
            ("PyPI", "pypi", false),
            ("npm", "PyPI", false),
            ("Maven", "Maven:https://repo1.example.com/maven2", true),
            ("Maven:https://repo1.example.com/maven2", "Maven", true),
            ("Go", "Go", true),
        ] {
            assert_eq!(
                ecosystem_matches(query, record),
                expected,
                "query {query:?} record {record:?}"
            );
        }
    }

    #[test]
    fn pypi_names_pep503() {
        for (name, expected) in [
            ("Flask_Login", "flask-login"),
            ("flask-login", "flask-login"),
            ("zope.interface", "zope-interface"),
            ("A__b-._C", "a-b-c"),
            ("Django", "django"),
            ("ruamel.yaml.clib", "ruamel-yaml-clib"),
            ("already--double", "already-double"),
            ("typing_extensions", "typing-extensions"),
            ("pkg2", "pkg2"),
        ] {
            assert_eq!(normalize_name("PyPI", name), expected, "{name}");
        }
        // Borrowed when already canonical: the lookup path allocates nothing.
        assert!(matches!(
            normalize_name("PyPI", "flask-login"),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn other_names_exact() {
        for (ecosystem, name) in [
            ("npm", "@Scope/Pkg_Name"),
            ("Go", "github.com/BurntSushi/toml"),
            ("Debian:12", "libssl3"),
            ("Maven", "org.Example:Foo_Bar"),
            ("crates.io", "serde_json"),
        ] {
            assert_eq!(normalize_name(ecosystem, name), name);
        }
    }

    #[test]
    fn zip_urls() {
        for (base, ecosystem, expected) in [
            (
                DEFAULT_URL,
                "PyPI",
                "https://osv-vulnerabilities.storage.googleapis.com/PyPI/all.zip",
            ),
            (
                DEFAULT_URL,
                "Red Hat",
                "https://osv-vulnerabilities.storage.googleapis.com/Red%20Hat/all.zip",
            ),
            (
                DEFAULT_URL,
                "crates.io",
                "https://osv-vulnerabilities.storage.googleapis.com/crates.io/all.zip",
            ),
            (
                "http://mirror.test/osv/",
                "Debian",
                "http://mirror.test/osv/Debian/all.zip",
            ),
            ("http://m", "Debian:12", "http://m/Debian%3A12/all.zip"),
            (
                "http://m",
                "GitHub Actions",
                "http://m/GitHub%20Actions/all.zip",
            ),
        ] {
            assert_eq!(ecosystem_zip_url(base, ecosystem), expected);
        }
    }
}
