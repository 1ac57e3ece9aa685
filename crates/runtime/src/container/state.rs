//! What other processes conclude from a container's state file: its observed state (a
//! dead monitor means exited), settling a stale `running` record, waiting until an exit
//! is recorded, and the removals every command shares (`--rm`, `rm -v`, `container
//! prune`).

use std::path::Path;
use std::time::{Duration, Instant};

use store::Store;

use super::{Container, list, load, owned_by_live_process};
use crate::RuntimeError;
use crate::oci_runtime::OciRuntime;
use crate::record::{ContainerState, Status, read_json, write_state};

/// How often [`wait_recorded`] reads the state.
const RECORD_POLL: Duration = Duration::from_millis(10);

fn alive(pid: i32) -> bool {
    pid > 0 && Path::new(&format!("/proc/{pid}")).exists()
}

/// The state other processes should show for `c`: as written, except that a container
/// said to be running whose monitor is gone and whose init the runtime no longer runs is
/// exited, with an unknown code (255) and an error saying why.
pub fn observed_state(c: &Container, runtime: &OciRuntime) -> Result<ContainerState, RuntimeError> {
    let mut s = c.state.clone();
    if s.restarting && !alive(s.monitor_pid) {
        // Its monitor died while waiting to restart it: nothing will.
        s.restarting = false;
        s.monitor_pid = 0;
    }
    if s.status != Status::Running || alive(s.monitor_pid) || c.is_running(runtime)? {
        return Ok(s);
    }
    s.status = Status::Exited;
    s.pid = 0;
    s.exit_code = Some(255);
    s.error = Some("the container's monitor exited before it".into());
    Ok(s)
}

/// Waits until the exit of `c` is recorded: its state file no longer says running (its
/// monitor wrote the exit code; or the monitor died and [`observed_state`] concludes it),
/// or the container is gone (`--rm`). Returns that state, `None` once removed; an error
/// after `limit`, with Docker's message.
pub fn wait_recorded_state(
    c: &Container,
    runtime: &OciRuntime,
    limit: Duration,
) -> Result<Option<ContainerState>, RuntimeError> {
    let start = Instant::now();
    loop {
        let state: ContainerState = match read_json(&c.dir.state()) {
            Ok(s) => s,
            Err(_) if !c.dir.0.exists() => return Ok(None),
            Err(e) => return Err(e),
        };
        let now = Container { state, ..c.clone() };
        let seen = observed_state(&now, runtime)?;
        if seen.status != Status::Running {
            return Ok(Some(seen));
        }
        if start.elapsed() > limit {
            return Err(RuntimeError::InvalidOptions(format!(
                "tried to kill container {}, but did not receive an exit event",
                c.record.id
            )));
        }
        std::thread::sleep(RECORD_POLL);
    }
}

