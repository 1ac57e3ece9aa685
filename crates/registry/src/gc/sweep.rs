//! The sweep phase and the deletions: unmarked blobs judged again under a hold, untagged
//! manifests, dangling links, and what dead collectors left behind.

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use oci::Digest;

use super::mark::{RepoState, untagged};
use super::{BATCH, GcReport, PARALLEL, STALE_HOLD};
use crate::error::GcError;
use crate::hold::Hold;
use crate::layout::{self, GC_HOLDS, GC_RUNS, digests_under, repo_dir, repositories};
use crate::storage::{Key, Storage};

/// Removes layer links older than the cutoff to blobs that are not there (an upload that
/// died between linking and moving its content in, or a link re-made by a push that was
/// then refused). A link is only removed when its blob is still missing right before.
pub(super) async fn remove_dangling_links(
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
            let link = layout::layer_link(name, &d)?;
            let old = matches!(storage.meta(&link).await?, Some(m) if m.modified < cutoff);
            if old
                && storage.stat(&layout::blob_key(&d)?).await?.is_none()
                && storage.delete(&link).await?
            {
                report.links_removed += 1;
            }
        }
    }
    Ok(())
}

/// Removes holds and run markers left by collectors that died.
pub(super) async fn remove_stale(storage: &dyn Storage, t0: SystemTime) -> Result<(), GcError> {
    let Some(cutoff) = t0.checked_sub(STALE_HOLD) else {
        return Ok(());
    };
    for dir in [GC_HOLDS, GC_RUNS] {
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

pub(super) async fn delete_untagged(
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
                let link = layout::revision_link(&state.name, d)?;
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
                    let entry = layout::referrer_entry(&state.name, s, d)?;
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

pub(super) async fn sweep_batch(
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
            if let Some(m) = storage.meta(&layout::blob_key(d)?).await? {
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
            let link = layout::layer_link(&name, &d)?;
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
    let key = layout::blob_key(d)?;
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
