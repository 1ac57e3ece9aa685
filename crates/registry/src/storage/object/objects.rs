//! Whole-object operations the backend is built from: bounded reads, quiet deletes,
//! recursive deletes that abort their multipart uploads, and atomic writes.

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::multipart::PartId;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::keys::SIDECAR_SUFFIX;
use super::upload::{PartBuffer, UploadState};
use super::{ObjectStorage, remote};
use crate::error::StorageError;
use crate::storage::{ByteStream, Key};

impl ObjectStorage {
    pub(super) async fn read_object(
        &self,
        key: &Key,
        p: &Path,
        limit: u64,
    ) -> Result<Bytes, StorageError> {
        let r = self
            .store
            .get(p)
            .await
            .map_err(|e| remote("read upload tail", key, e))?;
        if r.meta.size > limit {
            return Err(StorageError::TooLarge {
                key: p.to_string(),
                limit,
            });
        }
        r.bytes()
            .await
            .map_err(|e| remote("read upload tail", key, e))
    }

    pub(super) async fn delete_quietly(&self, key: &Key, p: &Path) -> Result<(), StorageError> {
        match self.store.delete(p).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(remote("delete", key, e)),
        }
    }

    /// Deletes every object under `dir` (recursively), aborting the multipart uploads that
    /// upload states there name. Returns whether there was anything.
    pub(super) async fn delete_tree(
        &self,
        key: &Key,
        dir: Option<&Path>,
    ) -> Result<bool, StorageError> {
        let objects: Vec<_> = self
            .store
            .list(dir)
            .try_collect()
            .await
            .map_err(|e| remote("list for delete", key, e))?;
        if objects.is_empty() {
            return Ok(false);
        }
        for o in &objects {
            if o.location.filename() != Some("state") {
                continue;
            }
            let parts: Vec<_> = o.location.parts().collect();
            let Some(sidecar) = parts.len().checked_sub(2).map(|i| parts[i].as_ref()) else {
                continue;
            };
            if !(sidecar.starts_with('.') && sidecar.ends_with(SIDECAR_SUFFIX)) {
                continue;
            }
            let Ok(r) = self.store.get(&o.location).await else {
                continue;
            };
            let Ok(bytes) = r.bytes().await else {
                continue;
            };
            if let Ok(UploadState {
                multipart: Some(mp),
                ..
            }) = UploadState::decode(&bytes)
            {
                let sc = Path::from_iter(parts[..parts.len() - 1].iter().cloned());
                // Best effort: a stale multipart upload only costs storage until the
                // bucket's lifecycle rule removes it.
                if let Err(e) = self
                    .multipart
                    .abort_multipart(&sc.clone().join(mp.name.as_str()), &mp.id)
                    .await
                {
                    tracing::debug!("aborting multipart upload of {key}: {e}");
                }
            }
        }
        let locations = futures::stream::iter(objects.into_iter().map(|o| Ok(o.location))).boxed();
        let mut results = self.store.delete_stream(locations);
        while let Some(r) = results.next().await {
            match r {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(remote("delete", key, e)),
            }
        }
        Ok(true)
    }

    /// Writes `body` to `p` atomically: one PUT when it fits in a part, else a multipart
    /// upload (aborted when anything fails).
    pub(super) async fn put_path(
        &self,
        key: &Key,
        p: &Path,
        mut body: ByteStream<'_>,
    ) -> Result<u64, StorageError> {
        let mut buf = PartBuffer::new(self.part_size);
        let mut upload: Option<(String, Vec<PartId>)> = None;
        let mut total = 0u64;
        let result: Result<(), StorageError> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|source| StorageError::Body { source })?;
                total += chunk.len() as u64;
                for part in buf.push(chunk) {
                    if upload.is_none() {
                        let id = self
                            .multipart
                            .create_multipart(p)
                            .await
                            .map_err(|e| remote("start multipart upload", key, e))?;
                        upload = Some((id, Vec::new()));
                    }
                    if let Some((id, parts)) = upload.as_mut() {
                        let part = self
                            .multipart
                            .put_part(p, id, parts.len(), PutPayload::from(part))
                            .await
                            .map_err(|e| remote("upload part", key, e))?;
                        parts.push(part);
                    }
                }
            }
            Ok(())
        }
        .await;
        let rest = buf.finish();
        match (result, upload) {
            (Err(e), Some((id, _))) => {
                if let Err(abort) = self.multipart.abort_multipart(p, &id).await {
                    tracing::debug!("aborting multipart upload of {key}: {abort}");
                }
                Err(e)
            }
            (Err(e), None) => Err(e),
            (Ok(()), None) => {
                self.store
                    .put(p, PutPayload::from(rest))
                    .await
                    .map_err(|e| remote("write", key, e))?;
                Ok(total)
            }
            (Ok(()), Some((id, mut parts))) => {
                let finished = async {
                    if !rest.is_empty() {
                        let part = self
                            .multipart
                            .put_part(p, &id, parts.len(), PutPayload::from(rest))
                            .await
                            .map_err(|e| remote("upload part", key, e))?;
                        parts.push(part);
                    }
                    self.multipart
                        .complete_multipart(p, &id, parts)
                        .await
                        .map_err(|e| remote("complete multipart upload", key, e))
                }
                .await;
                if let Err(e) = finished {
                    if let Err(abort) = self.multipart.abort_multipart(p, &id).await {
                        tracing::debug!("aborting multipart upload of {key}: {abort}");
                    }
                    return Err(e);
                }
                Ok(total)
            }
        }
    }
}
