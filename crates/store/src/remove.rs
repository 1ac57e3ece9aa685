//! `rmi` and `image prune` with Docker's rules; both end with a GC run.

use std::collections::BTreeSet;
use std::fmt;

use oci::Digest;

use crate::images::{ImageInfo, Match, repo_of};
use crate::{GcReport, Store, StoreError, db, lease};

/// One line of `rmi` / `image prune` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveEvent {
    /// A tag (`name:tag`) or repo digest (`repo@sha256:...`) was removed.
    Untagged(String),
    /// An image record was deleted (the digest is its ID), or, after it, a layer stack
    /// no image nor container keeps any more (the digest is its chain ID), as Docker's
    /// layer store reports it.
    Deleted(Digest),
}

impl fmt::Display for RemoveEvent {
    /// Docker's wording: `Untagged: alpine:latest`, `Deleted: sha256:...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RemoveEvent::Untagged(n) => write!(f, "Untagged: {n}"),
            RemoveEvent::Deleted(d) => write!(f, "Deleted: {d}"),
        }
    }
}

/// What `image prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Untagged and deleted images, in order.
    pub deleted: Vec<RemoveEvent>,
    /// Exactly the bytes of the blob files deleted.
    pub space_reclaimed: u64,
}

impl Store {
    /// `rmi` with Docker's rules (see [`Store::remove_image_with_gc`]); returns the events.
    pub fn remove_image(&self, s: &str, force: bool) -> Result<Vec<RemoveEvent>, StoreError> {
        Ok(self.remove_image_with_gc(s, force)?.0)
    }

    /// `rmi` with Docker's rules, then GC; returns the events and what GC freed.
    ///
    /// - By name (`repo:tag`) or `repo@digest`: removes that reference; when the last tag
    ///   of a repository goes, that repository's digest references go too. The image record
    ///   is deleted when no reference is left.
    /// - By ID or digest: if the image has more than one tag, or references in several
    ///   repositories, this needs `force`; then every reference goes and the record is
    ///   deleted.
    /// - An image in use by a container (`image_users`) is not deleted without `force`.
    pub fn remove_image_with_gc(
        &self,
        s: &str,
        force: bool,
    ) -> Result<(Vec<RemoveEvent>, GcReport), StoreError> {
        let snap = self.snapshot()?;
        let (how, found) = self.lookup(&snap, s)?;
        let first = &found[0];
        let short = &first.id.hex()[..first.id.hex().len().min(12)];
        let mut untag: Vec<(String, String)> = Vec::new();
        let mut undigest: Vec<(String, String, String)> = Vec::new();
        let mut delete: Vec<&ImageInfo> = Vec::new();
        match how {
            Match::Tag(ref name) => {
                let repo = repo_of(name);
                untag.push((name.clone(), first.target.digest.to_string()));
                let other_tags_in_repo = first.tags.iter().any(|t| t != name && repo_of(t) == repo);
                if !other_tags_in_repo {
                    undigest.extend(digests_of(first, |r| r == repo));
                }
                if first.tags.len() == 1 && undigest.len() == first.repo_digests.len() {
                    delete.push(first);
                }
            }
            Match::RepoDigest(ref repo, ref digest) => {
                undigest.push((
                    repo.clone(),
                    digest.clone(),
                    first.target.digest.to_string(),
                ));
                if first.tags.is_empty() && first.repo_digests.len() == 1 {
                    delete.push(first);
                }
            }
            Match::Id => {
                let tags: Vec<&String> = found.iter().flat_map(|i| &i.tags).collect();
                let repos: BTreeSet<&str> = found
                    .iter()
                    .flat_map(|i| i.tags.iter().chain(&i.repo_digests))
                    .map(|r| repo_of(r))
                    .collect();
                if !force && (tags.len() > 1 || repos.len() > 1) {
                    return Err(StoreError::Conflict {
                        message: format!(
                            "conflict: unable to delete {short} (must be forced) - image is \
                             referenced in multiple repositories"
                        ),
                    });
                }
                for i in &found {
                    untag.extend(tags_of(i));
                    undigest.extend(digests_of(i, |_| true));
                    delete.push(i);
                }
            }
        }
        if !force && let Some(user) = delete.iter().flat_map(|i| &i.users).next() {
            let message = match &how {
                Match::Tag(name) => format!(
                    "conflict: unable to remove repository reference \"{name}\" (must \
                     force) - container {user} is using its referenced image {short}"
                ),
                _ => format!(
                    "conflict: unable to delete {short} (must be forced) - image is being \
                     used by stopped container {user}"
                ),
            };
            return Err(StoreError::Conflict { message });
        }
        // Which layer stacks other images keep: read only when a record may go.
        let everyone = if delete.is_empty() {
            Vec::new()
        } else {
            self.describe_all(&snap)?
        };
        let events = {
            let mut conn = self.conn();
            db::write(&mut conn, "cannot remove an image", |tx| {
                apply_removal(tx, &untag, &undigest, &delete, &found, &everyone)
            })?
        };
        let ids: Vec<String> = delete.iter().map(|i| i.id.to_string()).collect();
        for e in &events {
            match e {
                RemoveEvent::Untagged(_) => self.image_event("untag", &first.id.to_string(), None),
                RemoveEvent::Deleted(d) if ids.contains(&d.to_string()) => {
                    self.image_event("delete", &d.to_string(), None)
                }
                RemoveEvent::Deleted(_) => {}
            }
        }
        let report = self.gc()?;
        Ok((events, report))
    }

