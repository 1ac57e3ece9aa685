//! Detached containers: `run -d` and `start` spawn `strata monitor ID` (hidden), which
//! starts the container, owns it while it runs and records its exit.

use std::process::Command;
use std::time::Duration;

use runtime::record::Status;
use runtime::{Container, OciRuntime};

use super::{Ctx, ExitStatus, container};
use crate::cli::MonitorArgs;

/// How long `run -d` waits for the monitor to start the container.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The hidden `monitor` command: exits with the container's code.
pub fn run(ctx: &Ctx, args: MonitorArgs) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let c = runtime::container::load(&ctx.root, &args.id)?;
    let rt = match &ctx.runtime {
        Some(_) => container::new_runtime(ctx)?,
        None => container::runtime_of(ctx, &c)?,
    };
    if args.attached {
        let attach = super::attach::own_streams(args.stdin, c.record.options.tty);
        // The client reports a failed start from the recorded state: print nothing.
        return match runtime::monitor::attached(&store, &rt, &c.record.id, attach) {
            Ok(0) => Ok(()),
            Ok(code) => Err(ExitStatus::code(code)),
            Err(e) => Err(ExitStatus::code(e.run_exit_code())),
        };
    }
    let supervised = if args.resume {
        runtime::monitor::resume(&store, &rt, &c.record.id)
    } else {
        runtime::monitor::run(&store, &rt, &c.record.id)
    };
    match supervised {
        Ok(0) => Ok(()),
        Ok(code) => Err(ExitStatus::code(code)),
        Err(e) => Err(ExitStatus::error(e.run_exit_code(), e)),
    }
}

/// After an attached run of `c` exited, leaves its `--restart` policy to a monitor of its
/// own (`monitor --resume`), as Docker's daemon restarts it once the client has returned.
/// Nothing is spawned for a policy that never restarts.
pub fn resume_detached(ctx: &Ctx, c: &Container, rt: &OciRuntime) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    if !c.record.options.restart.is_some() {
        return Ok(());
    }
    Command::new(std::env::current_exe()?)
        .arg("--root")
        .arg(&ctx.root)
        .arg("--runtime")
        .arg(&rt.path)
        .args(["monitor", "--resume"])
        .arg(&c.record.id)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()?;
    Ok(())
}

/// Spawns the monitor of an attached run of `c` (see [`runtime::monitor::attached`]) in a
/// process group of its own, on this process's stdout and stderr; with `stdin`, this
/// process's stdin is copied to it through a pipe, so that the container sees end of
/// file once we are gone. Returns the monitor's exit status.
pub fn run_attached_monitor(
    ctx: &Ctx,
    c: &Container,
    rt: &OciRuntime,
    stdin: bool,
) -> anyhow::Result<std::process::ExitStatus> {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("--root")
        .arg(&ctx.root)
        .arg("--runtime")
        .arg(&rt.path)
        .args(["monitor", "--attached"]);
    if stdin {
        cmd.arg("--stdin");
    }
    let mut child = cmd
        .arg(&c.record.id)
        .stdin(if stdin {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        // Its own group: a Ctrl-C reaches us (we forward it to the container), not it.
        .process_group(0)
        .spawn()?;
    if let Some(mut pipe) = child.stdin.take() {
        // Not joined: it may block on a terminal after the container is gone.
        std::thread::spawn(move || std::io::copy(&mut std::io::stdin(), &mut pipe));
    }
    Ok(child.wait()?)
}

/// Spawns the monitor of `c` and waits until it has started the container. A start that
/// fails is an [`ExitStatus`] with Docker's code (and a `--rm` container is removed).
pub fn start_detached(ctx: &Ctx, c: &Container, rt: &OciRuntime) -> anyhow::Result<Container> {
    // `monitor::spawn` waits for the state to leave `created`: a container that ran before
    // must be `created` again first, or its old `exited` state ends the wait at once.
    let mut c = c.clone();
    container::settle(&mut c, rt)?;
    if c.state.status != Status::Created {
        runtime::record::write_state(&c.dir.state(), &runtime::record::ContainerState::created())?;
    }
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("--root")
        .arg(&ctx.root)
        .arg("--runtime")
        .arg(&rt.path)
        .arg("monitor")
        .arg(&c.record.id);
    let started = match runtime::monitor::spawn(&mut cmd, &ctx.root, &c.record.id, START_TIMEOUT) {
        Ok(s) => s,
        // A `--rm` container that ran and was removed before we looked.
        Err(runtime::RuntimeError::NoSuchContainer(_)) if c.record.options.auto_remove => {
            return Ok(c.clone());
        }
        Err(e) => return Err(ExitStatus::error(125, e)),
    };
    if started.state.status == Status::Created
        && let Some(error) = &started.state.error
    {
        let code = started.state.exit_code.unwrap_or(125);
        let error = anyhow::anyhow!("{error}");
        if started.record.options.auto_remove {
            let store = ctx.store()?;
            let _ = container::remove_with_volumes(ctx, &store, rt, started, true);
        }
        return Err(ExitStatus::error(code, error));
    }
    Ok(started)
}