/// Waits until the monitor of container `id` has recorded its exit (or the container is
/// gone, as `--rm` makes it), for at most `limit`. Returns the exit code when it is known.
pub fn wait_recorded(
    store_root: &Path,
    id: &str,
    runtime: &OciRuntime,
    limit: Duration,
) -> Result<Option<i32>, RuntimeError> {
    let c = match load(store_root, id) {
        Ok(c) => c,
        Err(RuntimeError::NoSuchContainer(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(wait_recorded_state(&c, runtime, limit)?.and_then(|s| s.exit_code))
}

/// What `container prune` removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// The container's ID.
    pub id: String,
    /// The bytes its writable layer held.
    pub size: u64,
}

/// Removes every container that is not running (`container prune`), leaving its
/// anonymous volumes to `volume prune` as Docker does, each settled first (see [`Container::settle`]); a container removed meanwhile
/// by its own monitor (`--rm`) or another prune is skipped. Returns what was removed.
pub fn prune(store: &Store) -> Result<Vec<Pruned>, RuntimeError> {
    prune_matching(store, &|_| true)
}

/// [`prune`] of the containers `allowed` lets go (`--filter until=`/`label=`).
pub fn prune_matching(
    store: &Store,
    allowed: &dyn Fn(&Container) -> bool,
) -> Result<Vec<Pruned>, RuntimeError> {
    let mut removed = Vec::new();
    for mut c in list(store.root())? {
        if !allowed(&c) {
            continue;
        }
        let rt = c.oci_runtime(store.root())?;
        // A create in progress, or a live build's RUN container between its steps.
        if owned_by_live_process(&c.dir.0) || c.observed(&rt)?.status == Status::Running {
            continue;
        }
        c.settle(&rt)?;
        let id = c.record.id.clone();
        let size = c.size_rw().unwrap_or(0);
        // Docker's prune leaves the container's anonymous volumes (`volume prune` takes
        // them), as `rm` without `-v` does.
        match c.remove(store, &rt, false) {
            Ok(()) => removed.push(Pruned { id, size }),
            // Removed meanwhile by its own monitor (`--rm`) or another prune.
            Err(_) if !store.layout().container(&id).exists() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

impl Container {
    /// The OCI runtime this container was created with.
    pub fn oci_runtime(&self, store_root: &Path) -> Result<OciRuntime, RuntimeError> {
        OciRuntime::detect(Some(&self.record.runtime), store_root)
    }

    /// Its state as other processes should see it (see [`observed_state`]), with whether
    /// a running container is paused.
    pub fn observed(&self, runtime: &OciRuntime) -> Result<ContainerState, RuntimeError> {
        let mut s = observed_state(self, runtime)?;
        if s.status == Status::Running {
            s.paused = self.frozen();
        }
        Ok(s)
    }

    /// Whether the container's cgroup is frozen (`pause`), read from the cgroup freezer
    /// itself: no runtime process, and nothing written into the container's directory,
    /// which its monitor may be removing (`--rm`) meanwhile. False once the cgroup is gone.
    pub(crate) fn frozen(&self) -> bool {
        let cgroup = format!("{}/{}", super::CGROUP_PARENT, self.record.id);
        if crate::oci_runtime::cgroup_v2_unified() {
            std::fs::read_to_string(format!("/sys/fs/cgroup{cgroup}/cgroup.freeze"))
                .is_ok_and(|s| s.trim() == "1")
        } else {
            std::fs::read_to_string(format!("/sys/fs/cgroup/freezer{cgroup}/freezer.state"))
                .is_ok_and(|s| s.trim() != "THAWED")
        }
    }

    /// `docker pause`: freezes the container's processes (the cgroup freezer). The caller
    /// checks that it runs and is not paused yet, for Docker's messages.
    pub fn pause(&self, runtime: &OciRuntime) -> Result<(), RuntimeError> {
        runtime.pause(&self.record.id, &self.dir.runtime_log())?;
        crate::events::container(self, "pause", &[]);
        Ok(())
    }

    /// `docker unpause`: thaws them.
    pub fn unpause(&self, runtime: &OciRuntime) -> Result<(), RuntimeError> {
        runtime.resume(&self.record.id, &self.dir.runtime_log())?;
        crate::events::container(self, "unpause", &[]);
        Ok(())
    }

    /// A container whose state file says running but that no longer runs (its monitor was
    /// killed, the host crashed) is settled: the runtime's record of it is deleted and its
    /// observed state (exited) written, so it can be removed or started again.
    pub fn settle(&mut self, runtime: &OciRuntime) -> Result<(), RuntimeError> {
        if self.state.status != Status::Running {
            return Ok(());
        }
        let seen = self.observed(runtime)?;
        if seen.status == Status::Running {
            return Ok(());
        }
        match runtime.delete(&self.record.id, &self.dir.runtime_log()) {
            Ok(()) | Err(RuntimeError::NoSuchContainer(_)) => {}
            Err(e) => return Err(e),
        }
        self.state = seen;
        write_state(&self.dir.state(), &self.state)
    }

    /// Writes a fresh `created` state for a container that ran before, so that a new
    /// monitor's start is seen as such (an old `exited` state would end the wait at once).
    pub(crate) fn reset_created(&self) -> Result<(), RuntimeError> {
        if self.state.status != Status::Created {
            write_state(&self.dir.state(), &ContainerState::created())?;
        }
        Ok(())
    }

    /// Removes the container (see [`Container::remove`]) with its anonymous volumes
    /// (`--rm`, `rm -v`).
    pub fn remove_with_volumes(
        self,
        store: &Store,
        runtime: &OciRuntime,
        force: bool,
    ) -> Result<(), RuntimeError> {
        let volumes = self.anonymous_volumes();
        self.remove(store, runtime, force)?;
        for v in volumes {
            super::remove_volume(store, &v)?;
        }
        Ok(())
    }
}
