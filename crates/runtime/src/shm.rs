//! The `/dev/shm` of a `--ipc shareable` container, kept on the host as Docker keeps it
//! (`containers/<id>/mounts/shm`): a tmpfs under the container's directory, bind-mounted
//! into it and into every container that joins its IPC namespace (a tmpfs mounted inside
//! the container's own mount namespace could not be bound into another).

use std::path::{Path, PathBuf};

use rustix::mount::MountFlags;

use crate::RuntimeError;
use crate::mount::{Kernel, is_mounted, unmount};
use crate::record::ContainerDir;

/// The tmpfs options: world-writable and sticky, `bytes` (`--shm-size`) or Docker's
/// 64 MiB.
fn options(bytes: Option<i64>) -> std::ffi::CString {
    let size = match bytes.filter(|&b| b > 0) {
        Some(b) => b.to_string(),
        None => "65536k".into(),
    };
    std::ffi::CString::new(format!("mode=1777,size={size}")).expect("no NUL in digits")
}

/// Where the shareable `/dev/shm` of the container in `dir` is mounted on the host.
pub fn path(dir: &ContainerDir) -> PathBuf {
    dir.0.join("shm")
}

/// Mounts the tmpfs (`size_bytes` from `--shm-size`) at `path` unless it already is.
pub fn mount(path: &Path, size_bytes: Option<i64>) -> Result<(), RuntimeError> {
    if is_mounted(path)? {
        return Ok(());
    }
    std::fs::create_dir_all(path).map_err(|e| RuntimeError::io("create", path, e))?;
    rustix::mount::mount(
        "shm",
        path,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        options(size_bytes).as_c_str(),
    )
    .map_err(|e| RuntimeError::io("mount the shared /dev/shm at", path, e.into()))
}

/// Unmounts it (lazily when a joined container still uses it); not mounted is success.
pub fn release(path: &Path) -> Result<(), RuntimeError> {
    unmount(&Kernel, path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shared_shm_takes_shm_size_or_dockers_default() {
        for (bytes, want) in [
            (None, "mode=1777,size=65536k"),
            (Some(0), "mode=1777,size=65536k"),
            (Some(1 << 20), "mode=1777,size=1048576"),
        ] {
            assert_eq!(super::options(bytes).to_str().unwrap(), want);
        }
    }
}
