//! Layer snapshots: each layer unpacked once, by chain ID, and shared read-only as an
//! overlay lower directory by every container that needs it.
//!
//! ```text
//! <store>/snapshots/
//!   <chainID hex>/fs       the layer's own files, whiteouts in overlay form
//!   <chainID hex>/ready    written last, before the directory is renamed into place
//!   empty/                 the lower directory of an image with no layers
//!   locks/<hex>.lock       held exclusively by the one process unpacking that snapshot
//!   tmp/<hex>.<pid>.<n>/   a snapshot being unpacked (removed if left by a crash)
//! ```
//!
//! The paths come from [`store::Layout`]; the staging names (`<hex>.<pid>.<n>`) are
//! this module's own.
//!
//! Snapshots are made two ways, by the same code ([`unpack`]): `pull` unpacks layers while
//! they download ([`PullUnpacker`], fed the downloaded bytes), and [`prepare`] unpacks
//! whatever is still missing from the stored blobs when a container is made (images that
//! were loaded, copied, imported or built).

mod on_pull;
mod unpack;

use std::fs::{self, File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use oci::{Digest, Manifest};
use store::{ImageInfo, Layout, SnapshotDir, Store};

use crate::RuntimeError;

pub use on_pull::{LayerUnpack, PullUnpacker};

/// The chain IDs of a stack of layers, base first (OCI image spec): the first is the
/// first diffID; each next is `sha256(previous + " " + diffID)`.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    oci::chain_ids(diff_ids)
}

/// Makes sure every layer of `image` is unpacked and returns the overlay lower
/// directories, top layer first.
pub fn prepare(store: &Store, image: &ImageInfo) -> Result<Vec<PathBuf>, RuntimeError> {
    let name = image
        .tags
        .first()
        .cloned()
        .unwrap_or_else(|| image.id.to_string());
    let bad = |detail: String| RuntimeError::BadImage {
        image: name.clone(),
        detail,
    };
    let config = oci::ImageConfig::from_slice(&store.image_config(image)?)
        .map_err(|e| bad(e.to_string()))?;
    let manifest = Manifest::from_slice(&store.manifest_bytes(&image.manifest)?)
        .map_err(|e| bad(e.to_string()))?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(bad(format!(
            "the config lists {} layers, the manifest {}",
            diff_ids.len(),
            manifest.layers.len()
        )));
    }
    prepare_layers(store, diff_ids, &manifest.layers)
}

/// [`prepare`] for a stack of layers that is not (yet) a stored image, such as a build
/// stage: `diff_ids` and `layers` (the blobs) base first, as many of each.
pub fn prepare_layers(
    store: &Store,
    diff_ids: &[Digest],
    layers: &[oci::Descriptor],
) -> Result<Vec<PathBuf>, RuntimeError> {
    let layout = store.layout();
    if diff_ids.is_empty() {
        let empty = layout.empty_snapshot();
        fs::create_dir_all(&empty).map_err(|e| RuntimeError::io("create", &empty, e))?;
        return Ok(vec![empty]);
    }
    let chains = chain_ids(diff_ids);
    let mut lowers = Vec::with_capacity(chains.len());
    for (i, ((chain, diff_id), desc)) in chains.iter().zip(diff_ids).zip(layers).enumerate() {
        let id = Identity {
            chain: chain.clone(),
            parent: i.checked_sub(1).map(|p| chains[p].clone()),
            diff_id: diff_id.clone(),
            layer: desc.digest.clone(),
        };
        ensure(store, id)?;
        lowers.push(layout.snapshot(chain).fs());
    }
    lowers.reverse();
    Ok(lowers)
}

/// Removes the snapshots nothing keeps (the store's mark: no stored image, container,
/// lease or build-cache record needs them), and unpacks left by crashed processes.
/// Returns the chain IDs removed (hex). Each snapshot is removed under its lock, so an
/// unpack in progress is not disturbed.
pub fn prune(store: &Store) -> Result<Vec<String>, RuntimeError> {
    let report = store.prune_snapshots()?;
    reap_staging(store.layout());
    Ok(report.removed)
}

/// Removes the unpacks of processes that are gone (`tmp/<hex>.<pid>.<n>`): a pull or a
/// create killed mid-way. A live process's unpack is left alone.
fn reap_staging(layout: &Layout) {
    if let Ok(tmps) = fs::read_dir(layout.snapshot_staging_dir()) {
        for t in tmps.flatten() {
            let name = t.file_name().to_string_lossy().into_owned();
            let pid = name.split('.').nth(1).and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                let _ = fs::remove_dir_all(t.path());
            }
        }
    }
}

