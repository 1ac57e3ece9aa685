//! The bytes under a store's root, each file counted once and attributed to its owner,
//! as `du -sbx` counts them: apparent sizes, directories included, a hard-linked inode
//! once, nothing on another file system (a running container's overlay mount).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Who a path under the root belongs to. The root's own names are [`crate::Layout`]'s.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// The root directory itself.
    Root,
    /// The metadata database's files.
    Db,
    /// `blobs/`.
    BlobsDir,
    /// `blobs/<algorithm>/`.
    BlobAlgorithm(String),
    /// One committed blob (`<algorithm>:<hex>`).
    Blob(String),
    /// `build-cache/` and everything in it.
    BuildCache,
    /// What is in `containers/` but no one container's.
    Containers,
    /// `runtime/`.
    RuntimeTop,
    /// What is in the OCI runtimes' directories (`runtime/<name>/…`): live containers' state.
    Runtime,
    /// One container's directory.
    Container(String),
    /// `volumes/` itself and what is in it but no one volume's.
    Volumes,
    /// One volume's directory.
    Volume(String),
    /// `snapshots/`.
    SnapshotsDir,
    /// One unpacked layer, `snapshots/<chain ID hex>/` (part of the images' space).
    Snapshot(String),
    /// Everything else: ingests, scratch, locks (part of the images' space).
    Other,
}

/// The owner of entry `name` in a directory owned by `parent`; `is_dir` says what the
/// entry is. Pure: the whole map of the root is this function.
pub(crate) fn owner(parent: &Owner, name: &str, is_dir: bool) -> Owner {
    match parent {
        Owner::Root => match name {
            "metadata.db" | "metadata.db-wal" | "metadata.db-shm" | "metadata.db-journal" => {
                Owner::Db
            }
            "blobs" => Owner::BlobsDir,
            "build-cache" => Owner::BuildCache,
            "containers" => Owner::Containers,
            "runtime" => Owner::RuntimeTop,
            "volumes" => Owner::Volumes,
            "snapshots" => Owner::SnapshotsDir,
            _ => Owner::Other,
        },
        Owner::SnapshotsDir if is_dir && is_hex64(name) => Owner::Snapshot(name.into()),
        Owner::SnapshotsDir => Owner::Other,
        Owner::BlobsDir if is_dir => Owner::BlobAlgorithm(name.to_string()),
        Owner::BlobAlgorithm(alg) if !is_dir => Owner::Blob(format!("{alg}:{name}")),
        Owner::Containers if is_dir && !name.starts_with('.') => Owner::Container(name.into()),
        Owner::Volumes if is_dir && !name.starts_with('.') => Owner::Volume(name.into()),
        Owner::RuntimeTop | Owner::Runtime => Owner::Runtime,
        Owner::BlobsDir | Owner::BlobAlgorithm(_) => Owner::Other,
        other => other.clone(),
    }
}

