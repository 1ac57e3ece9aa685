//! The local store as a transport: [`StoreSource`] reads an image out of it,
//! [`StoreDestination`] writes one into it (resumable ingests, a lease for the duration).
//!
//! Store calls do blocking file and SQLite I/O, so each runs on a blocking thread.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use oci::{Descriptor, Digest};
use store::{Ingest, Lease, Store, StoreError};
use tokio::io::AsyncReadExt;

use crate::{BlobStream, ImageDestination, ImageSource, TransportError};

/// Runs blocking store work on a blocking thread.
async fn blocking<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> Result<T, TransportError> + Send + 'static,
) -> Result<T, TransportError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| TransportError::Stream {
            what: what.to_string(),
            source: std::io::Error::other(e),
        })?
}

/// A store error, with "not found" kept as the transport's own category.
fn store_err(e: StoreError) -> TransportError {
    match e {
        // The store verified a blob (see `verifies_content`): report it as the copy engine would.
        StoreError::DigestMismatch { expected, actual } => TransportError::DigestMismatch {
            what: format!("blob {expected}"),
            expected,
            actual,
        },
        StoreError::SizeMismatch {
            digest,
            expected,
            actual,
        } => TransportError::SizeMismatch {
            what: format!("blob {digest}"),
            expected,
            actual,
        },
        e if e.is_not_found() => TransportError::NotFound {
            what: e.to_string(),
        },
        e => TransportError::Store(e),
    }
}

/// Reads one stored image (a manifest or an index and what it refers to).
#[derive(Debug, Clone)]
pub struct StoreSource {
    store: Store,
    target: Descriptor,
}

impl StoreSource {
    /// A source for the stored image whose top-level manifest or index is `target`.
    pub fn new(store: Store, target: Descriptor) -> StoreSource {
        StoreSource { store, target }
    }

    /// A source for the image `name` resolves to as Docker would (a tag, an ID, a digest).
    /// Blocking (one database read).
    pub fn open(store: Store, name: &str) -> Result<StoreSource, TransportError> {
        let info = store.resolve_image(name).map_err(store_err)?;
        Ok(StoreSource::new(store, info.target))
    }
}

impl ImageSource for StoreSource {
    async fn resolve(&self) -> Result<Descriptor, TransportError> {
        Ok(self.target.clone())
    }

    async fn manifest(&self, d: &Descriptor) -> Result<Bytes, TransportError> {
        let store = self.store.clone();
        let digest = d.digest.clone();
        blocking("reading a manifest from the store", move || {
            store
                .manifest_bytes(&digest)
                .map(Bytes::from)
                .map_err(store_err)
        })
        .await
    }

    async fn blob(&self, d: &Descriptor, offset: u64) -> Result<BlobStream, TransportError> {
        let store = self.store.clone();
        let digest = d.digest.clone();
        let file = blocking("opening a blob in the store", move || {
            let mut f = store.open_blob(&digest).map_err(store_err)?;
            if offset > 0 {
                f.seek(SeekFrom::Start(offset))
                    .map_err(|source| TransportError::Io {
                        path: store.blob_path(&digest),
                        source,
                    })?;
            }
            Ok(f)
        })
        .await?;
        // Each read of a tokio file is one trip to a blocking thread: read in large pieces.
        Ok(Box::pin(tokio::io::BufReader::with_capacity(
            1 << 20,
            tokio::fs::File::from_std(file),
        )))
    }
}

/// Writes an image into the store.
///
/// Holds a lease from creation to drop, so a concurrent prune keeps every blob this copy
/// wrote or found before a tag or image record refers to them. Interrupted blob writes stay
/// in the store's ingest area and resume at [`ImageDestination::resume_offset`].
pub struct StoreDestination {
    store: Store,
    lease: Arc<Lease>,
    /// Ingests opened by `resume_offset`, reused by `put_blob` (opening one re-hashes the
    /// partial data and takes its lock).
    open: Mutex<HashMap<Digest, Ingest>>,
    top: Mutex<Option<(Descriptor, Option<String>)>>,
}

impl std::fmt::Debug for StoreDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreDestination")
            .field("store", &self.store)
            .field("lease", &self.lease.id())
            .finish()
    }
}

impl StoreDestination {
    /// A destination writing into `store`. Blocking (creates the lease: one database write).
    pub fn new(store: Store) -> Result<StoreDestination, TransportError> {
        let lease = store.lease().map_err(store_err)?;
        Ok(StoreDestination {
            store,
            lease: Arc::new(lease),
            open: Mutex::new(HashMap::new()),
            top: Mutex::new(None),
        })
    }

    /// The store written to.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Gives up on this copy: releases the lease and collects the blobs it stored that
    /// nothing refers to, so a copy refused for bad content leaves the store as it was.
    /// Partial ingests are not blobs and stay for a later resume. Returns the bytes freed.
    /// Blocking (runs the store's GC).
    pub fn discard(self) -> Result<u64, TransportError> {
        let StoreDestination {
            store,
            mut lease,
            open,
            ..
        } = self;
        drop(open);
        // Transfers of other blobs may still be finishing on blocking threads when the copy
        // fails; each holds the lease until its blob is committed or dropped. Collect only
        // after they are done, or a blob committed just after the sweep would stay behind.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            match Arc::try_unwrap(lease) {
                Ok(last) => {
                    drop(last);
                    break;
                }
                Err(shared) if std::time::Instant::now() < deadline => {
                    lease = shared;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                // Still shared after a minute: leave the rest to the next GC.
                Err(_) => return Ok(0),
            }
        }
        store.gc().map(|r| r.bytes).map_err(store_err)
    }

    fn take_open(&self, d: &Digest) -> Option<Ingest> {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(d)
    }

    fn keep_open(&self, d: &Digest, ingest: Ingest) {
        self.open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(d.clone(), ingest);
    }

    /// Leases `d` and opens (or resumes) its ingest.
    async fn open_ingest(&self, d: &Descriptor) -> Result<Ingest, TransportError> {
        let (store, lease, desc) = (self.store.clone(), self.lease.clone(), d.clone());
        blocking("opening an ingest in the store", move || {
            // Lease before ingest: a blob committed first could be pruned before the lease.
            lease.add(&desc.digest).map_err(store_err)?;
            store.ingest(&desc).map_err(store_err)
        })
        .await
    }
}

