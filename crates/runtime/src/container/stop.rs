//! A container's end: waiting for its init ([`Running::wait`]), signalling it
//! ([`Container::kill`], Docker's waiting `kill`), and `stop`.

use std::path::Path;

use super::{Container, Running};
use crate::RuntimeError;
use crate::mount::{Kernel, unmount};
use crate::oci_runtime::OciRuntime;
use crate::record::{Status, now_rfc3339};

impl Container {
    /// Sends `signal` (`TERM`, `SIGKILL`, `9`) to the container's init. As with Docker,
    /// a container the user signalled (`kill`, `stop`, `rm -f`) is not restarted by its
    /// `--restart` policy: its monitor sees the mark left here.
    pub fn kill(&self, runtime: &OciRuntime, signal: &str) -> Result<(), RuntimeError> {
        self.mark_stopped_by_user();
        runtime.kill(&self.record.id, signal, &self.dir.runtime_log())?;
        crate::events::container(
            self,
            "kill",
            &[("signal", crate::events::signal_number(signal))],
        );
        // A paused container gets the signal once thawed, as Docker's kill does: thaw it.
        if self.frozen() {
            self.unpause(runtime)?;
        }
        Ok(())
    }

    /// Leaves the mark that keeps the monitor from restarting the container. Best effort:
    /// a container whose directory is already gone has no monitor left.
    fn mark_stopped_by_user(&self) {
        let _ = std::fs::write(self.dir.stopped_by_user(), b"");
    }

    /// Stops the restarts of a container whose monitor waits to start it again (Docker's
    /// `restarting`): it stays exited. Under the monitor's restart lock, so the monitor
    /// either sees the stop before starting it again or has started it already: returns
    /// whether it runs after all (the caller then stops or kills it as any running one).
    pub fn cancel_restart(&mut self) -> Result<bool, RuntimeError> {
        let _lock = restart_lock(&self.dir)?;
        self.mark_stopped_by_user();
        self.state = crate::record::read_json(&self.dir.state())?;
        if self.state.restarting {
            self.state.restarting = false;
            self.state.monitor_pid = 0;
            crate::record::write_state(&self.dir.state(), &self.state)?;
        }
        Ok(self.state.status == Status::Running)
    }

    /// `docker kill`: sends `signal`, and for `SIGKILL` returns only once the exit is
    /// recorded (its monitor wrote the code, or the container is gone), so that a `rm`
    /// right after finds it stopped. Waits at most `limit`.
    pub fn kill_and_wait(
        &self,
        runtime: &OciRuntime,
        signal: &str,
        limit: std::time::Duration,
    ) -> Result<(), RuntimeError> {
        self.kill(runtime, signal)?;
        if is_sigkill(signal) {
            super::wait_recorded_state(self, runtime, limit)?;
        }
        Ok(())
    }
}

/// Whether `signal` (`KILL`, `SIGKILL`, `kill`, `9`) names `SIGKILL`.
fn is_sigkill(signal: &str) -> bool {
    let upper = signal.to_ascii_uppercase();
    matches!(upper.strip_prefix("SIG").unwrap_or(&upper), "KILL" | "9")
}

impl Running {
    /// The container init's host PID.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The container.
    pub fn container(&self) -> &Container {
        &self.container
    }

    /// Waits for the container's process to exit, then deletes its runtime state, drains
    /// its output, unmounts its root filesystem and records the exit code (128 + signal
    /// for a killed process), which it returns.
    pub fn wait(self, runtime: &OciRuntime) -> Result<(Container, i32), RuntimeError> {
        self.wait_then(runtime, &|_| false)
    }

    /// [`Running::wait`] for a monitor that applies a restart policy: when `restarts` says
    /// the exit code starts the container again, the exit is recorded as `restarting` (and
    /// owned by this process) in the same write, so that no other command ever sees it
    /// plainly exited in between (a `rm` then took it from under its monitor).
    pub fn wait_then(
        self,
        runtime: &OciRuntime,
        restarts: &dyn Fn(i32) -> bool,
    ) -> Result<(Container, i32), RuntimeError> {
        let Running {
            mut container,
            pid,
            pumps,
            forwarder,
            network,
        } = self;
        let code = wait_exit(pid, &container.dir.0)?;
        if let Some(f) = forwarder {
            f.stop();
        }
        // The helper ends with the container (its namespace has no process left).
        let network_down = network.map_or(Ok(()), |n| n.tear_down());
        let rt_log = container.dir.runtime_log();
        // `delete --force` also kills whatever the init left behind, which closes the pipes.
        let deleted = runtime.delete(&container.record.id, &rt_log);
        for p in pumps {
            let _ = p.join();
        }
        let unmounted = unmount(&Kernel, &container.dir.rootfs())
            .and_then(|()| crate::shm::release(&crate::shm::path(&container.dir)));
        container.state.status = Status::Exited;
        container.state.pid = 0;
        container.state.monitor_pid = 0;
        if restarts(code) {
            container.state.restarting = true;
            container.state.monitor_pid = std::process::id() as i32;
        }
        container.state.ports.clear();
        container.state.exit_code = Some(code);
        container.state.finished_at = Some(now_rfc3339());
        // Before the state: whoever waits for the exit (a `stop`) then finds `die` recorded
        // before it records its own event, in Docker's order.
        crate::events::container(&container, "die", &[("exitCode", code.to_string())]);
        crate::events::volumes(&container, "unmount");
        let saved = container.save_state();
        deleted?;
        unmounted?;
        network_down?;
        saved.map_err(|e| RuntimeError::ExitNotRecorded {
            id: container.record.id.clone(),
            code,
            source: Box::new(e),
        })?;
        Ok((container, code))
    }
}

