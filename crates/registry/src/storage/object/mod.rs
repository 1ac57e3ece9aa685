//! The object-storage backend: keys as objects in an S3, GCS or Azure bucket (through the
//! `object_store` crate), shared by any number of registry replicas.
//!
//! Whole-object writes are a single PUT when the body fits in one part, else a multipart
//! upload, whose completion is atomic. Appends — resumable blob uploads — keep every piece
//! of their state in the bucket, beside the key, under a dot-named directory no registry
//! key can name (`<parent>/.<name>.upload/`):
//!
//! - `state`: a small JSON object listing what the upload holds (see [`upload::UploadState`]);
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
//! (see [`keys::encode_component`]), so keys fit S3-compatible servers with short key limits.
//!
//! So an upload started on one replica can be continued on another and closed on a third.
//! Reading an upload, or renaming it into place, first seals it: the open multipart upload
//! is completed with the tail as its last part. Renaming a single sealed segment is a
//! server-side copy and a delete. Nothing relies on conditional writes (`If-None-Match`),
//! which some S3 servers ignore: the registry never has two writers on one upload (chunks
//! are ordered by the client, and a replica serialises its own writers).
mod backend;
mod keys;
mod objects;
mod upload;
mod url;

use std::io;
use std::sync::Arc;

use object_store::ObjectStore;
use object_store::list::PaginatedListStore;
use object_store::multipart::MultipartStore;

use super::Key;
use crate::error::StorageError;

/// this long.
pub const DEFAULT_PART_SIZE: usize = 8 * 1024 * 1024;

/// The smallest part size S3 accepts (for all parts but the last).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// The largest object S3 copies server-side in one request; larger ones are streamed.
const COPY_MAX: u64 = 5 * 1024 * 1024 * 1024;

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
