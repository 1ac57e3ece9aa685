//! The object-storage backend: keys as objects in an S3, GCS or Azure bucket (through the
//! `object_store` crate), shared by any number of registry replicas.
//!
//! Whole-object writes are a single PUT when the body fits in one part, else a multipart
//! upload, whose completion is atomic. Appends — resumable blob uploads — keep every piece
//! of their state in the bucket, beside the key, under a dot-named directory no registry
//! key can name (`<parent>/.<name>.upload/`):
//!
//! - `state`: a small JSON object listing what the upload holds (see [`UploadState`]);
//!   rewriting it is the commit point of every append;
//! - `mp-<n>`: the target of the upload's open multipart upload, whose parts are all exactly
//!   one part size long (some services require equal parts);
//! - `tail-<n>`: the bytes after the last whole part (less than one part), kept as a small
//!   object until the next append merges them into a part, or the close sends them as the
//!   last part;
//! - sealed segments: completed objects (a completed `mp-<n>`, or a former tail) whose
//!   concatenation is the upload's content.
//!
//! Object paths are the keys' components under the URL's prefix, except that digests are
//! stored in a shorter base64url form and components longer than 64 bytes under a hash
//! (see [`encode_component`]), so keys fit S3-compatible servers with short key limits.
//!
//! So an upload started on one replica can be continued on another and closed on a third.
//! Reading an upload, or renaming it into place, first seals it: the open multipart upload
//! is completed with the tail as its last part. Renaming a single sealed segment is a
//! server-side copy and a delete. Nothing relies on conditional writes (`If-None-Match`),
//! which some S3 servers ignore: the registry never has two writers on one upload (chunks
//! are ordered by the client, and a replica serialises its own writers).

use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, ObjectStore, ObjectStoreExt, ObjectStoreScheme, PutPayload,
};
use serde::{Deserialize, Serialize};

use super::{ByteStream, Key, Meta, Storage, object_client};
use crate::error::StorageError;

/// The default size of a multipart part: all parts of an upload but the last are exactly
/// this long.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;

/// The smallest part size S3 accepts (for all parts but the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// The largest object S3 copies server-side in one request; larger ones are streamed.
const COPY_MAX: u64 = 5 * 1024 * 1024 * 1024;

/// The suffix of the dot-named directory holding an upload's state.
const SIDECAR_SUFFIX: &str = ".upload";

/// Objects in a bucket of an object store, optionally under a prefix.
#[derive(Clone)]
pub struct ObjectStorage {
    store: Arc<dyn ObjectStore>,
    multipart: Arc<dyn MultipartStore>,
    paged: Arc<dyn PaginatedListStore>,
    prefix: Vec<String>,
    part_size: usize,
    url: String,
}

impl std::fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectStorage")
            .field("store", &self.store)
            .field("prefix", &self.prefix)
            .field("part_size", &self.part_size)
            .finish_non_exhaustive()
    }
}

fn config_err(url: &str, message: impl Into<String>) -> StorageError {
    StorageError::Config {
        what: url.to_string(),
        message: message.into(),
    }
}

impl ObjectStorage {
    /// A backend on an existing store with multipart uploads and paginated listings (S3,
    /// GCS, Azure), keeping its objects under `prefix` (slash-separated, may be empty).
    pub fn new<S>(store: Arc<S>, prefix: &str) -> Result<ObjectStorage, StorageError>
    where
        S: ObjectStore + MultipartStore + PaginatedListStore,
    {
        let prefix: Vec<String> = prefix
            .split('/')
            .filter(|c| !c.is_empty())
            .map(str::to_string)
            .collect();
        let url = format!("{store}");
        Ok(ObjectStorage {
            store: store.clone(),
            multipart: store.clone(),
            paged: store,
            prefix,
            part_size: DEFAULT_PART_SIZE,
            url,
        })
    }

    /// A backend for a bucket URL: `s3://bucket[/prefix]`, `gs://bucket[/prefix]`,
    /// `az://container[/prefix]` (or the services' `https://` URLs). `options` are the
    /// `object_store` builder's settings (`endpoint`, `region`, `access_key_id`,
    /// `secret_access_key`, `allow_http`, ...; `AWS_*`, `GOOGLE_*` and `AZURE_*` environment
    /// variables are read first, options override them), plus `part_size` (bytes, at least
    /// 5 MiB), `max_retries` and `retry_timeout` (see [`super::DEFAULT_MAX_RETRIES`]) for
    /// this backend.
    pub fn from_url(
        url: &str,
        options: impl IntoIterator<Item = (String, String)>,
    ) -> Result<ObjectStorage, StorageError> {
        let parsed = url::Url::parse(url).map_err(|e| config_err(url, e.to_string()))?;
        let (scheme, path) =
            ObjectStoreScheme::parse(&parsed).map_err(|e| config_err(url, e.to_string()))?;
        let mut part_size = DEFAULT_PART_SIZE;
        let mut rest = Vec::new();
        for (k, v) in options {
            let k = k.to_ascii_lowercase();
            if k == "part_size" {
                part_size = v
                    .parse()
                    .map_err(|_| config_err(url, format!("part_size {v:?} is not a number")))?;
            } else {
                rest.push((k, v));
            }
        }
        let tuning = object_client::Tuning::take(url, &mut rest)?;
        let prefix = path.to_string();
        let mut storage = match scheme {
            ObjectStoreScheme::AmazonS3 => {
                use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
                // Bounded retries first, so the user's options override them.
                let mut b = AmazonS3Builder::from_env()
                    .with_url(url)
                    .with_retry(tuning.retry.clone())
                    .with_client_options(tuning.client.clone());
                for (k, v) in rest {
                    let key: AmazonS3ConfigKey = k
                        .parse()
                        .map_err(|_| config_err(url, format!("unknown S3 option {k:?}")))?;
                    b = b.with_config(key, v);
                }
                let store = b.build().map_err(|e| config_err(url, e.to_string()))?;
                ObjectStorage::new(Arc::new(store), &prefix)?
            }
            ObjectStoreScheme::GoogleCloudStorage => {
                use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
                // Bounded retries first, so the user's options override them.
                let mut b = GoogleCloudStorageBuilder::from_env()
                    .with_url(url)
                    .with_retry(tuning.retry.clone())
                    .with_client_options(tuning.client.clone());
                for (k, v) in rest {
                    let key: GoogleConfigKey = k
                        .parse()
                        .map_err(|_| config_err(url, format!("unknown GCS option {k:?}")))?;
                    b = b.with_config(key, v);
                }
                let store = b.build().map_err(|e| config_err(url, e.to_string()))?;
                ObjectStorage::new(Arc::new(store), &prefix)?
            }
            ObjectStoreScheme::MicrosoftAzure => {
                use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
                // Bounded retries first, so the user's options override them.
                let mut b = MicrosoftAzureBuilder::from_env()
                    .with_url(url)
                    .with_retry(tuning.retry.clone())
                    .with_client_options(tuning.client.clone());
                for (k, v) in rest {
                    let key: AzureConfigKey = k
                        .parse()
                        .map_err(|_| config_err(url, format!("unknown Azure option {k:?}")))?;
                    b = b.with_config(key, v);
                }
                let store = b.build().map_err(|e| config_err(url, e.to_string()))?;
                ObjectStorage::new(Arc::new(store), &prefix)?
            }
            _ => {
                return Err(config_err(
                    url,
                    "not an object-storage URL (s3://, gs://, az:// or https://)",
                ));
            }
        };
        storage.url = object_client::redact(&parsed);
        storage.with_part_size(part_size)
    }

