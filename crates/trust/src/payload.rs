//! The "simple signing" payload a cosign signature is made over, and the annotation
//! checks of `verify -a key=value`.
//!
//! cosign marshals a Go struct, so the field order and spelling are fixed:
//! `{"critical":{"identity":{"docker-reference":R},"image":{"docker-manifest-digest":D},
//! "type":"cosign container image signature"},"optional":null}`, with `optional` an object
//! of the `-a` annotations (keys sorted, as Go writes maps) when there are any. The
//! signature covers these exact bytes; a verifier parses the bytes it was given and never
//! re-serialises them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::TrustError;

/// The `type` every cosign image signature payload carries.
pub const COSIGN_SIGNATURE_TYPE: &str = "cosign container image signature";

/// A parsed simple-signing payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimpleSigning {
    /// What the signature vouches for.
    pub critical: Critical,
    /// Annotations (`-a key=value`); `null` when none, as cosign writes.
    pub optional: Option<BTreeMap<String, serde_json::Value>>,
}

/// The part a verifier must check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Critical {
    /// The repository the image was signed in.
    pub identity: Identity,
    /// The manifest signed.
    pub image: Image,
    /// Always [`COSIGN_SIGNATURE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
}

/// `critical.identity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The repository (`registry/path`, no tag or digest).
    #[serde(rename = "docker-reference")]
    pub docker_reference: String,
}

/// `critical.image`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Image {
    /// The signed manifest's digest (`sha256:…`).
    #[serde(rename = "docker-manifest-digest")]
    pub docker_manifest_digest: String,
}

impl SimpleSigning {
    /// The payload for `repository` at `digest` with `annotations` (string values, as
    /// `cosign sign -a` makes them).
    pub fn new(
        repository: &str,
        digest: &oci::Digest,
        annotations: &BTreeMap<String, String>,
    ) -> SimpleSigning {
        let optional = (!annotations.is_empty()).then(|| {
            annotations
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect()
        });
        SimpleSigning {
            critical: Critical {
                identity: Identity {
                    docker_reference: repository.to_string(),
                },
                image: Image {
                    docker_manifest_digest: digest.to_string(),
                },
                kind: COSIGN_SIGNATURE_TYPE.to_string(),
            },
            optional,
        }
    }

    /// The bytes to sign: compact JSON in Go's field order (serde keeps declaration order;
    /// `optional` is a `BTreeMap`, sorted like Go's maps).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a payload always serialises")
    }

    /// Parses signed payload bytes; `what` names the signature in errors.
    pub fn from_slice(bytes: &[u8], what: &str) -> Result<SimpleSigning, TrustError> {
        let p: SimpleSigning =
            serde_json::from_slice(bytes).map_err(|e| TrustError::BadDocument {
                what: what.to_string(),
                detail: format!("not a simple-signing payload: {e}"),
            })?;
        if p.critical.kind != COSIGN_SIGNATURE_TYPE {
            return Err(TrustError::BadDocument {
                what: what.to_string(),
                detail: format!(
                    "payload type {:?}, expected {COSIGN_SIGNATURE_TYPE:?}",
                    p.critical.kind
                ),
            });
        }
        Ok(p)
    }

    /// The first of `wanted` that this payload's annotations lack or hold with another
    /// value, as `key=value`; `None` when every one is present. Values compare as strings,
    /// and a non-string value by its JSON text, as cosign's `-a` check does.
    pub fn missing_annotation(&self, wanted: &BTreeMap<String, String>) -> Option<String> {
        let empty = BTreeMap::new();
        let have = self.optional.as_ref().unwrap_or(&empty);
        wanted.iter().find_map(|(k, v)| {
            let ok = match have.get(k) {
                Some(serde_json::Value::String(s)) => s == v,
                Some(other) => serde_json::to_string(other).is_ok_and(|t| t == *v),
                None => false,
            };
            (!ok).then(|| format!("{k}={v}"))
        })
    }
}

/// Parses `-a key=value` flags into a map; a flag without `=` is an error naming it.
pub fn parse_annotations(flags: &[String]) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for f in flags {
        match f.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            _ => return Err(format!("invalid annotation {f:?}: expected key=value")),
        }
    }
    Ok(out)
}

/// The repository name cosign writes as `docker-reference`: go-containerregistry's
/// `Repository.Name()`, which spells Docker Hub `index.docker.io`.
pub fn docker_reference(r: &oci::Reference) -> String {
    let domain = match r.domain() {
        "docker.io" => "index.docker.io",
        d => d,
    };
    format!("{domain}/{}", r.path())
}