/// Reads an async stream from a blocking thread (the runtime drives the stream meanwhile).
struct Bridge {
    handle: tokio::runtime::Handle,
    stream: BlobStream,
}

impl Read for Bridge {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.handle.block_on(self.stream.read(buf))
    }
}

/// How a blocking ingest ended.
enum Fed {
    Committed,
    /// The stream failed; the ingest keeps its partial data for a retry.
    StreamFailed(Box<Ingest>, std::io::Error),
}

impl ImageDestination for StoreDestination {
    /// The store's ingest hashes what it writes and refuses a commit of the wrong content.
    fn verifies_content(&self) -> bool {
        true
    }

    async fn has_blob(&self, d: &Descriptor) -> Result<bool, TransportError> {
        let (store, lease, digest) = (self.store.clone(), self.lease.clone(), d.digest.clone());
        blocking("looking up a blob in the store", move || {
            // Leased *before* the look: present but perhaps unreferenced, a blob leased
            // after it was found could be collected in between, and the copy would record
            // an image without it. (A lease on a blob that turns out absent is harmless:
            // `put_blob` leases it anyway.)
            lease.add(&digest).map_err(store_err)?;
            store.has_blob(&digest).map_err(store_err)
        })
        .await
    }

    async fn resume_offset(&self, d: &Descriptor) -> u64 {
        if let Some(ingest) = self.take_open(&d.digest) {
            let offset = ingest.offset();
            self.keep_open(&d.digest, ingest);
            return offset;
        }
        match self.open_ingest(d).await {
            Ok(ingest) => {
                let offset = ingest.offset();
                self.keep_open(&d.digest, ingest);
                offset
            }
            // `put_blob` will open it again and report the error.
            Err(_) => 0,
        }
    }

    async fn put_blob(&self, d: &Descriptor, stream: BlobStream) -> Result<(), TransportError> {
        let mut ingest = match self.take_open(&d.digest) {
            Some(i) => i,
            None => {
                let mut i = self.open_ingest(d).await?;
                // The caller did not ask where to resume: its stream starts at 0.
                if i.offset() > 0 && !i.already_committed() {
                    i.reset().map_err(store_err)?;
                }
                i
            }
        };
        let what = format!("blob {} into the store", d.digest);
        let mut bridge = Bridge {
            handle: tokio::runtime::Handle::current(),
            stream,
        };
        // The blocking task holds the lease until it ends: `discard` waits for that, so a
        // blob still being committed when the copy fails is collected too.
        let lease = self.lease.clone();
        let fed = blocking(&what.clone(), move || {
            let _lease = lease;
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = match bridge.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                        // The content is wrong, not interrupted: keep nothing of it.
                        ingest.abort().map_err(store_err)?;
                        return Err(TransportError::Stream { what, source: e });
                    }
                    Err(e) => return Ok(Fed::StreamFailed(Box::new(ingest), e)),
                };
                if !ingest.already_committed() {
                    ingest
                        .write_all(&buf[..n])
                        .map_err(|source| TransportError::Stream {
                            what: what.clone(),
                            source,
                        })?;
                }
            }
            ingest.commit().map_err(store_err)?;
            Ok(Fed::Committed)
        })
        .await?;
        match fed {
            Fed::Committed => Ok(()),
            Fed::StreamFailed(ingest, source) => {
                self.keep_open(&d.digest, *ingest);
                Err(TransportError::Stream {
                    what: format!("blob {} into the store", d.digest),
                    source,
                })
            }
        }
    }

    async fn put_manifest(
        &self,
        d: &Descriptor,
        bytes: Bytes,
        tag: Option<&str>,
    ) -> Result<(), TransportError> {
        let (store, lease, desc) = (self.store.clone(), self.lease.clone(), d.clone());
        blocking("storing a manifest", move || {
            lease.add(&desc.digest).map_err(store_err)?;
            store.put_manifest(&desc, &bytes).map_err(store_err)
        })
        .await?;
        // Children come before parents: the last manifest written is the top one.
        *self.top.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((d.clone(), tag.map(str::to_string)));
        Ok(())
    }

    /// Records the top manifest as an image: tagged with the copy's tag (a full normalised
    /// reference such as `docker.io/library/alpine:latest`), or untagged.
    async fn commit(&self) -> Result<(), TransportError> {
        let top = self.top.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some((desc, tag)) = top else {
            return Ok(());
        };
        let store = self.store.clone();
        blocking("recording the image", move || {
            match tag {
                Some(name) => store.set_tag(&name, &desc).map(|_| ()),
                None => store.add_image(&desc),
            }
            .map_err(store_err)
        })
        .await
    }
}
