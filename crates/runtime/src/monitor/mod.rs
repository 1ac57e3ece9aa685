//! The monitor: the process that owns a running container (a detached `run -d` has one
//! of its own), and what other processes conclude from its state file.
//!
//! `strata run -d` creates the container and spawns itself as a monitor (a hidden
//! subcommand calling [`run`]) in a new process group with no terminal; the monitor
//! starts the container, becomes the parent of its init (child subreaper), writes its
//! output to `ctr.log` and its exit code to `state.json`, and exits with it. It keeps the
//! container's streams and serves them to `attach` clients ([`crate::attach::Hub`]).
//! [`spawn`] waits until the monitor has started the container (or failed to), so `run -d`
//! prints the ID only of a running container. `ps`, `logs`, `wait` read the files; a
//! monitor that died (killed, host crash) is noticed by
//! [`container::observed_state`]. [`MonitorProgram`] spawns monitor processes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use store::Store;

use crate::RuntimeError;
use crate::attach::Hub;
use crate::container::{self, Container};
use crate::oci_runtime::OciRuntime;
use crate::record::{ContainerState, Status, now_rfc3339, write_state};

mod program;
pub use program::{MonitorCall, MonitorMode, MonitorProgram, StartError};

/// The body of a monitor process: starts container `id` and waits for it, starting it
/// again as its `--restart` policy says (see [`crate::restart`]), then removes it with its
/// anonymous volumes under `--rm`. A start that fails is recorded in the state (`error`,
/// and Docker's exit code 125/126/127; the status stays `created`, as Docker's does) and
/// returned. Returns the container's last exit code.
pub fn run(store: &Store, runtime: &OciRuntime, id: &str) -> Result<i32, RuntimeError> {
    let mut c = container::load(store.root(), id)?;
    user_start(&mut c);
    supervise(store, runtime, c, RESTART_BACKOFF, None)
}

/// The body of a monitor that takes over a container whose first run was attached
/// (`run` without `-d`) and has exited: restarts it as its `--restart` policy says, then
/// supervises it as [`run`] does. Returns the last exit code.
pub fn resume(store: &Store, runtime: &OciRuntime, id: &str) -> Result<i32, RuntimeError> {
    let c = container::load(store.root(), id)?;
    let code = c.state.exit_code.unwrap_or(0);
    let mut backoff = RESTART_BACKOFF;
    match restart_after(store.root(), &c, code, &mut backoff)? {
        Some((next, lock)) => supervise(store, runtime, next, backoff, Some(lock)),
        None => Ok(code),
    }
}

/// A start by the user (`start`, `run`): earlier stops and restarts no longer count.
pub fn user_start(c: &mut Container) {
    let _ = std::fs::remove_file(c.dir.stopped_by_user());
    c.state.restart_count = 0;
}

/// Starts `c` and waits for it, as long as its policy restarts it.
fn supervise(
    store: &Store,
    runtime: &OciRuntime,
    mut c: Container,
    mut backoff: Duration,
    mut lock: Option<std::fs::File>,
) -> Result<i32, RuntimeError> {
    let dir = c.dir.clone();
    let id = c.record.id.clone();
    let auto_remove = c.record.options.auto_remove;
    // `attach` clients reach the container through this monitor for all its runs.
    let hub = Hub::new(c.record.options.tty, false);
    let _server = hub.serve(&dir.0)?;
    loop {
        let mut state = c.state.clone();
        let started = Instant::now();
        let streams = hub.streams(c.record.options.open_stdin)?;
        let (exited, code) =
            match c.start_with_terminal(store, runtime, streams, &|m| hub.set_terminal(m)) {
                Ok(running) => {
                    // Started and recorded as running: a stop from now on stops this run.
                    drop(lock.take());
                    let restarts = running.container().state.restart_count;
                    let dir = running.container().dir.clone();
                    // Probes run while this run lasts; dropped after the wait, they stop.
                    let _health = crate::health::Checker::start(running.container(), runtime);
                    // `update --restart` may change the policy while it runs.
                    let waited = running.wait_then(runtime, &|code| {
                        current_policy(&dir).should_restart(
                            code,
                            restarts,
                            dir.stopped_by_user().exists(),
                        )
                    });
                    let waited = match waited {
                        Ok(w) => w,
                        Err(RuntimeError::ExitNotRecorded { code, .. }) if auto_remove => {
                            return remove_unrecorded(store, runtime, &hub, &id, code);
                        }
                        Err(e) => return Err(e),
                    };
                    hub.finish(waited.1);
                    waited
                }
                Err(e) => {
                    fail_start(store, runtime, (&id, &dir, auto_remove), &mut state, &e);
                    return Err(e);
                }
            };
        // Docker's restart manager starts the delay over once a run lasted 10 s.
        if started.elapsed() >= RESTART_RESET_AFTER {
            backoff = RESTART_BACKOFF;
        }
        match restart_after(store.root(), &exited, code, &mut backoff)? {
            Some((next, held)) => {
                c = next;
                lock = Some(held);
            }
            None => {
                if auto_remove {
                    exited.remove_with_volumes(store, runtime, false)?;
                }
                return Ok(code);
            }
        }
    }
}

