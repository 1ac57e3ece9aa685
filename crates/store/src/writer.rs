//! Writing a blob whose digest is not known in advance: a build's or a commit's layer,
//! gzip-compressed as it is made. The content goes once into `ingest/anon-<pid>-<n>/data`,
//! hashed (sha256) and counted as it passes; [`BlobWriter::commit`] names it by its hash
//! (as containerd's and ocidir's writers do) by renaming it into `blobs/`.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use oci::{Algorithm, Descriptor, Digester};

use crate::ingest::{same_file, sync_dir};
use crate::writeback::Writeback;
use crate::{IngestDir, Lease, Store, StoreError, db, lock};

/// How many times a writer tries a fresh directory when a reaper removed the one it made
/// before it could lock it.
const OPEN_TRIES: usize = 16;

/// An anonymous blob write. Lifecycle:
///
/// 1. [`Store::blob_writer`] makes `ingest/anon-<pid>-<n>/`, locks its `lock` file
///    exclusively for the writer's life and opens `data`. The directory is never resumed:
///    once its lock is free (its writer died), the next command that opens the store
///    removes it ([`Store::discard_dead_oneshot_ingests`]).
/// 2. [`Write`] appends, hashing and counting in one pass.
/// 3. [`BlobWriter::commit`] adds the digest to the writer's lease, fsyncs, and under the
///    shared GC lock renames the file to `blobs/sha256/<hex>` (or drops it if that blob is
///    already stored) and records the row; then it removes the directory.
///
/// Dropping a writer without committing removes what it wrote.
pub struct BlobWriter<'l> {
    store: Store,
    lease: Option<&'l Lease>,
    dir: IngestDir,
    /// Held for the writer's life; closing it releases the lock.
    _lock: File,
    /// `None` once committed or discarded.
    data: Option<BufWriter<File>>,
    digester: Box<Digester>,
    written: u64,
    writeback: Option<Writeback>,
}

impl std::fmt::Debug for BlobWriter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter")
            .field("dir", &self.dir)
            .field("written", &self.written)
            .finish()
    }
}

impl Store {
    /// Starts writing a blob whose digest is learnt as it is written (see [`BlobWriter`]).
    /// Its commit adds the digest to `lease` before the blob appears, so a concurrent
    /// prune cannot collect it before the image that refers to it is tagged.
    pub fn blob_writer<'l>(&self, lease: &'l Lease) -> Result<BlobWriter<'l>, StoreError> {
        BlobWriter::open(self, Some(lease))
    }
}