pub(crate) fn wait_exit(pid: i32, dir: &Path) -> Result<i32, RuntimeError> {
    let p = rustix::process::Pid::from_raw(pid)
        .ok_or_else(|| RuntimeError::io("wait for", dir, std::io::Error::other("pid 0")))?;
    loop {
        match rustix::process::waitpid(Some(p), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, status))) => {
                if let Some(code) = status.exit_status() {
                    return Ok(code);
                }
                if let Some(sig) = status.terminating_signal() {
                    return Ok(128 + sig);
                }
            }
            Ok(None) => {}
            Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(RuntimeError::io("wait for the init of", dir, e.into())),
        }
    }
}

/// How often [`Container::stop`] looks whether the container is gone.
const STOP_POLL: std::time::Duration = std::time::Duration::from_millis(20);

impl Container {
    /// Whether the OCI runtime still runs the container's init.
    pub fn is_running(&self, runtime: &OciRuntime) -> Result<bool, RuntimeError> {
        match runtime.state(&self.record.id, &self.dir.runtime_log()) {
            Ok(s) => Ok(matches!(
                s.status.as_str(),
                "running" | "created" | "paused"
            )),
            Err(RuntimeError::NoSuchContainer(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Stops the container as `docker stop -t` does: its stop signal, then `SIGKILL` after
    /// `timeout`. Returns once the runtime no longer runs it (its monitor records the exit
    /// code). A container that is not running is left as it is.
    pub fn stop(
        &self,
        runtime: &OciRuntime,
        timeout: std::time::Duration,
    ) -> Result<(), RuntimeError> {
        // Also between two runs of a `--restart` policy: no restart after a stop.
        if self.state.restarting {
            let mut c = self.clone();
            if !c.cancel_restart()? {
                return Ok(());
            }
            return c.stop(runtime, timeout);
        }
        self.mark_stopped_by_user();
        if self.state.status != Status::Running || !self.is_running(runtime)? {
            return Ok(());
        }
        let signal = self.record.stop_signal.clone();
        for (sig, limit) in [
            (signal.as_str(), timeout),
            ("KILL", std::time::Duration::from_secs(10)),
        ] {
            match self.kill(runtime, sig) {
                Ok(()) => {}
                // Gone between the check and the signal.
                Err(_) if !self.is_running(runtime)? => return Ok(()),
                Err(e) => return Err(e),
            }
            let start = std::time::Instant::now();
            while start.elapsed() < limit {
                if !self.is_running(runtime)? {
                    return Ok(());
                }
                std::thread::sleep(STOP_POLL);
            }
        }
        Err(RuntimeError::InvalidOptions(format!(
            "container {} did not stop after SIGKILL",
            self.record.id
        )))
    }
}

/// Takes the lock that orders a restart by the monitor (from its last look for the
/// user's stop until the container is recorded as running) against a user's stop of a
/// restarting container ([`Container::cancel_restart`]). Released when the file drops.
pub(crate) fn restart_lock(
    dir: &crate::record::ContainerDir,
) -> Result<std::fs::File, RuntimeError> {
    let path = dir.0.join("restart.lock");
    let f = std::fs::File::create(&path).map_err(|e| RuntimeError::io("create", &path, e))?;
    f.lock().map_err(|e| RuntimeError::io("lock", &path, e))?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::is_sigkill;

    /// Only SIGKILL makes `kill` wait, however it is spelled (runc accepts all of these).
    #[test]
    fn sigkill_spellings() {
        for s in ["KILL", "SIGKILL", "kill", "sigkill", "9"] {
            assert!(is_sigkill(s), "{s}");
        }
        for s in ["TERM", "SIGTERM", "USR1", "19", "99", ""] {
            assert!(!is_sigkill(s), "{s}");
        }
    }
}
