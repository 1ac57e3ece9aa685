//! Rust: a crate built with `cargo auditable`, and binaries without audit data, against
//! `rust-audit-info`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use scan::catalog::rust_binary::RustBinaryCataloger;
use scan::catalog::{Cataloger, FileMeta, Reading};
use serde_json::Value;

use super::{listed, run, write};

const RUST_INSTALL: &str = "install the peers: cargo install --locked cargo-auditable rust-audit-info (scripts/install-peers.sh)";

/// `rust-audit-info BINARY`'s runtime packages, or `None` when it finds no audit data.
fn rust_audit_info(binary: &Path) -> Option<Vec<String>> {
    let out = Command::new("rust-audit-info")
        .arg(binary)
        .output()
        .unwrap_or_else(|e| panic!("cannot run rust-audit-info: {e}; {RUST_INSTALL}"));
    if !out.status.success() {
        return None;
    }
    let json: Value = serde_json::from_slice(&out.stdout).expect("rust-audit-info prints JSON");
    let mut pkgs: Vec<String> = json["packages"]
        .as_array()
        .expect("a packages array")
        .iter()
        .filter(|p| p.get("kind").and_then(Value::as_str).unwrap_or("runtime") == "runtime")
        .map(|p| {
            format!(
                "{} {}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            )
        })
        .collect();
    pkgs.sort();
    Some(pkgs)
}

fn rust_catalog(binary: &Path) -> Reading {
    let meta = FileMeta {
        path: binary.to_string_lossy().trim_start_matches('/').to_owned(),
        mode: 0o755,
        size: fs::metadata(binary).unwrap().len(),
    };
    assert!(RustBinaryCataloger.wants(&meta));
    RustBinaryCataloger
        .read(&meta, &mut fs::File::open(binary).unwrap())
        .unwrap()
}

#[test]
fn rust_audit_data_agrees_with_rust_audit_info() {
    let tmp = tempfile::tempdir().unwrap();
    let krate = tmp.path().join("audited");
    write(
        &krate.join("Cargo.toml"),
        "[package]\nname = \"audited\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nitoa = \"=1.0.11\"\nryu = \"=1.0.18\"\n\n[build-dependencies]\nautocfg = \"=1.3.0\"\n\n[workspace]\n",
    );
    write(
        &krate.join("build.rs"),
        "fn main() {\n    let _ = autocfg::new;\n}\n",
    );
    write(
        &krate.join("src/main.rs"),
        "fn main() {\n    let mut a = itoa::Buffer::new();\n    let mut b = ryu::Buffer::new();\n    println!(\"{} {}\", a.format(42), b.format(1.5));\n}\n",
    );
    run(
        Command::new("cargo")
            .current_dir(&krate)
            .env("CARGO_TARGET_DIR", tmp.path().join("target"))
            .args(["auditable", "build", "--quiet"]),
        RUST_INSTALL,
    );
    let binary = tmp.path().join("target/debug/audited");
    let want = rust_audit_info(&binary).expect("rust-audit-info reads the audited binary");
    assert!(want.iter().any(|p| p.starts_with("itoa ")), "{want:?}");
    // The build dependency is in the audit data, as kind `build`, and not listed.
    let raw = run(Command::new("rust-audit-info").arg(&binary), RUST_INSTALL);
    assert!(
        raw.contains("\"autocfg\"") && raw.contains("\"build\""),
        "{raw}"
    );
    assert!(!want.iter().any(|p| p.starts_with("autocfg ")), "{want:?}");
    let reading = rust_catalog(&binary);
    assert!(reading.notes.is_empty(), "{:?}", reading.notes);
    assert_eq!(listed(&[("audited".into(), reading)]), want);

    // The audited binary cut short: no packages and no error, a note at most (its section
    // table, at the end, is gone); rust-audit-info cannot read it either.
    let data = fs::read(&binary).unwrap();
    let cut = tmp.path().join("cut");
    fs::write(&cut, &data[..data.len() / 2]).unwrap();
    let reading = rust_catalog(&cut);
    assert!(reading.packages.is_empty(), "{reading:?}");
    assert_eq!(
        rust_audit_info(&cut),
        None,
        "rust-audit-info read the cut binary"
    );

    // Binaries without audit data: rust-audit-info finds none, nor does the cataloger.
    let home = std::env::var("HOME").unwrap();
    let rust_audit_info_bin = PathBuf::from(home).join(".cargo/bin/rust-audit-info");
    for path in [
        rust_audit_info_bin.as_path(),
        Path::new("/usr/bin/python3"),
        Path::new("/usr/sbin/runc"),
    ] {
        if !path.exists() {
            continue;
        }
        let want = rust_audit_info(path).unwrap_or_default();
        let got = listed(&[("x".into(), rust_catalog(path))]);
        assert_eq!(got, want, "{}", path.display());
    }
}
