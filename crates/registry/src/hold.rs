//! The garbage-collection hold protocol, both sides: a collector's *hold* (an object under
//! `gc/holds/` naming the digests it is about to judge), and the writers' steps around it
//! (write what GC looks at, look for holds naming what the write depends on and wait them
//! out, then check it is still there). [`crate::gc`] explains why this loses nothing.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bytes::Bytes;
use oci::Digest;

use crate::error::{GcError, RepoError, StorageError};
use crate::layout::{self, GC_HOLDS};
use crate::storage::{self, Key, Storage};

/// The default grace period: blobs younger than this are never collected.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// How long a collector may keep deleting after writing a hold.
const HOLD_BUDGET: Duration = Duration::from_secs(30);

/// How long a writer waits for a hold to go before deciding its collector died (with room
/// for deletions already under way when the budget ran out).
const HOLD_WAIT: Duration = Duration::from_secs(90);

/// How often a waiting writer looks again.
const HOLD_POLL: Duration = Duration::from_millis(20);

/// How many times a writer re-touches after waiting for holds before answering 503.
pub(crate) const HOLD_ATTEMPTS: usize = 4;

/// The largest hold object a writer reads.
const HOLD_MAX_BYTES: u64 = 1 << 20;

/// The hold objects of running collectors that name any of `wanted`.
pub(crate) async fn holds_on(
    storage: &dyn Storage,
    wanted: &[&Digest],
) -> Result<Vec<Key>, StorageError> {
    let dir = Key::new(GC_HOLDS)?;
    let names = storage.list(&dir).await?;
    if names.is_empty() || wanted.is_empty() {
        return Ok(Vec::new());
    }
    let wanted: HashSet<String> = wanted.iter().map(|d| d.to_string()).collect();
    let mut out = Vec::new();
    for n in names {
        let k = dir.join(&n)?;
        match storage::read_small(storage, &k, HOLD_MAX_BYTES).await {
            Ok(b) => {
                if String::from_utf8_lossy(&b)
                    .lines()
                    .any(|l| wanted.contains(l.trim()))
                {
                    out.push(k);
                }
            }
            Err(StorageError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// Waits until every hold in `holds` is gone, or `HOLD_WAIT` has passed (its collector is
/// then dead or past its budget, and deletes nothing more).
pub(crate) async fn wait_released(
    storage: &dyn Storage,
    holds: &[Key],
) -> Result<(), StorageError> {
    let deadline = Instant::now() + HOLD_WAIT;
    for k in holds {
        while storage.stat(k).await?.is_some() {
            if Instant::now() >= deadline {
                tracing::warn!(hold = %k, "garbage-collection hold outlived its budget; ignoring it");
                return Ok(());
            }
            tokio::time::sleep(HOLD_POLL).await;
        }
    }
    Ok(())
}

/// The refusal when a write cannot be made safe against a running collector in time (the
/// API answers 503, which clients retry).
pub(crate) fn busy(what: &'static str) -> RepoError {
    RepoError::Busy { what }
}

/// Refuses to commit when more than half the grace period has passed since the manifest's
/// references were touched (a collector that started meanwhile may not have seen them).
pub(crate) fn check_deadline(started: Instant, grace: Duration) -> Result<(), RepoError> {
    let elapsed = started.elapsed();
    if elapsed >= grace / 2 {
        return Err(RepoError::CommitTooSlow { elapsed, grace });
    }
    Ok(())
}

/// One thing a manifest depends on.
pub(crate) struct Dependency {
    pub(crate) digest: Digest,
    /// An index entry (may be a manifest revision, or a blob).
    pub(crate) child: bool,
}

/// Touches the links of everything `deps` names in repository `name` (each must be linked
/// there already), waits out collectors' holds on them, and checks each is still present.
/// Returns when the touch began: the manifest must be committed within half the grace
/// period of it ([`check_deadline`]).
pub(crate) async fn touch_dependencies(
    storage: &dyn Storage,
    name: &str,
    deps: &[Dependency],
) -> Result<Instant, RepoError> {
    for _ in 0..HOLD_ATTEMPTS {
        let started = Instant::now();
        for chunk in deps.chunks(16) {
            let touches: Vec<_> = chunk.iter().map(|d| touch_one(storage, name, d)).collect();
            futures::future::try_join_all(touches).await?;
        }
        let digests: Vec<&Digest> = deps.iter().map(|d| &d.digest).collect();
        let held = holds_on(storage, &digests).await?;
        if !held.is_empty() {
            wait_released(storage, &held).await?;
            continue;
        }
        for chunk in deps.chunks(16) {
            let checks: Vec<_> = chunk.iter().map(|d| verify_one(storage, name, d)).collect();
            futures::future::try_join_all(checks).await?;
        }
        return Ok(started);
    }
    Err(busy("manifest push"))
}

async fn touch_one(storage: &dyn Storage, name: &str, d: &Dependency) -> Result<(), RepoError> {
    if d.child {
        let rev = layout::revision_link(name, &d.digest)?;
        match storage::read_small(storage, &rev, 1024).await {
            Ok(mt) => return Ok(storage::put_bytes(storage, &rev, mt).await?),
            Err(StorageError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let link = layout::layer_link(name, &d.digest)?;
    if storage.stat(&link).await?.is_none() {
        return Err(blob_unknown(&d.digest));
    }
    storage::put_bytes(storage, &link, Bytes::from(d.digest.to_string())).await?;
    Ok(())
}

async fn verify_one(storage: &dyn Storage, name: &str, d: &Dependency) -> Result<(), RepoError> {
    let linked = storage
        .stat(&layout::layer_link(name, &d.digest)?)
        .await?
        .is_some()
        || (d.child
            && storage
                .stat(&layout::revision_link(name, &d.digest)?)
                .await?
                .is_some());
    if linked && storage.stat(&layout::blob_key(&d.digest)?).await?.is_some() {
        Ok(())
    } else {
        Err(blob_unknown(&d.digest))
    }
}

/// The refusal of a manifest naming something the repository does not have (or no longer:
/// a collector took it).
pub(crate) fn blob_unknown(d: &Digest) -> RepoError {
    RepoError::ManifestBlobUnknown { digest: d.clone() }
}

// ---- the collector's side ---------------------------------------------------------------

/// A hold written by this run, removed by [`Hold::release`].
pub(crate) struct Hold {
    key: Key,
    written: Instant,
}

impl Hold {
    pub(crate) async fn write(
        storage: &dyn Storage,
        run: &str,
        n: &str,
        digests: &[Digest],
    ) -> Result<Hold, GcError> {
        let key = Key::new(format!("{GC_HOLDS}/{run}-{n}"))?;
        let mut text = String::new();
        for d in digests {
            text.push_str(&d.to_string());
            text.push('\n');
        }
        let written = Instant::now();
        storage::put_bytes(storage, &key, Bytes::from(text)).await?;
        Ok(Hold { key, written })
    }

    pub(crate) fn expired(&self) -> bool {
        self.written.elapsed() >= HOLD_BUDGET
    }

    pub(crate) async fn release(self, storage: &dyn Storage) -> Result<(), GcError> {
        storage.delete(&self.key).await?;
        Ok(())
    }
}
