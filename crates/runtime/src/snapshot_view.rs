//! A layer stack's merged filesystem as one ordinary directory tree, made of hard links
//! into its snapshots: what `COPY --from` and `RUN --mount=from=` read. The snapshots are
//! made once and kept (see [`crate::snapshot`]); the view costs one link per file
//! instead of decompressing and writing every layer again, and it needs no mount (so it
//! outlives no process that made it).
//!
//! The view is read-only by contract: its files are the snapshots' own inodes (a write
//! would change the snapshot). Its directories are its own, with the metadata of the
//! topmost layer that has them. Overlay whiteouts (character devices 0/0) remove what
//! lower layers have; a directory marked opaque hides what lower layers have inside it.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use oci::{Descriptor, Digest};
use rustix::fs::{self as rfs, AtFlags, Mode, Timespec, Timestamps, XattrFlags};
use store::Store;

use crate::RuntimeError;

const OPAQUE: &str = "trusted.overlay.opaque";

/// Makes `dest` (a new directory) the merged view of the layers `layers` with diffIDs
/// `diff_ids` (base first), unpacking the snapshots that are missing. A concurrent
/// `image prune` cannot take a snapshot while it is linked from (its lock is held shared);
/// one taken between preparing and locking is prepared again.
pub fn link_merged(
    store: &Store,
    diff_ids: &[Digest],
    layers: &[Descriptor],
    dest: &Path,
) -> Result<(), RuntimeError> {
    let layout = store.layout();
    let chains = oci::chain_ids(diff_ids);
    for _ in 0..3 {
        let mut lowers = crate::snapshot::prepare_layers(store, diff_ids, layers)?;
        lowers.reverse();
        let mut locks = Vec::with_capacity(chains.len());
        for chain in &chains {
            let path = layout.snapshot_lock(chain);
            let lock = File::create(&path).map_err(|e| RuntimeError::io("create", &path, e))?;
            lock.lock_shared()
                .map_err(|e| RuntimeError::io("lock", &path, e))?;
            locks.push(lock);
        }
        if chains.iter().all(|c| layout.snapshot(c).ready().exists()) {
            fs::create_dir_all(dest).map_err(|e| RuntimeError::io("create", dest, e))?;
            return merge(&lowers, dest);
        }
    }
    Err(RuntimeError::io(
        "keep the snapshots of",
        dest,
        io::Error::other("they were removed three times while being prepared (a prune loop?)"),
    ))
}

/// Links the trees `lowers` (base first) into `dest`, then gives each directory its
/// metadata (last: linking into a directory changes its times).
pub fn merge(lowers: &[PathBuf], dest: &Path) -> Result<(), RuntimeError> {
    let mut dirs: BTreeMap<PathBuf, PathBuf> = BTreeMap::new();
    for lower in lowers {
        dirs.insert(PathBuf::new(), lower.clone());
        merge_dir(lower, dest, Path::new(""), &mut dirs)?;
    }
    for (rel, src) in dirs.iter().rev() {
        copy_dir_metadata(src, &dest.join(rel))?;
    }
    Ok(())
}

fn is_whiteout(meta: &fs::Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn is_opaque(dir: &Path) -> bool {
    let mut buf = [0u8; 4];
    matches!(rfs::lgetxattr(dir, OPAQUE, &mut buf), Ok(1) if buf[0] == b'y')
}

/// Removes `path` (anything) from the view, and the directories under it from `dirs`.
fn remove(
    path: &Path,
    rel: &Path,
    dirs: &mut BTreeMap<PathBuf, PathBuf>,
) -> Result<(), RuntimeError> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            fs::remove_dir_all(path).map_err(|e| RuntimeError::io("remove", path, e))?;
            dirs.retain(|k, _| !k.starts_with(rel));
        }
        Ok(_) => fs::remove_file(path).map_err(|e| RuntimeError::io("remove", path, e))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(RuntimeError::io("stat", path, e)),
    }
    Ok(())
}

fn merge_dir(
    lower: &Path,
    dest: &Path,
    rel: &Path,
    dirs: &mut BTreeMap<PathBuf, PathBuf>,
) -> Result<(), RuntimeError> {
    let src_dir = lower.join(rel);
    if !rel.as_os_str().is_empty() && is_opaque(&src_dir) {
        let dst_dir = dest.join(rel);
        for e in fs::read_dir(&dst_dir).map_err(|e| RuntimeError::io("list", &dst_dir, e))? {
            let e = e.map_err(|e| RuntimeError::io("list", &dst_dir, e))?;
            remove(&e.path(), &rel.join(e.file_name()), dirs)?;
        }
    }
    for entry in fs::read_dir(&src_dir).map_err(|e| RuntimeError::io("list", &src_dir, e))? {
        let entry = entry.map_err(|e| RuntimeError::io("list", &src_dir, e))?;
        let child = rel.join(entry.file_name());
        let src = entry.path();
        let dst = dest.join(&child);
        let meta = fs::symlink_metadata(&src).map_err(|e| RuntimeError::io("stat", &src, e))?;
        if is_whiteout(&meta) {
            remove(&dst, &child, dirs)?;
        } else if meta.is_dir() {
            match fs::symlink_metadata(&dst) {
                Ok(m) if m.is_dir() => {}
                _ => {
                    remove(&dst, &child, dirs)?;
                    fs::create_dir(&dst).map_err(|e| RuntimeError::io("create", &dst, e))?;
                }
            }
            dirs.insert(child.clone(), src);
            merge_dir(lower, dest, &child, dirs)?;
        } else {
            remove(&dst, &child, dirs)?;
            fs::hard_link(&src, &dst).map_err(|e| RuntimeError::io("link", &dst, e))?;
        }
    }
    Ok(())
}

