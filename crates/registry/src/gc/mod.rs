//! Online garbage collection: frees blobs no manifest refers to while pushes and pulls go
//! on, with several server processes sharing one storage bucket and nothing else (no lock
//! service, no conditional writes, no read-only mode).
//!
//! # The protocol
//!
//! All times GC compares are the storage backend's `modified` times
//! ([`crate::storage::Meta::modified`]), never a local clock, so replicas with skewed clocks
//! agree. The grace period `G` is [`GcOptions::grace`]; every process sharing the bucket must
//! be configured with a writer grace ([`Registry::set_gc_grace`]) no larger than the
//! collector's. Writers measure `G/2` on their own monotonic clock.
//!
//! **Collector** ([`collect`]):
//! 1. Writes `gc/runs/<id>` and reads back its `modified`: `T0`, on the storage clock. The
//!    cutoff is `T0 − G`.
//! 2. *Mark*: lists every repository's manifest revisions and tags, parses each manifest or
//!    index ([`references`]) and marks the manifests themselves, their config and layers,
//!    and the children of indexes. With [`GcOptions::delete_untagged`], manifests that no
//!    tag reaches (directly, through an index, or as a referrer of a reached manifest) and
//!    whose revision link is older than the cutoff are deleted first, under a hold (below),
//!    re-checking the revision link's age after the hold is visible.
//! 3. *Sweep*: a blob not marked is a candidate when its own object is older than the
//!    cutoff. Candidates are processed in batches: GC writes a *hold* object
//!    `gc/holds/<id>-<n>` naming the batch, then **re-lists** every repository's layer and
//!    revision links (so links made after the mark are seen), keeps any candidate with a
//!    revision link or a layer link newer than the cutoff, re-reads each blob's `modified`,
//!    and deletes the rest with their (old) layer links. It deletes nothing once
//!    `HOLD_BUDGET` has passed since it wrote the hold, then removes the hold. Old layer
//!    links to blobs that do not exist are removed too.
//! 4. Upload sessions idle for longer than [`GcOptions::upload_max_age`] are removed;
//!    younger ones are never touched.
//!
//! **Writers** (in [`crate::repo`]) write what GC looks at, *then* look for holds naming
//! the digests they depend on, *then* check that what they depend on is still there:
//! - a blob upload writes the repository's layer link before moving the content into
//!   place (and re-writes the link if it vanished meanwhile); a mount writes the link and
//!   then checks the blob is still there;
//! - a manifest push re-writes (touches) the link of every blob and child manifest it names
//!   (refusing, as before, ones the repository does not have), looks for holds, checks each
//!   is still linked and present, and then writes its own bytes the same way (write, holds,
//!   check). It commits its revision link only if less than `G/2` has passed since the touch
//!   began; otherwise it answers a retryable 503. After writing the revision and tags it
//!   looks for holds once more (a delete-untagged run) and checks the revision is there;
//! - whenever a writer finds a hold naming a digest it depends on, it waits until the hold
//!   is gone (at most `HOLD_WAIT`) and starts that step again.
//!
//! # Why nothing referenced is lost
//!
//! The first design — touch the links, verify, commit within `G/2`, and let GC delete what
//! is unmarked and older than the cutoff — has a hole: GC reads a link's age, a writer then
//! touches the link and verifies the blob, and GC deletes the blob it already judged. The
//! manifest commits with a blob missing. Holds close it, because GC's judgement (the
//! re-listing) happens while its hold is visible, and every writer looks for holds *after*
//! its touch and verifies *after* looking.
//!
//! Take a manifest `M` committed (revision link written) at `c` after touching its links at
//! `t ≥ c − G/2`. If the mark listed `M`'s revision, its references are marked. Otherwise
//! `c` came after the listing, which came after `T0`, so `t > T0 − G/2` > cutoff: every link
//! `M` touched is newer than the cutoff. The writer looked for holds at `h`, after `t`.
//! - If `h` precedes the hold's write, the touch precedes GC's re-listing, which therefore
//!   sees a fresh link and keeps the blob.
//! - If `h` falls while the hold exists, the writer waits until it is gone; by then GC has
//!   deleted whatever it deletes, and the writer re-touches and re-verifies: it sees the
//!   blob missing (and refuses with `MANIFEST_BLOB_UNKNOWN`) or present (and it stays).
//! - If `h` comes after the hold is removed, GC's deletions are over, and the verification
//!   that follows `h` sees their result.
//!
//! The same argument covers an upload (link, holds, content, link check), a mount, a
//! manifest's own bytes (a re-push of a manifest deleted earlier), and a revision link a
//! delete-untagged run is judging. A blob that is only *known* to exist — a client that
//! saw it with `HEAD`, then pushes a manifest much later — may be collected meanwhile if
//! nothing refers to it and it is older than `G`; the push is then refused with
//! `MANIFEST_BLOB_UNKNOWN`, never committed broken.
//!
//! A hold is an object of its own per GC run and batch, so two collectors running at once
//! cannot release each other's holds. A collector that dies leaves its hold behind;
//! writers stop waiting for it after `HOLD_WAIT` (a collector never starts a deletion after
//! `HOLD_BUDGET`), and a later run removes it.
//!
//! The grace must exceed twice the backend's timestamp resolution: object stores answer
//! `Last-Modified` to the second, so give them minutes, not seconds (the default is an
//! hour). Each manifest push and blob link costs one `LIST gc/holds` (plus reading the
//! holds present, normally none).

