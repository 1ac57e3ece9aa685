//! The monitor: the process that owns a running container (a detached `run -d` has one
//! of its own), and what other processes conclude from its state file.
//!
//! `strata run -d` creates the container and spawns itself as a monitor (a hidden
//! subcommand calling [`run`]) in a new process group with no terminal; the monitor
//! starts the container, becomes the parent of its init (child subreaper), writes its
//! output to `ctr.log` and its exit code to `state.json`, and exits with it.
//! [`spawn`] waits until the monitor has started the container (or failed to), so `run -d`
//! prints the ID only of a running container. `ps`, `logs`, `wait` read the files; a
//! monitor that died (killed, host crash) is noticed by [`observed_state`].

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use store::Store;

use crate::RuntimeError;
use crate::container::{self, Container};
use crate::oci_runtime::OciRuntime;
use crate::record::{ContainerState, Status, now_rfc3339, write_state};
use crate::streams::Attach;

/// The body of a monitor process: starts container `id` and waits for it (then removes it
/// with its anonymous volumes under `--rm`). A start that
/// fails is recorded in the state (`error`, and Docker's exit code 125/126/127; the
/// status stays `created`, as Docker's does) and returned. Returns the container's exit code.
pub fn run(store: &Store, runtime: &OciRuntime, id: &str) -> Result<i32, RuntimeError> {
    let c = container::load(store.root(), id)?;
    let dir = c.dir.clone();
    let mut state = c.state.clone();
    let auto_remove = c.record.options.auto_remove;
    match c.start(store, runtime, Attach::default()) {
        Ok(running) => {
            let (c, code) = running.wait(runtime)?;
            if auto_remove {
                let volumes = c.anonymous_volumes();
                c.remove(store, runtime, false)?;
                for v in volumes {
                    crate::volumes::remove(store.root(), &v)?;
                }
            }
            Ok(code)
        }
        Err(e) => {
            // Docker leaves such a container `created`, with the code and the error.
            state.exit_code = Some(e.run_exit_code());
            state.error = Some(e.to_string());
            state.finished_at = Some(now_rfc3339());
            write_state(&dir.state(), &state)?;
            Err(e)
        }
    }
}

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
    let mut child = monitor
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| RuntimeError::io("spawn the monitor of", &store_root.join(id), e))?;
    let start = Instant::now();
    loop {
        let c = container::load(store_root, id)?;
        if c.state.status != Status::Created || c.state.error.is_some() {
            return Ok(c);
        }
        if let Ok(Some(status)) = child.try_wait() {
            // It may have written its state just before exiting.
            let c = container::load(store_root, id)?;
            if c.state.status != Status::Created {
                return Ok(c);
            }
            return Err(RuntimeError::InvalidOptions(format!(
                "the monitor of container {id} exited ({status}) before starting it"
            )));
        }
        if start.elapsed() > timeout {
            return Err(RuntimeError::InvalidOptions(format!(
                "container {id} did not start within {timeout:?}"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn alive(pid: i32) -> bool {
    pid > 0 && Path::new(&format!("/proc/{pid}")).exists()
}

/// The state other processes should show for `c`: as written, except that a container
/// said to be running whose monitor is gone and whose init the runtime no longer runs is
/// exited, with an unknown code (255) and an error saying why.
pub fn observed_state(c: &Container, runtime: &OciRuntime) -> Result<ContainerState, RuntimeError> {
    let mut s = c.state.clone();
    if s.status != Status::Running || alive(s.monitor_pid) || c.is_running(runtime)? {
        return Ok(s);
    }
    s.status = Status::Exited;
    s.pid = 0;
    s.exit_code = Some(255);
    s.error = Some("the container's monitor exited before it".into());
    Ok(s)
}
