//! The container's files as `docker cp` sees them: its root filesystem (the overlay of its
//! image layers and writable layer) with its volumes, bind mounts and `/etc/hosts`,
//! `/etc/resolv.conf`, `/etc/hostname` mounted where the container has them, as Docker's
//! daemon mounts them for a copy (`mountVolumes`; tmpfs mounts are not there).
//!
//! All of it is mounted in a private mount namespace of one thread made for the copy: the
//! host never sees these mounts, and they vanish with the thread, whatever happens. A
//! running container's overlay is already mounted on its `rootfs/` (that mount is used, so
//! a copy sees and makes live changes); a stopped one's is mounted there, read-write, in
//! the private namespace only.

use std::ffi::OsString;
use std::fs;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, MountPropagationFlags};
use store::Store;

use super::paths;
use crate::mount::{Kernel, Mounter, OverlayLayout, is_mounted, mount_overlay};
use crate::{Container, MountKind, RuntimeError, inroot};

/// One mount of the container, bound into the view.
#[derive(Debug, Clone)]
pub(crate) struct Bind {
    /// The host file or directory.
    pub source: PathBuf,
    /// Where the container has it (absolute, cleaned).
    pub destination: String,
    /// `:ro` (or `--read-only` for the network files).
    pub read_only: bool,
    /// A volume or bind mount the user asked for (`false`: the files Docker manages).
    pub user_mount: bool,
}

/// What to mount for a container's view, computed before entering the namespace.
pub(crate) struct ViewPlan {
    rootfs: PathBuf,
    layout: OverlayLayout,
    /// The mounts, in the order they are made.
    pub binds: Vec<Bind>,
    /// `--read-only`.
    pub read_only: bool,
}

impl ViewPlan {
    /// The mounts of container `c`, in Docker's order: user mounts by depth of their
    /// destination, then the network files.
    pub(crate) fn of(store: &Store, c: &Container) -> Result<ViewPlan, RuntimeError> {
        let layout = crate::container::layout(store, &c.record, &c.dir)?;
        let opts = &c.record.options;
        let mut binds: Vec<Bind> = opts
            .mounts
            .iter()
            .filter_map(|m| match &m.kind {
                MountKind::Bind { source } | MountKind::Volume { source, .. } => Some(Bind {
                    source: source.clone(),
                    destination: paths::clean(&m.destination),
                    read_only: m.read_only,
                    user_mount: true,
                }),
                MountKind::Tmpfs => None,
            })
            .collect();
        binds.sort_by_key(|b| b.destination.split('/').filter(|p| !p.is_empty()).count());
        for (dest, src) in [
            ("/etc/resolv.conf", c.dir.resolv_conf()),
            ("/etc/hostname", c.dir.hostname()),
            ("/etc/hosts", c.dir.hosts()),
        ] {
            if src.is_file() {
                binds.push(Bind {
                    source: src,
                    destination: dest.into(),
                    read_only: opts.read_only,
                    user_mount: false,
                });
            }
        }
        Ok(ViewPlan {
            rootfs: c.dir.rootfs(),
            layout,
            binds,
            read_only: opts.read_only,
        })
    }

