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
    attach_artifact(repo, subject, BundleArtifact::new(bundle, subject)).await
}

/// Attaches `artifact` (made for `subject`: a bundle of any predicate type, or an unsigned
/// in-toto attestation) as [`attach`] does a signature bundle.
pub async fn attach_artifact<R: SignatureRepo>(
    repo: &R,
    subject: &Descriptor,
    artifact: BundleArtifact,
) -> Result<Attached, TrustError> {
    let manifest = artifact.descriptor.digest.clone();
    let kind = artifact
        .descriptor
        .artifact_type
        .clone()
        .unwrap_or_else(|| BUNDLE_V03_MEDIA_TYPE.to_string());
    let listed = repo.referrers(subject, Some(&kind)).await?;
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
    Ok(referrer::bundle_referrers(
        fallback_listing(repo, subject, what).await?,
    ))
}

/// The attestation referrers of `subject` (bundles of any predicate type and unsigned
/// in-toto statements), found as [`find`] finds bundles.
pub async fn find_attestations<R: SignatureRepo>(
    repo: &R,
    subject: &Descriptor,
    what: &str,
) -> Result<Vec<Descriptor>, TrustError> {
    let listed = match repo.referrers(subject, None).await? {
        Some(listed) => listed,
        None => fallback_listing(repo, subject, what).await?,
    };
    Ok(referrer::attestation_referrers(listed))
}

/// The entries of `subject`'s `sha256-<hex>` referrers index; none when the tag is missing.
async fn fallback_listing<R: SignatureRepo>(
    repo: &R,
    subject: &Descriptor,
    what: &str,
) -> Result<Vec<Descriptor>, TrustError> {
    let tag = referrer::fallback_tag(&subject.digest);
    let Some(d) = repo.resolve(&tag).await? else {
        return Ok(Vec::new());
    };
    let bytes = repo.manifest(&d).await?;
    let index = oci::Index::from_slice(&bytes).map_err(|e| TrustError::BadDocument {
        what: format!("{what} {tag}"),
        detail: format!("not a referrers index: {e}"),
    })?;
    Ok(index.manifests)
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

/// The layer of an attestation referrer `d` of `subject` (its media type and bytes), or why
/// it cannot be one: the manifest must name `subject` and hold a sigstore bundle or in-toto
/// statement layer whose bytes match its digest.
pub async fn attestation_of<R: SignatureRepo>(
    repo: &R,
    d: &Descriptor,
    subject: &oci::Digest,
) -> Result<(String, Vec<u8>), String> {
    let what = format!("attestation referrer {}", d.digest);
    let bytes = repo.manifest(d).await.map_err(|e| format!("{what}: {e}"))?;
    let m = oci::Manifest::from_slice(&bytes).map_err(|e| format!("{what}: {e}"))?;
    check_referrer(&what, &m, subject)?;
    let layer = m
        .layers
        .iter()
        .find(|l| referrer::is_attestation_type(&l.media_type))
        .ok_or_else(|| format!("{what}: no bundle or in-toto statement layer"))?;
    let blob = repo.blob(layer).await.map_err(|e| format!("{what}: {e}"))?;
    if !layer.digest.verify(&blob) {
        return Err(format!(
            "{what}: layer {} does not match its digest (tampered attestation)",
            layer.digest
        ));
    }
    Ok((layer.media_type.clone(), blob))
}

/// Copies the attestation referrer `d` of `subject` from `src` to `dst` byte for byte (its
/// manifest and blobs, each checked against its digest), attached at `dst` as [`attach`]
/// does. The error says why it was left behind.
pub async fn copy_referrer<S: SignatureRepo, D: SignatureRepo>(
    src: &S,
    dst: &D,
    subject: &Descriptor,
    d: &Descriptor,
) -> Result<Attached, TrustError> {
    let what = format!("referrer {}", d.digest);
    let bad = |detail: String| TrustError::BadDocument {
        what: what.clone(),
        detail,
    };
    let bytes = src.manifest(d).await?;
    let m = oci::Manifest::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
    check_referrer(&what, &m, &subject.digest).map_err(bad)?;
    let [layer] = m.layers.as_slice() else {
        return Err(bad(format!("{} layers, expected one", m.layers.len())));
    };
    let mut blobs = Vec::with_capacity(2);
    for b in [&m.config, layer] {
        let blob = src.blob(b).await?;
        if !b.digest.verify(&blob) {
            return Err(bad(format!("blob {} does not match its digest", b.digest)));
        }
        blobs.push((b.clone(), blob));
    }
    let layer = blobs.pop().expect("two blobs");
    let config = blobs.pop().expect("two blobs");
    let mut descriptor = Descriptor::of_bytes(oci::media::OCI_MANIFEST, &bytes);
    descriptor.artifact_type = m.artifact_type.clone();
    descriptor.annotations = m.annotations.clone();
    let artifact = BundleArtifact {
        descriptor,
        manifest: bytes,
        config,
        layer,
    };
    attach_artifact(dst, subject, artifact).await
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
