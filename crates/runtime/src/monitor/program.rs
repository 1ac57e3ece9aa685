//! Starting monitor processes: `run -d` and `start` ([`MonitorProgram::start_detached`]),
//! the foreground run's own monitor ([`MonitorProgram::run_attached`]) and the one that
//! takes its `--restart` policy over afterwards ([`MonitorProgram::resume_detached`]).
//!
//! A monitor is a process of its own that calls [`super::run`], [`super::attached`] or
//! [`super::resume`]. Which program that is (the `strata` binary re-executed with a
//! hidden subcommand) is the caller's to say: this crate only decides how it is spawned,
//! waited for and what its outcome means.

use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use store::Store;

use crate::RuntimeError;
use crate::attach::Ended;
use crate::container::{self, Container};
use crate::oci_runtime::OciRuntime;
use crate::record::Status;

/// How long [`MonitorProgram::start_detached`] waits for the monitor to start the
/// container.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Which monitor body a spawned monitor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonitorMode {
    /// [`super::run`]: starts the container and supervises it (`run -d`, `start`).
    Detached,
    /// [`super::resume`]: takes over an attached run's `--restart` policy.
    Resume,
    /// [`super::attached`]: starts the container with the spawning process as its first
    /// attach client, connected through the monitor's stdin (a socket).
    Attached {
        /// Whether the caller sends its stdin (`-i`); its end closes the container's
        /// (Docker's `StdinOnce`).
        stdin: bool,
    },
}

/// What a monitor process is asked to do.
#[derive(Debug, Clone, Copy)]
pub struct MonitorCall<'a> {
    /// The container's full ID.
    pub id: &'a str,
    /// The OCI runtime the monitor drives.
    pub runtime: &'a OciRuntime,
    /// Which body it runs.
    pub mode: MonitorMode,
}

/// The command line that runs a monitor for a [`MonitorCall`].
type MakeCommand = dyn Fn(&MonitorCall<'_>) -> Command + Send + Sync;

/// The program that runs monitors, given once by the caller (the CLI re-executes itself).
pub struct MonitorProgram {
    command: Box<MakeCommand>,
}

impl std::fmt::Debug for MonitorProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorProgram").finish_non_exhaustive()
    }
}

/// Why a container started through a monitor did not run.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Its start failed and the monitor recorded why: `code` is Docker's exit code
    /// (125/126/127); a `--rm` container has been removed.
    #[error("{message}")]
    Failed {
        /// The exit code `run`/`start` gives.
        code: i32,
        /// The recorded error.
        message: String,
    },
    /// The monitor could not be run, or died without recording an outcome (exit 125).
    #[error(transparent)]
    Monitor(RuntimeError),
    /// Anything else (reading or writing the container's state).
    #[error(transparent)]
    Other(#[from] RuntimeError),
}

impl MonitorProgram {
    /// Monitors run as `command` builds them for each call.
    pub fn new(command: impl Fn(&MonitorCall<'_>) -> Command + Send + Sync + 'static) -> Self {
        MonitorProgram {
            command: Box::new(command),
        }
    }

    fn command(&self, id: &str, runtime: &OciRuntime, mode: MonitorMode) -> Command {
        (self.command)(&MonitorCall { id, runtime, mode })
    }

    /// Spawns the monitor of `c` and waits until it has started the container. Returns
    /// the container as it then is; a start that fails is [`StartError::Failed`] (and a
    /// `--rm` container is removed).
    pub fn start_detached(
        &self,
        store: &Store,
        c: &Container,
        runtime: &OciRuntime,
    ) -> Result<Container, StartError> {
        // `spawn` waits for the state to leave `created`: a container that ran before must
        // be `created` again first, or its old `exited` state ends the wait at once.
        let mut c = c.clone();
        c.settle(runtime)?;
        c.reset_created()?;
        let mut cmd = self.command(&c.record.id, runtime, MonitorMode::Detached);
        let started = match super::spawn(&mut cmd, store.root(), &c.record.id, START_TIMEOUT) {
            Ok(s) => s,
            // A `--rm` container that ran and was removed before we looked.
            Err(RuntimeError::NoSuchContainer(_)) if c.record.options.auto_remove => {
                return Ok(c);
            }
            Err(e) => return Err(StartError::Monitor(e)),
        };
        if started.state.status == Status::Created
            && let Some(error) = &started.state.error
        {
            let code = started.state.exit_code.unwrap_or(125);
            let message = error.clone();
            if started.record.options.auto_remove {
                let _ = started.remove_with_volumes(store, runtime, true);
            }
            return Err(StartError::Failed { code, message });
        }
        Ok(started)
    }

    /// After an attached run of `c` exited, leaves its `--restart` policy to a monitor of
    /// its own ([`MonitorMode::Resume`]), as Docker's daemon restarts it once the client has
    /// returned. Nothing is spawned for a policy that never restarts.
    pub fn resume_detached(&self, c: &Container, runtime: &OciRuntime) -> Result<(), RuntimeError> {
        use std::os::unix::process::CommandExt;
        if !c.record.options.restart.is_some() {
            return Ok(());
        }
        self.command(&c.record.id, runtime, MonitorMode::Resume)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| RuntimeError::io("spawn the monitor of", &c.dir.0, e))?;
        Ok(())
    }

