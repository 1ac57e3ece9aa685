//! Leases: keep blobs and images alive while an operation uses them, before any image
//! refers to them (a pull in flight) or while something reads them (a build's base, the
//! image a container is being made from).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use oci::Digest;
use rusqlite::Transaction;

use crate::{ImageInfo, Store, StoreError, db};

/// How many times [`Lease::hold_image`] follows a name that moves while it is leased.
const HOLD_TRIES: usize = 8;

/// How long a lease lives without being extended (each [`Lease::add`] extends it).
pub const LEASE_TTL_SECS: i64 = 24 * 60 * 60;

/// A set of blobs that GC must keep while this value lives, in any process.
///
/// A lease is a row holding the owner's PID and an expiry; GC ignores leases whose process
/// has died or whose expiry has passed, so a crashed pull does not pin content forever.
/// Dropping the lease deletes its rows.
///
/// A leased digest that is an image's target also keeps the image *record*: `image prune`
/// takes only images that are unreferenced and unleased (see [`Lease::hold_image`]).
///
/// Taking a lease writes nothing; its row is written with its first digest, in the same
/// transaction, so holding something costs one SQLite write.
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
    pub(crate) store: Store,
    id: String,
    /// Whether the lease's row exists (written with the first digest).
    created: AtomicBool,
}

impl Lease {
    /// The lease's id (unique across processes).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Protects `digest` (present or not yet) from GC for the life of the lease, and extends
    /// the lease's expiry.
    pub fn add(&self, digest: &Digest) -> Result<(), StoreError> {
        self.add_all(std::slice::from_ref(digest))
    }

    /// [`Lease::add`] for several digests, in one transaction.
    pub fn add_all(&self, digests: &[Digest]) -> Result<(), StoreError> {
        let expires = crate::now() + LEASE_TTL_SECS;
        let mut conn = self.store.conn();
        // Read under the connection's lock, which every add of this lease takes: two
        // threads adding the first digests at once create the row once.
        let create = !self.created.load(Ordering::Acquire);
        let ok = db::write(&mut conn, "cannot add to a lease", |tx| {
            if create {
                db::create_lease(tx, &self.id, i64::from(std::process::id()), expires)?;
            }
            let mut ok = true;
            for d in digests {
                ok &= db::lease_add(tx, &self.id, &d.to_string(), expires)?;
            }
            Ok(ok)
        })?;
        if ok {
            self.created.store(true, Ordering::Release);
            Ok(())
        } else {
            Err(StoreError::not_found(format!(
                "lease {} has expired",
                self.id
            )))
        }
    }

    /// Finds the image `name` names (any name [`Store::resolve_image`] accepts) and holds
    /// it: from now until the lease drops, `image prune` keeps its record, its tags and its
    /// content. An explicit `rmi` may still remove it.
    ///
    /// The image is resolved again once leased: a prune that committed between the first
    /// lookup and the lease has removed it, and then this fails as the lookup would (`No
    /// such image`), so a caller never works from an image that is already gone. A name
    /// that moved meanwhile (a pull retagging it) is followed, a bounded number of times.
    pub fn hold_image(&self, name: &str) -> Result<ImageInfo, StoreError> {
        let mut info = self.store.resolve_image(name)?;
        for _ in 0..HOLD_TRIES {
            self.add(&info.target.digest)?;
            let again = self.store.resolve_image(name)?;
            if again.target.digest == info.target.digest {
                return Ok(again);
            }
            info = again;
        }
        self.add(&info.target.digest)?;
        Ok(info)
    }

    /// The digests this lease holds.
    pub fn digests(&self) -> Result<Vec<Digest>, StoreError> {
        let rows = db::lease_blobs(&self.store.conn(), &self.id)?;
        Ok(rows.iter().filter_map(|d| d.parse().ok()).collect())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if !self.created.load(Ordering::Acquire) {
            return;
        }
        let mut conn = self.store.conn();
        // Best effort: a lease left behind dies with its PID or at its expiry.
        let _ = db::write(&mut conn, "cannot delete a lease", |tx| {
            db::delete_lease(tx, &self.id)
        });
    }
}

impl Store {
    /// Starts a lease owned by this process. Writes nothing until the first
    /// [`Lease::add`].
    pub fn lease(&self) -> Result<Lease, StoreError> {
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let pid = std::process::id();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let id = format!("{pid}-{nanos:x}-{}", SEQ.fetch_add(1, Ordering::Relaxed));
        Ok(Lease {
            store: self.clone(),
            id,
            created: AtomicBool::new(false),
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

/// The digests of live leases, as a set (what `image prune` must not take).
pub(crate) fn live_set(tx: &Transaction<'_>, now: i64) -> Result<HashSet<String>, StoreError> {
    Ok(live_roots(tx, now, false)?.into_iter().collect())
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
