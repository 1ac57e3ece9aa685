//! Writing a blob: `ingest/<hex>/data` under an exclusive lock, hashed inline, verified and
//! renamed into `blobs/` on commit.

use crate::writeback::Writeback;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use oci::{Descriptor, Digest, Digester};

use crate::{IngestDir, Store, StoreError, db, lock};

/// An in-progress blob write. Lifecycle:
///
/// 1. [`Store::ingest`] takes an exclusive lock on `ingest/<hex>/lock` (blocking: two
///    writers of one blob, in any processes, take turns), then re-hashes whatever an
///    earlier, interrupted attempt left in `data`. [`Ingest::offset`] says how much that is;
///    the caller writes the rest, starting at that offset.
/// 2. [`Write`] appends and hashes in one pass; writing past the descriptor's size fails.
/// 3. [`Ingest::commit`] checks size, then digest; fsyncs; renames into `blobs/`; fsyncs
///    the directory; records the row. A mismatch discards the partial data.
///
/// Dropping an `Ingest` keeps the partial data for the next attempt and releases the lock;
/// [`Ingest::abort`] discards it. If the blob was already committed (by another process, or
/// earlier), [`Ingest::already_committed`] is true, writes are ignored and commit succeeds.
pub struct Ingest {
    store: Store,
    desc: Descriptor,
    dir: IngestDir,
    /// Held for the life of the ingest; closing it releases the lock.
    _lock: File,
    state: State,
}

enum State {
    Committed,
    Writing {
        data: BufWriter<File>,
        /// Boxed: the hasher state is large and `Committed` carries nothing.
        digester: Box<Digester>,
        written: u64,
        writeback: Writeback,
    },
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("digest", &self.desc.digest)
            .field("size", &self.desc.size)
            .field("offset", &self.offset())
            .finish()
    }
}

impl Store {
    /// Discards what killed writers left in `ingest/` and nobody resumes: anonymous writes
    /// ([`crate::BlobWriter`]), blobs written whole from memory (configs, manifests), and
    /// ingests killed before their first byte (no `data`, or an empty one). Cheap: one listing of `ingest/`. Any
    /// command that opens the store may call it; a live writer holds its lock and is left
    /// alone.
    pub fn discard_dead_oneshot_ingests(&self) {
        let Ok(rd) = fs::read_dir(self.layout().ingest_dir()) else {
            return;
        };
        for e in rd.flatten() {
            let dir = IngestDir::at(e.path());
            // An empty (or absent) `data`: the writer died before its first byte (say,
            // between opening its data and marking it oneshot); nothing to resume.
            let empty = fs::metadata(dir.data()).map_or(true, |m| m.len() == 0);
            if dir.is_anonymous() || dir.oneshot().exists() || empty {
                let _ = discard_idle_dir(&dir);
            }
        }
    }
}

impl Ingest {
    /// Marks this ingest as one nobody resumes (see [`Store::discard_dead_oneshot_ingests`]).
    pub(crate) fn mark_oneshot(&self) -> Result<(), StoreError> {
        let p = self.dir.oneshot();
        fs::write(&p, b"").map_err(|e| StoreError::io("cannot create", &p, e))
    }
}

/// Removes ingest directory `dir` unless its lock is held; whether it removed anything.
fn discard_idle_dir(dir: &IngestDir) -> Result<bool, StoreError> {
    let lock_path = dir.lock();
    let lock = match File::options().read(true).write(true).open(&lock_path) {
        Ok(f) => f,
        // No lock file: a writer killed before making it (or one making it right now, whose
        // files must not be touched: it may have made them since we looked). Only an empty
        // directory goes; a live writer that loses it makes it again.
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Ok(fs::remove_dir(dir.path()).is_ok());
        }
        Err(e) => return Err(StoreError::io("cannot open", &lock_path, e)),
    };
    // Held (or being taken over by a waiter): someone writes it, leave it. Holding the
    // lock while removing is safe: a waiter sees its lock file unlinked and starts over.
    if lock.try_lock().is_err() || !same_file(&lock, &lock_path) {
        return Ok(false);
    }
    let _ = fs::remove_file(dir.oneshot());
    let _ = fs::remove_file(dir.data());
    let _ = fs::remove_file(&lock_path);
    // Fails harmlessly when a new writer made its lock file in the meantime.
    let _ = fs::remove_dir(dir.path());
    Ok(true)
}