/// The body of the monitor of an attached run (`run` without `-d`, `start -a`): starts
/// container `id` with its streams on the attach connection `client` (and the attach
/// socket, for clients after it detached) and waits for it, once (the client leaves
/// a `--restart` policy to [`resume`]), then removes it under `--rm`. Being a process of
/// its own, it outlives a killed client as Docker's daemon does: the real exit code is
/// recorded and `--rm` honoured whatever happens to the client. A failed start is
/// recorded and returned as [`run`] does (and the container kept for the client to
/// report). Returns the container's exit code.
pub fn attached(
    store: &Store,
    runtime: &OciRuntime,
    id: &str,
    client: std::os::unix::net::UnixStream,
    stdin_once: bool,
) -> Result<i32, RuntimeError> {
    let mut c = container::load(store.root(), id)?;
    user_start(&mut c);
    let dir = c.dir.clone();
    let mut state = c.state.clone();
    let auto_remove = c.record.options.auto_remove;
    let hub = Hub::new(c.record.options.tty, stdin_once);
    let server = hub.serve(&dir.0)?;
    // The container's stdin exists before the client's first input arrives, which may
    // be all of it, and its end, before the container starts.
    let streams = hub.streams(c.record.options.open_stdin)?;
    hub.add_client(client);
    let running = match c.start_with_terminal(store, runtime, streams, &|m| hub.set_terminal(m)) {
        Ok(running) => running,
        Err(e) => {
            // Recorded, the client reports it (and removes a `--rm` container).
            fail_start(store, runtime, (id, &dir, auto_remove), &mut state, &e);
            hub.fail(&crate::error::with_causes(&e));
            return Err(e);
        }
    };
    let health = crate::health::Checker::start(running.container(), runtime);
    let waited = running.wait(runtime);
    drop(health);
    drop(server);
    let (exited, code) = match waited {
        Ok(w) => w,
        Err(RuntimeError::ExitNotRecorded { code, .. }) if auto_remove => {
            return remove_unrecorded(store, runtime, &hub, id, code);
        }
        Err(e) => {
            hub.fail(&crate::error::with_causes(&e));
            return Err(e);
        }
    };
    if auto_remove {
        // Removed before the client hears of the exit, as Docker's `run --rm` returns once
        // the container is gone.
        if let Err(e) = exited.remove_with_volumes(store, runtime, false) {
            hub.fail(&crate::error::with_causes(&e));
            return Err(e);
        }
        hub.finish(code);
        return Ok(code);
    }
    let client_gone = hub.first_client_gone();
    hub.finish(code);
    if client_gone {
        // The client detached (or died): nobody hands the `--restart` policy on, so this
        // monitor applies it, as Docker's daemon does.
        return resume(store, runtime, id);
    }
    Ok(code)
}

