//! Applying a layer tar onto a directory, safely.
//!
//! Semantics follow Docker's and containerd's archive apply: `.wh.NAME` removes `NAME`,
//! `.wh..wh..opq` hides everything lower layers put in its directory, an existing path is
//! replaced unless both it and the entry are directories, missing parents are created
//! (0755), directory modes and mtimes are set after all entries.
//!
//! Nothing outside the root is ever created, changed or removed: every parent path is
//! resolved with `openat2(RESOLVE_IN_ROOT)` on a descriptor of the root (symlinks and
//! `..` resolve as if the root were `/`), and the last component is made with a `*at`
//! call on the parent's descriptor that never follows a symlink. Names that climb above
//! the root with `..` are refused ([`LayerError::UnsafePath`]).

mod meta;
mod nodes;
mod whiteout;

use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{self, BufReader, Read};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use oci::Digest;
use tar::EntryType;

use crate::LayerError;
use crate::codec::{BUFFER_SIZE, copy_buffered, decompress_auto};
use crate::hashing::HashingReader;
use crate::lenient::{PadWindow, PaddedEnd};
use crate::safe_fs::{self, Components, NameProblem, Root, display};

pub use whiteout::{WHITEOUT_OPAQUE, WHITEOUT_PREFIX};

/// How to apply a layer.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ApplyOptions {
    /// Set owners from the tar (`lchown`). Default: true when running as root.
    pub chown: bool,
    /// Skip device nodes that may not be created (`EPERM`) instead of failing; they are
    /// counted in [`ApplyReport::skipped_devices`]. Default: true when not running as root.
    pub ignore_device_errors: bool,
    /// Refuse ([`LayerError::Overwrite`]) an entry that would replace an existing
    /// directory with a non-directory or the reverse, as `docker cp` extracts (Docker's
    /// `NoOverwriteDirNonDir`). Default: false (a layer replaces whatever is there).
    pub no_overwrite_dir_non_dir: bool,
}

impl Default for ApplyOptions {
    fn default() -> ApplyOptions {
        let root = rustix::process::geteuid().is_root();
        ApplyOptions {
            chown: root,
            ignore_device_errors: !root,
            no_overwrite_dir_non_dir: false,
        }
    }
}

/// What applying a layer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApplyReport {
    /// Tar entries processed (files, directories, links, devices, whiteouts).
    pub entries: u64,
    /// Bytes of regular-file content written.
    pub bytes: u64,
    /// Whiteouts and opaque markers applied.
    pub whiteouts: u64,
    /// Device nodes skipped because the kernel refused them.
    pub skipped_devices: u64,
    /// Extended attributes skipped because an unprivileged process may not set them.
    pub skipped_xattrs: u64,
}

struct Applier<'a> {
    root: Root,
    opts: &'a ApplyOptions,
    is_root: bool,
    report: ApplyReport,
    /// Paths this layer created, and their ancestors: what an opaque marker keeps.
    unpacked: HashSet<Components>,
    dirs: Vec<nodes::PendingDir>,
    buf: Vec<u8>,
    pad: PadWindow,
}

/// Where an entry goes: its parent directory (resolved in the root) and last component.
struct Target<'a> {
    /// The entry's name as written in the tar, for errors about the entry.
    name: &'a str,
    parent: BorrowedFd<'a>,
    base: &'a OsStr,
    /// The cleaned path below the root, for I/O errors.
    path: PathBuf,
}

impl Target<'_> {
    /// Maps an I/O error of operation `op` on this target.
    fn err<E: Into<io::Error>>(&self, op: &'static str) -> impl FnOnce(E) -> LayerError + '_ {
        move |e| LayerError::io(op, &self.path, e.into())
    }
}

/// Applies the uncompressed layer `tar` onto the directory `root`.
///
/// Never creates, changes or removes anything outside `root`, whatever the tar holds:
/// names that climb out with `..` are refused, absolute names and symlinks are resolved
/// as if `root` were `/`. Errors name the entry.
pub fn apply_layer(
    root: &Path,
    tar: impl Read,
    opts: &ApplyOptions,
) -> Result<ApplyReport, LayerError> {
    let mut applier = Applier {
        root: Root::open(root).map_err(|e| LayerError::io("open the layer root", root, e))?,
        opts,
        is_root: rustix::process::geteuid().is_root(),
        report: ApplyReport::default(),
        unpacked: HashSet::new(),
        dirs: Vec::new(),
        buf: vec![0u8; BUFFER_SIZE],
        pad: PadWindow::default(),
    };
    let mut archive = tar::Archive::new(PaddedEnd::new(
        BufReader::with_capacity(BUFFER_SIZE, tar),
        applier.pad.clone(),
    ));
    let entries = archive
        .entries()
        .map_err(|e| LayerError::stream("read the tar", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LayerError::stream("read a tar entry header", e))?;
        applier.entry(entry)?;
    }
    applier.finish_dirs()?;
    Ok(applier.report)
}

