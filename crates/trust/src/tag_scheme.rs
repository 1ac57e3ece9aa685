//! cosign's tag scheme: the signatures of manifest `sha256:<hex>` are the layers of an OCI
//! image manifest tagged `sha256-<hex>.sig` in the same repository.
//!
//! Each layer is a simple-signing payload (media type [`SIMPLE_SIGNING_MEDIA_TYPE`]) whose
//! descriptor carries the base64 DER signature in [`SIGNATURE_ANNOTATION`]. The config is
//! the minimal image config go-containerregistry's `mutate` gives such an image (one
//! `diff_id` per layer: the payloads are not compressed). Adding a signature appends a
//! layer and keeps the others, as `cosign sign` does.

use std::collections::BTreeMap;

use oci::{Descriptor, Digest, Manifest};

use crate::TrustError;

/// The media type of a signature layer.
pub const SIMPLE_SIGNING_MEDIA_TYPE: &str = "application/vnd.dev.cosign.simplesigning.v1+json";
/// The layer annotation holding the base64 signature.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";

/// The tag the signatures of `digest` live under: `sha256-<hex>.sig`.
pub fn signature_tag(digest: &Digest) -> String {
    format!("{}-{}.sig", digest.algorithm().name(), digest.hex())
}

/// One signature: the payload's bytes and the layer descriptor that names them.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureLayer {
    /// The layer descriptor (digest and size of `payload`, the signature annotation).
    pub descriptor: Descriptor,
    /// The payload bytes the signature is over.
    pub payload: Vec<u8>,
}

impl SignatureLayer {
    /// A layer for `payload` signed with the DER `signature`.
    pub fn new(payload: Vec<u8>, signature: &[u8]) -> SignatureLayer {
        use base64::Engine as _;
        let mut descriptor = Descriptor::of_bytes(SIMPLE_SIGNING_MEDIA_TYPE, &payload);
        descriptor.annotations.insert(
            SIGNATURE_ANNOTATION.to_string(),
            base64::engine::general_purpose::STANDARD.encode(signature),
        );
        SignatureLayer {
            descriptor,
            payload,
        }
    }

    /// The base64 signature from the annotation, if the layer has one.
    pub fn signature_b64(&self) -> Option<&str> {
        self.descriptor
            .annotations
            .get(SIGNATURE_ANNOTATION)
            .map(String::as_str)
    }

    /// Whether `other` is the same signature (same payload digest and signature): adding it
    /// again changes nothing.
    pub fn same_as(&self, other: &SignatureLayer) -> bool {
        self.descriptor.digest == other.descriptor.digest
            && self.signature_b64() == other.signature_b64()
    }
}

/// A signature manifest to write: its bytes and the blobs (config, new payloads) it needs.
#[derive(Debug, Clone)]
pub struct SignatureImage {
    /// The manifest's descriptor.
    pub descriptor: Descriptor,
    /// The manifest's exact bytes.
    pub manifest: Vec<u8>,
    /// The config blob's descriptor and bytes.
    pub config: (Descriptor, Vec<u8>),
}

/// The signature manifest holding `existing` layers (descriptors as they were, kept
/// byte-for-byte) followed by `added` ones not already among them. Returns `None` when
/// nothing was added (every new signature was already there).
pub fn append(
    existing: &[Descriptor],
    added: &[SignatureLayer],
) -> Option<(SignatureImage, Vec<SignatureLayer>)> {
    let mut layers = existing.to_vec();
    let mut new = Vec::new();
    for a in added {
        let dup = layers.iter().any(|d| {
            d.digest == a.descriptor.digest
                && d.annotations.get(SIGNATURE_ANNOTATION)
                    == a.descriptor.annotations.get(SIGNATURE_ANNOTATION)
        });
        if !dup {
            layers.push(a.descriptor.clone());
            new.push(a.clone());
        }
    }
    if new.is_empty() {
        return None;
    }
    Some((image_of(layers), new))
}

/// The manifest and config for these layers.
fn image_of(layers: Vec<Descriptor>) -> SignatureImage {
    let diff_ids: Vec<String> = layers.iter().map(|l| l.digest.to_string()).collect();
    let history: Vec<serde_json::Value> = layers
        .iter()
        .map(|_| serde_json::json!({"created": "0001-01-01T00:00:00Z"}))
        .collect();
    let config = serde_json::json!({
        "architecture": "",
        "created": "0001-01-01T00:00:00Z",
        "history": history,
        "os": "",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    });
    let config = serde_json::to_vec(&config).expect("a config serialises");
    let config_desc = Descriptor::of_bytes(oci::media::OCI_CONFIG, &config);
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(oci::media::OCI_MANIFEST.to_string()),
        artifact_type: None,
        config: config_desc.clone(),
        layers,
        subject: None,
        annotations: BTreeMap::new(),
    };
    let bytes = manifest.to_vec();
    SignatureImage {
        descriptor: Descriptor::of_bytes(oci::media::OCI_MANIFEST, &bytes),
        manifest: bytes,
        config: (config_desc, config),
    }
}

/// The signature layer descriptors of a signature manifest's bytes (layers of other media
/// types are skipped: cosign ignores them too). `what` names the tag in errors.
pub fn signature_descriptors(manifest: &[u8], what: &str) -> Result<Vec<Descriptor>, TrustError> {
    let m = Manifest::from_slice(manifest).map_err(|e| TrustError::BadDocument {
        what: what.to_string(),
        detail: format!("not an image manifest: {e}"),
    })?;
    Ok(m.layers)
}