/// A `--rm` container whose exit could not be recorded (a full disk) is removed anyway,
/// which frees what it used; its exit code is still the run's. The clients hear of the
/// exit once it is gone, or of why it could not be removed.
fn remove_unrecorded(
    store: &Store,
    runtime: &OciRuntime,
    hub: &Hub,
    id: &str,
    code: i32,
) -> Result<i32, RuntimeError> {
    let removed =
        container::load(store.root(), id).and_then(|c| c.remove_with_volumes(store, runtime, true));
    match removed {
        Ok(()) => {
            hub.finish(code);
            Ok(code)
        }
        Err(e) => {
            hub.fail(&crate::error::with_causes(&e));
            Err(e)
        }
    }
}

/// Records the failed start of container `id` ([`record_failed_start`]). When even that write fails
/// (a full disk), the start's own error is still the one the caller reports, and a `--rm`
/// container is removed now, as nobody will find the record to remove it later.
fn fail_start(
    store: &Store,
    runtime: &OciRuntime,
    (id, dir, auto_remove): (&str, &crate::record::ContainerDir, bool),
    state: &mut ContainerState,
    e: &RuntimeError,
) {
    if record_failed_start(dir, state, e).is_err()
        && auto_remove
        && let Ok(c) = container::load(store.root(), id)
    {
        let _ = c.remove_with_volumes(store, runtime, true);
    }
}

/// Docker leaves a container whose start failed `created`, with the code and the error.
fn record_failed_start(
    dir: &crate::record::ContainerDir,
    state: &mut ContainerState,
    e: &RuntimeError,
) -> Result<(), RuntimeError> {
    state.exit_code = Some(e.start_exit_code());
    state.error = Some(e.to_string());
    state.finished_at = Some(now_rfc3339());
    write_state(&dir.state(), state)
}

/// Whether `exited` (which exited with `code`) starts again: if its policy says so and the
/// user did not stop it, waits `backoff` (then doubles it, as Docker's restart manager
/// does) and returns the container to start, its restart count raised, with the
/// [`container::restart_lock`] to hold until it is recorded as running.
fn restart_after(
    store_root: &Path,
    exited: &Container,
    code: i32,
    backoff: &mut Duration,
) -> Result<Option<(Container, std::fs::File)>, RuntimeError> {
    let policy = &current_policy(&exited.dir);
    let restarts = exited.state.restart_count;
    let stopped = || exited.dir.stopped_by_user().exists();
    if !policy.should_restart(code, restarts, stopped()) {
        return Ok(None);
    }
    // Docker's `restarting` while the delay runs; the monitor's PID tells others it lives.
    let mut waiting = exited.state.clone();
    waiting.restarting = true;
    waiting.monitor_pid = std::process::id() as i32;
    write_state(&exited.dir.state(), &waiting)?;
    std::thread::sleep(*backoff);
    *backoff = (*backoff * 2).min(RESTART_BACKOFF_MAX);
    let lock = container::restart_lock(&exited.dir)?;
    if stopped() {
        // The user's stop already wrote the state (see `Container::cancel_restart`).
        return Ok(None);
    }
    let mut c = container::load(store_root, &exited.record.id)?;
    c.state.restart_count = restarts + 1;
    Ok(Some((c, lock)))
}

/// The container's restart policy as its record says now: `update --restart` may have
/// changed it since this monitor loaded it.
fn current_policy(dir: &crate::ContainerDir) -> crate::restart::RestartPolicy {
    crate::record::read_json::<crate::ContainerRecord>(&dir.record())
        .map(|r| r.options.restart)
        .unwrap_or_default()
}

/// The first delay before a `--restart` policy starts a container again.
const RESTART_BACKOFF: Duration = Duration::from_millis(100);
/// The longest delay between restarts.
const RESTART_BACKOFF_MAX: Duration = Duration::from_secs(60);
/// A container that ran this long is restarted after the first delay again.
const RESTART_RESET_AFTER: Duration = Duration::from_secs(10);

