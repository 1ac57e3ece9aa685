//! The part both archive destinations share: a [`TarWriter`] behind a lock, driven from
//! async code on blocking threads, that writes each blob once.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use oci::{Descriptor, Digest};

use super::blob_path;
use super::tar_writer::TarWriter;
use crate::{BlobStream, TransportError};

/// A tar archive of `blobs/<alg>/<hex>` entries being written.
pub(crate) struct BlobArchive {
    /// Held for the whole of an entry's write: concurrent `put_blob`s take turns.
    writer: Arc<Mutex<TarWriter>>,
    /// Blobs fully written (readable without waiting for `writer`).
    written: Mutex<HashSet<Digest>>,
    name: String,
}

impl BlobArchive {
    /// An archive renamed onto `target` by `finish`.
    pub(crate) fn create(target: &Path) -> Result<BlobArchive, TransportError> {
        Ok(BlobArchive::new(TarWriter::create(target)?))
    }

    /// An archive written sequentially to `sink`.
    pub(crate) fn to_writer(sink: Box<dyn Write + Send>) -> BlobArchive {
        BlobArchive::new(TarWriter::to_writer(sink))
    }

    fn new(w: TarWriter) -> BlobArchive {
        BlobArchive {
            name: w.name().to_string(),
            writer: Arc::new(Mutex::new(w)),
            written: Mutex::new(HashSet::new()),
        }
    }

    /// What errors call the archive.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Whether this blob was written.
    pub(crate) fn has(&self, digest: &Digest) -> bool {
        lock_set(&self.written).contains(digest)
    }

    /// Streams a blob into `blobs/<alg>/<hex>`, checking its size and digest; a blob written
    /// before is not read again.
    pub(crate) async fn put_blob(
        &self,
        d: &Descriptor,
        stream: BlobStream,
    ) -> Result<(), TransportError> {
        if self.has(&d.digest) {
            return Ok(());
        }
        let writer = Arc::clone(&self.writer);
        let handle = tokio::runtime::Handle::current();
        let digest = d.digest.clone();
        let size = d.size;
        let name = self.name.clone();
        tokio::task::spawn_blocking(move || {
            let mut w = lock_writer(&writer, &name)?;
            w.append_stream(&blob_path(&digest), size, &digest, stream, &handle)
        })
        .await
        .map_err(|e| self.join_error(e))??;
        lock_set(&self.written).insert(d.digest.clone());
        Ok(())
    }

    /// Writes a small blob held in memory (a manifest), checking it against `d`.
    pub(crate) async fn put_blob_bytes(
        &self,
        d: &Descriptor,
        bytes: Bytes,
    ) -> Result<(), TransportError> {
        let what = format!("manifest {} for {}", d.digest, self.name);
        if bytes.len() as u64 != d.size {
            return Err(TransportError::SizeMismatch {
                what,
                expected: d.size,
                actual: bytes.len() as u64,
            });
        }
        let actual = Digest::of(d.digest.algorithm(), &bytes);
        if actual != d.digest {
            return Err(TransportError::DigestMismatch {
                what,
                expected: d.digest.clone(),
                actual,
            });
        }
        if self.has(&d.digest) {
            return Ok(());
        }
        self.put_file(blob_path(&d.digest), bytes).await?;
        lock_set(&self.written).insert(d.digest.clone());
        Ok(())
    }

    /// Appends a file entry (`index.json`, …) unless one of that name exists.
    pub(crate) async fn put_file(&self, path: String, bytes: Bytes) -> Result<(), TransportError> {
        let writer = Arc::clone(&self.writer);
        let name = self.name.clone();
        tokio::task::spawn_blocking(move || {
            lock_writer(&writer, &name)?.append_bytes(&path, &bytes)
        })
        .await
        .map_err(|e| self.join_error(e))?
    }

    /// Appends the trailing files in order, then ends the archive and makes it visible. Once
    /// finished, calling again does nothing.
    pub(crate) async fn finish(&self, files: Vec<(String, Vec<u8>)>) -> Result<(), TransportError> {
        let writer = Arc::clone(&self.writer);
        let name = self.name.clone();
        tokio::task::spawn_blocking(move || {
            let mut w = lock_writer(&writer, &name)?;
            if w.is_finished() {
                return Ok(());
            }
            for (path, bytes) in &files {
                if w.has(path) {
                    return Err(TransportError::Invalid {
                        what: name.clone(),
                        detail: format!("{path} was already written"),
                    });
                }
                w.append_bytes(path, bytes)?;
            }
            w.finish()
        })
        .await
        .map_err(|e| self.join_error(e))?
    }

    fn join_error(&self, e: tokio::task::JoinError) -> TransportError {
        TransportError::Invalid {
            what: self.name.clone(),
            detail: format!("writer task failed: {e}"),
        }
    }
}

fn lock_writer<'a>(
    w: &'a Mutex<TarWriter>,
    name: &str,
) -> Result<MutexGuard<'a, TarWriter>, TransportError> {
    w.lock().map_err(|_| TransportError::Invalid {
        what: name.to_string(),
        detail: "an earlier write panicked; the archive is unusable".into(),
    })
}

fn lock_set(s: &Mutex<HashSet<Digest>>) -> MutexGuard<'_, HashSet<Digest>> {
    // The set is only inserted into; a panic elsewhere cannot leave it inconsistent.
    s.lock().unwrap_or_else(|e| e.into_inner())
}
