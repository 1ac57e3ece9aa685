//! Snapshots (layers unpacked once, by chain ID) as the store's records, and their GC.
//!
//! The runtime makes snapshots ([`Layout::snapshot`]) and registers each one just before
//! renaming it into place ([`Store::register_snapshot`]): its chain ID, the chain below it,
//! its diffID and the layer blob it was unpacked from. What keeps a snapshot is decided by
//! one mark ([`classify`], pure) over the chains of the stored images, the images
//! containers use, the blobs leases hold and the layers build-cache records keep, each
//! snapshot keeping the chain below it; [`Store::prune_snapshots`] removes the rest.
//!
//! A snapshot only a build-cache record keeps (a build stage's layers, or an image's once
//! the image is removed) is build cache: `system df` counts it there, `rmi` and
//! `image prune` leave it, `builder prune` takes it with the record.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};

use oci::Digest;
use rusqlite::params;

use crate::db::{self, err};
use crate::space::{self, is_hex64};
use crate::{ImageInfo, Layout, SnapshotDir, Store, StoreError, gc, lease};

/// What keeps a snapshot, strongest last: a snapshot kept for several reasons has the
/// strongest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SnapshotUse {
    /// Nothing: the next prune removes it.
    Unneeded,
    /// A build-cache record's layer (or the chain below one).
    Cache,
    /// A live lease's blob: a pull or a build in progress.
    Leased,
    /// A stored image's layer stack.
    Image,
    /// The layer stack of an image a container uses.
    InUse,
}

/// A registered snapshot, as the mark sees it (hex chain IDs, digest strings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnapshotRow {
    /// Its chain ID's hex (its directory's name).
    pub chain: String,
    /// The chain below it (hex), `None` for a stack's first layer.
    pub parent: Option<String>,
    /// The layer blob it was unpacked from.
    pub layer: Option<String>,
}

/// The roots of the snapshot mark.
#[derive(Debug, Clone, Default)]
pub(crate) struct SnapshotRoots {
    /// Chain IDs (hex) of the layer stacks of images containers use.
    pub in_use: HashSet<String>,
    /// Chain IDs (hex) of the layer stacks of the stored images.
    pub images: HashSet<String>,
    /// Blob digests live leases hold (with what they reach).
    pub leased: HashSet<String>,
    /// Blob digests build-cache records keep.
    pub cache: HashSet<String>,
}

/// What keeps each snapshot: those on disk (`present`, hex chain IDs) and those with a
/// row. A snapshot without a row (made by an older strata) is kept only by images.
/// Each kept snapshot keeps the chain below it as strongly. Pure.
pub(crate) fn classify(
    present: &[String],
    rows: &[SnapshotRow],
    roots: &SnapshotRoots,
) -> BTreeMap<String, SnapshotUse> {
    let by_chain: HashMap<&str, &SnapshotRow> =
        rows.iter().map(|r| (r.chain.as_str(), r)).collect();
    let mut nodes: Vec<&str> = present.iter().map(String::as_str).collect();
    nodes.extend(rows.iter().map(|r| r.chain.as_str()));
    nodes.sort_unstable();
    nodes.dedup();
    let own = |chain: &str| -> SnapshotUse {
        let layer = by_chain.get(chain).and_then(|r| r.layer.as_deref());
        let held = |set: &HashSet<String>| layer.is_some_and(|l| set.contains(l));
        if roots.in_use.contains(chain) {
            SnapshotUse::InUse
        } else if roots.images.contains(chain) {
            SnapshotUse::Image
        } else if held(&roots.leased) {
            SnapshotUse::Leased
        } else if held(&roots.cache) {
            SnapshotUse::Cache
        } else {
            SnapshotUse::Unneeded
        }
    };
    let mut out: BTreeMap<String, SnapshotUse> = nodes
        .iter()
        .map(|c| (c.to_string(), SnapshotUse::Unneeded))
        .collect();
    // Strongest first: a chain marked from a stronger root keeps that.
    for level in [
        SnapshotUse::InUse,
        SnapshotUse::Image,
        SnapshotUse::Leased,
        SnapshotUse::Cache,
    ] {
        let starts: Vec<&str> = nodes.iter().copied().filter(|c| own(c) == level).collect();
        let parent = |c: &str| -> Vec<&str> {
            by_chain
                .get(c)
                .and_then(|r| r.parent.as_deref())
                .into_iter()
                .collect()
        };
        for c in gc::mark(&starts, parent) {
            let slot = out.entry(c.to_string()).or_insert(SnapshotUse::Unneeded);
            *slot = (*slot).max(level);
        }
    }
    out
}

