//! Real images for the scan tests, built by strata from what `scripts/scan-fixtures.sh`
//! made once per machine: a Debian 12 root filesystem (debootstrap), pip and npm packages,
//! a Go binary and a Rust binary built with cargo-auditable; and Trivy to compare with.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{self, Env};

/// Where `scripts/scan-fixtures.sh` leaves the fixtures.
pub const FIXTURES: &str = "/var/cache/strata-peers/scan/v1";

/// The fixtures directory; panics (never skips) when it was not made.
pub fn fixtures() -> PathBuf {
    let dir = PathBuf::from(FIXTURES);
    assert!(
        dir.join(".complete").is_file(),
        "the scan fixtures are missing from {FIXTURES}: run scripts/install-peers.sh (it runs scripts/scan-fixtures.sh)"
    );
    dir
}

/// Trivy, as the fixtures hold it.
pub fn trivy() -> PathBuf {
    fixtures().join("trivy")
}

/// The base image, `scan-debian:12`: the debootstrap root filesystem, imported.
pub fn debian(env: &Env) -> &'static str {
    let tar = fixtures().join("bookworm-minbase.tar");
    env.ok(&["import", tar.to_str().unwrap(), "scan-debian:12"]);
    "scan-debian:12"
}

/// What goes into the application image beyond the base.
#[derive(Default)]
pub struct AppOptions {
    /// Layers that plant secrets: a private key added then deleted in a later layer, an
    /// AWS key pair in an `.env` that stays.
    pub secrets: bool,
}

/// Planted secrets, made at test time (nothing secret-looking is committed).
pub struct Planted {
    /// The AWS access key id in `/app/.env`.
    pub aws_key_id: String,
}

/// Builds `scan-app:1` on `scan-debian:12`: pip packages in dist-packages, npm packages in
/// /app/node_modules, the Go and Rust binaries in /usr/local/bin, one `COPY` each (so each
/// kind of package has its own layer and step).
pub fn app(env: &Env, opts: &AppOptions) -> (&'static str, Option<Planted>) {
    debian(env);
    let fx = fixtures();
    let ctx = env.path("app-context");
    std::fs::create_dir_all(ctx.join("bin")).unwrap();
    copy_tree(&fx.join("site-packages"), &ctx.join("site-packages"));
    copy_tree(&fx.join("node_modules"), &ctx.join("node_modules"));
    for b in ["hello-go", "hello-rust"] {
        std::fs::copy(fx.join("bin").join(b), ctx.join("bin").join(b)).unwrap();
    }
    let mut dockerfile = String::from(
        "FROM scan-debian:12\n\
         COPY site-packages /usr/local/lib/python3.11/dist-packages\n\
         COPY node_modules /app/node_modules\n\
         COPY bin/hello-go bin/hello-rust /usr/local/bin/\n",
    );
    let planted = opts.secrets.then(|| {
        let key = ctx.join("id_rsa");
        harness::peer(Command::new("openssl").args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            key.to_str().unwrap(),
        ]));
        let aws_key_id = format!("AKIA{}", random_upper(16));
        let aws_secret = random_base64(40);
        std::fs::write(
            ctx.join("env"),
            format!("AWS_ACCESS_KEY_ID={aws_key_id}\nAWS_SECRET_ACCESS_KEY={aws_secret}\n"),
        )
        .unwrap();
        dockerfile.push_str(
            "COPY id_rsa /root/.ssh/id_rsa\n\
             RUN rm /root/.ssh/id_rsa\n\
             COPY env /app/.env\n",
        );
        Planted { aws_key_id }
    });
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    env.ok(&[
        "build",
        "-q",
        "--network",
        "none",
        "-t",
        "scan-app:1",
        ctx.to_str().unwrap(),
    ]);
    ("scan-app:1", planted)
}

/// `docker save`'s form of an image, for Trivy's `--input`.
pub fn save(env: &Env, image: &str) -> PathBuf {
    let out = env.path(&format!("{}.tar", image.replace([':', '/'], "_")));
    env.ok(&["save", "-o", out.to_str().unwrap(), image]);
    out
}

/// Trivy's CycloneDX SBOM of an archive, offline (its SBOM mode needs no database).
pub fn trivy_cyclonedx(env: &Env, archive: &Path) -> serde_json::Value {
    let out = env.path("trivy.cdx.json");
    harness::peer(
        Command::new(trivy())
            .env("TRIVY_CACHE_DIR", env.path("trivy-cache"))
            // Trivy leaves analyzer-fs-* directories in its temp dir: keep them in ours.
            .env("TMPDIR", env.dir.path())
            .args(["image", "--quiet", "--format", "cyclonedx", "--output"])
            .arg(&out)
            .arg("--input")
            .arg(archive),
    );
    serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap()
}

/// Copies a directory tree (regular files, directories and symbolic links).
pub fn copy_tree(from: &Path, to: &Path) {
    harness::peer(Command::new("cp").arg("-a").arg(from).arg(to));
}

/// Unpacks the Debian root filesystem into `dir` (for directory scans).
pub fn debian_rootfs(env: &Env) -> PathBuf {
    let dir = env.path("debian-rootfs");
    std::fs::create_dir_all(&dir).unwrap();
    harness::peer(
        Command::new("tar")
            .arg("-C")
            .arg(&dir)
            .arg("-xf")
            .arg(fixtures().join("bookworm-minbase.tar")),
    );
    dir
}

fn random_bytes(n: usize) -> Vec<u8> {
    use std::io::Read as _;
    let mut b = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .unwrap()
        .read_exact(&mut b)
        .unwrap();
    b
}

fn random_upper(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    random_bytes(n)
        .into_iter()
        .map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char)
        .collect()
}

fn random_base64(n: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    random_bytes(n)
        .into_iter()
        .map(|b| ALPHABET[usize::from(b) % ALPHABET.len()] as char)
        .collect()
}