/// Applies a layer blob in any supported compression (detected from its magic bytes) and
/// returns the report and the diffID, hashed inline over every uncompressed byte
/// (including the tar's trailing padding).
pub fn apply_layer_auto(
    root: &Path,
    compressed: impl Read + Send + 'static,
    opts: &ApplyOptions,
) -> Result<(ApplyReport, Digest), LayerError> {
    let mut tar = HashingReader::new(decompress_auto(compressed)?);
    let report = apply_layer(root, &mut tar, opts)?;
    let mut buf = vec![0u8; BUFFER_SIZE];
    copy_buffered(&mut tar, &mut io::sink(), &mut buf)
        .map_err(|e| LayerError::stream("read the end of the layer", e))?;
    Ok((report, tar.digest()))
}

fn lossy(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

fn errno(e: &io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

impl Applier<'_> {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<(), LayerError> {
        let kind = entry.header().entry_type();
        if kind.is_gnu_sparse() {
            self.pad.close();
        } else {
            self.pad
                .after_data(entry.raw_file_position() + entry.size());
        }
        if matches!(kind, EntryType::XGlobalHeader) {
            return Ok(());
        }
        let raw = entry.path_bytes().into_owned();
        let name = lossy(&raw);
        let components = safe_fs::clean_name(&raw).map_err(|p| match p {
            NameProblem::Escapes => LayerError::UnsafePath {
                entry: name.clone(),
                reason: p.reason().to_string(),
            },
            _ => LayerError::InvalidEntry {
                entry: name.clone(),
                reason: p.reason().to_string(),
            },
        })?;
        self.report.entries += 1;
        let Some((base, parents)) = components.split_last() else {
            // The root itself: Docker and containerd leave it as it is.
            return Ok(());
        };
        if whiteout::in_aufs_metadata(&components) {
            return Ok(());
        }
        if parents.iter().any(|c| whiteout::is_whiteout(c)) {
            return Err(LayerError::UnsafePath {
                entry: name,
                reason: "a whiteout name is used as a directory".into(),
            });
        }
        if whiteout::is_whiteout(base) {
            return self.whiteout(&name, parents, base);
        }
        // Pre-POSIX tars mark directories by a trailing slash on a regular entry.
        let kind = if kind == EntryType::Regular && raw.ends_with(b"/") {
            EntryType::Directory
        } else {
            kind
        };
        let meta = meta::read_meta(&mut entry).map_err(|e| LayerError::InvalidEntry {
            entry: name.clone(),
            reason: format!("bad header or PAX record: {e}"),
        })?;

        let parent = self.root.mkdir_all(parents).map_err(|e| match errno(&e) {
            libc::ENOTDIR => LayerError::InvalidEntry {
                entry: name.clone(),
                reason: format!(
                    "its parent {} is not a directory",
                    display(parents).display()
                ),
            },
            libc::ELOOP => LayerError::UnsafePath {
                entry: name.clone(),
                reason: "its parent path has a symlink loop".into(),
            },
            _ => LayerError::io("create the parent of", display(&components), e),
        })?;
        let target = Target {
            name: &name,
            parent: parent.as_fd(),
            base,
            path: display(&components),
        };
        if self.opts.no_overwrite_dir_non_dir
            && let Some(st) =
                safe_fs::lstat_at(target.parent, target.base).map_err(target.err("inspect"))?
        {
            let existing_dir =
                rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory;
            if existing_dir != (kind == EntryType::Directory) {
                return Err(LayerError::Overwrite {
                    entry: name.clone(),
                    path: target.path.clone(),
                    existing_dir,
                });
            }
        }
        let link = || {
            entry
                .link_name_bytes()
                .map(|t| t.into_owned())
                .unwrap_or_default()
        };
        match kind {
            EntryType::Directory => self.make_dir(&target, &components, &meta)?,
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.make_file(&target, &meta, &mut entry)?
            }
            EntryType::Symlink => {
                let link = link();
                self.make_symlink(&target, &meta, &link)?
            }
            EntryType::Link => {
                let link = link();
                self.hardlink(&target, &link)?
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let header = entry.header();
                let major = header.device_major().ok().flatten().unwrap_or(0);
                let minor = header.device_minor().ok().flatten().unwrap_or(0);
                if !self.make_device(&target, &meta, kind, major, minor)? {
                    return Ok(());
                }
            }
            other => {
                return Err(LayerError::InvalidEntry {
                    entry: name.clone(),
                    reason: format!("unsupported tar entry type {other:?}"),
                });
            }
        }
        self.mark_unpacked(&components);
        Ok(())
    }
}
