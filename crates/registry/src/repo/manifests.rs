//! Manifests: resolving references, reading, pushing (checked against what the repository
//! holds, safe against a concurrent collector), caching from an upstream, and deleting.

use bytes::Bytes;
use oci::{AnyManifest, Descriptor, Digest, media};

use super::{MANIFEST_MAX, PutManifest, Registry, StoredManifest, parse_digest};
use crate::error::{RepoError, StorageError};
use crate::hold;
use crate::layout::{blob_key, check_name, referrer_entry, revision_link, tag_key};
use crate::names;
use crate::storage;

/// The artifact type a referrer is listed with: its `artifactType`, else (for an image
/// manifest) its config's media type.
fn artifact_type(m: &AnyManifest) -> Option<String> {
    match m {
        AnyManifest::Manifest(m) => m
            .artifact_type
            .clone()
            .or_else(|| Some(m.config.media_type.clone())),
        AnyManifest::Index(i) => i.artifact_type.clone(),
    }
}

fn subject_of(m: &AnyManifest) -> Option<&Descriptor> {
    match m {
        AnyManifest::Manifest(m) => m.subject.as_ref(),
        AnyManifest::Index(i) => i.subject.as_ref(),
    }
}

/// Whether a layer is one registries need not hold (Docker foreign layers, OCI
/// non-distributable layers, anything with `urls`).
fn is_foreign(d: &Descriptor) -> bool {
    d.media_type == media::DOCKER_FOREIGN_LAYER
        || d.media_type.contains(".nondistributable.")
        || !d.urls.is_empty()
}

impl Registry {
    /// Resolves a tag or digest reference in `name` to a manifest digest, or `None`.
    pub async fn resolve(&self, name: &str, reference: &str) -> Result<Option<Digest>, RepoError> {
        let Some(d) = self.reference_digest(name, reference).await? else {
            return Ok(None);
        };
        // A tag whose manifest was deleted is gone too.
        Ok(self
            .storage
            .stat(&revision_link(name, &d)?)
            .await?
            .map(|_| d))
    }

    /// The digest a tag or digest reference names, without checking that `name` has the
    /// manifest: the digest itself, or what the tag holds (`None` for a missing tag or an
    /// invalid tag name; a tag file that holds no digest is an error).
    pub(super) async fn reference_digest(
        &self,
        name: &str,
        reference: &str,
    ) -> Result<Option<Digest>, RepoError> {
        if reference.contains(':') {
            return parse_digest(reference).map(Some);
        }
        if !names::valid_tag(reference) {
            check_name(name)?;
            return Ok(None);
        }
        self.tag_target(name, reference).await
    }

