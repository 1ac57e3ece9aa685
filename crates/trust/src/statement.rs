//! The in-toto statement (v1) a bundle signature is made over: the image's manifest digest
//! as the subject, and cosign's predicate type for a plain image signature.
//!
//! cosign 3 (`sign --new-bundle-format`) signs `{"_type":"https://in-toto.io/Statement/v1",
//! "subject":[{"name":…,"digest":{"sha256":…}}],"predicateType":
//! "https://sigstore.dev/cosign/sign/v1","predicate":{}}`. `-a key=value` annotations go
//! into the subject's `annotations`, in-toto's place for facts about the subject. As with
//! the simple-signing payload, a verifier parses the signed bytes and never re-serialises.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::TrustError;
use crate::payload::SimpleSigning;

/// The statement type.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// cosign's predicate type for an image signature (no claims beyond the subject).
pub const COSIGN_SIGN_PREDICATE: &str = "https://sigstore.dev/cosign/sign/v1";

/// The predicate type cosign's `attest --type NAME` writes for `name`; a URI (anything with
/// `://`) is taken as the predicate type itself. `None` for a name cosign does not know.
pub fn predicate_type(name: &str) -> Option<String> {
    if name.contains("://") {
        return Some(name.to_string());
    }
    let uri = match name {
        "custom" => "https://cosign.sigstore.dev/attestation/v1",
        "slsaprovenance" | "slsaprovenance02" => "https://slsa.dev/provenance/v0.2",
        "slsaprovenance1" => "https://slsa.dev/provenance/v1",
        "link" => "https://in-toto.io/Link/v1",
        "spdx" | "spdxjson" => SPDX_PREDICATE,
        "cyclonedx" => CYCLONEDX_PREDICATE,
        "vuln" => "https://cosign.sigstore.dev/attestation/vuln/v1",
        "openvex" => "https://openvex.dev/ns",
        _ => return None,
    };
    Some(uri.to_string())
}

/// The SPDX document predicate type (cosign's `spdx`/`spdxjson`, BuildKit's SBOM).
pub const SPDX_PREDICATE: &str = "https://spdx.dev/Document";
/// The CycloneDX BOM predicate type (cosign's `cyclonedx`).
pub const CYCLONEDX_PREDICATE: &str = "https://cyclonedx.org/bom";

/// An in-toto statement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// Always [`STATEMENT_V1`] when written; v0.1 is accepted on reading.
    #[serde(rename = "_type")]
    pub kind: String,
    /// What the statement is about.
    pub subject: Vec<Subject>,
    /// What the predicate means.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The claims; `{}` for an image signature.
    #[serde(default)]
    pub predicate: serde_json::Value,
}

/// One subject: a name and its digests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// The repository (`registry/path`).
    #[serde(default)]
    pub name: String,
    /// Algorithm → lowercase hex.
    pub digest: BTreeMap<String, String>,
    /// `-a` annotations; absent when none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, serde_json::Value>,
}

impl Statement {
    /// The statement signing `repository`'s manifest `digest` with `annotations`.
    pub fn for_image(
        repository: &str,
        digest: &oci::Digest,
        annotations: &BTreeMap<String, String>,
    ) -> Statement {
        let mut s = Statement::attestation(
            repository,
            digest,
            COSIGN_SIGN_PREDICATE,
            serde_json::json!({}),
        );
        s.subject[0].annotations = annotations
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        s
    }

    /// An attestation (`cosign attest`'s statement): `predicate` of `predicate_type` about
    /// `repository`'s manifest `digest`.
    pub fn attestation(
        repository: &str,
        digest: &oci::Digest,
        predicate_type: &str,
        predicate: serde_json::Value,
    ) -> Statement {
        Statement {
            kind: STATEMENT_V1.to_string(),
            subject: vec![Subject {
                name: repository.to_string(),
                digest: BTreeMap::from([(
                    digest.algorithm().name().to_string(),
                    digest.hex().to_string(),
                )]),
                annotations: BTreeMap::new(),
            }],
            predicate_type: predicate_type.to_string(),
            predicate,
        }
    }

    /// The bytes to sign (compact JSON, fields in declaration order).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a statement always serialises")
    }

    /// Parses signed statement bytes; `what` names the bundle in errors.
    pub fn from_slice(bytes: &[u8], what: &str) -> Result<Statement, TrustError> {
        let s: Statement = serde_json::from_slice(bytes).map_err(|e| TrustError::BadDocument {
            what: what.to_string(),
            detail: format!("not an in-toto statement: {e}"),
        })?;
        if !s.kind.starts_with("https://in-toto.io/Statement/") {
            return Err(TrustError::BadDocument {
                what: what.to_string(),
                detail: format!("statement type {:?}, expected {STATEMENT_V1:?}", s.kind),
            });
        }
        Ok(s)
    }

    /// The subject naming `digest`, if any.
    pub fn subject_for(&self, digest: &oci::Digest) -> Option<&Subject> {
        self.subject.iter().find(|s| {
            s.digest
                .get(digest.algorithm().name())
                .is_some_and(|h| h.eq_ignore_ascii_case(digest.hex()))
        })
    }

    /// The statement as the claims `verify` prints for the subject of `digest`, in the
    /// simple-signing shape with `type` set to the predicate type, as cosign 3 prints a
    /// bundle signature.
    pub fn as_claims(&self, digest: &oci::Digest) -> SimpleSigning {
        let subject = self.subject_for(digest);
        let empty = BTreeMap::new();
        let annotations = subject.map_or(&empty, |s| &s.annotations);
        let mut claims = SimpleSigning::new(
            subject.map_or("", |s| s.name.as_str()),
            digest,
            &BTreeMap::new(),
        );
        claims.critical.kind = self.predicate_type.clone();
        claims.optional = Some(annotations.clone());
        claims
    }
}
