//! What the trust tests share: the registries they run against, `strata` with a key
//! password, key generation, test images pushed to a registry, and sigstore-rs as the
//! verifier nobody here wrote.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::harness::images::{Layout, TestImage, sha256};
use crate::harness::{Env, Registry, Served, serve_registry};

/// A registry to test against, kept running while the value lives.
pub enum Running {
    Debian(#[allow(dead_code)] Registry),
    Strata(#[allow(dead_code)] Served),
}

pub fn debian_registry() -> (Running, String) {
    let r = Registry::start();
    let host = r.host.clone();
    (Running::Debian(r), host)
}

pub fn strata_registry(env: &Env) -> (Running, String) {
    let (served, host) = serve_registry(env, "served");
    (Running::Strata(served), host)
}

/// `strata ARGS` with `COSIGN_PASSWORD`; (exit code, stdout, stderr).
pub fn run_pw(env: &Env, password: &str, args: &[&str]) -> (i32, String, String) {
    let out = env
        .cmd(args)
        .env("COSIGN_PASSWORD", password)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn ok_pw(env: &Env, password: &str, args: &[&str]) -> (String, String) {
    let (code, out, err) = run_pw(env, password, args);
    assert_eq!(code, 0, "strata {args:?}:\nstdout: {out}\nstderr: {err}");
    (out, err)
}

/// Generates `dir/name.key` and `.pub` with strata; returns the prefix.
pub fn keygen(env: &Env, name: &str, password: &str) -> PathBuf {
    let prefix = env.path(name);
    let (_, err) = ok_pw(
        env,
        password,
        &[
            "trust",
            "key",
            "generate",
            "--output-key-prefix",
            prefix.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains(&format!("Private key written to {}.key", prefix.display())),
        "{err}"
    );
    assert!(
        err.contains(&format!("Public key written to {}.pub", prefix.display())),
        "{err}"
    );
    prefix
}

pub fn key(prefix: &Path, ext: &str) -> String {
    format!("{}.{ext}", prefix.display())
}

/// Pushes images `a`, `b` (single manifests) and `multi` (an index of two) to
/// `host/app` from an OCI layout; returns the manifest digests by tag.
pub fn push_images(env: &Env, host: &str) -> BTreeMap<&'static str, String> {
    push_images_to(env, host, "app")
}

/// [`push_images`] to the repository `repo`.
pub fn push_images_to(env: &Env, host: &str, repo: &str) -> BTreeMap<&'static str, String> {
    let dir = env.path(&format!("layout-{}", repo.replace('/', "_")));
    let mut layout = Layout::create(&dir);
    let a = TestImage::new("amd64", &[&[("a.txt", b"a")]]);
    let b = TestImage::new("amd64", &[&[("b.txt", b"b")]]);
    let arm = TestImage::new("arm64", &[&[("c.txt", b"c")]]);
    let da = layout.image(&a);
    layout.tag(da, "a");
    let db = layout.image(&b);
    layout.tag(db, "b");
    let (index, di) = layout.index(&[(&a, "amd64"), (&arm, "arm64")]);
    layout.tag(di, "multi");
    for t in ["a", "b"] {
        env.ok(&[
            "copy",
            "--quiet",
            &format!("oci:{}:{t}", dir.display()),
            &format!("docker://{host}/{repo}:{t}"),
        ]);
    }
    env.ok(&[
        "copy",
        "--quiet",
        "--all",
        &format!("oci:{}:multi", dir.display()),
        &format!("docker://{host}/{repo}:multi"),
    ]);
    BTreeMap::from([
        ("a", a.digest()),
        ("b", b.digest()),
        ("arm", arm.digest()),
        ("multi", sha256(&index)),
    ])
}

pub fn sig_tag(digest: &str) -> String {
    format!("{}.sig", digest.replace(':', "-"))
}

/// sigstore-rs's cosign client over plain HTTP to a loopback registry.
pub fn sigstore_client() -> sigstore::cosign::Client {
    let config = sigstore::registry::ClientConfig {
        protocol: sigstore::registry::ClientProtocol::Http,
        ..Default::default()
    };
    sigstore::cosign::ClientBuilder::default()
        .with_oci_client_config(config)
        .build()
        .unwrap()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// sigstore-rs's verdict on `image` with the public key PEM `pubkey`: Ok(number of layers
/// it fetched) when verified.
pub fn sigstore_verifies(image: &str, pubkey: &[u8]) -> Result<usize, String> {
    use sigstore::cosign::CosignCapabilities as _;
    use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraintVec};
    let image: sigstore::registry::OciReference = image.parse().unwrap();
    let mut client = sigstore_client();
    let layers = runtime()
        .block_on(client.trusted_signature_layers(&sigstore::registry::Auth::Anonymous, &image))
        .map_err(|e| e.to_string())?;
    let verifier = PublicKeyVerifier::new(
        pubkey,
        &sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1,
    )
    .unwrap();
    let constraints: VerificationConstraintVec = vec![Box::new(verifier)];
    sigstore::cosign::verify_constraints(&layers, constraints.iter())
        .map_err(|e| format!("{e:?}"))?;
    Ok(layers.len())
}
