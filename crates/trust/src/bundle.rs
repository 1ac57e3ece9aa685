//! The sigstore bundle (v0.3) of a key-based image signature, and the decision whether
//! one verifies, without I/O.
//!
//! The bundle holds a DSSE envelope around an in-toto [`Statement`] and, as verification
//! material, only a public-key hint: no certificate, no transparency-log entry
//! (`tlogEntries` is empty), no timestamp. A verifier finds the key by the hint, or, as
//! `strata verify --key` does, is given it. `@sigstore/verify` accepts such a bundle with
//! a custom key finder once its default of one tlog entry is relaxed (`tlogThreshold: 0`).

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::dsse::{Envelope, IN_TOTO_PAYLOAD_TYPE};
use crate::payload::SimpleSigning;
use crate::statement::{COSIGN_SIGN_PREDICATE, Statement};
use crate::{PrivateKey, PublicKey};

/// The media type of a v0.3 bundle (also the referrer's artifact type and layer type).
pub const BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";

/// A sigstore bundle as JSON carries it (protobuf's JSON mapping: camelCase fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bundle {
    /// [`BUNDLE_V03_MEDIA_TYPE`] when written.
    pub media_type: String,
    /// The key hint and (empty) log entries.
    pub verification_material: VerificationMaterial,
    /// The signed envelope; absent in a message-signature bundle, which is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dsse_envelope: Option<Envelope>,
    /// A message signature (`cosign sign-blob`'s form): kept only to name it when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_signature: Option<serde_json::Value>,
}

/// What a verifier needs besides the envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationMaterial {
    /// The signing key's hint; absent when the bundle carries a certificate instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<PublicKeyHint>,
    /// Transparency-log entries: none for a key-based signature made offline.
    #[serde(default)]
    pub tlog_entries: Vec<serde_json::Value>,
}

/// `verificationMaterial.publicKey`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicKeyHint {
    /// Names the key for a key finder: base64 of the SHA-256 of its SPKI DER.
    pub hint: String,
}

/// The hint a bundle signed with `key` carries: base64 of the SHA-256 of the SPKI DER, so
/// a verifier holding several keys can pick without trying each.
pub fn key_hint(key: &PublicKey) -> String {
    base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(key.to_der()))
}

impl Bundle {
    /// The bundle signing `repository`'s manifest `digest` (with `-a` `annotations`).
    pub fn sign(
        repository: &str,
        digest: &oci::Digest,
        annotations: &BTreeMap<String, String>,
        key: &PrivateKey,
    ) -> Bundle {
        let statement = Statement::for_image(repository, digest, annotations).to_bytes();
        Bundle::sign_statement(statement, key)
    }

    /// The bundle signing the in-toto `statement` bytes (an image signature's, or an
    /// attestation's from [`Statement::attestation`]) with `key`.
    pub fn sign_statement(statement: Vec<u8>, key: &PrivateKey) -> Bundle {
        Bundle {
            media_type: BUNDLE_V03_MEDIA_TYPE.to_string(),
            verification_material: VerificationMaterial {
                public_key: Some(PublicKeyHint {
                    hint: key_hint(&key.public_key()),
                }),
                tlog_entries: Vec::new(),
            },
            dsse_envelope: Some(Envelope::sign(IN_TOTO_PAYLOAD_TYPE, statement, key)),
            message_signature: None,
        }
    }

    /// The bundle's JSON bytes, as stored in the referrer's layer.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a bundle always serialises")
    }
}

/// A bundle that verified: its statement and the claims `verify` prints.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedBundle {
    /// The statement's exact bytes (the DSSE payload).
    pub statement: Vec<u8>,
    /// The claims, in the simple-signing shape with the predicate type as `type`.
    pub claims: SimpleSigning,
}

/// Checks the bundle `bytes` (named `what` in reasons) against `key`, the image digest
/// `expected` and the `annotations` asked for. The error says why it was refused.
pub fn check_bundle(
    what: &str,
    bytes: &[u8],
    key: &PublicKey,
    expected: &oci::Digest,
    annotations: &BTreeMap<String, String>,
) -> Result<CheckedBundle, String> {
    let (payload, statement) = open_bundle(what, bytes, Some(key))?;
    if statement.predicate_type != COSIGN_SIGN_PREDICATE {
        return Err(format!(
            "{what}: predicate type {:?} is not an image signature ({COSIGN_SIGN_PREDICATE})",
            statement.predicate_type
        ));
    }
    check_subject(what, &statement, expected)?;
    let claims = statement.as_claims(expected);
    if let Some(missing) = claims.missing_annotation(annotations) {
        return Err(format!("{what}: missing or different annotation {missing}"));
    }
    Ok(CheckedBundle {
        statement: payload,
        claims,
    })
}

/// Checks an attestation bundle `bytes` (named `what` in reasons): signed by `key`, a
/// statement about the image digest `expected` with one of `predicate_types`. Returns the statement
/// (its exact bytes and parsed). With `key` `None` nothing is verified: the statement is
/// only read (the caller says so to the user).
pub fn check_attestation(
    what: &str,
    bytes: &[u8],
    key: Option<&PublicKey>,
    expected: &oci::Digest,
    predicate_types: &[&str],
) -> Result<(Vec<u8>, Statement), String> {
    let (payload, statement) = open_bundle(what, bytes, key)?;
    if !predicate_types.contains(&statement.predicate_type.as_str()) {
        return Err(format!(
            "{what}: predicate type {:?}, not {}",
            statement.predicate_type,
            predicate_types.join(" or ")
        ));
    }
    check_subject(what, &statement, expected)?;
    Ok((payload, statement))
}

/// The bundle's DSSE payload and statement, its signature checked with `key` when given.
fn open_bundle(
    what: &str,
    bytes: &[u8],
    key: Option<&PublicKey>,
) -> Result<(Vec<u8>, Statement), String> {
    let bundle: Bundle =
        serde_json::from_slice(bytes).map_err(|e| format!("{what}: not a sigstore bundle: {e}"))?;
    if !bundle
        .media_type
        .starts_with("application/vnd.dev.sigstore.bundle")
    {
        return Err(format!(
            "{what}: media type {:?} is not a sigstore bundle",
            bundle.media_type
        ));
    }
    let Some(envelope) = bundle.dsse_envelope else {
        return Err(format!(
            "{what}: holds no DSSE envelope (a message signature does not name the image)"
        ));
    };
    if envelope.payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(format!(
            "{what}: payload type {:?}, expected {IN_TOTO_PAYLOAD_TYPE:?}",
            envelope.payload_type
        ));
    }
    if let Some(key) = key
        && !envelope.verify(key)
    {
        return Err(format!(
            "{what}: invalid signature of the DSSE envelope (wrong key, or tampered signature or statement)"
        ));
    }
    let statement = Statement::from_slice(&envelope.payload, what).map_err(|e| e.to_string())?;
    Ok((envelope.payload, statement))
}

/// Refuses a statement that does not name `expected` among its subjects.
fn check_subject(what: &str, statement: &Statement, expected: &oci::Digest) -> Result<(), String> {
    if statement.subject_for(expected).is_none() {
        let named: Vec<String> = statement
            .subject
            .iter()
            .flat_map(|s| s.digest.iter().map(|(a, h)| format!("{a}:{h}")))
            .collect();
        return Err(format!(
            "{what}: the statement is for {}, not {expected} (a signature of another image)",
            if named.is_empty() {
                "no digest".to_string()
            } else {
                named.join(", ")
            }
        ));
    }
    Ok(())
}