    /// The same backend with another multipart part size (at least 5 MiB). Uploads already
    /// under way keep the part size they started with.
    pub fn with_part_size(mut self, part_size: usize) -> Result<ObjectStorage, StorageError> {
        if part_size < MIN_PART_SIZE {
            return Err(config_err(
                &self.url,
                format!("part_size {part_size} is below the minimum {MIN_PART_SIZE}"),
            ));
        }
        self.part_size = part_size;
        Ok(self)
    }

    /// The part size of new multipart uploads.
    pub fn part_size(&self) -> usize {
        self.part_size
    }

    /// The object path of `key`.
    fn path(&self, key: &Key) -> Path {
        let comps: Vec<String> = key.components().map(encode_component).collect();
        Path::from_iter(
            self.prefix
                .iter()
                .map(String::as_str)
                .chain(comps.iter().map(String::as_str)),
        )
    }

    /// The directory holding the upload state of `key` (`None` for the root).
    fn sidecar(&self, key: &Key) -> Option<Path> {
        let comps: Vec<String> = key.components().map(encode_component).collect();
        let (name, parent) = comps.split_last()?;
        let hidden = format!(".{name}{SIDECAR_SUFFIX}");
        Some(Path::from_iter(
            self.prefix
                .iter()
                .map(String::as_str)
                .chain(parent.iter().map(String::as_str))
                .chain(std::iter::once(hidden.as_str())),
        ))
    }

    fn prefix_path(&self) -> Option<Path> {
        if self.prefix.is_empty() {
            None
        } else {
            Some(Path::from_iter(self.prefix.iter().map(String::as_str)))
        }
    }

