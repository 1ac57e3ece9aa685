//! `strata trust key generate`, `strata sign` and `strata verify` against Debian's
//! docker-registry and strata's own registry, with sigstore-rs (a verifier nobody here
//! wrote) checking strata's signatures from the registry and making signatures strata
//! verifies; each tampering a registry can carry is refused with its reason.

mod harness;
mod trust_support;

use std::path::{Path, PathBuf};

use harness::Env;
use harness::images::sha256;
use serde_json::{Value, json};
use trust_support::*;

/// The signature manifest of `digest`, copied out to a fresh OCI layout: (layout dir,
/// manifest JSON).
fn fetch_sig(env: &Env, host: &str, digest: &str, name: &str) -> (PathBuf, Value) {
    let dir = env.path(name);
    env.ok(&[
        "copy",
        "--quiet",
        &format!("docker://{host}/app:{}", sig_tag(digest)),
        &format!("oci:{}:sig", dir.display()),
    ]);
    let index: Value =
        serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let d = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let m = serde_json::from_slice(&std::fs::read(blob_path(&dir, &d)).unwrap()).unwrap();
    (dir, m)
}

fn blob_path(dir: &Path, digest: &str) -> PathBuf {
    dir.join("blobs/sha256").join(&digest[7..])
}

/// Writes `manifest` into the layout `dir` as its only image `sig`, and copies it to the
/// tag `tag` of `host/app`.
fn push_sig(env: &Env, host: &str, dir: &Path, manifest: &Value, tag: &str) {
    let bytes = serde_json::to_vec(manifest).unwrap();
    let d = sha256(&bytes);
    std::fs::write(blob_path(dir, &d), &bytes).unwrap();
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d, "size": bytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": "sig"}}]});
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    env.ok(&[
        "copy",
        "--quiet",
        &format!("oci:{}:sig", dir.display()),
        &format!("docker://{host}/app:{tag}"),
    ]);
}

/// `strata verify` that must fail: its stderr.
fn refused(env: &Env, pubkey: &str, image: &str, extra: &[&str]) -> String {
    let mut args = vec!["verify", "--key", pubkey];
    args.extend(extra);
    args.push(image);
    let (code, out, err) = run_pw(env, "", &args);
    assert_eq!(
        code, 1,
        "verify {image} should fail:\nstdout: {out}\nstderr: {err}"
    );
    assert!(out.is_empty(), "nothing verified, nothing printed: {out}");
    assert!(
        err.contains(&format!("no matching signatures for {image}")),
        "{err}"
    );
    err
}

