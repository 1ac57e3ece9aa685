//! Signature layers checked without a registry: every refusal has its reason; sigstore-rs
//! verifies what strata signs and strata verifies what sigstore-rs signs; signing appends
//! to the signature manifest (in an in-memory repository) and never duplicates.

mod common;

use std::collections::BTreeMap;

use common::{MemRepo, block_on, image_manifest};

use base64::Engine as _;
use oci::{Descriptor, Digest};
use sigstore::cosign::verification_constraint::{PublicKeyVerifier, VerificationConstraint};
use trust::PrivateKey;
use trust::payload::SimpleSigning;
use trust::tag_scheme::{SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE, SignatureLayer};
use trust::verify::check_layer;

const IMG: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const OTHER: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn digest(s: &str) -> Digest {
    s.parse().unwrap()
}

fn layer_for(key: &PrivateKey, image: &str, ann: &BTreeMap<String, String>) -> SignatureLayer {
    let payload = SimpleSigning::new("127.0.0.1:5000/app", &digest(image), ann).to_bytes();
    let sig = key.sign(&payload);
    SignatureLayer::new(payload, &sig)
}

/// (case, descriptor, payload, key, wanted annotations, words the reason must have)
type Case<'a> = (
    &'a str,
    &'a Descriptor,
    &'a [u8],
    &'a trust::PublicKey,
    &'a BTreeMap<String, String>,
    &'a str,
);

#[test]
fn each_tampering_is_refused_with_its_reason() {
    let key = PrivateKey::generate();
    let pubkey = key.public_key();
    let none = BTreeMap::new();
    let good = layer_for(&key, IMG, &none);
    assert!(
        check_layer(
            &good.descriptor,
            &good.payload,
            &pubkey,
            &digest(IMG),
            &none
        )
        .is_ok()
    );

    // A flipped byte in the payload (the blob served is not what the layer names).
    let mut flipped_payload = good.payload.clone();
    flipped_payload[20] ^= 1;
    // A flipped payload with its descriptor rewritten to match (only the signature can catch it).
    let mut rehashed = good.clone();
    rehashed.descriptor.digest = Digest::sha256_of(&flipped_payload);
    rehashed.descriptor.size = flipped_payload.len() as u64;
    // A flipped byte in the signature.
    let mut sig = base64::engine::general_purpose::STANDARD
        .decode(good.signature_b64().unwrap())
        .unwrap();
    let last = sig.len() - 1;
    sig[last] ^= 1;
    let mut bad_sig = good.clone();
    bad_sig.descriptor.annotations.insert(
        SIGNATURE_ANNOTATION.into(),
        base64::engine::general_purpose::STANDARD.encode(&sig),
    );
    let mut no_sig = good.clone();
    no_sig.descriptor.annotations.clear();
    let mut not_b64 = good.clone();
    not_b64
        .descriptor
        .annotations
        .insert(SIGNATURE_ANNOTATION.into(), "!!".into());
    let mut other_type = good.clone();
    other_type.descriptor.media_type = "application/vnd.oci.image.layer.v1.tar".into();
    // A valid signature, but of another image (copied under this image's tag).
    let other_image = layer_for(&key, OTHER, &none);
    let wrong_key = PrivateKey::generate().public_key();
    let annotated = layer_for(
        &key,
        IMG,
        &BTreeMap::from([("env".to_string(), "prod".to_string())]),
    );
    let want_env = BTreeMap::from([("env".to_string(), "dev".to_string())]);

    // (case, descriptor, payload, key, wanted annotations, words the reason must have)
    let cases: Vec<Case> = vec![
        (
            "payload flipped",
            &good.descriptor,
            &flipped_payload,
            &pubkey,
            &none,
            "tampered payload",
        ),
        (
            "payload flipped, digest rewritten",
            &rehashed.descriptor,
            &flipped_payload,
            &pubkey,
            &none,
            "invalid signature",
        ),
        (
            "signature flipped",
            &bad_sig.descriptor,
            &good.payload,
            &pubkey,
            &none,
            "invalid signature",
        ),
        (
            "no signature",
            &no_sig.descriptor,
            &good.payload,
            &pubkey,
            &none,
            "no dev.cosignproject.cosign/signature",
        ),
        (
            "signature not base64",
            &not_b64.descriptor,
            &good.payload,
            &pubkey,
            &none,
            "not base64",
        ),
        (
            "not a payload layer",
            &other_type.descriptor,
            &good.payload,
            &pubkey,
            &none,
            "not a simple-signing payload",
        ),
        (
            "another image's signature",
            &other_image.descriptor,
            &other_image.payload,
            &pubkey,
            &none,
            "signature of another image",
        ),
        (
            "wrong key",
            &good.descriptor,
            &good.payload,
            &wrong_key,
            &none,
            "wrong key",
        ),
        (
            "annotation differs",
            &annotated.descriptor,
            &annotated.payload,
            &pubkey,
            &want_env,
            "env=dev",
        ),
        (
            "annotation missing",
            &good.descriptor,
            &good.payload,
            &pubkey,
            &want_env,
            "env=dev",
        ),
    ];
    for (what, d, payload, k, ann, words) in cases {
        let why = check_layer(d, payload, k, &digest(IMG), ann).expect_err(what);
        assert!(why.contains(words), "{what}: {why}");
    }
}

