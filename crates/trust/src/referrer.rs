//! How a bundle is attached to the image it signs: an OCI artifact manifest whose
//! `subject` is the image, found through the referrers API, or, where a registry lacks
//! it, through the OCI 1.1 referrers tag schema (an index tagged `sha256-<hex>` listing
//! the referrers of `sha256:<hex>`).
//!
//! The artifact is what cosign 3 writes: `artifactType` the bundle media type, the empty
//! config (`application/vnd.oci.empty.v1+json`, `{}`), one layer holding the bundle JSON,
//! and annotations naming the content and predicate type.
//!
//! An unsigned attestation (`strata attest` without a key) is the same shape with the
//! in-toto statement itself as the layer: artifact type and layer media type
//! `application/vnd.in-toto+json`, and the `in-toto.io/predicate-type` annotation, the
//! names BuildKit gives the attestation manifests it writes.

use std::collections::BTreeMap;

use oci::{Descriptor, Digest, Index, Manifest};

use crate::bundle::BUNDLE_V03_MEDIA_TYPE;
use crate::statement::COSIGN_SIGN_PREDICATE;

/// The annotation saying what the bundle holds (`dsse-envelope`).
pub const BUNDLE_CONTENT_ANNOTATION: &str = "dev.sigstore.bundle.content";
/// The annotation naming the statement's predicate type.
pub const BUNDLE_PREDICATE_ANNOTATION: &str = "dev.sigstore.bundle.predicateType";
/// What every sigstore bundle media type (v0.1 to v0.3) starts with.
pub const BUNDLE_ARTIFACT_PREFIX: &str = "application/vnd.dev.sigstore.bundle";
/// The media type of an in-toto statement (an unsigned attestation's artifact and layer).
pub const IN_TOTO_MEDIA_TYPE: &str = "application/vnd.in-toto+json";
/// The annotation naming an unsigned attestation's predicate type (BuildKit's).
pub const IN_TOTO_PREDICATE_ANNOTATION: &str = "in-toto.io/predicate-type";
/// The empty config's bytes.
pub const EMPTY_CONFIG: &[u8] = b"{}";

/// A referrer artifact to write (a bundle, or an unsigned in-toto attestation): the
/// manifest and the two blobs it names.
#[derive(Debug, Clone)]
pub struct BundleArtifact {
    /// The manifest's descriptor (with `artifactType` and annotations, as an index or a
    /// referrers listing names it).
    pub descriptor: Descriptor,
    /// The manifest's exact bytes.
    pub manifest: Vec<u8>,
    /// The empty config.
    pub config: (Descriptor, Vec<u8>),
    /// The bundle (or statement) layer.
    pub layer: (Descriptor, Vec<u8>),
}

impl BundleArtifact {
    /// The artifact attaching `bundle` (its JSON bytes, an image signature) to `subject`.
    pub fn new(bundle: Vec<u8>, subject: &Descriptor) -> BundleArtifact {
        BundleArtifact::bundle(bundle, subject, COSIGN_SIGN_PREDICATE)
    }

    /// The artifact attaching `bundle`, whose statement has `predicate_type`, to `subject`.
    pub fn bundle(bundle: Vec<u8>, subject: &Descriptor, predicate_type: &str) -> BundleArtifact {
        let annotations = BTreeMap::from([
            (
                BUNDLE_CONTENT_ANNOTATION.to_string(),
                "dsse-envelope".to_string(),
            ),
            (
                BUNDLE_PREDICATE_ANNOTATION.to_string(),
                predicate_type.to_string(),
            ),
        ]);
        BundleArtifact::build(BUNDLE_V03_MEDIA_TYPE, bundle, subject, annotations)
    }

    /// The artifact attaching the unsigned in-toto `statement` (its JSON bytes), whose
    /// predicate type is `predicate_type`, to `subject`.
    pub fn in_toto(
        statement: Vec<u8>,
        subject: &Descriptor,
        predicate_type: &str,
    ) -> BundleArtifact {
        let annotations = BTreeMap::from([(
            IN_TOTO_PREDICATE_ANNOTATION.to_string(),
            predicate_type.to_string(),
        )]);
        BundleArtifact::build(IN_TOTO_MEDIA_TYPE, statement, subject, annotations)
    }