    /// Runs `c` in the foreground: spawns its monitor ([`MonitorMode::Attached`]) in a
    /// process group of its own, its stdin one end of a socket pair whose other end
    /// `session` relays (see [`crate::attach::client`]); with `stdin` the container's
    /// stdin closes when the session's input ends (Docker's `StdinOnce`). A session that
    /// detaches leaves the container to its monitor: `Ok(None)`. Otherwise, once it
    /// exits: a failed start is [`StartError::Failed`] (the container removed under
    /// `--rm`, else left `created` with the error), and a `--restart` policy goes on under
    /// a monitor of its own. Returns the exit code.
    pub fn run_attached(
        &self,
        store: &Store,
        c: &Container,
        runtime: &OciRuntime,
        stdin: bool,
        session: impl FnOnce(UnixStream) -> std::io::Result<Ended>,
    ) -> Result<Option<i32>, StartError> {
        use std::os::unix::process::CommandExt;
        let id = c.record.id.clone();
        let auto_remove = c.record.options.auto_remove;
        let (ours, theirs) = UnixStream::pair()
            .map_err(|e| StartError::Monitor(RuntimeError::io("connect to", &c.dir.0, e)))?;
        let mut child = self
            .command(&id, runtime, MonitorMode::Attached { stdin })
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(theirs)))
            // The monitor prints nothing; it must not hold our terminal once we are gone.
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own group: a Ctrl-C reaches us (we forward it to the container), not it.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                StartError::Monitor(RuntimeError::io("spawn the monitor of", &c.dir.0, e))
            })?;
        // An error of the session (our side) ends it as if the monitor had closed it.
        let ended = session(ours);
        if let Ok(Ended::Detached) = ended {
            return Ok(None);
        }
        let status = child.wait().map_err(|e| {
            StartError::Monitor(RuntimeError::io("wait for the monitor of", &c.dir.0, e))
        })?;
        let recorded = container::load(store.root(), &id).ok();
        if !status.success()
            && let Some(c) = recorded
                .as_ref()
                .filter(|c| c.state.status == Status::Created)
            && let Some(error) = &c.state.error
        {
            // The start failed (recorded by the monitor). The monitor exits with `run`'s
            // code (125/126/127); the state has `start`'s.
            let code = status.code().unwrap_or(125);
            let message = error.clone();
            if auto_remove {
                let _ = c.clone().remove_with_volumes(store, runtime, true);
            }
            return Err(StartError::Failed { code, message });
        }
        // A failure the monitor could not record (a full disk): what it told us.
        if !status.success()
            && let Ok(Ended::Failed(why)) = ended
        {
            return Err(StartError::Monitor(RuntimeError::MonitorFailed(why)));
        }
        let Some(code) = status.code() else {
            return Err(StartError::Monitor(RuntimeError::InvalidOptions(format!(
                "the monitor of container {id} was killed ({status})"
            ))));
        };
        if !auto_remove && let Some(c) = recorded {
            // `--restart` goes on without us, as Docker's daemon goes on after its client.
            self.resume_detached(&c, runtime)?;
        }
        Ok(Some(code))
    }
}
