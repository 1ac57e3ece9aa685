//! `sign`: a simple-signing payload for the image's manifest digest, signed with the key,
//! appended to the image's `sha256-<hex>.sig` signature manifest; or, with
//! [`SignOptions::bundle`], a sigstore bundle attached as a referrer of the manifest.

use std::collections::BTreeMap;

use oci::{Descriptor, Digest, Index};

use crate::bundle::Bundle;
use crate::bundle_repo::{self, Attached};
use crate::payload::SimpleSigning;
use crate::repo::SignatureRepo;
use crate::tag_scheme::{self, SignatureLayer};
use crate::{PrivateKey, TrustError};

/// What to sign and how.
#[derive(Debug, Clone, Default)]
pub struct SignOptions {
    /// `-a key=value` annotations, written into the payload's `optional`.
    pub annotations: BTreeMap<String, String>,
    /// Sign every manifest of an index too, not only the index.
    pub recursive: bool,
    /// Write the sigstore bundle form (a referrer) instead of the `.sig` tag, as cosign 3
    /// does by default (`--new-bundle-format`).
    pub bundle: bool,
}

/// One manifest signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The manifest (or index) digest the signature is for.
    pub digest: Digest,
    /// The tag the signature manifest was written under: the `.sig` tag, or for a bundle
    /// the referrers tag schema's `sha256-<hex>` when the repository has no referrers API,
    /// else the referrer manifest's digest.
    pub tag: String,
    /// False when the same signature was already there (nothing was written).
    pub added: bool,
    /// Where a bundle went; `None` for the tag scheme.
    pub bundle: Option<Attached>,
}

/// Signs the image `reference` (a tag or digest) in `repo`, whose repository name as
/// written into the payload is `docker_reference`. Returns what was signed, the top
/// manifest first.
pub async fn sign<R: SignatureRepo>(
    repo: &R,
    docker_reference: &str,
    reference: &str,
    key: &PrivateKey,
    opts: &SignOptions,
) -> Result<Vec<Signed>, TrustError> {
    let top = repo
        .resolve(reference)
        .await?
        .ok_or_else(|| TrustError::BadDocument {
            what: format!("{docker_reference}:{reference}"),
            detail: "no such image in the registry".to_string(),
        })?;
    let recurse = opts.recursive && oci::media::is_index(&top.media_type);
    let mut targets = vec![top.clone()];
    if recurse {
        targets.extend(children(repo, &top).await?);
    }
    let mut out = Vec::with_capacity(targets.len());
    for target in targets {
        out.push(if opts.bundle {
            sign_bundle(repo, docker_reference, &target, key, &opts.annotations).await?
        } else {
            sign_digest(
                repo,
                docker_reference,
                &target.digest,
                key,
                &opts.annotations,
            )
            .await?
        });
    }
    Ok(out)
}

/// The descriptors of an index's manifests, in order, without repeated digests.
async fn children<R: SignatureRepo>(
    repo: &R,
    index: &Descriptor,
) -> Result<Vec<Descriptor>, TrustError> {
    let bytes = repo.manifest(index).await?;
    let idx = Index::from_slice(&bytes)?;
    let mut seen: Vec<Descriptor> = Vec::new();
    for m in idx.manifests {
        if !seen.iter().any(|s| s.digest == m.digest) {
            seen.push(m);
        }
    }
    Ok(seen)
}

/// Signs one manifest in the bundle form: a DSSE-signed in-toto statement naming it,
/// attached as a referrer of `subject`.
pub async fn sign_bundle<R: SignatureRepo>(
    repo: &R,
    docker_reference: &str,
    subject: &Descriptor,
    key: &PrivateKey,
    annotations: &BTreeMap<String, String>,
) -> Result<Signed, TrustError> {
    let bundle = Bundle::sign(docker_reference, &subject.digest, annotations, key).to_bytes();
    let attached = bundle_repo::attach(repo, subject, bundle).await?;
    let (tag, added) = match &attached {
        Attached::Referrers { manifest, added } => (manifest.to_string(), *added),
        Attached::TagSchema { tag, added, .. } => (tag.clone(), *added),
    };
    Ok(Signed {
        digest: subject.digest.clone(),
        tag,
        added,
        bundle: Some(attached),
    })
}

/// Signs one manifest digest: builds the payload, signs it, appends it to the signature
/// manifest (reading the one there first, so earlier signatures are kept).
pub async fn sign_digest<R: SignatureRepo>(
    repo: &R,
    docker_reference: &str,
    digest: &Digest,
    key: &PrivateKey,
    annotations: &BTreeMap<String, String>,
) -> Result<Signed, TrustError> {
    let payload = SimpleSigning::new(docker_reference, digest, annotations).to_bytes();
    let signature = key.sign(&payload);
    let layer = SignatureLayer::new(payload, &signature);
    let tag = tag_scheme::signature_tag(digest);
    let existing = match repo.resolve(&tag).await? {
        Some(d) => {
            let bytes = repo.manifest(&d).await?;
            tag_scheme::signature_descriptors(&bytes, &format!("{docker_reference}:{tag}"))?
        }
        None => Vec::new(),
    };
    let Some((image, new_layers)) = tag_scheme::append(&existing, std::slice::from_ref(&layer))
    else {
        return Ok(Signed {
            digest: digest.clone(),
            tag,
            added: false,
            bundle: None,
        });
    };
    // Blobs before the manifest that names them: a registry may refuse a manifest whose
    // blobs it lacks.
    for l in new_layers {
        repo.put_blob(&l.descriptor, l.payload).await?;
    }
    let (config_desc, config) = image.config;
    repo.put_blob(&config_desc, config).await?;
    repo.put_manifest(&image.descriptor, image.manifest, &tag)
        .await?;
    Ok(Signed {
        digest: digest.clone(),
        tag,
        added: true,
        bundle: None,
    })
}
