//! `system df`: how many bytes the store holds, whose they are, and how many a prune could
//! free. Sizes come from one walk of the root ([`crate::space`]), so the parts add up to
//! what `du -sbx` of the root prints; the database says whose each blob is.

use std::collections::{BTreeMap, BTreeSet};

use crate::{SnapshotUse, Store, StoreError, db, gc, lease, space};

/// Numbers for `system df`. Every byte under the root is in exactly one of `images_bytes`,
/// `cache_bytes`, `containers` + `containers_shared`, `volumes` + `volumes_shared`,
/// `db_bytes` and `own_bytes`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Image records.
    pub images: u64,
    /// Images in use by a container.
    pub active: u64,
    /// Committed blobs.
    pub blobs: u64,
    /// Bytes of all committed blobs (each stored once).
    pub blobs_bytes: u64,
    /// The images' bytes: every blob file and unpacked layer not kept only by the build
    /// cache.
    pub images_bytes: u64,
    /// Bytes of the images' space that no image in use and no live lease needs.
    pub reclaimable_bytes: u64,
    /// Build-cache records.
    pub cache_records: u64,
    /// The build cache's bytes: the blobs only its records keep, the unpacked layers only
    /// they keep, and `build-cache/`.
    pub cache_bytes: u64,
    /// Each container's directory (record, writable layer, logs), by ID.
    pub containers: BTreeMap<String, u64>,
    /// What is in `containers/` beyond the containers' own directories, and the OCI
    /// runtimes' state of live containers.
    pub containers_shared: u64,
    /// Each local volume's directory, by name.
    pub volumes: BTreeMap<String, u64>,
    /// `volumes/` beyond the volumes' own directories.
    pub volumes_shared: u64,
    /// The metadata database's own files.
    pub db_bytes: u64,
    /// The store's frame and scratch: its directories, locks, partial downloads, the
    /// scratch space of running commands. No prune of a row frees them.
    pub own_bytes: u64,
}

impl DiskUsage {
    /// Every byte under the root (what `du -sbx` of it prints, measured at the same time).
    pub fn total(&self) -> u64 {
        self.images_bytes
            + self.cache_bytes
            + self.containers.values().sum::<u64>()
            + self.containers_shared
            + self.volumes.values().sum::<u64>()
            + self.volumes_shared
            + self.db_bytes
            + self.own_bytes
    }
}

impl Store {
    /// Counts for `system df`.
    pub fn disk_usage(&self) -> Result<DiskUsage, StoreError> {
        let snap = self.snapshot()?;
        let now = crate::now();
        let (graph, in_use, images, cache, cache_records) = {
            let mut conn = self.conn();
            db::read(&mut conn, "cannot compute disk usage", |tx| {
                let graph = gc::Graph::load(tx)?;
                let mut used: Vec<String> = snap.users.iter().map(|u| u.0.clone()).collect();
                let leased = lease::live_roots(tx, now, false)?;
                used.extend(leased.iter().cloned());
                let in_use = graph.reachable(&used);
                let mut image_roots = db::image_roots(tx)?;
                image_roots.extend(leased);
                let images = graph.reachable(&image_roots);
                let cache_roots = db::static_roots(tx)?;
                let cache = graph.reachable(&cache_roots);
                let records = db::cache_record_count(tx)?;
                Ok((graph, in_use, images, cache, records))
            })?
        };
        let walked = space::measure(self.layout().root());
        // Unpacked layers are the images', but those only the build cache keeps are the
        // cache's; those of images in use and of work in progress are not reclaimable.
        let uses = self.snapshot_uses()?;
        let (mut snapshot_bytes, mut needed_snapshot_bytes, mut cache_snapshot_bytes) = (0, 0, 0);
        for (chain, bytes) in &walked.snapshots {
            match uses.get(chain).copied().unwrap_or(SnapshotUse::Unneeded) {
                SnapshotUse::Cache => cache_snapshot_bytes += bytes,
                SnapshotUse::InUse | SnapshotUse::Leased => {
                    snapshot_bytes += bytes;
                    needed_snapshot_bytes += bytes;
                }
                SnapshotUse::Image | SnapshotUse::Unneeded => snapshot_bytes += bytes,
            }
        }
        let blobs_bytes: u64 = graph.blobs.iter().map(|b| b.2).sum();
        // A blob the build cache keeps and no image (nor lease) does is the cache's.
        let cache_only_bytes: u64 = walked
            .blobs
            .iter()
            .filter(|(d, _)| graph.contains(d, &cache) && !graph.contains(d, &images))
            .map(|(_, b)| b)
            .sum();
        let all_blob_bytes: u64 = walked.blobs.values().sum();
        let images_bytes = all_blob_bytes - cache_only_bytes + snapshot_bytes;
        // What pruning every unused image could free: all of the images' space but the
        // blobs and unpacked layers of images in use (or leased).
        let in_use_bytes: u64 = walked
            .blobs
            .iter()
            .filter(|(d, _)| graph.contains(d, &in_use))
            .map(|(_, b)| b)
            .sum();
        let reclaimable_bytes = images_bytes.saturating_sub(in_use_bytes + needed_snapshot_bytes);
        let active: BTreeSet<&String> = snap.users.iter().map(|u| &u.0).collect();
        Ok(DiskUsage {
            images: snap.images.len() as u64,
            active: snap
                .images
                .iter()
                .filter(|r| active.contains(&r.digest))
                .count() as u64,
            blobs: graph.blobs.len() as u64,
            blobs_bytes,
            images_bytes,
            reclaimable_bytes,
            cache_records,
            cache_bytes: cache_only_bytes + walked.build_cache + cache_snapshot_bytes,
            containers: walked.containers,
            containers_shared: walked.containers_shared,
            volumes: walked.volumes,
            volumes_shared: walked.volumes_shared,
            db_bytes: walked.db,
            own_bytes: walked.other,
        })
    }
}
