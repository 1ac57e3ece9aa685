//! The bundle form without I/O: DSSE's PAE, the in-toto statement's and the bundle's JSON,
//! the referrer artifact and fallback index, and which tamperings `check_bundle` refuses
//! and why.

use std::collections::BTreeMap;

use base64::Engine as _;
use oci::Digest;
use serde_json::{Value, json};
use sha2::Digest as _;
use trust::bundle::{BUNDLE_V03_MEDIA_TYPE, Bundle, check_bundle, key_hint};
use trust::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE, pae};
use trust::referrer::{BundleArtifact, add_to_fallback_index, fallback_tag};
use trust::statement::Statement;
use trust::{PrivateKey, PublicKey};

const REPO: &str = "localhost:5000/app";

fn b64(b: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(b)
}

fn unb64(s: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s.as_str().unwrap())
        .unwrap()
}

fn image() -> Digest {
    Digest::sha256_of(b"the image manifest")
}

#[test]
fn pae_matches_the_dsse_spec() {
    for (ty, body, want) in [
        (
            "http://example.com/HelloWorld",
            &b"hello world"[..],
            &b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"[..],
        ),
        ("", b"", b"DSSEv1 0  0 "),
        (
            IN_TOTO_PAYLOAD_TYPE,
            b"{}",
            b"DSSEv1 28 application/vnd.in-toto+json 2 {}",
        ),
        // Length counts bytes, not characters.
        ("t", "é".as_bytes(), "DSSEv1 1 t 2 é".as_bytes()),
    ] {
        assert_eq!(pae(ty, body), want, "{ty:?}");
    }
}

#[test]
fn envelope_signature_covers_type_and_payload() {
    let key = PrivateKey::generate();
    let env = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, b"{\"a\":1}".to_vec(), &key);
    assert!(env.verify(&key.public_key()));
    // The signature is over the PAE: the payload alone does not verify.
    assert!(
        !key.public_key()
            .verify(&env.payload, &env.signatures[0].sig)
    );
    assert!(key.public_key().verify(
        &pae(IN_TOTO_PAYLOAD_TYPE, &env.payload),
        &env.signatures[0].sig
    ));
    let mut other_type = env.clone();
    other_type.payload_type = "application/json".into();
    assert!(!other_type.verify(&key.public_key()));
    assert!(!env.verify(&PrivateKey::generate().public_key()));
}

#[test]
fn statement_json_is_cosigns_image_signature() {
    let d = image();
    let s = Statement::for_image(REPO, &d, &BTreeMap::new());
    let want = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"{REPO}","digest":{{"sha256":"{}"}}}}],"predicateType":"https://sigstore.dev/cosign/sign/v1","predicate":{{}}}}"#,
        d.hex()
    );
    assert_eq!(String::from_utf8(s.to_bytes()).unwrap(), want);
    let annotated =
        Statement::for_image(REPO, &d, &BTreeMap::from([("env".into(), "prod".into())]));
    let v: Value = serde_json::from_slice(&annotated.to_bytes()).unwrap();
    assert_eq!(v["subject"][0]["annotations"], json!({"env": "prod"}));
}

#[test]
fn bundle_json_is_a_key_based_v03_bundle() {
    let key = PrivateKey::generate();
    let d = image();
    let bytes = Bundle::sign(REPO, &d, &BTreeMap::new(), &key).to_bytes();
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["mediaType"], BUNDLE_V03_MEDIA_TYPE);
    let der = key.public_key().to_der();
    assert_eq!(
        v["verificationMaterial"]["publicKey"]["hint"],
        b64(&sha2::Sha256::digest(&der))
    );
    assert_eq!(
        key_hint(&key.public_key()),
        b64(&sha2::Sha256::digest(&der))
    );
    assert_eq!(v["verificationMaterial"]["tlogEntries"], json!([]));
    let env = &v["dsseEnvelope"];
    assert_eq!(env["payloadType"], IN_TOTO_PAYLOAD_TYPE);
    assert_eq!(env["signatures"].as_array().unwrap().len(), 1);
    assert_eq!(env["signatures"][0]["keyid"], "");
    let statement = unb64(&env["payload"]);
    let sig = unb64(&env["signatures"][0]["sig"]);
    assert!(
        key.public_key()
            .verify(&pae(IN_TOTO_PAYLOAD_TYPE, &statement), &sig)
    );
    let s: Value = serde_json::from_slice(&statement).unwrap();
    assert_eq!(s["subject"][0]["digest"]["sha256"], d.hex());
    let ok = check_bundle("b", &bytes, &key.public_key(), &d, &BTreeMap::new()).unwrap();
    assert_eq!(ok.statement, statement);
    assert_eq!(
        ok.claims.critical.kind,
        "https://sigstore.dev/cosign/sign/v1"
    );
    assert_eq!(
        ok.claims.critical.image.docker_manifest_digest,
        d.to_string()
    );
    assert_eq!(ok.claims.critical.identity.docker_reference, REPO);
}

