//! The registry's content model on top of a [`Storage`]: shared blobs, per-repository links,
//! uploads, manifests, tags and the referrers index.
//!
//! Layout (like CNCF distribution's, so a reader of one understands the other):
//!
//! ```text
//! blobs/<alg>/<hex[..2]>/<hex>                           content, shared by all repositories
//! repositories/<name>/_layers/<alg>/<hex>                 the repository may serve this blob
//! repositories/<name>/_manifests/revisions/<alg>/<hex>    a manifest; holds its media type
//! repositories/<name>/_manifests/tags/<tag>               holds a manifest digest
//! repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>  a referrer's descriptor (JSON)
//! repositories/<name>/_uploads/<id>/data                  an upload in progress
//! ```
//!
//! A blob is linked only after its bytes are in place; a manifest is linked only after every
//! blob and manifest it refers to is linked in the same repository.

use std::collections::HashMap;
use std::io::Read as _;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use oci::{Algorithm, AnyManifest, Descriptor, Digest, Digester, media};
use serde_json::json;

use crate::cache::ContentCache;
use crate::error::{ApiError, Code, StorageError};
use crate::names;
use crate::storage::{self, ByteStream, Key, Storage};

/// The largest manifest accepted (distribution's default is 4 MiB too).
pub const MANIFEST_MAX: u64 = 4 * 1024 * 1024;

/// How many bytes of manifests [`Registry`] keeps in memory.
const MANIFEST_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// How many uploads keep their running hash in memory before idle ones are forgotten.
const UPLOAD_SLOTS_MAX: usize = 4096;

/// A manifest as stored: its bytes, digest and media type.
#[derive(Debug, Clone)]
pub struct StoredManifest {
    /// The exact bytes pushed.
    pub bytes: Bytes,
    /// Their digest.
    pub digest: Digest,
    /// The media type to serve them as.
    pub media_type: String,
}

/// The result of a manifest push.
#[derive(Debug, Clone)]
pub struct PutManifest {
    /// The manifest's digest.
    pub digest: Digest,
    /// The digest of its `subject`, when it has one.
    pub subject: Option<Digest>,
}

/// The hash of an upload so far, kept in memory between chunks so nothing is read twice.
struct UploadHash {
    offset: u64,
    algorithm: Algorithm,
    digester: Digester,
}

/// Per-upload state: a lock serialising chunks, and the running sha256.
#[derive(Default)]
struct UploadSlot {
    hash: tokio::sync::Mutex<Option<UploadHash>>,
}

/// The registry's content: blobs, uploads, manifests, tags and referrers of every
/// repository, on one storage backend.
pub struct Registry {
    storage: Arc<dyn Storage>,
    uploads: Mutex<HashMap<String, Arc<UploadSlot>>>,
    counter: AtomicU64,
    /// The garbage-collection grace period, in milliseconds (see [`crate::gc`]).
    gc_grace_ms: AtomicU64,
    /// Manifests by digest, so a pull reads only the tag and the revision link.
    manifests: ContentCache,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

fn key(s: String) -> Result<Key, ApiError> {
    Key::new(s).map_err(ApiError::from)
}

pub(crate) fn blob_key(d: &Digest) -> Result<Key, ApiError> {
    key(format!(
        "blobs/{}/{}/{}",
        d.algorithm().name(),
        &d.hex()[..2],
        d.hex()
    ))
}

fn check_name(name: &str) -> Result<(), ApiError> {
    if names::valid_name(name) {
        Ok(())
    } else {
        Err(ApiError::new(
            Code::NameInvalid,
            format!("invalid repository name {name:?}"),
        ))
    }
}

fn repo_key(name: &str, rest: &str) -> Result<Key, ApiError> {
    check_name(name)?;
    key(format!("repositories/{name}/{rest}"))
}

pub(crate) fn layer_link(name: &str, d: &Digest) -> Result<Key, ApiError> {
    repo_key(
        name,
        &format!("_layers/{}/{}", d.algorithm().name(), d.hex()),
    )
}

pub(crate) fn revision_link(name: &str, d: &Digest) -> Result<Key, ApiError> {
    repo_key(
        name,
        &format!("_manifests/revisions/{}/{}", d.algorithm().name(), d.hex()),
    )
}

fn tag_key(name: &str, tag: &str) -> Result<Key, ApiError> {
    if !names::valid_tag(tag) {
        return Err(ApiError::new(
            Code::ManifestInvalid,
            format!("invalid tag {tag:?}: tags match [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}"),
        ));
    }
    repo_key(name, &format!("_manifests/tags/{tag}"))
}

pub(crate) fn referrers_dir(name: &str, subject: &Digest) -> Result<Key, ApiError> {
    repo_key(
        name,
        &format!(
            "_referrers/{}/{}",
            subject.algorithm().name(),
            subject.hex()
        ),
    )
}

fn upload_key(name: &str, id: &str) -> Result<Key, ApiError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::new(
            Code::BlobUploadUnknown,
            format!("unknown upload {id:?}"),
        ));
    }
    repo_key(name, &format!("_uploads/{id}/data"))
}

