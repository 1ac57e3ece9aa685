//! The registry's content model on top of a [`Storage`]: shared blobs, per-repository links,
//! uploads, manifests, tags and the referrers index.
//!
//! Where each of these lives in the storage is the business of the `layout` module.
//!
//! A blob is linked only after its bytes are in place; a manifest is linked only after every
//! blob and manifest it refers to is linked in the same repository.

mod blobs;
mod lists;
mod manifests;
mod uploads;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use oci::Digest;

use crate::cache::ContentCache;
use crate::error::RepoError;
use crate::storage::Storage;
use uploads::UploadSlot;

/// The largest manifest accepted (distribution's default is 4 MiB too).
pub const MANIFEST_MAX: u64 = 4 * 1024 * 1024;

/// How many bytes of manifests [`Registry`] keeps in memory.
const MANIFEST_CACHE_BYTES: usize = 64 * 1024 * 1024;

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

impl Registry {
    /// A registry on `storage`.
    pub fn new(storage: Arc<dyn Storage>) -> Registry {
        Registry {
            storage,
            uploads: Mutex::new(HashMap::new()),
            counter: AtomicU64::new(0),
            gc_grace_ms: AtomicU64::new(crate::hold::DEFAULT_GRACE.as_millis() as u64),
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
}

/// Parses a digest from a request ([`RepoError::DigestInvalid`] when malformed).
pub fn parse_digest(s: &str) -> Result<Digest, RepoError> {
    s.parse::<Digest>().map_err(|e| RepoError::DigestInvalid {
        value: s.to_string(),
        reason: e.to_string(),
    })
}