    /// Reads the upload state of `key`, with the state object's modification time.
    async fn load_state(
        &self,
        key: &Key,
    ) -> Result<Option<(UploadState, SystemTime)>, StorageError> {
        let Some(dir) = self.sidecar(key) else {
            return Ok(None);
        };
        let p = dir.clone().join("state");
        let r = match self.store.get(&p).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(remote("read upload state", key, e)),
        };
        let modified = SystemTime::from(r.meta.last_modified);
        if r.meta.size > STATE_MAX {
            return Err(StorageError::TooLarge {
                key: p.to_string(),
                limit: STATE_MAX,
            });
        }
        let bytes = r
            .bytes()
            .await
            .map_err(|e| remote("read upload state", key, e))?;
        let state = UploadState::decode(&bytes).map_err(|message| StorageError::Io {
            op: "decode upload state",
            key: key.to_string(),
            source: io::Error::new(io::ErrorKind::InvalidData, message),
        })?;
        Ok(Some((state, modified)))
    }

    async fn save_state(
        &self,
        key: &Key,
        dir: &Path,
        state: &UploadState,
    ) -> Result<(), StorageError> {
        self.store
            .put(&dir.clone().join("state"), PutPayload::from(state.encode()))
            .await
            .map_err(|e| remote("write upload state", key, e))?;
        Ok(())
    }

    async fn read_object(&self, key: &Key, p: &Path, limit: u64) -> Result<Bytes, StorageError> {
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

    /// Writes the records of the hashed long components of `key` (see
    /// [`encode_component`]), so listings can name them.
    async fn ensure_names(&self, key: &Key) -> Result<(), StorageError> {
        let mut parent = self.prefix_path().unwrap_or_default();
        for c in key.components() {
            let enc = encode_component(c);
            if is_hashed(&enc) {
                let record = parent.clone().join(name_record(&enc).as_str());
                self.store
                    .put(&record, PutPayload::from(Bytes::from(c.to_string())))
                    .await
                    .map_err(|e| remote("write name record", key, e))?;
            }
            parent = parent.join(enc.as_str());
        }
        Ok(())
    }

    async fn delete_quietly(&self, key: &Key, p: &Path) -> Result<(), StorageError> {
        match self.store.delete(p).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(remote("delete", key, e)),
        }
    }

    /// Writes one whole part of upload `key`, opening its multipart upload when needed.
    async fn write_part(
        &self,
        key: &Key,
        dir: &Path,
        state: &mut UploadState,
        data: Bytes,
    ) -> Result<(), StorageError> {
        if state.multipart.is_none() {
            state.seq += 1;
            let name = format!("mp-{}", state.seq);
            let id = self
                .multipart
                .create_multipart(&dir.clone().join(name.as_str()))
                .await
                .map_err(|e| remote("start multipart upload", key, e))?;
            state.multipart = Some(Multipart {
                name,
                id,
                part_size: self.part_size as u64,
                parts: Vec::new(),
            });
        }
        let Some(mp) = state.multipart.as_mut() else {
            unreachable!("opened above")
        };
        let len = data.len() as u64;
        let part = self
            .multipart
            .put_part(
                &dir.clone().join(mp.name.as_str()),
                &mp.id,
                mp.parts.len(),
                PutPayload::from(data),
            )
            .await
            .map_err(|e| remote("upload part", key, e))?;
        mp.parts.push(part.content_id);
        state.size += len;
        Ok(())
    }

    /// Completes the open multipart upload of `key` (with the tail as its last part) and
    /// saves the state, so the upload is a list of readable segments.
    async fn seal(
        &self,
        key: &Key,
        dir: &Path,
        state: &mut UploadState,
    ) -> Result<(), StorageError> {
        let old_tail = state.tail.take();
        match state.multipart.take() {
            Some(mut mp) => {
                let mp_path = dir.clone().join(mp.name.as_str());
                let mut size = mp.part_size * mp.parts.len() as u64;
                if let Some(t) = &old_tail {
                    let data = self
                        .read_object(key, &dir.clone().join(t.name.as_str()), mp.part_size)
                        .await?;
                    size += data.len() as u64;
                    let part = self
                        .multipart
                        .put_part(&mp_path, &mp.id, mp.parts.len(), PutPayload::from(data))
                        .await
                        .map_err(|e| remote("upload last part", key, e))?;
                    mp.parts.push(part.content_id);
                }
                let parts = mp
                    .parts
                    .iter()
                    .map(|c| PartId {
                        content_id: c.clone(),
                    })
                    .collect();
                if let Err(e) = self
                    .multipart
                    .complete_multipart(&mp_path, &mp.id, parts)
                    .await
                {
                    // Completed already by a replica that died before saving the state?
                    match self.store.head(&mp_path).await {
                        Ok(m) if m.size == size => {}
                        _ => return Err(remote("complete multipart upload", key, e)),
                    }
                }
                state.sealed.push(Segment {
                    name: mp.name,
                    size,
                });
                self.save_state(key, dir, state).await?;
                if let Some(t) = old_tail {
                    self.delete_quietly(key, &dir.clone().join(t.name.as_str()))
                        .await?;
                }
            }
            None => {
                if let Some(t) = old_tail {
                    state.sealed.push(t);
                    self.save_state(key, dir, state).await?;
                }
            }
        }
        Ok(())
    }

    /// A stream of `range` of the concatenated sealed segments of an upload.
    fn read_segments(
        &self,
        dir: &Path,
        segments: &[Segment],
        range: Range<u64>,
    ) -> ByteStream<'static> {
        let store = self.store.clone();
        let pieces: Vec<(Path, Range<u64>)> =
            segment_ranges(&segments.iter().map(|s| s.size).collect::<Vec<_>>(), range)
                .into_iter()
                .map(|(i, r)| (dir.clone().join(segments[i].name.as_str()), r))
                .collect();
        futures::stream::iter(pieces)
            .then(move |(p, r)| {
                let store = store.clone();
                async move {
                    let opts = GetOptions::new().with_range(Some(GetRange::Bounded(r)));
                    store
                        .get_opts(&p, opts)
                        .await
                        .map(|g| g.into_stream().map_err(io::Error::other))
                        .map_err(io::Error::other)
                }
            })
            .try_flatten()
            .boxed()
    }

    /// Deletes every object under `dir` (recursively), aborting the multipart uploads that
    /// upload states there name. Returns whether there was anything.
    async fn delete_tree(&self, key: &Key, dir: Option<&Path>) -> Result<bool, StorageError> {
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
    async fn put_path(
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

fn remote(op: &'static str, key: &Key, e: object_store::Error) -> StorageError {
    match e {
        object_store::Error::NotFound { .. } => StorageError::NotFound {
            key: key.to_string(),
        },
        e => StorageError::Io {
            op,
            key: key.to_string(),
            source: io::Error::other(e),
        },
    }
}

impl Storage for ObjectStorage {
    fn check(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            // One listing request: it fails on an unreachable endpoint, bad credentials
            // and a missing bucket alike (a HEAD of a missing key could not tell the last
            // from an empty bucket).
            let root = Key::root();
            self.store
                .list_with_delimiter(self.prefix_path().as_ref())
                .await
                .map(|_| ())
                .map_err(|e| StorageError::Io {
                    op: "list",
                    key: root.to_string(),
                    source: io::Error::other(e),
                })
        })
    }

    fn describe(&self) -> String {
        self.url.clone()
    }

    fn meta<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Meta>, StorageError>> {
        Box::pin(async move {
            match self.store.head(&self.path(key)).await {
                Ok(m) => {
                    return Ok(Some(Meta {
                        size: m.size,
                        modified: SystemTime::from(m.last_modified),
                    }));
                }
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(remote("stat", key, e)),
            }
            Ok(self.load_state(key).await?.map(|(s, modified)| Meta {
                size: s.size,
                modified,
            }))
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a Key,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'a, Result<ByteStream<'static>, StorageError>> {
        Box::pin(async move {
            let empty = range.as_ref().is_some_and(|r| r.start >= r.end);
            let opts = match &range {
                Some(r) if !empty => {
                    GetOptions::new().with_range(Some(GetRange::Bounded(r.clone())))
                }
                // An empty range: S3 cannot express it, so just check the object is there.
                Some(_) => GetOptions::new().with_head(true),
                None => GetOptions::new(),
            };
            match self.store.get_opts(&self.path(key), opts).await {
                Ok(r) if empty => {
                    drop(r);
                    return Ok(futures::stream::empty().boxed());
                }
                Ok(r) => return Ok(r.into_stream().map_err(io::Error::other).boxed()),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(remote("read", key, e)),
            }
            // An upload: seal it, then read its segments.
            let (Some((mut state, _)), Some(dir)) =
                (self.load_state(key).await?, self.sidecar(key))
            else {
                return Err(StorageError::NotFound {
                    key: key.to_string(),
                });
            };
            let range = range.unwrap_or(0..state.size);
            if range.start >= range.end {
                return Ok(futures::stream::empty().boxed());
            }
            self.seal(key, &dir, &mut state).await?;
            Ok(self.read_segments(&dir, &state.sealed, range))
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a Key,
        body: ByteStream<'a>,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            self.ensure_names(key).await?;
            self.put_path(key, &self.path(key), body).await
        })
    }

    fn append<'a>(
        &'a self,
        key: &'a Key,
        offset: u64,
        mut body: ByteStream<'a>,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let dir = self.sidecar(key).ok_or_else(|| StorageError::InvalidKey {
                key: key.to_string(),
            })?;
            let loaded = self.load_state(key).await?;
            let fresh = loaded.is_none();
            if fresh && offset == 0 {
                self.ensure_names(key).await?;
            }
            let mut state = match loaded {
                Some((s, _)) => s,
                None if offset == 0 => UploadState::default(),
                None => {
                    return Err(match self.store.head(&self.path(key)).await {
                        Ok(m) => StorageError::OffsetMismatch {
                            key: key.to_string(),
                            expected: m.size,
                            got: offset,
                        },
                        Err(_) => StorageError::NotFound {
                            key: key.to_string(),
                        },
                    });
                }
            };
            if state.size != offset {
                return Err(StorageError::OffsetMismatch {
                    key: key.to_string(),
                    expected: state.size,
                    got: offset,
                });
            }
            let part_size = state
                .multipart
                .as_ref()
                .map_or(self.part_size, |m| m.part_size as usize);
            let mut buf = PartBuffer::new(part_size);
            // The stored tail is merged in front of the first bytes that arrive.
            let mut old_tail = None;
            let mut received = 0u64;
            let mut body_error = None;
            while let Some(chunk) = body.next().await {
                let chunk = match chunk {
                    Ok(c) => c,
                    Err(source) => {
                        // Keep what arrived: the client may resume from there.
                        body_error = Some(StorageError::Body { source });
                        break;
                    }
                };
                if chunk.is_empty() {
                    continue;
                }
                if received == 0
                    && let Some(t) = state.tail.take()
                {
                    let data = self
                        .read_object(key, &dir.clone().join(t.name.as_str()), part_size as u64)
                        .await?;
                    state.size -= t.size;
                    // Less than a part: nothing comes out yet.
                    for part in buf.push(data) {
                        self.write_part(key, &dir, &mut state, part).await?;
                    }
                    old_tail = Some(t);
                }
                received += chunk.len() as u64;
                for part in buf.push(chunk) {
                    self.write_part(key, &dir, &mut state, part).await?;
                }
            }
            if received == 0 && !fresh {
                // Nothing arrived: the stored state still holds.
                return match body_error {
                    Some(e) => Err(e),
                    None => Ok(offset),
                };
            }
            let rest = buf.finish();
            if !rest.is_empty() {
                state.seq += 1;
                let name = format!("tail-{}", state.seq);
                let len = rest.len() as u64;
                self.store
                    .put(&dir.clone().join(name.as_str()), PutPayload::from(rest))
                    .await
                    .map_err(|e| remote("write upload tail", key, e))?;
                state.size += len;
                state.tail = Some(Segment { name, size: len });
            }
            self.save_state(key, &dir, &state).await?;
            if let Some(t) = old_tail {
                self.delete_quietly(key, &dir.clone().join(t.name.as_str()))
                    .await?;
            }
            match body_error {
                Some(e) => Err(e),
                None => Ok(state.size),
            }
        })
    }

    fn rename<'a>(&'a self, from: &'a Key, to: &'a Key) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            self.ensure_names(to).await?;
            let dst = self.path(to);
            if let (Some((mut state, _)), Some(dir)) =
                (self.load_state(from).await?, self.sidecar(from))
            {
                self.seal(from, &dir, &mut state).await?;
                match state.sealed.as_slice() {
                    [] => {
                        self.store
                            .put(&dst, PutPayload::default())
                            .await
                            .map_err(|e| remote("write", to, e))?;
                    }
                    [one] if one.size <= COPY_MAX => {
                        self.store
                            .copy(&dir.clone().join(one.name.as_str()), &dst)
                            .await
                            .map_err(|e| remote("copy", from, e))?;
                    }
                    segments => {
                        let stream = self.read_segments(&dir, segments, 0..state.size);
                        self.put_path(to, &dst, stream).await?;
                    }
                }
                self.delete_tree(from, Some(&dir)).await?;
                return Ok(());
            }
            let src = self.path(from);
            let size = match self.store.head(&src).await {
                Ok(m) => m.size,
                Err(e) => return Err(remote("rename", from, e)),
            };
            if size <= COPY_MAX {
                self.store
                    .copy(&src, &dst)
                    .await
                    .map_err(|e| remote("copy", from, e))?;
            } else {
                let stream = self.get(from, None).await?;
                self.put_path(to, &dst, stream).await?;
            }
            self.delete_quietly(from, &src).await
        })
    }

    fn delete<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            if key.as_str().is_empty() {
                return self.delete_tree(key, self.prefix_path().as_ref()).await;
            }
            let p = self.path(key);
            // Whether the object itself exists, by listing rather than HEAD: the key may
            // be a prefix, and some S3 servers (s3s-fs) fail a HEAD of one. The object
            // sorts first among the keys it is a prefix of.
            let opts = PaginatedListOptions {
                max_keys: Some(1),
                ..PaginatedListOptions::default()
            };
            let first = self
                .paged
                .list_paginated(Some(p.as_ref()), opts)
                .await
                .map_err(|e| remote("list for delete", key, e))?;
            let mut existed = first.result.objects.iter().any(|o| o.location == p);
            if existed {
                self.delete_quietly(key, &p).await?;
            }
            existed |= self.delete_tree(key, Some(&p)).await?;
            if let Some(dir) = self.sidecar(key) {
                existed |= self.delete_tree(key, Some(&dir)).await?;
            }
            Ok(existed)
        })
    }

    fn list<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Vec<String>, StorageError>> {
        Box::pin(async move {
            let p = if key.as_str().is_empty() {
                self.prefix_path()
            } else {
                Some(self.path(key))
            };
            let r = self
                .store
                .list_with_delimiter(p.as_ref())
                .await
                .map_err(|e| remote("list", key, e))?;
            let names = r
                .common_prefixes
                .iter()
                .filter_map(|c| c.filename())
                .chain(r.objects.iter().filter_map(|o| o.location.filename()));
            let (mut out, hashed) = child_names(names);
            for h in hashed {
                let record = match &p {
                    Some(p) => p.clone().join(name_record(&h).as_str()),
                    None => Path::from(name_record(&h)),
                };
                let name = match self.store.get(&record).await {
                    Ok(r) => r
                        .bytes()
                        .await
                        .map_err(|e| remote("read name record", key, e))?,
                    Err(object_store::Error::NotFound { .. }) => continue,
                    Err(e) => return Err(remote("read name record", key, e)),
                };
                if let Ok(name) = std::str::from_utf8(&name)
                    && valid_name(name)
                    && encode_component(name) == h
                {
                    out.push(name.to_string());
                }
            }
            out.sort();
            out.dedup();
            Ok(out)
        })
    }
}

