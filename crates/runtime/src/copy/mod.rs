//! `cp`: copying files between a container and the host, as `docker cp` does, for a
//! created, running or exited container.
//!
//! The two halves of Docker's implementation meet here, each in its own functions:
//!
//! - the daemon's: [`stat_path`], [`archive_path`] and [`extract_to_dir`] work on the
//!   container's [`view`] (its root filesystem with its volumes and bind mounts, mounted
//!   in a private mount namespace), resolving paths inside it as Docker does (the last
//!   element of a source is not followed, a destination directory is fully resolved;
//!   links never lead out of the container's root);
//! - the client's: the [`paths`] rules (trailing `/` and `/.`, where an archive is
//!   extracted and under which name) and the [`host`] end, composed in
//!   [`copy_from_container`] and [`copy_to_container`].
//!
//! Everything streams through tar (over a pipe between two threads when both ends are
//! files): nothing is held whole in memory.

pub mod host;
pub mod paths;
mod view;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use store::Store;

use crate::{Container, RuntimeError};
use paths::CopyInfo;
use view::{ViewPlan, host_path, resolve_in_scope};

/// Why a copy failed, in the words Docker prints.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The container or the path in it does not exist (the client's 404).
    #[error("No such container:path: {container}:{path}")]
    NotFound {
        /// The container as given.
        container: String,
        /// The path as the request named it.
        path: String,
    },
    /// A check of Docker's client, printed bare (`cannot copy directory`).
    #[error("{0}")]
    Client(String),
    /// A refusal of Docker's daemon (`extraction point is not a directory`).
    #[error("Error response from daemon: {0}")]
    Daemon(String),
    /// Anything else about the container.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// Reading or writing an archive.
    #[error(transparent)]
    Layer(#[from] layer::LayerError),
}

/// `docker cp`'s flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpOptions {
    /// `-a`: files copied in belong to the container's user (as Docker resolves it).
    pub archive: bool,
    /// `-L`: follow a symlink given as the source.
    pub follow_link: bool,
}

/// What a path in a container is (Docker's `ContainerPathStat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathStat {
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Whether it is a symlink (then [`PathStat::link_target`] is where it leads).
    pub is_symlink: bool,
    /// Whether it is a device node.
    pub is_device: bool,
    /// A symlink's target, fully resolved inside the container (absolute).
    pub link_target: Option<String>,
}

