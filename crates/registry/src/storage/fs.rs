//! The filesystem backend: one file per key under a root directory.
//!
//! Whole-object writes go to a dot-named temporary file in the target's directory, are
//! fsynced, renamed into place and the directory fsynced, so a crash never leaves a
//! half-written object under its key. Keys are validated, so paths stay under the root.

use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use futures::StreamExt;
use futures::future::BoxFuture;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio_util::io::ReaderStream;

use super::{ByteStream, Key, Meta, Storage};
use crate::error::StorageError;

/// How much a streamed read asks of the file at a time. Each read is a hop to tokio's
/// blocking pool, so big blobs want big reads (memory per stream stays this size, whatever
/// the blob's).
const READ_CHUNK: usize = 1024 * 1024;

/// The read size for an object of `len` bytes: small objects do not get a big buffer.
fn chunk_for(len: u64) -> usize {
    usize::try_from(len).map_or(READ_CHUNK, |l| l.clamp(8 * 1024, READ_CHUNK))
}

/// Objects as files under a root directory.
#[derive(Debug)]
pub struct FsStorage {
    root: PathBuf,
    counter: AtomicU64,
}

impl FsStorage {
    /// A backend rooted at `root`, which is created when missing.
    pub fn new(root: impl Into<PathBuf>) -> Result<FsStorage, StorageError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|e| StorageError::Io {
            op: "create root directory",
            key: root.display().to_string(),
            source: e,
        })?;
        let storage = FsStorage {
            root,
            counter: AtomicU64::new(0),
        };
        storage.probe_write()?;
        Ok(storage)
    }

    /// Creates and removes a file in the root, so an unwritable root (read-only mount,
    /// wrong owner) is an error at start rather than on the first push.
    fn probe_write(&self) -> Result<(), StorageError> {
        let probe = self.temp_path(&self.root.join("probe"));
        let err = |op: &'static str, e: std::io::Error| StorageError::Io {
            op,
            key: self.root.display().to_string(),
            source: e,
        };
        std::fs::write(&probe, b"").map_err(|e| err("write to root directory", e))?;
        std::fs::remove_file(&probe).map_err(|e| err("remove a probe file from", e))
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &Key) -> PathBuf {
        let mut p = self.root.clone();
        for c in key.components() {
            p.push(c);
        }
        p
    }

    fn temp_path(&self, target: &Path) -> PathBuf {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let name = format!(".tmp-{}-{n}", std::process::id());
        target.with_file_name(name)
    }
}

fn io_err<'k>(op: &'static str, key: &'k Key) -> impl FnOnce(io::Error) -> StorageError + use<'k> {
    move |source| StorageError::Io {
        op,
        key: key.to_string(),
        source,
    }
}

async fn fsync_dir(dir: &Path, key: &Key) -> Result<(), StorageError> {
    let d = tokio::fs::File::open(dir)
        .await
        .map_err(io_err("open directory", key))?;
    d.sync_all().await.map_err(io_err("fsync directory", key))
}

async fn ensure_parent(path: &Path, key: &Key) -> Result<PathBuf, StorageError> {
    let parent = path
        .parent()
        .ok_or_else(|| StorageError::InvalidKey {
            key: key.to_string(),
        })?
        .to_path_buf();
    tokio::fs::create_dir_all(&parent)
        .await
        .map_err(io_err("create directory", key))?;
    Ok(parent)
}

/// Writes the whole body to `file`, returning the bytes written.
async fn write_body(
    file: &mut tokio::fs::File,
    mut body: ByteStream<'_>,
    key: &Key,
) -> Result<u64, StorageError> {
    let mut n = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|source| StorageError::Body { source })?;
        file.write_all(&chunk).await.map_err(io_err("write", key))?;
        n += chunk.len() as u64;
    }
    file.flush().await.map_err(io_err("flush", key))?;
    Ok(n)
}

