//! The on-disk layout of a store's root: the one place that knows the names of its files
//! and directories. Every crate that keeps something under the root (the store itself,
//! the runtime's snapshots, containers and volumes, the build cache, the CLI) asks a
//! [`Layout`] for the path instead of joining names by hand.
//!
//! ```text
//! <root>/
//!   metadata.db                 the metadata database (store)
//!   locks/gc                    the GC lock (store)
//!   blobs/<algorithm>/<hex>     committed content (store)
//!   ingest/<hex>/{lock,data,oneshot}   blobs being written (store)
//!   ingest/anon-<pid>-<n>/{lock,data}  blobs being written, digest not yet known (store)
//!   tmp/                        scratch files and directories of builds, commits, exports
//!   snapshots/<chainID hex>/{fs,ready}   unpacked layers (runtime)
//!   snapshots/empty/            the lower directory of an image with no layers (runtime)
//!   snapshots/locks/<hex>.lock  one unpacker per snapshot (runtime)
//!   snapshots/tmp/              snapshots being unpacked (runtime)
//!   containers/<id>/            one container's records, bundle and layer (runtime)
//!   containers/.names.lock      serialises name checks (runtime)
//!   volumes/<name>/             one local volume (runtime)
//!   runtime/<name>/             the OCI runtime's own state, its `--root` (runc, crun)
//!   build-cache/                the build cache's records and memos (build)
//!   registry/                   `strata registry serve`'s default storage (CLI)
//!   manifests/<list>/<image>    local manifest lists of `strata manifest create` (CLI)
//! ```
//!
//! These names are what stores already on users' disks contain: renaming one orphans
//! their content. The table test in this module pins every one of them.
//!
//! What lies *inside* a container's or a volume's directory is its owner's record
//! (the runtime's `ContainerDir`, `volume.json`); the staging names of what is made
//! under a temporary name and renamed into place (`containers/.creating-…`,
//! `snapshots/tmp/<hex>.<pid>.<n>`, `tmp/build-…`) belong to the code that makes them.

use std::path::{Path, PathBuf};

use oci::Digest;

