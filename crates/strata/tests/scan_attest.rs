//! SBOM attestations: `strata attest --type sbom` (unsigned, and signed with `--key`) on an
//! image in strata's registry (referrers API), Debian's docker-registry (no referrers API:
//! the `sha256-<hex>` tag), an OCI layout and the local store; `sbom --from-attestation`
//! gives back the document `sbom` makes; `verify --type` accepts the signed one and a
//! tampered one is refused; `build --sbom` then `push` carries the attestation along.

mod harness;
mod trust_support;

use std::path::Path;
use std::process::Command;

use harness::images::{Layout, TestImage, rootfs_bytes, tar_of};
use harness::{Env, peer};
use serde_json::Value;
use trust_support::{debian_registry, key, keygen, strata_registry};

/// A fixed SBOM creation time, so two SBOMs of one image are equal.
const EPOCH: &str = "1700000000";
const PASSWORD: &str = "pw";
const METADATA: &[u8] = b"Metadata-Version: 2.1\nName: attestme\nVersion: 1.2.3\n";
const METADATA_PATH: &str = "usr/lib/python3/site-packages/attestme-1.2.3.dist-info/METADATA";

/// `strata ARGS` with the fixed epoch and the key password: (exit code, stdout, stderr).
fn run(env: &Env, args: &[&str]) -> (i32, String, String) {
    let out = env
        .cmd(args)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env("COSIGN_PASSWORD", PASSWORD)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(env: &Env, args: &[&str]) -> (String, String) {
    let (code, out, err) = run(env, args);
    assert_eq!(code, 0, "strata {args:?}:\nstdout: {out}\nstderr: {err}");
    (out, err)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The busybox-free test image: a small rootfs layer and a layer with one Python package.
fn test_image() -> TestImage {
    TestImage::from_tars(
        "amd64",
        &[rootfs_bytes("attest"), tar_of(&[(METADATA_PATH, METADATA)])],
    )
}

/// An OCI layout at `dir` holding the test image as `v1`; returns its manifest digest.
fn layout_with_image(dir: &Path) -> String {
    let img = test_image();
    let mut layout = Layout::create(dir);
    let d = layout.image(&img);
    layout.tag(d, "v1");
    img.digest()
}

/// `sbom --format F IMAGE` and `sbom --from-attestation --format F [--key K] IMAGE` agree,
/// and the SBOM lists the Python package (so the comparison is of a real document).
fn assert_attested_sbom_matches(env: &Env, image: &str, format: &str, key: Option<&str>) {
    let (made, _) = ok(env, &["sbom", "--format", format, image]);
    let made = json(&made);
    assert!(made.to_string().contains("attestme"), "{made}");
    let mut args = vec!["sbom", "--from-attestation", "--format", format];
    if let Some(k) = key {
        args.extend(["--key", k]);
    }
    args.push(image);
    let (attested, _) = ok(env, &args);
    assert_eq!(json(&attested), made, "{image} {format} key {key:?}");
}

/// Attests `image` unsigned (SPDX) and signed (CycloneDX), and checks both read back and
/// the signed one verifies. `image` resolves in a registry or layout, where verify works.
fn attest_both(env: &Env, image: &str, pub_key: &str, priv_key: &str) {
    let (_, err) = ok(env, &["attest", "--type", "sbom", image]);
    assert!(
        err.contains("Attached unsigned attestation https://spdx.dev/Document"),
        "{err}"
    );
    let (_, err) = ok(
        env,
        &["attest", "--type", "cyclonedx", "--key", priv_key, image],
    );
    assert!(
        err.contains("Attached signed attestation https://cyclonedx.org/bom"),
        "{err}"
    );
    // Attaching the same statement again writes nothing new.
    let (_, err) = ok(env, &["attest", "--type", "sbom", image]);
    assert!(err.contains("Already attached"), "{err}");

    assert_attested_sbom_matches(env, image, "spdx-json", None);
    assert_attested_sbom_matches(env, image, "cyclonedx-json", None);
    assert_attested_sbom_matches(env, image, "cyclonedx-json", Some(pub_key));
    // Without --key a signed one is read unverified, and says so.
    let (_, err) = ok(
        env,
        &[
            "sbom",
            "--from-attestation",
            "--format",
            "cyclonedx-json",
            image,
        ],
    );
    assert!(err.contains("its signature was not verified"), "{err}");
}

/// `verify --key --type cyclonedx` accepts the signed attestation and prints its claims;
/// `--type spdxjson` (only unsigned there) finds nothing to verify.
fn assert_verifies(env: &Env, image: &str, digest: &str, pub_key: &str) {
    let (out, _) = ok(
        env,
        &["verify", "--key", pub_key, "--type", "cyclonedx", image],
    );
    let claims = json(&out);
    assert_eq!(
        claims[0]["critical"]["type"], "https://cyclonedx.org/bom",
        "{out}"
    );
    assert_eq!(
        claims[0]["critical"]["image"]["docker-manifest-digest"], digest,
        "{out}"
    );
    let (code, _, err) = run(
        env,
        &["verify", "--key", pub_key, "--type", "spdxjson", image],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no matching signatures"), "{err}");
}

/// Pushes the test image to `host/app:v1` from a layout; returns its digest.
fn push_test_image(env: &Env, host: &str) -> String {
    let dir = env.path("src-layout");
    let digest = layout_with_image(&dir);
    ok(
        env,
        &[
            "copy",
            "--quiet",
            &format!("oci:{}:v1", dir.display()),
            &format!("docker://{host}/app:v1"),
        ],
    );
    digest
}

#[test]
fn attestations_in_strata_registry_use_the_referrers_api() {
    let env = Env::new();
    let k = keygen_pw(&env);
    let (_reg, host) = strata_registry(&env);
    let digest = push_test_image(&env, &host);
    let image = format!("{host}/app:v1");
    let (code, _, err) = run(&env, &["sbom", "--from-attestation", &image]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!("no SBOM attestation for {image}")),
        "{err}"
    );

    attest_both(&env, &image, &key(&k, "pub"), &key(&k, "key"));
    assert_verifies(&env, &image, &digest, &key(&k, "pub"));

    // The registry lists both referrers with the annotations other tools read.
    let listed =
        json(&peer(Command::new("curl").args([
            "-sS",
            &format!("http://{host}/v2/app/referrers/{digest}"),
        ])));
    let mut kinds: Vec<(String, String)> = listed["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let ann = &d["annotations"];
            let p = ann["in-toto.io/predicate-type"]
                .as_str()
                .or(ann["dev.sigstore.bundle.predicateType"].as_str())
                .unwrap_or_default();
            (
                d["artifactType"].as_str().unwrap().to_string(),
                p.to_string(),
            )
        })
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        vec![
            (
                "application/vnd.dev.sigstore.bundle.v0.3+json".to_string(),
                "https://cyclonedx.org/bom".to_string()
            ),
            (
                "application/vnd.in-toto+json".to_string(),
                "https://spdx.dev/Document".to_string()
            ),
        ],
        "{listed}"
    );
    // pull keeps them with the image in the store: read from there, not the registry.
    let puller = Env::new();
    ok(&puller, &["pull", "-q", &image]);
    let (kept, _) = ok(
        &puller,
        &[
            "sbom",
            "--from-attestation",
            "--format",
            "spdx-json",
            &image,
        ],
    );
    let (made, _) = ok(&env, &["sbom", "--format", "spdx-json", &image]);
    assert_eq!(json(&kept), json(&made));
    let sigs =
        std::fs::read_to_string(puller.layout().signatures_dir().join("index.json")).unwrap();
    assert!(sigs.contains(&digest.replace(':', "-")), "{sigs}");

    // No fallback tag where the API exists.
    let tags = peer(Command::new("curl").args(["-sS", &format!("http://{host}/v2/app/tags/list")]));
    assert!(!tags.contains(&digest.replace(':', "-")), "{tags}");
}

