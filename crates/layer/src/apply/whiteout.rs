//! Whiteouts (`.wh.NAME`) and opaque markers (`.wh..wh..opq`), as in the OCI image spec
//! and Docker's AUFS-derived format.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{self as rfs, FileType, Mode, OFlags};

use super::{Applier, errno, lossy};
use crate::LayerError;
use crate::safe_fs::{self, Components, display};

/// The prefix of a whiteout file.
pub const WHITEOUT_PREFIX: &str = ".wh.";
/// The name of the marker that makes its directory opaque.
pub const WHITEOUT_OPAQUE: &str = ".wh..wh..opq";
/// The prefix of AUFS metadata entries (`.wh..wh.plnk`, ...), which are skipped.
const WHITEOUT_META_PREFIX: &str = ".wh..wh.";

/// Whether a name component is a whiteout (or opaque marker, or AUFS metadata).
pub(super) fn is_whiteout(component: &OsStr) -> bool {
    component.as_bytes().starts_with(WHITEOUT_PREFIX.as_bytes())
}

/// Whether the path lies inside a top-level AUFS metadata directory
/// (`.wh..wh.plnk/...`), which Docker skips.
pub(super) fn in_aufs_metadata(components: &[OsString]) -> bool {
    components.len() > 1
        && components[0]
            .as_bytes()
            .starts_with(WHITEOUT_META_PREFIX.as_bytes())
}

impl Applier<'_> {
    /// Applies the whiteout `parents/base`: removes `parents/NAME`, or for an opaque
    /// marker everything lower layers left in `parents`. The directory is resolved in the
    /// root; if it does not exist there is nothing to hide.
    pub(super) fn whiteout(
        &mut self,
        name: &str,
        parents: &[OsString],
        base: &OsStr,
    ) -> Result<(), LayerError> {
        let base = base.as_bytes();
        let target = &base[WHITEOUT_PREFIX.len()..];
        if base != WHITEOUT_OPAQUE.as_bytes() && base.starts_with(WHITEOUT_META_PREFIX.as_bytes()) {
            // AUFS bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): Docker skips it too.
            return Ok(());
        }
        if base != WHITEOUT_OPAQUE.as_bytes() && matches!(target, b"" | b"." | b"..") {
            return Err(LayerError::UnsafePath {
                entry: name.to_string(),
                reason: format!(
                    "whiteout of {:?} would remove a parent or the root",
                    lossy(target)
                ),
            });
        }
        self.report.whiteouts += 1;
        let dir = match self.root.open_dir(parents) {
            Ok(fd) => fd,
            // Nothing below a missing directory (or a file) to hide.
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::ENOTDIR) => return Ok(()),
            Err(e) => {
                return Err(LayerError::io(
                    "resolve whiteout parent",
                    display(parents),
                    e,
                ));
            }
        };
        if base == WHITEOUT_OPAQUE.as_bytes() {
            let readable = rfs::openat(
                &dir,
                ".",
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| LayerError::io("open opaque directory", display(parents), e.into()))?;
            self.clear_lower(readable.as_fd(), parents.to_vec())
                .map_err(|e| LayerError::io("clear opaque directory", display(parents), e))
        } else {
            let victim = OsStr::from_bytes(target);
            let mut path = parents.to_vec();
            path.push(victim.to_os_string());
            safe_fs::remove_all(dir.as_fd(), victim)
                .map_err(|e| LayerError::io("remove whited-out", display(&path), e))
        }
    }

    /// Removes what lower layers left in `dir`, keeping what this layer unpacked (and,
    /// below directories this layer unpacked, removing lower content too).
    fn clear_lower(&self, dir: BorrowedFd<'_>, path: Components) -> io::Result<()> {
        for (child, file_type) in safe_fs::list_dir(dir)? {
            let mut child_path = path.clone();
            child_path.push(child.clone());
            if !self.unpacked.contains(&child_path) {
                safe_fs::remove_all(dir, &child)?;
            } else if file_type == FileType::Directory
                || (file_type == FileType::Unknown
                    && safe_fs::lstat_at(dir, &child)?.is_some_and(|st| {
                        FileType::from_raw_mode(st.st_mode) == FileType::Directory
                    }))
            {
                // (Some file systems do not report entry types in readdir: ask lstat.)
                let sub = safe_fs::open_subdir(dir, &child)?;
                self.clear_lower(sub.as_fd(), child_path)?;
            }
        }
        Ok(())
    }

    /// Records that this layer put `components` (and so its ancestors) in place.
    pub(super) fn mark_unpacked(&mut self, components: &[OsString]) {
        for i in (1..=components.len()).rev() {
            if !self.unpacked.insert(components[..i].to_vec()) {
                break;
            }
        }
    }
}