    /// `image prune`: removes dangling (untagged) images, or with `all` every image no
    /// container uses, then collects garbage. An image a live [`crate::Lease`] holds (an
    /// operation in progress uses it) is neither removed nor listed. `space_reclaimed` is exactly the bytes of the
    /// blob files deleted.
    pub fn prune(&self, all: bool) -> Result<PruneReport, StoreError> {
        self.prune_matching(all, &|_| true)
    }

    /// [`Store::prune`] of only the images `allow` accepts (`image prune --filter`).
    pub fn prune_matching(
        &self,
        all: bool,
        allow: &dyn Fn(&ImageInfo) -> bool,
    ) -> Result<PruneReport, StoreError> {
        let snap = self.snapshot()?;
        let infos = self.describe_all(&snap)?;
        let used_ids: BTreeSet<&Digest> = infos
            .iter()
            .filter(|i| !i.users.is_empty())
            .map(|i| &i.id)
            .collect();
        let chosen: Vec<&ImageInfo> = infos
            .iter()
            .filter(|i| i.users.is_empty() && !used_ids.contains(&i.id))
            .filter(|i| all || i.dangling)
            .filter(|i| allow(i))
            .collect();
        let deleted = {
            let mut conn = self.conn();
            let now = crate::now();
            db::write(&mut conn, "cannot prune images", |tx| {
                // Leases are read in the removal's own transaction: one taken before it
                // commits keeps its image (record, tags and content), and one taken after
                // finds the image gone (see `Lease::hold_image`). Nothing in between.
                let leased = lease::live_set(tx, now)?;
                let chosen: Vec<&ImageInfo> = chosen
                    .iter()
                    .copied()
                    .filter(|i| !leased.contains(&i.target.digest.to_string()))
                    .collect();
                let mut untag = Vec::new();
                let mut undigest = Vec::new();
                for i in &chosen {
                    untag.extend(tags_of(i));
                    undigest.extend(digests_of(i, |_| true));
                }
                apply_removal(tx, &untag, &undigest, &chosen, &infos, &infos)
            })?
        };
        let report = self.gc()?;
        Ok(PruneReport {
            deleted,
            space_reclaimed: report.bytes,
        })
    }
}

/// The tags of an image as (name, image).
fn tags_of(i: &ImageInfo) -> Vec<(String, String)> {
    let image = i.target.digest.to_string();
    i.tags.iter().map(|t| (t.clone(), image.clone())).collect()
}

/// The repo digests of an image whose repository satisfies `keep`, as (repo, digest, image).
fn digests_of(i: &ImageInfo, keep: impl Fn(&str) -> bool) -> Vec<(String, String, String)> {
    i.repo_digests
        .iter()
        .filter_map(|rd| {
            let (repo, digest) = rd.split_once('@')?;
            keep(repo).then(|| {
                (
                    repo.to_string(),
                    digest.to_string(),
                    i.target.digest.to_string(),
                )
            })
        })
        .collect()
}

/// Removes references and then image records that nothing refers to any more, in one
/// transaction; returns Docker's event lines. `all` resolves which records share an ID;
/// `everyone` (every stored image) which layer stacks stay.
fn apply_removal(
    tx: &rusqlite::Transaction<'_>,
    untag: &[(String, String)],
    undigest: &[(String, String, String)],
    delete: &[&ImageInfo],
    all: &[ImageInfo],
    everyone: &[ImageInfo],
) -> Result<Vec<RemoveEvent>, StoreError> {
    let mut events = Vec::new();
    for (name, image) in untag {
        // Only if the tag still points where it did: another process may have moved it.
        if db::remove_tag_of(tx, name, image)? {
            events.push(RemoveEvent::Untagged(name.clone()));
        }
    }
    for (repo, digest, _) in undigest {
        if db::remove_repo_digest(tx, repo, digest)? {
            events.push(RemoveEvent::Untagged(format!("{repo}@{digest}")));
        }
    }
    let mut deleted_ids: BTreeSet<Digest> = BTreeSet::new();
    for i in delete {
        if db::delete_image_if_unreferenced(tx, &i.target.digest.to_string())? {
            deleted_ids.insert(i.id.clone());
        }
    }
    // An ID is deleted once no record with that ID is left.
    let is_deleted = |i: &ImageInfo| delete.iter().any(|d| d.target.digest == i.target.digest);
    // Layer stacks stay while an image that is left, or a container, has them.
    let kept_chains: BTreeSet<Digest> = everyone
        .iter()
        .filter(|i| !is_deleted(i) || !i.users.is_empty())
        .flat_map(|i| oci::chain_ids(&i.diff_ids))
        .collect();
    // The build cache keeps the layers it made (as BuildKit's snapshots hold Docker's
    // layers), and a kept layer keeps the stack below it.
    let cached: BTreeSet<String> = db::cache_layers(tx)?.into_iter().collect();
    let mut released: BTreeSet<Digest> = BTreeSet::new();
    for id in deleted_ids {
        let remaining = all.iter().filter(|i| i.id == id && !is_deleted(i)).count();
        if remaining == 0 {
            events.push(RemoveEvent::Deleted(id.clone()));
            // Then, as Docker's layer store says it, each layer stack no image needs any
            // more, top first.
            let Some(image) = delete.iter().find(|d| d.id == id) else {
                continue;
            };
            let held_below = image
                .layers
                .iter()
                .rposition(|l| cached.contains(&l.to_string()))
                .map_or(0, |top| top + 1);
            let chains = oci::chain_ids(&image.diff_ids);
            for chain in chains.into_iter().skip(held_below).rev() {
                if !kept_chains.contains(&chain) && released.insert(chain.clone()) {
                    events.push(RemoveEvent::Deleted(chain));
                }
            }
        }
    }
    Ok(events)
}