/// What [`Store::prune_snapshots`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SnapshotPruneReport {
    /// The chain IDs (hex) of the snapshots removed.
    pub removed: Vec<String>,
    /// The bytes their directories held.
    pub bytes: u64,
}

impl Store {
    /// Records snapshot `chain` (the layer `diff_id`, unpacked from blob `layer` over the
    /// stack `parent`), before its directory is renamed into place: a snapshot never
    /// appears without its row. Registering again replaces the row.
    pub fn register_snapshot(
        &self,
        chain: &Digest,
        parent: Option<&Digest>,
        diff_id: &Digest,
        layer: Option<&Digest>,
    ) -> Result<(), StoreError> {
        let ctx = "cannot record a snapshot";
        let mut conn = self.conn();
        db::write(&mut conn, ctx, |tx| {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO snapshots (chain, parent, diff_id, layer, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )
            .and_then(|mut st| {
                st.execute(params![
                    chain.hex(),
                    parent.map(|p| p.hex().to_string()),
                    diff_id.to_string(),
                    layer.map(|l| l.to_string()),
                    crate::now()
                ])
            })
            .map_err(err(ctx))?;
            Ok(())
        })
    }

    /// What keeps each snapshot, on disk or registered, by chain ID hex.
    pub fn snapshot_uses(&self) -> Result<BTreeMap<String, SnapshotUse>, StoreError> {
        Ok(self.snapshot_state()?.1)
    }

    /// The registered snapshots and what keeps each snapshot, from one read of the rows.
    fn snapshot_state(
        &self,
    ) -> Result<(Vec<SnapshotRow>, BTreeMap<String, SnapshotUse>), StoreError> {
        let present = present(self.layout())?;
        let ctx = "cannot list snapshots";
        let now = crate::now();
        let (rows, leased, cache) = {
            let mut conn = self.conn();
            db::read(&mut conn, ctx, |tx| {
                let rows = db::snapshot_rows(tx)?;
                let graph = gc::Graph::load(tx)?;
                let names = |nodes: &HashSet<usize>| -> HashSet<String> {
                    nodes.iter().map(|&i| graph.blobs[i].1.clone()).collect()
                };
                let leased = names(&graph.reachable(&lease::live_roots(tx, now, false)?));
                let cache = names(&graph.reachable(&db::cache_layers(tx)?));
                Ok((rows, leased, cache))
            })?
        };
        let roots = SnapshotRoots {
            // Every stored platform of a multi-platform image keeps its unpacked layers
            // (a container may run any of them).
            in_use: chains_of(&self.with_all_platforms(self.images_in_use()?)?),
            images: chains_of(&self.with_all_platforms(self.images()?)?),
            leased,
            cache,
        };
        let uses = classify(&present, &rows, &roots);
        Ok((rows, uses))
    }

    /// Removes the snapshots nothing keeps ([`SnapshotUse::Unneeded`]) and their rows,
    /// each under its lock, so an unpack in progress is not disturbed.
    pub fn prune_snapshots(&self) -> Result<SnapshotPruneReport, StoreError> {
        self.sweep_snapshots(None)
    }

    /// The snapshots only the build cache keeps: chain ID hex → (layer, bytes on disk).
    pub(crate) fn cache_snapshots(&self) -> Result<HashMap<String, (String, u64)>, StoreError> {
        let layout = self.layout();
        let (rows, uses) = self.snapshot_state()?;
        let layers: HashMap<String, String> = rows
            .into_iter()
            .filter_map(|r| Some((r.chain, r.layer?)))
            .collect();
        Ok(uses
            .into_iter()
            .filter(|(_, u)| *u == SnapshotUse::Cache)
            .map(|(chain, _)| {
                let bytes = space::apparent_size(&layout.snapshots_dir().join(&chain));
                let layer = layers.get(&chain).cloned().unwrap_or_default();
                (chain, (layer, bytes))
            })
            .collect())
    }

