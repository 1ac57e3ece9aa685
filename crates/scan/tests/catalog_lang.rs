//! The language catalogers against the real tools on real installs:
//!
//! - Python: packages pip installs into a venv of Debian's python (wheels, an sdist-only
//!   one, `_` and uppercase names), and Debian's own `dist-packages` (egg-info files and
//!   directories), against `importlib.metadata` run by that python;
//! - Node: `npm install` of scoped, nested and conflicting packages, against
//!   `npm ls --all --json` (and the lock cataloger on the `package-lock.json` it wrote);
//! - Go: a module with a `replace`d local dependency and a released one (from a
//!   file-system module proxy) built with `-X main.version`, and the Debian-built Go
//!   binaries on this machine (cgo, external linking, the `go` tool that carries the magic
//!   in its own data), against `go version -m`;
//! - Rust: a crate built with `cargo auditable` (runtime and build dependencies), a
//!   truncated copy, and binaries without audit data, against `rust-audit-info`;
//! - Java: every jar in `/usr/share/java`, and a war of some of them made by the JDK's
//!   `jar`, against `java.util.jar.JarFile`, `java.util.Properties` and
//!   `java.util.jar.Manifest` run by a one-file Java program.
//!
//! A missing tool fails the test with the command that installs it
//! (`scripts/install-peers.sh` installs them all).

// One module per ecosystem; the helpers they share are here.
#[path = "catalog_lang/go.rs"]
mod go;
#[path = "catalog_lang/java.rs"]
mod java;
#[path = "catalog_lang/node.rs"]
mod node;
#[path = "catalog_lang/python.rs"]
mod python;
#[path = "catalog_lang/rust.rs"]
mod rust;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use scan::catalog::{Cataloger, FileMeta, Reading};

/// Runs a command, panicking with its stderr and `install` when it fails.
fn run(cmd: &mut Command, install: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}; {install}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}\n{}\n{install}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Every regular file under `root` (symlinks not followed), as the walker offers them.
fn files(root: &Path) -> Vec<(PathBuf, FileMeta)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let file = FileMeta {
                    path: rel,
                    mode: meta.permissions().mode() & 0o7777,
                    size: meta.len(),
                };
                out.push((path, file));
            }
        }
    }
    out.sort_by(|a, b| a.1.path.cmp(&b.1.path));
    out
}

/// Runs `cataloger` over every file under `root` it wants.
fn catalog(cataloger: &dyn Cataloger, root: &Path) -> Vec<(String, Reading)> {
    files(root)
        .into_iter()
        .filter(|(_, meta)| cataloger.wants(meta))
        .map(|(path, meta)| {
            let mut f = fs::File::open(&path).unwrap();
            let reading = cataloger
                .read(&meta, &mut f)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (meta.path, reading)
        })
        .collect()
}

/// The packages read, `name version` per package, sorted.
fn listed(readings: &[(String, Reading)]) -> Vec<String> {
    let mut out: Vec<String> = readings
        .iter()
        .flat_map(|(_, r)| {
            r.packages
                .iter()
                .map(|p| format!("{} {}", p.name, p.version))
        })
        .collect();
    out.sort();
    out
}

fn notes(readings: &[(String, Reading)]) -> Vec<&String> {
    readings.iter().flat_map(|(_, r)| &r.notes).collect()
}

/// Writes `text` to `path`, making its directory.
fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}
