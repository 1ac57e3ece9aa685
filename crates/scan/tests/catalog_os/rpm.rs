//! rpm's sqlite database against `rpm -qa`, on databases rpm writes here.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use scan::catalog::CatalogError;
use scan::catalog::rpm::Rpm;

use super::{read, run};

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
pub fn make_rpmdb(dir: &Path) -> std::path::PathBuf {
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
