//! `strata sign --bundle` and `strata verify` of the sigstore bundle form against strata's
//! registry (referrers API) and Debian's docker-registry (no referrers API: the
//! `sha256-<hex>` referrers tag schema), each tampering refused with its reason, and
//! `@sigstore/verify` from npm (a verifier nobody here wrote) verifying strata's bundle.

mod harness;
mod trust_support;

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use harness::Env;
use harness::images::{Layout, TestImage};
use serde_json::Value;
use trust_support::{debian_registry, key, keygen, ok_pw, run_pw, runtime, strata_registry};

const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";
/// Where `scripts/install-peers.sh` installs `@sigstore/verify` and its siblings.
const NODE_PEERS: &str = "/var/cache/strata-peers/node/node_modules";

/// Pushes one single-manifest image per name to `host/app:<name>`; their digests.
fn push_images(env: &Env, host: &str, names: &[&str]) -> Vec<String> {
    let dir = env.path("layout");
    let mut layout = Layout::create(&dir);
    let mut out = Vec::new();
    for n in names {
        let img = TestImage::new("amd64", &[&[("f.txt", n.as_bytes())]]);
        let d = layout.image(&img);
        layout.tag(d, n);
        env.ok(&[
            "copy",
            "--quiet",
            &format!("oci:{}:{n}", dir.display()),
            &format!("docker://{host}/app:{n}"),
        ]);
        out.push(img.digest());
    }
    out
}

/// `GET http://host{path}` over HTTP/1.0 (no chunking, the server closes): (status, body).
fn get(host: &str, path: &str, accept: &str) -> (u16, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: {accept}\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&raw[..end]);
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, raw[end + 4..].to_vec())
}

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn get_json(host: &str, path: &str, accept: &str) -> Value {
    let (status, body) = get(host, path, accept);
    assert_eq!(
        status,
        200,
        "GET {path}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body).unwrap()
}

/// The bundle referrers of `digest` as the registry lists them: the referrers API on
/// strata's registry, the `sha256-<hex>` index on Debian's (whose referrers endpoint must
/// 404, and strata's must leave no such tag).
fn listed_bundles(host: &str, digest: &str, debian: bool) -> Vec<Value> {
    let referrers = get(host, &format!("/v2/app/referrers/{digest}"), INDEX);
    let tag = get(
        host,
        &format!("/v2/app/manifests/{}", digest.replace(':', "-")),
        INDEX,
    );
    let index: Value = if debian {
        assert_eq!(referrers.0, 404, "docker-registry 2.8 has no referrers API");
        assert_eq!(tag.0, 200, "the referrers tag schema's index is tagged");
        serde_json::from_slice(&tag.1).unwrap()
    } else {
        assert_eq!(tag.0, 404, "no fallback tag where the referrers API exists");
        assert_eq!(referrers.0, 200);
        serde_json::from_slice(&referrers.1).unwrap()
    };
    let all = index["manifests"].as_array().unwrap().clone();
    for m in &all {
        assert_eq!(m["artifactType"], BUNDLE_TYPE, "{m}");
    }
    all
}

/// The bundle JSON a referrer manifest holds.
fn bundle_of(host: &str, referrer: &str) -> Vec<u8> {
    let m = get_json(host, &format!("/v2/app/manifests/{referrer}"), MANIFEST);
    assert_eq!(m["artifactType"], BUNDLE_TYPE);
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    let layer = m["layers"][0]["digest"].as_str().unwrap();
    let (status, body) = get(host, &format!("/v2/app/blobs/{layer}"), "*/*");
    assert_eq!(status, 200);
    body
}

/// Attaches `bundle` (tampered by the test) to `host/app@digest` as strata would,
/// through the trust crate's transport: only the bytes are the test's.
fn attach(host: &str, digest: &str, bundle: Vec<u8>) {
    runtime().block_on(async {
        let client = transport::RegistryClient::new(host, Default::default()).unwrap();
        let repo = trust::repo::RegistryRepo::new(client, "app");
        use trust::repo::SignatureRepo as _;
        let subject = repo.resolve(digest).await.unwrap().unwrap();
        trust::bundle_repo::attach(&repo, &subject, bundle)
            .await
            .unwrap();
    });
}

/// `bundle` with one byte of the base64 field at `pointer` flipped (decoded, flipped,
/// encoded again).
fn flipped(bundle: &[u8], pointer: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(bundle).unwrap();
    let field = v.pointer_mut(pointer).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut bytes = b64.decode(field.as_str().unwrap()).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    *field = Value::String(b64.encode(bytes));
    serde_json::to_vec(&v).unwrap()
}

/// `strata verify` that must fail: its stderr.
fn refused(env: &Env, pubkey: &str, image: &str) -> String {
    let (code, out, err) = run_pw(env, "", &["verify", "--key", pubkey, image]);
    assert_eq!(
        code, 1,
        "verify {image} should fail:\nstdout: {out}\nstderr: {err}"
    );
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(&format!("no matching signatures for {image}")),
        "{err}"
    );
    err
}

