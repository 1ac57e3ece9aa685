//! The build cache: one record per step key, kept by the store as a row of its database
//! ([`Store::put_cache_record`]); the record's layer is a GC root while the row lives, and
//! `builder prune` removes rows and what only they kept.
//!
//! A record holds what the step added (its layer descriptor and diffID, or none for a
//! config-only step), its history entry, and the container config after the step, as JSON
//! the store does not read. A hit is only used when the layer blob is still in the store.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use oci::config::History;
use oci::{ContainerConfig, Descriptor, Digest};
use serde::{Deserialize, Serialize};
use store::{Layout, Lease, Store};

use crate::BuildError;

/// What one step produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheRecord {
    /// The layer the step added, if any.
    pub layer: Option<Descriptor>,
    /// Its diffID.
    pub diff_id: Option<Digest>,
    /// The step's history entry.
    pub history: History,
    /// The image's container config after the step.
    pub config: ContainerConfig,
}

/// The cache table of one store.
#[derive(Debug, Clone)]
pub struct Cache {
    layout: Layout,
}

/// Writes `bytes` to `path` through a temp file in the same directory, fsynced and
/// renamed into place.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| BuildError::io("create", dir, e))?;
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let res = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = res {
        let _ = fs::remove_file(&tmp);
        return Err(BuildError::io("write", path, e));
    }
    Ok(())
}

impl Cache {
    /// The cache of the store laid out as `layout`.
    pub fn open(layout: &Layout) -> Cache {
        Cache {
            layout: layout.clone(),
        }
    }

    /// The record for `key`, when there is one and its layer is still stored.
    ///
    /// The record's layer is added to `lease` *before* it is looked for: a layer found
    /// first and leased after could be collected by a concurrent prune in between, and
    /// the build would make an image without it.
    pub fn get(&self, store: &Store, lease: &Lease, key: &Digest) -> Option<CacheRecord> {
        let bytes = store.cache_record(key).ok()??;
        let rec: CacheRecord = serde_json::from_slice(&bytes).ok()?;
        if let Some(l) = &rec.layer
            && (lease.add(&l.digest).is_err() || !store.has_blob(&l.digest).unwrap_or(false))
        {
            return None;
        }
        Some(rec)
    }

    /// [`Cache::get`] of several keys, their layers added to `lease` in one transaction
    /// (a transaction a step made each cached build write a page or more of the
    /// database's log per step). Returns the usable records by key.
    pub fn get_all(
        &self,
        store: &Store,
        lease: &Lease,
        keys: &[&Digest],
    ) -> HashMap<Digest, CacheRecord> {
        let mut found = HashMap::new();
        for key in keys {
            if let Some(rec) = store
                .cache_record(key)
                .ok()
                .flatten()
                .and_then(|b| serde_json::from_slice::<CacheRecord>(&b).ok())
            {
                found.insert((*key).clone(), rec);
            }
        }
        let layers: Vec<Digest> = found
            .values()
            .filter_map(|r| r.layer.as_ref().map(|l| l.digest.clone()))
            .collect();
        if !layers.is_empty() && lease.add_all(&layers).is_err() {
            return HashMap::new();
        }
        found.retain(|_, r| {
            r.layer
                .as_ref()
                .is_none_or(|l| store.has_blob(&l.digest).unwrap_or(false))
        });
        found
    }

    /// Records what step `key` produced; its layer must be stored.
    pub fn put(&self, store: &Store, key: &Digest, rec: &CacheRecord) -> Result<(), BuildError> {
        let bytes = serde_json::to_vec(rec).unwrap_or_default();
        store.put_cache_record(key, rec.layer.as_ref().map(|l| &l.digest), &bytes)?;
        Ok(())
    }

    /// The file remembering the digests of the files of context `root` between builds.
    pub fn file_hashes_path(&self, root: &Path) -> PathBuf {
        self.layout.build_cache_context_hashes_of(root)
    }
}
