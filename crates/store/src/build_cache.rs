//! The build cache's records: one database row per build step key, holding the builder's
//! record (opaque bytes to the store) and the layer it keeps. While a row lives its layer
//! is a GC root (see [`crate::db::static_roots`]); `builder prune` deletes rows, collects
//! what only they kept, and removes the build's own files under `build-cache/`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use oci::Digest;
use rusqlite::{OptionalExtension, params};

use crate::db::{self, err};
use crate::space::{self, is_hex64};
use crate::{GcReport, Store, StoreError, gc, lease, lock};

/// A hit refreshes its row's `last_used` only when it is older than this (seconds): a
/// rebuild seconds later then writes nothing, and the LRU order is still right to the
/// minute.
const TOUCH_AFTER_SECS: i64 = 60;

/// One build-cache record, as `system df -v` and `builder prune` see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    /// The step key.
    pub key: Digest,
    /// The layer the record keeps, if the step made one.
    pub layer: Option<Digest>,
    /// When the record was written (seconds since the epoch).
    pub created_at: i64,
    /// When a build last used it (seconds since the epoch).
    pub last_used: i64,
    /// The size of its layer (0 without one).
    pub size: u64,
    /// Whether an image (or a lease) keeps its layer too.
    pub shared: bool,
}

/// What `builder prune` removes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachePrunePolicy {
    /// Every record (`--all`); otherwise only dangling cache: files no record can use
    /// any more (memos of layers no longer stored, records of an older strata).
    pub all: bool,
    /// Only what no build used since this time (`--filter until=`), seconds since the
    /// epoch.
    pub unused_since: Option<i64>,
    /// Keep this many bytes of cache, removing the least recently used first
    /// (`--keep-storage`).
    pub keep_storage: Option<u64>,
}

/// What `builder prune` removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachePruneReport {
    /// The IDs of the records and cache mounts removed (Docker prints them).
    pub deleted: Vec<String>,
    /// The bytes freed: blobs and unpacked layers only these records kept, and the files
    /// removed.
    pub bytes: u64,
}

/// The ID Docker prints for a cache record: 25 characters, as BuildKit's.
pub fn cache_id(hex: &str) -> String {
    hex.chars().take(25).collect()
}

/// One thing a prune may remove, oldest use first.
#[derive(Debug)]
enum Item {
    Row {
        key: String,
        layer: Option<String>,
        last_used: i64,
        bytes: u64,
    },
    File {
        path: PathBuf,
        id: Option<String>,
        used: i64,
        bytes: u64,
    },
}

impl Item {
    fn used(&self) -> i64 {
        match self {
            Item::Row { last_used, .. } => *last_used,
            Item::File { used, .. } => *used,
        }
    }

    fn bytes(&self) -> u64 {
        match self {
            Item::Row { bytes, .. } | Item::File { bytes, .. } => *bytes,
        }
    }
}

/// Which of `items` (any order) a prune removes under `policy`, given which of them are
/// candidates at all (`all`, or dangling): those unused since the cutoff, and with a
/// storage limit only the least recently used until what stays fits. Pure: indexes in.
fn select(items: &[(bool, i64, u64)], policy: &CachePrunePolicy) -> Vec<usize> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| items[i].1);
    let mut total: u64 = items.iter().map(|i| i.2).sum();
    let mut out = Vec::new();
    for i in order {
        let (candidate, used, bytes) = items[i];
        if !candidate || policy.unused_since.is_some_and(|t| used >= t) {
            continue;
        }
        if let Some(keep) = policy.keep_storage
            && total <= keep
        {
            break;
        }
        total -= bytes;
        out.push(i);
    }
    out
}

fn mtime_secs(path: &Path) -> i64 {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64)
}

impl Store {
    /// The record stored for step `key`, refreshing its last use.
    pub fn cache_record(&self, key: &Digest) -> Result<Option<Vec<u8>>, StoreError> {
        let ctx = "cannot read the build cache";
        let now = crate::now();
        let key = key.to_string();
        let mut conn = self.conn();
        let row: Option<(Vec<u8>, i64)> = conn
            .prepare_cached("SELECT record, last_used FROM build_cache WHERE key = ?1")
            .and_then(|mut st| {
                st.query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(err(ctx))?;
        let Some((record, last_used)) = row else {
            return Ok(None);
        };
        if now - last_used > TOUCH_AFTER_SECS {
            db::write(&mut conn, ctx, |tx| {
                tx.execute(
                    "UPDATE build_cache SET last_used = ?2 WHERE key = ?1",
                    params![key, now],
                )
                .map_err(err(ctx))?;
                Ok(())
            })?;
        }
        Ok(Some(record))
    }

    /// Records what step `key` produced. `layer`, when given, must be stored: the row
    /// keeps it from the GC from now on.
    pub fn put_cache_record(
        &self,
        key: &Digest,
        layer: Option<&Digest>,
        record: &[u8],
    ) -> Result<(), StoreError> {
        let ctx = "cannot write the build cache";
        let now = crate::now();
        db::write(&mut self.conn(), ctx, |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO build_cache (key, layer, record, created_at, last_used)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![key.to_string(), layer.map(|l| l.to_string()), record, now],
            )
            .map_err(err(ctx))?;
            Ok(())
        })
    }

