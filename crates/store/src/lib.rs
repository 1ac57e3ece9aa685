//! The local store that concurrent `strata` processes share, with no daemon: content blobs,
//! the metadata database (images, tags, repo digests, references between blobs, leases),
//! and garbage collection by reachability.
//!
//! Its ideas are containerd's (`content`, `metadata`, `gc`), made safe *between processes*:
//! every writer uses SQLite `BEGIN IMMEDIATE`, and file locks (`flock`) order blob writes
//! and GC.
//!
//! # On-disk layout
//!
//! [`Layout`] is the only code that knows the names under the root, the store's own and
//! those of the crates that keep things there (snapshots, containers, volumes, the build
//! cache). The store's part:
//!
//! ```text
//! <root>/
//!   blobs/sha256/<hex>        immutable content; appears only by rename after verification
//!   blobs/sha512/<hex>
//!   ingest/<hex>/lock         held exclusively by the one writer of that blob
//!   ingest/<hex>/data         partial content; resumed after a crash or an interruption
//!   ingest/anon-<pid>-<n>/    a blob written before its digest is known (a layer being
//!                             made): never resumed, removed once its lock is free
//!   locks/gc                  shared by commits (rename + row insert), exclusive for a sweep
//!   metadata.db               SQLite in WAL mode (busy_timeout 30 s, foreign keys on)
//! ```
//!
//! A blob is present when both its row and its file exist. A row only ever names content
//! that is already committed. GC deletes rows in one transaction and then their files; a
//! crash in between leaves files without rows, which the next GC removes.
//!
//! # Schema
//!
//! ```sql
#![doc = include_str!("schema.sql")]
//! ```
//!
//! Edges (`parent → child`) are recorded as manifests are stored, so GC never parses a
//! manifest; a child may be absent (an index pulled for one platform).
//!
//! # Between processes
//!
//! - Two writers of one blob serialise on `ingest/<hex>/lock`; the second finds the blob
//!   committed ([`Ingest::already_committed`]).
//! - An anonymous writer ([`BlobWriter`]) adds its digest to its lease, once the digest is
//!   known, before the rename: the blob is held from the moment it appears.
//! - A commit holds `locks/gc` shared from rename to row insert; GC holds it exclusively
//!   from its transaction until the files are deleted. So GC never deletes a file whose row
//!   is about to appear, and a commit never re-adds a row for a file GC is unlinking.
//! - Content that no image refers to yet (a pull in progress) is protected by a [`Lease`]:
//!   add each digest to the lease *before* ingesting it (or before looking whether it is
//!   there), keep the lease until the manifest is stored and tagged. Leases of dead
//!   processes, or past their expiry, do not count.
//! - An operation that reads an image (a build's base, the image a container is made
//!   from, the source of a tag) holds it with [`Lease::hold_image`]: `image prune` takes
//!   only images that are unreferenced *and* unleased, checked in its removal transaction,
//!   so an image is either held before the prune or gone before the operation starts.
//!   An explicit `rmi` still removes a held image's record (its content stays leased).
//! - Lock order is always file lock, then database; nothing waits for a file lock while
//!   holding a transaction.
//! - GC roots: image records, tags, repo digests, images in use (`image_users`, filled
//!   by containers) and live leases. [`mark`] is the pure reachability step.
//!
//! # Example
//!
//! ```
//! use std::io::Write;
//! # fn main() -> Result<(), store::StoreError> {
//! let dir = tempfile::tempdir().unwrap();
//! let store = store::Store::open(dir.path())?;
//! let desc = oci::Descriptor::of_bytes(oci::media::OCI_LAYER, b"hello");
//! let mut w = store.ingest(&desc)?;     // resumable; invisible to readers
//! w.write_all(b"hello").unwrap();       // hashed inline
//! w.commit()?;                          // verify, fsync, rename, record
//! assert_eq!(store.read_blob(&desc.digest)?, b"hello");
//!
//! // A layer being made: its digest is learnt as it is written.
//! let lease = store.lease()?;
//! let mut w = store.blob_writer(&lease)?;
//! w.write_all(b"made here").unwrap();
//! let layer = w.commit(oci::media::OCI_LAYER)?;   // named by its hash, leased
//! assert_eq!(layer, oci::Descriptor::of_bytes(oci::media::OCI_LAYER, b"made here"));
//! # Ok(()) }
//! ```

mod build_cache;
mod db;
mod error;
pub mod events;
pub mod events_query;
mod gc;
mod images;
mod ingest;
mod layout;
mod lease;
mod lock;
mod platform_remove;
mod platforms;
mod put_image;
mod remove;
mod snapshots;
mod space;
mod usage;
mod verify;
mod volumes;
mod writeback;
mod writer;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use oci::{AnyManifest, Descriptor, Digest};
use rusqlite::Connection;

pub use build_cache::{CacheEntry, CachePrunePolicy, CachePruneReport, cache_id};
pub use error::StoreError;
pub use gc::{GcReport, INGEST_GRACE, mark};
pub use images::ImageInfo;
pub use ingest::Ingest;
pub use layout::{IngestDir, Layout, SnapshotDir};
pub use lease::{LEASE_TTL_SECS, Lease};
pub use platforms::PlatformEntry;
pub use put_image::StoredImage;
pub use remove::{PruneReport, RemoveEvent};
pub use snapshots::{SnapshotPruneReport, SnapshotUse};
pub use usage::DiskUsage;
pub use verify::Violation;
pub use volumes::VolumeRecord;
pub use writer::BlobWriter;

