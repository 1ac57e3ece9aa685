//! Leases: keep blobs alive while a copy is in flight, before any image refers to them.

use std::sync::atomic::{AtomicU64, Ordering};

use oci::Digest;
use rusqlite::Transaction;

use crate::{Store, StoreError, db};

/// How long a lease lives without being extended (each [`Lease::add`] extends it).
pub const LEASE_TTL_SECS: i64 = 24 * 60 * 60;

/// A set of blobs that GC must keep while this value lives, in any process.
///
/// A lease is a row holding the owner's PID and an expiry; GC ignores leases whose process
/// has died or whose expiry has passed, so a crashed pull does not pin content forever.
/// Dropping the lease deletes its rows.
///
/// Add a digest *before* ingesting it (a lease may name content not yet present): a blob
/// committed first and leased after could be collected in between by a concurrent prune.
///
/// ```
/// # use std::io::Write;
/// # let dir = tempfile::tempdir().unwrap();
/// # let store = store::Store::open(dir.path()).unwrap();
/// let desc = oci::Descriptor::of_bytes(oci::media::OCI_LAYER, b"layer");
/// let lease = store.lease()?;
/// lease.add(&desc.digest)?;          // protected from now on
/// let mut w = store.ingest(&desc)?;
/// w.write_all(b"layer").unwrap();
/// w.commit()?;
/// // ... store the manifest, tag it; then drop the lease.
/// # Ok::<(), store::StoreError>(())
/// ```
#[derive(Debug)]
pub struct Lease {
    store: Store,
    id: String,
}

impl Lease {
    /// The lease's id (unique across processes).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Protects `digest` (present or not yet) from GC for the life of the lease, and extends
    /// the lease's expiry.
    pub fn add(&self, digest: &Digest) -> Result<(), StoreError> {
        let expires = crate::now() + LEASE_TTL_SECS;
        let mut conn = self.store.conn();
        let ok = db::write(&mut conn, "cannot add to a lease", |tx| {
            db::lease_add(tx, &self.id, &digest.to_string(), expires)
        })?;
        if ok {
            Ok(())
        } else {
            Err(StoreError::not_found(format!(
                "lease {} has expired",
                self.id
            )))
        }
    }

    /// The digests this lease holds.
    pub fn digests(&self) -> Result<Vec<Digest>, StoreError> {
        let rows = db::lease_blobs(&self.store.conn(), &self.id)?;
        Ok(rows.iter().filter_map(|d| d.parse().ok()).collect())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut conn = self.store.conn();
        // Best effort: a lease left behind dies with its PID or at its expiry.
        let _ = db::write(&mut conn, "cannot delete a lease", |tx| {
            db::delete_lease(tx, &self.id)
        });
    }
}

impl Store {
    /// Starts a lease owned by this process.
    pub fn lease(&self) -> Result<Lease, StoreError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let pid = std::process::id();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let id = format!("{pid}-{nanos:x}-{}", SEQ.fetch_add(1, Ordering::Relaxed));
        let expires = crate::now() + LEASE_TTL_SECS;
        let mut conn = self.conn();
        db::write(&mut conn, "cannot create a lease", |tx| {
            db::create_lease(tx, &id, i64::from(pid), expires)
        })?;
        Ok(Lease {
            store: self.clone(),
            id,
        })
    }
}

/// Whether a process with this PID exists (on this host).
fn pid_alive(pid: i64) -> bool {
    let Some(pid) = i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

/// The digests of live leases; with `delete_dead`, dead or expired leases are deleted on
/// the way (needs a write transaction).
pub(crate) fn live_roots(
    tx: &Transaction<'_>,
    now: i64,
    delete_dead: bool,
) -> Result<Vec<String>, StoreError> {
    let mut roots = Vec::new();
    for (id, pid, expires) in db::leases(tx)? {
        if expires > now && pid_alive(pid) {
            roots.extend(db::lease_blobs(tx, &id)?);
        } else if delete_dead {
            db::delete_lease(tx, &id)?;
        }
    }
    Ok(roots)
}
