//! `verify`: the image's signature manifest is fetched and each signature layer checked,
//! and so is each sigstore bundle attached to it; the image verifies when at least one
//! signature of either form passes every check (bundles: [`crate::bundle::check_bundle`]).
//!
//! A layer passes when its payload hashes to the layer digest, the annotation's signature
//! is the key's signature of those exact bytes, the payload is a cosign simple-signing
//! payload naming the image's manifest digest, and it carries every annotation asked for.
//! [`check_layer`] is that decision, without I/O.

use std::collections::BTreeMap;

use base64::Engine as _;
use futures::StreamExt as _;
use oci::{Descriptor, Digest};

use crate::bundle::check_bundle;
use crate::bundle_repo;
use crate::payload::SimpleSigning;
use crate::repo::SignatureRepo;
use crate::tag_scheme::{self, SIGNATURE_ANNOTATION, SIMPLE_SIGNING_MEDIA_TYPE};
use crate::{PublicKey, TrustError};

/// How many signature payloads are fetched at once.
const PARALLEL_FETCHES: usize = 8;

/// A signature that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The signature layer's descriptor, or for a bundle the referrer manifest's.
    pub layer: Descriptor,
    /// The signed payload's exact bytes (for a bundle, the in-toto statement).
    pub payload: Vec<u8>,
    /// The claims: the simple-signing payload, or a bundle's statement in that shape with
    /// the predicate type as `type`.
    pub parsed: SimpleSigning,
    /// Whether it is a sigstore bundle rather than a `.sig` layer.
    pub bundle: bool,
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

/// Verifies the image `reference` (a tag or digest) in `repo` with `key`: its `.sig`
/// signatures and its sigstore bundles (referrers, or the `sha256-<hex>` index where the
/// repository lacks the API); it verifies when any of either form does. `image` names it
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
    verify_digest(repo, image, &top, key, annotations).await
}

/// Verifies the manifest `top` in `repo` with `key`, as [`verify`] does once it has
/// resolved the image (a caller that already holds the descriptor checks exactly that one).
pub async fn verify_digest<R: SignatureRepo>(
    repo: &R,
    image: &str,
    top: &Descriptor,
    key: &PublicKey,
    annotations: &BTreeMap<String, String>,
) -> Result<Verification, TrustError> {
    let mut verified = Vec::new();
    let mut reasons = Vec::new();
    let tag = tag_scheme::signature_tag(&top.digest);
    let had_tag = match repo.resolve(&tag).await? {
        Some(sig_manifest) => {
            let bytes = repo.manifest(&sig_manifest).await?;
            let layers = tag_scheme::signature_descriptors(&bytes, &format!("{image} {tag}"))?;
            let layers: Vec<Descriptor> = layers
                .into_iter()
                .filter(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE)
                .collect();
            if layers.is_empty() {
                reasons.push(format!("{tag} holds no signature layers"));
            }
            let check = |l| check_sig_layer(repo, l, key, &top.digest, annotations);
            check_each(layers, check, &mut verified, &mut reasons).await;
            true
        }
        None => false,
    };
    let referrers = bundle_repo::find(repo, top, image).await?;
    let had_bundles = !referrers.is_empty();
    let check = |d| check_bundle_referrer(repo, d, key, &top.digest, annotations);
    check_each(referrers, check, &mut verified, &mut reasons).await;
    if verified.is_empty() {
        if !had_tag && !had_bundles {
            reasons.push(format!(
                "no signatures found (no {tag} tag, no sigstore bundle referrers)"
            ));
        }
        return Err(TrustError::NoMatchingSignatures {
            image: image.to_string(),
            reasons,
        });
    }
    Ok(Verification {
        digest: top.digest.clone(),
        verified,
    })
}

/// Runs `check` on each of `items`, several at once (signatures are small and
/// independent, and an image may carry many), adding each outcome to `verified` or
/// `reasons` in the items' order.
async fn check_each<F, Fut>(
    items: Vec<Descriptor>,
    check: F,
    verified: &mut Vec<Verified>,
    reasons: &mut Vec<String>,
) where
    F: Fn(Descriptor) -> Fut,
    Fut: std::future::Future<Output = Result<Verified, String>>,
{
    let outcomes: Vec<_> = futures::stream::iter(items)
        .map(check)
        .buffered(PARALLEL_FETCHES)
        .collect()
        .await;
    for o in outcomes {
        match o {
            Ok(v) => verified.push(v),
            Err(why) => reasons.push(why),
        }
    }
}

/// Fetches and checks one `.sig` signature layer.
async fn check_sig_layer<R: SignatureRepo>(
    repo: &R,
    layer: Descriptor,
    key: &PublicKey,
    expected: &Digest,
    annotations: &BTreeMap<String, String>,
) -> Result<Verified, String> {
    let payload = repo
        .blob(&layer)
        .await
        .map_err(|e| format!("layer {}: {e}", layer.digest))?;
    let parsed = check_layer(&layer, &payload, key, expected, annotations)?;
    Ok(Verified {
        layer,
        payload,
        parsed,
        bundle: false,
    })
}

/// Fetches and checks one bundle referrer.
async fn check_bundle_referrer<R: SignatureRepo>(
    repo: &R,
    referrer: Descriptor,
    key: &PublicKey,
    expected: &Digest,
    annotations: &BTreeMap<String, String>,
) -> Result<Verified, String> {
    let bundle = bundle_repo::bundle_of(repo, &referrer, expected).await?;
    let what = format!("bundle referrer {}", referrer.digest);
    let checked = check_bundle(&what, &bundle, key, expected, annotations)?;
    Ok(Verified {
        layer: referrer,
        payload: checked.statement,
        parsed: checked.claims,
        bundle: true,
    })
}

/// Verifies the attestations of `predicate_type` attached to the manifest `top` in `repo`
/// (sigstore bundle referrers, as `cosign verify-attestation --type` checks them): it
/// verifies when one of them is signed by `key` and names `top`. Unsigned in-toto
/// attestations never verify. `image` names it in errors.
pub async fn verify_attestations<R: SignatureRepo>(
    repo: &R,
    image: &str,
    top: &Descriptor,
    key: &PublicKey,
    predicate_type: &str,
) -> Result<Verification, TrustError> {
    let referrers: Vec<Descriptor> = bundle_repo::find(repo, top, image)
        .await?
        .into_iter()
        // The annotation only saves fetching others: the signed statement decides.
        .filter(|d| crate::referrer::predicate_type_of(d).is_none_or(|t| t == predicate_type))
        .collect();
    let mut verified = Vec::new();
    let mut reasons = Vec::new();
    if referrers.is_empty() {
        reasons.push(format!(
            "no signed attestation of type {predicate_type} (no sigstore bundle referrers)"
        ));
    }
    let check = |d: Descriptor| async move {
        let bundle = bundle_repo::bundle_of(repo, &d, &top.digest).await?;
        let what = format!("attestation referrer {}", d.digest);
        let (payload, statement) = crate::bundle::check_attestation(
            &what,
            &bundle,
            Some(key),
            &top.digest,
            &[predicate_type],
        )?;
        Ok(Verified {
            layer: d,
            parsed: statement.as_claims(&top.digest),
            payload,
            bundle: true,
        })
    };
    check_each(referrers, check, &mut verified, &mut reasons).await;
    if verified.is_empty() {
        return Err(TrustError::NoMatchingSignatures {
            image: image.to_string(),
            reasons,
        });
    }
    Ok(Verification {
        digest: top.digest.clone(),
        verified,
    })
}
