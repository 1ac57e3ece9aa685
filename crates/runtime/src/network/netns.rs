//! Persistent network namespaces: a namespace made by a short-lived thread and kept alive
//! by a bind mount of it on a file (as `ip netns add` and podman do), so that the
//! user-mode helper can set it up *before* the container's init runs in it.

use std::fs;
use std::path::Path;

use crate::RuntimeError;

/// Makes a new network namespace and binds it on `path` (a new empty file).
pub fn create(path: &Path) -> Result<(), RuntimeError> {
    fs::File::create(path).map_err(|e| RuntimeError::io("create", path, e))?;
    let target = path.to_path_buf();
    // `unshare(CLONE_NEWNET)` moves only the calling thread: a thread of its own, which
    // ends right after, keeps this process's namespace as it was.
    let made = std::thread::spawn(move || -> std::io::Result<()> {
        // Deprecated for the flags that unshare file tables or memory under Rust's feet
        // (`CLONE_FILES`, `CLONE_VM`); a network namespace is neither.
        #[allow(deprecated)]
        rustix::thread::unshare(rustix::thread::UnshareFlags::NEWNET)?;
        let tid = rustix::thread::gettid().as_raw_nonzero();
        let own = format!("/proc/self/task/{tid}/ns/net");
        rustix::mount::mount_bind(own.as_str(), &target)?;
        Ok(())
    })
    .join()
    .unwrap_or_else(|_| Err(std::io::Error::other("the namespace thread panicked")));
    if let Err(e) = made {
        let _ = fs::remove_file(path);
        return Err(RuntimeError::io("make a network namespace at", path, e));
    }
    Ok(())
}

/// Whether `path` is a namespace bound on a file (the mount is there).
pub fn is_namespace(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // nsfs files live on their own device; the file under them is on the store's.
    match (fs::metadata(path), path.parent().map(fs::metadata)) {
        (Ok(f), Some(Ok(d))) => f.dev() != d.dev(),
        _ => false,
    }
}

/// Unmounts and deletes the namespace file at `path`, if there is one. The namespace
/// itself ends with its last user.
pub fn remove(path: &Path) -> Result<(), RuntimeError> {
    if !path.exists() {
        return Ok(());
    }
    match rustix::mount::unmount(path, rustix::mount::UnmountFlags::DETACH) {
        Ok(()) | Err(rustix::io::Errno::INVAL) => {}
        Err(e) => return Err(RuntimeError::io("unmount", path, e.into())),
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(RuntimeError::io("remove", path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Needs root (CAP_SYS_ADMIN): made, distinct from ours, then gone.
    #[test]
    fn made_and_removed() {
        if !rustix::process::geteuid().is_root() {
            panic!("this test needs root");
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ns");
        create(&p).unwrap();
        use std::os::unix::fs::MetadataExt;
        let ours = fs::metadata("/proc/self/ns/net").unwrap().ino();
        assert_ne!(fs::metadata(&p).unwrap().ino(), ours);
        remove(&p).unwrap();
        assert!(!p.exists());
        remove(&p).unwrap();
    }
}