/// The paths under a store's root. Cheap to clone; it touches no file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout of the store rooted at `root` (for code that has the path and no
    /// [`crate::Store`]; a store's own is [`crate::Store::layout`]).
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `metadata.db`: the SQLite database (WAL mode, so `-wal` and `-shm` files lie next
    /// to it) of blobs, edges, images, tags and leases. Written by the store.
    pub fn db_file(&self) -> PathBuf {
        self.root.join("metadata.db")
    }

    /// The database's files: `metadata.db` and SQLite's `-wal`, `-shm` and `-journal`
    /// beside it (`system df` reports them on a line of their own).
    pub fn db_files(&self) -> [PathBuf; 4] {
        let db = self.db_file();
        let with = |suffix: &str| {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            PathBuf::from(name)
        };
        [db.clone(), with("-wal"), with("-shm"), with("-journal")]
    }

    /// `locks/`: the store's lock files. Made by [`crate::Store::open`].
    pub fn locks_dir(&self) -> PathBuf {
        self.root.join("locks")
    }

    /// `locks/gc`: held shared by a blob commit (rename + row insert), exclusively by a
    /// GC sweep.
    pub fn gc_lock(&self) -> PathBuf {
        self.locks_dir().join("gc")
    }

    /// `blobs/`: committed content, one directory per digest algorithm. Written by the
    /// store only, by rename after verification.
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs")
    }

    /// `blobs/<algorithm>/`: the committed blobs of one digest algorithm.
    pub fn blobs_dir_of(&self, algorithm: oci::Algorithm) -> PathBuf {
        self.blobs_dir().join(algorithm.name())
    }

    /// `blobs/<algorithm>/<hex>`: where a blob's file is (or would be).
    pub fn blob(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir_of(digest.algorithm()).join(digest.hex())
    }

    /// `ingest/`: blobs being written, one directory each. Written by the store's
    /// `Ingest`; swept by GC and by the reaper of killed builds.
    pub fn ingest_dir(&self) -> PathBuf {
        self.root.join("ingest")
    }

    /// `ingest/<hex>/`: the ingest of one blob.
    pub fn ingest(&self, digest: &Digest) -> IngestDir {
        IngestDir(self.ingest_dir().join(digest.hex()))
    }

    /// `ingest/anon-<pid>-<n>/`: the `n`-th blob process `pid` writes without knowing its
    /// digest in advance (a layer being made). Never resumed.
    pub fn anonymous_ingest(&self, pid: u32, n: u64) -> IngestDir {
        IngestDir(
            self.ingest_dir()
                .join(format!("{ANONYMOUS_INGEST_PREFIX}{pid}-{n}")),
        )
    }

    /// `tmp/`: scratch space on the store's filesystem (so results can be renamed or
    /// ingested without a copy across filesystems): a build's `build-<pid>-<n>/`, a
    /// commit's layer, an export's root filesystem. Each user names and removes its own.
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Where anonymous spool files (opened with `O_TMPFILE` or unlinked at once) go: the
    /// root itself, which always exists and lies on the store's filesystem.
    pub fn spool_dir(&self) -> PathBuf {
        self.root.clone()
    }

    /// `snapshots/`: layers unpacked once, by chain ID, shared read-only as overlay lower
    /// directories. Written by the runtime.
    pub fn snapshots_dir(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    /// `snapshots/<chainID hex>/`: the snapshot of a layer stack.
    pub fn snapshot(&self, chain_id: &Digest) -> SnapshotDir {
        SnapshotDir(self.snapshots_dir().join(chain_id.hex()))
    }

    /// `snapshots/empty/`: the lower directory of an image with no layers.
    pub fn empty_snapshot(&self) -> PathBuf {
        self.snapshots_dir().join("empty")
    }

    /// `snapshots/locks/`: one lock file per snapshot, held by its unpacker (and by a
    /// prune removing it). Lock files are never removed: a process may wait on one.
    pub fn snapshot_locks_dir(&self) -> PathBuf {
        self.snapshots_dir().join("locks")
    }

    /// `snapshots/locks/<chainID hex>.lock`.
    pub fn snapshot_lock(&self, chain_id: &Digest) -> PathBuf {
        self.snapshot_lock_named(chain_id.hex())
    }

    /// `snapshots/locks/<name>.lock`, for a snapshot known by its directory's name.
    pub fn snapshot_lock_named(&self, name: &str) -> PathBuf {
        self.snapshot_locks_dir().join(format!("{name}.lock"))
    }

    /// `snapshots/tmp/`: snapshots being unpacked, renamed into place when complete;
    /// what a crashed unpacker left is removed by the runtime's snapshot prune.
    pub fn snapshot_staging_dir(&self) -> PathBuf {
        self.snapshots_dir().join("tmp")
    }

    /// `containers/`: one directory per container (and staging directories of creates in
    /// progress, whose names begin with a dot). Written by the runtime.
    pub fn containers_dir(&self) -> PathBuf {
        self.root.join("containers")
    }

    /// `containers/<id>/`: a container's records, OCI bundle, overlay layer and logs.
    pub fn container(&self, id: &str) -> PathBuf {
        self.containers_dir().join(id)
    }

    /// `containers/.names.lock`: held while a container name is checked and taken, so
    /// two creates cannot take the same name.
    pub fn container_names_lock(&self) -> PathBuf {
        self.containers_dir().join(".names.lock")
    }

    /// `volumes/`: local volumes, one directory each. Written by the runtime.
    pub fn volumes_dir(&self) -> PathBuf {
        self.root.join("volumes")
    }

    /// `volumes/<name>/`: a volume's record and its data.
    pub fn volume(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name)
    }

    /// `runtime/<name>/`: the state directory of OCI runtime `name` (its `--root`),
    /// written by runc or crun themselves.
    pub fn oci_runtime_state_dir(&self, name: &str) -> PathBuf {
        self.oci_runtimes_dir().join(name)
    }

    /// `runtime/`: the OCI runtimes' state directories.
    pub fn oci_runtimes_dir(&self) -> PathBuf {
        self.root.join("runtime")
    }

    /// `build-cache/`: the build cache. Written by the build.
    pub fn build_cache_dir(&self) -> PathBuf {
        self.root.join("build-cache")
    }

    /// `build-cache/<key hex>`: where strata before schema 3 kept the record of a cached
    /// build step, as a JSON file. Records are rows of the database now; such files are
    /// only read to be pruned.
    pub fn build_cache_record(&self, key: &Digest) -> PathBuf {
        self.build_cache_dir().join(key.hex())
    }

    /// `build-cache/context-hashes.json`: an older strata's table of context file digests
    /// (of every context at once); no build reads it, a dangling `builder prune` removes it.
    pub fn build_cache_context_hashes(&self) -> PathBuf {
        self.build_cache_dir().join("context-hashes.json")
    }

    /// `build-cache/context-hashes-<id>.bin`: the content digests of the files of one build
    /// context, by path, size and modification time, so unchanged files are not hashed
    /// again; `<id>` is 32 hex digits of the SHA-256 of the context's root path.
    pub fn build_cache_context_hashes_of(&self, context_root: &Path) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        let id = Digest::sha256_of(context_root.as_os_str().as_bytes());
        self.build_cache_dir()
            .join(format!("context-hashes-{}.bin", &id.hex()[..32]))
    }

    /// `build-cache/steps/<hex>`: the inputs of the last build of one step of one
    /// Dockerfile (by `hex`, a digest of where the step is), to explain a cache miss.
    pub fn build_cache_step_inputs(&self, hex: &str) -> PathBuf {
        self.build_cache_dir().join("steps").join(hex)
    }

    /// `build-cache/nodes/<layer hex>`: the entries of one layer, read once and
    /// remembered for later builds.
    pub fn build_cache_layer_nodes(&self, layer: &Digest) -> PathBuf {
        self.build_cache_dir().join("nodes").join(layer.hex())
    }

    /// `build-cache/mounts/<hex>`: a `RUN --mount=type=cache` directory (by `hex`, a
    /// digest of its id), kept between builds.
    pub fn build_cache_mount(&self, hex: &str) -> PathBuf {
        self.build_cache_mounts_dir().join(hex)
    }

    /// `build-cache/mounts/`: every `RUN --mount=type=cache` directory.
    pub fn build_cache_mounts_dir(&self) -> PathBuf {
        self.build_cache_dir().join("mounts")
    }

    /// `registry/`: where `strata registry serve` keeps its repositories when given no
    /// other storage.
    pub fn registry_dir(&self) -> PathBuf {
        self.root.join("registry")
    }

    /// `scan/osv.db`: the offline vulnerability database (`strata scan db import`).
    pub fn vulnerability_db(&self) -> PathBuf {
        self.root.join("scan").join("osv.db")
    }

    /// `signatures/`: the signatures of pulled and loaded images (an OCI image layout
    /// holding their `sha256-<hex>.sig` manifests and sigstore bundles), pushed with them.
    pub fn signatures_dir(&self) -> PathBuf {
        self.root.join("signatures")
    }

    /// `manifests/`: the local manifest lists of `strata manifest create` (Docker keeps
    /// them in `~/.docker/manifests/`), one directory per list, one file per image.
    pub fn manifest_lists_dir(&self) -> PathBuf {
        self.root.join("manifests")
    }
}

