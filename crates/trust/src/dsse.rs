//! DSSE (Dead Simple Signing Envelope): a payload, its type, and signatures over the
//! pre-authentication encoding of both.
//!
//! The signature covers `PAE(payloadType, payload)`, never the payload alone, so a
//! signature cannot be replayed under another payload type. The JSON form carries the
//! payload and each signature in standard base64, as sigstore's bundle does.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::{PrivateKey, PublicKey};

/// The payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// DSSE's pre-authentication encoding:
/// `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, lengths in ASCII decimal.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// A DSSE envelope as JSON carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    /// The payload's bytes (base64 in JSON).
    #[serde(with = "b64")]
    pub payload: Vec<u8>,
    /// What the payload is ([`IN_TOTO_PAYLOAD_TYPE`] for a statement).
    pub payload_type: String,
    /// The signatures; sigstore's bundle holds exactly one.
    pub signatures: Vec<Signature>,
}

/// One signature of an envelope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    /// The DER ECDSA signature of the PAE (base64 in JSON).
    #[serde(with = "b64")]
    pub sig: Vec<u8>,
    /// Which key made it; empty for key-based sigstore bundles, as cosign writes.
    #[serde(default)]
    pub keyid: String,
}

impl Envelope {
    /// `payload` of `payload_type`, signed with `key`.
    pub fn sign(payload_type: &str, payload: Vec<u8>, key: &PrivateKey) -> Envelope {
        let sig = key.sign(&pae(payload_type, &payload));
        Envelope {
            payload,
            payload_type: payload_type.to_string(),
            signatures: vec![Signature {
                sig,
                keyid: String::new(),
            }],
        }
    }

    /// Whether any signature is `key`'s signature of this envelope's PAE.
    pub fn verify(&self, key: &PublicKey) -> bool {
        let message = pae(&self.payload_type, &self.payload);
        self.signatures.iter().any(|s| key.verify(&message, &s.sig))
    }
}

/// Standard base64 (with padding) for byte fields, as protobuf's JSON mapping writes them.
mod b64 {
    use base64::Engine as _;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        super::decode_b64(&s).map_err(serde::de::Error::custom)
    }
}

/// Decodes standard or URL-safe base64, padded or not (protobuf's JSON parsers accept
/// all four, so a verifier must too).
pub fn decode_b64(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let s = s.trim();
    STANDARD
        .decode(s)
        .or_else(|_| STANDARD_NO_PAD.decode(s))
        .or_else(|_| URL_SAFE.decode(s))
        .or_else(|_| URL_SAFE_NO_PAD.decode(s))
}
