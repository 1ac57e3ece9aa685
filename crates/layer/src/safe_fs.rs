//! File-system primitives that cannot leave a root directory.
//!
//! Every path is resolved with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` on a
//! descriptor of the root, so `..` and symlinks (absolute or relative, old or just made)
//! are resolved as if the root were `/`. The last component is then handled with a `*at`
//! call on the parent's descriptor that does not follow symlinks.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags};

/// A path below the root: only normal components (never empty, `.`, `..` or with `/`).
pub(crate) type Components = Vec<OsString>;

/// Why a name from a tar cannot be turned into [`Components`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NameProblem {
    Empty,
    Nul,
    Escapes,
}

impl NameProblem {
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            NameProblem::Empty => "the name is empty",
            NameProblem::Nul => "the name contains a NUL byte",
            NameProblem::Escapes => "`..` climbs above the root",
        }
    }
}

/// Lexically cleans a tar name: a leading `/` is dropped (as GNU tar and containerd do),
/// `.` and empty components vanish, `..` pops a component and is refused when it would
/// climb above the root. The empty result means the root itself.
pub(crate) fn clean_name(raw: &[u8]) -> Result<Components, NameProblem> {
    if raw.is_empty() {
        return Err(NameProblem::Empty);
    }
    if raw.contains(&0) {
        return Err(NameProblem::Nul);
    }
    let mut out: Components = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() {
                    return Err(NameProblem::Escapes);
                }
            }
            _ => out.push(OsString::from_vec(part.to_vec())),
        }
    }
    Ok(out)
}

/// The components joined with `/`, for messages and error paths.
pub(crate) fn display(components: &[OsString]) -> PathBuf {
    components.iter().collect()
}

/// A directory that everything is kept inside.
pub(crate) struct Root {
    fd: OwnedFd,
}

impl Root {
    /// Opens `path` as a root.
    pub(crate) fn open(path: &Path) -> io::Result<Root> {
        let fd = rfs::openat(
            rfs::CWD,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        Ok(Root { fd })
    }

    /// Opens the directory at `components` (`O_PATH`), resolving symlinks inside the root.
    pub(crate) fn open_dir(&self, components: &[OsString]) -> io::Result<OwnedFd> {
        if components.is_empty() {
            return Ok(rfs::openat(
                &self.fd,
                ".",
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )?);
        }
        let path = display(components);
        let mut tries = 0;
        loop {
            // EAGAIN: a concurrent rename raced the `..` check; the kernel asks for a retry.
            match rfs::openat2(
                &self.fd,
                &path,
                OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
            ) {
                Err(rustix::io::Errno::AGAIN) if tries < 16 => tries += 1,
                other => return Ok(other?),
            }
        }
    }

    /// Like [`Root::open_dir`], creating missing directories (mode 0755) on the way, as
    /// Docker does for parents a tar does not list.
    pub(crate) fn mkdir_all(&self, components: &[OsString]) -> io::Result<OwnedFd> {
        match self.open_dir(components) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            other => return other,
        }
        let mut dir = self.open_dir(&[])?;
        for i in 0..components.len() {
            dir = match self.open_dir(&components[..=i]) {
                Ok(fd) => fd,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    // `dir` is the resolved parent, so the new directory is inside the root.
                    match rfs::mkdirat(&dir, components[i].as_os_str(), Mode::from_raw_mode(0o755))
                    {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                    self.open_dir(&components[..=i])?
                }
                Err(e) => return Err(e),
            };
        }
        Ok(dir)
    }
}