    /// An artifact of type `kind` (also its one layer's media type) holding `layer`.
    fn build(
        kind: &str,
        layer: Vec<u8>,
        subject: &Descriptor,
        annotations: BTreeMap<String, String>,
    ) -> BundleArtifact {
        let config_desc = Descriptor::of_bytes(oci::media::OCI_EMPTY, EMPTY_CONFIG);
        let layer_desc = Descriptor::of_bytes(kind, &layer);
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(oci::media::OCI_MANIFEST.to_string()),
            artifact_type: Some(kind.to_string()),
            config: config_desc.clone(),
            layers: vec![layer_desc.clone()],
            subject: Some(Descriptor::new(
                subject.media_type.clone(),
                subject.digest.clone(),
                subject.size,
            )),
            annotations: annotations.clone(),
        };
        let bytes = manifest.to_vec();
        let mut descriptor = Descriptor::of_bytes(oci::media::OCI_MANIFEST, &bytes);
        descriptor.artifact_type = Some(kind.to_string());
        descriptor.annotations = annotations;
        BundleArtifact {
            descriptor,
            manifest: bytes,
            config: (config_desc, EMPTY_CONFIG.to_vec()),
            layer: (layer_desc, layer),
        }
    }
}

/// The referrers tag schema's tag for `digest`: `sha256-<hex>`.
pub fn fallback_tag(digest: &Digest) -> String {
    format!("{}-{}", digest.algorithm().name(), digest.hex())
}

/// The fallback index with `added` listed after the `existing` index's entries (kept as
/// they were), or `None` when it is already listed. `existing` is the index tagged
/// [`fallback_tag`] when there is one; a tag holding something else is replaced, as the
/// OCI spec's client procedure does.
pub fn add_to_fallback_index(
    existing: Option<&[u8]>,
    added: &Descriptor,
) -> Option<(Descriptor, Vec<u8>)> {
    let mut index = existing
        .and_then(|b| Index::from_slice(b).ok())
        .unwrap_or_else(empty_index);
    if index.manifests.iter().any(|d| d.digest == added.digest) {
        return None;
    }
    index.manifests.push(added.clone());
    let bytes = index.to_vec();
    Some((Descriptor::of_bytes(oci::media::OCI_INDEX, &bytes), bytes))
}

fn empty_index() -> Index {
    Index {
        schema_version: 2,
        media_type: Some(oci::media::OCI_INDEX.to_string()),
        artifact_type: None,
        manifests: Vec::new(),
        subject: None,
        annotations: BTreeMap::new(),
    }
}

/// The bundle referrers among `listed` (a referrers listing or the fallback index's
/// entries): those whose artifact type is the bundle's.
pub fn bundle_referrers(listed: Vec<Descriptor>) -> Vec<Descriptor> {
    listed
        .into_iter()
        .filter(|d| {
            d.artifact_type
                .as_deref()
                .is_some_and(|t| t.starts_with(BUNDLE_ARTIFACT_PREFIX))
        })
        .collect()
}

/// Whether a referrer of artifact type `t` is an attestation or signature this crate
/// reads: a sigstore bundle or an unsigned in-toto statement.
pub fn is_attestation_type(t: &str) -> bool {
    t.starts_with(BUNDLE_ARTIFACT_PREFIX) || t == IN_TOTO_MEDIA_TYPE
}

/// The attestation referrers among `listed`: bundles and unsigned in-toto statements.
pub fn attestation_referrers(listed: Vec<Descriptor>) -> Vec<Descriptor> {
    listed
        .into_iter()
        .filter(|d| d.artifact_type.as_deref().is_some_and(is_attestation_type))
        .collect()
}

/// The predicate type a referrer's descriptor names in its annotations (a bundle's
/// `dev.sigstore.bundle.predicateType`, an in-toto statement's `in-toto.io/predicate-type`).
pub fn predicate_type_of(d: &Descriptor) -> Option<&str> {
    d.annotations
        .get(BUNDLE_PREDICATE_ANNOTATION)
        .or_else(|| d.annotations.get(IN_TOTO_PREDICATE_ANNOTATION))
        .map(String::as_str)
}
