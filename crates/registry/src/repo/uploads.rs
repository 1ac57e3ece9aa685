//! Upload sessions: chunks appended in order, hashed as they arrive, and the close that
//! checks the digest and moves the content into the blob store.

use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use oci::{Algorithm, Digest, Digester};

use super::Registry;
use crate::error::{RepoError, StorageError};
use crate::layout::{blob_key, layer_link, upload_dir, upload_key};
use crate::storage::{self, ByteStream, Key};

/// How many uploads keep their running hash in memory before idle ones are forgotten.
const UPLOAD_SLOTS_MAX: usize = 4096;

/// The hash of an upload so far, kept in memory between chunks so nothing is read twice.
struct UploadHash {
    offset: u64,
    algorithm: Algorithm,
    digester: Digester,
}

/// Per-upload state: a lock serialising chunks, and the running sha256.
#[derive(Default)]
pub(super) struct UploadSlot {
    hash: tokio::sync::Mutex<Option<UploadHash>>,
}

impl Registry {
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
    pub async fn upload_start(
        &self,
        name: &str,
        algorithm: Algorithm,
    ) -> Result<String, RepoError> {
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
    pub async fn upload_size(&self, name: &str, id: &str) -> Result<u64, RepoError> {
        let k = upload_key(name, id)?;
        self.storage
            .stat(&k)
            .await?
            .ok_or_else(|| RepoError::UploadUnknown { id: id.to_string() })
    }

    /// Appends `body` to upload `id`. With `start`, the chunk must begin where the upload
    /// ends (else 416, `RANGE_INVALID`). Returns the new size.
    pub async fn upload_append(
        &self,
        name: &str,
        id: &str,
        start: Option<u64>,
        body: ByteStream<'_>,
    ) -> Result<u64, RepoError> {
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
    ) -> Result<u64, RepoError> {
        let size = self
            .storage
            .stat(k)
            .await?
            .ok_or_else(|| RepoError::UploadUnknown { id: id.to_string() })?;
        if let Some(start) = start
            && start != size
        {
            return Err(RepoError::ChunkOutOfOrder { start, size });
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
            Err(StorageError::OffsetMismatch { expected, .. }) => {
                Err(RepoError::AppendRaced { size: expected })
            }
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
    ) -> Result<u64, RepoError> {
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
            return Err(RepoError::ContentDigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        // Link first, so a garbage collector sees the blob in use before it lands.
        self.link_blob(name, digest).await?;
        let blob = blob_key(digest)?;
        // The key names the content: a blob already there holds these very bytes, so it
        // stays as it is (as distribution does). Writing over it is not atomic on every
        // object store (s3s-fs copies in place), and a pull racing the copy would read a
        // half-written blob. The link above keeps it from any collection that starts now.
        if self.storage.stat(&blob).await? != Some(size) {
            self.storage.rename(&k, &blob).await?;
        }
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
    pub async fn upload_cancel(&self, name: &str, id: &str) -> Result<bool, RepoError> {
        let existed = self.storage.delete(&upload_dir(name, id)?).await?;
        self.drop_slot(id);
        Ok(existed)
    }
}
