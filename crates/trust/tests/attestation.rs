//! Attestations without I/O: cosign's `--type` names, the statement `attest` signs, which
//! attestation bundles `check_attestation` accepts and why it refuses the others, and the
//! shapes of the two referrer artifacts (signed bundle, unsigned in-toto statement).

use oci::{Descriptor, Digest};
use serde_json::{Value, json};
use trust::bundle::{BUNDLE_V03_MEDIA_TYPE, Bundle, check_attestation, check_bundle};
use trust::referrer::{BundleArtifact, attestation_referrers, predicate_type_of};
use trust::statement::{CYCLONEDX_PREDICATE, SPDX_PREDICATE, Statement, predicate_type};
use trust::{PrivateKey, PublicKey};

const REPO: &str = "localhost:5000/app";

fn image() -> Digest {
    Digest::sha256_of(b"the image manifest")
}

#[test]
fn cosigns_type_names_map_to_its_predicate_types() {
    for (name, want) in [
        ("spdx", Some(SPDX_PREDICATE)),
        ("spdxjson", Some(SPDX_PREDICATE)),
        ("cyclonedx", Some(CYCLONEDX_PREDICATE)),
        ("slsaprovenance", Some("https://slsa.dev/provenance/v0.2")),
        ("slsaprovenance1", Some("https://slsa.dev/provenance/v1")),
        ("custom", Some("https://cosign.sigstore.dev/attestation/v1")),
        ("https://example.com/mine", Some("https://example.com/mine")),
        ("sbom", None),
        ("", None),
    ] {
        assert_eq!(predicate_type(name).as_deref(), want, "--type {name}");
    }
}

#[test]
fn the_attestation_statement_carries_the_predicate() {
    let sbom = json!({"bomFormat": "CycloneDX", "components": [{"name": "x"}]});
    let s = Statement::attestation(REPO, &image(), CYCLONEDX_PREDICATE, sbom.clone());
    let v: Value = serde_json::from_slice(&s.to_bytes()).unwrap();
    assert_eq!(
        v,
        json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": REPO, "digest": {"sha256": image().hex()}}],
            "predicateType": CYCLONEDX_PREDICATE,
            "predicate": sbom,
        })
    );
}

/// One refusal: what is wrong, the bundle, the key, the image, the predicate types asked
/// for, and what the reason must say.
type Case<'a> = (
    &'a str,
    Vec<u8>,
    Option<&'a PublicKey>,
    &'a Digest,
    &'a [&'a str],
    &'a str,
);

/// A bundle signing an attestation of `predicate_type` about `digest` with `key`.
fn signed(digest: &Digest, predicate_type: &str, key: &PrivateKey) -> Vec<u8> {
    let s = Statement::attestation(
        REPO,
        digest,
        predicate_type,
        json!({"spdxVersion": "SPDX-2.3"}),
    );
    Bundle::sign_statement(s.to_bytes(), key).to_bytes()
}

#[test]
fn check_attestation_accepts_only_the_right_key_type_and_image() {
    let key = PrivateKey::generate();
    let good = signed(&image(), SPDX_PREDICATE, &key);
    let pk = key.public_key();
    let sboms = [SPDX_PREDICATE, CYCLONEDX_PREDICATE];
    let (payload, s) = check_attestation("b", &good, Some(&pk), &image(), &sboms).unwrap();
    assert_eq!(s.predicate["spdxVersion"], "SPDX-2.3");
    assert_eq!(Statement::from_slice(&payload, "p").unwrap(), s);

    let img = image();
    let wrong: PublicKey = PrivateKey::generate().public_key();
    let other = Digest::sha256_of(b"another image");
    let cases: Vec<Case> = vec![
        (
            "wrong key",
            good.clone(),
            Some(&wrong),
            &img,
            &sboms,
            "invalid signature",
        ),
        (
            "other image",
            good.clone(),
            Some(&pk),
            &other,
            &sboms,
            "not sha256:",
        ),
        (
            "other type",
            good.clone(),
            Some(&pk),
            &img,
            &[CYCLONEDX_PREDICATE],
            "predicate type",
        ),
        (
            "tampered statement",
            tamper(&good),
            Some(&pk),
            &img,
            &sboms,
            "invalid signature",
        ),
        (
            "not a bundle",
            b"{}".to_vec(),
            Some(&pk),
            &img,
            &sboms,
            "not a sigstore bundle",
        ),
    ];
    for (what, bytes, k, d, types, want) in cases {
        let e = check_attestation("b", &bytes, k, d, types).unwrap_err();
        assert!(e.contains(want), "{what}: {e}");
    }
    // Without a key the signature is not checked (the caller says so), the rest is.
    assert!(check_attestation("b", &tamper(&good), None, &image(), &sboms).is_ok());
    assert!(check_attestation("b", &good, None, &other, &sboms).is_err());
    // An attestation is not an image signature: verify's check refuses it.
    let e = check_bundle("b", &good, &pk, &image(), &Default::default()).unwrap_err();
    assert!(e.contains("is not an image signature"), "{e}");
}

/// The bundle with its statement's predicate changed (the signature left as it was).
fn tamper(bundle: &[u8]) -> Vec<u8> {
    let mut b: Bundle = serde_json::from_slice(bundle).unwrap();
    let env = b.dsse_envelope.as_mut().unwrap();
    let mut s: Value = serde_json::from_slice(&env.payload).unwrap();
    s["predicate"]["spdxVersion"] = json!("SPDX-9");
    env.payload = serde_json::to_vec(&s).unwrap();
    b.to_bytes()
}

#[test]
fn the_two_referrer_artifacts_name_their_predicate_type() {
    let subject = Descriptor::of_bytes(oci::media::OCI_MANIFEST, b"the image manifest");
    let statement = b"{\"statement\":1}".to_vec();
    let unsigned = BundleArtifact::in_toto(statement.clone(), &subject, SPDX_PREDICATE);
    let m: Value = serde_json::from_slice(&unsigned.manifest).unwrap();
    assert_eq!(m["artifactType"], "application/vnd.in-toto+json");
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(m["layers"][0]["mediaType"], "application/vnd.in-toto+json");
    assert_eq!(
        m["annotations"]["in-toto.io/predicate-type"],
        SPDX_PREDICATE
    );
    assert_eq!(m["subject"]["digest"], subject.digest.to_string());
    assert_eq!(unsigned.layer.1, statement);

    let bundle = BundleArtifact::bundle(b"{}".to_vec(), &subject, CYCLONEDX_PREDICATE);
    let m: Value = serde_json::from_slice(&bundle.manifest).unwrap();
    assert_eq!(m["artifactType"], BUNDLE_V03_MEDIA_TYPE);
    assert_eq!(
        m["annotations"]["dev.sigstore.bundle.predicateType"],
        CYCLONEDX_PREDICATE
    );
    assert_eq!(
        m["annotations"]["dev.sigstore.bundle.content"],
        "dsse-envelope"
    );

    // Both are attestation referrers, each naming its predicate type; other artifacts
    // (an image, say) are not.
    let mut other = Descriptor::of_bytes(oci::media::OCI_MANIFEST, b"x");
    other.artifact_type = Some("application/vnd.example+json".to_string());
    let found = attestation_referrers(vec![
        unsigned.descriptor.clone(),
        other,
        bundle.descriptor.clone(),
    ]);
    let types: Vec<_> = found
        .iter()
        .map(|d| predicate_type_of(d).unwrap())
        .collect();
    assert_eq!(types, [SPDX_PREDICATE, CYCLONEDX_PREDICATE]);
}
