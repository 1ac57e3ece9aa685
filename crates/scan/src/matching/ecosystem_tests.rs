//! Table tests of where each package is looked up.

use super::*;
use crate::package::Found;

fn pkg(kind: PackageKind, name: &str, version: &str, source: Option<(&str, &str)>) -> Package {
    Package {
        found: Found {
            name: name.into(),
            version: version.into(),
            source: source.map(|(n, v)| (n.into(), v.into())),
            ..Found::default()
        },
        kind,
        path: String::new(),
        layer: 0,
        purl: String::new(),
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

/// (package, distro) → (ecosystem, name, version) or a reason containing the text.
#[test]
fn each_kind_and_distro_is_looked_up_where_osv_records_it() {
    let bookworm = distro("debian", "12", "Debian GNU/Linux 12 (bookworm)");
    let jammy = distro("ubuntu", "22.04", "Ubuntu 22.04.4 LTS");
    let mantic = distro("ubuntu", "23.10", "Ubuntu 23.10");
    let alpine = distro("alpine", "3.20.1", "Alpine Linux v3.20");
    let alpine323 = distro("alpine", "3.23.0", "Alpine Linux v3.23");
    let rocky = distro("rocky", "9.3", "Rocky Linux 9.3 (Blue Onyx)");
    let alma = distro("almalinux", "8.9", "AlmaLinux 8.9");
    let leap = distro("opensuse-leap", "15.5", "openSUSE Leap 15.5");
    let rhel = distro("rhel", "9.3", "Red Hat Enterprise Linux 9.3 (Plow)");
    let fedora = distro("fedora", "39", "Fedora Linux 39");
    let sid = distro("debian", "", "Debian GNU/Linux trixie/sid");
    let mint = distro("linuxmint", "21", "Linux Mint 21");
    let mut rpm_epoch = pkg(
        PackageKind::Rpm,
        "openssl-libs",
        "3.0.7-25.el9",
        Some(("openssl", "3.0.7-25.el9")),
    );
    rpm_epoch.found.qualifiers = vec![("epoch".into(), "1".into())];
    type Want = Result<(&'static str, &'static str, &'static str), &'static str>;
    let cases: Vec<(Package, Option<&Distro>, Want)> = vec![
        // Debian: the source package at the source version (the binary is a binNMU).
        (
            pkg(
                PackageKind::Deb,
                "libssl3",
                "3.0.11-1~deb12u2+b1",
                Some(("openssl", "3.0.11-1~deb12u2")),
            ),
            Some(&bookworm),
            Ok(("Debian:12", "openssl", "3.0.11-1~deb12u2")),
        ),
        // No Source: field: the binary is its own source.
        (
            pkg(PackageKind::Deb, "bash", "5.2.15-2+b2", None),
            Some(&bookworm),
            Ok(("Debian:12", "bash", "5.2.15-2+b2")),
        ),
        // A source without a version: the binary's version.
        (
            pkg(
                PackageKind::Deb,
                "libc6",
                "2.36-9+deb12u4",
                Some(("glibc", "")),
            ),
            Some(&bookworm),
            Ok(("Debian:12", "glibc", "2.36-9+deb12u4")),
        ),
        (
            pkg(PackageKind::Deb, "bash", "5.1-6ubuntu1", None),
            Some(&jammy),
            Ok(("Ubuntu:22.04:LTS", "bash", "5.1-6ubuntu1")),
        ),
        (
            pkg(PackageKind::Deb, "bash", "5.2-1", None),
            Some(&mantic),
            Ok(("Ubuntu:23.10", "bash", "5.2-1")),
        ),
        (
            pkg(PackageKind::Deb, "bash", "5.2-1", None),
            Some(&sid),
            Err("no VERSION_ID"),
        ),
        (
            pkg(PackageKind::Deb, "bash", "5.2-1", None),
            Some(&mint),
            Err("\"linuxmint\""),
        ),
        (
            pkg(PackageKind::Deb, "bash", "5.2-1", None),
            None,
            Err("operating system is unknown"),
        ),
        // Alpine: branch v<major.minor>, the origin package.
        (
            pkg(
                PackageKind::Apk,
                "libcrypto3",
                "3.3.1-r0",
                Some(("openssl", "3.3.1-r0")),
            ),
            Some(&alpine),
            Ok(("Alpine:v3.20", "openssl", "3.3.1-r0")),
        ),
        (
            pkg(PackageKind::Apk, "musl", "1.2.5-r0", None),
            Some(&alpine323),
            Ok(("Alpine:v3.23", "musl", "1.2.5-r0")),
        ),
        // rpm: Rocky/Alma by major release, the source RPM, the binary's epoch.
        (
            rpm_epoch,
            Some(&rocky),
            Ok(("Rocky Linux:9", "openssl", "1:3.0.7-25.el9")),
        ),
        (
            pkg(PackageKind::Rpm, "bash", "4.4.20-4.el8", None),
            Some(&alma),
            Ok(("AlmaLinux:8", "bash", "4.4.20-4.el8")),
        ),
        (
            pkg(PackageKind::Rpm, "bash", "4.4-1", None),
            Some(&leap),
            Ok(("openSUSE:Leap 15.5", "bash", "4.4-1")),
        ),
        (
            pkg(PackageKind::Rpm, "bash", "5.1-6.el9", None),
            Some(&rhel),
            Err("CPE product streams"),
        ),
        (
            pkg(PackageKind::Rpm, "bash", "5.2-1.fc39", None),
            Some(&fedora),
            Err("\"fedora\""),
        ),
        // Language packages need no distribution.
        (
            pkg(PackageKind::Python, "Zope.Interface", "6.0", None),
            None,
            Ok(("PyPI", "zope-interface", "6.0")),
        ),
        (
            pkg(PackageKind::Npm, "@babel/core", "7.0.0", None),
            None,
            Ok(("npm", "@babel/core", "7.0.0")),
        ),
        (
            pkg(
                PackageKind::Go,
                "golang.org/x/net",
                "v0.0.0-20220722155237-a158d28d115b",
                None,
            ),
            None,
            Ok((
                "Go",
                "golang.org/x/net",
                "v0.0.0-20220722155237-a158d28d115b",
            )),
        ),
        (
            pkg(PackageKind::Go, "stdlib", "go1.21.3", None),
            None,
            Ok(("Go", "stdlib", "v1.21.3")),
        ),
        (
            pkg(PackageKind::Go, "stdlib", "go1.22", None),
            None,
            Ok(("Go", "stdlib", "v1.22.0")),
        ),
        (
            pkg(PackageKind::Go, "stdlib", "go1.21rc2", None),
            None,
            Ok(("Go", "stdlib", "v1.21.0-rc.2")),
        ),
        (
            pkg(PackageKind::Go, "example.com/app", "(devel)", None),
            None,
            Err("(devel)"),
        ),
        (
            pkg(PackageKind::Cargo, "smallvec", "1.6.0", None),
            None,
            Ok(("crates.io", "smallvec", "1.6.0")),
        ),
        (
            pkg(
                PackageKind::Maven,
                "org.apache.logging.log4j:log4j-core",
                "2.14.1",
                None,
            ),
            None,
            Ok(("Maven", "org.apache.logging.log4j:log4j-core", "2.14.1")),
        ),
    ];
    for (package, distro, want) in cases {
        let got = lookup(&package, distro);
        match (got, want) {
            (Ok(l), Ok((eco, name, version))) => {
                assert_eq!(
                    (l.ecosystem.as_str(), l.name.as_str(), l.version.as_str()),
                    (eco, name, version),
                    "{package:?}"
                );
            }
            (Err(reason), Err(text)) => assert!(reason.contains(text), "{reason}"),
            (got, want) => panic!("{package:?}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn alpine_323_on_uses_apk_tools_3s_order() {
    let p = pkg(PackageKind::Apk, "musl", "1.2.5-r0", None);
    let old = lookup(&p, Some(&distro("alpine", "3.22.1", ""))).unwrap();
    let new = lookup(&p, Some(&distro("alpine", "3.23.0", ""))).unwrap();
    assert_eq!(old.order, Order::Version(Ecosystem::Alpine));
    assert_eq!(new.order, Order::Apk3);
}

/// OSV's Go records write versions without the go command's `v`.
#[test]
fn go_versions_compare_with_or_without_v() {
    let go = Order::Version(Ecosystem::Go);
    assert_eq!(go.compare("1.21.3", "v1.21.10"), Ordering::Less);
    assert_eq!(go.compare("v1.2.0", "1.2"), Ordering::Equal);
    assert!(go.validate("0.17.0").is_ok());
    assert!(go.validate("x1.0").is_err());
}

#[test]
fn pep503_normalizes_runs_of_separators() {
    assert_eq!(pep503("Foo__Bar.-baz"), "foo-bar-baz");
    assert_eq!(pep503("requests"), "requests");
}
