//! Matching against hand-written OSV records (`tests/fixtures/match/*.json`), one range form
//! or ecosystem rule each. Every expected result is worked out from the OSV schema's rules
//! ("Evaluation") and the ecosystem's version order, as each case's comment says.

mod match_fixtures;

use match_fixtures::records;
use osv::schema::Vulnerability;
use scan::matching::{self, Findings, MatchOptions, Severity};
use scan::package::{Distro, Found, Package, PackageKind};

fn pkg(kind: PackageKind, name: &str, version: &str, source: Option<(&str, &str)>) -> Package {
    Package {
        found: Found {
            name: name.into(),
            version: version.into(),
            source: source.map(|(n, v)| (n.into(), v.into())),
            ..Found::default()
        },
        kind,
        path: "some/file".into(),
        layer: 1,
        purl: format!("pkg:{}/{name}@{version}", kind.purl_type()),
    }
}

fn distro(id: &str, version_id: &str, pretty: &str) -> Distro {
    Distro {
        id: id.into(),
        version_id: version_id.into(),
        codename: None,
        pretty_name: pretty.into(),
    }
}

/// What one package should get: findings as (id, fixed, severity), or a not-judged reason.
enum Want {
    Vulns(&'static [(&'static str, Option<&'static str>, Severity)]),
    NotJudged(&'static str),
}

use PackageKind::*;
use Severity::*;
use Want::*;

fn run(packages: &[Package], distro: Option<&Distro>, opts: &MatchOptions) -> Findings {
    matching::scan(packages, distro, &records(), opts).unwrap()
}

#[test]
fn each_range_form_and_ecosystem() {
    let bookworm = distro("debian", "12", "Debian GNU/Linux 12 (bookworm)");
    let bullseye = distro("debian", "11", "Debian GNU/Linux 11 (bullseye)");
    let jammy = distro("ubuntu", "22.04", "Ubuntu 22.04.4 LTS");
    let alpine = distro("alpine", "3.20.3", "Alpine Linux v3.20");
    let rocky = distro("rocky", "9.3", "Rocky Linux 9.3 (Blue Onyx)");
    let mut rocky_openssl = pkg(
        Rpm,
        "openssl-libs",
        "3.0.7-24.el9",
        Some(("openssl", "3.0.7-24.el9")),
    );
    rocky_openssl.found.qualifiers = vec![("epoch".into(), "1".into())];
    let mut rocky_openssl_el9 = pkg(
        Rpm,
        "openssl-libs",
        "3.0.7-25.el9",
        Some(("openssl", "3.0.7-25.el9")),
    );
    rocky_openssl_el9.found.qualifiers = vec![("epoch".into(), "1".into())];
    let mut rocky_fixed = pkg(
        Rpm,
        "openssl-libs",
        "3.0.7-27.el9",
        Some(("openssl", "3.0.7-27.el9")),
    );
    rocky_fixed.found.qualifiers = vec![("epoch".into(), "1".into())];

    let cases: Vec<(&str, Package, Option<&Distro>, Want)> = vec![
        // Debian records list source packages: the binary libssl3 is judged as source
        // openssl at the source version; ~deb12u1 < ~deb12u2 so it is below the fix.
        // No CVSS: Debian's urgency "high" rates it.
        (
            "debian source package below the fix",
            pkg(
                Deb,
                "libssl3",
                "3.0.11-1~deb12u1+b1",
                Some(("openssl", "3.0.11-1~deb12u1")),
            ),
            Some(&bookworm),
            Vulns(&[("DEBIAN-CVE-2099-0001", Some("3.0.11-1~deb12u2"), High)]),
        ),
        // At the fix: not affected (fixed is exclusive). The withdrawn record, which
        // would match every version, is ignored.
        (
            "debian at the fix",
            pkg(
                Deb,
                "libssl3",
                "3.0.11-1~deb12u2",
                Some(("openssl", "3.0.11-1~deb12u2")),
            ),
            Some(&bookworm),
            Vulns(&[]),
        ),
        // Without a Source the binary name is used; the record lists `openssl`, not
        // `libssl3`: nothing matches (why source matching matters).
        (
            "debian binary name alone",
            pkg(Deb, "libssl3", "3.0.11-1~deb12u1", None),
            Some(&bookworm),
            Vulns(&[]),
        ),
        // The record is for Debian:12; a bullseye package is looked up under Debian:11.
        (
            "debian other release",
            pkg(
                Deb,
                "libssl3",
                "1.1.1n-0+deb11u5",
                Some(("openssl", "1.1.1n-0+deb11u5")),
            ),
            Some(&bullseye),
            Vulns(&[]),
        ),
        // dpkg epochs: no epoch is epoch 0, below fixed 1:10.11.4-1~deb12u1 however large
        // the upstream version.
        (
            "debian epoch",
            pkg(
                Deb,
                "mariadb-server",
                "10.11.6-0+deb12u1",
                Some(("mariadb", "10.11.6-0+deb12u1")),
            ),
            Some(&bookworm),
            Vulns(&[("DSA-9999-1", Some("1:10.11.4-1~deb12u1"), Unknown)]),
        ),
        (
            "debian epoch satisfied",
            pkg(
                Deb,
                "mariadb-server",
                "1:10.11.6-0+deb12u1",
                Some(("mariadb", "1:10.11.6-0+deb12u1")),
            ),
            Some(&bookworm),
            Vulns(&[]),
        ),
        // dpkg's ~ sorts before everything, even the end: 2024a~rc1-1 < 2024a-1.
        (
            "debian tilde",
            pkg(Deb, "tzdata", "2024a~rc1-1", None),
            Some(&bookworm),
            Vulns(&[("DSA-9999-1", Some("2024a-1"), Unknown)]),
        ),
        (
            "debian tilde fixed",
            pkg(Deb, "tzdata", "2024a-1", None),
            Some(&bookworm),
            Vulns(&[]),
        ),
        // Ubuntu: ecosystem Ubuntu:22.04:LTS (LTS from PRETTY_NAME); the "Ubuntu" severity
        // type gives MEDIUM.
        (
            "ubuntu lts",
            pkg(Deb, "bash", "5.1-6ubuntu1", None),
            Some(&jammy),
            Vulns(&[("UBUNTU-CVE-2099-0003", Some("5.1-6ubuntu1.1"), Medium)]),
        ),
        // Alpine: branch v3.20, the origin package; -r revisions compare as numbers
        // (r9 < r10, though "r9" > "r10" as text).
        (
            "alpine revision",
            pkg(Apk, "libcrypto3", "3.3.1-r9", Some(("openssl", "3.3.1-r9"))),
            Some(&alpine),
            Vulns(&[("ALPINE-CVE-2099-0004", Some("3.3.1-r10"), Unknown)]),
        ),
        (
            "alpine fixed",
            pkg(
                Apk,
                "libcrypto3",
                "3.3.1-r10",
                Some(("openssl", "3.3.1-r10")),
            ),
            Some(&alpine),
            Vulns(&[]),
        ),
        // rpm (Rocky Linux:9, source RPM, the binary's epoch 1 joined to the version):
        // 1:3.0.7-24.el9 < 1:3.0.7-25.el9_3; and el9 < el9_3 (a longer release with the
        // same prefix is newer). CVSS 3.1 AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N is 5.9.
        (
            "rocky below",
            rocky_openssl,
            Some(&rocky),
            Vulns(&[("RLSA-2099:0005", Some("1:3.0.7-25.el9_3"), Medium)]),
        ),
        (
            "rocky release suffix",
            rocky_openssl_el9,
            Some(&rocky),
            Vulns(&[("RLSA-2099:0005", Some("1:3.0.7-25.el9_3"), Medium)]),
        ),
        ("rocky fixed", rocky_fixed, Some(&rocky), Vulns(&[])),
        // PyPI: the record spells Django, the package django (PEP 503 names). Two windows:
        // [4.2, 4.2.8) and [5.0a1, 5.0.1). GHSA's MODERATE is MEDIUM.
        (
            "pypi first window",
            pkg(Python, "django", "4.2.7", None),
            None,
            Vulns(&[("GHSA-0000-0000-0006", Some("4.2.8"), Medium)]),
        ),
        // PEP 440: 5.0rc1 is after 5.0a1 (rc > a) and before 5.0.1.
        (
            "pypi pre-release",
            pkg(Python, "Django", "5.0rc1", None),
            None,
            Vulns(&[("GHSA-0000-0000-0006", Some("5.0.1"), Medium)]),
        ),
        // 4.2.8.post1 is after 4.2.8 (a post-release), so past the fix.
        (
            "pypi post-release",
            pkg(Python, "django", "4.2.8.post1", None),
            None,
            Vulns(&[]),
        ),
        (
            "pypi below introduced",
            pkg(Python, "django", "4.1", None),
            None,
            Vulns(&[]),
        ),
        // A version PEP 440 refuses: not judged, never "not affected".
        (
            "pypi invalid",
            pkg(Python, "django", "not a version", None),
            None,
            NotJudged("invalid PyPI version"),
        ),
        // A versions list only: 1.0 is 1.0.0 under PEP 440; 1.0.1 is not listed.
        (
            "pypi versions list",
            pkg(Python, "six", "1.0", None),
            None,
            Vulns(&[("PYSEC-2099-7", None, Unknown)]),
        ),
        (
            "pypi versions list miss",
            pkg(Python, "six", "1.0.1", None),
            None,
            Vulns(&[]),
        ),
        // last_affected is inclusive; no fixed version to show.
        (
            "pypi last_affected",
            pkg(Python, "foo", "1.2", None),
            None,
            Vulns(&[("PYSEC-2099-8", None, Unknown)]),
        ),
        (
            "pypi above last_affected",
            pkg(Python, "foo", "1.2.1", None),
            None,
            Vulns(&[]),
        ),
        // GIT ranges are skipped; the versions list still matches 1.0.0 exactly.
        (
            "git range with versions",
            pkg(Python, "gitpkg", "1.0.0", None),
            None,
            Vulns(&[("OSV-2099-17", None, Unknown)]),
        ),
        (
            "git range only",
            pkg(Python, "gitpkg", "1.0.1", None),
            None,
            Vulns(&[]),
        ),
        // Two affected[] entries for one package: the second window [2.0, 2.5) holds.
        // The npm entry of the same name is another package.
        (
            "two entries",
            pkg(Python, "twin", "2.1", None),
            None,
            Vulns(&[("GHSA-0000-0000-0018", Some("2.5"), Unknown)]),
        ),
        (
            "two entries neither",
            pkg(Python, "twin", "1.5", None),
            None,
            Vulns(&[]),
        ),
        // npm SEMVER: a pre-release of the fix is below it. CVSS_V3 preferred over V4:
        // 9.8 CRITICAL.
        (
            "npm semver",
            pkg(Npm, "lodash", "4.17.21-beta.1", None),
            None,
            Vulns(&[("GHSA-0000-0000-0009", Some("4.17.21"), Critical)]),
        ),
        (
            "npm fixed",
            pkg(Npm, "lodash", "4.17.21", None),
            None,
            Vulns(&[]),
        ),
        // limit: below the limit only.
        (
            "npm limit",
            pkg(Npm, "left-pad", "1.9.9", None),
            None,
            Vulns(&[("GHSA-0000-0000-0010", None, Unknown)]),
        ),
        (
            "npm at limit",
            pkg(Npm, "left-pad", "2.0.0", None),
            None,
            Vulns(&[]),
        ),
        // Go: SEMVER with the v dropped; a pseudo-version v0.0.0-2022… is a pre-release of
        // 0.0.0, below 0.17.0.
        (
            "go pseudo-version",
            pkg(
                Go,
                "golang.org/x/net",
                "v0.0.0-20220722155237-a158d28d115b",
                None,
            ),
            None,
            Vulns(&[("GO-2099-0011", Some("0.17.0"), Unknown)]),
        ),
        (
            "go fixed",
            pkg(Go, "golang.org/x/net", "v0.17.0", None),
            None,
            Vulns(&[]),
        ),
        // +incompatible is build metadata: v20.10.7+incompatible < 20.10.11.
        (
            "go incompatible",
            pkg(
                Go,
                "github.com/docker/docker",
                "v20.10.7+incompatible",
                None,
            ),
            None,
            Vulns(&[("GO-2099-0013", Some("20.10.11+incompatible"), Unknown)]),
        ),
        // Two overlapping ranges both hold: the smaller fix, by SemVer (1.21.9 < 1.21.10,
        // though not as text).
        (
            "go overlapping fixes",
            pkg(Go, "example.com/overlap", "v1.21.5", None),
            None,
            Vulns(&[("GO-2099-0021", Some("1.21.9"), Unknown)]),
        ),
        // stdlib: go1.21.2 is 1.21.2, in [1.21.0-0, 1.21.3); go1.20.10 is before it.
        (
            "go stdlib",
            pkg(Go, "stdlib", "go1.21.2", None),
            None,
            Vulns(&[("GO-2099-0012", Some("1.21.3"), Unknown)]),
        ),
        (
            "go stdlib older",
            pkg(Go, "stdlib", "go1.20.10", None),
            None,
            Vulns(&[]),
        ),
        // crates.io: windows [0.6.3, 0.6.14) and [1.0.0, 1.6.1); CVSS v2 7.5 is HIGH.
        (
            "crates second window",
            pkg(Cargo, "smallvec", "1.6.0", None),
            None,
            Vulns(&[("RUSTSEC-2099-0014", Some("1.6.1"), High)]),
        ),
        (
            "crates first window",
            pkg(Cargo, "smallvec", "0.6.13", None),
            None,
            Vulns(&[("RUSTSEC-2099-0014", Some("0.6.14"), High)]),
        ),
        (
            "crates between",
            pkg(Cargo, "smallvec", "0.9.0", None),
            None,
            Vulns(&[]),
        ),
        // A record whose fixed version crates.io's SemVer refuses: not judged for that
        // record (named), not silently unaffected.
        (
            "crates bad record",
            pkg(Cargo, "badcrate", "1.0.0", None),
            None,
            NotJudged("RUSTSEC-2099-0015"),
        ),
        // Maven: 2.0-beta9 is introduced (inclusive); alpha < beta so 2.0-alpha1 is not.
        (
            "maven",
            pkg(Maven, "org.apache.logging.log4j:log4j-core", "2.14.1", None),
            None,
            Vulns(&[("GHSA-0000-0000-0016", Some("2.15.0"), Critical)]),
        ),
        (
            "maven introduced",
            pkg(
                Maven,
                "org.apache.logging.log4j:log4j-core",
                "2.0-beta9",
                None,
            ),
            None,
            Vulns(&[("GHSA-0000-0000-0016", Some("2.15.0"), Critical)]),
        ),
        (
            "maven alpha",
            pkg(
                Maven,
                "org.apache.logging.log4j:log4j-core",
                "2.0-alpha1",
                None,
            ),
            None,
            Vulns(&[]),
        ),
        // PYSEC and GHSA records alias each other (and CVE-2099-0020): one finding, shown
        // as the GHSA id (no record is the CVE); the largest fix of the two (2.31.1) and
        // the GHSA's CVSS 3.1 6.1 MEDIUM (PYSEC has no severity).
        (
            "aliases merged",
            pkg(Python, "requests", "2.30.0", None),
            None,
            Vulns(&[("GHSA-0000-0000-0020", Some("2.31.1"), Medium)]),
        ),
        // Only PYSEC's range [0, 2.31.0) covers 2.2: still one finding, PYSEC's.
        (
            "alias one record",
            pkg(Python, "requests", "2.2", None),
            None,
            Vulns(&[("PYSEC-2099-20", Some("2.31.0"), Unknown)]),
        ),
        // Unknown distribution: not judged, with the reason.
        (
            "deb without os",
            pkg(Deb, "bash", "5.2-1", None),
            None,
            NotJudged("operating system is unknown"),
        ),
    ];
    for (what, package, distro, want) in cases {
        let found = run(
            std::slice::from_ref(&package),
            distro,
            &MatchOptions::default(),
        );
        match want {
            Vulns(want) => {
                let got: Vec<(&str, Option<&str>, Severity)> = found
                    .vulnerabilities
                    .iter()
                    .map(|f| (f.id.as_str(), f.fixed.as_deref(), f.rating.severity))
                    .collect();
                assert_eq!(got, want.to_vec(), "{what}");
                assert!(
                    found.not_judged.is_empty(),
                    "{what}: {:?}",
                    found.not_judged
                );
            }
            NotJudged(text) => {
                assert!(found.vulnerabilities.is_empty(), "{what}");
                let reasons: Vec<String> = found
                    .not_judged
                    .iter()
                    .map(|n| format!("{} {}", n.record.as_deref().unwrap_or(""), n.reason))
                    .collect();
                assert!(
                    reasons.iter().any(|r| r.contains(text)),
                    "{what}: {reasons:?}"
                );
            }
        }
    }
}

/// Trivy's order: package name, then most severe first, then id; filters apply.
#[test]
fn findings_are_sorted_and_filtered() {
    let packages = vec![
        pkg(Python, "django", "4.2.7", None),  // MEDIUM, fixed
        pkg(Npm, "lodash", "4.17.20", None),   // CRITICAL, fixed
        pkg(Python, "foo", "1.0", None),       // UNKNOWN, unfixed
        pkg(Cargo, "smallvec", "1.6.0", None), // HIGH, fixed
        pkg(Maven, "org.apache.logging.log4j:log4j-core", "2.14.1", None), // CRITICAL
        pkg(Python, "flask", "2.0", None),     // LOW GHSA-…-0001 and HIGH GHSA-…-0023
    ];
    let all = run(&packages, None, &MatchOptions::default());
    let order: Vec<&str> = all.vulnerabilities.iter().map(|f| f.id.as_str()).collect();
    assert_eq!(
        order,
        [
            "GHSA-0000-0000-0006", // django
            "GHSA-0000-0000-0023", // flask HIGH before flask LOW, though its id sorts after
            "GHSA-0000-0000-0001",
            "PYSEC-2099-8",        // foo
            "GHSA-0000-0000-0009", // lodash
            "GHSA-0000-0000-0016", // org.apache.logging.log4j:log4j-core
            "RUSTSEC-2099-0014",   // smallvec
        ]
    );
    assert_eq!(all.judged, 6);
    let high = run(
        &packages,
        None,
        &MatchOptions {
            severities: Some(vec![High, Critical]),
            ignore_unfixed: false,
        },
    );
    assert_eq!(high.vulnerabilities.len(), 4);
    let fixed = run(
        &packages,
        None,
        &MatchOptions {
            severities: None,
            ignore_unfixed: true,
        },
    );
    assert!(fixed.vulnerabilities.iter().all(|f| f.fixed.is_some()));
    assert_eq!(fixed.vulnerabilities.len(), 6);
    // The finding carries what reports need.
    let lodash = &all.vulnerabilities[4];
    assert_eq!((lodash.package, lodash.layer), (1, 1));
    assert_eq!(lodash.rating.score, Some(9.8));
    assert!(
        lodash
            .rating
            .vector
            .as_deref()
            .unwrap()
            .starts_with("CVSS:3.1/")
    );
    let django = &all.vulnerabilities[0];
    assert_eq!(
        django.url.as_deref(),
        Some("https://example.org/advisory/6")
    );
    assert_eq!(django.aliases, ["CVE-2099-0006"]);
}

/// A failing database fails the scan and says which lookup failed.
#[test]
fn a_database_error_names_the_lookup() {
    struct Broken;
    impl matching::Advisories for Broken {
        fn records_for(
            &self,
            _: &str,
            _: &str,
        ) -> Result<Vec<Vulnerability>, matching::SourceError> {
            Err("disk on fire".into())
        }
    }
    let err = matching::scan(
        &[pkg(Npm, "lodash", "1.0.0", None)],
        None,
        &Broken,
        &MatchOptions::default(),
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("npm") && text.contains("lodash") && text.contains("disk on fire"),
        "{text}"
    );
}

/// Merged findings keep every other id as an alias and the best summary.
#[test]
fn aliasing_records_merge_into_one_finding() {
    let found = run(
        &[pkg(Python, "requests", "2.30.0", None)],
        None,
        &MatchOptions::default(),
    );
    assert_eq!(found.vulnerabilities.len(), 1);
    let f = &found.vulnerabilities[0];
    assert_eq!(f.aliases, ["CVE-2099-0020", "PYSEC-2099-20"]);
    assert_eq!(
        f.summary.as_deref(),
        Some("Requests forwards Proxy-Authorization")
    );
    assert_eq!(f.rating.score, Some(6.1));
    // PYSEC alone: its summary is the first line of its details.
    let found = run(
        &[pkg(Python, "requests", "2.2", None)],
        None,
        &MatchOptions::default(),
    );
    assert_eq!(
        found.vulnerabilities[0].summary.as_deref(),
        Some("Requests leaks a header.")
    );
}

/// The indexed in-memory source answers like the list it was built from.
#[test]
fn memory_index_matches_like_the_plain_list() {
    let packages = vec![
        pkg(Python, "DJANGO", "4.2.7", None),
        pkg(Python, "requests", "2.30.0", None),
        pkg(Npm, "lodash", "4.17.20", None),
        pkg(Go, "stdlib", "go1.21.2", None),
        pkg(Cargo, "smallvec", "1.6.0", None),
        pkg(Cargo, "badcrate", "1.0.0", None),
        pkg(
            Deb,
            "libssl3",
            "3.0.11-1~deb12u1",
            Some(("openssl", "3.0.11-1~deb12u1")),
        ),
    ];
    let bookworm = distro("debian", "12", "Debian GNU/Linux 12 (bookworm)");
    let index = matching::MemoryIndex::new(records());
    assert_eq!(index.len(), records().len());
    let opts = MatchOptions::default();
    let from_list = matching::scan(&packages, Some(&bookworm), &records(), &opts).unwrap();
    let from_index = matching::scan(&packages, Some(&bookworm), &index, &opts).unwrap();
    assert_eq!(from_list, from_index);
    assert_eq!(from_index.vulnerabilities.len(), 6);
}

/// Binary packages of one source are looked up once.
#[test]
fn one_lookup_per_source_package() {
    use std::cell::RefCell;
    struct Counting(Vec<Vulnerability>, RefCell<Vec<(String, String)>>);
    impl matching::Advisories for Counting {
        fn records_for(
            &self,
            eco: &str,
            name: &str,
        ) -> Result<Vec<Vulnerability>, matching::SourceError> {
            self.1.borrow_mut().push((eco.into(), name.into()));
            self.0.records_for(eco, name)
        }
    }
    let db = Counting(records(), RefCell::new(Vec::new()));
    let bookworm = distro("debian", "12", "Debian GNU/Linux 12 (bookworm)");
    let packages = vec![
        pkg(
            Deb,
            "libssl3",
            "3.0.11-1~deb12u1",
            Some(("openssl", "3.0.11-1~deb12u1")),
        ),
        pkg(
            Deb,
            "openssl",
            "3.0.11-1~deb12u1",
            Some(("openssl", "3.0.11-1~deb12u1")),
        ),
        pkg(
            Deb,
            "libssl-dev",
            "3.0.11-1~deb12u2",
            Some(("openssl", "3.0.11-1~deb12u2")),
        ),
    ];
    let found = matching::scan(&packages, Some(&bookworm), &db, &MatchOptions::default()).unwrap();
    assert_eq!(
        *db.1.borrow(),
        [("Debian:12".to_string(), "openssl".to_string())]
    );
    // Each binary is still judged at its own source version (libssl-dev's is fixed);
    // same severity, so by name: libssl3, then openssl.
    let hit: Vec<usize> = found.vulnerabilities.iter().map(|f| f.package).collect();
    assert_eq!(hit, [0, 1]);
}