/// `strata sign --bundle` with `extra` flags; its stderr.
fn sign_bundle(env: &Env, k: &Path, image: &str, extra: &[&str]) -> String {
    let k = key(k, "key");
    let mut args = vec!["sign", "--key", &k, "--bundle"];
    args.extend(extra);
    args.push(image);
    ok_pw(env, "pw", &args).1
}

/// The whole story on one registry.
fn bundles_on(env: &Env, host: &str, debian: bool) {
    let names = ["a", "b", "c", "d", "e", "f"];
    let digests = push_images(env, host, &names);
    let [da, db, dc, dd, de, df] = [0, 1, 2, 3, 4, 5].map(|i| digests[i].clone());
    let image = |d: &str| format!("{host}/app@{d}");
    let p = keygen(env, "p", "pw");
    let q = keygen(env, "q", "pw");
    let wrong = keygen(env, "wrong", "pw");

    let prod = ["-a", "env=prod"];
    let err = sign_bundle(env, &p, &image(&da), &prod);
    assert!(err.contains("Pushing sigstore bundle"), "{err}");
    let listed = listed_bundles(host, &da, debian);
    assert_eq!(listed.len(), 1, "{listed:?}");
    // p's bundle.
    let first = listed[0]["digest"].as_str().unwrap().to_string();
    // The bundle form only: no `.sig` tag was written.
    let sig_tag = format!("/v2/app/manifests/{}.sig", da.replace(':', "-"));
    assert_eq!(get(host, &sig_tag, MANIFEST).0, 404);

    let (out, _) = ok_pw(env, "", &["verify", "--key", &key(&p, "pub"), &image(&da)]);
    let claims: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(claims.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(claims[0]["critical"]["type"], SIGN_PREDICATE);
    assert_eq!(claims[0]["critical"]["image"]["docker-manifest-digest"], da);
    assert_eq!(
        claims[0]["optional"]["env"], "prod",
        "-a goes into the subject: {out}"
    );
    let pubp = key(&p, "pub");
    ok_pw(
        env,
        "",
        &["verify", "--key", &pubp, "-a", "env=prod", &image(&da)],
    );
    let (code, _, err) = run_pw(
        env,
        "",
        &["verify", "--key", &pubp, "-a", "env=dev", &image(&da)],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("missing or different annotation env=dev"),
        "{err}"
    );

    // Signing again changes nothing (deterministic ECDSA: the same bundle); another key
    // adds a second referrer and keeps the first (read-modify-write of the index).
    let err = sign_bundle(env, &p, &image(&da), &prod);
    assert!(err.contains("already present"), "{err}");
    assert_eq!(listed_bundles(host, &da, debian).len(), 1);
    sign_bundle(env, &q, &image(&da), &[]);
    let listed = listed_bundles(host, &da, debian);
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(
        listed.iter().any(|m| m["digest"] == first.as_str()),
        "the first referrer is kept: {listed:?}"
    );
    for k in [&p, &q] {
        ok_pw(env, "", &["verify", "--key", &key(k, "pub"), &image(&da)]);
    }

    // @sigstore/verify accepts strata's bundle, and refuses it tampered or for another image.
    let good = bundle_of(host, &first);
    node_verifies(env, &good, &key(&p, "pub"), &da).unwrap();
    let e = node_verifies(
        env,
        &flipped(&good, "/dsseEnvelope/signatures/0/sig"),
        &key(&p, "pub"),
        &da,
    )
    .unwrap_err();
    assert!(e.contains("SIGNATURE_ERROR"), "{e}");
    let e = node_verifies(
        env,
        &flipped(&good, "/dsseEnvelope/payload"),
        &key(&p, "pub"),
        &da,
    )
    .unwrap_err();
    assert!(e.contains("SIGNATURE_ERROR"), "{e}");
    let e = node_verifies(env, &good, &key(&p, "pub"), &db).unwrap_err();
    assert!(e.contains("is not sha256:"), "{e}");
    let e = node_verifies(env, &good, &key(&wrong, "pub"), &da).unwrap_err();
    assert!(e.contains("no key for hint"), "{e}");

    // strata verifies a bundle sigstore-js built (no tlogEntries field, keyid = the hint),
    // and not with another key.
    let (node_bundle, node_pub) = node_signs(env, &format!("{host}/app"), &df);
    attach(host, &df, node_bundle);
    let (out, _) = ok_pw(env, "", &["verify", "--key", &node_pub, &image(&df)]);
    let claims: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(claims[0]["critical"]["type"], SIGN_PREDICATE, "{out}");
    assert_eq!(claims[0]["critical"]["image"]["docker-manifest-digest"], df);
    let err = refused(env, &key(&p, "pub"), &image(&df));
    assert!(
        err.contains("invalid signature of the DSSE envelope"),
        "{err}"
    );

    // Tampering, each on its own image, each refused with its reason.
    attach(host, &db, good.clone());
    let err = refused(env, &key(&p, "pub"), &image(&db));
    assert!(
        err.contains(&format!("the statement is for {da}, not {db}")),
        "{err}"
    );
    attach(host, &dc, flipped(&good, "/dsseEnvelope/payload"));
    let err = refused(env, &key(&p, "pub"), &image(&dc));
    assert!(
        err.contains("invalid signature of the DSSE envelope"),
        "{err}"
    );
    attach(host, &dd, flipped(&good, "/dsseEnvelope/signatures/0/sig"));
    let err = refused(env, &key(&p, "pub"), &image(&dd));
    assert!(
        err.contains("invalid signature of the DSSE envelope"),
        "{err}"
    );
    let err = refused(env, &key(&wrong, "pub"), &image(&da));
    assert!(err.contains("wrong key"), "{err}");
    let err = refused(env, &key(&p, "pub"), &image(&de));
    assert!(err.contains("no signatures found"), "{err}");

    recursive(env, host, debian, &p);

    // Either form verifies the image: a good `.sig` signature next to the bad bundle.
    ok_pw(env, "pw", &["sign", "--key", &key(&p, "key"), &image(&db)]);
    let (out, _) = ok_pw(env, "", &["verify", "--key", &key(&p, "pub"), &image(&db)]);
    let claims: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        claims[0]["critical"]["type"], "cosign container image signature",
        "{out}"
    );
}

