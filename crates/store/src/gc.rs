//! Garbage collection: mark from roots over the recorded edges, then sweep rows and files.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::hash::Hash;
use std::time::{Duration, SystemTime};

use oci::Digest;
use rusqlite::Connection;

use crate::{IngestDir, Store, StoreError, db, lease, lock};

/// Partial ingests nobody has touched for this long are deleted by GC (if unlocked).
pub const INGEST_GRACE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// What a GC run deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// The blobs whose files were deleted.
    pub removed: Vec<Digest>,
    /// The bytes of the blob files deleted.
    pub bytes: u64,
}

/// Everything reachable from `roots` by following `edges`. Knows nothing of files or SQL.
pub fn mark<N: Copy + Eq + Hash>(roots: &[N], edges: impl Fn(N) -> Vec<N>) -> HashSet<N> {
    let mut seen: HashSet<N> = HashSet::new();
    let mut stack: Vec<N> = Vec::new();
    for &r in roots {
        if seen.insert(r) {
            stack.push(r);
        }
    }
    while let Some(n) = stack.pop() {
        for c in edges(n) {
            if seen.insert(c) {
                stack.push(c);
            }
        }
    }
    seen
}

/// The blob rows and edges, indexed for [`mark`].
pub(crate) struct Graph {
    /// (row id, digest, size), indexed by node number.
    pub blobs: Vec<(i64, String, u64)>,
    index: HashMap<String, usize>,
    adj: Vec<Vec<usize>>,
}

impl Graph {
    pub(crate) fn load(conn: &Connection) -> Result<Graph, StoreError> {
        let blobs = db::all_blobs(conn)?;
        let index: HashMap<String, usize> = blobs
            .iter()
            .enumerate()
            .map(|(i, (_, d, _))| (d.clone(), i))
            .collect();
        let mut adj = vec![Vec::new(); blobs.len()];
        for (p, c) in db::all_edges(conn)? {
            if let (Some(&p), Some(&c)) = (index.get(&p), index.get(&c)) {
                adj[p].push(c);
            }
        }
        Ok(Graph { blobs, index, adj })
    }

    /// Whether blob `digest` is one of the `nodes`.
    pub(crate) fn contains(&self, digest: &str, nodes: &HashSet<usize>) -> bool {
        self.index.get(digest).is_some_and(|i| nodes.contains(i))
    }

    /// The size of blob `digest` (0 without a row).
    pub(crate) fn size(&self, digest: &str) -> u64 {
        self.index.get(digest).map_or(0, |&i| self.blobs[i].2)
    }

    /// Node numbers of the reachable blobs; roots without a row are skipped.
    pub(crate) fn reachable(&self, roots: &[String]) -> HashSet<usize> {
        let roots: Vec<usize> = roots
            .iter()
            .filter_map(|r| self.index.get(r).copied())
            .collect();
        mark(&roots, |n| self.adj[n].clone())
    }

    /// Deletes the rows of the blobs not in `live` that `doomed` (node number, digest)
    /// picks; returns them (row id, digest, size) for their files to go after the commit.
    pub(crate) fn delete_unreachable(
        &self,
        tx: &rusqlite::Transaction<'_>,
        live: &HashSet<usize>,
        doomed: impl Fn(usize, &str) -> bool,
    ) -> Result<Vec<(i64, String, u64)>, StoreError> {
        let rows: Vec<(i64, String, u64)> = self
            .blobs
            .iter()
            .enumerate()
            .filter(|(i, b)| !live.contains(i) && doomed(*i, &b.1))
            .map(|(_, b)| b.clone())
            .collect();
        let ids: Vec<i64> = rows.iter().map(|b| b.0).collect();
        db::delete_blobs(tx, &ids)?;
        Ok(rows)
    }

    /// [`Graph::reachable`], never entering blob `cut` (nor what only it reaches): what
    /// stays when `cut` goes (an index's entry removed by `rmi --platform`).
    pub(crate) fn reachable_without(&self, roots: &[String], cut: &str) -> HashSet<usize> {
        let cut = self.index.get(cut).copied();
        let roots: Vec<usize> = roots
            .iter()
            .filter_map(|r| self.index.get(r).copied())
            .filter(|&r| Some(r) != cut)
            .collect();
        mark(&roots, |n| {
            self.adj[n]
                .iter()
                .copied()
                .filter(|&c| Some(c) != cut)
                .collect()
        })
    }
}

impl Store {
    /// Collects garbage: deletes every blob not reachable from an image, tag, repo digest,
    /// image in use, build-cache record or live lease, then files in `blobs/` that no row names (what a crash
    /// of a commit or of an earlier GC left). Safe to run while other processes pull or
    /// build.
    pub fn gc(&self) -> Result<GcReport, StoreError> {
        // Exclusive against commits (which hold it shared across rename + row insert), held
        // until the files are gone so no commit can re-add a blob we are about to unlink.
        let _gc = lock::exclusive(&self.layout().gc_lock())?;
        let mut report = GcReport::default();
        self.collect(None, &mut report)?;
        self.sweep_orphans(&mut report)?;
        self.sweep_stale_ingests()?;
        Ok(report)
    }