impl<'l> BlobWriter<'l> {
    pub(crate) fn open(store: &Store, lease: Option<&'l Lease>) -> Result<Self, StoreError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let pid = std::process::id();
        let mut tries = 0;
        let (dir, lock) = loop {
            let dir = store
                .layout()
                .anonymous_ingest(pid, SEQ.fetch_add(1, Ordering::Relaxed));
            fs::create_dir_all(dir.path())
                .map_err(|e| StoreError::io("cannot create", dir.path(), e))?;
            let lock_path = dir.lock();
            match lock::exclusive(&lock_path) {
                // A reaper that saw the directory empty may have removed it (and our lock
                // file with it) in between: then take a fresh one.
                Ok(f) if same_file(&f, &lock_path) => break (dir, f),
                Ok(_) => {}
                Err(StoreError::Io { ref source, .. })
                    if source.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            tries += 1;
            if tries >= OPEN_TRIES {
                return Err(StoreError::io(
                    "cannot lock",
                    lock_path,
                    io::Error::other("the directory kept disappearing"),
                ));
            }
        };
        let path = dir.data();
        // Truncated, not created new: a dead process with our PID may have left this very
        // name before any reaper ran; we hold its lock now, so what is there is garbage.
        let file = File::options()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| StoreError::io("cannot create", &path, e))?;
        Ok(BlobWriter {
            store: store.clone(),
            lease,
            writeback: Some(Writeback::new(&file)),
            data: Some(BufWriter::with_capacity(1 << 16, file)),
            dir,
            _lock: lock,
            digester: Box::new(Algorithm::Sha256.digester()),
            written: 0,
        })
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Publishes the blob as `media_type` and returns its descriptor. "Already stored" is
    /// success (what was written is dropped).
    pub fn commit(self, media_type: &str) -> Result<Descriptor, StoreError> {
        self.commit_with_edges(media_type, &[])
    }

    /// Commit that also records edges from this blob to `children` in the same
    /// transaction as its row (used for manifests).
    pub(crate) fn commit_with_edges(
        mut self,
        media_type: &str,
        children: &[String],
    ) -> Result<Descriptor, StoreError> {
        let published = self.publish(media_type, children);
        // Whatever happened, the directory goes: renamed data is gone from it already,
        // and data not renamed (already stored, or a failure) is not worth keeping.
        self.cleanup();
        published
    }

    fn publish(&mut self, media_type: &str, children: &[String]) -> Result<Descriptor, StoreError> {
        let path = self.dir.data();
        let Some(data) = self.data.take() else {
            return Err(StoreError::io(
                "cannot write",
                &path,
                io::Error::other("closed"),
            ));
        };
        let file = data
            .into_inner()
            .map_err(|e| StoreError::io("cannot write", &path, e.into_error()))?;
        if let Some(wb) = self.writeback.take() {
            wb.finish();
        }
        let digester =
            std::mem::replace(&mut self.digester, Box::new(Algorithm::Sha256.digester()));
        let desc = Descriptor::new(media_type, digester.finish(), self.written);
        // Leased before it can appear: from the rename on, a prune must see it as held.
        if let Some(lease) = self.lease {
            lease.add(&desc.digest)?;
        }
        file.sync_all()
            .map_err(|e| StoreError::io("cannot fsync", &path, e))?;
        drop(file);

        let parent = desc.digest.to_string();
        // Rename and row insert under the shared GC lock (see the crate's "Between
        // processes"): a sweep never sees a file whose row is about to appear, and a blob
        // found stored here stays (leased above) once the lock is released.
        let _gc = lock::shared(&self.store.layout().gc_lock())?;
        if !self.store.has_blob(&desc.digest)? {
            let target = self.store.blob_path(&desc.digest);
            let target_dir = self.store.layout().blobs_dir_of(Algorithm::Sha256);
            fs::create_dir_all(&target_dir)
                .map_err(|e| StoreError::io("cannot create", &target_dir, e))?;
            // Replaces a file a crashed commit left without a row: same name, same bytes.
            fs::rename(&path, &target)
                .map_err(|e| StoreError::io("cannot rename into", &target, e))?;
            sync_dir(&target_dir)?;
        }
        let now = crate::now();
        let mut conn = self.store.conn();
        db::write(&mut conn, "cannot record a blob", |tx| {
            db::insert_blob(tx, &parent, desc.size, &desc.media_type, now)?;
            db::insert_edges(tx, &parent, children)
        })?;
        Ok(desc)
    }

    /// Removes the directory (data first, the lock file last) while still holding its
    /// lock.
    fn cleanup(&self) {
        let _ = fs::remove_file(self.dir.data());
        let _ = fs::remove_file(self.dir.lock());
        let _ = fs::remove_dir(self.dir.path());
    }
}

impl Write for BlobWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let Some(data) = &mut self.data else {
            return Err(io::Error::other("the blob writer is closed"));
        };
        let n = data.write(buf)?;
        self.digester.update(&buf[..n]);
        self.written += n as u64;
        if let Some(wb) = &mut self.writeback {
            wb.wrote(n as u64, || data.flush())?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.data {
            Some(d) => d.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for BlobWriter<'_> {
    fn drop(&mut self) {
        if let Some(data) = self.data.take() {
            // Never committed: nobody resumes an anonymous write.
            drop(data);
            if let Some(wb) = self.writeback.take() {
                wb.finish();
            }
            self.cleanup();
        }
    }
}