/// A bundle JSON value changed by `f`.
fn edited(bundle: &[u8], f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(bundle).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn flip_b64(v: &mut Value, at: usize) {
    let mut bytes = unb64(v);
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    *v = Value::String(b64(&bytes));
}

/// A tampering case: name, bundle bytes, key, annotations asked for, the reason wanted
/// (`None`: it verifies).
type Case<'a> = (
    &'static str,
    Vec<u8>,
    &'a PublicKey,
    &'a BTreeMap<String, String>,
    Option<String>,
);

#[test]
fn tampered_bundles_are_refused_with_a_reason() {
    let key = PrivateKey::generate();
    let public = key.public_key();
    let d = image();
    let other = Digest::sha256_of(b"another image");
    let none = BTreeMap::new();
    let good = Bundle::sign(
        REPO,
        &d,
        &BTreeMap::from([("env".into(), "prod".into())]),
        &key,
    )
    .to_bytes();
    let for_other = Bundle::sign(REPO, &other, &none, &key).to_bytes();
    let wrong_key: PublicKey = PrivateKey::generate().public_key();
    let want_env: BTreeMap<String, String> = BTreeMap::from([("env".into(), "prod".into())]);
    let want_team: BTreeMap<String, String> = BTreeMap::from([("team".into(), "x".into())]);
    let cases: Vec<Case> = vec![
        ("untouched", good.clone(), &public, &want_env, None),
        (
            "flipped payload byte",
            edited(&good, |v| flip_b64(&mut v["dsseEnvelope"]["payload"], 40)),
            &public,
            &none,
            Some("invalid signature of the DSSE envelope".to_string()),
        ),
        (
            "flipped signature byte",
            edited(&good, |v| {
                flip_b64(&mut v["dsseEnvelope"]["signatures"][0]["sig"], 20)
            }),
            &public,
            &none,
            Some("invalid signature of the DSSE envelope".to_string()),
        ),
        (
            "other payload type",
            edited(&good, |v| {
                v["dsseEnvelope"]["payloadType"] = json!("application/json")
            }),
            &public,
            &none,
            Some("payload type \"application/json\"".to_string()),
        ),
        (
            "statement for another digest",
            for_other,
            &public,
            &none,
            Some(format!("the statement is for {other}, not {d}")),
        ),
        (
            "wrong key",
            good.clone(),
            &wrong_key,
            &none,
            Some("invalid signature of the DSSE envelope".to_string()),
        ),
        (
            "missing annotation",
            good.clone(),
            &public,
            &want_team,
            Some("missing or different annotation team=x".to_string()),
        ),
        (
            "no envelope",
            edited(&good, |v| {
                v.as_object_mut().unwrap().remove("dsseEnvelope");
                v["messageSignature"] = json!({"signature": "AAAA"});
            }),
            &public,
            &none,
            Some("holds no DSSE envelope".to_string()),
        ),
        (
            "not a bundle",
            edited(&good, |v| v["mediaType"] = json!("application/json")),
            &public,
            &none,
            Some("is not a sigstore bundle".to_string()),
        ),
        (
            "garbage",
            b"{not json".to_vec(),
            &public,
            &none,
            Some("not a sigstore bundle".to_string()),
        ),
    ];
    for (name, bytes, k, ann, want) in cases {
        let got = check_bundle("b", &bytes, k, &d, ann);
        match (want, got) {
            (None, Ok(_)) => {}
            (Some(reason), Err(e)) => assert!(e.contains(&reason), "{name}: {e}"),
            (w, g) => panic!("{name}: wanted {w:?}, got {g:?}"),
        }
    }
}

