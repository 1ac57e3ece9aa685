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

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use oci::{AnyManifest, Digest};

use crate::error::{ApiError, Code, GcError, StorageError};
use crate::repo::{self, MANIFEST_MAX, Registry};
use crate::storage::{self, Key, Storage};

/// The default grace period: blobs younger than this are never collected.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(3600);

/// The default age after which an idle upload session is removed.
pub const DEFAULT_UPLOAD_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// How long a collector may keep deleting after writing a hold.
const HOLD_BUDGET: Duration = Duration::from_secs(30);

/// How long a writer waits for a hold to go before deciding its collector died (with room
/// for deletions already under way when the budget ran out).
const HOLD_WAIT: Duration = Duration::from_secs(90);

/// Storage operations a collector runs at once.
const PARALLEL: usize = 16;

/// How often a waiting writer looks again.
const HOLD_POLL: Duration = Duration::from_millis(20);

/// How many times a writer re-touches after waiting for holds before answering 503.
pub(crate) const HOLD_ATTEMPTS: usize = 4;

/// Holds older than this (by the storage clock, relative to a new run's start) are left
/// over from a collector that died, and are removed.
const STALE_HOLD: Duration = Duration::from_secs(120);

/// Candidates per hold.
const BATCH: usize = 512;

/// The largest hold object a writer reads.
const HOLD_MAX_BYTES: u64 = 1 << 20;

const RUNS: &str = "gc/runs";
const HOLDS: &str = "gc/holds";

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

/// The digests a manifest or index refers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    /// Blobs: the config and layers of an image manifest, plus any other `digest` the JSON
    /// holds (kept conservatively).
    pub blobs: BTreeSet<Digest>,
    /// Manifests: the entries of an index or manifest list.
    pub manifests: BTreeSet<Digest>,
    /// The `subject` (referrers API), when any.
    pub subject: Option<Digest>,
}

