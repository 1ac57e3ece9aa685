//! Key files: what cosign and sigstore-rs wrote is read, what strata writes they read, and
//! bad files are refused with the reason.

use sigstore::crypto::SigningScheme;
use sigstore::crypto::signing_key::SigStoreKeyPair;
use trust::keys::{COSIGN_PRIVATE_KEY_LABEL, SCRYPT_N, SIGSTORE_PRIVATE_KEY_LABEL};
use trust::{PrivateKey, PublicKey, TrustError};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The JSON envelope inside an encrypted key PEM.
fn envelope(pem: &str) -> serde_json::Value {
    let (_, body) = pem_body(pem);
    serde_json::from_slice(&body).unwrap()
}

fn pem_body(pem: &str) -> (String, Vec<u8>) {
    use base64::Engine as _;
    let mut lines = pem.lines();
    let label = lines
        .next()
        .unwrap()
        .trim_start_matches("-----BEGIN ")
        .trim_end_matches("-----")
        .to_string();
    let b64: String = lines.take_while(|l| !l.starts_with("-----END")).collect();
    (
        label,
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
}

fn der_of(pem: &str) -> Vec<u8> {
    pem_body(pem).1
}

#[test]
fn foreign_key_files_are_read() {
    // (file, password, what it is)
    let cases: &[(&str, &[u8])] = &[
        ("cosign_n65536_empty_password.key", b""),
        ("cosign_label_n32768_password_123.key", b"123"),
        ("pkcs8_plain.key", b""),
        ("pair_password_password.key", b"password"),
        ("pair_plain.key", b""),
    ];
    for (file, password) in cases {
        let key = PrivateKey::from_pem(&data(file), password, file)
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        // The key works: what it signs, its public key verifies.
        let sig = key.sign(b"payload");
        assert!(key.public_key().verify(b"payload", &sig), "{file}");
        assert!(!key.public_key().verify(b"payloaD", &sig), "{file}");
    }
}

#[test]
fn public_key_pem_is_written_byte_for_byte_as_openssl_writes_it() {
    let plain = PrivateKey::from_pem(&data("pair_plain.key"), b"", "pair_plain.key").unwrap();
    let reference = String::from_utf8(data("pair_plain.openssl.pub")).unwrap();
    assert_eq!(plain.public_key().to_pem(), reference);
    assert_eq!(
        PublicKey::from_pem(reference.as_bytes(), "openssl.pub").unwrap(),
        plain.public_key()
    );
    // A public key sigstore-rs's example ships reads too (and is not this key).
    let theirs = PublicKey::from_pem(&data("pair.pub"), "pair.pub").unwrap();
    assert_ne!(theirs, plain.public_key());
}

#[test]
fn wrong_password_is_refused_as_such() {
    for (file, wrong) in [
        ("cosign_n65536_empty_password.key", &b"x"[..]),
        ("cosign_label_n32768_password_123.key", b"124"),
    ] {
        match PrivateKey::from_pem(&data(file), wrong, file) {
            Err(TrustError::WrongPassword { what }) => assert_eq!(what, file),
            other => panic!("{file}: {other:?}"),
        }
    }
}

#[test]
fn written_key_has_cosigns_shape_and_reads_back() {
    let (key, pair) = trust::KeyPair::generate(b"pw").unwrap();
    assert!(
        pair.private_pem
            .starts_with(&format!("-----BEGIN {SIGSTORE_PRIVATE_KEY_LABEL}-----\n"))
    );
    assert!(
        pair.private_pem
            .ends_with(&format!("-----END {SIGSTORE_PRIVATE_KEY_LABEL}-----\n"))
    );
    assert!(pair.public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
    let env = envelope(&pair.private_pem);
    assert_eq!(env["kdf"]["name"], "scrypt");
    assert_eq!(
        env["kdf"]["params"],
        serde_json::json!({"N": SCRYPT_N, "r": 8, "p": 1})
    );
    assert_eq!(env["cipher"]["name"], "nacl/secretbox");
    // Field order as Go's encoder writes it (cosign reads any order, but diffs stay small).
    let (_, body) = pem_body(&pair.private_pem);
    let text = String::from_utf8(body).unwrap();
    assert!(
        text.starts_with(r#"{"kdf":{"name":"scrypt","params":{"N":32768,"r":8,"p":1},"salt":""#),
        "{text}"
    );
    let back = PrivateKey::from_pem(pair.private_pem.as_bytes(), b"pw", "new").unwrap();
    assert_eq!(back.public_key(), key.public_key());
    assert_eq!(
        PublicKey::from_pem(pair.public_pem.as_bytes(), "new.pub").unwrap(),
        key.public_key()
    );
}

#[test]
fn strata_key_is_opened_by_sigstore_rs_and_signs_for_strata() {
    for n in [SCRYPT_N, 65536] {
        let key = PrivateKey::generate();
        let pem = key.to_encrypted_pem(b"s3cret", n).unwrap();
        let theirs = SigStoreKeyPair::from_encrypted_pem(pem.as_bytes(), b"s3cret")
            .unwrap_or_else(|e| panic!("N={n}: {e}"));
        assert_eq!(
            theirs.public_key_to_der().unwrap(),
            der_of(&key.public_key().to_pem()),
            "N={n}"
        );
        // Their signer with our key: we verify what it signs.
        let signer = theirs
            .to_sigstore_signer(&SigningScheme::ECDSA_P256_SHA256_ASN1)
            .unwrap();
        let sig = signer.sign(b"hello").unwrap();
        assert!(key.public_key().verify(b"hello", &sig), "N={n}");
    }
}

#[test]
fn sigstore_rs_key_is_opened_by_strata() {
    let theirs = SigStoreKeyPair::ECDSA(
        sigstore::crypto::signing_key::ecdsa::ECDSAKeys::new(
            sigstore::crypto::signing_key::ecdsa::EllipticCurve::P256,
        )
        .unwrap(),
    );
    let pem = theirs.private_key_to_encrypted_pem(b"pw").unwrap();
    let ours = PrivateKey::from_pem(pem.as_bytes(), b"pw", "sigstore-rs key").unwrap();
    // sigstore-rs writes its PEM with CRLF; the key inside is what must match.
    assert_eq!(
        der_of(&ours.public_key().to_pem()),
        theirs.public_key_to_der().unwrap()
    );
    let pub_ours =
        PublicKey::from_pem(theirs.public_key_to_pem().unwrap().as_bytes(), "their.pub").unwrap();
    // Our signature, their verification key.
    let sig = ours.sign(b"msg");
    let vk = theirs
        .to_verification_key(&SigningScheme::ECDSA_P256_SHA256_ASN1)
        .unwrap();
    vk.verify_signature(sigstore::crypto::Signature::Raw(&sig), b"msg")
        .unwrap();
    assert!(pub_ours.verify(b"msg", &sig));
}

#[test]
fn bad_key_files_are_refused_with_the_reason() {
    let good = PrivateKey::generate()
        .to_encrypted_pem(b"", SCRYPT_N)
        .unwrap();
    let (_, body) = pem_body(&good);
    let mut env: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let rewrap = |env: &serde_json::Value, label: &str| {
        use base64::Engine as _;
        let b64 =
            base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(env).unwrap());
        format!("-----BEGIN {label}-----\n{b64}\n-----END {label}-----\n")
    };
    // (what, pem bytes, password, words the error must have)
    let mut cases: Vec<(&str, String, &[u8], &str)> = vec![
        ("not PEM", "hello".into(), b"", "not a PEM"),
        (
            "RSA label",
            "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n".into(),
            b"",
            "unsupported PEM block",
        ),
        (
            "public key as private",
            String::from_utf8(data("pair.pub")).unwrap(),
            b"",
            "unsupported PEM block",
        ),
    ];
    env["kdf"]["params"]["N"] = serde_json::json!(1000);
    cases.push((
        "N not a power of two",
        rewrap(&env, COSIGN_PRIVATE_KEY_LABEL),
        b"",
        "power of two",
    ));
    env["kdf"]["params"]["N"] = serde_json::json!(1u64 << 30);
    cases.push((
        "N huge",
        rewrap(&env, SIGSTORE_PRIVATE_KEY_LABEL),
        b"",
        "power of two up to",
    ));
    env["kdf"]["params"]["N"] = serde_json::json!(1 << 20);
    env["kdf"]["params"]["r"] = serde_json::json!(32);
    cases.push((
        "N and r needing 4 GiB",
        rewrap(&env, SIGSTORE_PRIVATE_KEY_LABEL),
        b"",
        "needs 4096 MiB",
    ));
    env["kdf"]["params"]["r"] = serde_json::json!(8);
    env["kdf"]["params"]["N"] = serde_json::json!(32768);
    env["cipher"]["name"] = serde_json::json!("aes");
    cases.push((
        "other cipher",
        rewrap(&env, SIGSTORE_PRIVATE_KEY_LABEL),
        b"",
        "unknown cipher",
    ));
    for (what, pem, pw, words) in cases {
        let err = PrivateKey::from_pem(pem.as_bytes(), pw, "k")
            .expect_err(what)
            .to_string();
        assert!(err.contains(words), "{what}: {err}");
    }
    let err = PublicKey::from_pem(&data("pair_plain.key"), "k.pub")
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an ECDSA P-256 public key"), "{err}");
}

#[test]
fn pem_wrapped_at_other_widths_with_crlf_and_text_around_is_read() {
    // Go's pem.Decode (cosign's reader) takes any line width, CRLF and text around the block;
    // so must we.
    use base64::Engine as _;
    let key = PrivateKey::generate();
    let pem = key.to_encrypted_pem(b"pw", SCRYPT_N).unwrap();
    let (label, body) = pem_body(&pem);
    let b64 = base64::engine::general_purpose::STANDARD.encode(body);
    let wrapped: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    let odd = format!(
        "a comment line\r\n-----BEGIN {label}-----\r\n{}\r\n-----END {label}-----\r\n\r\n",
        wrapped.join("\r\n")
    );
    let back = PrivateKey::from_pem(odd.as_bytes(), b"pw", "odd").unwrap();
    assert_eq!(back.public_key(), key.public_key());
    let public = key.public_key().to_pem().replace('\n', "\r\n");
    assert_eq!(
        PublicKey::from_pem(format!("text\n{public}").as_bytes(), "odd.pub").unwrap(),
        key.public_key()
    );
}