    /// Runs `f` on the view's root directory, in a thread of its own whose private mount
    /// namespace holds the view. Threads `f` starts share that namespace.
    pub(crate) fn with<T: Send, E: From<RuntimeError> + Send>(
        &self,
        f: impl FnOnce(&Path) -> Result<T, E> + Send,
    ) -> Result<T, E> {
        std::thread::scope(|s| {
            s.spawn(|| {
                let mounted_here = self.enter()?;
                let out = f(&self.rootfs);
                if mounted_here {
                    // Gone with the namespace anyway, but not before this thread is
                    // joined: detached now, so the next mount of the same overlay (a
                    // copy's next step, a start) never meets it.
                    let _ = Kernel.unmount(&self.rootfs, true);
                }
                out
            })
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    /// Enters the private namespace and mounts the view; whether the overlay was mounted
    /// here (a stopped container's).
    fn enter(&self) -> Result<bool, RuntimeError> {
        let root = &self.rootfs;
        // Only the calling thread leaves the process's mount namespace; without FILES the
        // descriptor table stays shared, which is what the deprecation warns about.
        #[allow(deprecated)]
        rustix::thread::unshare(rustix::thread::UnshareFlags::NEWNS)
            .map_err(|e| RuntimeError::io("make a mount namespace for", root, e.into()))?;
        // Nothing mounted or unmounted here may reach the host's namespace.
        rustix::mount::mount_change(
            "/",
            MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
        )
        .map_err(|e| RuntimeError::io("make private the mounts of", Path::new("/"), e.into()))?;
        let mount_here = !is_mounted(root)?;
        if mount_here {
            fs::create_dir_all(root).map_err(|e| RuntimeError::io("create", root, e))?;
            mount_overlay(&Kernel, &self.layout, root)?;
        }
        for b in &self.binds {
            bind(root, b)?;
        }
        Ok(mount_here)
    }
}

/// Binds `b.source` on its destination inside `root`, the destination resolved inside the
/// root (a link in it cannot lead out) and made when missing, as Docker does.
fn bind(root: &Path, b: &Bind) -> Result<(), RuntimeError> {
    let meta = fs::metadata(&b.source).map_err(|e| RuntimeError::io("stat", &b.source, e))?;
    let dest = resolve_in_scope(root, &b.destination)
        .map_err(|e| RuntimeError::io("resolve", &host_path(root, &b.destination), e))?;
    let target = if meta.is_dir() {
        inroot::mkdir_all(root, &dest, None)?
    } else {
        let (parent, name) = paths::split(&dest);
        let dir = inroot::mkdir_all(root, parent, None)?;
        match rustix::fs::openat(
            &dir,
            name,
            rustix::fs::OFlags::CREATE
                | rustix::fs::OFlags::RDONLY
                | rustix::fs::OFlags::NOFOLLOW
                | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::from_raw_mode(0o755),
        ) {
            Ok(fd) => fd,
            Err(e) => {
                return Err(RuntimeError::io(
                    "create",
                    &host_path(root, &dest),
                    e.into(),
                ));
            }
        }
    };
    let via = format!("/proc/self/fd/{}", target.as_raw_fd());
    rustix::mount::mount_bind_recursive(&b.source, via.as_str())
        .map_err(|e| RuntimeError::io("bind-mount", &b.source, e.into()))?;
    if b.read_only {
        let at = host_path(root, &dest);
        rustix::mount::mount_remount(&at, MountFlags::BIND | MountFlags::RDONLY, "")
            .map_err(|e| RuntimeError::io("make read-only", &at, e.into()))?;
    }
    Ok(())
}

/// The host path of the container path `path` (absolute) under `root`, byte for byte
/// (`Path::join` would drop `root` for an absolute path and lose a trailing `/.`).
pub(crate) fn host_path(root: &Path, path: &str) -> PathBuf {
    let mut bytes = root.as_os_str().to_owned().into_vec();
    if !path.starts_with('/') {
        bytes.push(b'/');
    }
    bytes.extend_from_slice(path.as_bytes());
    PathBuf::from(OsString::from_vec(bytes))
}

/// The container path `path` with every symlink in it followed inside `root` (absolute
/// links are taken from `root`, `..` never climbs above it; what does not exist is kept
/// as written): Docker's `FollowSymlinkInScope`.
pub(crate) fn resolve_in_scope(root: &Path, path: &str) -> io::Result<String> {
    let mut done: Vec<String> = Vec::new();
    let mut todo: Vec<String> = path
        .split('/')
        .rev()
        .filter(|c| !c.is_empty())
        .map(String::from)
        .collect();
    let mut links = 0;
    while let Some(c) = todo.pop() {
        match c.as_str() {
            "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let candidate = host_path(root, &format!("/{}", [done.join("/"), c.clone()].join("/")));
        match fs::symlink_metadata(&candidate) {
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 255 {
                    return Err(io::Error::other(format!("too many links in {path}")));
                }
                let target = fs::read_link(&candidate)?;
                let target = target.to_string_lossy();
                if target.starts_with('/') {
                    done.clear();
                }
                todo.extend(
                    target
                        .split('/')
                        .rev()
                        .filter(|c| !c.is_empty())
                        .map(String::from),
                );
            }
            _ => done.push(c),
        }
    }
    Ok(format!("/{}", done.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        fs::create_dir_all(root.join("real/sub")).unwrap();
        std::os::unix::fs::symlink("/real", root.join("abs")).unwrap();
        std::os::unix::fs::symlink("real/sub", root.join("rel")).unwrap();
        std::os::unix::fs::symlink("../../../../..", root.join("real/up")).unwrap();
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        for (path, want) in [
            ("/abs/sub", "/real/sub"),
            ("/rel/x", "/real/sub/x"),
            ("/real/up/etc", "/etc"),
            ("/../../x", "/x"),
            ("/missing/../real", "/real"),
            ("/", "/"),
        ] {
            assert_eq!(resolve_in_scope(root, path).unwrap(), want, "{path}");
        }
        assert!(resolve_in_scope(root, "/loop").is_err());
        assert_eq!(
            host_path(root, "/a/."),
            PathBuf::from(format!("{}/a/.", root.display()))
        );
    }
}