/// Spawns `monitor` (a command that calls [`run`] for `id`) detached from the terminal
/// and waits up to `timeout` for it to start the container. Returns the container as it
/// then is: running, already exited, or still created with the start error in
/// `state.error`.
pub fn spawn(
    monitor: &mut Command,
    store_root: &Path,
    id: &str,
    timeout: Duration,
) -> Result<Container, RuntimeError> {
    use std::os::unix::process::CommandExt;
    let container_dir = store::Layout::new(store_root).container(id);
    let mut child = monitor
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| RuntimeError::io("spawn the monitor of", &container_dir, e))?;
    let start = Instant::now();
    loop {
        // Whether the monitor has exited is read *before* its state: a monitor that
        // records its outcome (even a failed start) and exits between the two reads is
        // then seen with that outcome, not as one that exited without starting.
        let exited = child
            .try_wait()
            .map_err(|e| RuntimeError::io("wait for the monitor of", &container_dir, e))?;
        let c = container::load(store_root, id)?;
        if let Some(decided) = outcome(c, exited, id) {
            return decided;
        }
        if start.elapsed() > timeout {
            return Err(RuntimeError::InvalidOptions(format!(
                "container {id} did not start within {timeout:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What [`spawn`] concludes from the container `c`, read after learning whether its
/// monitor had `exited`: the container once the monitor has started it or recorded why
/// it could not, an error when the monitor exited without doing either, else `None`
/// (still starting).
fn outcome(
    c: Container,
    exited: Option<std::process::ExitStatus>,
    id: &str,
) -> Option<Result<Container, RuntimeError>> {
    if c.state.status != Status::Created || c.state.error.is_some() {
        return Some(Ok(c));
    }
    exited.map(|status| {
        Err(RuntimeError::InvalidOptions(format!(
            "the monitor of container {id} exited ({status}) before starting it"
        )))
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;
    use crate::record::{ContainerDir, ContainerRecord, ContainerState};

    fn container(state: ContainerState) -> Container {
        Container {
            record: ContainerRecord {
                id: "c".repeat(64),
                name: "n".into(),
                image: "img".into(),
                image_id: String::new(),
                image_target: String::new(),
                platform: None,
                created: String::new(),
                options: Default::default(),
                args: vec![],
                stop_signal: "SIGTERM".into(),
                runtime: "runc".into(),
                start_error: None,
            },
            state,
            dir: ContainerDir("/nonexistent".into()),
        }
    }

    /// `run -d` failed now and then with "the monitor … exited before starting it": a
    /// monitor that recorded its failed start and exited between the spawner's read of the
    /// state and its look at the process was taken for one that recorded nothing.
    #[test]
    fn a_recorded_failed_start_is_not_a_lost_monitor() {
        let exited = Some(std::process::ExitStatus::from_raw(127 << 8));
        let mut failed = ContainerState::created();
        failed.error = Some("exec: \"/nope\": not found".into());
        failed.exit_code = Some(127);
        let got = outcome(container(failed.clone()), exited, "c")
            .unwrap()
            .unwrap();
        assert_eq!(got.state, failed);
        let mut running = ContainerState::created();
        running.status = Status::Running;
        assert!(matches!(
            outcome(container(running), exited, "c"),
            Some(Ok(_))
        ));
        // Nothing recorded: still starting while the monitor runs, lost once it exited.
        assert!(outcome(container(ContainerState::created()), None, "c").is_none());
        let lost = outcome(container(ContainerState::created()), exited, "c").unwrap();
        assert!(lost.unwrap_err().to_string().contains("before starting it"));
    }

    /// A monitor that could not be spawned was reported at `<root>/<id>`, a path that
    /// never exists, instead of the container's directory.
    #[test]
    fn a_monitor_spawn_failure_names_the_container_dir() {
        let root = tempfile::tempdir().unwrap();
        let missing = root.path().join("no-such-binary");
        let err = spawn(
            &mut Command::new(&missing),
            root.path(),
            "abc",
            Duration::from_secs(1),
        )
        .unwrap_err();
        match err {
            RuntimeError::Io { op, path, .. } => {
                assert_eq!(op, "spawn the monitor of");
                assert_eq!(path, store::Layout::new(root.path()).container("abc"));
            }
            other => panic!("not an I/O error: {other}"),
        }
    }
}