#[test]
fn sigstore_rs_verifies_strata_signature_layer() {
    let key = PrivateKey::generate();
    let ours = layer_for(&key, IMG, &BTreeMap::new());
    let verifier = PublicKeyVerifier::new(
        key.public_key().to_pem().as_bytes(),
        &sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1,
    )
    .unwrap();
    let theirs = |payload: &[u8], sig: &str| sigstore::cosign::SignatureLayer {
        simple_signing: serde_json::from_slice(payload).unwrap(),
        oci_digest: Digest::sha256_of(payload).to_string(),
        certificate_signature: None,
        bundle: None,
        signature: Some(sig.to_string()),
        raw_data: payload.to_vec(),
    };
    let layer = theirs(&ours.payload, ours.signature_b64().unwrap());
    assert!(layer.simple_signing.satisfies_manifest_digest(IMG));
    assert!(verifier.verify(&layer).unwrap());
    // And sigstore-rs refuses it under another key.
    let other = PublicKeyVerifier::new(
        PrivateKey::generate().public_key().to_pem().as_bytes(),
        &sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1,
    )
    .unwrap();
    assert!(!other.verify(&layer).unwrap_or(false));
}

#[test]
fn strata_verifies_sigstore_rs_signature_layer() {
    use sigstore::cosign::Constraint as _;
    use sigstore::crypto::signing_key::SigStoreKeyPair;
    use sigstore::crypto::signing_key::ecdsa::{ECDSAKeys, EllipticCurve};
    let pair = SigStoreKeyPair::ECDSA(ECDSAKeys::new(EllipticCurve::P256).unwrap());
    let signer = pair
        .to_sigstore_signer(&sigstore::crypto::SigningScheme::ECDSA_P256_SHA256_ASN1)
        .unwrap();
    let image: sigstore::registry::OciReference =
        format!("127.0.0.1:5000/app@{IMG}").parse().unwrap();
    let mut layer = sigstore::cosign::SignatureLayer::new_unsigned(&image, IMG).unwrap();
    let mut ann = BTreeMap::new();
    ann.insert("by".to_string(), "sigstore-rs".to_string());
    sigstore::cosign::constraint::AnnotationMarker {
        annotations: ann.clone().into_iter().collect(),
    }
    .add_constraint(&mut layer)
    .unwrap();
    sigstore::cosign::constraint::PrivateKeySigner::new_with_signer(signer)
        .add_constraint(&mut layer)
        .unwrap();
    // The descriptor sigstore-rs would push: media type, digest, the signature annotation.
    let mut d = Descriptor::of_bytes(SIMPLE_SIGNING_MEDIA_TYPE, &layer.raw_data);
    d.annotations.insert(
        SIGNATURE_ANNOTATION.into(),
        layer.signature.clone().unwrap(),
    );
    let key =
        trust::PublicKey::from_pem(pair.public_key_to_pem().unwrap().as_bytes(), "theirs.pub")
            .unwrap();
    let parsed = check_layer(&d, &layer.raw_data, &key, &digest(IMG), &ann).unwrap();
    assert_eq!(parsed.critical.image.docker_manifest_digest, IMG);
    let why = check_layer(&d, &layer.raw_data, &key, &digest(OTHER), &BTreeMap::new()).unwrap_err();
    assert!(why.contains("another image"), "{why}");
}