/// Gives directory `dst` the owner, mode, extended attributes (but overlay's own) and
/// times of `src`.
fn copy_dir_metadata(src: &Path, dst: &Path) -> Result<(), RuntimeError> {
    let meta = fs::symlink_metadata(src).map_err(|e| RuntimeError::io("stat", src, e))?;
    std::os::unix::fs::lchown(dst, Some(meta.uid()), Some(meta.gid()))
        .map_err(|e| RuntimeError::io("chown", dst, e))?;
    rfs::chmod(dst, Mode::from_raw_mode(meta.mode() & 0o7777))
        .map_err(|e| RuntimeError::io("chmod", dst, e.into()))?;
    let mut names = vec![0u8; 4096];
    if let Ok(n) = rfs::llistxattr(src, &mut names) {
        for name in names[..n].split(|&b| b == 0).filter(|n| !n.is_empty()) {
            let name = String::from_utf8_lossy(name).into_owned();
            if name.starts_with("trusted.overlay.") {
                continue;
            }
            let mut value = vec![0u8; 65536];
            if let Ok(len) = rfs::lgetxattr(src, name.as_str(), &mut value) {
                rfs::lsetxattr(dst, name.as_str(), &value[..len], XattrFlags::empty())
                    .map_err(|e| RuntimeError::io("set an attribute of", dst, e.into()))?;
            }
        }
    }
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec() as _,
        },
        last_modification: Timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec() as _,
        },
    };
    rfs::utimensat(rfs::CWD, dst, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| RuntimeError::io("set the times of", dst, e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whiteouts, opaque directories, replaced types, and directory metadata from the
    /// topmost layer: the view is what an overlay mount of the same lowers shows.
    #[test]
    fn the_view_is_the_overlay_of_its_layers() {
        assert!(
            rustix::process::geteuid().is_root(),
            "whiteouts are device nodes: this test needs root"
        );
        let t = tempfile::tempdir().unwrap();
        let (l1, l2, view) = (t.path().join("l1"), t.path().join("l2"), t.path().join("v"));
        for d in ["a/keep", "gone", "opaque/old", "replaced"] {
            fs::create_dir_all(l1.join(d)).unwrap();
        }
        fs::write(l1.join("a/keep/f"), b"1").unwrap();
        fs::write(l1.join("a/x"), b"x").unwrap();
        fs::write(l1.join("opaque/old/f"), b"old").unwrap();
        fs::write(l1.join("file"), b"lower").unwrap();
        fs::create_dir_all(l2.join("a")).unwrap();
        fs::create_dir_all(l2.join("opaque/new")).unwrap();
        fs::write(l2.join("file"), b"upper").unwrap();
        fs::write(l2.join("replaced"), b"now a file").unwrap();
        std::os::unix::fs::symlink("file", l2.join("link")).unwrap();
        for w in ["gone", "a/x"] {
            rfs::mknodat(
                rfs::CWD,
                l2.join(w),
                rfs::FileType::CharacterDevice,
                Mode::from_raw_mode(0),
                0,
            )
            .unwrap();
        }
        rfs::lsetxattr(l2.join("opaque"), OPAQUE, b"y", XattrFlags::empty()).unwrap();
        fs::set_permissions(
            l2.join("a"),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        fs::create_dir(&view).unwrap();
        merge(&[l1.clone(), l2.clone()], &view).unwrap();

        let mut seen = walkdir(&view);
        seen.sort();
        // The judge: the kernel's overlay of the same lowers, read-only.
        let ovl = t.path().join("ovl");
        fs::create_dir(&ovl).unwrap();
        let opts = format!("lowerdir={}:{}", l2.display(), l1.display());
        let status = std::process::Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &opts])
            .arg(&ovl)
            .status()
            .unwrap();
        assert!(status.success(), "mount overlay");
        let mut shown = walkdir(&ovl);
        shown.sort();
        let modes = |root: &Path| -> Vec<(String, u32, u32)> {
            seen.iter()
                .map(|rel| {
                    let m = fs::symlink_metadata(root.join(rel.trim_end_matches('/'))).unwrap();
                    (rel.clone(), m.mode(), m.uid())
                })
                .collect()
        };
        let (in_view, in_overlay) = (modes(&view), modes(&ovl));
        let _ = std::process::Command::new("umount").arg(&ovl).status();
        assert_eq!(seen, shown, "the view lists what the overlay shows");
        assert_eq!(
            in_view, in_overlay,
            "modes and owners as the overlay shows them"
        );
        assert_eq!(
            seen,
            [
                "a/",
                "a/keep/",
                "a/keep/f",
                "file",
                "link",
                "opaque/",
                "opaque/new/",
                "replaced"
            ]
        );
        assert_eq!(fs::read(view.join("file")).unwrap(), b"upper");
        assert_eq!(fs::read(view.join("replaced")).unwrap(), b"now a file");
        assert_eq!(
            fs::symlink_metadata(view.join("a")).unwrap().mode() & 0o7777,
            0o700,
            "a directory takes its metadata from the topmost layer"
        );
        assert_eq!(
            fs::metadata(view.join("file")).unwrap().ino(),
            fs::metadata(l2.join("file")).unwrap().ino(),
            "files are the snapshots' own"
        );
        assert!(
            !is_opaque(&view.join("opaque")),
            "overlay's marker is not copied"
        );
        assert_eq!(
            fs::symlink_metadata(view.join("a/keep")).unwrap().mtime(),
            fs::symlink_metadata(l1.join("a/keep")).unwrap().mtime()
        );
    }

    fn walkdir(root: &Path) -> Vec<String> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap().flatten() {
                let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                if e.file_type().unwrap().is_dir() {
                    out.push(format!("{rel}/"));
                    stack.push(e.path());
                } else {
                    out.push(rel);
                }
            }
        }
        out
    }
}