/// `sign --bundle --recursive` of an index signs the index and each of its manifests.
fn recursive(env: &Env, host: &str, debian: bool, k: &Path) {
    let dir = env.path("multi-layout");
    let mut layout = Layout::create(&dir);
    let amd = TestImage::new("amd64", &[&[("m.txt", b"amd")]]);
    let arm = TestImage::new("arm64", &[&[("m.txt", b"arm")]]);
    layout.image(&amd);
    layout.image(&arm);
    let (index, d) = layout.index(&[(&amd, "amd64"), (&arm, "arm64")]);
    layout.tag(d, "multi");
    env.ok(&[
        "copy",
        "--quiet",
        "--all",
        &format!("oci:{}:multi", dir.display()),
        &format!("docker://{host}/app:multi"),
    ]);
    let top = harness::images::sha256(&index);
    sign_bundle(env, k, &format!("{host}/app:multi"), &["--recursive"]);
    for d in [top, amd.digest(), arm.digest()] {
        assert_eq!(listed_bundles(host, &d, debian).len(), 1, "{d}");
        let (out, _) = ok_pw(
            env,
            "",
            &[
                "verify",
                "--key",
                &key(k, "pub"),
                &format!("{host}/app@{d}"),
            ],
        );
        assert!(out.contains(&d), "{out}");
    }
}