#[test]
fn signing_appends_keeps_and_does_not_duplicate() {
    let repo = MemRepo::default();
    let img = repo.add_manifest(oci::media::OCI_MANIFEST, &image_manifest(1), Some("v1"));
    let (k1, k2) = (PrivateKey::generate(), PrivateKey::generate());
    let opts = trust::sign::SignOptions::default();
    let r = "127.0.0.1:5000/app";
    let s1 = block_on(trust::sign::sign(&repo, r, "v1", &k1, &opts)).unwrap();
    assert_eq!(s1.len(), 1);
    assert!(s1[0].added);
    assert_eq!(s1[0].digest, img.digest);
    let s2 = block_on(trust::sign::sign(&repo, r, "v1", &k2, &opts)).unwrap();
    assert!(s2[0].added);
    // The same key and payload again: ECDSA here is deterministic (RFC 6979), so it is the
    // same signature and nothing is written.
    let again = block_on(trust::sign::sign(&repo, r, "v1", &k1, &opts)).unwrap();
    assert!(!again[0].added);
    assert_eq!(*repo.puts.lock().unwrap(), 2);
    let tag = trust::tag_scheme::signature_tag(&img.digest);
    let sig_manifest = repo.manifests.lock().unwrap()[&tag].1.clone();
    let m = oci::Manifest::from_slice(&sig_manifest).unwrap();
    assert_eq!(m.layers.len(), 2);
    assert_eq!(m.media_type.as_deref(), Some(oci::media::OCI_MANIFEST));
    assert!(
        m.layers
            .iter()
            .all(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
    );
    // Both keys verify; each finds its own layer.
    for k in [&k1, &k2] {
        let v = block_on(trust::verify::verify(
            &repo,
            "app:v1",
            "v1",
            &k.public_key(),
            &BTreeMap::new(),
        ))
        .unwrap();
        assert_eq!(v.verified.len(), 1);
        assert_eq!(v.digest, img.digest);
    }
    let err = block_on(trust::verify::verify(
        &repo,
        "app:v1",
        "v1",
        &PrivateKey::generate().public_key(),
        &BTreeMap::new(),
    ))
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("no matching signatures for app:v1:"),
        "{text}"
    );
    assert_eq!(text.matches("wrong key").count(), 2, "{text}");
}

#[test]
fn recursive_signs_the_index_and_each_manifest() {
    let repo = MemRepo::default();
    let a = repo.add_manifest(oci::media::OCI_MANIFEST, &image_manifest(1), None);
    let b = repo.add_manifest(oci::media::OCI_MANIFEST, &image_manifest(2), None);
    let index = serde_json::to_vec(&serde_json::json!({"schemaVersion":2,"mediaType":oci::media::OCI_INDEX,"manifests":[a, b]})).unwrap();
    let idx = repo.add_manifest(oci::media::OCI_INDEX, &index, Some("multi"));
    let key = PrivateKey::generate();
    let flat = block_on(trust::sign::sign(
        &repo,
        "r/app",
        "multi",
        &key,
        &trust::sign::SignOptions::default(),
    ))
    .unwrap();
    assert_eq!(
        flat.iter().map(|s| s.digest.clone()).collect::<Vec<_>>(),
        vec![idx.digest.clone()]
    );
    let opts = trust::sign::SignOptions {
        recursive: true,
        ..Default::default()
    };
    let all = block_on(trust::sign::sign(&repo, "r/app", "multi", &key, &opts)).unwrap();
    assert_eq!(
        all.iter().map(|s| s.digest.clone()).collect::<Vec<_>>(),
        vec![idx.digest.clone(), a.digest.clone(), b.digest.clone()]
    );
    assert_eq!(
        all.iter().map(|s| s.added).collect::<Vec<_>>(),
        vec![false, true, true]
    );
    for d in [&a.digest, &b.digest] {
        block_on(trust::verify::verify(
            &repo,
            "x",
            &d.to_string(),
            &key.public_key(),
            &BTreeMap::new(),
        ))
        .unwrap();
    }
}

#[test]
fn unsigned_image_is_refused_as_having_no_signatures() {
    let repo = MemRepo::default();
    repo.add_manifest(oci::media::OCI_MANIFEST, &image_manifest(1), Some("v1"));
    let err = block_on(trust::verify::verify(
        &repo,
        "app:v1",
        "v1",
        &PrivateKey::generate().public_key(),
        &BTreeMap::new(),
    ))
    .unwrap_err();
    assert!(err.to_string().contains("no signatures found"), "{err}");
}
