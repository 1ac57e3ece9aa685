//! Where the registry keeps its bytes: a small key/value trait and its backends.
//!
//! Keys are slash-separated relative paths (`blobs/sha256/ab/<hex>`) checked by [`Key::new`],
//! so no backend ever sees `..`, an absolute path or an empty component. A backend offers
//! whole-object writes that are atomic (a reader sees the old object, or the new one, never
//! half of it), streaming reads with an optional byte range, and appends at a known offset
//! for resumable uploads. Everything else the registry does (layout, links, digests) is built
//! on these operations in [`crate::repo`].

mod fs;
mod object;
mod object_client;

use std::io;
use std::ops::Range;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

pub use fs::FsStorage;
pub use object::{DEFAULT_PART_SIZE, MIN_PART_SIZE, ObjectStorage};
pub use object_client::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RETRIES, DEFAULT_RETRY_TIMEOUT};

use crate::error::StorageError;

/// A stream of bytes read from or written to a backend.
pub type ByteStream<'a> = BoxStream<'a, io::Result<Bytes>>;

/// A validated storage key: components of `[A-Za-z0-9._-]`, none empty, none starting
/// with `.` (so `.` and `..` are impossible and backends may use dot-names for themselves).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(String);

impl Key {
    /// Checks `s` and makes a key of it. The empty string is the root.
    pub fn new(s: impl Into<String>) -> Result<Key, StorageError> {
        let s = s.into();
        if s.is_empty() || s.split('/').all(valid_component) {
            Ok(Key(s))
        } else {
            Err(StorageError::InvalidKey { key: s })
        }
    }

    /// The root prefix (the empty key).
    pub fn root() -> Key {
        Key(String::new())
    }

    /// The key `self/child`; `child` may hold several components.
    pub fn join(&self, child: &str) -> Result<Key, StorageError> {
        if self.0.is_empty() {
            Key::new(child)
        } else {
            Key::new(format!("{}/{child}", self.0))
        }
    }

    /// The key as a path string.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The components of the key.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn valid_component(c: &str) -> bool {
    !c.is_empty()
        && !c.starts_with('.')
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// What a backend knows about one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Its size in bytes.
    pub size: u64,
    /// When it was last written, by the backend's clock (the file's mtime, the object's
    /// `Last-Modified`). Garbage collection compares these with each other only, never
    /// with a local clock, so replicas with skewed clocks still agree.
    pub modified: std::time::SystemTime,
}

