//! Signatures follow copies: after an image is copied, its signature manifests and its
//! sigstore bundles are copied from the source repository to the destination, so the image
//! verifies there too.
//!
//! A signature manifest the destination lacks is copied byte for byte (its digest stays the
//! same). One the destination already has in another form (other signatures of the same
//! image, made there) is merged: the source's signatures are appended, none is lost. A
//! bundle is attached at the destination as signing attaches one (a referrer, plus the
//! `sha256-<hex>` index where the destination lists no referrers); one whose bytes do not
//! match its digest at the source is left behind.

use oci::{Descriptor, Manifest};

use crate::TrustError;
use crate::bundle_repo::{self, Attached};
use crate::repo::SignatureRepo;
use crate::tag_scheme::{self, SignatureLayer};

/// What [`carry`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carried {
    /// Signature manifests written at the destination (copied or merged).
    pub written: usize,
    /// Signature manifests the destination already had, identical.
    pub present: usize,
    /// Referrers attached at the destination: signature bundles and attestations (bundles
    /// of other predicate types, unsigned in-toto statements).
    pub bundles: usize,
}

/// Copies the signatures of each manifest in `subjects` from `src` to `dst`. A manifest
/// without signatures at the source is skipped.
pub async fn carry<S: SignatureRepo, D: SignatureRepo>(
    src: &S,
    dst: &D,
    subjects: &[Descriptor],
) -> Result<Carried, TrustError> {
    let mut out = Carried::default();
    for subject in subjects {
        let what = subject.digest.to_string();
        for referrer in bundle_repo::find_attestations(src, subject, &what).await? {
            // Copied byte for byte (the manifest keeps its digest and annotations); only a
            // referrer that checks out at the source is carried.
            match bundle_repo::copy_referrer(src, dst, subject, &referrer).await {
                Ok(attached) if attached_anything(&attached) => out.bundles += 1,
                Ok(_) | Err(TrustError::BadDocument { .. }) => {}
                Err(TrustError::Transport(
                    e @ transport::TransportError::DigestMismatch { .. },
                )) if !e.is_transient() => {}
                Err(TrustError::Transport(e)) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        let digest = &subject.digest;
        let tag = tag_scheme::signature_tag(digest);
        let Some(sd) = src.resolve(&tag).await? else {
            continue;
        };
        let bytes = src.manifest(&sd).await?;
        match dst.resolve(&tag).await? {
            Some(dd) if dd.digest == sd.digest => out.present += 1,
            Some(dd) => {
                if merge(src, dst, &tag, &bytes, &dd).await? {
                    out.written += 1;
                } else {
                    out.present += 1;
                }
            }
            None => {
                copy_manifest(src, dst, &sd, bytes, &tag).await?;
                out.written += 1;
            }
        }
    }
    Ok(out)
}

/// Copies one manifest and the blobs it names (all small documents), blobs first.
async fn copy_manifest<S: SignatureRepo, D: SignatureRepo>(
    src: &S,
    dst: &D,
    d: &Descriptor,
    bytes: Vec<u8>,
    tag: &str,
) -> Result<(), TrustError> {
    let m = Manifest::from_slice(&bytes).map_err(|e| TrustError::BadDocument {
        what: format!("signature manifest {tag}"),
        detail: format!("not an image manifest: {e}"),
    })?;
    for b in std::iter::once(&m.config).chain(&m.layers) {
        let blob = fetch_checked(src, b).await?;
        dst.put_blob(b, blob).await?;
    }
    dst.put_manifest(d, bytes, tag).await
}

/// Appends the source's signatures to the destination's signature manifest `dd`; false
/// when the destination already had every one of them.
async fn merge<S: SignatureRepo, D: SignatureRepo>(
    src: &S,
    dst: &D,
    tag: &str,
    src_manifest: &[u8],
    dd: &Descriptor,
) -> Result<bool, TrustError> {
    let existing =
        tag_scheme::signature_descriptors(&dst.manifest(dd).await?, &format!("{tag} (copy)"))?;
    let mut added = Vec::new();
    for l in tag_scheme::signature_descriptors(src_manifest, tag)? {
        let present = existing.iter().any(|e| {
            e.digest == l.digest
                && e.annotations.get(tag_scheme::SIGNATURE_ANNOTATION)
                    == l.annotations.get(tag_scheme::SIGNATURE_ANNOTATION)
        });
        if present {
            continue;
        }
        let payload = fetch_checked(src, &l).await?;
        added.push(SignatureLayer {
            descriptor: l,
            payload,
        });
    }
    let Some((image, new_layers)) = tag_scheme::append(&existing, &added) else {
        return Ok(false);
    };
    for l in new_layers {
        dst.put_blob(&l.descriptor, l.payload).await?;
    }
    let (config_desc, config) = image.config;
    dst.put_blob(&config_desc, config).await?;
    dst.put_manifest(&image.descriptor, image.manifest, tag)
        .await?;
    Ok(true)
}

/// A blob from `src`, refused when its bytes do not match its digest (a copy never
/// launders a tampered signature into a good-looking one: verify would catch it, but the
/// copy should not write it).
async fn fetch_checked<S: SignatureRepo>(src: &S, d: &Descriptor) -> Result<Vec<u8>, TrustError> {
    let blob = src.blob(d).await?;
    if !d.digest.verify(&blob) {
        return Err(TrustError::BadDocument {
            what: format!("signature blob {}", d.digest),
            detail: "its bytes do not match its digest at the source".to_string(),
        });
    }
    Ok(blob)
}

/// Whether attaching wrote anything (a new referrer, or a new entry in the index).
fn attached_anything(a: &Attached) -> bool {
    match a {
        Attached::Referrers { added, .. } | Attached::TagSchema { added, .. } => *added,
    }
}