/// The digests `bytes` (a manifest of `media_type`) refers to. Pure. Bytes that do not
/// parse as a manifest or index still yield every `digest` / `blobSum` string found in
/// their JSON, so GC never frees something a manifest it does not understand names.
pub fn references(media_type: Option<&str>, bytes: &[u8]) -> References {
    let mut refs = References::default();
    if let Ok(parsed) = AnyManifest::parse(media_type, bytes) {
        match parsed {
            AnyManifest::Manifest(m) => {
                refs.blobs.insert(m.config.digest.clone());
                refs.blobs.extend(m.layers.iter().map(|l| l.digest.clone()));
                refs.subject = m.subject.map(|s| s.digest);
            }
            AnyManifest::Index(i) => {
                refs.manifests
                    .extend(i.manifests.iter().map(|d| d.digest.clone()));
                refs.subject = i.subject.map(|s| s.digest);
            }
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
        let mut found = Vec::new();
        json_digests(&v, &mut found);
        for d in found {
            if !refs.manifests.contains(&d) && refs.subject.as_ref() != Some(&d) {
                refs.blobs.insert(d);
            }
        }
    }
    refs
}

fn json_digests(v: &serde_json::Value, out: &mut Vec<Digest>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if k == "annotations" {
                    continue;
                }
                match v {
                    serde_json::Value::String(s) if k == "digest" || k == "blobSum" => {
                        if let Ok(d) = s.parse::<Digest>() {
                            out.push(d);
                        }
                    }
                    _ => json_digests(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| json_digests(v, out)),
        _ => {}
    }
}

// ---- the writers' side ------------------------------------------------------------------

/// The hold objects of running collectors that name any of `wanted`.
pub(crate) async fn holds_on(
    storage: &dyn Storage,
    wanted: &[&Digest],
) -> Result<Vec<Key>, StorageError> {
    let dir = Key::new(HOLDS)?;
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

/// The answer when a push cannot be made safe against a running collector in time: 503,
/// which clients retry.
pub(crate) fn busy(what: &str) -> ApiError {
    ApiError::new(
        Code::Unknown,
        format!("{what}: garbage collection is running on the same content; retry"),
    )
    .with_status(503)
}

/// Refuses to commit when more than half the grace period has passed since the manifest's
/// references were touched (a collector that started meanwhile may not have seen them).
pub(crate) fn check_deadline(started: Instant, grace: Duration) -> Result<(), ApiError> {
    let elapsed = started.elapsed();
    if elapsed >= grace / 2 {
        return Err(ApiError::new(
            Code::Unknown,
            format!(
                "manifest push took {elapsed:?} between refreshing its references and \
                 committing, more than half the {grace:?} garbage-collection grace period; retry"
            ),
        )
        .with_status(503));
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
) -> Result<Instant, ApiError> {
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

async fn touch_one(storage: &dyn Storage, name: &str, d: &Dependency) -> Result<(), ApiError> {
    if d.child {
        let rev = repo::revision_link(name, &d.digest)?;
        match storage::read_small(storage, &rev, 1024).await {
            Ok(mt) => return Ok(storage::put_bytes(storage, &rev, mt).await?),
            Err(StorageError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let link = repo::layer_link(name, &d.digest)?;
    if storage.stat(&link).await?.is_none() {
        return Err(repo::blob_unknown(&d.digest));
    }
    storage::put_bytes(storage, &link, Bytes::from(d.digest.to_string())).await?;
    Ok(())
}

async fn verify_one(storage: &dyn Storage, name: &str, d: &Dependency) -> Result<(), ApiError> {
    let linked = storage
        .stat(&repo::layer_link(name, &d.digest)?)
        .await?
        .is_some()
        || (d.child
            && storage
                .stat(&repo::revision_link(name, &d.digest)?)
                .await?
                .is_some());
    if linked && storage.stat(&repo::blob_key(&d.digest)?).await?.is_some() {
        Ok(())
    } else {
        Err(repo::blob_unknown(&d.digest))
    }
}

// ---- the collector ----------------------------------------------------------------------

/// One manifest revision seen by the mark phase.
struct Revision {
    modified: SystemTime,
    refs: References,
}

/// What the mark phase read of one repository.
struct RepoState {
    name: String,
    revisions: BTreeMap<Digest, Revision>,
    tags: Vec<Digest>,
}

fn run_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let d = Digest::sha256_of(format!("gc-{t}-{n}-{}", std::process::id()).as_bytes());
    d.hex()[..20].to_string()
}

/// Every repository: a prefix under `repositories/` with a `_`-named child.
async fn repositories(storage: &dyn Storage) -> Result<Vec<String>, StorageError> {
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(prefix) = stack.pop() {
        let dir = Key::new(if prefix.is_empty() {
            "repositories".to_string()
        } else {
            format!("repositories/{prefix}")
        })?;
        let mut is_repo = false;
        for child in storage.list(&dir).await? {
            if child.starts_with('_') {
                is_repo = true;
            } else {
                stack.push(if prefix.is_empty() {
                    child
                } else {
                    format!("{prefix}/{child}")
                });
            }
        }
        if is_repo && !prefix.is_empty() {
            out.push(prefix);
        }
    }
    out.sort();
    Ok(out)
}

/// The digests named `dir/<alg>/<hex>`.
async fn digests_under(storage: &dyn Storage, dir: &Key) -> Result<Vec<Digest>, StorageError> {
    let mut out = Vec::new();
    for alg in storage.list(dir).await? {
        for hex in storage.list(&dir.join(&alg)?).await? {
            if let Ok(d) = format!("{alg}:{hex}").parse::<Digest>() {
                out.push(d);
            }
        }
    }
    Ok(out)
}

/// Every blob as `blobs/<alg>/<xx>/<hex>`.
async fn all_blobs(storage: &dyn Storage) -> Result<Vec<Digest>, StorageError> {
    let root = Key::new("blobs")?;
    let mut out = Vec::new();
    for alg in storage.list(&root).await? {
        let a = root.join(&alg)?;
        for xx in storage.list(&a).await? {
            for hex in storage.list(&a.join(&xx)?).await? {
                if let Ok(d) = format!("{alg}:{hex}").parse::<Digest>()
                    && d.hex().starts_with(&xx)
                {
                    out.push(d);
                }
            }
        }
    }
    Ok(out)
}

fn repo_dir(name: &str, rest: &str) -> Result<Key, StorageError> {
    Key::new(format!("repositories/{name}/{rest}"))
}

async fn read_repo(storage: &dyn Storage, name: &str) -> Result<RepoState, GcError> {
    let mut state = RepoState {
        name: name.to_string(),
        revisions: BTreeMap::new(),
        tags: Vec::new(),
    };
    for d in digests_under(storage, &repo_dir(name, "_manifests/revisions")?).await? {
        let link = repo::revision_link(name, &d)?;
        let Some(meta) = storage.meta(&link).await? else {
            continue;
        };
        let media_type = match storage::read_small(storage, &link, 1024).await {
            Ok(b) => Some(String::from_utf8_lossy(&b).trim().to_string()),
            Err(StorageError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let refs = match storage::read_small(storage, &repo::blob_key(&d)?, MANIFEST_MAX).await {
            Ok(b) => references(media_type.as_deref(), &b),
            Err(StorageError::NotFound { .. }) => References::default(),
            Err(e) => return Err(e.into()),
        };
        state.revisions.insert(
            d,
            Revision {
                modified: meta.modified,
                refs,
            },
        );
    }
    let tags_dir = repo_dir(name, "_manifests/tags")?;
    for tag in storage.list(&tags_dir).await? {
        match storage::read_small(storage, &tags_dir.join(&tag)?, 1024).await {
            Ok(b) => {
                if let Ok(d) = String::from_utf8_lossy(&b).trim().parse::<Digest>() {
                    state.tags.push(d);
                }
            }
            Err(StorageError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(state)
}

/// The revisions of `state` that no tag reaches (directly, as an index entry, or as a
/// referrer of a reached manifest).
fn untagged(state: &RepoState) -> Vec<Digest> {
    let mut live: HashSet<&Digest> = state
        .tags
        .iter()
        .filter(|d| state.revisions.contains_key(*d))
        .collect();
    loop {
        let before = live.len();
        for (d, r) in &state.revisions {
            if live.contains(d) {
                for c in &r.refs.manifests {
                    if state.revisions.contains_key(c) {
                        live.insert(c);
                    }
                }
            }
        }
        for (d, r) in &state.revisions {
            if r.refs.subject.as_ref().is_some_and(|s| live.contains(s)) {
                live.insert(d);
            }
        }
        if live.len() == before {
            break;
        }
    }
    state
        .revisions
        .keys()
        .filter(|d| !live.contains(d))
        .cloned()
        .collect()
}

/// A hold written by this run, removed by [`Hold::release`].
struct Hold {
    key: Key,
    written: Instant,
}

impl Hold {
    async fn write(
        storage: &dyn Storage,
        run: &str,
        n: &str,
        digests: &[Digest],
    ) -> Result<Hold, GcError> {
        let key = Key::new(format!("{HOLDS}/{run}-{n}"))?;
        let mut text = String::new();
        for d in digests {
            text.push_str(&d.to_string());
            text.push('\n');
        }
        let written = Instant::now();
        storage::put_bytes(storage, &key, Bytes::from(text)).await?;
        Ok(Hold { key, written })
    }

    fn expired(&self) -> bool {
        self.written.elapsed() >= HOLD_BUDGET
    }

    async fn release(self, storage: &dyn Storage) -> Result<(), GcError> {
        storage.delete(&self.key).await?;
        Ok(())
    }
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
    let run_key = Key::new(format!("{RUNS}/{run}"))?;
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
        match storage.meta(&repo::blob_key(&d)?).await? {
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

/// Removes layer links older than the cutoff to blobs that are not there (an upload that
/// died between linking and moving its content in, or a link re-made by a push that was
/// then refused). A link is only removed when its blob is still missing right before.
async fn remove_dangling_links(
    storage: &dyn Storage,
    repos: &[String],
    present: &HashSet<Digest>,
    cutoff: SystemTime,
    report: &mut GcReport,
) -> Result<(), GcError> {
    for name in repos {
        for d in digests_under(storage, &repo_dir(name, "_layers")?).await? {
            if present.contains(&d) {
                continue;
            }
            let link = repo::layer_link(name, &d)?;
            let old = matches!(storage.meta(&link).await?, Some(m) if m.modified < cutoff);
            if old
                && storage.stat(&repo::blob_key(&d)?).await?.is_none()
                && storage.delete(&link).await?
            {
                report.links_removed += 1;
            }
        }
    }
    Ok(())
}

/// Removes holds and run markers left by collectors that died.
async fn remove_stale(storage: &dyn Storage, t0: SystemTime) -> Result<(), GcError> {
    let Some(cutoff) = t0.checked_sub(STALE_HOLD) else {
        return Ok(());
    };
    for dir in [HOLDS, RUNS] {
        let dir = Key::new(dir)?;
        for n in storage.list(&dir).await? {
            let k = dir.join(&n)?;
            if let Some(m) = storage.meta(&k).await?
                && m.modified < cutoff
            {
                storage.delete(&k).await?;
            }
        }
    }
    Ok(())
}

async fn delete_untagged(
    storage: &dyn Storage,
    run: &str,
    cutoff: SystemTime,
    dry_run: bool,
    states: &mut [RepoState],
    report: &mut GcReport,
) -> Result<(), GcError> {
    for (i, state) in states.iter_mut().enumerate() {
        let doomed: Vec<Digest> = untagged(state)
            .into_iter()
            .filter(|d| state.revisions[d].modified < cutoff)
            .collect();
        for (n, batch) in doomed.chunks(BATCH).enumerate() {
            if dry_run {
                for d in batch {
                    state.revisions.remove(d);
                    report.manifests_deleted += 1;
                }
                continue;
            }
            let hold = Hold::write(storage, run, &format!("u{i}-{n}"), batch).await?;
            for d in batch {
                let link = repo::revision_link(&state.name, d)?;
                // A push of the same manifest, or of an index naming it, re-writes the
                // revision link: a fresh one is kept.
                let fresh = match storage.meta(&link).await? {
                    Some(m) => m.modified >= cutoff,
                    None => false,
                };
                if fresh || hold.expired() {
                    continue;
                }
                if let Some(s) = &state.revisions[d].refs.subject {
                    let entry = repo::referrers_dir(&state.name, s)?.join(&format!(
                        "{}-{}",
                        d.algorithm().name(),
                        d.hex()
                    ))?;
                    storage.delete(&entry).await?;
                }
                if storage.delete(&link).await? {
                    report.manifests_deleted += 1;
                }
                state.revisions.remove(d);
            }
            hold.release(storage).await?;
        }
    }
    Ok(())
}

async fn sweep_batch(
    storage: &dyn Storage,
    run: &str,
    n: usize,
    batch: &[Digest],
    cutoff: SystemTime,
    dry_run: bool,
    report: &mut GcReport,
) -> Result<(), GcError> {
    if dry_run {
        for d in batch {
            if let Some(m) = storage.meta(&repo::blob_key(d)?).await? {
                report.blobs_deleted += 1;
                report.bytes_freed += m.size;
            }
        }
        return Ok(());
    }
    let hold = Hold::write(storage, run, &format!("s{n}"), batch).await?;
    // Re-list every repository's links now that the hold is visible: a writer that did
    // not see the hold touched its links before this listing.
    let wanted: HashSet<&Digest> = batch.iter().collect();
    let mut keep: HashSet<Digest> = HashSet::new();
    let mut links: HashMap<Digest, Vec<Key>> = HashMap::new();
    for name in repositories(storage).await? {
        for d in digests_under(storage, &repo_dir(&name, "_manifests/revisions")?).await? {
            if wanted.contains(&d) {
                keep.insert(d);
            }
        }
        for d in digests_under(storage, &repo_dir(&name, "_layers")?).await? {
            if !wanted.contains(&d) || keep.contains(&d) {
                continue;
            }
            let link = repo::layer_link(&name, &d)?;
            match storage.meta(&link).await? {
                Some(m) if m.modified >= cutoff => {
                    keep.insert(d);
                }
                Some(_) => links.entry(d).or_default().push(link),
                None => {}
            }
        }
    }
    let mut remaining = Vec::new();
    for d in batch {
        if keep.contains(d) {
            report.blobs_spared += 1;
        } else {
            remaining.push(d);
        }
    }
    for chunk in remaining.chunks(PARALLEL) {
        let jobs: Vec<_> = chunk
            .iter()
            .map(|d| {
                sweep_one(
                    storage,
                    d,
                    links.remove(*d).unwrap_or_default(),
                    cutoff,
                    &hold,
                )
            })
            .collect();
        for swept in futures::future::join_all(jobs).await {
            match swept? {
                Swept::Spared => report.blobs_spared += 1,
                Swept::Deleted { size, links } => {
                    report.blobs_deleted += 1;
                    report.bytes_freed += size;
                    report.links_removed += links;
                }
                Swept::Gone { links } => report.links_removed += links,
            }
        }
    }
    hold.release(storage).await
}

/// What became of one candidate.
enum Swept {
    /// Kept: fresh, or the hold's budget ran out.
    Spared,
    /// Deleted, with this many links.
    Deleted { size: u64, links: u64 },
    /// Already gone (another collector); this many dangling links removed.
    Gone { links: u64 },
}

async fn sweep_one(
    storage: &dyn Storage,
    d: &Digest,
    links: Vec<Key>,
    cutoff: SystemTime,
    hold: &Hold,
) -> Result<Swept, GcError> {
    let key = repo::blob_key(d)?;
    let meta = storage.meta(&key).await?;
    if hold.expired() || meta.is_some_and(|m| m.modified >= cutoff) {
        return Ok(Swept::Spared);
    }
    let deleted = storage.delete(&key).await?;
    let mut removed = 0;
    for link in links {
        if storage.delete(&link).await? {
            removed += 1;
        }
    }
    Ok(match (meta, deleted) {
        (Some(m), true) => Swept::Deleted {
            size: m.size,
            links: removed,
        },
        _ => Swept::Gone { links: removed },
    })
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
