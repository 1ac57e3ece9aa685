//! Opening and creating paths inside a root filesystem as if it were `/`: symlinks and
//! `..` never lead out of it (`openat2` with `RESOLVE_IN_ROOT`).

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{self as rfs, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::RuntimeError;

fn open_root(root: &Path) -> Result<OwnedFd, RuntimeError> {
    rfs::open(
        root,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| RuntimeError::io("open", root, e.into()))
}

fn open_in(root: &impl AsFd, rel: &str, flags: OFlags) -> Result<OwnedFd, Errno> {
    let rel = rel.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    loop {
        match rfs::openat2(
            root,
            rel,
            flags | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        ) {
            Err(Errno::AGAIN) | Err(Errno::INTR) => continue,
            other => return other,
        }
    }
}

/// Opens the regular file `rel` for reading inside `root`; `None` when it does not exist.
pub(crate) fn open_file(root: &Path, rel: &str) -> Result<Option<OwnedFd>, RuntimeError> {
    let dir = open_root(root)?;
    match open_in(&dir, rel, OFlags::RDONLY) {
        Ok(fd) => {
            let st =
                rfs::fstat(&fd).map_err(|e| RuntimeError::io("stat", &root.join(rel), e.into()))?;
            if rfs::FileType::from_raw_mode(st.st_mode) != rfs::FileType::RegularFile {
                return Err(RuntimeError::io(
                    "read",
                    &root.join(rel),
                    std::io::Error::other("not a regular file"),
                ));
            }
            Ok(Some(fd))
        }
        Err(Errno::NOENT) | Err(Errno::NOTDIR) => Ok(None),
        Err(e) => Err(RuntimeError::io("open", &root.join(rel), e.into())),
    }
}

/// Opens the directory `rel` inside `root`; `None` when it does not exist or is not a
/// directory.
pub(crate) fn open_dir(root: &Path, rel: &str) -> Result<Option<OwnedFd>, RuntimeError> {
    let dir = open_root(root)?;
    match open_in(&dir, rel, OFlags::RDONLY | OFlags::DIRECTORY) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOENT) | Err(Errno::NOTDIR) => Ok(None),
        Err(e) => Err(RuntimeError::io(
            "open",
            &root.join(rel.trim_start_matches('/')),
            e.into(),
        )),
    }
}

/// Creates the directory `rel` and its missing parents inside `root` (mode 0755, owned by
/// `owner` when given: Docker makes a missing working directory for the container's user).
/// Returns a descriptor of the directory.
pub(crate) fn mkdir_all(
    root: &Path,
    rel: &str,
    owner: Option<(u32, u32)>,
) -> Result<OwnedFd, RuntimeError> {
    let dir = open_root(root)?;
    let err =
        |op, e: Errno| RuntimeError::io(op, &root.join(rel.trim_start_matches('/')), e.into());
    let parts: Vec<&str> = rel
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    let mut cur =
        open_in(&dir, "/", OFlags::RDONLY | OFlags::DIRECTORY).map_err(|e| err("open", e))?;
    for i in 0..parts.len() {
        let sub = parts[..=i].join("/");
        match open_in(&dir, &sub, OFlags::RDONLY | OFlags::DIRECTORY) {
            Ok(fd) => cur = fd,
            Err(Errno::NOENT) if parts[i] != ".." => {
                match rfs::mkdirat(&cur, parts[i], Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(Errno::EXIST) => {}
                    Err(e) => return Err(err("create directory", e)),
                }
                let fd = open_in(&dir, &sub, OFlags::RDONLY | OFlags::DIRECTORY)
                    .map_err(|e| err("open", e))?;
                if let Some((uid, gid)) = owner {
                    rfs::fchown(
                        &fd,
                        Some(rustix::fs::Uid::from_raw(uid)),
                        Some(rustix::fs::Gid::from_raw(gid)),
                    )
                    .map_err(|e| err("chown", e))?;
                }
                cur = fd;
            }
            Err(e) => return Err(err("open", e)),
        }
    }
    Ok(cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_never_leave_the_root() {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, "host").unwrap();
        let root = tempfile::tempdir().unwrap();
        let up = format!("../../../../../../..{}", secret.display());
        std::os::unix::fs::symlink(&up, root.path().join("rel")).unwrap();
        std::os::unix::fs::symlink(&secret, root.path().join("abs")).unwrap();
        for name in ["rel", "abs", &up] {
            assert!(open_file(root.path(), name).unwrap().is_none(), "{name}");
        }
        std::fs::write(root.path().join("f"), "x").unwrap();
        assert!(open_file(root.path(), "/f").unwrap().is_some());
    }

    #[test]
    fn mkdir_all_creates_inside_the_root() {
        let outside = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), root.path().join("out")).unwrap();
        // The link's target is taken as a path inside the root, where it does not exist.
        assert!(mkdir_all(root.path(), "/out/a/b", None).is_err());
        assert!(!outside.path().join("a").exists());
        std::fs::create_dir(root.path().join("inside")).unwrap();
        std::os::unix::fs::symlink("/inside", root.path().join("in")).unwrap();
        mkdir_all(root.path(), "/in/a/b", None).unwrap();
        assert!(root.path().join("inside/a/b").is_dir());
        mkdir_all(root.path(), "/x/../y", None).unwrap();
        assert!(root.path().join("y").is_dir());
        mkdir_all(root.path(), "/", None).unwrap();
    }
}
