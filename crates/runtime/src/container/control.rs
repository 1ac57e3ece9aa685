//! What a user's `stop`, `kill`, `rm` and `wait` do to a container in whatever state it
//! is (running, restarting between two runs of its `--restart` policy, exited with a
//! stale record), each returning only once its monitor has recorded the outcome.

use std::path::Path;
use std::time::Duration;

use store::Store;

use super::{Container, load, wait_exited, wait_recorded_state};
use crate::RuntimeError;
use crate::oci_runtime::OciRuntime;
use crate::record::Status;

/// How long `stop`, `kill` and `rm -f` wait for a container's exit to be recorded
/// (Docker: 10 s, then a direct kill and 2 s more; a loaded machine's monitor may need
/// longer to unmount).
pub const EXIT_RECORD_WAIT: Duration = Duration::from_secs(30);

/// How often `wait` reads the state.
const WAIT_POLL: Duration = Duration::from_millis(20);

/// Whether container `id` still runs (`logs -f`): false once it exited or is gone.
pub fn still_running(
    store_root: &Path,
    id: &str,
    runtime: &OciRuntime,
) -> Result<bool, RuntimeError> {
    match load(store_root, id) {
        Ok(c) => Ok(c.observed(runtime)?.status == Status::Running),
        Err(RuntimeError::NoSuchContainer(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

impl Container {
    /// Running, or restarting under its `--restart` policy (which Docker counts as
    /// running: its monitor starts it).
    pub fn is_up(&self, runtime: &OciRuntime) -> Result<bool, RuntimeError> {
        let seen = self.observed(runtime)?;
        Ok(seen.status == Status::Running || seen.restarting)
    }

    /// Whether `strata system boot` starts this container again (Docker's daemon does at
    /// its start): it is not up (its monitor died with the host) and its `--restart`
    /// policy restarts it after its last exit, unless the user stopped it.
    pub fn restarts_at_boot(&self, runtime: &OciRuntime) -> Result<bool, RuntimeError> {
        let seen = self.observed(runtime)?;
        // Never started (created), or up: nothing to bring back.
        if seen.status != Status::Exited || seen.restarting {
            return Ok(false);
        }
        Ok(self.record.options.restart.should_restart(
            seen.exit_code.unwrap_or(0),
            0,
            self.dir.stopped_by_user().exists(),
        ))
    }

    /// `docker stop`: the stop signal (`signal`, else the container's), then `SIGKILL`
    /// after `timeout`; returns once the exit is recorded. A restarting container's
    /// restarts end (and the run its monitor was just starting is stopped as any other);
    /// one that is not running is left as it is.
    pub fn stop_and_wait(
        mut self,
        runtime: &OciRuntime,
        signal: Option<&str>,
        timeout: Duration,
    ) -> Result<(), RuntimeError> {
        let mut seen = self.observed(runtime)?;
        if seen.restarting {
            self.state = seen;
            if !self.cancel_restart()? {
                return Ok(());
            }
            seen = self.observed(runtime)?;
        }
        if seen.status != Status::Running {
            return Ok(());
        }
        if let Some(sig) = signal {
            self.record.stop_signal = sig.to_string();
        }
        self.stop(runtime, timeout)?;
        wait_recorded_state(&self, runtime, EXIT_RECORD_WAIT)?;
        crate::events::container(&self, "stop", &[]);
        Ok(())
    }

    /// `docker kill`: sends `signal` (see [`Container::kill_and_wait`]). A restarting
    /// container's restarts end, and the run its monitor was just starting, if it was, is
    /// killed. Returns false, sending nothing, when the container is not running.
    pub fn kill_running(
        mut self,
        runtime: &OciRuntime,
        signal: &str,
    ) -> Result<bool, RuntimeError> {
        let seen = self.observed(runtime)?;
        if seen.restarting {
            self.state = seen;
            if !self.cancel_restart()? {
                return Ok(true);
            }
            // That run may have ended by itself meanwhile: the kill still did its job.
            // (A container still running after the wait is an error of its own.)
            if self
                .kill_and_wait(runtime, signal, EXIT_RECORD_WAIT)
                .is_err()
            {
                wait_recorded_state(&self, runtime, EXIT_RECORD_WAIT)?;
            }
            return Ok(true);
        }
        if seen.status != Status::Running {
            return Ok(false);
        }
        // Docker's kill with SIGKILL returns once the container is stopped.
        self.kill_and_wait(runtime, signal, EXIT_RECORD_WAIT)?;
        Ok(true)
    }

    /// `docker rm [-f] [-v]`: removes the container, with `force` killing a running one
    /// first (and waiting for its monitor to record the exit and unmount), with `volumes`
    /// its anonymous volumes too. A restarting container needs `force`. A container its
    /// own monitor removed meanwhile (`--rm`) counts as removed.
    pub fn remove_as_asked(
        self,
        store: &Store,
        runtime: &OciRuntime,
        force: bool,
        volumes: bool,
    ) -> Result<(), RuntimeError> {
        let id = self.record.id.clone();
        let c = if force && self.observed(runtime)?.status == Status::Running {
            // Let its monitor see the exit and unmount, then remove what is left.
            let killed = self.kill(runtime, "KILL");
            // It may have exited between the look and the kill (the runtime then says the
            // container does not exist): its monitor is recording the exit, which is the
            // state `-f` wants. Only a container still running after that is an error.
            let waited = wait_recorded_state(&self, runtime, EXIT_RECORD_WAIT);
            if let Err(e) = killed {
                waited.map_err(|_| e)?;
            } else {
                waited?;
            }
            match load(store.root(), &id) {
                Ok(c) => c,
                // Its monitor removed it (`--rm`).
                Err(RuntimeError::NoSuchContainer(_)) => return Ok(()),
                Err(e) => return Err(e),
            }
        } else {
            let mut c = self;
            c.settle(runtime)?;
            // Decide on the state as it is now, not as loaded: a container loaded running
            // whose init has just exited may since have been recorded exited and about to
            // restart by its monitor (whose `--restart` run a plain `rm` then took from
            // under it). After `settle`, running means its monitor lives: refused.
            c = match load(store.root(), &id) {
                Ok(c) => c,
                Err(RuntimeError::NoSuchContainer(_)) => return Ok(()),
                Err(e) => return Err(e),
            };
            let seen = c.observed(runtime)?;
            if seen.status == Status::Running && !force {
                return Err(c.running_refusal());
            }
            if seen.restarting {
                if !force {
                    return Err(RuntimeError::InvalidOptions(format!(
                        "You cannot remove a restarting container {id}. Stop the container \
                         before attempting removal or force remove"
                    )));
                }
                if c.cancel_restart()? {
                    // Its monitor had just started it again: as `-f` does to a running one.
                    let _ = c.kill(runtime, "KILL");
                    wait_recorded_state(&c, runtime, EXIT_RECORD_WAIT)?;
                    c = load(store.root(), &id)?;
                }
            }
            c
        };
        let result = if volumes {
            c.remove_with_volumes(store, runtime, force)
        } else {
            c.remove(store, runtime, force)
        };
        match result {
            // Removed meanwhile by its own monitor (`--rm`).
            Err(_) if !store.layout().container(&id).exists() => Ok(()),
            other => other,
        }
    }

    /// `docker wait`: the exit code once the container has exited (as its monitor records
    /// it); a never-started container's at once.
    pub fn wait_exit_code(
        &self,
        store_root: &Path,
        runtime: &OciRuntime,
    ) -> Result<i32, RuntimeError> {
        let seen = self.observed(runtime)?;
        if seen.status == Status::Created {
            return Ok(seen.exit_code.unwrap_or(0));
        }
        wait_exited(store_root, runtime, &self.record.id, WAIT_POLL)
    }
}