#[test]
fn attestations_in_docker_registry_use_the_tag_fallback() {
    let env = Env::new();
    let k = keygen_pw(&env);
    let (_reg, host) = debian_registry();
    let digest = push_test_image(&env, &host);
    let image = format!("{host}/app:v1");
    attest_both(&env, &image, &key(&k, "pub"), &key(&k, "key"));
    assert_verifies(&env, &image, &digest, &key(&k, "pub"));
    let tags = json(&peer(
        Command::new("curl").args(["-sS", &format!("http://{host}/v2/app/tags/list")]),
    ));
    let fallback = digest.replace(':', "-");
    assert!(
        tags["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == &fallback),
        "{tags}"
    );
    // The fallback index lists both attestations.
    let index = json(&peer(Command::new("curl").args([
        "-sS",
        "-H",
        "Accept: application/vnd.oci.image.index.v1+json",
        &format!("http://{host}/v2/app/manifests/{fallback}"),
    ])));
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2, "{index}");
}

#[test]
fn attestations_in_an_oci_layout_and_tampering_is_refused() {
    let env = Env::new();
    let k = keygen_pw(&env);
    let dir = env.path("layout");
    let digest = layout_with_image(&dir);
    let image = format!("oci:{}:v1", dir.display());
    attest_both(&env, &image, &key(&k, "pub"), &key(&k, "key"));
    assert_verifies(&env, &image, &digest, &key(&k, "pub"));

    // @sigstore/verify (a verifier nobody here wrote) accepts the signed attestation's
    // bundle as a CycloneDX attestation of this image, and not as another predicate type.
    let bundle = bundle_blob(&dir, &digest);
    let pub_key = key(&k, "pub");
    node_verifies(&bundle, &pub_key, &digest, "https://cyclonedx.org/bom").unwrap();
    let e = node_verifies(&bundle, &pub_key, &digest, "https://spdx.dev/Document").unwrap_err();
    assert!(e.contains("predicate type"), "{e}");

    // Flip a byte of the signed attestation's bundle: refused with --key, and without
    // (the layer no longer matches its digest).
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    std::fs::write(&bundle, bytes).unwrap();
    let (code, _, err) = run(
        &env,
        &[
            "sbom",
            "--from-attestation",
            "--format",
            "cyclonedx-json",
            "--key",
            &key(&k, "pub"),
            &image,
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("no SBOM attestation for") && err.contains("tampered"),
        "{err}"
    );
    let (code, _, err) = run(
        &env,
        &[
            "verify",
            "--key",
            &key(&k, "pub"),
            "--type",
            "cyclonedx",
            &image,
        ],
    );
    assert_eq!(code, 1, "{err}");
}

/// Where `scripts/install-peers.sh` installs `@sigstore/verify` and its siblings.
const NODE_PEERS: &str = "/var/cache/strata-peers/node/node_modules";

/// Runs `@sigstore/verify` (tests/data/sigstore_verify.js) on the bundle file `bundle` with
/// the public key file `pubkey`, for `digest` and `predicate_type`: Ok(stdout) when it
/// verifies, Err(stderr) when it refuses.
fn node_verifies(
    bundle: &Path,
    pubkey: &str,
    digest: &str,
    predicate_type: &str,
) -> Result<String, String> {
    let node = harness::require("node");
    assert!(
        Path::new(NODE_PEERS)
            .join("@sigstore/verify/package.json")
            .exists(),
        "@sigstore/verify is missing from {NODE_PEERS}: run scripts/install-peers.sh"
    );
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigstore_verify.js");
    let out = Command::new(node)
        .arg(script)
        .arg(bundle)
        .arg(pubkey)
        .arg(digest)
        .arg(predicate_type)
        .env("NODE_PATH", NODE_PEERS)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) if stdout.contains(&format!("verified: {digest}")) => Ok(stdout),
        Some(1) if stderr.starts_with("refused: ") => Err(stderr),
        _ => panic!(
            "node verifier failed to run: {:?}\n{stdout}\n{stderr}",
            out.status
        ),
    }
}

