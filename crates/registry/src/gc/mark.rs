//! The mark phase's reading of one repository: its manifest revisions (with what each
//! refers to) and its tags, and which revisions no tag reaches.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use oci::Digest;

use super::refs::{References, references};
use crate::error::{GcError, StorageError};
use crate::layout::{self, digests_under, repo_dir};
use crate::repo::MANIFEST_MAX;
use crate::storage::{self, Storage};

/// One manifest revision seen by the mark phase.
pub(super) struct Revision {
    pub(super) modified: SystemTime,
    pub(super) refs: References,
}

/// What the mark phase read of one repository.
pub(super) struct RepoState {
    pub(super) name: String,
    pub(super) revisions: BTreeMap<Digest, Revision>,
    pub(super) tags: Vec<Digest>,
}

/// A fresh id for a collector run (names its run marker and holds).
pub(super) fn run_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let d = Digest::sha256_of(format!("gc-{t}-{n}-{}", std::process::id()).as_bytes());
    d.hex()[..20].to_string()
}

/// Reads repository `name`'s revisions (with their references) and tags.
pub(super) async fn read_repo(storage: &dyn Storage, name: &str) -> Result<RepoState, GcError> {
    let mut state = RepoState {
        name: name.to_string(),
        revisions: BTreeMap::new(),
        tags: Vec::new(),
    };
    for d in digests_under(storage, &repo_dir(name, "_manifests/revisions")?).await? {
        let link = layout::revision_link(name, &d)?;
        let Some(meta) = storage.meta(&link).await? else {
            continue;
        };
        let media_type = match storage::read_small(storage, &link, 1024).await {
            Ok(b) => Some(String::from_utf8_lossy(&b).trim().to_string()),
            Err(StorageError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let refs = match storage::read_small(storage, &layout::blob_key(&d)?, MANIFEST_MAX).await {
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
pub(super) fn untagged(state: &RepoState) -> Vec<Digest> {
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