#[test]
fn other_predicate_types_are_not_image_signatures() {
    let key = PrivateKey::generate();
    let d = image();
    let mut s = Statement::for_image(REPO, &d, &BTreeMap::new());
    s.predicate_type = "https://slsa.dev/provenance/v1".into();
    let env = Envelope::sign(IN_TOTO_PAYLOAD_TYPE, s.to_bytes(), &key);
    let mut b: Value =
        serde_json::from_slice(&Bundle::sign(REPO, &d, &BTreeMap::new(), &key).to_bytes()).unwrap();
    b["dsseEnvelope"] = serde_json::to_value(&env).unwrap();
    let e = check_bundle(
        "b",
        &serde_json::to_vec(&b).unwrap(),
        &key.public_key(),
        &d,
        &BTreeMap::new(),
    )
    .unwrap_err();
    assert!(e.contains("is not an image signature"), "{e}");
}

#[test]
fn referrer_artifact_is_cosigns_shape() {
    let subject = oci::Descriptor::of_bytes(oci::media::OCI_MANIFEST, b"the image manifest");
    let a = BundleArtifact::new(b"{\"bundle\":1}".to_vec(), &subject);
    let m: Value = serde_json::from_slice(&a.manifest).unwrap();
    assert_eq!(m["mediaType"], oci::media::OCI_MANIFEST);
    assert_eq!(m["artifactType"], BUNDLE_V03_MEDIA_TYPE);
    assert_eq!(
        m["config"]["mediaType"],
        "application/vnd.oci.empty.v1+json"
    );
    assert_eq!(m["config"]["digest"], Digest::sha256_of(b"{}").to_string());
    assert_eq!(m["layers"].as_array().unwrap().len(), 1);
    assert_eq!(m["layers"][0]["mediaType"], BUNDLE_V03_MEDIA_TYPE);
    assert_eq!(
        m["layers"][0]["digest"],
        Digest::sha256_of(b"{\"bundle\":1}").to_string()
    );
    assert_eq!(m["subject"]["digest"], subject.digest.to_string());
    assert_eq!(m["subject"]["size"], subject.size);
    assert_eq!(
        m["annotations"]["dev.sigstore.bundle.predicateType"],
        "https://sigstore.dev/cosign/sign/v1"
    );
    assert_eq!(a.descriptor.digest, Digest::sha256_of(&a.manifest));
    assert_eq!(
        a.descriptor.artifact_type.as_deref(),
        Some(BUNDLE_V03_MEDIA_TYPE)
    );
}

#[test]
fn fallback_index_keeps_existing_referrers_and_skips_repeats() {
    let d = image();
    assert_eq!(fallback_tag(&d), format!("sha256-{}", d.hex()));
    let subject = oci::Descriptor::of_bytes(oci::media::OCI_MANIFEST, b"the image manifest");
    let one = BundleArtifact::new(b"1".to_vec(), &subject).descriptor;
    let two = BundleArtifact::new(b"2".to_vec(), &subject).descriptor;
    let foreign = oci::Descriptor::of_bytes("application/vnd.example+json", b"sbom");
    let (_, first) = add_to_fallback_index(None, &one).unwrap();
    let existing = {
        let mut v: Value = serde_json::from_slice(&first).unwrap();
        v["manifests"]
            .as_array_mut()
            .unwrap()
            .insert(0, serde_json::to_value(&foreign).unwrap());
        serde_json::to_vec(&v).unwrap()
    };
    assert!(
        add_to_fallback_index(Some(&existing), &one).is_none(),
        "a repeat is not added"
    );
    let (desc, bytes) = add_to_fallback_index(Some(&existing), &two).unwrap();
    assert_eq!(desc.digest, Digest::sha256_of(&bytes));
    assert_eq!(desc.media_type, oci::media::OCI_INDEX);
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    let digests: Vec<&str> = v["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["digest"].as_str().unwrap())
        .collect();
    assert_eq!(
        digests,
        [
            foreign.digest.to_string(),
            one.digest.to_string(),
            two.digest.to_string()
        ]
    );
    assert_eq!(v["manifests"][2]["artifactType"], BUNDLE_V03_MEDIA_TYPE);
}