/// Whether `name` is 64 hex digits (a SHA-256 in hex: a chain ID, a step key).
pub(crate) fn is_hex64(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The bytes under a root, by owner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RootSpace {
    /// The database's files.
    pub db: u64,
    /// Each blob file, by digest string.
    pub blobs: HashMap<String, u64>,
    /// `build-cache/`.
    pub build_cache: u64,
    /// Each container's directory, by ID.
    pub containers: BTreeMap<String, u64>,
    /// What is in `containers/` beyond the containers' own directories, and the OCI
    /// runtimes' state of live containers.
    pub containers_shared: u64,
    /// Each volume's directory, by name.
    pub volumes: BTreeMap<String, u64>,
    /// `volumes/` beyond the volumes' own directories.
    pub volumes_shared: u64,
    /// Each unpacked layer, by chain ID hex.
    pub snapshots: HashMap<String, u64>,
    /// Everything else, the root directory included.
    pub other: u64,
}

impl RootSpace {
    fn add(&mut self, owner: &Owner, bytes: u64) {
        match owner {
            Owner::Db => self.db += bytes,
            Owner::Blob(d) => *self.blobs.entry(d.clone()).or_default() += bytes,
            Owner::BuildCache => self.build_cache += bytes,
            Owner::Container(id) => *self.containers.entry(id.clone()).or_default() += bytes,
            Owner::Containers | Owner::Runtime => self.containers_shared += bytes,
            Owner::Volume(n) => *self.volumes.entry(n.clone()).or_default() += bytes,
            Owner::Volumes => self.volumes_shared += bytes,
            Owner::Snapshot(c) => *self.snapshots.entry(c.clone()).or_default() += bytes,
            Owner::Root
            | Owner::BlobsDir
            | Owner::BlobAlgorithm(_)
            | Owner::RuntimeTop
            | Owner::SnapshotsDir
            | Owner::Other => self.other += bytes,
        }
    }

    /// Every byte counted.
    #[cfg(test)]
    pub fn total(&self) -> u64 {
        self.db
            + self.blobs.values().sum::<u64>()
            + self.build_cache
            + self.containers.values().sum::<u64>()
            + self.containers_shared
            + self.volumes.values().sum::<u64>()
            + self.volumes_shared
            + self.snapshots.values().sum::<u64>()
            + self.other
    }
}

/// Walks `dir` (owned by `parent`), calling `count` with each inode's owner and apparent
/// size once. Entries that vanish while it walks (a concurrent prune) are skipped.
fn walk(
    dir: &Path,
    parent: &Owner,
    dev: u64,
    seen: &mut HashSet<(u64, u64)>,
    count: &mut dyn FnMut(&Owner, u64),
) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(meta) = entry.metadata() else { continue };
        if meta.dev() != dev {
            continue;
        }
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        let name = entry.file_name();
        let child = owner(parent, &name.to_string_lossy(), meta.is_dir());
        // The directories that are the root's frame (`containers/`, `build-cache/`,
        // `runtime/runc/`) are the store's, not their contents': an empty build cache
        // or no container then counts 0 bytes, as Docker prints it.
        let frame = meta.is_dir() && matches!(parent, Owner::Root | Owner::RuntimeTop);
        count(if frame { &Owner::Other } else { &child }, meta.len());
        if meta.is_dir() {
            walk(&entry.path(), &child, dev, seen, count);
        }
    }
}

/// The bytes under `root`, by owner.
pub(crate) fn measure(root: &Path) -> RootSpace {
    let mut space = RootSpace::default();
    let Ok(meta) = fs::symlink_metadata(root) else {
        return space;
    };
    space.add(&Owner::Root, meta.len());
    let mut seen = HashSet::new();
    walk(root, &Owner::Root, meta.dev(), &mut seen, &mut |o, b| {
        space.add(o, b)
    });
    space
}

/// The apparent size of `path` and everything under it, as `du -sbx` counts it.
pub(crate) fn apparent_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    let mut total = meta.len();
    if meta.is_dir() {
        walk(
            path,
            &Owner::Other,
            meta.dev(),
            &mut HashSet::new(),
            &mut |_, b| total += b,
        );
    }
    total
}