/// A handle on a store directory. Cheap to clone; safe to share between threads, and any
/// number of processes may open the same root at once.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    layout: Layout,
    conn: Mutex<Connection>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root()).finish()
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens the store at `root`, creating its directories and database if needed and
    /// migrating an older schema.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let layout = Layout::new(root);
        for p in [
            layout.blobs_dir_of(oci::Algorithm::Sha256),
            layout.blobs_dir_of(oci::Algorithm::Sha512),
            layout.ingest_dir(),
            layout.locks_dir(),
        ] {
            fs::create_dir_all(&p).map_err(|e| StoreError::io("cannot create", &p, e))?;
        }
        let conn = db::open(&layout.db_file())?;
        Ok(Store {
            inner: Arc::new(Inner {
                layout,
                conn: Mutex::new(conn),
            }),
        })
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        self.inner.layout.root()
    }

    /// Where everything under the root lives: see [`Layout`].
    pub fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the connection cannot leave a transaction open: rusqlite
        // rolls back on drop. So a poisoned lock is still usable.
        self.inner.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where the blob's file is (or would be): `blobs/<algorithm>/<hex>`.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.inner.layout.blob(digest)
    }

    /// Whether the blob is committed: its row and its file both exist.
    pub fn has_blob(&self, digest: &Digest) -> Result<bool, StoreError> {
        let row = db::blob(&self.conn(), &digest.to_string())?;
        Ok(row.is_some() && self.blob_path(digest).is_file())
    }

    fn blob_row(&self, digest: &Digest) -> Result<(u64, String), StoreError> {
        db::blob(&self.conn(), &digest.to_string())?
            .ok_or_else(|| StoreError::not_found(format!("blob {digest} is not in the store")))
    }

    /// The size of a committed blob, from its row.
    pub fn blob_size(&self, digest: &Digest) -> Result<u64, StoreError> {
        Ok(self.blob_row(digest)?.0)
    }

    /// The descriptor (media type, digest, size) a committed blob was stored with.
    pub fn blob_descriptor(&self, digest: &Digest) -> Result<Descriptor, StoreError> {
        let (size, media_type) = self.blob_row(digest)?;
        Ok(Descriptor::new(media_type, digest.clone(), size))
    }

    /// Opens a committed blob for streaming. The content was verified on commit.
    pub fn open_blob(&self, digest: &Digest) -> Result<fs::File, StoreError> {
        self.blob_row(digest)?;
        let path = self.blob_path(digest);
        fs::File::open(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                StoreError::not_found(format!("blob {digest} is not in the store"))
            } else {
                StoreError::io("cannot open", &path, e)
            }
        })
    }

    /// Reads a small blob (a manifest or config) whole, re-checking its digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let mut f = self.open_blob(digest)?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)
            .map_err(|e| StoreError::io("cannot read", self.blob_path(digest), e))?;
        let actual = ingest::digest_of(digest, &bytes);
        if actual != *digest {
            return Err(StoreError::DigestMismatch {
                expected: digest.clone(),
                actual,
            });
        }
        Ok(bytes)
    }

    /// The exact bytes of a stored manifest or index.
    pub fn manifest_bytes(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        self.read_blob(digest)
    }

    /// Starts (or resumes) writing the blob `desc` describes. Blocks while another thread
    /// or process writes the same blob. See [`Ingest`].
    pub fn ingest(&self, desc: &Descriptor) -> Result<Ingest, StoreError> {
        Ingest::open(self, desc)
    }

    /// Stores bytes held in memory (sha256) and returns their descriptor.
    pub fn put_blob_bytes(&self, media_type: &str, bytes: &[u8]) -> Result<Descriptor, StoreError> {
        let desc = Descriptor::of_bytes(media_type, bytes);
        self.write_whole(&desc, bytes, &[])?;
        Ok(desc)
    }

    fn write_whole(
        &self,
        desc: &Descriptor,
        bytes: &[u8],
        children: &[String],
    ) -> Result<(), StoreError> {
        use std::io::Write;
        let mut w = self.ingest(desc)?;
        if !w.already_committed() {
            w.mark_oneshot()?;
            w.reset()?;
            w.write_all(bytes)
                .map_err(|e| StoreError::io("cannot write", self.blob_path(&desc.digest), e))?;
        }
        w.commit_with_edges(children)
    }

    /// Stores a manifest or index (its exact bytes) and records its references (config,
    /// layers and subject; or an index's entries) in the same transaction. The children
    /// need not be present.
    pub fn put_manifest(&self, desc: &Descriptor, bytes: &[u8]) -> Result<(), StoreError> {
        let actual = ingest::digest_of(&desc.digest, bytes);
        if actual != desc.digest {
            return Err(StoreError::DigestMismatch {
                expected: desc.digest.clone(),
                actual,
            });
        }
        if bytes.len() as u64 != desc.size {
            return Err(StoreError::SizeMismatch {
                digest: desc.digest.clone(),
                expected: desc.size,
                actual: bytes.len() as u64,
            });
        }
        let parsed =
            AnyManifest::parse(Some(&desc.media_type), bytes).map_err(|e| StoreError::Invalid {
                what: format!("manifest {}", desc.digest),
                detail: e.to_string(),
            })?;
        let children: Vec<String> = parsed
            .children()
            .iter()
            .map(|c| c.digest.to_string())
            .collect();
        self.write_whole(desc, bytes, &children)
    }
}