    /// The media type and size of manifest `d` in `name`, or `None`.
    pub async fn manifest_info(
        &self,
        name: &str,
        d: &Digest,
    ) -> Result<Option<(String, u64)>, RepoError> {
        let link = revision_link(name, d)?;
        let mt = match storage::read_small(&*self.storage, &link, 1024).await {
            Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
            Err(StorageError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        Ok(self
            .storage
            .stat(&blob_key(d)?)
            .await?
            .map(|size| (mt, size)))
    }

    /// The manifest `reference` (tag or digest) of `name`.
    pub async fn manifest_get(
        &self,
        name: &str,
        reference: &str,
    ) -> Result<StoredManifest, RepoError> {
        let unknown = || RepoError::ManifestUnknown {
            name: name.to_string(),
            reference: reference.to_string(),
        };
        // Two reads on the hot path (the tag, then the revision link, which proves the
        // repository has the manifest and holds its media type); the bytes come from the
        // cache by digest.
        let d = self
            .reference_digest(name, reference)
            .await?
            .ok_or_else(unknown)?;
        let media_type =
            match storage::read_small(&*self.storage, &revision_link(name, &d)?, 1024).await {
                Ok(b) => String::from_utf8_lossy(&b).trim().to_string(),
                Err(StorageError::NotFound { .. }) => return Err(unknown()),
                Err(e) => return Err(e.into()),
            };
        let bytes = match self.manifests.get(&d) {
            Some(b) => b,
            None => {
                let b =
                    match storage::read_small(&*self.storage, &blob_key(&d)?, MANIFEST_MAX).await {
                        Ok(b) => b,
                        Err(StorageError::NotFound { .. }) => return Err(unknown()),
                        Err(e) => return Err(e.into()),
                    };
                // Only content that hashes to its name is remembered (storage could hold
                // a corrupt file; then it is served as is, as before, but not cached).
                let mut check = d.algorithm().digester();
                check.update(&b);
                if check.finish() == d {
                    self.manifests.insert(d.clone(), b.clone());
                }
                b
            }
        };
        Ok(StoredManifest {
            bytes,
            digest: d,
            media_type,
        })
    }

    /// Stores a manifest pushed as `reference` (a tag, or the digest it must have) with
    /// `content_type`, also tagging it with `extra_tags` (the `?tag=` parameters of a push
    /// by digest). Checks the JSON and that every blob and manifest it names is in `name`
    /// (foreign layers and the subject excepted), then links it, tags it and records it as
    /// a referrer of its subject.
    pub async fn manifest_put(
        &self,
        name: &str,
        reference: &str,
        content_type: Option<&str>,
        bytes: Bytes,
        extra_tags: &[String],
    ) -> Result<PutManifest, RepoError> {
        for t in extra_tags {
            tag_key(name, t)?;
        }
        let (digest, tag) = if reference.contains(':') {
            let want = parse_digest(reference)?;
            let got = Digest::of(want.algorithm(), &bytes);
            if got != want {
                return Err(RepoError::ManifestDigestMismatch {
                    expected: want,
                    actual: got,
                });
            }
            (want, None)
        } else {
            tag_key(name, reference)?;
            (Digest::sha256_of(&bytes), Some(reference))
        };
        let content_type = content_type
            .map(|c| c.split(';').next().unwrap_or(c).trim())
            .filter(|c| !c.is_empty());
        let parsed =
            AnyManifest::parse(content_type, &bytes).map_err(|e| RepoError::ManifestInvalid {
                reason: e.to_string(),
            })?;
        if let AnyManifest::Index(_) = &parsed {
            // An index must say `manifests` and must not look like an image manifest: a
            // manifest sent with an index Content-Type would otherwise parse as an empty one.
            #[derive(serde::Deserialize)]
            struct Shape {
                manifests: Option<serde::de::IgnoredAny>,
                config: Option<serde::de::IgnoredAny>,
            }
            let shape: Shape =
                serde_json::from_slice(&bytes).map_err(|e| RepoError::ManifestInvalid {
                    reason: e.to_string(),
                })?;
            if shape.manifests.is_none() || shape.config.is_some() {
                return Err(RepoError::ManifestInvalid {
                    reason: "an index needs a manifests list and no config".into(),
                });
            }
        }
        let declared = match &parsed {
            AnyManifest::Manifest(m) => m.media_type.clone(),
            AnyManifest::Index(i) => i.media_type.clone(),
        };
        if let (Some(ct), Some(decl)) = (content_type, declared.as_deref())
            && (media::is_index(ct) || media::is_manifest(ct))
            && ct != decl
        {
            return Err(RepoError::ManifestInvalid {
                reason: format!("mediaType {decl:?} does not match Content-Type {ct:?}"),
            });
        }
        let media_type = match (&parsed, declared, content_type) {
            (_, Some(decl), _) => decl,
            (_, None, Some(ct)) if media::is_index(ct) || media::is_manifest(ct) => ct.into(),
            (AnyManifest::Manifest(m), None, _) => m.effective_media_type().to_string(),
            (AnyManifest::Index(_), None, _) => media::OCI_INDEX.to_string(),
        };
        // Everything referred to must be here first; its links are refreshed so that a
        // concurrent garbage collector keeps it (see crate::gc).
        let deps: Vec<hold::Dependency> = match &parsed {
            AnyManifest::Manifest(m) => std::iter::once(&m.config)
                .chain(m.layers.iter())
                .filter(|d| !is_foreign(d))
                .map(|d| hold::Dependency {
                    digest: d.digest.clone(),
                    child: false,
                })
                .collect(),
            AnyManifest::Index(i) => i
                .manifests
                .iter()
                .map(|d| hold::Dependency {
                    digest: d.digest.clone(),
                    child: true,
                })
                .collect(),
        };
        let touched = hold::touch_dependencies(&*self.storage, name, &deps).await?;
        let size = bytes.len() as u64;
        let subject = subject_of(&parsed).map(|s| s.digest.clone());
        let mut referrer = None;
        if let Some(s) = &subject {
            let mut desc = Descriptor::new(media_type.clone(), digest.clone(), size);
            desc.artifact_type = artifact_type(&parsed);
            desc.annotations = match &parsed {
                AnyManifest::Manifest(m) => m.annotations.clone(),
                AnyManifest::Index(i) => i.annotations.clone(),
            };
            let k = referrer_entry(name, s, &digest)?;
            let json = serde_json::to_vec(&desc)?;
            referrer = Some((k, Bytes::from(json)));
        }
        let blob = blob_key(&digest)?;
        let revision = revision_link(name, &digest)?;
        for _ in 0..hold::HOLD_ATTEMPTS {
            // The manifest's own bytes, like a blob: written, then checked against
            // collectors' holds, then checked to be still there (see crate::gc).
            storage::put_bytes(&*self.storage, &blob, bytes.clone()).await?;
            let held = hold::holds_on(&*self.storage, &[&digest]).await?;
            if !held.is_empty() {
                hold::wait_released(&*self.storage, &held).await?;
                continue;
            }
            if self.storage.stat(&blob).await?.is_none() {
                continue;
            }
            hold::check_deadline(touched, self.gc_grace())?;
            storage::put_bytes(&*self.storage, &revision, Bytes::from(media_type.clone())).await?;
            if let Some((k, json)) = &referrer {
                storage::put_bytes(&*self.storage, k, json.clone()).await?;
            }
            for tag in tag.into_iter().chain(extra_tags.iter().map(String::as_str)) {
                storage::put_bytes(
                    &*self.storage,
                    &tag_key(name, tag)?,
                    Bytes::from(digest.to_string()),
                )
                .await?;
            }
            // A collector deleting untagged manifests may hold this digest: the same again
            // for the revision link.
            let held = hold::holds_on(&*self.storage, &[&digest]).await?;
            if !held.is_empty() {
                hold::wait_released(&*self.storage, &held).await?;
                continue;
            }
            if self.storage.stat(&revision).await?.is_some()
                && self.storage.stat(&blob).await?.is_some()
            {
                return Ok(PutManifest { digest, subject });
            }
        }
        Err(hold::busy("manifest push"))
    }

    /// Stores a manifest fetched from an upstream registry by the pull-through cache
    /// ([`crate::proxy`]) as `digest` with `media_type`, and points `tag` at it when given.
    /// Unlike [`Registry::manifest_put`] the blobs and manifests it refers to need not be
    /// here: the cache fetches them when clients ask. The bytes must hash to `digest`.
    pub async fn manifest_store_cached(
        &self,
        name: &str,
        digest: &Digest,
        media_type: &str,
        bytes: Bytes,
        tag: Option<&str>,
    ) -> Result<(), RepoError> {
        let got = Digest::of(digest.algorithm(), &bytes);
        if got != *digest {
            return Err(RepoError::ManifestDigestMismatch {
                expected: digest.clone(),
                actual: got,
            });
        }
        let tag = tag.map(|t| tag_key(name, t)).transpose()?;
        storage::put_bytes(&*self.storage, &blob_key(digest)?, bytes).await?;
        let link = revision_link(name, digest)?;
        storage::put_bytes(&*self.storage, &link, Bytes::from(media_type.to_string())).await?;
        if let Some(k) = tag {
            storage::put_bytes(&*self.storage, &k, Bytes::from(digest.to_string())).await?;
        }
        Ok(())
    }

    /// Deletes a manifest by digest (with every tag pointing at it and its referrers
    /// entry), or just a tag. Returns whether it existed.
    pub async fn manifest_delete(&self, name: &str, reference: &str) -> Result<bool, RepoError> {
        if !reference.contains(':') {
            if !names::valid_tag(reference) {
                check_name(name)?;
                return Ok(false);
            }
            let tk = tag_key(name, reference)?;
            return Ok(self.storage.delete(&tk).await?);
        }
        let d = parse_digest(reference)?;
        let link = revision_link(name, &d)?;
        if self.storage.stat(&link).await?.is_none() {
            return Ok(false);
        }
        if let Ok(m) = self.manifest_get(name, reference).await
            && let Ok(parsed) = AnyManifest::parse(Some(&m.media_type), &m.bytes)
            && let Some(s) = subject_of(&parsed)
        {
            let k = referrer_entry(name, &s.digest, &d)?;
            self.storage.delete(&k).await?;
        }
        let removed = self.storage.delete(&link).await?;
        for tag in self.tags(name).await? {
            if let Ok(Some(t)) = self.tag_target(name, &tag).await
                && t == d
            {
                self.storage.delete(&tag_key(name, &tag)?).await?;
            }
        }
        Ok(removed)
    }
}
