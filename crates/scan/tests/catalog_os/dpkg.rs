//! dpkg against `dpkg-query`: this machine's database, odd and corrupt ones via `--admindir`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use scan::catalog::dpkg::Dpkg;
use scan::catalog::{CatalogError, Cataloger, FileMeta};
use scan::package::Found;

use super::{FIXTURES, read, run};

/// (package, version, arch, source package, source version) of every package with files on disk
/// `dpkg-query` lists in `admindir` (the system's when `None`), and whether it succeeded.
fn dpkg_query(admindir: Option<&Path>) -> (bool, BTreeSet<[String; 5]>, String) {
    let mut command = Command::new("dpkg-query");
    if let Some(dir) = admindir {
        command.arg(format!("--admindir={}", dir.display()));
    }
    command.arg("-W").arg(
        "-f=${Package}\\t${Version}\\t${Architecture}\\t${source:Package}\\t${source:Version}\\t${db:Status-Abbrev}\\n",
    );
    let (ok, out, err) = run(&mut command, "apt-get install dpkg");
    let mut installed = BTreeSet::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 6, "{line:?}");
        // Status-Abbrev is want, state, error: every state but `n` (not-installed) and
        // `c` (config-files) has the package's files on disk.
        if !matches!(f[5].as_bytes().get(1), Some(b'n' | b'c')) {
            installed.insert([f[0], f[1], f[2], f[3], f[4]].map(str::to_owned));
        }
    }
    (ok, installed, err)
}

/// The same five fields from the cataloger; the source defaults to the binary package.
fn as_rows(packages: &[Found]) -> BTreeSet<[String; 5]> {
    packages
        .iter()
        .map(|p| {
            let (sn, sv) = p
                .source
                .clone()
                .unwrap_or((p.name.clone(), p.version.clone()));
            [
                p.name.clone(),
                p.version.clone(),
                p.arch.clone().unwrap_or_default(),
                sn,
                sv,
            ]
        })
        .collect()
}

#[test]
fn dpkg_status_of_this_machine_reads_as_dpkg_query_lists_it() {
    let bytes = std::fs::read("/var/lib/dpkg/status").unwrap();
    let reading = read(&Dpkg, "var/lib/dpkg/status", &bytes).unwrap();
    let (ok, want, err) = dpkg_query(None);
    assert!(ok, "dpkg-query failed: {err}");
    assert!(
        want.len() > 100,
        "this machine has {} packages?",
        want.len()
    );
    let got = as_rows(&reading.packages);
    assert_eq!(got.len(), reading.packages.len(), "a package listed twice");
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}\nextra {extra:?}"
    );
}

/// Stanzas dpkg writes or accepts that are not the everyday `install ok installed`.
pub const ODD_STATUS: &str = "\
Package: foo
Status: install ok installed
Priority: optional
Architecture: amd64
Source: foosrc (1:2.0-1)
Version: 1:2.0-1+b1
Description: a thing
 continued
 .
 more


package: lowercase-fields
status: install ok installed
architecture: amd64
version: 1.0
source: other

Package: held
Status: hold ok installed
Architecture: all
Version: 3.0~rc1-2
Source: held

Package: binnmu
Status: install ok installed
Architecture: amd64
Version: 2.0-1+b2
Source: binnmu (2.0-1)
Multi-Arch: same

Package: removed-kept-conffiles
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: never-installed
Status: purge ok not-installed
Architecture: amd64

Package: half
Status: install reinstreq half-installed
Architecture: amd64
Version: 1.0

Package: unpacked-only
Status: install ok unpacked
Architecture: amd64
Version: 1.0-1

Package: awaiting-triggers
Status: install ok triggers-pending
Architecture: amd64
Version: 1.0-1
Triggers-Pending: ldconfig

Package: selected-but-absent
Status: install ok not-installed
Architecture: amd64
Version: 1.0-1

Package: selected-for-removal
Status: deinstall ok installed
Architecture: amd64
Version: 0.1
Description: the last stanza
";