/// `lstat` of `name` in `dir`, `None` if absent.
pub(crate) fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Option<rfs::Stat>> {
    match rfs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Opens the directory `name` in `dir` for reading, refusing a symlink.
pub(crate) fn open_subdir(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    Ok(rfs::openat(
        dir,
        name,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

/// The names in a directory (opened for reading), without `.` and `..`.
pub(crate) fn list_dir(dir: BorrowedFd<'_>) -> io::Result<Vec<(OsString, FileType)>> {
    let mut out = Vec::new();
    for entry in rfs::Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." {
            continue;
        }
        out.push((OsString::from_vec(name.to_vec()), entry.file_type()));
    }
    Ok(out)
}

/// Removes `name` in `dir` and, if it is a directory, everything below it. Never follows
/// a symlink: a symlink is removed, not its target. A missing `name` is not an error.
pub(crate) fn remove_all(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let Some(st) = lstat_at(dir, name)? else {
        return Ok(());
    };
    if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        let sub = open_subdir(dir, name)?;
        remove_contents(sub.as_fd())?;
        rfs::unlinkat(dir, name, AtFlags::REMOVEDIR)?;
    } else {
        match rfs::unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Removes everything inside the directory `dir` (opened for reading).
pub(crate) fn remove_contents(dir: BorrowedFd<'_>) -> io::Result<()> {
    for (name, _) in list_dir(dir)? {
        remove_all(dir, &name)?;
    }
    Ok(())
}

/// `chmod` of `name` in `dir` without following a symlink (a symlink is left alone: Linux
/// ignores symlink modes). Goes through `/proc/self/fd` because `fchmodat` cannot refuse
/// symlinks and `fchmod` needs a readable descriptor, which opening a device or fifo
/// would have side effects to get.
pub(crate) fn chmod_nofollow(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    let fd = rfs::openat(
        dir,
        name,
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let st = rfs::fstat(&fd)?;
    if FileType::from_raw_mode(st.st_mode) == FileType::Symlink {
        return Ok(());
    }
    let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    rfs::chmodat(
        rfs::CWD,
        proc_path.as_str(),
        Mode::from_raw_mode(mode & 0o7777),
        AtFlags::empty(),
    )?;
    Ok(())
}

/// `lsetxattr` on `name` in `dir`: the directory is reached through its descriptor's
/// `/proc/self/fd` link, the last component is not followed.
pub(crate) fn lsetxattr_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    key: &str,
    value: &[u8],
) -> io::Result<()> {
    let mut path = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    path.extend_from_slice(name.as_bytes());
    rfs::lsetxattr(
        OsStr::from_bytes(&path),
        key,
        value,
        rfs::XattrFlags::empty(),
    )?;
    Ok(())
}

/// `lchown` of `name` in `dir`.
pub(crate) fn lchown_at(dir: BorrowedFd<'_>, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
    rfs::chownat(
        dir,
        name,
        Some(rfs::Uid::from_raw(uid)),
        Some(rfs::Gid::from_raw(gid)),
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

/// Timestamps with atime = mtime.
pub(crate) fn timestamps(secs: i64, nanos: u32) -> rfs::Timestamps {
    let t = rfs::Timespec {
        tv_sec: secs,
        tv_nsec: nanos.into(),
    };
    rfs::Timestamps {
        last_access: t,
        last_modification: t,
    }
}

/// `lutimes` of `name` in `dir`.
pub(crate) fn lutimes_at(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    secs: i64,
    nanos: u32,
) -> io::Result<()> {
    rfs::utimensat(
        dir,
        name,
        &timestamps(secs, nanos),
        AtFlags::SYMLINK_NOFOLLOW,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_names() {
        let ok = |s: &str| -> Option<String> {
            clean_name(s.as_bytes())
                .ok()
                .map(|c| display(&c).to_string_lossy().into_owned())
        };
        for (input, want) in [
            ("a/b/c", Some("a/b/c")),
            ("./a//b/", Some("a/b")),
            ("/abs/evil", Some("abs/evil")),
            ("a/../b", Some("b")),
            ("./", Some("")),
            ("/", Some("")),
            ("a/..", Some("")),
            ("../evil", None),
            ("a/../../evil", None),
            ("/../evil", None),
            ("..", None),
            ("", None),
            ("a\0b", None),
        ] {
            assert_eq!(ok(input).as_deref(), want, "{input:?}");
        }
        assert_eq!(clean_name(b"").unwrap_err(), NameProblem::Empty);
        assert_eq!(clean_name(b"x\0").unwrap_err(), NameProblem::Nul);
        assert_eq!(clean_name(b"../x").unwrap_err(), NameProblem::Escapes);
    }
}