/// Where a copy out of a container goes.
pub enum CopyOut<'a> {
    /// `-`: the archive itself, as Docker's daemon writes it.
    Stream(&'a mut (dyn Write + Send)),
    /// A local path.
    Path(&'a str),
}

/// Where a copy into a container comes from.
pub enum CopyIn<'a> {
    /// `-`: a tar archive to extract into the destination directory.
    Stream(&'a mut (dyn Read + Send)),
    /// A local path.
    Path(&'a str),
}

fn load(store: &Store, name: &str, path: &str) -> Result<Container, CopyError> {
    crate::container::load(store.root(), name).map_err(|e| match e {
        RuntimeError::NoSuchContainer(_) => CopyError::NotFound {
            container: name.into(),
            path: path.into(),
        },
        e => e.into(),
    })
}

/// `lstat` of the container path `resolved` under `root`; `None` when missing.
fn lstat(root: &Path, resolved: &str) -> Result<Option<std::fs::Metadata>, CopyError> {
    let p = host_path(root, resolved);
    match std::fs::symlink_metadata(&p) {
        Ok(m) => Ok(Some(m)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CopyError::Daemon(format!(
            "lstat {resolved}: {}",
            host::go_text(&e)
        ))),
    }
}

/// The daemon's `ResolvePath`: the absolute path asked for, and the path with its
/// directory resolved inside the root and its last element kept as written.
fn resolve_path(root: &Path, path: &str) -> Result<(String, String), CopyError> {
    let abs = paths::container_abs(path);
    let (dir, base) = paths::split(&abs);
    let dir = resolve_in_scope(root, dir)
        .map_err(|e| CopyError::Daemon(format!("{path}: {}", host::go_text(&e))))?;
    let resolved = if dir == "/" {
        format!("/{base}")
    } else {
        format!("{dir}/{base}")
    };
    Ok((abs, resolved))
}

fn stat_in(root: &Path, name: &str, path: &str) -> Result<(String, String, PathStat), CopyError> {
    let (abs, resolved) = resolve_path(root, path)?;
    let Some(meta) = lstat(root, &resolved)? else {
        return Err(CopyError::NotFound {
            container: name.into(),
            path: path.into(),
        });
    };
    let ft = meta.file_type();
    let link_target = if ft.is_symlink() {
        Some(
            resolve_in_scope(root, &abs)
                .map_err(|e| CopyError::Daemon(format!("{path}: {}", host::go_text(&e))))?,
        )
    } else {
        None
    };
    Ok((
        abs,
        resolved,
        PathStat {
            is_dir: ft.is_dir(),
            is_symlink: ft.is_symlink(),
            is_device: ft.is_block_device() || ft.is_char_device(),
            link_target,
        },
    ))
}

/// What `path` is in container `name` (`HEAD /containers/NAME/archive`).
pub fn stat_path(store: &Store, name: &str, path: &str) -> Result<PathStat, CopyError> {
    let c = load(store, name, path)?;
    let plan = ViewPlan::of(store, &c)?;
    plan.with(|root| stat_in(root, name, path).map(|(_, _, s)| s))
}

/// Writes the tar of `path` in container `name` to `out` (`GET /containers/NAME/archive`):
/// its top entry named as the path's last element (`.` for `dir/.`), or `rename`.
pub fn archive_path(
    store: &Store,
    name: &str,
    path: &str,
    rename: Option<&str>,
    out: &mut (dyn Write + Send),
) -> Result<PathStat, CopyError> {
    let c = load(store, name, path)?;
    let plan = ViewPlan::of(store, &c)?;
    plan.with(|root| {
        let (abs, resolved, stat) = stat_in(root, name, path)?;
        let source = paths::clean(&resolved);
        let entry = rename.map(str::to_string).unwrap_or(paths::base(&abs));
        layer::create_tree(&host_path(root, &source), entry.as_bytes(), out)?;
        Ok(stat)
    })
}

/// Extracts the tar `archive` into the directory `path` of container `name` (`PUT
/// /containers/NAME/archive`): owners as the archive has them, or with `archive` (`-a`)
/// the container's user's when it has one.
pub fn extract_to_dir(
    store: &Store,
    name: &str,
    path: &str,
    archive: &mut (dyn Read + Send),
    copy_uid_gid: bool,
) -> Result<(), CopyError> {
    let c = load(store, name, path)?;
    let plan = ViewPlan::of(store, &c)?;
    let owner = if copy_uid_gid {
        container_user(store, &c)?
    } else {
        None
    };
    plan.with(|root| {
        let abs = paths::container_abs(path);
        let resolved = resolve_in_scope(root, &abs)
            .map_err(|e| CopyError::Daemon(format!("{path}: {}", host::go_text(&e))))?;
        match lstat(root, &resolved)? {
            None => {
                return Err(CopyError::NotFound {
                    container: name.into(),
                    path: path.into(),
                });
            }
            Some(m) if !m.is_dir() => {
                return Err(CopyError::Daemon(
                    "extraction point is not a directory".into(),
                ));
            }
            Some(_) => {}
        }
        let in_mount = plan.binds.iter().filter(|b| b.user_mount).find(|b| {
            b.destination == "/"
                || resolved == b.destination
                || resolved.starts_with(&format!("{}/", b.destination))
        });
        match in_mount {
            Some(b) if b.read_only => {
                return Err(CopyError::Daemon(
                    "mounted volume is marked read-only".into(),
                ));
            }
            None if plan.read_only => {
                return Err(CopyError::Daemon(
                    "container rootfs is marked read-only".into(),
                ));
            }
            _ => {}
        }
        let dir = crate::inroot::open_dir(root, &resolved)?.ok_or_else(|| CopyError::NotFound {
            container: name.into(),
            path: path.into(),
        })?;
        let target = format!("/proc/self/fd/{}", dir.as_raw_fd());
        let mut opts = layer::ApplyOptions::default();
        opts.no_overwrite_dir_non_dir = true;
        // Docker's daemon extracts in a child process and reports its failure so.
        let conflict = |e| {
            host::overwrite_message(e, &resolved, |m| {
                CopyError::Daemon(format!("Error processing tar file(exit status 1): {m}"))
            })
        };
        let Some((uid, gid)) = owner else {
            layer::apply_layer(Path::new(&target), archive, &opts).map_err(conflict)?;
            return Ok(());
        };
        // Owners rewritten as the archive streams, by a thread between two pipe ends.
        let (reader, writer) =
            std::io::pipe().map_err(|e| RuntimeError::io("pipe", Path::new(&target), e))?;
        std::thread::scope(|s| {
            let rewrite = s.spawn(move || rewrite_owner(archive, writer, uid, gid));
            let applied = layer::apply_layer(Path::new(&target), reader, &opts);
            let rewritten = rewrite
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            applied.map_err(conflict)?;
            rewritten.map_err(|e| RuntimeError::io("read the archive for", Path::new(path), e))?;
            Ok(())
        })
    })
}

/// The owner `-a` gives files copied in: the container's user (`-u`, else the image's
/// `User`) looked up as Docker's daemon does (`idtools.LookupUser`: the host's passwd
/// database, by name, then as `getent` would, by uid); none when the container has no
/// user.
fn container_user(store: &Store, c: &Container) -> Result<Option<(u32, u32)>, CopyError> {
    let user = match &c.record.options.user {
        Some(u) => u.clone(),
        None => {
            let info = crate::container::record_image(store, &c.record)?;
            let bytes = store.image_config(&info).map_err(RuntimeError::from)?;
            let config = oci::ImageConfig::from_slice(&bytes)
                .map_err(|e| CopyError::Daemon(e.to_string()))?;
            config.config.user.unwrap_or_default()
        }
    };
    if user.is_empty() {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let entry = |by_uid: bool| {
        passwd.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let hit = if by_uid { f.get(2) } else { f.first() };
            match (hit, f.get(2), f.get(3)) {
                (Some(k), Some(u), Some(g)) if *k == user => {
                    Some((u.parse::<u32>().ok()?, g.parse::<u32>().ok()?))
                }
                _ => None,
            }
        })
    };
    entry(false)
        .or_else(|| entry(true))
        .map(Some)
        .ok_or_else(|| {
            CopyError::Daemon(format!(
                "getent unable to find entry \"{user}\" in passwd database"
            ))
        })
}

/// Copies the tar stream `input` to `out` with every entry's owner set to `uid:gid`.
fn rewrite_owner(
    input: &mut (dyn Read + Send),
    out: impl Write,
    uid: u32,
    gid: u32,
) -> std::io::Result<()> {
    let mut archive = tar::Archive::new(input);
    let mut builder = tar::Builder::new(std::io::BufWriter::new(out));
    for entry in archive.entries()? {
        let mut entry = entry?;
        let mut header = entry.header().clone();
        header.set_uid(uid.into());
        header.set_gid(gid.into());
        let path = entry.path()?.into_owned();
        match entry.link_name()?.map(|l| l.into_owned()) {
            Some(link) => builder.append_link(&mut header, &path, &link)?,
            None => builder.append_data(&mut header, &path, &mut entry)?,
        }
    }
    builder.into_inner()?.flush()
}

/// `docker cp CONTAINER:SRC DEST|-`: the client's side of a copy out.
pub fn copy_from_container(
    store: &Store,
    name: &str,
    src: &str,
    dst: CopyOut<'_>,
    opts: CpOptions,
) -> Result<(), CopyError> {
    let dst_path = match &dst {
        CopyOut::Path(p) => {
            let abs = host::absolute(p)?;
            host::validate_output_path(&abs)?;
            Some(abs)
        }
        CopyOut::Stream(_) => None,
    };
    let mut src_path = src.to_string();
    let mut rebase = None;
    if opts.follow_link
        && let Ok(stat) = stat_path(store, name, src)
        && let Some(target) = stat.link_target.filter(|_| stat.is_symlink)
    {
        let (resolved, name) = paths::rebase_name(src, &target);
        src_path = resolved;
        rebase = name;
    }
    let dst_path = match (dst, dst_path) {
        (CopyOut::Stream(out), _) => {
            archive_path(store, name, &src_path, None, out)?;
            return Ok(());
        }
        (_, Some(p)) => p,
        (CopyOut::Path(_), None) => unreachable!("a path destination has its absolute path"),
    };
    // The source's kind decides where its archive goes: ask first (as the client learns it
    // from the response's stat header before extracting).
    let stat = stat_path(store, name, &src_path)?;
    let src_info = CopyInfo {
        path: src_path.clone(),
        exists: true,
        is_dir: stat.is_dir,
        rebase_name: rebase,
    };
    let dst_info = host::destination_info(&dst_path)?;
    let (dst_dir, new_name) = paths::prepare_archive_copy(&src_info, &dst_info)
        .map_err(|e| CopyError::Client(e.message().into()))?;
    let entry = new_name.unwrap_or_else(|| paths::archive_name(&src_info));
    let (reader, mut writer) =
        std::io::pipe().map_err(|e| RuntimeError::io("pipe", Path::new(&dst_dir), e))?;
    std::thread::scope(|s| {
        let extract = s.spawn(|| host::extract_local(reader, Path::new(&dst_dir)));
        let archived = archive_path(store, name, &src_path, Some(&entry), &mut writer);
        drop(writer);
        let extracted = extract
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        archived.and(extracted)
    })
}

/// `docker cp SRC|- CONTAINER:DEST`: the client's side of a copy in.
pub fn copy_to_container(
    store: &Store,
    src: CopyIn<'_>,
    name: &str,
    dst: &str,
    opts: CpOptions,
) -> Result<(), CopyError> {
    let src_path = match &src {
        CopyIn::Path(p) => Some(host::absolute(p)?),
        CopyIn::Stream(_) => None,
    };
    let mut dst_info = CopyInfo {
        path: dst.to_string(),
        ..CopyInfo::default()
    };
    let mut stat = stat_path(store, name, dst);
    if let Ok(PathStat {
        is_symlink: true,
        link_target: Some(target),
        ..
    }) = &stat
    {
        dst_info.path = target.clone();
        stat = stat_path(store, name, target);
    }
    if let Ok(s) = &stat {
        if s.is_device {
            return Err(CopyError::Client(format!(
                "destination \"{name}:{dst}\" must be a directory or a regular file: got a device"
            )));
        }
        dst_info.exists = true;
        dst_info.is_dir = s.is_dir;
    }
    match (src, src_path) {
        (CopyIn::Stream(input), _) => {
            if !dst_info.is_dir {
                return Err(CopyError::Client(format!(
                    "destination \"{name}:{dst}\" must be a directory"
                )));
            }
            extract_to_dir(store, name, &dst_info.path, input, opts.archive)
        }
        (CopyIn::Path(_), Some(src_path)) => {
            let src_info = host::source_info(&src_path, opts.follow_link)?;
            let (dst_dir, new_name) = paths::prepare_archive_copy(&src_info, &dst_info)
                .map_err(|e| CopyError::Client(e.message().into()))?;
            let entry = new_name.unwrap_or_else(|| paths::archive_name(&src_info));
            let source = paths::clean(&src_info.path);
            let mut archive = host::archive_reader(source.into(), entry)?;
            extract_to_dir(store, name, &dst_dir, &mut archive, opts.archive)
        }
        (CopyIn::Path(_), None) => unreachable!("a path source has its absolute path"),
    }
}