/// Removes `path` (a file or a whole tree) and returns the bytes it held.
pub(crate) fn remove_tree(path: &PathBuf) -> Result<u64, crate::StoreError> {
    let bytes = apparent_size(path);
    let gone = match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => return Ok(0),
    };
    match gone {
        Ok(()) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(crate::StoreError::io("cannot remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_under_the_root_has_its_owner() {
        let c = |s: &str| Owner::Container(s.into());
        for (parent, name, is_dir, want) in [
            (Owner::Root, "metadata.db", false, Owner::Db),
            (Owner::Root, "metadata.db-wal", false, Owner::Db),
            (Owner::Root, "metadata.db-shm", false, Owner::Db),
            (Owner::Root, "blobs", true, Owner::BlobsDir),
            (
                Owner::BlobsDir,
                "sha256",
                true,
                Owner::BlobAlgorithm("sha256".into()),
            ),
            (
                Owner::BlobAlgorithm("sha256".into()),
                "ab",
                false,
                Owner::Blob("sha256:ab".into()),
            ),
            (
                Owner::BlobAlgorithm("sha256".into()),
                "d",
                true,
                Owner::Other,
            ),
            (Owner::BlobsDir, "stray", false, Owner::Other),
            (Owner::Root, "build-cache", true, Owner::BuildCache),
            (Owner::BuildCache, "mounts", true, Owner::BuildCache),
            (Owner::Root, "containers", true, Owner::Containers),
            (Owner::Root, "runtime", true, Owner::RuntimeTop),
            (Owner::RuntimeTop, "runc", true, Owner::Runtime),
            (Owner::Runtime, "abc", true, Owner::Runtime),
            (Owner::Containers, "abc", true, c("abc")),
            (Owner::Containers, ".names.lock", false, Owner::Containers),
            (Owner::Containers, ".creating-x", true, Owner::Containers),
            (c("abc"), "upper", true, c("abc")),
            (Owner::Root, "volumes", true, Owner::Volumes),
            (Owner::Volumes, "v1", true, Owner::Volume("v1".into())),
            (
                Owner::Volume("v1".into()),
                "_data",
                true,
                Owner::Volume("v1".into()),
            ),
            (Owner::Root, "snapshots", true, Owner::SnapshotsDir),
            (
                Owner::SnapshotsDir,
                &"c".repeat(64),
                true,
                Owner::Snapshot("c".repeat(64)),
            ),
            (
                Owner::Snapshot("c".repeat(64)),
                "fs",
                true,
                Owner::Snapshot("c".repeat(64)),
            ),
            (Owner::SnapshotsDir, "locks", true, Owner::Other),
            (Owner::SnapshotsDir, "empty", true, Owner::Other),
            (Owner::Root, "ingest", true, Owner::Other),
            (Owner::Root, "tmp", true, Owner::Other),
            (Owner::Root, "locks", true, Owner::Other),
            (Owner::Other, "x", false, Owner::Other),
        ] {
            assert_eq!(owner(&parent, name, is_dir), want, "{parent:?} / {name}");
        }
    }

    /// The walk counts what `du -sb` counts: every directory, every file once (a hard
    /// link twice is one inode), symlinks by their own size.
    #[test]
    fn measure_agrees_with_du() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("blobs/sha256")).unwrap();
        fs::write(root.join("blobs/sha256/aa"), vec![1u8; 1000]).unwrap();
        fs::create_dir_all(root.join("containers/c1/upper/d")).unwrap();
        fs::write(root.join("containers/c1/upper/d/f"), b"hello").unwrap();
        fs::hard_link(
            root.join("containers/c1/upper/d/f"),
            root.join("containers/c1/upper/g"),
        )
        .unwrap();
        std::os::unix::fs::symlink("target/far/away", root.join("containers/c1/l")).unwrap();
        fs::create_dir_all(root.join("volumes/v/_data")).unwrap();
        fs::write(root.join("volumes/v/_data/x"), vec![0u8; 77]).unwrap();
        fs::write(root.join("metadata.db"), vec![0u8; 4096]).unwrap();
        fs::create_dir_all(root.join("build-cache/nodes")).unwrap();
        fs::write(root.join("build-cache/nodes/n"), b"[]").unwrap();
        fs::create_dir_all(root.join("snapshots/s/fs")).unwrap();
        fs::create_dir_all(root.join("snapshots").join("e".repeat(64)).join("fs")).unwrap();
        fs::write(
            root.join("snapshots").join("e".repeat(64)).join("fs/f"),
            b"abc",
        )
        .unwrap();
        let du = std::process::Command::new("du")
            .arg("-sb")
            .arg(root)
            .output()
            .expect("du runs");
        let du: u64 = String::from_utf8_lossy(&du.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let space = measure(root);
        assert_eq!(space.total(), du, "{space:?}");
        assert_eq!(space.blobs["sha256:aa"], 1000);
        assert_eq!(space.db, 4096);
        assert_eq!(
            space.snapshots[&"e".repeat(64)],
            apparent_size(&root.join("snapshots").join("e".repeat(64)))
        );
        let frame = fs::metadata(root.join("build-cache")).unwrap().len();
        assert_eq!(
            apparent_size(&root.join("volumes")),
            space.volumes["v"] + space.volumes_shared + frame
        );
        assert_eq!(
            apparent_size(&root.join("build-cache")),
            space.build_cache + frame
        );
    }
}