/// The whole user story on one registry.
fn sign_and_verify(env: &Env, host: &str) {
    let digests = push_images(env, host);
    let p = keygen(env, "p", "pw-p");
    let q = keygen(env, "q", "pw-q");
    let a = format!("{host}/app:a");

    // Unsigned: refused, and says so.
    let err = refused(env, &key(&p, "pub"), &a, &[]);
    assert!(err.contains("no signatures found"), "{err}");

    let (_, err) = ok_pw(
        env,
        "pw-p",
        &[
            "sign",
            "--key",
            &key(&p, "key"),
            "-a",
            "env=prod",
            &format!("docker://{a}"),
        ],
    );
    assert!(
        err.contains(&format!("Pushing signature to: {host}/app")),
        "{err}"
    );
    let (out, err) = ok_pw(env, "", &["verify", "--key", &key(&p, "pub"), &a]);
    assert!(
        err.contains(&format!(
            "Verification for {a} --\nThe following checks were performed on each of these signatures:\n  - The cosign claims were validated\n  - The signatures were verified against the specified public key\n"
        )),
        "{err}"
    );
    let payloads: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        payloads,
        json!([{"critical": {"identity": {"docker-reference": format!("{host}/app")},
            "image": {"docker-manifest-digest": digests["a"]},
            "type": "cosign container image signature"},
            "optional": {"env": "prod"}}])
    );
    // Annotations asked for: present passes, another value is refused by name.
    let (_, err) = ok_pw(
        env,
        "",
        &["verify", "--key", &key(&p, "pub"), "-a", "env=prod", &a],
    );
    assert!(
        err.contains("  - The specified annotations were verified."),
        "{err}"
    );
    let err = refused(env, &key(&p, "pub"), &a, &["-a", "env=dev"]);
    assert!(err.contains("env=dev"), "{err}");
    // --output text prints the payload bytes as signed.
    let (out, _) = ok_pw(
        env,
        "",
        &["verify", "--key", &key(&p, "pub"), "--output", "text", &a],
    );
    assert!(
        out.starts_with(r#"{"critical":{"identity":{"docker-reference":"#),
        "{out}"
    );

    // A wrong key.
    let err = refused(env, &key(&q, "pub"), &a, &[]);
    assert!(err.contains("wrong key"), "{err}");

    // A second signer appends; both verify; signing again with the first changes nothing.
    ok_pw(env, "pw-q", &["sign", "--key", &key(&q, "key"), &a]);
    ok_pw(env, "", &["verify", "--key", &key(&q, "pub"), &a]);
    ok_pw(env, "", &["verify", "--key", &key(&p, "pub"), &a]);
    let (_, err) = ok_pw(
        env,
        "pw-p",
        &["sign", "--key", &key(&p, "key"), "-a", "env=prod", &a],
    );
    assert!(err.contains("already present"), "{err}");
    let (dir, sig) = fetch_sig(env, host, &digests["a"], "sig-a");
    assert_eq!(sig["layers"].as_array().unwrap().len(), 2, "{sig}");
    assert_eq!(
        sig["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        sig["layers"][0]["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );

    // The wrong password is refused before anything is written.
    let (code, _, err) = run_pw(
        env,
        "nope",
        &["sign", "--key", &key(&p, "key"), &format!("{host}/app:b")],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("wrong password"), "{err}");

    // a's signatures copied under b's signature tag: signatures of another image.
    push_sig(env, host, &dir, &sig, &sig_tag(&digests["b"]));
    let err = refused(env, &key(&p, "pub"), &format!("{host}/app:b"), &[]);
    assert!(err.contains("signature of another image"), "{err}");

    // A flipped byte in the signature.
    let mut flipped = sig.clone();
    flipped["layers"] = json!([sig["layers"][0].clone()]);
    let s = flipped["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"]
        .as_str()
        .unwrap()
        .to_string();
    let mut bytes = base64_decode(&s);
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    flipped["layers"][0]["annotations"]["dev.cosignproject.cosign/signature"] =
        json!(base64_encode(&bytes));
    push_sig(env, host, &dir, &flipped, &sig_tag(&digests["a"]));
    let err = refused(env, &key(&p, "pub"), &a, &[]);
    assert!(err.contains("invalid signature"), "{err}");

    // A flipped byte in the payload (a registry checks digests, so the layer names the
    // flipped bytes: only the signature can tell).
    let mut tampered = sig.clone();
    tampered["layers"] = json!([sig["layers"][0].clone()]);
    let payload_digest = sig["layers"][0]["digest"].as_str().unwrap();
    let mut payload = std::fs::read(blob_path(&dir, payload_digest)).unwrap();
    let pos = payload.windows(4).position(|w| w == b"prod").unwrap();
    payload[pos] = b'P';
    let d = sha256(&payload);
    std::fs::write(blob_path(&dir, &d), &payload).unwrap();
    tampered["layers"][0]["digest"] = json!(d);
    push_sig(env, host, &dir, &tampered, &sig_tag(&digests["a"]));
    let err = refused(env, &key(&p, "pub"), &a, &[]);
    assert!(err.contains("invalid signature"), "{err}");

    // The original back: it verifies again.
    push_sig(env, host, &dir, &sig, &sig_tag(&digests["a"]));
    ok_pw(env, "", &["verify", "--key", &key(&p, "pub"), &a]);

    // --recursive: the index and each of its manifests.
    let multi = format!("{host}/app:multi");
    ok_pw(
        env,
        "pw-p",
        &["sign", "--key", &key(&p, "key"), "--recursive", &multi],
    );
    ok_pw(env, "", &["verify", "--key", &key(&p, "pub"), &multi]);
    for child in ["a", "arm"] {
        ok_pw(
            env,
            "",
            &[
                "verify",
                "--key",
                &key(&p, "pub"),
                &format!("{host}/app@{}", digests[child]),
            ],
        );
    }
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}

fn base64_encode(b: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(b)
}

#[test]
fn sign_and_verify_on_debian_docker_registry() {
    let env = Env::new();
    let (_reg, host) = debian_registry();
    sign_and_verify(&env, &host);
}

#[test]
fn sign_and_verify_on_strata_registry() {
    let env = Env::new();
    let (_reg, host) = strata_registry(&env);
    sign_and_verify(&env, &host);
}

#[test]
fn key_generate_refuses_to_overwrite_without_confirmation() {
    let env = Env::new();
    let prefix = keygen(&env, "k", "pw");
    let before = std::fs::read(key(&prefix, "key")).unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(key(&prefix, "key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // No answer (stdin is empty): declined, nothing changed.
    let (code, _, err) = run_pw(
        &env,
        "pw",
        &[
            "trust",
            "key",
            "generate",
            "--output-key-prefix",
            prefix.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "WARNING: File {}.key already exists. Overwrite?",
            prefix.display()
        )),
        "{err}"
    );
    assert!(err.contains("user declined the prompt"), "{err}");
    assert_eq!(std::fs::read(key(&prefix, "key")).unwrap(), before);
    // `y` on stdin overwrites.
    let out = env
        .strata()
        .args([
            "trust",
            "key",
            "generate",
            "--output-key-prefix",
            prefix.to_str().unwrap(),
        ])
        .env("COSIGN_PASSWORD", "pw")
        .write_stdin("y\n")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(std::fs::read(key(&prefix, "key")).unwrap(), before);
    // Without COSIGN_PASSWORD and without a terminal: a clear refusal.
    let out = env
        .cmd(&[
            "trust",
            "key",
            "generate",
            "-y",
            "--output-key-prefix",
            prefix.to_str().unwrap(),
        ])
        .env_remove("COSIGN_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("COSIGN_PASSWORD"));
}

/// sigstore-rs signs `image` (by digest) with `pair` and pushes the signature.
fn sigstore_signs(host: &str, digest: &str, pair: &sigstore::crypto::signing_key::SigStoreKeyPair) {
    use sigstore::cosign::{Constraint as _, CosignCapabilities as _};
    let image: sigstore::registry::OciReference = format!("{host}/app@{digest}").parse().unwrap();
    let mut layer = sigstore::cosign::SignatureLayer::new_unsigned(&image, digest).unwrap();
    let signer = pair
        .to_sigstore_signer(&sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1)
        .unwrap();
    sigstore::cosign::constraint::PrivateKeySigner::new_with_signer(signer)
        .add_constraint(&mut layer)
        .unwrap();
    let target: sigstore::registry::OciReference =
        format!("{host}/app:{}", sig_tag(digest)).parse().unwrap();
    let mut client = sigstore_client();
    runtime()
        .block_on(client.push_signature(
            None,
            &sigstore::registry::Auth::Anonymous,
            &target,
            vec![layer],
        ))
        .unwrap();
}

fn interop_with_sigstore_rs(env: &Env, host: &str) {
    use sigstore::crypto::signing_key::SigStoreKeyPair;
    use sigstore::crypto::signing_key::ecdsa::{ECDSAKeys, EllipticCurve};
    let digests = push_images(env, host);
    let a = format!("{host}/app:a");
    let b = format!("{host}/app:b");
    let p = keygen(env, "p", "pw");
    let p_pub = std::fs::read(key(&p, "pub")).unwrap();

    // strata signs with its key; sigstore-rs verifies from the registry with strata's .pub.
    assert!(
        sigstore_verifies(&a, &p_pub).is_err(),
        "unsigned must not verify"
    );
    ok_pw(env, "pw", &["sign", "--key", &key(&p, "key"), &a]);
    assert_eq!(sigstore_verifies(&a, &p_pub), Ok(1));
    let other = SigStoreKeyPair::ECDSA(ECDSAKeys::new(EllipticCurve::P256).unwrap());
    assert!(
        sigstore_verifies(&a, other.public_key_to_pem().unwrap().as_bytes()).is_err(),
        "wrong key must not verify"
    );

    // sigstore-rs signs b with strata's key file (opened by sigstore-rs); strata verifies.
    let strata_key =
        SigStoreKeyPair::from_encrypted_pem(&std::fs::read(key(&p, "key")).unwrap(), b"pw")
            .unwrap();
    refused(env, &key(&p, "pub"), &b, &[]);
    sigstore_signs(host, &digests["b"], &strata_key);
    ok_pw(env, "", &["verify", "--key", &key(&p, "pub"), &b]);

    // sigstore-rs's own key: strata signs with its encrypted key file and verifies with its
    // public key; sigstore-rs's signature is kept beside strata's.
    let theirs = SigStoreKeyPair::ECDSA(ECDSAKeys::new(EllipticCurve::P256).unwrap());
    std::fs::write(
        env.path("theirs.key"),
        theirs
            .private_key_to_encrypted_pem(b"their-pw")
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    std::fs::write(env.path("theirs.pub"), theirs.public_key_to_pem().unwrap()).unwrap();
    let theirs_key = env.path("theirs.key");
    let theirs_pub = env.path("theirs.pub");
    ok_pw(
        env,
        "their-pw",
        &["sign", "--key", theirs_key.to_str().unwrap(), &b],
    );
    ok_pw(
        env,
        "",
        &["verify", "--key", theirs_pub.to_str().unwrap(), &b],
    );
    assert_eq!(
        sigstore_verifies(&b, theirs.public_key_to_pem().unwrap().as_bytes()),
        Ok(2)
    );
    assert_eq!(sigstore_verifies(&b, &p_pub), Ok(2));
}

#[test]
fn sigstore_rs_interop_on_debian_docker_registry() {
    let env = Env::new();
    let (_reg, host) = debian_registry();
    interop_with_sigstore_rs(&env, &host);
}

#[test]
fn sigstore_rs_interop_on_strata_registry() {
    let env = Env::new();
    let (_reg, host) = strata_registry(&env);
    interop_with_sigstore_rs(&env, &host);
}
