//! `strata scan` and `strata scan db` end to end: real advisories (PyPI's safety-db,
//! converted to OSV) matched against the pip packages of a real image and judged by Python's
//! `packaging`; hand-written OSV records for the Debian packages (severity, exit codes,
//! unfixed, formats); secrets including a deleted file's; bad database input; `db update`
//! from a local mirror.

mod harness;
mod scan_support;

use std::collections::BTreeSet;
use std::process::Command;

use harness::Env;
use scan_support::AppOptions;
use serde_json::{Value, json};

const PYTHON: &str = "/usr/bin/python3";

fn pep503(name: &str) -> String {
    let mut out = String::new();
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn safety_db_advisories_match_the_pip_packages_as_packaging_judges_them() {
    let env = Env::new();
    let (image, _) = scan_support::app(&env, &AppOptions::default());
    // The installed pip packages, from their dist-info directories' names.
    let site = scan_support::fixtures().join("site-packages");
    let installed: Vec<(String, String)> = std::fs::read_dir(&site)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            let stem = name.strip_suffix(".dist-info")?;
            let (n, v) = stem.rsplit_once('-')?;
            Some((n.to_string(), v.to_string()))
        })
        .collect();
    assert!(installed.len() >= 10, "{installed:?}");
    let inst_file = env.path("installed.json");
    std::fs::write(&inst_file, serde_json::to_vec(&installed).unwrap()).unwrap();
    let records = env.path("safety-osv");
    std::fs::create_dir(&records).unwrap();
    let db = scan_support::fixtures().join("safety-db/safety_db/insecure_full.json");
    let oracle = json_of(&harness::peer(
        Command::new(PYTHON)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/scan_support/safety_osv.py"
            ))
            .arg(&db)
            .arg(&records)
            .arg(&inst_file),
    ));
    assert!(oracle["records"].as_u64().unwrap() > 2000, "{oracle}");
    let expected: BTreeSet<(String, String)> = oracle["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
        .collect();
    assert!(
        expected.len() >= 5,
        "the old pins should have advisories: {oracle}"
    );
    let imported = env.ok(&["scan", "db", "import", records.to_str().unwrap()]);
    assert!(imported.contains("PyPI"), "{imported}");
    let report = json_of(&env.ok(&["scan", "--format", "json", image]));
    let got: BTreeSet<(String, String)> = report["vulnerabilities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["ecosystem"] == "PyPI")
        .map(|v| {
            (
                pep503(v["package"]["name"].as_str().unwrap()),
                v["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    // Each finding names the layer and step that brought the package in.
    for v in report["vulnerabilities"].as_array().unwrap() {
        let step = v["layer"]["created_by"].as_str().unwrap();
        assert!(step.starts_with("COPY site-packages"), "{v}");
    }
    assert!(report["data_date"].is_string(), "{}", report["data_date"]);
}

/// OSV records for packages of the Debian image, each range form the tests need.
fn debian_records(dir: &std::path::Path) {
    let record = |id: &str, name: &str, events: Value, severity: Option<&str>| {
        let mut r = json!({
            "schema_version": "1.6.0",
            "id": id,
            "modified": "2026-11-01T00:00:00Z",
            "summary": format!("test advisory for {name}"),
            "affected": [{
                "package": {"ecosystem": "Debian:12", "name": name},
                "ranges": [{"type": "ECOSYSTEM", "events": events}],
            }],
        });
        if let Some(v) = severity {
            r["severity"] = json!([{"type": "CVSS_V3", "score": v}]);
        }
        std::fs::write(dir.join(format!("{id}.json")), r.to_string()).unwrap();
    };
    // glibc's source package (libc6, libc-bin): fixed in a later upload: affected, CRITICAL.
    record(
        "STRATA-TEST-0001",
        "glibc",
        json!([{"introduced": "0"}, {"fixed": "2.36-9+deb12u999"}]),
        Some("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
    );
    // bash: no fix yet: affected, LOW, left out by --ignore-unfixed.
    record(
        "STRATA-TEST-0002",
        "bash",
        json!([{"introduced": "0"}]),
        Some("CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N"),
    );
    // zlib: fixed long before bookworm's version: not affected.
    record(
        "STRATA-TEST-0003",
        "zlib",
        json!([{"introduced": "0"}, {"fixed": "1:1.2.11.dfsg-1"}]),
        None,
    );
}

#[test]
fn severity_unfixed_exit_code_and_formats_follow_trivys_flags() {
    let env = Env::new();
    let image = scan_support::debian(&env);
    let dir = env.path("records");
    std::fs::create_dir(&dir).unwrap();
    debian_records(&dir);
    env.ok(&["scan", "db", "import", dir.to_str().unwrap()]);
    let ids = |args: &[&str]| -> Vec<(String, String)> {
        let mut a = vec!["scan", "--format", "json"];
        a.extend_from_slice(args);
        a.push(image);
        let r = json_of(&env.ok(&a));
        r["vulnerabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| {
                (
                    v["package"]["name"].as_str().unwrap().to_string(),
                    v["id"].as_str().unwrap().to_string(),
                )
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let all = ids(&[]);
    // Matched on the source package: every binary package of glibc is named.
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        all,
        vec![
            s("bash", "STRATA-TEST-0002"),
            s("libc-bin", "STRATA-TEST-0001"),
            s("libc6", "STRATA-TEST-0001"),
        ]
    );
    assert_eq!(
        ids(&["--severity", "CRITICAL"]),
        vec![
            s("libc-bin", "STRATA-TEST-0001"),
            s("libc6", "STRATA-TEST-0001")
        ]
    );
    assert_eq!(
        ids(&["--severity", "low"]),
        vec![s("bash", "STRATA-TEST-0002")]
    );
    assert_eq!(
        ids(&["--ignore-unfixed"]),
        vec![
            s("libc-bin", "STRATA-TEST-0001"),
            s("libc6", "STRATA-TEST-0001")
        ]
    );
    // --exit-code: used when something is reported, 0 otherwise.
    let (code, _) = env.fails(&["scan", "--exit-code", "3", image]);
    assert_eq!(code, 3);
    env.ok(&["scan", "--exit-code", "3", "--severity", "MEDIUM", image]);
    let (code, err) = env.fails(&["scan", "--severity", "SEVERE", image]);
    assert_eq!(code, 1);
    assert!(err.contains("SEVERE"), "{err}");
    // The table names the package, the record, the severity and both versions.
    let table = env.ok(&["scan", image]);
    for want in [
        "libc6",
        "STRATA-TEST-0001",
        "CRITICAL",
        "2.36-9+deb12u999",
        "bash",
    ] {
        assert!(table.contains(want), "{want} missing from\n{table}");
    }
    assert!(!table.contains("zlib1g"), "{table}");
    // SARIF and the CycloneDX VEX parse and name the same records.
    let sarif = json_of(&env.ok(&["scan", "--format", "sarif", image]));
    assert_eq!(sarif["version"], "2.1.0");
    let rules: BTreeSet<&str> = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        BTreeSet::from(["STRATA-TEST-0001", "STRATA-TEST-0002"])
    );
    let vex = json_of(&env.ok(&["scan", "--format", "cyclonedx-vex", image]));
    assert_eq!(vex["bomFormat"], "CycloneDX");
    assert_eq!(vex["vulnerabilities"].as_array().unwrap().len(), 2, "{vex}");
}

#[test]
fn a_scan_without_a_database_says_how_to_get_one() {
    let env = Env::new();
    let (code, err) = env.fails(&["scan", "whatever:1"]);
    assert_eq!(code, 1);
    assert!(err.contains("strata scan db import"), "{err}");
    // Secrets alone need no database.
    let image = scan_support::debian(&env);
    env.ok(&["scan", "--scanners", "secret", image]);
}

#[test]
fn secrets_are_found_in_every_layer_including_a_deleted_file_and_none_in_debian() {
    let env = Env::new();
    let (image, planted) = scan_support::app(&env, &AppOptions { secrets: true });
    let planted = planted.unwrap();
    let report = json_of(&env.ok(&["scan", "--scanners", "secret", "--format", "json", image]));
    let secrets = report["secrets"].as_array().unwrap();
    let found: BTreeSet<(String, String, bool)> = secrets
        .iter()
        .map(|s| {
            (
                s["ruleId"].as_str().unwrap().to_string(),
                s["path"].as_str().unwrap().to_string(),
                s["deleted"].as_bool().unwrap(),
            )
        })
        .collect();
    assert!(
        found.contains(&("private-key".into(), "/root/.ssh/id_rsa".into(), true)),
        "{found:?}"
    );
    assert!(
        found.contains(&("aws-access-key-id".into(), "/app/.env".into(), false)),
        "{found:?}"
    );
    // Masked, never printed whole.
    let text = env.ok(&["scan", "--scanners", "secret", image]);
    assert!(!text.contains(&planted.aws_key_id), "{text}");
    assert!(text.contains("deleted in a later layer"), "{text}");
    for s in secrets {
        let step = s["layer"]["createdBy"].as_str().unwrap_or_default();
        assert!(step.starts_with("COPY"), "{s}");
    }
    // Only the planted files; and nothing at all in the Debian base.
    let paths: BTreeSet<&str> = secrets
        .iter()
        .map(|s| s["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, BTreeSet::from(["/root/.ssh/id_rsa", "/app/.env"]));
    let base = json_of(&env.ok(&[
        "scan",
        "--scanners",
        "secret",
        "--format",
        "json",
        "scan-debian:12",
    ]));
    assert_eq!(base["secrets"], json!([]), "{}", base["secrets"]);
    let (code, _) = env.fails(&[
        "scan",
        "--secrets",
        "--scanners",
        "secret",
        "--exit-code",
        "5",
        image,
    ]);
    assert_eq!(code, 5);
}

/// Makes `zip` with the entries `(name, bytes)` (Python's zipfile).
fn make_zip(path: &std::path::Path, entries: &[(&str, Vec<u8>)]) {
    let dir = path.with_extension("entries");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in entries {
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    harness::peer(
        Command::new(PYTHON)
            .arg("-c")
            .arg(
                "import sys, os, zipfile\n\
                 with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n\
                 \x20   for n in sorted(os.listdir(sys.argv[2])): z.write(os.path.join(sys.argv[2], n), n)\n",
            )
            .arg(path)
            .arg(&dir),
    );
}

#[test]
fn bad_database_input_is_refused_and_leaves_the_database_unchanged() {
    let env = Env::new();
    let dir = env.path("records");
    std::fs::create_dir(&dir).unwrap();
    debian_records(&dir);
    env.ok(&["scan", "db", "import", dir.to_str().unwrap()]);
    let before = env.ok(&["scan", "db", "status"]);
    assert!(before.contains("Debian"), "{before}");
    let good = std::fs::read(dir.join("STRATA-TEST-0001.json")).unwrap();
    let newer = String::from_utf8(good.clone())
        .unwrap()
        .replace("2026-11-01", "2026-11-02")
        .replace("STRATA-TEST-0001", "STRATA-TEST-0009");
    // A truncated zip.
    let zip = env.path("all.zip");
    make_zip(
        &zip,
        &[
            ("A.json", newer.clone().into_bytes()),
            ("B.json", good.clone()),
        ],
    );
    let bytes = std::fs::read(&zip).unwrap();
    let truncated = env.path("truncated.zip");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    // A zip with a malformed record among good ones; a record without an id; not JSON.
    let mixed = env.path("mixed.zip");
    make_zip(
        &mixed,
        &[
            ("A.json", newer.clone().into_bytes()),
            ("B.json", b"{\"id\": \"X\", \"modified\": 12}".to_vec()),
        ],
    );
    let no_id = env.path("no-id.json");
    std::fs::write(&no_id, b"{\"modified\": \"2026-11-01T00:00:00Z\"}").unwrap();
    let not_json = env.path("not.json");
    std::fs::write(&not_json, b"<html>rate limited</html>").unwrap();
    for (bad, says) in [
        (&truncated, "truncated.zip"),
        (&mixed, "B.json"),
        (&no_id, "id"),
        (&not_json, "not.json"),
    ] {
        let (code, err) = env.fails(&["scan", "db", "import", bad.to_str().unwrap()]);
        assert_eq!(code, 1, "{err}");
        assert!(err.contains(says), "{says} missing from: {err}");
        assert!(err.contains("unchanged"), "{err}");
        assert_eq!(
            env.ok(&["scan", "db", "status"]),
            before,
            "after {}",
            bad.display()
        );
    }
}

#[test]
fn db_update_downloads_the_ecosystem_archives_from_a_mirror() {
    let env = Env::new();
    let mirror = env.path("mirror");
    std::fs::create_dir_all(mirror.join("Debian")).unwrap();
    let dir = env.path("records");
    std::fs::create_dir(&dir).unwrap();
    debian_records(&dir);
    let entries: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    let refs: Vec<(&str, Vec<u8>)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.clone()))
        .collect();
    make_zip(&mirror.join("Debian/all.zip"), &refs);
    let port = harness::free_port();
    let server = harness::Served(
        Command::new(PYTHON)
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
            ])
            .current_dir(&mirror)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://127.0.0.1:{port}");
    harness::wait_for_http(&format!("127.0.0.1:{port}"));
    let out = env.ok(&[
        "scan",
        "db",
        "update",
        "--url",
        &url,
        "--ecosystem",
        "Debian",
    ]);
    assert!(out.contains("Debian/all.zip"), "{out}");
    let status = env.ok(&["scan", "db", "status"]);
    assert!(
        status.contains("Debian") && status.contains(&url),
        "{status}"
    );
    // An ecosystem the mirror lacks fails, and the database keeps what it had.
    let (code, err) = env.fails(&["scan", "db", "update", "--url", &url, "--ecosystem", "PyPI"]);
    assert_eq!(code, 1);
    assert!(err.contains("404") && err.contains("PyPI/all.zip"), "{err}");
    assert_eq!(env.ok(&["scan", "db", "status"]), status);
    drop(server);
}