fn upload_dir(name: &str, id: &str) -> Result<Key, ApiError> {
    upload_key(name, id)?;
    repo_key(name, &format!("_uploads/{id}"))
}

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
    /// A registry on `storage`.
    pub fn new(storage: Arc<dyn Storage>) -> Registry {
        Registry {
            storage,
            uploads: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            gc_grace_ms: AtomicU64::new(crate::gc::DEFAULT_GRACE.as_millis() as u64),
            manifests: ContentCache::new(MANIFEST_CACHE_BYTES),
        }
    }

    /// The storage backend.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// Sets the garbage-collection grace period this process honours as a writer (a
    /// manifest push must commit within half of it after refreshing its references). Every
    /// process sharing the storage needs a grace no larger than the collector's
    /// [`crate::gc::GcOptions::grace`].
    pub fn set_gc_grace(&self, grace: std::time::Duration) {
        let ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX).max(1);
        self.gc_grace_ms.store(ms, Ordering::Relaxed);
    }

    /// The garbage-collection grace period (default [`crate::gc::DEFAULT_GRACE`]).
    pub fn gc_grace(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.gc_grace_ms.load(Ordering::Relaxed))
    }

    // ---- blobs -------------------------------------------------------------------------

    /// The size of blob `d` in repository `name`, or `None` when the repository has no
    /// such blob.
    pub async fn blob_size(&self, name: &str, d: &Digest) -> Result<Option<u64>, ApiError> {
        if self.storage.stat(&layer_link(name, d)?).await?.is_none() {
            return Ok(None);
        }
        Ok(self.storage.stat(&blob_key(d)?).await?)
    }

    /// Reads blob `d` (or `range` of it) as a stream. Check it exists with
    /// [`Registry::blob_size`] first.
    pub async fn blob_read(
        &self,
        d: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream<'static>, ApiError> {
        match self.storage.get(&blob_key(d)?, range).await {
            Ok(s) => Ok(s),
            Err(StorageError::NotFound { .. }) => Err(ApiError::new(
                Code::BlobUnknown,
                format!("blob {d} is not in the registry"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Unlinks blob `d` from repository `name` (its bytes go when no repository links them,
    /// at garbage collection). Returns whether it was linked.
    pub async fn blob_delete(&self, name: &str, d: &Digest) -> Result<bool, ApiError> {
        Ok(self.storage.delete(&layer_link(name, d)?).await?)
    }

    /// Links blob `d`, which another repository `from` has, into `name`. Returns false (and
    /// links nothing) when `from` does not have it. With `from` `None`, any blob the
    /// registry holds may be mounted.
    pub async fn blob_mount(
        &self,
        name: &str,
        from: Option<&str>,
        d: &Digest,
    ) -> Result<bool, ApiError> {
        let present = match from {
            Some(from) => self.blob_size(from, d).await?.is_some(),
            None => self.storage.stat(&blob_key(d)?).await?.is_some(),
        };
        if !present {
            return Ok(false);
        }
        self.link_blob(name, d).await?;
        // A collector may have deleted the blob since it was checked (see crate::gc).
        Ok(self.storage.stat(&blob_key(d)?).await?.is_some())
    }

    /// Writes (or refreshes) the link of blob `d` in `name`, then waits out any garbage
    /// collector's hold on `d` and writes it again (see [`crate::gc`]).
    async fn link_blob(&self, name: &str, d: &Digest) -> Result<(), ApiError> {
        let link = layer_link(name, d)?;
        for _ in 0..crate::gc::HOLD_ATTEMPTS {
            storage::put_bytes(&*self.storage, &link, Bytes::from(d.to_string())).await?;
            let held = crate::gc::holds_on(&*self.storage, &[d]).await?;
            if held.is_empty() {
                return Ok(());
            }
            crate::gc::wait_released(&*self.storage, &held).await?;
        }
        Err(crate::gc::busy("linking a blob"))
    }

    // ---- uploads -----------------------------------------------------------------------

    fn new_upload_id(&self) -> String {
        let mut buf = [0u8; 16];
        let random = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut buf))
            .is_ok();
        if !random {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default();
            let d = Digest::sha256_of(format!("{t}-{n}-{}", std::process::id()).as_bytes());
            buf.copy_from_slice(&hex::decode(&d.hex()[..32]).unwrap_or_else(|_| vec![0; 16]));
        }
        hex::encode(buf)
    }

    fn slot(&self, id: &str) -> Arc<UploadSlot> {
        let mut map = self.uploads.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= UPLOAD_SLOTS_MAX && !map.contains_key(id) {
            // Abandoned sessions must not grow memory without bound: forget the running
            // hashes nobody is using (a later chunk or close re-reads the upload instead).
            map.retain(|_, slot| Arc::strong_count(slot) > 1);
        }
        map.entry(id.to_string()).or_default().clone()
    }

    fn drop_slot(&self, id: &str) {
        let mut map = self.uploads.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(id);
    }

    /// Starts an upload session in `name` whose content will be hashed with `algorithm`
    /// as it arrives; returns its id.
    pub async fn upload_start(&self, name: &str, algorithm: Algorithm) -> Result<String, ApiError> {
        let id = self.new_upload_id();
        let k = upload_key(name, &id)?;
        let empty = futures::stream::empty().boxed();
        self.storage.append(&k, 0, empty).await?;
        *self.slot(&id).hash.lock().await = Some(UploadHash {
            offset: 0,
            algorithm,
            digester: algorithm.digester(),
        });
        Ok(id)
    }

    /// The number of bytes upload `id` of `name` holds.
    pub async fn upload_size(&self, name: &str, id: &str) -> Result<u64, ApiError> {
        let k = upload_key(name, id)?;
        self.storage
            .stat(&k)
            .await?
            .ok_or_else(|| ApiError::new(Code::BlobUploadUnknown, format!("unknown upload {id:?}")))
    }

    /// Appends `body` to upload `id`. With `start`, the chunk must begin where the upload
    /// ends (else 416, `RANGE_INVALID`). Returns the new size.
    pub async fn upload_append(
        &self,
        name: &str,
        id: &str,
        start: Option<u64>,
        body: ByteStream<'_>,
    ) -> Result<u64, ApiError> {
        let k = upload_key(name, id)?;
        let slot = self.slot(id);
        let mut hash = slot.hash.lock().await;
        self.append_locked(&k, id, start, body, &mut hash).await
    }

    async fn append_locked(
        &self,
        k: &Key,
        id: &str,
        start: Option<u64>,
        body: ByteStream<'_>,
        hash: &mut Option<UploadHash>,
    ) -> Result<u64, ApiError> {
        let size = self.storage.stat(k).await?.ok_or_else(|| {
            ApiError::new(Code::BlobUploadUnknown, format!("unknown upload {id:?}"))
        })?;
        if let Some(start) = start
            && start != size
        {
            return Err(ApiError::new(
                Code::BlobUploadInvalid,
                format!("chunk starts at {start} but the upload holds {size} bytes"),
            )
            .with_status(416));
        }
        // Resume the running hash when it covers exactly what is stored.
        let mut state = match hash.take() {
            Some(h) if h.offset == size => Some(h),
            _ if size == 0 => Some(UploadHash {
                offset: 0,
                algorithm: Algorithm::Sha256,
                digester: Algorithm::Sha256.digester(),
            }),
            _ => None,
        };
        let hashed = {
            let state = &mut state;
            let body = body.inspect_ok(move |chunk| {
                if let Some(h) = state.as_mut() {
                    h.digester.update(chunk);
                    h.offset += chunk.len() as u64;
                }
            });
            self.storage.append(k, size, body.boxed()).await
        };
        match hashed {
            Ok(new_size) => {
                *hash = state.filter(|h| h.offset == new_size);
                Ok(new_size)
            }
            Err(StorageError::OffsetMismatch { expected, .. }) => Err(ApiError::new(
                Code::BlobUploadInvalid,
                format!("upload holds {expected} bytes; another writer got there first"),
            )
            .with_status(416)),
            Err(e) => Err(e.into()),
        }
    }

    /// Completes upload `id` with an optional last chunk: checks the content against
    /// `digest`, moves it into the blob store and links it into `name`. On a mismatch the
    /// upload is discarded and nothing is stored.
    pub async fn upload_finish(
        &self,
        name: &str,
        id: &str,
        digest: &Digest,
        last: Option<ByteStream<'_>>,
    ) -> Result<u64, ApiError> {
        let k = upload_key(name, id)?;
        let slot = self.slot(id);
        let mut hash = slot.hash.lock().await;
        let size = match last {
            Some(body) => self.append_locked(&k, id, None, body, &mut hash).await?,
            None => self.upload_size(name, id).await?,
        };
        let actual = match hash.take() {
            Some(h) if h.offset == size && h.algorithm == digest.algorithm() => h.digester.finish(),
            _ => {
                // A restart, another replica, or another algorithm: hash what is stored.
                let mut d = digest.algorithm().digester();
                let mut s = self.storage.get(&k, None).await?;
                while let Some(chunk) = s.next().await {
                    let chunk = chunk.map_err(|e| StorageError::Io {
                        op: "read upload",
                        key: k.to_string(),
                        source: e,
                    })?;
                    d.update(&chunk);
                }
                d.finish()
            }
        };
        if actual != *digest {
            self.upload_cancel(name, id).await?;
            drop(hash);
            return Err(ApiError::new(
                Code::DigestInvalid,
                format!("content has digest {actual}, not {digest}"),
            )
            .with_detail(json!({ "expected": digest.to_string(), "actual": actual.to_string() })));
        }
        // Link first, so a garbage collector sees the blob in use before it lands.
        self.link_blob(name, digest).await?;
        self.storage.rename(&k, &blob_key(digest)?).await?;
        let link = layer_link(name, digest)?;
        if self.storage.stat(&link).await?.is_none() {
            storage::put_bytes(&*self.storage, &link, Bytes::from(digest.to_string())).await?;
        }
        self.storage.delete(&upload_dir(name, id)?).await?;
        drop(hash);
        self.drop_slot(id);
        Ok(size)
    }

    /// Abandons upload `id`. Returns whether it existed.
    pub async fn upload_cancel(&self, name: &str, id: &str) -> Result<bool, ApiError> {
        let existed = self.storage.delete(&upload_dir(name, id)?).await?;
        self.drop_slot(id);
        Ok(existed)
    }

    // ---- manifests ---------------------------------------------------------------------

    /// Resolves a tag or digest reference in `name` to a manifest digest, or `None`.
    pub async fn resolve(&self, name: &str, reference: &str) -> Result<Option<Digest>, ApiError> {
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
    async fn reference_digest(
        &self,
        name: &str,
        reference: &str,
    ) -> Result<Option<Digest>, ApiError> {
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
    ) -> Result<Option<(String, u64)>, ApiError> {
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
    ) -> Result<StoredManifest, ApiError> {
        let unknown = || {
            ApiError::new(
                Code::ManifestUnknown,
                format!("manifest {name}:{reference} is unknown"),
            )
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
    ) -> Result<PutManifest, ApiError> {
        for t in extra_tags {
            tag_key(name, t)?;
        }
        let (digest, tag) = if reference.contains(':') {
            let want = parse_digest(reference)?;
            let got = Digest::of(want.algorithm(), &bytes);
            if got != want {
                return Err(ApiError::new(
                    Code::DigestInvalid,
                    format!("manifest has digest {got}, not {want}"),
                ));
            }
            (want, None)
        } else {
            tag_key(name, reference)?;
            (Digest::sha256_of(&bytes), Some(reference))
        };
        let content_type = content_type
            .map(|c| c.split(';').next().unwrap_or(c).trim())
            .filter(|c| !c.is_empty());
        let parsed = AnyManifest::parse(content_type, &bytes)
            .map_err(|e| ApiError::new(Code::ManifestInvalid, e.to_string()))?;
        if let AnyManifest::Index(_) = &parsed {
            // An index must say `manifests` and must not look like an image manifest: a
            // manifest sent with an index Content-Type would otherwise parse as an empty one.
            #[derive(serde::Deserialize)]
            struct Shape {
                manifests: Option<serde::de::IgnoredAny>,
                config: Option<serde::de::IgnoredAny>,
            }
            let shape: Shape = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::new(Code::ManifestInvalid, e.to_string()))?;
            if shape.manifests.is_none() || shape.config.is_some() {
                return Err(ApiError::new(
                    Code::ManifestInvalid,
                    "an index needs a manifests list and no config",
                ));
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
            return Err(ApiError::new(
                Code::ManifestInvalid,
                format!("mediaType {decl:?} does not match Content-Type {ct:?}"),
            ));
        }
        let media_type = match (&parsed, declared, content_type) {
            (_, Some(decl), _) => decl,
            (_, None, Some(ct)) if media::is_index(ct) || media::is_manifest(ct) => ct.into(),
            (AnyManifest::Manifest(m), None, _) => m.effective_media_type().to_string(),
            (AnyManifest::Index(_), None, _) => media::OCI_INDEX.to_string(),
        };
        // Everything referred to must be here first; its links are refreshed so that a
        // concurrent garbage collector keeps it (see crate::gc).
        let deps: Vec<crate::gc::Dependency> = match &parsed {
            AnyManifest::Manifest(m) => std::iter::once(&m.config)
                .chain(m.layers.iter())
                .filter(|d| !is_foreign(d))
                .map(|d| crate::gc::Dependency {
                    digest: d.digest.clone(),
                    child: false,
                })
                .collect(),
            AnyManifest::Index(i) => i
                .manifests
                .iter()
                .map(|d| crate::gc::Dependency {
                    digest: d.digest.clone(),
                    child: true,
                })
                .collect(),
        };
        let touched = crate::gc::touch_dependencies(&*self.storage, name, &deps).await?;
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
            let k = referrers_dir(name, s)?.join(&format!(
                "{}-{}",
                digest.algorithm().name(),
                digest.hex()
            ))?;
            let json = serde_json::to_vec(&desc)
                .map_err(|e| ApiError::new(Code::Unknown, e.to_string()))?;
            referrer = Some((k, Bytes::from(json)));
        }
        let blob = blob_key(&digest)?;
        let revision = revision_link(name, &digest)?;
        for _ in 0..crate::gc::HOLD_ATTEMPTS {
            // The manifest's own bytes, like a blob: written, then checked against
            // collectors' holds, then checked to be still there (see crate::gc).
            storage::put_bytes(&*self.storage, &blob, bytes.clone()).await?;
            let held = crate::gc::holds_on(&*self.storage, &[&digest]).await?;
            if !held.is_empty() {
                crate::gc::wait_released(&*self.storage, &held).await?;
                continue;
            }
            if self.storage.stat(&blob).await?.is_none() {
                continue;
            }
            crate::gc::check_deadline(touched, self.gc_grace())?;
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
            let held = crate::gc::holds_on(&*self.storage, &[&digest]).await?;
            if !held.is_empty() {
                crate::gc::wait_released(&*self.storage, &held).await?;
                continue;
            }
            if self.storage.stat(&revision).await?.is_some()
                && self.storage.stat(&blob).await?.is_some()
            {
                return Ok(PutManifest { digest, subject });
            }
        }
        Err(crate::gc::busy("manifest push"))
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
    ) -> Result<(), ApiError> {
        let got = Digest::of(digest.algorithm(), &bytes);
        if got != *digest {
            return Err(ApiError::new(
                Code::DigestInvalid,
                format!("manifest has digest {got}, not {digest}"),
            ));
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
    pub async fn manifest_delete(&self, name: &str, reference: &str) -> Result<bool, ApiError> {
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
            let k = referrers_dir(name, &s.digest)?.join(&format!(
                "{}-{}",
                d.algorithm().name(),
                d.hex()
            ))?;
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

    /// The digest tag `tag` of `name` holds, or `None` when there is no such tag.
    async fn tag_target(&self, name: &str, tag: &str) -> Result<Option<Digest>, ApiError> {
        match storage::read_small(&*self.storage, &tag_key(name, tag)?, 1024).await {
            Ok(b) => String::from_utf8_lossy(&b)
                .trim()
                .parse()
                .map(Some)
                .map_err(|e| {
                    ApiError::new(Code::Unknown, format!("corrupt tag {name}:{tag}: {e}"))
                }),
            Err(StorageError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether repository `name` exists (anything was ever pushed to it).
    pub async fn repository_exists(&self, name: &str) -> Result<bool, ApiError> {
        let k = repo_key(name, "_manifests")?;
        Ok(!self.storage.list(&k).await?.is_empty()
            || !self
                .storage
                .list(&repo_key(name, "_layers")?)
                .await?
                .is_empty())
    }

    /// The tags of `name`, sorted.
    pub async fn tags(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let k = repo_key(name, "_manifests/tags")?;
        Ok(self.storage.list(&k).await?)
    }

    /// Every repository name, sorted.
    pub async fn catalog(&self) -> Result<Vec<String>, ApiError> {
        let mut out = Vec::new();
        let mut stack = vec![String::new()];
        while let Some(prefix) = stack.pop() {
            let dir = if prefix.is_empty() {
                key("repositories".into())?
            } else {
                key(format!("repositories/{prefix}"))?
            };
            for child in self.storage.list(&dir).await? {
                if child.starts_with('_') {
                    if child == "_manifests" && !prefix.is_empty() {
                        out.push(prefix.clone());
                    }
                    continue;
                }
                stack.push(if prefix.is_empty() {
                    child
                } else {
                    format!("{prefix}/{child}")
                });
            }
        }
        out.sort();
        Ok(out)
    }

    /// The descriptors of manifests in `name` whose subject is `subject`, optionally only
    /// those of `artifact_type`.
    pub async fn referrers(
        &self,
        name: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, ApiError> {
        let dir = referrers_dir(name, subject)?;
        let mut out = Vec::new();
        for entry in self.storage.list(&dir).await? {
            let k = dir.join(&entry)?;
            let b = match storage::read_small(&*self.storage, &k, 1024 * 1024).await {
                Ok(b) => b,
                Err(StorageError::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let Ok(desc) = serde_json::from_slice::<Descriptor>(&b) else {
                continue;
            };
            if artifact_type.is_none_or(|t| desc.artifact_type.as_deref() == Some(t)) {
                out.push(desc);
            }
        }
        Ok(out)
    }
}

pub(crate) fn blob_unknown(d: &Digest) -> ApiError {
    ApiError::new(
        Code::ManifestBlobUnknown,
        format!("manifest refers to {d}, which is not in the repository"),
    )
    .with_detail(json!({ "digest": d.to_string() }))
}

/// Parses a digest from a request, as 400 `DIGEST_INVALID` when malformed.
pub fn parse_digest(s: &str) -> Result<Digest, ApiError> {
    s.parse::<Digest>()
        .map_err(|e| ApiError::new(Code::DigestInvalid, e.to_string()))
}

/// Reads a request body of at most `limit` bytes; a longer one is 413 `SIZE_INVALID`.
pub async fn read_limited(mut body: ByteStream<'_>, limit: u64) -> Result<Bytes, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::new(Code::ManifestInvalid, format!("reading the body: {e}")))?;
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(ApiError::new(
                Code::SizeInvalid,
                format!("body is larger than the {limit}-byte limit"),
            )
            .with_status(413));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}
