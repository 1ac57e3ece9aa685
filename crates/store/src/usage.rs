//! `system df`: how many bytes the store holds and how many a prune could free.

use std::collections::BTreeSet;

use crate::{Store, StoreError, db, gc, lease};

/// Numbers for `system df`.
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
    /// Bytes of blobs that no image in use (and no live lease) reaches.
    pub reclaimable_bytes: u64,
}

impl Store {
    /// Counts for `system df`.
    pub fn disk_usage(&self) -> Result<DiskUsage, StoreError> {
        let snap = self.snapshot()?;
        let now = crate::now();
        let (graph, live) = {
            let mut conn = self.conn();
            db::read(&mut conn, "cannot compute disk usage", |tx| {
                let mut roots: Vec<String> = snap.users.iter().map(|u| u.0.clone()).collect();
                roots.extend(lease::live_roots(tx, now, false)?);
                let graph = gc::Graph::load(tx)?;
                let live = graph.reachable(&roots);
                Ok((graph, live))
            })?
        };
        let blobs_bytes: u64 = graph.blobs.iter().map(|b| b.2).sum();
        let live_bytes: u64 = live.iter().map(|&i| graph.blobs[i].2).sum();
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
            reclaimable_bytes: blobs_bytes - live_bytes,
        })
    }
}