mod mark;
mod refs;
mod sweep;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use oci::Digest;

pub use crate::hold::DEFAULT_GRACE;
pub use refs::{References, references};

use crate::error::{GcError, StorageError};
use crate::layout::{self, GC_RUNS, all_blobs, repo_dir, repositories};
use crate::repo::Registry;
use crate::storage::{self, Key, Storage};
use mark::{read_repo, run_id};
use sweep::{delete_untagged, remove_dangling_links, remove_stale, sweep_batch};

/// The default age after which an idle upload session is removed.
pub const DEFAULT_UPLOAD_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Storage operations a collector runs at once.
const PARALLEL: usize = 16;

/// Holds older than this (by the storage clock, relative to a new run's start) are left
/// over from a collector that died, and are removed.
const STALE_HOLD: Duration = Duration::from_secs(120);

/// Candidates per hold.
const BATCH: usize = 512;

/// What a garbage collection does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcOptions {
    /// Blobs and links younger than this are kept even when unreferenced. Must be at least
    /// the grace every server process sharing the storage is configured with
    /// ([`Registry::set_gc_grace`]).
    pub grace: Duration,
    /// Upload sessions idle for longer than this are removed.
    pub upload_max_age: Duration,
    /// Also delete manifests that no tag reaches (like distribution's `--delete-untagged`).
    pub delete_untagged: bool,
    /// Report what would be freed, and change nothing.
    pub dry_run: bool,
}

impl Default for GcOptions {
    fn default() -> GcOptions {
        GcOptions {
            grace: DEFAULT_GRACE,
            upload_max_age: DEFAULT_UPLOAD_MAX_AGE,
            delete_untagged: false,
            dry_run: false,
        }
    }
}

/// What a garbage collection did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Blobs deleted.
    pub blobs_deleted: u64,
    /// Their total size.
    pub bytes_freed: u64,
    /// Repository layer links removed with their blobs (or dangling).
    pub links_removed: u64,
    /// Untagged manifests deleted (with [`GcOptions::delete_untagged`]).
    pub manifests_deleted: u64,
    /// Stale upload sessions removed.
    pub uploads_removed: u64,
    /// Blobs left in place.
    pub blobs_kept: u64,
    /// Of those, unreferenced ones spared because they or a link to them are younger than
    /// the grace period (or a writer refreshed them during the run).
    pub blobs_spared: u64,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

/// Runs one garbage collection over `registry`'s storage, online: see the module
/// documentation for why concurrent pushes lose nothing.
pub async fn collect(registry: &Registry, options: &GcOptions) -> Result<GcReport, GcError> {
    let storage: &dyn Storage = &**registry.storage();
    let grace = options.grace;
    if grace < registry.gc_grace() {
        tracing::warn!(
            ?grace,
            writer_grace = ?registry.gc_grace(),
            "the collector's grace is shorter than this process's writers': concurrent pushes \
             that stall are not protected"
        );
    }
    let run = run_id();
    let run_key = Key::new(format!("{GC_RUNS}/{run}"))?;
    storage::put_bytes(storage, &run_key, Bytes::from(format!("{grace:?}\n"))).await?;
    let result = collect_run(storage, &run, &run_key, grace, options).await;
    if let Err(e) = storage.delete(&run_key).await {
        tracing::warn!("removing {run_key}: {e}");
    }
    result
}

