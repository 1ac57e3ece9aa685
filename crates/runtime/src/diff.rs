//! `diff`: what a container changed, read from its overlay upper directory, with
//! Docker's rules (`pkg/archive/changes.go`, `changes` with `overlayDeletedFile`):
//!
//! - a whiteout (character device 0/0) is `D` of its path;
//! - an opaque directory (`trusted.overlay.opaque=y`) that a lower layer also has is `D`
//!   (it was replaced), and what it holds now is `A`;
//! - any other path is `C` when some lower layer has it, else `A`; a directory that a
//!   lower layer has with the same size, mode and mtime is no change;
//! - the parent of an `A` or `D` is `C` unless already listed.
//!
//! Paths come in walk order: depth first, names sorted by bytes.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use rustix::fs::{self as rfs, FileType, Mode, OFlags, ResolveFlags};

use crate::RuntimeError;

/// What happened to a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// `C`.
    Modified,
    /// `A`.
    Added,
    /// `D`.
    Deleted,
}

impl ChangeKind {
    /// Docker's letter.
    pub fn letter(self) -> char {
        match self {
            ChangeKind::Modified => 'C',
            ChangeKind::Added => 'A',
            ChangeKind::Deleted => 'D',
        }
    }
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What happened.
    pub kind: ChangeKind,
    /// Absolute path in the container.
    pub path: String,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.letter(), self.path)
    }
}

impl crate::Container {
    /// What this container changed against its image (`docker diff`).
    pub fn diff(&self, store: &store::Store) -> Result<Vec<Change>, RuntimeError> {
        let lay = crate::container::layout(store, &self.record, &self.dir)?;
        changes(&lay.upper, &lay.lowers)
    }
}

/// `lstat` of `rel` inside the layer directory `root` (symlinks resolve inside it).
fn stat_in(root: &Path, rel: &str) -> Result<Option<rfs::Stat>, RuntimeError> {
    let dir = match rfs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(d) => d,
        Err(e) => return Err(RuntimeError::io("open", root, e.into())),
    };
    match rfs::openat2(
        &dir,
        rel.trim_start_matches('/'),
        OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT,
    ) {
        Ok(fd) => rfs::fstat(&fd)
            .map(Some)
            .map_err(|e| RuntimeError::io("stat", &root.join(rel), e.into())),
        Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => Ok(None),
        Err(e) => Err(RuntimeError::io("stat", &root.join(rel), e.into())),
    }
}

fn is_opaque(path: &Path) -> bool {
    let mut buf = [0u8; 2];
    matches!(rfs::lgetxattr(path, "trusted.overlay.opaque", &mut buf[..]), Ok(1) if buf[0] == b'y')
}

/// The changes in `upper` against the lower layer directories `lowers`.
pub fn changes(upper: &Path, lowers: &[PathBuf]) -> Result<Vec<Change>, RuntimeError> {
    let mut out = Vec::new();
    let mut changed_dirs = std::collections::HashSet::new();
    walk(upper, upper, lowers, &mut out, &mut changed_dirs)?;
    Ok(out)
}

fn walk(
    upper: &Path,
    dir: &Path,
    lowers: &[PathBuf],
    out: &mut Vec<Change>,
    changed_dirs: &mut std::collections::HashSet<String>,
) -> Result<(), RuntimeError> {
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(|e| RuntimeError::io("list", dir, e))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(|e| RuntimeError::io("list", dir, e))?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let full = dir.join(&name);
        let rel = format!(
            "/{}",
            full.strip_prefix(upper).unwrap_or(&full).to_string_lossy()
        );
        let meta = fs::symlink_metadata(&full).map_err(|e| RuntimeError::io("stat", &full, e))?;
        let ft = meta.file_type();
        let whiteout = ft.is_char_device() && meta.rdev() == 0;
        let mut in_lower = None;
        for l in lowers {
            if let Some(st) = stat_in(l, &rel)? {
                in_lower = Some(st);
                break;
            }
        }
        let kind = if whiteout || (ft.is_dir() && is_opaque(&full) && in_lower.is_some()) {
            Some(ChangeKind::Deleted)
        } else {
            match in_lower {
                None => Some(ChangeKind::Added),
                Some(st) => {
                    let same_dir = ft.is_dir()
                        && FileType::from_raw_mode(st.st_mode) == FileType::Directory
                        && st.st_size as u64 == meta.size()
                        && st.st_mode == meta.mode()
                        && same_time(
                            st.st_mtime,
                            st.st_mtime_nsec as i64,
                            meta.mtime(),
                            meta.mtime_nsec(),
                        );
                    (!same_dir).then_some(ChangeKind::Modified)
                }
            }
        };
        if let Some(kind) = kind {
            if ft.is_dir() {
                changed_dirs.insert(rel.clone());
            }
            if matches!(kind, ChangeKind::Added | ChangeKind::Deleted) {
                let parent = rel.rsplit_once('/').map_or("", |(p, _)| p).to_string();
                if !parent.is_empty() && changed_dirs.insert(parent.clone()) {
                    out.push(Change {
                        kind: ChangeKind::Modified,
                        path: parent,
                    });
                }
            }
            out.push(Change { kind, path: rel });
        }
        if ft.is_dir() {
            walk(upper, &full, lowers, out, changed_dirs)?;
        }
    }
    Ok(())
}

/// Docker's `sameFsTime`: equal, or equal seconds where one side has no nanoseconds.
fn same_time(a_s: i64, a_ns: i64, b_s: i64, b_ns: i64) -> bool {
    a_s == b_s && (a_ns == b_ns || a_ns == 0 || b_ns == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_time_rules() {
        for (a, b, want) in [
            ((1, 5), (1, 5), true),
            ((1, 0), (1, 7), true),
            ((1, 3), (1, 7), false),
            ((1, 0), (2, 0), false),
        ] {
            assert_eq!(same_time(a.0, a.1, b.0, b.1), want, "{a:?} {b:?}");
        }
    }

    /// Needs root (whiteout devices, trusted xattrs).
    #[test]
    fn lists_changes_like_docker() {
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("lower");
        let upper = dir.path().join("upper");
        for d in ["etc", "opq/sub", "var/lib"] {
            fs::create_dir_all(lower.join(d)).unwrap();
        }
        fs::write(lower.join("etc/keep"), "x").unwrap();
        fs::write(lower.join("etc/gone"), "x").unwrap();
        fs::write(lower.join("etc/changed"), "x").unwrap();
        fs::create_dir_all(upper.join("etc")).unwrap();
        fs::create_dir_all(upper.join("opq")).unwrap();
        fs::create_dir_all(upper.join("new/deep")).unwrap();
        fs::write(upper.join("etc/changed"), "y").unwrap();
        fs::write(upper.join("etc/added"), "y").unwrap();
        fs::write(upper.join("new/deep/f"), "y").unwrap();
        fs::write(upper.join("opq/fresh"), "y").unwrap();
        rfs::mknodat(
            rfs::CWD,
            upper.join("etc/gone"),
            FileType::CharacterDevice,
            Mode::empty(),
            0,
        )
        .expect("mknod (needs root)");
        rfs::setxattr(
            upper.join("opq"),
            "trusted.overlay.opaque",
            b"y",
            rfs::XattrFlags::empty(),
        )
        .unwrap();
        let got: Vec<String> = changes(&upper, &[lower])
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        assert_eq!(
            got,
            [
                "C /etc",
                "A /etc/added",
                "C /etc/changed",
                "D /etc/gone",
                "A /new",
                "A /new/deep",
                "A /new/deep/f",
                "D /opq",
                "A /opq/fresh",
            ]
        );
    }
}