/// How the name of an anonymous ingest directory begins (no digest's hex does).
const ANONYMOUS_INGEST_PREFIX: &str = "anon-";

/// The directory of one blob's ingest, `ingest/<hex>/`, or of an anonymous write,
/// `ingest/anon-<pid>-<n>/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestDir(PathBuf);

impl IngestDir {
    /// The ingest directory at `path`, one listed under [`Layout::ingest_dir`].
    pub fn at(path: PathBuf) -> IngestDir {
        IngestDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Whether this is an anonymous write's directory (see [`Layout::anonymous_ingest`]).
    pub fn is_anonymous(&self) -> bool {
        self.0
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(ANONYMOUS_INGEST_PREFIX))
    }

    /// `lock`: held exclusively by the one writer of the blob.
    pub fn lock(&self) -> PathBuf {
        self.0.join("lock")
    }

    /// `data`: the content written so far; resumed after a crash or an interruption.
    pub fn data(&self) -> PathBuf {
        self.0.join("data")
    }

    /// `oneshot`: marks a blob written whole from memory, which nobody resumes.
    pub fn oneshot(&self) -> PathBuf {
        self.0.join("oneshot")
    }
}

/// The directory of one snapshot, `snapshots/<chainID hex>/`, or of one being unpacked
/// (its contents are the same, and it is renamed into place whole).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotDir(PathBuf);

