//! Detached containers: `run -d` and `start` spawn `strata monitor ID` (hidden), which
//! starts the container, owns it while it runs and records its exit. How the monitor is
//! spawned and what its outcome means is the runtime's ([`runtime::monitor`]); this file
//! says which program the monitor is (this binary, re-executed) and runs its body.

use std::os::fd::AsFd;
use std::process::Command;

use runtime::monitor::{MonitorMode, MonitorProgram, StartError};
use runtime::{Container, OciRuntime};

use super::{Ctx, ExitStatus, container};
use crate::cli::MonitorArgs;

/// The hidden `monitor` command: exits with the container's code.
pub fn run(ctx: &Ctx, args: MonitorArgs) -> anyhow::Result<()> {
    if args.hold_terminal {
        hold_terminal();
        return Ok(());
    }
    let store = ctx.store()?;
    let c = runtime::container::load(&ctx.root, &args.id)?;
    let rt = match &ctx.runtime {
        Some(_) => container::new_runtime(ctx)?,
        None => c.oci_runtime(&ctx.root)?,
    };
    if args.attached {
        // Our stdin is the client's attach connection (see `MonitorProgram::run_attached`).
        let client = std::io::stdin().as_fd().try_clone_to_owned()?;
        let client = std::os::unix::net::UnixStream::from(client);
        // The client reports a failed start from the recorded state: print nothing.
        return match runtime::monitor::attached(&store, &rt, &c.record.id, client, args.stdin) {
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

/// The monitor program: this binary with the same `--root`, the container's runtime and
/// the hidden `monitor` command (`--resume`, `--attached [--stdin]` by mode).
pub fn program(ctx: &Ctx) -> anyhow::Result<MonitorProgram> {
    let exe = std::env::current_exe()?;
    let root = ctx.root.clone();
    Ok(MonitorProgram::new(move |call| {
        let mut cmd = Command::new(&exe);
        cmd.arg("--root")
            .arg(&root)
            .arg("--runtime")
            .arg(&call.runtime.path)
            .arg("monitor");
        match call.mode {
            MonitorMode::Detached => {}
            MonitorMode::Resume => {
                cmd.arg("--resume");
            }
            MonitorMode::Attached { stdin } => {
                cmd.arg("--attached");
                if stdin {
                    cmd.arg("--stdin");
                }
            }
        }
        cmd.arg(call.id);
        cmd
    }))
}

/// Docker's exit for a container that did not start: its recorded code and error, 125
/// for a monitor that could not run, a plain error otherwise.
pub fn start_failed(e: StartError) -> anyhow::Error {
    match e {
        StartError::Failed { code, message } => {
            ExitStatus::error(code, anyhow::anyhow!("{message}"))
        }
        StartError::Monitor(e) => ExitStatus::error(125, e),
        StartError::Other(e) => e.into(),
    }
}

/// Starts `c` under a monitor of its own and waits until it runs (see
/// [`MonitorProgram::start_detached`]).
pub fn start_detached(
    ctx: &Ctx,
    store: &store::Store,
    c: &Container,
    rt: &OciRuntime,
) -> anyhow::Result<Container> {
    program(ctx)?
        .start_detached(store, c, rt)
        .map_err(start_failed)
}

/// `monitor --hold-terminal`: reads the terminal master on stdin (discarding what a
/// detached `exec -it` writes) until every process on the terminal is gone (end of file,
/// or `EIO` from a master without a slave).
fn hold_terminal() {
    use std::io::Read;
    let mut master = std::io::stdin().lock();
    let mut buf = [0u8; 4096];
    loop {
        match master.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