    /// [`Store::prune_snapshots`], limited to the chains in `among` when given.
    pub(crate) fn sweep_snapshots(
        &self,
        among: Option<&HashSet<String>>,
    ) -> Result<SnapshotPruneReport, StoreError> {
        let layout = self.layout();
        let mut report = SnapshotPruneReport::default();
        let doomed: Vec<String> = self
            .snapshot_uses()?
            .into_iter()
            .filter(|(c, u)| *u == SnapshotUse::Unneeded && among.is_none_or(|a| a.contains(c)))
            .map(|(c, _)| c)
            .collect();
        if doomed.is_empty() {
            return Ok(report);
        }
        let locks = layout.snapshot_locks_dir();
        fs::create_dir_all(&locks).map_err(|e| StoreError::io("cannot create", &locks, e))?;
        let ctx = "cannot forget a snapshot";
        for chain in doomed {
            let lock_path = layout.snapshot_lock_named(&chain);
            let lock = File::create(&lock_path)
                .map_err(|e| StoreError::io("cannot create", &lock_path, e))?;
            lock.lock()
                .map_err(|e| StoreError::io("cannot lock", &lock_path, e))?;
            let snapshot = SnapshotDir::at(layout.snapshots_dir().join(&chain));
            // The ready marker goes first: a reader never sees a half-removed snapshot as
            // ready. The row goes last: a crash in between leaves a row without a
            // directory, which the next prune forgets.
            let bytes = space::apparent_size(snapshot.path());
            let _ = fs::remove_file(snapshot.ready());
            space::remove_tree(&snapshot.path().to_path_buf())?;
            report.bytes += bytes;
            let mut conn = self.conn();
            db::write(&mut conn, ctx, |tx| {
                tx.execute("DELETE FROM snapshots WHERE chain = ?1", [&chain])
                    .map_err(err(ctx))?;
                Ok(())
            })?;
            // The lock file stays: another process may be waiting on it.
            report.removed.push(chain);
        }
        Ok(report)
    }
}

/// The snapshot directories under `snapshots/` (hex chain IDs).
fn present(layout: &Layout) -> Result<Vec<String>, StoreError> {
    let dir = layout.snapshots_dir();
    match fs::read_dir(&dir) {
        Ok(rd) => Ok(rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| is_hex64(n) && dir.join(n).is_dir())
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(StoreError::io("cannot list", &dir, e)),
    }
}

/// The chain IDs (hex) of the layer stacks of `images`.
fn chains_of(images: &[ImageInfo]) -> HashSet<String> {
    images
        .iter()
        .flat_map(|i| oci::chain_ids(&i.diff_ids))
        .map(|c| c.hex().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(chain: &str, parent: Option<&str>, layer: Option<&str>) -> SnapshotRow {
        SnapshotRow {
            chain: chain.into(),
            parent: parent.map(Into::into),
            layer: layer.map(Into::into),
        }
    }

    fn set(items: &[&str]) -> HashSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// Stacks: a ← b ← c (an image a+b, a stage c over it, cached); d ← e (leased);
    /// f alone (nothing); g on disk without a row (an older strata's, an image's);
    /// h on disk without a row, nobody's; i registered, its directory gone, cached.
    #[test]
    fn each_snapshot_is_kept_by_its_strongest_root_and_keeps_its_parents() {
        let rows = vec![
            row("a", None, Some("la")),
            row("b", Some("a"), Some("lb")),
            row("c", Some("b"), Some("lc")),
            row("d", None, Some("ld")),
            row("e", Some("d"), Some("le")),
            row("f", None, Some("lf")),
            row("i", None, Some("li")),
        ];
        let present: Vec<String> = ["a", "b", "c", "d", "e", "f", "g", "h"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let base = SnapshotRoots {
            in_use: set(&[]),
            images: set(&["a", "b", "g"]),
            leased: set(&["le"]),
            cache: set(&["lc", "li", "ld"]),
        };
        use SnapshotUse::*;
        let got = classify(&present, &rows, &base);
        let want: BTreeMap<String, SnapshotUse> = [
            ("a", Image),
            ("b", Image),
            ("c", Cache),
            // d is cached itself but below a leased e: leased is stronger.
            ("d", Leased),
            ("e", Leased),
            ("f", Unneeded),
            ("g", Image),
            ("h", Unneeded),
            ("i", Cache),
        ]
        .into_iter()
        .map(|(c, u)| (c.to_string(), u))
        .collect();
        assert_eq!(got, want);

        // A container on the image: its chains are in use, the cache's stage is not.
        let in_use = SnapshotRoots {
            in_use: set(&["a", "b"]),
            ..base.clone()
        };
        let got = classify(&present, &rows, &in_use);
        assert_eq!((got["a"], got["b"], got["c"]), (InUse, InUse, Cache));

        // The image removed: its layers are the cache's only through c.
        let no_image = SnapshotRoots {
            images: set(&[]),
            ..base.clone()
        };
        let got = classify(&present, &rows, &no_image);
        assert_eq!(
            (got["a"], got["b"], got["c"], got["g"]),
            (Cache, Cache, Cache, Unneeded)
        );

        // No roots at all: everything goes.
        let got = classify(&present, &rows, &SnapshotRoots::default());
        assert!(got.values().all(|u| *u == Unneeded), "{got:?}");
    }
}
