//! The `/dev/shm` of a `--ipc shareable` container, kept on the host as Docker keeps it
//! (`containers/<id>/mounts/shm`): a tmpfs under the container's directory, bind-mounted
//! into it and into every container that joins its IPC namespace (a tmpfs mounted inside
//! the container's own mount namespace could not be bound into another).

use std::path::{Path, PathBuf};

use rustix::mount::MountFlags;

use crate::RuntimeError;
use crate::mount::{Kernel, is_mounted, unmount};
use crate::record::ContainerDir;

/// Docker's `/dev/shm` options (64 MiB, world-writable and sticky).
const OPTIONS: &std::ffi::CStr = c"mode=1777,size=65536k";

/// Where the shareable `/dev/shm` of the container in `dir` is mounted on the host.
pub fn path(dir: &ContainerDir) -> PathBuf {
    dir.0.join("shm")
}

/// Mounts the tmpfs at `path` unless it already is.
pub fn mount(path: &Path) -> Result<(), RuntimeError> {
    if is_mounted(path)? {
        return Ok(());
    }
    std::fs::create_dir_all(path).map_err(|e| RuntimeError::io("create", path, e))?;
    rustix::mount::mount(
        "shm",
        path,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        OPTIONS,
    )
    .map_err(|e| RuntimeError::io("mount the shared /dev/shm at", path, e.into()))
}

/// Unmounts it (lazily when a joined container still uses it); not mounted is success.
pub fn release(path: &Path) -> Result<(), RuntimeError> {
    unmount(&Kernel, path)
}