/// Runs `@sigstore/verify` (tests/data/sigstore_verify.js) on `bundle` with the public key
/// file `pubkey` for `digest`: Ok(stdout) when it verifies, Err(stderr) when it refuses.
fn node_verifies(env: &Env, bundle: &[u8], pubkey: &str, digest: &str) -> Result<String, String> {
    let node = require_node_peers();
    let file = env.path(&format!("bundle-{}.json", sha_hex(bundle)));
    std::fs::write(&file, bundle).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigstore_verify.js");
    let out = Command::new(node)
        .arg(script)
        .arg(&file)
        .arg(pubkey)
        .arg(digest)
        .env("NODE_PATH", NODE_PEERS)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => {
            assert!(stdout.contains(&format!("verified: {digest}")), "{stdout}");
            Ok(stdout)
        }
        Some(1) if stderr.starts_with("refused: ") => Err(stderr),
        _ => panic!(
            "node verifier failed to run: {:?}\n{stdout}\n{stderr}",
            out.status
        ),
    }
}

/// A bundle for `repository`@`digest` made by sigstore-js (tests/data/sigstore_sign.js)
/// with a key of its own: (bundle JSON, public key file).
fn node_signs(env: &Env, repository: &str, digest: &str) -> (Vec<u8>, String) {
    let node = require_node_peers();
    let bundle = env.path("node-bundle.json");
    let pubkey = env.path("node.pub");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigstore_sign.js");
    let out = Command::new(node)
        .arg(script)
        .arg(repository)
        .arg(digest)
        .arg(&bundle)
        .arg(&pubkey)
        .env("NODE_PATH", NODE_PEERS)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sigstore_sign.js: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read(&bundle).unwrap(),
        pubkey.to_str().unwrap().to_string(),
    )
}

/// node, with the npm packages in place; panics with the install command when missing.
fn require_node_peers() -> PathBuf {
    let node = harness::require("node");
    assert!(
        Path::new(NODE_PEERS)
            .join("@sigstore/verify/package.json")
            .exists(),
        "@sigstore/verify is missing from {NODE_PEERS}: run scripts/install-peers.sh \
         (npm install --prefix /var/cache/strata-peers/node @sigstore/verify@2.1.1 \
         @sigstore/bundle@3.1.0 @sigstore/core@2.0.0 @sigstore/protobuf-specs@0.4.3)"
    );
    node
}

fn sha_hex(b: &[u8]) -> String {
    harness::images::sha256(b).replace("sha256:", "")
}

fn on(debian: bool) {
    let env = Env::new();
    let (_running, host) = if debian {
        debian_registry()
    } else {
        strata_registry(&env)
    };
    bundles_on(&env, &host, debian);
}

#[test]
fn bundles_on_strata_registry_use_the_referrers_api() {
    on(false);
}

#[test]
fn bundles_on_debian_docker_registry_use_the_referrers_tag_schema() {
    on(true);
}