impl SnapshotDir {
    /// The snapshot directory at `path`: one listed under [`Layout::snapshots_dir`], or
    /// one being unpacked under [`Layout::snapshot_staging_dir`].
    pub fn at(path: PathBuf) -> SnapshotDir {
        SnapshotDir(path)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `fs`: the layer's own files, whiteouts in overlay form: the overlay lower directory.
    pub fn fs(&self) -> PathBuf {
        self.0.join("fs")
    }

    /// `ready`: written last (it holds the diffID), before the directory is renamed into
    /// place; a snapshot without it is incomplete.
    pub fn ready(&self) -> PathBuf {
        self.0.join("ready")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names on disk: existing stores hold exactly these. Changing one is a format
    /// change that needs a migration, not a refactor.
    #[test]
    fn on_disk_names_are_pinned() {
        let l = Layout::new("/s");
        let sha256: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        let sha512: Digest = format!("sha512:{}", "b".repeat(128)).parse().unwrap();
        let a = "a".repeat(64);
        let b = "b".repeat(128);
        let p = |s: &str| PathBuf::from(s);
        let table: Vec<(&str, PathBuf, PathBuf)> = vec![
            ("root", l.root().to_path_buf(), p("/s")),
            ("db_file", l.db_file(), p("/s/metadata.db")),
            ("locks_dir", l.locks_dir(), p("/s/locks")),
            ("gc_lock", l.gc_lock(), p("/s/locks/gc")),
            ("blobs_dir", l.blobs_dir(), p("/s/blobs")),
            (
                "blobs_dir_of sha256",
                l.blobs_dir_of(oci::Algorithm::Sha256),
                p("/s/blobs/sha256"),
            ),
            (
                "blobs_dir_of sha512",
                l.blobs_dir_of(oci::Algorithm::Sha512),
                p("/s/blobs/sha512"),
            ),
            (
                "blob sha256",
                l.blob(&sha256),
                p(&format!("/s/blobs/sha256/{a}")),
            ),
            (
                "blob sha512",
                l.blob(&sha512),
                p(&format!("/s/blobs/sha512/{b}")),
            ),
            ("ingest_dir", l.ingest_dir(), p("/s/ingest")),
            (
                "ingest",
                l.ingest(&sha256).path().to_path_buf(),
                p(&format!("/s/ingest/{a}")),
            ),
            (
                "ingest lock",
                l.ingest(&sha256).lock(),
                p(&format!("/s/ingest/{a}/lock")),
            ),
            (
                "ingest data",
                l.ingest(&sha256).data(),
                p(&format!("/s/ingest/{a}/data")),
            ),
            (
                "ingest oneshot",
                l.ingest(&sha512).oneshot(),
                p(&format!("/s/ingest/{b}/oneshot")),
            ),
            (
                "anonymous_ingest",
                l.anonymous_ingest(12, 3).path().to_path_buf(),
                p("/s/ingest/anon-12-3"),
            ),
            (
                "anonymous_ingest data",
                l.anonymous_ingest(12, 3).data(),
                p("/s/ingest/anon-12-3/data"),
            ),
            ("tmp_dir", l.tmp_dir(), p("/s/tmp")),
            ("spool_dir", l.spool_dir(), p("/s")),
            ("snapshots_dir", l.snapshots_dir(), p("/s/snapshots")),
            (
                "snapshot",
                l.snapshot(&sha256).path().to_path_buf(),
                p(&format!("/s/snapshots/{a}")),
            ),
            (
                "snapshot fs",
                l.snapshot(&sha256).fs(),
                p(&format!("/s/snapshots/{a}/fs")),
            ),
            (
                "snapshot ready",
                l.snapshot(&sha256).ready(),
                p(&format!("/s/snapshots/{a}/ready")),
            ),
            (
                "empty_snapshot",
                l.empty_snapshot(),
                p("/s/snapshots/empty"),
            ),
            (
                "snapshot_locks_dir",
                l.snapshot_locks_dir(),
                p("/s/snapshots/locks"),
            ),
            (
                "snapshot_lock",
                l.snapshot_lock(&sha256),
                p(&format!("/s/snapshots/locks/{a}.lock")),
            ),
            (
                "snapshot_lock_named",
                l.snapshot_lock_named("x"),
                p("/s/snapshots/locks/x.lock"),
            ),
            (
                "snapshot_staging_dir",
                l.snapshot_staging_dir(),
                p("/s/snapshots/tmp"),
            ),
            ("containers_dir", l.containers_dir(), p("/s/containers")),
            ("container", l.container("c1"), p("/s/containers/c1")),
            (
                "container_names_lock",
                l.container_names_lock(),
                p("/s/containers/.names.lock"),
            ),
            ("volumes_dir", l.volumes_dir(), p("/s/volumes")),
            ("volume", l.volume("v1"), p("/s/volumes/v1")),
            (
                "oci_runtime_state_dir",
                l.oci_runtime_state_dir("runc"),
                p("/s/runtime/runc"),
            ),
            ("oci_runtimes_dir", l.oci_runtimes_dir(), p("/s/runtime")),
            ("build_cache_dir", l.build_cache_dir(), p("/s/build-cache")),
            (
                "build_cache_mounts_dir",
                l.build_cache_mounts_dir(),
                p("/s/build-cache/mounts"),
            ),
            ("db_wal", l.db_files()[1].clone(), p("/s/metadata.db-wal")),
            ("db_shm", l.db_files()[2].clone(), p("/s/metadata.db-shm")),
            (
                "build_cache_record",
                l.build_cache_record(&sha256),
                p(&format!("/s/build-cache/{a}")),
            ),
            (
                "build_cache_context_hashes",
                l.build_cache_context_hashes(),
                p("/s/build-cache/context-hashes.json"),
            ),
            (
                "build_cache_context_hashes_of",
                l.build_cache_context_hashes_of(Path::new("/ctx")),
                p(&format!(
                    "/s/build-cache/context-hashes-{}.bin",
                    &Digest::sha256_of(b"/ctx").hex()[..32]
                )),
            ),
            (
                "build_cache_step_inputs",
                l.build_cache_step_inputs("f0"),
                p("/s/build-cache/steps/f0"),
            ),
            (
                "build_cache_layer_nodes",
                l.build_cache_layer_nodes(&sha256),
                p(&format!("/s/build-cache/nodes/{a}")),
            ),
            (
                "build_cache_mount",
                l.build_cache_mount("f1"),
                p("/s/build-cache/mounts/f1"),
            ),
            ("registry_dir", l.registry_dir(), p("/s/registry")),
            ("signatures_dir", l.signatures_dir(), p("/s/signatures")),
            (
                "vulnerability_db",
                l.vulnerability_db(),
                p("/s/scan/osv.db"),
            ),
            (
                "manifest_lists_dir",
                l.manifest_lists_dir(),
                p("/s/manifests"),
            ),
        ];
        for (what, got, want) in table {
            assert_eq!(got, want, "{what}");
        }
    }

    #[test]
    fn listed_directories_name_the_same_files() {
        let l = Layout::new("/s");
        let d: Digest = format!("sha256:{}", "c".repeat(64)).parse().unwrap();
        let listed = IngestDir::at(l.ingest_dir().join(d.hex()));
        assert_eq!(listed, l.ingest(&d));
        assert!(!listed.is_anonymous());
        let listed = IngestDir::at(l.ingest_dir().join("anon-7-0"));
        assert_eq!(listed, l.anonymous_ingest(7, 0));
        assert!(listed.is_anonymous());
        let listed = SnapshotDir::at(l.snapshots_dir().join(d.hex()));
        assert_eq!(listed, l.snapshot(&d));
    }
}