async fn collect_run(
    storage: &dyn Storage,
    run: &str,
    run_key: &Key,
    grace: Duration,
    options: &GcOptions,
) -> Result<GcReport, GcError> {
    let t0 = storage
        .meta(run_key)
        .await?
        .ok_or_else(|| StorageError::NotFound {
            key: run_key.to_string(),
        })?
        .modified;
    let cutoff = t0.checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut report = GcReport {
        dry_run: options.dry_run,
        ..GcReport::default()
    };
    tracing::info!(
        run,
        ?grace,
        dry_run = options.dry_run,
        "garbage collection starts"
    );
    if !options.dry_run {
        remove_stale(storage, t0).await?;
    }

    // Mark.
    let repos = repositories(storage).await?;
    let mut states = Vec::with_capacity(repos.len());
    for name in &repos {
        states.push(read_repo(storage, name).await?);
    }
    if options.delete_untagged {
        delete_untagged(
            storage,
            run,
            cutoff,
            options.dry_run,
            &mut states,
            &mut report,
        )
        .await?;
    }
    let mut marked: HashSet<Digest> = HashSet::new();
    for state in &states {
        marked.extend(state.tags.iter().cloned());
        for (d, r) in &state.revisions {
            marked.insert(d.clone());
            marked.extend(r.refs.blobs.iter().cloned());
            marked.extend(r.refs.manifests.iter().cloned());
        }
    }

    // Sweep.
    let blobs = all_blobs(storage).await?;
    let total = blobs.len() as u64;
    let present: HashSet<Digest> = blobs.iter().cloned().collect();
    let mut candidates = Vec::new();
    for d in blobs {
        if marked.contains(&d) {
            continue;
        }
        match storage.meta(&layout::blob_key(&d)?).await? {
            Some(m) if m.modified < cutoff => candidates.push(d),
            Some(_) => report.blobs_spared += 1,
            None => {}
        }
    }
    for (n, batch) in candidates.chunks(BATCH).enumerate() {
        sweep_batch(storage, run, n, batch, cutoff, options.dry_run, &mut report).await?;
    }
    report.blobs_kept = total - report.blobs_deleted;
    if !options.dry_run {
        remove_dangling_links(storage, &repos, &present, cutoff, &mut report).await?;
    }

    // Stale uploads.
    let upload_cutoff = t0
        .checked_sub(options.upload_max_age)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    for name in &repos {
        let dir = repo_dir(name, "_uploads")?;
        for id in storage.list(&dir).await? {
            let session = dir.join(&id)?;
            let old = match storage.meta(&session.join("data")?).await? {
                Some(m) => m.modified < upload_cutoff,
                None => false,
            };
            if old {
                report.uploads_removed += 1;
                if !options.dry_run {
                    storage.delete(&session).await?;
                }
            }
        }
    }
    tracing::info!(
        run,
        blobs_deleted = report.blobs_deleted,
        bytes_freed = report.bytes_freed,
        manifests_deleted = report.manifests_deleted,
        uploads_removed = report.uploads_removed,
        blobs_kept = report.blobs_kept,
        "garbage collection done"
    );
    Ok(report)
}

/// Runs [`collect`] every `every`, forever, logging each report (errors are logged and the
/// next run goes ahead). Spawn it next to the server.
pub async fn run_periodic(registry: &Registry, every: Duration, options: GcOptions) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        match collect(registry, &options).await {
            Ok(r) => tracing::info!(?r, "periodic garbage collection"),
            Err(e) => tracing::warn!("periodic garbage collection failed: {e}"),
        }
    }
}

/// Spawns [`run_periodic`] on the current tokio runtime.
pub fn spawn_periodic(
    registry: Arc<Registry>,
    every: Duration,
    options: GcOptions,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move { run_periodic(&registry, every, options).await })
}
