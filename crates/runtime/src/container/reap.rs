//! Reaping what killed processes left under `containers/`: directories whose owner (see
//! [`super::owner`]) is dead. That is a container whose creation was cut short at any
//! step (staging directory, bundle, init, upper or work directory made, record not yet
//! written, overlay mounted, runtime not yet started) and a build's RUN container whose
//! build was killed (still running, mounted, known to the OCI runtime).
//!
//! [`reap`] is meant to run at the start of every command that opens the store: with
//! nothing to reap it costs one directory listing and one failed `stat` per container.

use std::fs;
use std::path::Path;

use store::Store;

use super::owner::{OWNER_FILE, Owner, STAGING_PREFIX};
use crate::mount::{Kernel, is_mounted, unmount};
use crate::oci_runtime::OciRuntime;
use crate::record::{ContainerDir, ContainerRecord, read_json};

/// Removes every container directory whose owner is dead: kills and deletes its process
/// in the OCI runtime (`runtime` is asked for one only when there is something to reap;
/// `None` skips that step), unmounts its root filesystem and shared memory, drops its use
/// of the image and its anonymous volumes, and removes the directory. Best effort: what
/// fails now is tried again by the next command. Returns the IDs of the containers
/// removed (staging directories are not counted).
pub fn reap(store: &Store, runtime: &mut dyn FnMut() -> Option<OciRuntime>) -> Vec<String> {
    let dir = store.layout().containers_dir();
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut rt: Option<Option<OciRuntime>> = None;
    let mut reaped = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if name.starts_with(STAGING_PREFIX) {
            // Holds nothing but (maybe) an owner file: nothing mounted, nothing running.
            if Owner::of_staging(&name).is_some_and(|o| !o.alive()) {
                let _ = fs::remove_dir_all(&path);
            }
            continue;
        }
        if name.starts_with('.') {
            continue;
        }
        let dead = match Owner::of_dir(&path) {
            None => false,
            Some(owner) => !owner.is_some_and(|o| o.alive()),
        };
        if !dead {
            continue;
        }
        let rt = rt.get_or_insert_with(&mut *runtime).as_ref();
        if remove_dead(store, rt, &ContainerDir(path), &name) {
            reaped.push(name);
        }
    }
    reaped
}

/// Removes the dead-owned container directory `dir` of container `id`; whether it is gone.
fn remove_dead(store: &Store, rt: Option<&OciRuntime>, dir: &ContainerDir, id: &str) -> bool {
    if let Some(rt) = rt {
        // `delete --force` kills the init and whatever else runs in its cgroup.
        let _ = rt.delete(id, &dir.runtime_log());
    }
    let _ = unmount(&Kernel, &dir.rootfs());
    let _ = crate::shm::release(&crate::shm::path(dir));
    // Never walk into a root filesystem that is still mounted: that would delete through
    // the overlay. Hand the directory back to the next command instead.
    if is_mounted(&dir.rootfs()).unwrap_or(true) {
        return false;
    }
    let _ = store.remove_image_user(id);
    if let Ok(record) = read_json::<ContainerRecord>(&dir.record()) {
        let c = super::Container {
            record,
            state: crate::record::ContainerState::created(),
            dir: dir.clone(),
        };
        for v in c.anonymous_volumes() {
            let _ = super::remove_volume(store, &v);
        }
    }
    remove_owner_last(&dir.0).is_ok()
}

/// Removes `dir` with its owner file last: a kill midway leaves a directory that is still
/// recognised as dead-owned, never one that passes for a complete container. Concurrent
/// reapers of one directory are harmless: each removal tolerates the other's.
fn remove_owner_last(dir: &Path) -> std::io::Result<()> {
    for e in fs::read_dir(dir)?.flatten() {
        if e.file_name() == OWNER_FILE {
            continue;
        }
        let p = e.path();
        let removed = match e.file_type() {
            Ok(t) if t.is_dir() => fs::remove_dir_all(&p),
            _ => fs::remove_file(&p),
        };
        match removed {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    match fs::remove_file(dir.join(OWNER_FILE)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    match fs::remove_dir(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Whether container directory `dir` is owned by a live process other than a complete
/// container's (a create in progress, or a live build's RUN container).
pub fn owned_by_live_process(dir: &Path) -> bool {
    matches!(Owner::of_dir(dir), Some(Some(o)) if o.alive())
}