/// The registry names among listed names: dot-names are ours, except that an upload's
/// state directory stands for the upload's key. Sorted, without duplicates.
/// Also returns the hashed long names found, whose keys are looked up in their records.
fn child_names<'a>(names: impl Iterator<Item = &'a str>) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut hashed = Vec::new();
    for n in names {
        let inner = match n.strip_prefix('.') {
            None => n,
            Some(hidden) => match hidden.strip_suffix(SIDECAR_SUFFIX) {
                Some(inner) => inner,
                None => continue,
            },
        };
        if is_hashed(inner) {
            hashed.push(inner.to_string());
        } else if let Some(name) = decode_component(inner) {
            out.push(name);
        }
    }
    out.sort();
    out.dedup();
    hashed.sort();
    hashed.dedup();
    (out, hashed)
}

/// Components longer than this (digests aside) are stored under a hash of themselves.
const LONG_COMPONENT: usize = 64;

/// Whether an object-path component is a hashed long name (`!!<hash>`).
fn is_hashed(c: &str) -> bool {
    c.len() == 34 && c.starts_with("!!") && c[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The record naming a hashed long component, beside it: `.!!<hash>.name`.
fn name_record(hashed: &str) -> String {
    format!(".{hashed}{NAME_SUFFIX}")
}

/// The suffix of a long name's record.
const NAME_SUFFIX: &str = ".name";

/// The object-path form of a key component. Digests (64 or 128 lowercase hex digits,
/// optionally after a short `alg-` prefix and before a short `.suffix`) are stored as
/// `![alg]-<base64url>[.suffix]`, a third
/// shorter: registry keys hold up to three of them, and some S3-compatible servers limit
/// keys to far less than S3's 1024 bytes (s3s-fs names a metadata file after the base64 of
/// the key, so about 164 bytes). Other components longer than 64 bytes (long tags or
/// repository names) are stored as `!!<hash>`, with a record `.!!<hash>.name` beside them
/// holding the name for listings. `!` (safe in S3 keys) never occurs in a [`Key`], so
/// these forms are unambiguous.
fn encode_component(c: &str) -> String {
    // A digest may carry a suffix (cosign's `sha256-<hex>.sig` tags): base64url has no `.`.
    let (body, suffix) = c.find('.').map_or((c, ""), |i| c.split_at(i));
    let (alg, hex) = match body.split_once('-') {
        Some((alg, hex))
            if (1..=16).contains(&alg.len())
                && alg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) =>
        {
            (alg, hex)
        }
        _ => ("", body),
    };
    let is_digest = matches!(hex.len(), 64 | 128)
        && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match (is_digest, hex::decode(hex)) {
        (true, Ok(raw)) if suffix.len() <= 16 => {
            format!("!{alg}-{}{suffix}", URL_SAFE_NO_PAD.encode(raw))
        }
        _ if c.len() > LONG_COMPONENT => {
            format!("!!{}", &oci::Digest::sha256_of(c.as_bytes()).hex()[..32])
        }
        _ => c.to_string(),
    }
}

/// The key component an object-path component stands for, or `None` for names that are
/// not ours.
fn decode_component(c: &str) -> Option<String> {
    let Some(packed) = c.strip_prefix('!') else {
        return valid_name(c).then(|| c.to_string());
    };
    let (alg, rest) = packed.split_once('-')?;
    let (b64, suffix) = rest.find('.').map_or((rest, ""), |i| rest.split_at(i));
    let raw = URL_SAFE_NO_PAD.decode(b64).ok()?;
    let hex = hex::encode(raw);
    let name = if alg.is_empty() {
        format!("{hex}{suffix}")
    } else {
        format!("{alg}-{hex}{suffix}")
    };
    // Only the canonical form of a digest component decodes.
    (valid_name(&name) && encode_component(&name) == c).then_some(name)
}

fn valid_name(c: &str) -> bool {
    !c.is_empty() && !c.contains('/') && Key::new(c).is_ok()
}

/// The largest upload state object read.
const STATE_MAX: u64 = 4 * 1024 * 1024;

/// An upload's state, kept as JSON in the bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct UploadState {
    /// Format version (1).
    v: u32,
    /// Total bytes held: sealed segments, then whole parts, then the tail.
    size: u64,
    /// A counter for the names of new objects in the state directory.
    seq: u64,
    /// Completed objects, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    sealed: Vec<Segment>,
    /// The open multipart upload, after the sealed segments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    multipart: Option<Multipart>,
    /// The bytes after the last whole part (less than a part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tail: Option<Segment>,
}