impl Storage for FsStorage {
    fn check(&self) -> BoxFuture<'_, Result<(), StorageError>> {
        Box::pin(async move {
            // A listing of a missing root is empty, so ask for the root itself.
            let m = tokio::fs::metadata(&self.root)
                .await
                .map_err(|e| StorageError::Io {
                    op: "stat root directory",
                    key: self.root.display().to_string(),
                    source: e,
                })?;
            if m.is_dir() {
                Ok(())
            } else {
                Err(StorageError::Io {
                    op: "stat root directory",
                    key: self.root.display().to_string(),
                    source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
                })
            }
        })
    }

    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn meta<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Meta>, StorageError>> {
        Box::pin(async move {
            match tokio::fs::metadata(self.path(key)).await {
                Ok(m) if m.is_file() => Ok(Some(Meta {
                    size: m.len(),
                    modified: m.modified().map_err(io_err("stat", key))?,
                })),
                Ok(_) => Ok(None),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) if e.kind() == io::ErrorKind::NotADirectory => Ok(None),
                Err(e) => Err(io_err("stat", key)(e)),
            }
        })
    }

    fn get_small<'a>(
        &'a self,
        key: &'a Key,
        limit: u64,
    ) -> BoxFuture<'a, Result<bytes::Bytes, StorageError>> {
        // One blocking-pool hop for open, read and close: tags, links and manifests are
        // read on every pull, and tokio::fs would take a hop per call.
        let path = self.path(key);
        let key_string = key.to_string();
        Box::pin(async move {
            let read = tokio::task::spawn_blocking(move || {
                use std::io::Read as _;
                let f = std::fs::File::open(&path)?;
                let mut buf = Vec::new();
                f.take(limit + 1).read_to_end(&mut buf)?;
                Ok::<_, io::Error>(buf)
            })
            .await
            .map_err(|e| StorageError::Io {
                op: "read",
                key: key_string.clone(),
                source: io::Error::other(e),
            })?;
            match read {
                Ok(buf) if buf.len() as u64 > limit => Err(StorageError::TooLarge {
                    key: key_string,
                    limit,
                }),
                Ok(buf) => Ok(bytes::Bytes::from(buf)),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    Err(StorageError::NotFound { key: key_string })
                }
                Err(e) => Err(io_err("read", key)(e)),
            }
        })
    }

    fn get<'a>(
        &'a self,
        key: &'a Key,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'a, Result<ByteStream<'static>, StorageError>> {
        Box::pin(async move {
            let mut f = match tokio::fs::File::open(self.path(key)).await {
                Ok(f) => f,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    return Err(StorageError::NotFound {
                        key: key.to_string(),
                    });
                }
                Err(e) => return Err(io_err("open", key)(e)),
            };
            let stream: ByteStream<'static> = match range {
                Some(r) => {
                    f.seek(io::SeekFrom::Start(r.start))
                        .await
                        .map_err(io_err("seek", key))?;
                    let len = r.end.saturating_sub(r.start);
                    ReaderStream::with_capacity(f.take(len), chunk_for(len)).boxed()
                }
                None => {
                    let len = f.metadata().await.map_err(io_err("stat", key))?.len();
                    ReaderStream::with_capacity(f, chunk_for(len)).boxed()
                }
            };
            Ok(stream)
        })
    }

    fn put<'a>(
        &'a self,
        key: &'a Key,
        body: ByteStream<'a>,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let path = self.path(key);
            let parent = ensure_parent(&path, key).await?;
            let tmp = self.temp_path(&path);
            let result = async {
                let mut f = tokio::fs::File::create(&tmp)
                    .await
                    .map_err(io_err("create", key))?;
                let n = write_body(&mut f, body, key).await?;
                f.sync_all().await.map_err(io_err("fsync", key))?;
                drop(f);
                tokio::fs::rename(&tmp, &path)
                    .await
                    .map_err(io_err("rename", key))?;
                fsync_dir(&parent, key).await?;
                Ok(n)
            }
            .await;
            if result.is_err() {
                let _ = tokio::fs::remove_file(&tmp).await;
            }
            result
        })
    }

    fn append<'a>(
        &'a self,
        key: &'a Key,
        offset: u64,
        body: ByteStream<'a>,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        Box::pin(async move {
            let path = self.path(key);
            ensure_parent(&path, key).await?;
            let mut f = tokio::fs::OpenOptions::new()
                .write(true)
                .create(offset == 0)
                .truncate(false)
                .open(&path)
                .await
                .map_err(|e| {
                    if e.kind() == io::ErrorKind::NotFound {
                        StorageError::NotFound {
                            key: key.to_string(),
                        }
                    } else {
                        io_err("open", key)(e)
                    }
                })?;
            let len = f.metadata().await.map_err(io_err("stat", key))?.len();
            if len != offset {
                return Err(StorageError::OffsetMismatch {
                    key: key.to_string(),
                    expected: len,
                    got: offset,
                });
            }
            f.seek(io::SeekFrom::Start(offset))
                .await
                .map_err(io_err("seek", key))?;
            let written = write_body(&mut f, body, key).await;
            // Keep what arrived even when the body broke off: the client may resume.
            f.sync_data().await.map_err(io_err("fsync", key))?;
            Ok(offset + written?)
        })
    }

    fn rename<'a>(&'a self, from: &'a Key, to: &'a Key) -> BoxFuture<'a, Result<(), StorageError>> {
        Box::pin(async move {
            let src = self.path(from);
            let dst = self.path(to);
            let parent = ensure_parent(&dst, to).await?;
            tokio::fs::rename(&src, &dst).await.map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    StorageError::NotFound {
                        key: from.to_string(),
                    }
                } else {
                    io_err("rename", from)(e)
                }
            })?;
            fsync_dir(&parent, to).await
        })
    }

    fn delete<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let path = self.path(key);
            let meta = match tokio::fs::symlink_metadata(&path).await {
                Ok(m) => m,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    return Ok(false);
                }
                Err(e) => return Err(io_err("stat", key)(e)),
            };
            let r = if meta.is_dir() {
                tokio::fs::remove_dir_all(&path).await
            } else {
                tokio::fs::remove_file(&path).await
            };
            match r {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(io_err("delete", key)(e)),
            }
        })
    }

    fn list<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Vec<String>, StorageError>> {
        Box::pin(async move {
            let mut rd = match tokio::fs::read_dir(self.path(key)).await {
                Ok(rd) => rd,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
                    ) =>
                {
                    return Ok(Vec::new());
                }
                Err(e) => return Err(io_err("list", key)(e)),
            };
            let mut names = Vec::new();
            while let Some(entry) = rd.next_entry().await.map_err(io_err("list", key))? {
                if let Some(name) = entry.file_name().to_str()
                    && !name.starts_with('.')
                {
                    names.push(name.to_string());
                }
            }
            names.sort();
            Ok(names)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{put_bytes, read_small};
    use bytes::Bytes;
    use futures::TryStreamExt;

    fn body(parts: &[&'static [u8]]) -> ByteStream<'static> {
        let v: Vec<io::Result<Bytes>> = parts.iter().map(|p| Ok(Bytes::from_static(p))).collect();
        futures::stream::iter(v).boxed()
    }

    #[tokio::test]
    async fn put_get_stat_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let s = FsStorage::new(dir.path()).unwrap();
        let k = Key::new("a/b/c").unwrap();
        assert_eq!(s.stat(&k).await.unwrap(), None);
        assert!(matches!(
            s.get(&k, None).await,
            Err(StorageError::NotFound { .. })
        ));
        assert_eq!(s.put(&k, body(&[b"hello ", b"world"])).await.unwrap(), 11);
        assert_eq!(s.stat(&k).await.unwrap(), Some(11));
        let got: Vec<Bytes> = s
            .get(&k, Some(6..11))
            .await
            .unwrap()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(got.concat(), b"world");
        assert_eq!(&read_small(&s, &k, 100).await.unwrap()[..], b"hello world");
        assert!(matches!(
            read_small(&s, &k, 5).await,
            Err(StorageError::TooLarge { .. })
        ));
        put_bytes(&s, &Key::new("a/b/d").unwrap(), Bytes::from_static(b"x"))
            .await
            .unwrap();
        let ab = Key::new("a/b").unwrap();
        assert_eq!(s.list(&ab).await.unwrap(), vec!["c", "d"]);
        // A directory is not an object.
        assert_eq!(s.stat(&ab).await.unwrap(), None);
        assert!(s.delete(&k).await.unwrap());
        assert!(!s.delete(&k).await.unwrap());
        assert!(s.delete(&Key::new("a").unwrap()).await.unwrap());
        assert!(s.list(&ab).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn failed_put_leaves_old_object() {
        let dir = tempfile::tempdir().unwrap();
        let s = FsStorage::new(dir.path()).unwrap();
        let k = Key::new("x").unwrap();
        put_bytes(&s, &k, Bytes::from_static(b"old")).await.unwrap();
        let broken: ByteStream<'static> = futures::stream::iter(vec![
            Ok(Bytes::from_static(b"new")),
            Err(io::Error::other("client went away")),
        ])
        .boxed();
        assert!(matches!(
            s.put(&k, broken).await,
            Err(StorageError::Body { .. })
        ));
        assert_eq!(&read_small(&s, &k, 10).await.unwrap()[..], b"old");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[tokio::test]
    async fn append_checks_offset() {
        let dir = tempfile::tempdir().unwrap();
        let s = FsStorage::new(dir.path()).unwrap();
        let k = Key::new("u/data").unwrap();
        assert!(matches!(
            s.append(&k, 3, body(&[b"x"])).await,
            Err(StorageError::NotFound { .. })
        ));
        assert_eq!(s.append(&k, 0, body(&[b"abc"])).await.unwrap(), 3);
        assert!(matches!(
            s.append(&k, 2, body(&[b"x"])).await,
            Err(StorageError::OffsetMismatch { expected: 3, .. })
        ));
        assert_eq!(s.append(&k, 3, body(&[b"de"])).await.unwrap(), 5);
        let to = Key::new("blobs/x").unwrap();
        s.rename(&k, &to).await.unwrap();
        assert_eq!(&read_small(&s, &to, 10).await.unwrap()[..], b"abcde");
        assert_eq!(s.stat(&k).await.unwrap(), None);
    }
}