    /// Collects, of the blobs reachable from `scope`, those no root reaches any more (a
    /// `builder prune` frees what the records it deleted kept, and nothing else). The
    /// caller holds the GC lock.
    pub(crate) fn collect_only(
        &self,
        scope: &[String],
        report: &mut GcReport,
    ) -> Result<(), StoreError> {
        if scope.is_empty() {
            return Ok(());
        }
        self.collect(Some(scope), report)
    }

    /// The mark and sweep: deletes the rows, then the files, of every blob no root reaches
    /// (only those reachable from `scope`, when given). The caller holds the GC lock.
    fn collect(&self, scope: Option<&[String]>, report: &mut GcReport) -> Result<(), StoreError> {
        let now = crate::now();
        let doomed = {
            let mut conn = self.conn();
            db::write(&mut conn, "cannot collect garbage", |tx| {
                let mut roots = db::static_roots(tx)?;
                roots.extend(lease::live_roots(tx, now, true)?);
                let graph = Graph::load(tx)?;
                let live = graph.reachable(&roots);
                let in_scope = scope.map(|s| graph.reachable(s));
                graph.delete_unreachable(tx, &live, |i, _| {
                    in_scope.as_ref().is_none_or(|s| s.contains(&i))
                })
            })?
        };
        self.remove_blob_files(&doomed, report)
    }

    /// Deletes the files of the blobs whose rows [`Graph::delete_unreachable`] deleted.
    pub(crate) fn remove_blob_files(
        &self,
        doomed: &[(i64, String, u64)],
        report: &mut GcReport,
    ) -> Result<(), StoreError> {
        for (_, digest, _) in doomed {
            let Ok(digest) = digest.parse::<Digest>() else {
                continue;
            };
            self.remove_blob_file(&digest, report)?;
        }
        Ok(())
    }

    /// Deletes abandoned partial downloads: unlocked, and untouched for [`INGEST_GRACE`].
    /// Not counted in the report, which is about blobs.
    fn sweep_stale_ingests(&self) -> Result<(), StoreError> {
        let dir = self.layout().ingest_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io("cannot list", &dir, e)),
        };
        for entry in entries.flatten() {
            let ingest = IngestDir::at(entry.path());
            let lock_path = ingest.lock();
            let data = ingest.data();
            let stale = fs::metadata(&data)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| SystemTime::now().duration_since(t).ok())
                .is_some_and(|age| age > INGEST_GRACE);
            if !stale {
                continue;
            }
            let Ok(lock) = fs::File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock_path)
            else {
                continue;
            };
            // Someone is writing it (or waiting to): leave it. Holding the lock while
            // removing is safe: a waiter notices its lock file was unlinked and starts over.
            if lock.try_lock().is_err() || !crate::ingest::same_file(&lock, &lock_path) {
                continue;
            }
            let _ = fs::remove_file(&data);
            let _ = fs::remove_file(&lock_path);
            let _ = fs::remove_dir(ingest.path());
        }
        Ok(())
    }

    pub(crate) fn remove_blob_file(
        &self,
        digest: &Digest,
        report: &mut GcReport,
    ) -> Result<(), StoreError> {
        let path = self.blob_path(digest);
        let len = match fs::symlink_metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io("cannot stat", &path, e)),
        };
        match fs::remove_file(&path) {
            Ok(()) => {
                report.removed.push(digest.clone());
                report.bytes += len;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io("cannot remove", &path, e)),
        }
    }

    /// Deletes the files in `blobs/` that have no row: a commit that crashed between rename
    /// and row insert, or a GC killed between its row deletes and its file deletes, left
    /// them. Called with the GC lock held exclusively, so no commit is between rename and
    /// insert: no process is about to record such a file, whatever its age (until this
    /// sweep, a pull of the same blob adopts the file instead of downloading it again).
    fn sweep_orphans(&self, report: &mut GcReport) -> Result<(), StoreError> {
        let known: HashSet<String> = db::all_blobs(&self.conn())?
            .into_iter()
            .map(|b| b.1)
            .collect();
        for alg in [oci::Algorithm::Sha256, oci::Algorithm::Sha512] {
            let dir = self.layout().blobs_dir_of(alg);
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("cannot list", &dir, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| StoreError::io("cannot list", &dir, e))?;
                let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let Ok(digest) = Digest::new(alg, &name) else {
                    continue;
                };
                if !known.contains(&digest.to_string()) {
                    self.remove_blob_file(&digest, report)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_reachable_lettered_nodes() {
        // a → b → c, b → d, e → f, g alone, h → h (cycle), i → j → i (cycle)
        let edges = |n: char| -> Vec<char> {
            match n {
                'a' => vec!['b'],
                'b' => vec!['c', 'd'],
                'e' => vec!['f'],
                'h' => vec!['h'],
                'i' => vec!['j'],
                'j' => vec!['i'],
                _ => vec![],
            }
        };
        for (roots, want) in [
            (&[][..], ""),
            (&['a'][..], "abcd"),
            (&['b'][..], "bcd"),
            (&['c'][..], "c"),
            (&['a', 'e'][..], "abcdef"),
            (&['g'][..], "g"),
            (&['h'][..], "h"),
            (&['j'][..], "ij"),
            (&['a', 'a', 'd'][..], "abcd"),
            (&['z'][..], "z"),
        ] {
            let mut got: Vec<char> = mark(roots, edges).into_iter().collect();
            got.sort();
            assert_eq!(got.into_iter().collect::<String>(), want, "roots {roots:?}");
        }
    }
}