/// The path of the bundle layer blob of the signed attestation of `digest` in the layout.
fn bundle_blob(dir: &Path, digest: &str) -> std::path::PathBuf {
    let blob = |d: &str| {
        dir.join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let index = json(&std::fs::read_to_string(dir.join("index.json")).unwrap());
    let tag = digest.replace(':', "-");
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag.as_str())
        .unwrap_or_else(|| panic!("no {tag} in {index}"));
    let fallback = json(&std::fs::read_to_string(blob(entry["digest"].as_str().unwrap())).unwrap());
    let signed = fallback["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["artifactType"] == "application/vnd.dev.sigstore.bundle.v0.3+json")
        .unwrap_or_else(|| panic!("no bundle in {fallback}"));
    let m = json(&std::fs::read_to_string(blob(signed["digest"].as_str().unwrap())).unwrap());
    blob(m["layers"][0]["digest"].as_str().unwrap())
}

#[test]
fn attestations_in_the_store_travel_with_push() {
    let env = Env::new();
    let k = keygen_pw(&env);
    let dir = env.path("layout");
    let digest = layout_with_image(&dir);
    ok(
        &env,
        &[
            "copy",
            "--quiet",
            &format!("oci:{}:v1", dir.display()),
            "strata:app:v1",
        ],
    );
    let (code, _, err) = run(&env, &["sbom", "--from-attestation", "app:v1"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no SBOM attestation for app:v1"), "{err}");
    ok(&env, &["attest", "--type", "sbom", "app:v1"]);
    ok(
        &env,
        &[
            "attest",
            "--type",
            "cyclonedx",
            "--key",
            &key(&k, "key"),
            "app:v1",
        ],
    );
    assert_attested_sbom_matches(&env, "app:v1", "spdx-json", None);
    assert_attested_sbom_matches(&env, "app:v1", "cyclonedx-json", Some(&key(&k, "pub")));
    // They live in the store's signatures layout, under the referrers tag schema.
    let sigs = std::fs::read_to_string(env.layout().signatures_dir().join("index.json")).unwrap();
    assert!(sigs.contains(&digest.replace(':', "-")), "{sigs}");

    // push carries both to the registry.
    // push carries both to the registry: the documents read there are the ones attested
    // in the store (naming the image as it was then).
    let spdx = json(&ok(&env, &["sbom", "--format", "spdx-json", "app:v1"]).0);
    let cdx = json(&ok(&env, &["sbom", "--format", "cyclonedx-json", "app:v1"]).0);
    let (_reg, host) = debian_registry();
    let remote = format!("{host}/pushed:v1");
    ok(&env, &["tag", "app:v1", &remote]);
    ok(&env, &["push", "-q", &remote]);
    let fresh = Env::new();
    let read = |format: &str, key: Option<&str>| {
        let mut args = vec!["sbom", "--from-attestation", "--format", format];
        args.extend(key.map(|k| ["--key", k]).iter().flatten());
        args.push(&remote);
        json(&ok(&fresh, &args).0)
    };
    assert_eq!(read("spdx-json", None), spdx);
    assert_eq!(read("cyclonedx-json", Some(&key(&k, "pub"))), cdx);
    assert_verifies(&fresh, &remote, &digest, &key(&k, "pub"));
}

#[test]
fn build_sbom_attaches_and_push_carries_it() {
    let env = Env::new();
    let ctx = env.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("METADATA"), METADATA).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM scratch\nCOPY METADATA /{METADATA_PATH}\n"),
    )
    .unwrap();
    let (_reg, host) = strata_registry(&env);
    let remote = format!("{host}/built:v1");
    let (_, err) = ok(
        &env,
        &["build", "--sbom", "-t", &remote, ctx.to_str().unwrap()],
    );
    assert!(
        err.contains("attaching SBOM attestation (https://spdx.dev/Document)"),
        "{err}"
    );
    // The attestation is the SBOM of the built image, as `sbom` makes it of the store's.
    let (made, _) = ok(&env, &["sbom", "--format", "spdx-json", &remote]);
    assert!(made.contains("attestme"), "{made}");
    let (attested, _) = ok(
        &env,
        &[
            "sbom",
            "--from-attestation",
            "--format",
            "spdx-json",
            &remote,
        ],
    );
    assert_eq!(json(&attested), json(&made));

    ok(&env, &["push", "-q", &remote]);
    let fresh = Env::new();
    let (pulled, _) = ok(
        &fresh,
        &[
            "sbom",
            "--from-attestation",
            "--format",
            "spdx-json",
            &remote,
        ],
    );
    assert_eq!(json(&pulled), json(&made));
    // A multi-platform build attaches one SBOM per platform; --platform picks it. (The
    // label makes its amd64 image another than the one above, which has its own.)
    let (_, err) = ok(
        &env,
        &[
            "build",
            "--label",
            "multi=1",
            "--attest",
            "type=sbom",
            "--platform",
            "linux/amd64,linux/arm64",
            "-t",
            "multi:1",
            ctx.to_str().unwrap(),
        ],
    );
    assert!(
        err.contains("[linux/arm64] attaching SBOM attestation"),
        "{err}"
    );
    for p in ["linux/amd64", "linux/arm64"] {
        let (made, _) = ok(
            &env,
            &["sbom", "--format", "spdx-json", "--platform", p, "multi:1"],
        );
        assert!(made.contains(&format!("platform {p}")), "{made}");
        let (attested, _) = ok(
            &env,
            &[
                "sbom",
                "--from-attestation",
                "--format",
                "spdx-json",
                "--platform",
                p,
                "multi:1",
            ],
        );
        assert_eq!(json(&attested), json(&made), "{p}");
    }

    // An unsupported attestation type is refused.
    let (code, _, err) = run(
        &env,
        &[
            "build",
            "--attest",
            "type=provenance",
            ctx.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("type=provenance is not supported"), "{err}");
}

/// A key pair `k` with the test password.
fn keygen_pw(env: &Env) -> std::path::PathBuf {
    keygen(env, "k", PASSWORD)
}

#[test]
fn attest_of_an_index_is_about_the_index_as_cosigns() {
    let env = Env::new();
    let dir = env.path("layout");
    let amd = test_image();
    let arm = TestImage::from_tars(
        "arm64",
        &[rootfs_bytes("arm"), tar_of(&[(METADATA_PATH, METADATA)])],
    );
    let mut layout = Layout::create(&dir);
    let (index, d) = layout.index(&[(&amd, "amd64"), (&arm, "arm64")]);
    layout.tag(d, "multi");
    let image = format!("oci:{}:multi", dir.display());
    let (_, err) = ok(
        &env,
        &[
            "attest",
            "--type",
            "sbom",
            "--platform",
            "linux/arm64",
            &image,
        ],
    );
    let index_digest = harness::images::sha256(&index);
    assert!(err.contains(&format!("@{index_digest}")), "{err}");
    // The referrers index is the index's, not a platform image's.
    let entries = std::fs::read_to_string(dir.join("index.json")).unwrap();
    assert!(
        entries.contains(&index_digest.replace(':', "-")),
        "{entries}"
    );
    assert!(
        !entries.contains(&arm.digest().replace(':', "-")),
        "{entries}"
    );
    // Read back for the platform asked for (no platform image has its own).
    let (made, _) = ok(
        &env,
        &[
            "sbom",
            "--format",
            "spdx-json",
            "--platform",
            "linux/arm64",
            &image,
        ],
    );
    assert!(made.contains("platform linux/arm64"), "{made}");
    let (attested, _) = ok(
        &env,
        &[
            "sbom",
            "--from-attestation",
            "--format",
            "spdx-json",
            "--platform",
            "linux/arm64",
            &image,
        ],
    );
    assert_eq!(json(&attested), json(&made));
}