    /// Every build-cache record, oldest first.
    pub fn cache_entries(&self) -> Result<Vec<CacheEntry>, StoreError> {
        let ctx = "cannot list the build cache";
        let now = crate::now();
        let mut conn = self.conn();
        db::read(&mut conn, ctx, |tx| {
            let mut roots = db::image_roots(tx)?;
            roots.extend(lease::live_roots(tx, now, false)?);
            let graph = gc::Graph::load(tx)?;
            let kept = graph.reachable(&roots);
            let mut st = tx
                .prepare_cached(
                    "SELECT key, layer, created_at, last_used FROM build_cache
                     ORDER BY created_at, key",
                )
                .map_err(err(ctx))?;
            let rows = st
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get(2)?,
                        r.get(3)?,
                    ))
                })
                .map_err(err(ctx))?;
            let mut out = Vec::new();
            for row in rows {
                let (key, layer, created_at, last_used) = row.map_err(err(ctx))?;
                let Ok(key) = key.parse() else { continue };
                out.push(CacheEntry {
                    key,
                    size: layer.as_deref().map_or(0, |l| graph.size(l)),
                    shared: layer.as_deref().is_some_and(|l| graph.contains(l, &kept)),
                    layer: layer.and_then(|l| l.parse().ok()),
                    created_at,
                    last_used,
                });
            }
            Ok(out)
        })
    }

    /// The `RUN --mount=type=cache` directories, by name (a digest of their id).
    pub fn cache_mounts(&self) -> Vec<String> {
        fs::read_dir(self.layout().build_cache_mounts_dir())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// `builder prune`: removes the records and files `policy` selects, then the blobs
    /// and unpacked layers only those records kept. Blobs kept by images, containers, other records or leases
    /// stay, and no other garbage is collected: what is freed is build cache only.
    pub fn prune_build_cache(
        &self,
        policy: &CachePrunePolicy,
    ) -> Result<CachePruneReport, StoreError> {
        let _gc = lock::exclusive(&self.layout().gc_lock())?;
        let files = self.cache_files(policy.all)?;
        // The unpacked layers only the cache keeps go with the records of their layers.
        let snapshots = self.cache_snapshots()?;
        let mut snapshot_bytes: HashMap<String, u64> = HashMap::new();
        for (layer, bytes) in snapshots.values() {
            *snapshot_bytes.entry(layer.clone()).or_default() += bytes;
        }
        let ctx = "cannot prune the build cache";
        let now = crate::now();
        let mut report = CachePruneReport::default();
        let doomed_layers: Vec<String> = {
            let mut conn = self.conn();
            db::write(&mut conn, ctx, |tx| {
                let rows: Vec<(String, Option<String>, i64)> = {
                    let mut st = tx
                        .prepare_cached("SELECT key, layer, last_used FROM build_cache")
                        .map_err(err(ctx))?;
                    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                        .map_err(err(ctx))?
                        .collect::<Result<_, _>>()
                        .map_err(err(ctx))?
                };
                // A record's bytes are its layer's, unless something else keeps the layer
                // (an image, a lease) or an earlier record already counted it.
                let mut roots = db::image_roots(tx)?;
                roots.extend(lease::live_roots(tx, now, true)?);
                let graph = gc::Graph::load(tx)?;
                let kept = graph.reachable(&roots);
                let mut counted = HashSet::new();
                let mut items: Vec<Item> = rows
                    .into_iter()
                    .map(|(key, layer, last_used)| {
                        let bytes = match &layer {
                            Some(l) if counted.insert(l.clone()) => {
                                let blob = if graph.contains(l, &kept) {
                                    0
                                } else {
                                    graph.size(l)
                                };
                                blob + snapshot_bytes.get(l).copied().unwrap_or(0)
                            }
                            _ => 0,
                        };
                        Item::Row {
                            key,
                            layer,
                            last_used,
                            bytes,
                        }
                    })
                    .collect();
                items.extend(files.into_iter().map(|(path, id)| {
                    let used = mtime_secs(&path);
                    let bytes = space::apparent_size(&path);
                    Item::File {
                        path,
                        id,
                        used,
                        bytes,
                    }
                }));
                let shape: Vec<(bool, i64, u64)> = items
                    .iter()
                    .map(|i| {
                        let candidate = policy.all || matches!(i, Item::File { .. });
                        (candidate, i.used(), i.bytes())
                    })
                    .collect();
                let chosen: HashSet<usize> = select(&shape, policy).into_iter().collect();
                let mut layers = Vec::new();
                let mut st = tx
                    .prepare_cached("DELETE FROM build_cache WHERE key = ?1")
                    .map_err(err(ctx))?;
                for (i, item) in items.into_iter().enumerate() {
                    if !chosen.contains(&i) {
                        continue;
                    }
                    match item {
                        Item::Row { key, layer, .. } => {
                            st.execute([&key]).map_err(err(ctx))?;
                            report
                                .deleted
                                .push(cache_id(key.split_once(':').map_or(&key[..], |k| k.1)));
                            layers.extend(layer);
                        }
                        Item::File { path, id, .. } => {
                            report.bytes += space::remove_tree(&path)?;
                            report.deleted.extend(id);
                        }
                    }
                }
                Ok(layers)
            })?
        };
        let mut freed = GcReport::default();
        self.collect_only(&doomed_layers, &mut freed)?;
        report.bytes += freed.bytes;
        let among: HashSet<String> = snapshots.into_keys().collect();
        report.bytes += self.sweep_snapshots(Some(&among))?.bytes;
        Ok(report)
    }

    /// The build's files under `build-cache/` a prune may remove, with the ID to print
    /// for each (cache mounts have one). Without `--all`, only dangling files: memos of
    /// layers no longer stored and records of an older strata.
    fn cache_files(&self, all: bool) -> Result<Vec<(PathBuf, Option<String>)>, StoreError> {
        let layout = self.layout();
        let dir = layout.build_cache_dir();
        let mut out = Vec::new();
        let list = |d: &Path| -> Result<Vec<(String, PathBuf)>, StoreError> {
            match fs::read_dir(d) {
                Ok(rd) => Ok(rd
                    .flatten()
                    .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                    .collect()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(StoreError::io("cannot list", d, e)),
            }
        };
        let nodes = layout.build_cache_dir().join("nodes");
        let mounts = layout.build_cache_mounts_dir();
        for (name, path) in list(&dir)? {
            if path == nodes || path == mounts {
                continue;
            }
            // Records and the all-contexts digest table of an older strata are dangling:
            // no build reads them. Everything else (step inputs, context digests) is only
            // for `--all`.
            if all || is_hex64(&name) || path == layout.build_cache_context_hashes() {
                out.push((path, None));
            }
        }
        for (name, path) in list(&nodes)? {
            let stored = Digest::new(oci::Algorithm::Sha256, &name)
                .ok()
                .is_some_and(|d| self.has_blob(&d).unwrap_or(false));
            if all || !stored {
                out.push((path, None));
            }
        }
        if all {
            for (name, path) in list(&mounts)? {
                out.push((path, Some(cache_id(&name))));
            }
            // The directories themselves last (a prune without a time or size limit takes
            // everything, and the cache then counts 0 bytes).
            for d in [nodes, mounts] {
                if d.exists() {
                    out.push((d, None));
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items as (candidate, last used, bytes); the prune takes candidates oldest first,
    /// only those unused since the cutoff, and with a storage limit only until what stays
    /// fits.
    #[test]
    fn a_prune_selects_least_recently_used_candidates() {
        let items = [
            (true, 30, 100),
            (true, 10, 50),
            (false, 5, 500),
            (true, 20, 25),
        ];
        let policy = |unused_since: Option<i64>, keep_storage: Option<u64>| CachePrunePolicy {
            all: true,
            unused_since,
            keep_storage,
        };
        for (unused_since, keep, want) in [
            (None, None, vec![1, 3, 0]),
            (Some(25), None, vec![1, 3]),
            (Some(10), None, vec![]),
            // 675 in all; keep 625: the oldest candidate (50) is enough.
            (None, Some(625), vec![1]),
            // keep 600: 50 + 25 more.
            (None, Some(600), vec![1, 3]),
            (None, Some(550), vec![1, 3, 0]),
            // the non-candidate's 500 stays whatever the limit: all candidates go.
            (None, Some(0), vec![1, 3, 0]),
            (None, Some(10_000), vec![]),
            (Some(15), Some(0), vec![1]),
        ] {
            assert_eq!(
                select(&items, &policy(unused_since, keep)),
                want,
                "until {unused_since:?}, keep {keep:?}"
            );
        }
        assert_eq!(cache_id(&"ab".repeat(32)).len(), 25);
    }
}
