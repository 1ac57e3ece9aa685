//! Bundles in a repository: attaching one to an image (a referrer manifest, plus the
//! referrers tag schema's index where the repository cannot list referrers) and finding
//! an image's bundles again.

use oci::Descriptor;

use crate::TrustError;
use crate::bundle::BUNDLE_V03_MEDIA_TYPE;
use crate::referrer::{self, BundleArtifact};
use crate::repo::SignatureRepo;

/// Where a bundle was attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// A referrer manifest the repository's referrers API lists.
    Referrers {
        /// The referrer manifest's digest.
        manifest: oci::Digest,
        /// False when the same referrer was already there.
        added: bool,
    },
    /// A referrer manifest listed in the `sha256-<hex>` index (no referrers API).
    TagSchema {
        /// The referrer manifest's digest.
        manifest: oci::Digest,
        /// The index's tag.
        tag: String,
        /// False when the index already listed it.
        added: bool,
    },
}

impl Attached {
    /// The referrer manifest's digest.
    pub fn manifest(&self) -> &oci::Digest {
        match self {
            Attached::Referrers { manifest, .. } | Attached::TagSchema { manifest, .. } => manifest,
        }
    }
}

/// Attaches the bundle JSON `bundle` to `subject`: blobs, then the referrer manifest by
/// digest, then, when `repo` lists no referrers, the referrer added to the fallback index
/// (read, extended, written back: earlier referrers are kept).
pub async fn attach<R: SignatureRepo>(
    repo: &R,
    subject: &Descriptor,
    bundle: Vec<u8>,
) -> Result<Attached, TrustError> {
    let artifact = BundleArtifact::new(bundle, subject);
    let manifest = artifact.descriptor.digest.clone();
    let listed = repo.referrers(subject, Some(BUNDLE_V03_MEDIA_TYPE)).await?;
    let already = listed
        .as_ref()
        .is_some_and(|l| l.iter().any(|d| d.digest == manifest));
    if !already {
        // Blobs before the manifest that names them: a registry may refuse a manifest whose
        // blobs it lacks.
        let (config_desc, config) = artifact.config;
        repo.put_blob(&config_desc, config).await?;
        let (layer_desc, layer) = artifact.layer;
        repo.put_blob(&layer_desc, layer).await?;
        repo.put_manifest_untagged(&artifact.descriptor, artifact.manifest)
            .await?;
    }
    if listed.is_some() {
        return Ok(Attached::Referrers {
            manifest,
            added: !already,
        });
    }
    let tag = referrer::fallback_tag(&subject.digest);
    let existing = match repo.resolve(&tag).await? {
        Some(d) => Some(repo.manifest(&d).await?),
        None => None,
    };
    let added = match referrer::add_to_fallback_index(existing.as_deref(), &artifact.descriptor) {
        Some((desc, bytes)) => {
            repo.put_manifest(&desc, bytes, &tag).await?;
            true
        }
        None => false,
    };
    Ok(Attached::TagSchema {
        manifest,
        tag,
        added,
    })
}

/// The bundle referrers of `subject`: from the referrers API when the repository has it,
/// else from the `sha256-<hex>` index (none when that tag is missing). `what` names the
/// image in errors.
pub async fn find<R: SignatureRepo>(
    repo: &R,
    subject: &Descriptor,
    what: &str,
) -> Result<Vec<Descriptor>, TrustError> {
    if let Some(listed) = repo.referrers(subject, Some(BUNDLE_V03_MEDIA_TYPE)).await? {
        return Ok(referrer::bundle_referrers(listed));
    }
    let tag = referrer::fallback_tag(&subject.digest);
    let Some(d) = repo.resolve(&tag).await? else {
        return Ok(Vec::new());
    };
    let bytes = repo.manifest(&d).await?;
    let index = oci::Index::from_slice(&bytes).map_err(|e| TrustError::BadDocument {
        what: format!("{what} {tag}"),
        detail: format!("not a referrers index: {e}"),
    })?;
    Ok(referrer::bundle_referrers(index.manifests))
}

/// The bundle JSON of a referrer manifest `d` found for `subject`, or why it cannot be
/// one: the manifest must name `subject` and hold a bundle layer that matches its digest.
pub async fn bundle_of<R: SignatureRepo>(
    repo: &R,
    d: &Descriptor,
    subject: &oci::Digest,
) -> Result<Vec<u8>, String> {
    let what = format!("bundle referrer {}", d.digest);
    let bytes = repo.manifest(d).await.map_err(|e| format!("{what}: {e}"))?;
    let m = oci::Manifest::from_slice(&bytes).map_err(|e| format!("{what}: {e}"))?;
    check_referrer(&what, &m, subject)?;
    let layer = m
        .layers
        .iter()
        .find(|l| l.media_type.starts_with(referrer::BUNDLE_ARTIFACT_PREFIX))
        .ok_or_else(|| format!("{what}: no bundle layer"))?;
    let blob = repo.blob(layer).await.map_err(|e| format!("{what}: {e}"))?;
    if !layer.digest.verify(&blob) {
        return Err(format!(
            "{what}: bundle {} does not match its digest (tampered bundle)",
            layer.digest
        ));
    }
    Ok(blob)
}

/// A referrer listed for `subject` must say so itself: one listed under another image's
/// tag is a signature copied there.
pub fn check_referrer(what: &str, m: &oci::Manifest, subject: &oci::Digest) -> Result<(), String> {
    match &m.subject {
        Some(s) if s.digest == *subject => Ok(()),
        Some(s) => Err(format!(
            "{what}: its subject is {}, not {subject} (a signature of another image)",
            s.digest
        )),
        None => Err(format!("{what}: has no subject")),
    }
}
