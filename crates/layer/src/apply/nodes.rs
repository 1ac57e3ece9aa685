//! Making each kind of node (directory, file, symlink, hardlink, device) and setting
//! its owner, mode, times and extended attributes.

use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{self as rfs, FileType, Mode, OFlags};
use tar::EntryType;

use super::meta::Meta;
use super::{Applier, Target, errno, lossy};
use crate::LayerError;
use crate::codec::copy_buffered;
use crate::safe_fs::{self, Components, display};

/// A directory whose mode and mtime are set once all entries are in, so that adding its
/// children neither fails (read-only modes) nor bumps its mtime.
pub(super) struct PendingDir {
    components: Components,
    mode: u32,
    mtime: i64,
    mtime_nanos: u32,
}

impl Applier<'_> {
    /// A directory entry over an existing directory keeps its contents; over anything
    /// else it replaces it.
    pub(super) fn make_dir(
        &mut self,
        t: &Target<'_>,
        components: &Components,
        meta: &Meta,
    ) -> Result<(), LayerError> {
        let existing = safe_fs::lstat_at(t.parent, t.base).map_err(t.err("inspect"))?;
        let is_dir =
            existing.is_some_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Directory);
        if !is_dir {
            safe_fs::remove_all(t.parent, t.base).map_err(t.err("replace"))?;
            rfs::mkdirat(t.parent, t.base, Mode::from_raw_mode(0o700))
                .map_err(t.err("create directory"))?;
        }
        self.owner_and_xattrs(t, meta)?;
        self.dirs.push(PendingDir {
            components: components.clone(),
            mode: meta.mode,
            mtime: meta.mtime,
            mtime_nanos: meta.mtime_nanos,
        });
        Ok(())
    }

    /// A regular file is always a new inode (`O_EXCL` after unlinking what was there), so
    /// writing never goes through a symlink or into another hard link of an old file.
    pub(super) fn make_file(
        &mut self,
        t: &Target<'_>,
        meta: &Meta,
        data: &mut impl Read,
    ) -> Result<(), LayerError> {
        safe_fs::remove_all(t.parent, t.base).map_err(t.err("replace"))?;
        let fd = rfs::openat(
            t.parent,
            t.base,
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .map_err(t.err("create file"))?;
        let mut file = File::from(fd);
        let n = copy_buffered(data, &mut file, &mut self.buf).map_err(t.err("write file"))?;
        if n != meta.size {
            return Err(LayerError::stream(
                format!("read entry {:?}", t.name),
                io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("the tar ends after {n} of its {} bytes", meta.size),
                ),
            ));
        }
        self.report.bytes += n;
        let fd = OwnedFd::from(file);
        // Order matters: chown clears setuid bits and file capabilities, so the mode
        // comes after it and the xattrs (security.capability) after both.
        if self.opts.chown {
            rfs::fchown(
                &fd,
                Some(rfs::Uid::from_raw(meta.uid)),
                Some(rfs::Gid::from_raw(meta.gid)),
            )
            .map_err(t.err("chown"))?;
        }
        rfs::fchmod(&fd, Mode::from_raw_mode(meta.mode & 0o7777)).map_err(t.err("chmod"))?;
        self.xattrs(t, meta)?;
        rfs::futimens(&fd, &safe_fs::timestamps(meta.mtime, meta.mtime_nanos))
            .map_err(t.err("set times of"))?;
        Ok(())
    }

    /// The symlink is written verbatim and never followed here; it is only ever resolved
    /// later, inside the root.
    pub(super) fn make_symlink(
        &mut self,
        t: &Target<'_>,
        meta: &Meta,
        target: &[u8],
    ) -> Result<(), LayerError> {
        if target.is_empty() || target.contains(&0) {
            return Err(LayerError::InvalidEntry {
                entry: t.name.to_string(),
                reason: "symlink target is empty or has a NUL byte".into(),
            });
        }
        safe_fs::remove_all(t.parent, t.base).map_err(t.err("replace"))?;
        rfs::symlinkat(OsStr::from_bytes(target), t.parent, t.base)
            .map_err(t.err("create symlink"))?;
        self.owner_and_xattrs(t, meta)?;
        safe_fs::lutimes_at(t.parent, t.base, meta.mtime, meta.mtime_nanos)
            .map_err(t.err("set times of"))
    }

    /// Makes a fifo or device node. Returns false when the kernel refused a device and
    /// the options say to skip it.
    pub(super) fn make_device(
        &mut self,
        t: &Target<'_>,
        meta: &Meta,
        kind: EntryType,
        major: u32,
        minor: u32,
    ) -> Result<bool, LayerError> {
        let file_type = match kind {
            EntryType::Char => FileType::CharacterDevice,
            EntryType::Block => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        safe_fs::remove_all(t.parent, t.base).map_err(t.err("replace"))?;
        match rfs::mknodat(
            t.parent,
            t.base,
            file_type,
            Mode::from_raw_mode(0o600),
            rfs::makedev(major, minor),
        ) {
            Ok(()) => {}
            Err(rustix::io::Errno::PERM) if self.opts.ignore_device_errors => {
                self.report.skipped_devices += 1;
                return Ok(false);
            }
            Err(e) => return Err(t.err("create device node")(e)),
        }
        self.owner_and_xattrs(t, meta)?;
        safe_fs::chmod_nofollow(t.parent, t.base, meta.mode).map_err(t.err("chmod"))?;
        safe_fs::lutimes_at(t.parent, t.base, meta.mtime, meta.mtime_nanos)
            .map_err(t.err("set times of"))?;
        Ok(true)
    }

    /// Links `parent/base` to the earlier file `target` (a name in the tar, resolved in
    /// the root). The inode's owner, mode and times stay as the target's entry set them.
    pub(super) fn hardlink(&mut self, t: &Target<'_>, target: &[u8]) -> Result<(), LayerError> {
        let (name, parent, base) = (t.name, t.parent, t.base);
        let unsafe_link = |reason: String| LayerError::UnsafePath {
            entry: name.to_string(),
            reason,
        };
        let target_components = safe_fs::clean_name(target).map_err(|p| {
            unsafe_link(format!(
                "hardlink target {:?}: {}",
                lossy(target),
                p.reason()
            ))
        })?;
        let Some((target_base, target_parents)) = target_components.split_last() else {
            return Err(unsafe_link("hardlink target is the root".into()));
        };
        let missing = || LayerError::InvalidEntry {
            entry: name.to_string(),
            reason: format!(
                "hardlink target {:?} does not exist in the layer root",
                lossy(target)
            ),
        };
        let target_dir = match self.root.open_dir(target_parents) {
            Ok(fd) => fd,
            Err(e) if matches!(errno(&e), libc::ENOENT | libc::ENOTDIR) => return Err(missing()),
            Err(e) => {
                return Err(LayerError::io(
                    "resolve hardlink target",
                    display(&target_components),
                    e,
                ));
            }
        };
        let st = safe_fs::lstat_at(target_dir.as_fd(), target_base)
            .map_err(|e| LayerError::io("inspect hardlink target", display(&target_components), e))?
            .ok_or_else(missing)?;
        if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
            return Err(LayerError::InvalidEntry {
                entry: name.to_string(),
                reason: format!("hardlink target {:?} is a directory", lossy(target)),
            });
        }
        if let Some(existing) =
            safe_fs::lstat_at(parent, base).map_err(|e| LayerError::io("inspect", &t.path, e))?
        {
            if existing.st_dev == st.st_dev && existing.st_ino == st.st_ino {
                return Ok(());
            }
            safe_fs::remove_all(parent, base).map_err(|e| LayerError::io("replace", &t.path, e))?;
        }
        rfs::linkat(
            &target_dir,
            target_base,
            parent,
            base,
            rfs::AtFlags::empty(),
        )
        .map_err(t.err("create hardlink"))
    }

    fn owner_and_xattrs(&mut self, t: &Target<'_>, meta: &Meta) -> Result<(), LayerError> {
        if self.opts.chown {
            safe_fs::lchown_at(t.parent, t.base, meta.uid, meta.gid).map_err(t.err("chown"))?;
        }
        self.xattrs(t, meta)
    }

    /// Sets the entry's xattrs. An unprivileged process may not set `trusted.*` or
    /// `security.*`: those are counted as skipped rather than failing the layer.
    fn xattrs(&mut self, t: &Target<'_>, meta: &Meta) -> Result<(), LayerError> {
        for (key, value) in &meta.xattrs {
            match safe_fs::lsetxattr_at(t.parent, t.base, key, value) {
                Ok(()) => {}
                Err(e)
                    if !self.is_root
                        && (key.starts_with("trusted.") || key.starts_with("security."))
                        && matches!(errno(&e), libc::EPERM | libc::ENOTSUP) =>
                {
                    self.report.skipped_xattrs += 1;
                }
                Err(e) => {
                    return Err(LayerError::io(
                        "set extended attribute",
                        t.path.join(format!("@{key}")),
                        e,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Sets directories' modes and mtimes last, re-resolving each in the root (a later
    /// entry may have replaced one by a file or a symlink: then it is skipped).
    /// Children are handled before parents (reverse tar order), so a parent made
    /// read-only or unsearchable does not block them; a directory listed twice gets the
    /// metadata of its last entry.
    pub(super) fn finish_dirs(&mut self) -> Result<(), LayerError> {
        let mut done: HashSet<&Components> = HashSet::new();
        for dir in self.dirs.iter().rev() {
            if !done.insert(&dir.components) {
                continue;
            }
            let Some((base, parents)) = dir.components.split_last() else {
                continue;
            };
            let gone =
                |e: &io::Error| matches!(errno(e), libc::ENOENT | libc::ENOTDIR | libc::ELOOP);
            let parent = match self.root.open_dir(parents) {
                Ok(fd) => fd,
                Err(e) if gone(&e) => continue,
                Err(e) => {
                    return Err(LayerError::io(
                        "resolve directory",
                        display(&dir.components),
                        e,
                    ));
                }
            };
            let fd = match safe_fs::open_subdir(parent.as_fd(), base) {
                Ok(fd) => fd,
                Err(e) if gone(&e) => continue,
                Err(e) => {
                    return Err(LayerError::io(
                        "open directory",
                        display(&dir.components),
                        e,
                    ));
                }
            };
            rfs::fchmod(&fd, Mode::from_raw_mode(dir.mode & 0o7777))
                .map_err(|e| LayerError::io("chmod", display(&dir.components), e.into()))?;
            rfs::futimens(&fd, &safe_fs::timestamps(dir.mtime, dir.mtime_nanos))
                .map_err(|e| LayerError::io("set times of", display(&dir.components), e.into()))?;
        }
        Ok(())
    }
}