impl Ingest {
    pub(crate) fn open(store: &Store, desc: &Descriptor) -> Result<Ingest, StoreError> {
        let dir = store.layout().ingest(&desc.digest);
        let lock_path = dir.lock();
        let lock = loop {
            match fs::create_dir_all(dir.path()) {
                Ok(()) => {}
                // mkdir met the directory, and the previous holder removed it before
                // create_dir_all could check it is one: the same race as below, go again.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StoreError::io("cannot create", dir.path(), e)),
            }
            let f = match lock::exclusive(&lock_path) {
                Ok(f) => f,
                // The previous holder removed the directory between our mkdir and open.
                Err(StoreError::Io { ref source, .. })
                    if source.kind() == io::ErrorKind::NotFound =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            };
            // A previous holder removes the directory after committing. If it did while we
            // waited, our lock is on an unlinked file: start over on a fresh one.
            if same_file(&f, &lock_path) {
                break f;
            }
        };
        let mut ingest = Ingest {
            store: store.clone(),
            desc: desc.clone(),
            dir,
            _lock: lock,
            state: State::Committed,
        };
        if store.has_blob(&desc.digest)? || ingest.adopt_orphan()? {
            // Nothing to write: the directory (and its lock file) must not outlive us.
            ingest.cleanup();
            return Ok(ingest);
        }
        ingest.state = ingest.resume()?;
        Ok(ingest)
    }