/// A readable object in an upload's state directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Segment {
    name: String,
    size: u64,
}

/// An open multipart upload whose parts are each `part_size` bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Multipart {
    /// Its target object in the state directory.
    name: String,
    /// The service's upload id.
    id: String,
    part_size: u64,
    /// The ids (ETags) of the parts, in order.
    parts: Vec<String>,
}

impl UploadState {
    fn encode(&self) -> Bytes {
        let mut s = self.clone();
        s.v = 1;
        Bytes::from(serde_json::to_vec(&s).unwrap_or_default())
    }

    /// Parses and checks a state: known version, sizes that add up, names that stay in
    /// the state directory.
    fn decode(data: &[u8]) -> Result<UploadState, String> {
        let s: UploadState =
            serde_json::from_slice(data).map_err(|e| format!("malformed upload state: {e}"))?;
        if s.v != 1 {
            return Err(format!("unknown upload state version {}", s.v));
        }
        let names = s
            .sealed
            .iter()
            .map(|g| g.name.as_str())
            .chain(s.multipart.iter().map(|m| m.name.as_str()))
            .chain(s.tail.iter().map(|t| t.name.as_str()));
        for n in names {
            if n.contains('/') || Key::new(n).is_err() || n == "state" {
                return Err(format!("bad object name {n:?} in upload state"));
            }
        }
        let mut total: u64 = s.sealed.iter().map(|g| g.size).sum();
        if let Some(m) = &s.multipart {
            if (m.part_size as usize) < MIN_PART_SIZE {
                return Err(format!("part size {} is too small", m.part_size));
            }
            total += m.part_size * m.parts.len() as u64;
        }
        if let Some(t) = &s.tail {
            let limit = s.multipart.as_ref().map_or(u64::MAX, |m| m.part_size);
            if t.size == 0 || t.size >= limit {
                return Err(format!("tail of {} bytes", t.size));
            }
            total += t.size;
        }
        if total != s.size {
            return Err(format!(
                "upload state says {} bytes but its pieces hold {total}",
                s.size
            ));
        }
        Ok(s)
    }
}