/// A place to keep keyed objects. Object-safe, so a server holds an `Arc<dyn Storage>`.
pub trait Storage: Send + Sync + 'static {
    /// The size and modification time of the object at `key`, or `None` when there is
    /// none.
    fn meta<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Meta>, StorageError>>;

    /// The size of the object at `key`, or `None` when there is none.
    fn stat<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<u64>, StorageError>> {
        Box::pin(async move { Ok(self.meta(key).await?.map(|m| m.size)) })
    }

    /// Reads the object at `key`, or the bytes of `range` in it (the caller checks the range
    /// against [`Storage::stat`]). A missing object is [`StorageError::NotFound`].
    fn get<'a>(
        &'a self,
        key: &'a Key,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'a, Result<ByteStream<'static>, StorageError>>;

    /// Reads the whole object at `key` into memory; more than `limit` bytes is
    /// [`StorageError::TooLarge`]. For links, tags and manifests, which are read on every
    /// pull: backends override it when they can do it in fewer round trips than
    /// [`Storage::get`].
    fn get_small<'a>(
        &'a self,
        key: &'a Key,
        limit: u64,
    ) -> BoxFuture<'a, Result<Bytes, StorageError>> {
        Box::pin(async move {
            let mut stream = self.get(key, None).await?;
            let mut buf = Vec::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| StorageError::Io {
                    op: "read",
                    key: key.to_string(),
                    source: e,
                })?;
                if (buf.len() + chunk.len()) as u64 > limit {
                    return Err(StorageError::TooLarge {
                        key: key.to_string(),
                        limit,
                    });
                }
                buf.extend_from_slice(&chunk);
            }
            Ok(Bytes::from(buf))
        })
    }

    /// Writes the object at `key` from `body`, replacing any old one atomically; nothing is
    /// visible under `key` until the whole body is durable. Returns the size written. An
    /// error of the body stream is [`StorageError::Body`] and leaves `key` unchanged.
    fn put<'a>(
        &'a self,
        key: &'a Key,
        body: ByteStream<'a>,
    ) -> BoxFuture<'a, Result<u64, StorageError>>;

    /// Appends `body` to the object at `key` (created when `offset` is 0 and it is missing),
    /// which must currently be exactly `offset` bytes long, else
    /// [`StorageError::OffsetMismatch`]. Durable when it returns the new size. An object
    /// being appended to is an upload, never read by clients until [`Storage::rename`]d.
    fn append<'a>(
        &'a self,
        key: &'a Key,
        offset: u64,
        body: ByteStream<'a>,
    ) -> BoxFuture<'a, Result<u64, StorageError>>;

    /// Moves the object at `from` to `to`, replacing `to` atomically.
    fn rename<'a>(&'a self, from: &'a Key, to: &'a Key) -> BoxFuture<'a, Result<(), StorageError>>;

    /// Deletes the object at `key`, or everything under the prefix `key`. Returns whether
    /// anything was there.
    fn delete<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<bool, StorageError>>;

    /// The names of the direct children of the prefix `key` (objects and sub-prefixes),
    /// sorted; empty when there are none.
    fn list<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Vec<String>, StorageError>>;

    /// Checks that the backend answers, cheaply (one listing or stat): at start and for
    /// the health check. An empty store is fine; a missing bucket or root is not.
    fn check(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            self.list(&Key::root()).await?;
            Ok(())
        })
    }

    /// What the backend is, for messages and logs: a directory or a bucket URL, never
    /// credentials or endpoints.
    fn describe(&self) -> String {
        "storage".to_string()
    }
}

/// Reads a whole object of at most `limit` bytes into memory (links, tags, manifests).
pub async fn read_small(
    storage: &dyn Storage,
    key: &Key,
    limit: u64,
) -> Result<Bytes, StorageError> {
    storage.get_small(key, limit).await
}

/// Writes a small object atomically from memory.
pub async fn put_bytes(storage: &dyn Storage, key: &Key, data: Bytes) -> Result<(), StorageError> {
    let body = futures::stream::once(async move { Ok::<_, io::Error>(data) }).boxed();
    storage.put(key, body).await.map(|_| ())
}

/// Whether an object exists at `key`.
pub async fn exists(storage: &dyn Storage, key: &Key) -> Result<bool, StorageError> {
    storage.stat(key).await.map(|s| s.is_some())
}

/// Copies one object to another key through a stream (for backends without a server-side
/// copy); `to` appears atomically.
pub async fn copy(storage: &dyn Storage, from: &Key, to: &Key) -> Result<u64, StorageError> {
    let stream = storage.get(from, None).await?;
    storage
        .put(to, stream.map_err(io::Error::other).boxed())
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        let cases: &[(&str, bool)] = &[
            ("", true),
            ("a", true),
            ("blobs/sha256/ab/abcdef", true),
            ("repositories/a/b/_manifests/tags/V1.0", true),
            ("a/../b", false),
            ("..", false),
            ("./a", false),
            (".tmp", false),
            ("a//b", false),
            ("/a", false),
            ("a/", false),
            ("a b", false),
            ("a\\b", false),
            ("a/\0", false),
            ("a%2f", false),
        ];
        for (k, ok) in cases {
            assert_eq!(Key::new(*k).is_ok(), *ok, "{k:?}");
        }
        assert_eq!(Key::new("").unwrap().join("a/b").unwrap().as_str(), "a/b");
        assert!(Key::new("a").unwrap().join("..").is_err());
    }
}