/// Which snapshot a layer makes: its chain ID, the chain below it, its diffID and the
/// layer blob it is unpacked from (what the store records of it).
#[derive(Debug, Clone)]
struct Identity {
    chain: Digest,
    parent: Option<Digest>,
    diff_id: Digest,
    layer: Digest,
}

/// Unpacks snapshot `id` from its layer blob unless it is there already.
fn ensure(store: &Store, id: Identity) -> Result<(), RuntimeError> {
    let Some(staging) = Staging::claim(store, id, true)? else {
        return Ok(());
    };
    let id = &staging.id;
    let file = store.open_blob(&id.layer)?;
    unpack::unpack(
        &staging.fs(),
        file,
        &id.diff_id,
        &id.layer,
        &store.blob_path(&id.layer),
    )?;
    staging.publish()
}

/// A snapshot being made: its lock held and its staging directory named. Dropped without
/// [`Staging::publish`], it removes what was staged; the lock goes with it.
struct Staging {
    _lock: File,
    store: Store,
    id: Identity,
    tmp: SnapshotDir,
    target: SnapshotDir,
    published: bool,
}

impl Staging {
    /// Takes snapshot `chain`'s lock, waiting for it when `wait` (else `None` when another
    /// process holds it), and names a staging directory; `None` when the snapshot is ready.
    fn claim(store: &Store, id: Identity, wait: bool) -> Result<Option<Staging>, RuntimeError> {
        let layout = store.layout();
        let chain = &id.chain;
        let target = layout.snapshot(chain);
        if target.ready().exists() {
            return Ok(None);
        }
        for p in [layout.snapshot_locks_dir(), layout.snapshot_staging_dir()] {
            fs::create_dir_all(&p).map_err(|e| RuntimeError::io("create", &p, e))?;
        }
        let lock_path = layout.snapshot_lock(chain);
        let lock =
            File::create(&lock_path).map_err(|e| RuntimeError::io("create", &lock_path, e))?;
        if wait {
            lock.lock()
                .map_err(|e| RuntimeError::io("lock", &lock_path, e))?;
        } else {
            match lock.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(e)) => {
                    return Err(RuntimeError::io("lock", &lock_path, e));
                }
            }
        }
        if target.ready().exists() {
            return Ok(None);
        }
        let path = target.path();
        if path.exists() {
            // No ready marker: the remains of a prune that crashed mid-way. Start again.
            fs::remove_dir_all(path).map_err(|e| RuntimeError::io("remove", path, e))?;
        }
        static SEQ: AtomicU64 = AtomicU64::new(0);
        let tmp = SnapshotDir::at(layout.snapshot_staging_dir().join(format!(
            "{}.{}.{}",
            chain.hex(),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        )));
        Ok(Some(Staging {
            _lock: lock,
            store: store.clone(),
            id,
            tmp,
            target,
            published: false,
        }))
    }

    /// Where the layer's files go.
    fn fs(&self) -> PathBuf {
        self.tmp.fs()
    }

    /// Marks the staged snapshot ready, records it with the store and renames it into
    /// place (a crash between the last two leaves a row without a directory, which the
    /// next prune forgets).
    fn publish(mut self) -> Result<(), RuntimeError> {
        let id = &self.id;
        let ready = self.tmp.ready();
        fs::write(&ready, id.diff_id.to_string())
            .map_err(|e| RuntimeError::io("write", &ready, e))?;
        self.store.register_snapshot(
            &id.chain,
            id.parent.as_ref(),
            &id.diff_id,
            Some(&id.layer),
        )?;
        let target = self.target.path();
        fs::rename(self.tmp.path(), target)
            .map_err(|e| RuntimeError::io("rename into place", target, e))?;
        self.published = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.published {
            let _ = fs::remove_dir_all(self.tmp.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .unwrap()
    }

    #[test]
    fn chain_ids_follow_the_image_spec() {
        let (a, b, c) = (d('a'), d('b'), d('c'));
        let ab = Digest::sha256_of(format!("{a} {b}").as_bytes());
        let abc = Digest::sha256_of(format!("{ab} {c}").as_bytes());
        for (input, want) in [
            (vec![], vec![]),
            (vec![a.clone()], vec![a.clone()]),
            (vec![a.clone(), b.clone()], vec![a.clone(), ab.clone()]),
            (
                vec![a.clone(), b.clone(), c.clone()],
                vec![a.clone(), ab.clone(), abc],
            ),
        ] {
            assert_eq!(chain_ids(&input), want);
        }
        // A known value: sha256("sha256:aaa… sha256:bbb…").
        assert_eq!(
            ab.hex(),
            "ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c"
        );
    }
}
