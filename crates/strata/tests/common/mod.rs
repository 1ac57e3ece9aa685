//! Helpers for tests that drive the real `strata` binary on a temporary store.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use sha2::Digest as _;

/// A temporary store and scratch directory, removed on drop.
pub struct Env {
    pub dir: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `strata --root <root> --config <none>` with a clean environment for config lookups.
    pub fn strata(&self) -> Command {
        let mut c = Command::cargo_bin("strata").expect("strata binary");
        c.arg("--root").arg(self.root());
        c.env("HOME", self.dir.path());
        c.env_remove("XDG_CONFIG_HOME");
        c.env_remove("SOURCE_DATE_EPOCH");
        c.env_remove("STRATA_ROOT");
        c
    }

    /// Runs strata with `args`, asserts success, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.strata().args(args).output().expect("run strata");
        assert!(
            out.status.success(),
            "strata {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Writes a small rootfs tar (plus `extra` as /etc/extra) and returns its path.
    pub fn rootfs_tar(&self, name: &str, extra: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, rootfs_bytes(extra)).expect("write tar");
        path
    }
}

/// The bytes of a small deterministic rootfs tar.
pub fn rootfs_bytes(extra: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8], kind: tar::EntryType| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append_data(&mut h, path, data).expect("append");
    };
    add("etc/", b"", tar::EntryType::Directory);
    add("etc/hello", b"hello\n", tar::EntryType::Regular);
    add("etc/extra", extra.as_bytes(), tar::EntryType::Regular);
    b.into_inner().expect("finish tar")
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("gzip");
    e.finish().expect("gzip")
}

/// `sha256:<hex>` of `data`.
pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// Checks an import's output (`sha256:<64 hex>\n`) and returns the ID.
pub fn image_id(stdout: &str) -> String {
    let id = stdout.trim_end();
    assert!(
        id.len() == 71 && id.starts_with("sha256:") && stdout.ends_with('\n'),
        "not an image ID: {stdout:?}"
    );
    id.to_string()
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