#[test]
fn dpkg_odd_stanzas_read_as_dpkg_query_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("status"), ODD_STATUS).unwrap();
    let (ok, want, err) = dpkg_query(Some(dir.path()));
    assert!(ok, "dpkg-query refused the odd status: {err}");
    let reading = read(&Dpkg, "var/lib/dpkg/status", ODD_STATUS.as_bytes()).unwrap();
    assert_eq!(as_rows(&reading.packages), want);
    // And what dpkg-query does not show: `Source:` naming the package itself is no source.
    let held = reading.packages.iter().find(|p| p.name == "held").unwrap();
    assert_eq!(held.source, None);
    assert!(reading.packages.iter().all(|p| p.licenses.is_empty()));
}

/// Corrupt status files: (content, the line our error names, a word of its reason).
/// dpkg-query must refuse each too.
const CORRUPT: &[(&str, usize, &str)] = &[
    (
        "Package: x\nStatus: install ok installed\nVersion: 1.0\nbroken line\n",
        4,
        "expected `Field: value`",
    ),
    (
        "Package: x\nStatus: install ok installed\nVersion: 1.0 2\n",
        3,
        "embedded spaces",
    ),
    (
        "Package: x\nStatus: install ok installed\nVersion: a:1.0\n",
        3,
        "epoch",
    ),
    (
        "Package: x\nStatus: install ok installed\nVersion: 1.0\n\nStatus: install ok installed\nVersion: 1.0\n",
        5,
        "no `Package:`",
    ),
    (
        "Package: x\nStatus: install ok installed\nArchitecture: amd64\n",
        1,
        "no `Version:`",
    ),
    (
        " continuation\nPackage: x\nStatus: install ok installed\nVersion: 1\n",
        1,
        "continuation",
    ),
    (
        "Package: x\nStatus: install ok installed\nVersion: 1\n: no name\n",
        4,
        "expected `Field: value`",
    ),
    (
        "Package: x\nStatus: install ok installed\nVersion: 1.0\nDescription: cut",
        4,
        "truncated",
    ),
];

#[test]
fn corrupt_dpkg_status_is_an_error_naming_the_line_and_dpkg_refuses_it_too() {
    let dir = tempfile::tempdir().unwrap();
    for (content, line, reason) in CORRUPT {
        match read(&Dpkg, "var/lib/dpkg/status", content.as_bytes()) {
            Err(CatalogError::Malformed {
                path,
                line: got,
                reason: why,
            }) => {
                assert_eq!(path, "var/lib/dpkg/status");
                assert_eq!(got, *line, "{content:?}: {why}");
                assert!(
                    why.contains(reason),
                    "{content:?}: {why:?} lacks {reason:?}"
                );
            }
            other => panic!("{content:?} read as {other:?}"),
        }
        std::fs::write(dir.path().join("status"), content).unwrap();
        let (ok, _, _) = dpkg_query(Some(dir.path()));
        assert!(!ok, "dpkg-query accepted {content:?}");
    }
}

#[test]
fn an_overlong_line_is_refused_without_holding_the_file() {
    let mut content = b"Package: x\nDescription: ".to_vec();
    content.resize(content.len() + (1 << 20) + 10, b'a');
    let err = read(&Dpkg, "var/lib/dpkg/status", &content).unwrap_err();
    assert!(
        matches!(&err, CatalogError::Malformed { line: 2, reason, .. } if reason.contains("longer")),
        "{err}"
    );
}

#[test]
fn distroless_status_d_files_are_taken_whole() {
    let base = std::fs::read(format!("{FIXTURES}/status.d/base")).unwrap();
    let reading = read(&Dpkg, "var/lib/dpkg/status.d/base", &base).unwrap();
    let names: Vec<(&str, &str, Option<&str>)> = reading
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str(), p.arch.as_deref()))
        .collect();
    assert_eq!(
        names,
        [
            ("base-files", "12.4+deb12u5", Some("amd64")),
            ("netbase", "6.4", Some("all"))
        ]
    );
    let ssl = std::fs::read(format!("{FIXTURES}/status.d/libssl3")).unwrap();
    let reading = read(&Dpkg, "var/lib/dpkg/status.d/libssl3", &ssl).unwrap();
    assert_eq!(reading.packages.len(), 1);
    assert_eq!(
        reading.packages[0].source,
        Some(("openssl".to_owned(), "3.0.11-1~deb12u2".to_owned()))
    );
    let md5 = FileMeta {
        path: "var/lib/dpkg/status.d/libssl3.md5sums".into(),
        mode: 0o644,
        size: 60,
    };
    assert!(!Dpkg.wants(&md5));
}
