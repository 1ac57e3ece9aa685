//! `verify`: the image's signature manifest is fetched and each signature layer checked;
//! the image verifies when at least one layer passes every check.
//!
//! A layer passes when its payload hashes to the layer digest, the annotation's signature
//! is the key's signature of those exact bytes, the payload is a cosign simple-signing
//! payload naming the image's manifest digest, and it carries every annotation asked for.
//! [`check_layer`] is that decision, without I/O.

use std::collections::BTreeMap;

use base64::Engine as _;
use futures::StreamExt as _;
use oci::{Descriptor, Digest};

use crate::payload::SimpleSigning;
use crate::repo::SignatureRepo;
use crate::tag_scheme::{self, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE};
use crate::{PublicKey, TrustError};

/// How many signature payloads are fetched at once.
const PARALLEL_FETCHES: usize = 8;

/// A signature that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The signature layer's descriptor.
    pub layer: Descriptor,
    /// The payload's exact bytes.
    pub payload: Vec<u8>,
    /// The payload, parsed.
    pub parsed: SimpleSigning,
}

/// The outcome of verifying an image.
#[derive(Debug, Clone)]
pub struct Verification {
    /// The image's manifest digest the signatures were checked against.
    pub digest: Digest,
    /// The signatures that verified (at least one).
    pub verified: Vec<Verified>,
}

/// Checks one signature layer whose blob is `payload` against `key`, the image digest
/// `expected` and the `annotations` asked for. The error says why it was refused.
pub fn check_layer(
    layer: &Descriptor,
    payload: &[u8],
    key: &PublicKey,
    expected: &Digest,
    annotations: &BTreeMap<String, String>,
) -> Result<SimpleSigning, String> {
    if layer.media_type != SIMPLE_SIGNING_MEDIA_TYPE {
        return Err(format!(
            "layer {} is {}, not a simple-signing payload",
            layer.digest, layer.media_type
        ));
    }
    if !layer.digest.verify(payload) {
        return Err(format!(
            "payload {} does not match its digest (tampered payload)",
            layer.digest
        ));
    }
    let Some(b64) = layer.annotations.get(SIGNATURE_ANNOTATION) else {
        return Err(format!(
            "layer {} has no {SIGNATURE_ANNOTATION} annotation",
            layer.digest
        ));
    };
    let signature = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|e| format!("layer {}: signature is not base64: {e}", layer.digest))?;
    if !key.verify(payload, &signature) {
        return Err(format!(
            "layer {}: invalid signature when validating ASN.1 encoded signature (wrong key, or tampered signature or payload)",
            layer.digest
        ));
    }
    let parsed = SimpleSigning::from_slice(payload, &format!("payload {}", layer.digest))
        .map_err(|e| e.to_string())?;
    let signed = &parsed.critical.image.docker_manifest_digest;
    if signed != &expected.to_string() {
        return Err(format!(
            "layer {}: the payload is for {signed}, not this image's digest {expected} (signature of another image)",
            layer.digest
        ));
    }
    if let Some(missing) = parsed.missing_annotation(annotations) {
        return Err(format!(
            "layer {}: missing or different annotation {missing}",
            layer.digest
        ));
    }
    Ok(parsed)
}

/// Verifies the image `reference` (a tag or digest) in `repo` with `key`. `image` names it
/// in errors. Fails with [`TrustError::NoMatchingSignatures`] and one reason per signature
/// when none verifies.
pub async fn verify<R: SignatureRepo>(
    repo: &R,
    image: &str,
    reference: &str,
    key: &PublicKey,
    annotations: &BTreeMap<String, String>,
) -> Result<Verification, TrustError> {
    let top = repo
        .resolve(reference)
        .await?
        .ok_or_else(|| TrustError::BadDocument {
            what: image.to_string(),
            detail: "no such image in the registry".to_string(),
        })?;
    verify_digest(repo, image, &top.digest, key, annotations).await
}

/// Verifies the manifest `digest` in `repo` with `key`, as [`verify`] does once it has
/// resolved the image (a caller that already holds the digest checks exactly that one).
pub async fn verify_digest<R: SignatureRepo>(
    repo: &R,
    image: &str,
    digest: &Digest,
    key: &PublicKey,
    annotations: &BTreeMap<String, String>,
) -> Result<Verification, TrustError> {
    let refused = |reasons: Vec<String>| TrustError::NoMatchingSignatures {
        image: image.to_string(),
        reasons,
    };
    let tag = tag_scheme::signature_tag(digest);
    let Some(sig_manifest) = repo.resolve(&tag).await? else {
        return Err(refused(vec![format!("no signatures found (no {tag} tag)")]));
    };
    let bytes = repo.manifest(&sig_manifest).await?;
    let layers = tag_scheme::signature_descriptors(&bytes, &format!("{image} {tag}"))?;
    let mut verified = Vec::new();
    let mut reasons = Vec::new();
    // Payloads are small and independent: fetch several at once (an image may carry many
    // signatures), keeping the manifest's order for the output.
    let fetched: Vec<_> = futures::stream::iter(
        layers
            .into_iter()
            .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE),
    )
    .map(|layer| async move {
        let payload = repo.blob(&layer).await;
        (layer, payload)
    })
    .buffered(PARALLEL_FETCHES)
    .collect()
    .await;
    for (layer, payload) in fetched {
        let payload = match payload {
            Ok(p) => p,
            Err(e) => {
                reasons.push(format!("layer {}: {e}", layer.digest));
                continue;
            }
        };
        match check_layer(&layer, &payload, key, digest, annotations) {
            Ok(parsed) => verified.push(Verified {
                layer,
                payload,
                parsed,
            }),
            Err(why) => reasons.push(why),
        }
    }
    if verified.is_empty() {
        if reasons.is_empty() {
            reasons.push(format!("{tag} holds no signature layers"));
        }
        return Err(refused(reasons));
    }
    Ok(Verification {
        digest: digest.clone(),
        verified,
    })
}
