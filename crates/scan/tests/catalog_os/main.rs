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

mod apk;
mod dpkg;
mod os_release;
mod rpm;
mod trivy;

use std::process::Command;

use scan::catalog::{CatalogError, Cataloger, FileMeta, Reading};

/// The hand-written fixtures of these tests.
pub const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/os");

/// Runs `cataloger` on `bytes` as the file at `path`.
pub fn read(cataloger: &dyn Cataloger, path: &str, bytes: &[u8]) -> Result<Reading, CatalogError> {
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
pub fn run(command: &mut Command, install: &str) -> (bool, String, String) {
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