/// Cuts a stream of chunks into parts of exactly `part_size` bytes, keeping the rest.
#[derive(Debug)]
struct PartBuffer {
    buf: BytesMut,
    part_size: usize,
}

impl PartBuffer {
    fn new(part_size: usize) -> PartBuffer {
        PartBuffer {
            buf: BytesMut::new(),
            part_size,
        }
    }

    /// Adds `chunk`; returns the whole parts now complete.
    fn push(&mut self, chunk: Bytes) -> Vec<Bytes> {
        let mut parts = Vec::new();
        if self.buf.is_empty() && chunk.len() == self.part_size {
            parts.push(chunk);
            return parts;
        }
        self.buf.extend_from_slice(&chunk);
        while self.buf.len() >= self.part_size {
            parts.push(self.buf.split_to(self.part_size).freeze());
        }
        parts
    }

    /// The bytes after the last whole part.
    fn finish(self) -> Bytes {
        self.buf.freeze()
    }
}

/// Which bytes of which segments (of the given sizes, concatenated) make up `range`.
fn segment_ranges(sizes: &[u64], range: Range<u64>) -> Vec<(usize, Range<u64>)> {
    let mut out = Vec::new();
    let mut start = 0u64;
    for (i, &size) in sizes.iter().enumerate() {
        let end = start + size;
        let lo = range.start.max(start);
        let hi = range.end.min(end);
        if lo < hi {
            out.push((i, lo - start..hi - start));
        }
        start = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_buffer_cuts_exact_parts() {
        // (part size, chunk sizes, sizes of the parts returned per push, remainder)
        type Case = (usize, &'static [usize], &'static [&'static [usize]], usize);
        let cases: &[Case] = &[
            (4, &[], &[], 0),
            (4, &[3], &[&[]], 3),
            (4, &[4], &[&[4]], 0),
            (4, &[1, 2, 1], &[&[], &[], &[4]], 0),
            (4, &[3, 3, 3], &[&[], &[4], &[4]], 1),
            (4, &[9], &[&[4, 4]], 1),
            (4, &[2, 10], &[&[], &[4, 4, 4]], 0),
            (4, &[0, 5], &[&[], &[4]], 1),
        ];
        for (size, chunks, want_parts, rest) in cases {
            let mut b = PartBuffer::new(*size);
            let mut data = Vec::new();
            let mut out = Vec::new();
            let mut n = 0u8;
            for (c, want) in chunks.iter().zip(want_parts.iter()) {
                let chunk: Vec<u8> = (0..*c)
                    .map(|_| {
                        n = n.wrapping_add(1);
                        n
                    })
                    .collect();
                data.extend_from_slice(&chunk);
                let parts = b.push(Bytes::from(chunk));
                let sizes: Vec<usize> = parts.iter().map(Bytes::len).collect();
                assert_eq!(&sizes[..], *want, "size {size}, chunks {chunks:?}");
                out.extend(parts);
            }
            let r = b.finish();
            assert_eq!(r.len(), *rest, "size {size}, chunks {chunks:?}");
            out.push(r);
            assert_eq!(out.concat(), data, "bytes kept in order");
        }
    }

    #[test]
    fn segment_ranges_table() {
        type Case = (&'static [u64], Range<u64>, &'static [(usize, Range<u64>)]);
        let cases: &[Case] = &[
            (&[10], 0..10, &[(0, 0..10)]),
            (&[10], 3..7, &[(0, 3..7)]),
            (&[10, 5], 0..15, &[(0, 0..10), (1, 0..5)]),
            (&[10, 5], 8..12, &[(0, 8..10), (1, 0..2)]),
            (&[10, 5], 10..15, &[(1, 0..5)]),
            (&[10, 5], 10..10, &[]),
            (&[10, 0, 5], 9..11, &[(0, 9..10), (2, 0..1)]),
            (&[3, 3, 3], 2..8, &[(0, 2..3), (1, 0..3), (2, 0..2)]),
            (&[], 0..0, &[]),
        ];
        for (sizes, range, want) in cases {
            assert_eq!(
                segment_ranges(sizes, range.clone()),
                want.to_vec(),
                "{sizes:?} {range:?}"
            );
        }
    }

    fn state(
        size: u64,
        sealed: &[(&str, u64)],
        mp: Option<(u64, usize)>,
        tail: Option<u64>,
    ) -> UploadState {
        UploadState {
            v: 1,
            size,
            seq: 7,
            sealed: sealed
                .iter()
                .map(|(n, s)| Segment {
                    name: n.to_string(),
                    size: *s,
                })
                .collect(),
            multipart: mp.map(|(part_size, n)| Multipart {
                name: "mp-3".into(),
                id: "upload-id".into(),
                part_size,
                parts: (0..n).map(|i| format!("\"etag{i}\"")).collect(),
            }),
            tail: tail.map(|size| Segment {
                name: "tail-5".into(),
                size,
            }),
        }
    }

    #[test]
    fn upload_state_round_trips_and_is_checked() {
        let m = MIN_PART_SIZE as u64;
        let good = [
            state(0, &[], None, None),
            state(3, &[], None, Some(3)),
            state(2 * m + 1, &[], Some((m, 2)), Some(1)),
            state(10 + m, &[("seg-1", 10)], Some((m, 1)), None),
            state(12, &[("tail-1", 10), ("tail-2", 2)], None, None),
        ];
        for s in &good {
            let bytes = s.encode();
            assert_eq!(&UploadState::decode(&bytes).unwrap(), s, "{s:?}");
        }
        // Hand-written states, as another replica (or a person) could have left them.
        let cases: &[(&str, bool)] = &[
            (r#"{"v":1,"size":0,"seq":0}"#, true),
            (
                r#"{"v":1,"size":4,"seq":2,"tail":{"name":"tail-2","size":4}}"#,
                true,
            ),
            (r#"{"v":2,"size":0,"seq":0}"#, false),
            (
                r#"{"v":1,"size":5,"seq":2,"tail":{"name":"tail-2","size":4}}"#,
                false,
            ),
            (
                r#"{"v":1,"size":0,"seq":2,"tail":{"name":"tail-2","size":0}}"#,
                false,
            ),
            (
                r#"{"v":1,"size":4,"seq":2,"tail":{"name":"../x","size":4}}"#,
                false,
            ),
            (
                r#"{"v":1,"size":4,"seq":2,"tail":{"name":"a/b","size":4}}"#,
                false,
            ),
            (
                r#"{"v":1,"size":4,"seq":2,"tail":{"name":"state","size":4}}"#,
                false,
            ),
            (
                r#"{"v":1,"size":2,"seq":2,"multipart":{"name":"mp-1","id":"x","part_size":1,"parts":["a","b"]}}"#,
                false,
            ),
            (
                r#"{"v":1,"size":5242880,"seq":2,"multipart":{"name":"mp-1","id":"x","part_size":5242880,"parts":["a"]}}"#,
                true,
            ),
            (
                r#"{"v":1,"size":10485760,"seq":2,"multipart":{"name":"mp-1","id":"x","part_size":5242880,"parts":["a"]},"tail":{"name":"t","size":5242880}}"#,
                false,
            ),
            ("not json", false),
            ("", false),
        ];
        for (json, ok) in cases {
            assert_eq!(UploadState::decode(json.as_bytes()).is_ok(), *ok, "{json}");
        }
    }

    #[test]
    fn digest_components_are_packed() {
        let h64 = "a80ce29b2438e8a20c65460237ecac9c45472748cdcb59993744b500074f6a99";
        let h128 = format!("{h64}{h64}");
        let b64 = URL_SAFE_NO_PAD.encode(hex::decode(h64).unwrap());
        let b128 = URL_SAFE_NO_PAD.encode(hex::decode(&h128).unwrap());
        // (component, object-path form)
        let cases: Vec<(String, String)> = vec![
            ("blobs".into(), "blobs".into()),
            ("sha256".into(), "sha256".into()),
            ("ab".into(), "ab".into()),
            ("link".into(), "link".into()),
            (h64.into(), format!("!-{b64}")),
            (h128.clone(), format!("!-{b128}")),
            (format!("sha256-{h64}"), format!("!sha256-{b64}")),
            (format!("sha512-{h128}"), format!("!sha512-{b128}")),
            // Not digests: kept as they are.
            (format!("sha256-{h64}.sig"), format!("!sha256-{b64}.sig")),
            (format!("sha256-{h64}.att"), format!("!sha256-{b64}.att")),
            (format!("{h64}.x.y"), format!("!-{b64}.x.y")),
            (format!("sha256-{h64}."), format!("!sha256-{b64}.")),
            (h64.to_uppercase(), h64.to_uppercase()),
            (h64[..63].to_string(), h64[..63].to_string()),
            (
                format!("{}-{}", &h64[..31], &h64[..32]),
                format!("{}-{}", &h64[..31], &h64[..32]),
            ),
        ];
        // Not digests, and longer than 64 bytes: hashed.
        for c in [
            format!("{h64}0"),
            format!("Sha256-{h64}"),
            format!("a-b-{h64}"),
            format!("-{h64}"),
            format!("sha256-{h64}.{}", "s".repeat(17)),
        ] {
            assert!(is_hashed(&encode_component(&c)), "{c}");
        }
        // Long names (a 128-character tag) are hashed, short ones kept.
        let long = format!("A_{}", "x".repeat(126));
        let enc = encode_component(&long);
        assert!(is_hashed(&enc), "{enc}");
        assert_eq!(enc, encode_component(&long), "stable");
        assert_ne!(enc, encode_component(&format!("B_{}", "x".repeat(126))));
        assert_eq!(decode_component(&enc), None, "needs its record");
        let edge = "y".repeat(64);
        assert_eq!(encode_component(&edge), edge);
        assert!(is_hashed(&encode_component(&"y".repeat(65))));
        for (c, packed) in &cases {
            assert_eq!(&encode_component(c), packed, "{c}");
            assert_eq!(
                decode_component(packed).as_deref(),
                Some(c.as_str()),
                "{packed}"
            );
            assert!(!packed.starts_with('!') || packed.len() < c.len());
        }
        // Names that are not ours are not listed.
        for bad in [
            "!",
            "!-",
            "!-!!",
            "!x",
            &format!("!-{b64}A"),
            "a b",
            ".x",
            "",
        ] {
            assert_eq!(decode_component(bad), None, "{bad}");
        }
    }

    #[test]
    fn listed_names_hide_our_objects() {
        let cases: &[(&[&str], &[&str])] = &[
            (&[], &[]),
            (&["b", "a"], &["a", "b"]),
            (&["data", ".data.upload"], &["data"]),
            (&[".data.upload"], &["data"]),
            (&[".tmp", ".x", ".upload", "..upload"], &[]),
            (&["state", "tail-1"], &["state", "tail-1"]),
            (&["!-AAAA", ".!-AAAA.upload", "!nope"], &[]),
        ];
        for (names, want) in cases {
            let (got, hashed) = child_names(names.iter().copied());
            assert_eq!(got, want.to_vec(), "{names:?}");
            assert!(hashed.is_empty());
        }
        let h = "!!0123456789abcdef0123456789abcdef";
        let (got, hashed) =
            child_names([h, ".!!0123456789abcdef0123456789abcdef.upload", "a"].into_iter());
        assert_eq!(got, vec!["a"]);
        assert_eq!(hashed, vec![h]);
        assert_eq!(name_record(h), ".!!0123456789abcdef0123456789abcdef.name");
    }

    fn opts(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn from_url_and_key_mapping() {
        let base = [
            ("endpoint", "http://127.0.0.1:9"),
            ("region", "us-east-1"),
            ("access_key_id", "k"),
            ("secret_access_key", "s"),
            ("allow_http", "true"),
        ];
        // (url, extra options, ok)
        type Case = (&'static str, &'static [(&'static str, &'static str)], bool);
        let cases: &[Case] = &[
            ("s3://bucket", &[], true),
            ("s3://bucket/pre/fix", &[], true),
            ("s3://bucket", &[("part_size", "5242880")], true),
            ("s3://bucket", &[("PART_SIZE", "16777216")], true),
            ("s3://bucket", &[("part_size", "1024")], false),
            ("s3://bucket", &[("part_size", "big")], false),
            ("s3://bucket", &[("no_such_option", "1")], false),
            ("ftp://bucket", &[], false),
            ("not a url", &[], false),
        ];
        for (url, extra, ok) in cases {
            let mut o = opts(&base);
            o.extend(opts(extra));
            let r = ObjectStorage::from_url(url, o);
            assert_eq!(r.is_ok(), *ok, "{url} {extra:?}: {r:?}");
            if let Err(e) = r {
                assert!(matches!(e, StorageError::Config { .. }), "{e}");
                assert!(e.to_string().contains(url), "{e}");
            }
        }

        let s = ObjectStorage::from_url("s3://bucket/pre/fix", opts(&base)).unwrap();
        assert_eq!(s.part_size(), DEFAULT_PART_SIZE);
        // (key, object path, upload state directory)
        let keys: &[(&str, &str, Option<&str>)] = &[
            ("", "pre/fix", None),
            ("a", "pre/fix/a", Some("pre/fix/.a.upload")),
            (
                "repositories/x/_uploads/id/data",
                "pre/fix/repositories/x/_uploads/id/data",
                Some("pre/fix/repositories/x/_uploads/id/.data.upload"),
            ),
        ];
        for (k, path, sidecar) in keys {
            let k = Key::new(*k).unwrap();
            assert_eq!(s.path(&k).as_ref(), *path);
            assert_eq!(s.sidecar(&k).as_ref().map(|p| p.as_ref()), *sidecar);
        }
        let s = ObjectStorage::from_url("s3://bucket", opts(&base)).unwrap();
        assert_eq!(s.path(&Key::new("a/b").unwrap()).as_ref(), "a/b");
        assert_eq!(s.prefix_path(), None);
    }
}