    /// A crash between rename and row insert leaves a correct file with no row: verify it
    /// and record it, rather than download it again.
    fn adopt_orphan(&self) -> Result<bool, StoreError> {
        let target = self.store.blob_path(&self.desc.digest);
        if !target.is_file() {
            return Ok(false);
        }
        // Shared GC lock: a sweep must not delete the file between our check and insert.
        let _gc = lock::shared(&self.store.layout().gc_lock())?;
        let Ok(mut file) = File::open(&target) else {
            return Ok(false);
        };
        let mut digester = self.desc.digest.algorithm().digester();
        let mut buf = vec![0u8; 1 << 16];
        let mut len = 0u64;
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| StoreError::io("cannot read", &target, e))?;
            if n == 0 {
                break;
            }
            digester.update(&buf[..n]);
            len += n as u64;
        }
        if len != self.desc.size || digester.finish() != self.desc.digest {
            // Not the right content: the commit's rename will replace it.
            return Ok(false);
        }
        let (digest, now) = (self.desc.digest.to_string(), crate::now());
        let mut conn = self.store.conn();
        db::write(&mut conn, "cannot record a blob", |tx| {
            db::insert_blob(tx, &digest, self.desc.size, &self.desc.media_type, now)
        })?;
        Ok(true)
    }

    /// Opens `data` and re-hashes what it holds, so hashing continues where it stopped.
    fn resume(&self) -> Result<State, StoreError> {
        let path = self.data_path();
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| StoreError::io("cannot open", &path, e))?;
        let len = file
            .metadata()
            .map_err(|e| StoreError::io("cannot stat", &path, e))?
            .len();
        let mut digester = self.desc.digest.algorithm().digester();
        let mut written = 0u64;
        if len > 0 && len <= self.desc.size {
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = file
                    .read(&mut buf)
                    .map_err(|e| StoreError::io("cannot read", &path, e))?;
                if n == 0 {
                    break;
                }
                digester.update(&buf[..n]);
                written += n as u64;
            }
        }
        // Longer than the blob, or complete but wrong: it cannot be the right prefix.
        let complete_but_wrong = written == self.desc.size
            && written > 0
            && digester.clone().finish() != self.desc.digest;
        if len > self.desc.size || written != len || complete_but_wrong {
            file.set_len(0)
                .map_err(|e| StoreError::io("cannot truncate", &path, e))?;
            digester = self.desc.digest.algorithm().digester();
            written = 0;
        }
        file.seek(SeekFrom::Start(written))
            .map_err(|e| StoreError::io("cannot seek", &path, e))?;
        Ok(State::Writing {
            writeback: Writeback::new(&file),
            data: BufWriter::with_capacity(1 << 16, file),
            digester: Box::new(digester),
            written,
        })
    }

    fn data_path(&self) -> PathBuf {
        self.dir.data()
    }

    /// The descriptor being written.
    pub fn descriptor(&self) -> &Descriptor {
        &self.desc
    }

    /// Bytes already present (from an interrupted earlier attempt, or written so far). The
    /// caller continues the source from here. Equals the size if already committed.
    pub fn offset(&self) -> u64 {
        match &self.state {
            State::Committed => self.desc.size,
            State::Writing { written, .. } => *written,
        }
    }

    /// Whether the blob is already in the store; writes are then ignored.
    pub fn already_committed(&self) -> bool {
        matches!(self.state, State::Committed)
    }

    /// Throws away partial data, for a source that cannot resume from [`Ingest::offset`].
    pub fn reset(&mut self) -> Result<(), StoreError> {
        let path = self.data_path();
        let algorithm = self.desc.digest.algorithm();
        if let State::Writing {
            data,
            digester,
            written,
            ..
        } = &mut self.state
        {
            data.flush()
                .map_err(|e| StoreError::io("cannot write", &path, e))?;
            let f = data.get_mut();
            f.set_len(0)
                .map_err(|e| StoreError::io("cannot truncate", &path, e))?;
            f.seek(SeekFrom::Start(0))
                .map_err(|e| StoreError::io("cannot seek", &path, e))?;
            **digester = algorithm.digester();
            *written = 0;
        }
        Ok(())
    }

    /// Verifies and publishes the blob (see the type's lifecycle). "Already exists" is
    /// success. On a size or digest mismatch the partial data is discarded.
    pub fn commit(self) -> Result<(), StoreError> {
        self.commit_with_edges(&[])
    }

    /// Commit that also records edges from this blob to `children` in the same transaction
    /// (used for manifests).
    pub(crate) fn commit_with_edges(mut self, children: &[String]) -> Result<(), StoreError> {
        let state = std::mem::replace(&mut self.state, State::Committed);
        let parent = self.desc.digest.to_string();
        let State::Writing {
            data,
            digester,
            written,
            writeback,
        } = state
        else {
            if !children.is_empty() {
                let mut conn = self.store.conn();
                db::write(&mut conn, "cannot record references", |tx| {
                    db::insert_edges(tx, &parent, children)
                })?;
            }
            self.cleanup();
            return Ok(());
        };
        let path = self.data_path();
        let file = data
            .into_inner()
            .map_err(|e| StoreError::io("cannot write", &path, e.into_error()))?;
        writeback.finish();
        if written != self.desc.size {
            self.discard(file);
            return Err(StoreError::SizeMismatch {
                digest: self.desc.digest.clone(),
                expected: self.desc.size,
                actual: written,
            });
        }
        let actual = digester.finish();
        if actual != self.desc.digest {
            self.discard(file);
            return Err(StoreError::DigestMismatch {
                expected: self.desc.digest.clone(),
                actual,
            });
        }
        file.sync_all()
            .map_err(|e| StoreError::io("cannot fsync", &path, e))?;
        drop(file);

        // Rename and row insert happen under the shared GC lock, so a sweep (which holds it
        // exclusively) never sees a file in blobs/ whose row is about to appear.
        let _gc = lock::shared(&self.store.layout().gc_lock())?;
        let target = self.store.blob_path(&self.desc.digest);
        let target_dir = self
            .store
            .layout()
            .blobs_dir_of(self.desc.digest.algorithm());
        fs::create_dir_all(&target_dir)
            .map_err(|e| StoreError::io("cannot create", &target_dir, e))?;
        fs::rename(&path, &target).map_err(|e| StoreError::io("cannot rename into", &target, e))?;
        sync_dir(&target_dir)?;
        let now = crate::now();
        {
            let mut conn = self.store.conn();
            db::write(&mut conn, "cannot record a blob", |tx| {
                db::insert_blob(tx, &parent, self.desc.size, &self.desc.media_type, now)?;
                db::insert_edges(tx, &parent, children)
            })?;
        }
        self.cleanup();
        Ok(())
    }

    /// Discards the partial data and releases the lock.
    pub fn abort(mut self) -> Result<(), StoreError> {
        if let State::Writing { data, .. } = std::mem::replace(&mut self.state, State::Committed) {
            drop(data);
            let path = self.data_path();
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io("cannot remove", &path, e)),
            }
        }
        self.cleanup();
        Ok(())
    }

    fn discard(&self, file: File) {
        // Best effort: a failure leaves data that the next open re-checks anyway.
        let _ = file.set_len(0);
        drop(file);
        let _ = fs::remove_file(self.data_path());
        self.cleanup();
    }

    /// Removes the ingest directory while still holding its lock. Waiters notice that the
    /// lock file was unlinked and start over.
    fn cleanup(&self) {
        let _ = fs::remove_file(self.dir.oneshot());
        let _ = fs::remove_file(self.data_path());
        let _ = fs::remove_file(self.dir.lock());
        let _ = fs::remove_dir(self.dir.path());
    }
}

impl Write for Ingest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let size = self.desc.size;
        match &mut self.state {
            State::Committed => Ok(buf.len()),
            State::Writing {
                data,
                digester,
                written,
                writeback,
            } => {
                if *written + buf.len() as u64 > size {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "more than the {size} bytes the descriptor of {} promises",
                            self.desc.digest
                        ),
                    ));
                }
                let n = data.write(buf)?;
                digester.update(&buf[..n]);
                *written += n as u64;
                writeback.wrote(n as u64, || data.flush())?;
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.state {
            State::Committed => Ok(()),
            State::Writing { data, .. } => data.flush(),
        }
    }
}

impl Drop for Ingest {
    fn drop(&mut self) {
        // Keep the partial data for resumption; make it durable-ish on the way out.
        if let State::Writing { data, .. } = &mut self.state {
            let _ = data.flush();
        }
    }
}

pub(crate) fn same_file(f: &File, path: &Path) -> bool {
    match (f.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// fsyncs a directory so a rename in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StoreError::io("cannot fsync", dir, e))
}

/// Digest helper for callers holding bytes.
pub(crate) fn digest_of(d: &Digest, bytes: &[u8]) -> Digest {
    Digest::of(d.algorithm(), bytes)
}
