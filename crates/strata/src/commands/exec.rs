//! `strata exec`: another process in a running container; exits with its code.

use std::io::Write;
use std::process::Stdio;

use runtime::Attach;
use runtime::Status;
use runtime::exec::{ExecEnd, ExecOptions, ExecTerminal};

use super::terminal::{RawTerminal, on_resize, terminal_size};
use super::{Ctx, ExitStatus, container, create};
use crate::cli::ExecArgs;

/// Runs the command; exits with its code (126/127 when it cannot be run or found).
pub fn run(ctx: &Ctx, args: ExecArgs) -> anyhow::Result<()> {
    let (c, rt) = container::load(ctx, args.container())?;
    // Docker's CLI: after the container is found, before its state is looked at.
    if !args.detach
        && args.interactive
        && args.tty
        && !std::io::IsTerminal::is_terminal(&std::io::stdin())
    {
        eprintln!("{}", super::run::NOT_A_TTY);
        return Err(ExitStatus::code(1));
    }
    let state = c.observed(&rt)?;
    if state.status != Status::Running {
        anyhow::bail!("container {} is not running", c.record.id);
    }
    if state.paused {
        anyhow::bail!(
            "Container {} is paused, unpause the container before exec",
            c.record.id
        );
    }
    if args.detach {
        return detach(ctx, &args);
    }
    let mut env = Vec::new();
    for file in &args.env_file {
        let text = std::fs::read_to_string(file)?;
        env.extend(create::parse_env_file(&text, |k| std::env::var(k).ok())?);
    }
    env.extend(args.env.iter().cloned());
    let opts = ExecOptions {
        cmd: args.command(),
        env,
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        tty: args.tty,
    };
    let result = if args.interactive || args.tty {
        let keys = super::terminal::detach_keys(ctx, args.detach_keys.as_deref())?;
        let attach = Attach {
            stdin: args
                .interactive
                .then(|| Box::new(std::io::stdin()) as Box<dyn std::io::Read + Send>),
            stdout: Some(Box::new(std::io::stdout())),
            stderr: Some(Box::new(std::io::stderr())),
            tty_size: if args.tty { terminal_size() } else { None },
        };
        // Raw mode: keys (Ctrl-C too) reach the exec's terminal as they are typed.
        let raw = (args.tty && args.interactive)
            .then(RawTerminal::enter)
            .flatten();
        let on_terminal = |master: &std::os::fd::OwnedFd| {
            if let Ok(m) = master.try_clone()
                && let Err(e) = on_resize(move |rows, cols| {
                    let _ = runtime::console::set_size(&m, rows, cols);
                })
            {
                tracing::debug!("watching the terminal size: {e}");
            }
        };
        let hand_over = |master| hold_terminal(ctx, &c.record.id, master);
        let term = ExecTerminal {
            detach_keys: (args.tty && args.interactive).then_some(keys),
            on_terminal: &on_terminal,
            hand_over: &hand_over,
        };
        let ended = c.exec_attached_with(&rt, &opts, attach, &term);
        drop(raw);
        ended.map(|e| match e {
            ExecEnd::Exited(code) => code,
            // Detached (Docker prints nothing): the process goes on.
            ExecEnd::Detached => 0,
        })
    } else {
        c.exec(
            &rt,
            &opts,
            [Stdio::null(), Stdio::inherit(), Stdio::inherit()],
        )
    };
    std::io::stdout().flush()?;
    match result {
        Ok(0) => Ok(()),
        Ok(code) => Err(ExitStatus::code(code)),
        Err(e) => Err(ExitStatus::error(exec_exit_code(&e), e)),
    }
}

/// After `exec -it` detached: a process of our own (`monitor --hold-terminal`, in its own
/// process group) keeps the terminal's master open and drained, or the process would be
/// hung up when we exit.
fn hold_terminal(
    ctx: &Ctx,
    id: &str,
    master: std::os::fd::OwnedFd,
) -> Result<(), runtime::RuntimeError> {
    use std::os::unix::process::CommandExt as _;
    let failed = |op, path: &std::path::Path, source| runtime::RuntimeError::Io {
        op,
        path: path.to_path_buf(),
        source,
    };
    let exe =
        std::env::current_exe().map_err(|e| failed("find", std::path::Path::new("strata"), e))?;
    std::process::Command::new(&exe)
        .arg("--root")
        .arg(&ctx.root)
        .args(["monitor", "--hold-terminal", id])
        .stdin(Stdio::from(master))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| failed("spawn", &exe, e))?;
    Ok(())
}

/// The exit code of an exec that could not start. Docker 20.10 exits 126 for every exec
/// the runtime fails to start (missing command, missing -w directory, unknown -u user),
/// where `run` tells 127 from 126; failures before that (flags, state) keep theirs.
fn exec_exit_code(e: &runtime::RuntimeError) -> i32 {
    match e {
        runtime::RuntimeError::RuntimeFailed { .. } | runtime::RuntimeError::User(_) => 126,
        other => other.run_exit_code(),
    }
}

/// `exec -d`: the same exec, without `-d`, in a process of its own (own process group,
/// so a terminal's signals stay with this one) with every stream on /dev/null; Docker too
/// discards a detached exec's output. Returns once it is spawned.
fn detach(ctx: &Ctx, args: &ExecArgs) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt as _;
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.arg("--root").arg(&ctx.root);
    if let Some(rt) = &ctx.runtime {
        cmd.arg("--runtime").arg(rt);
    }
    cmd.arg("exec");
    for e in &args.env {
        cmd.arg("--env").arg(e);
    }
    for f in &args.env_file {
        cmd.arg("--env-file").arg(f);
    }
    if let Some(u) = &args.user {
        cmd.arg("--user").arg(u);
    }
    if let Some(w) = &args.workdir {
        cmd.arg("--workdir").arg(w);
    }
    cmd.args(&args.words)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| anyhow::anyhow!("starting the detached exec: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_that_cannot_start_exits_126() {
        let failed = |message: &str| runtime::RuntimeError::RuntimeFailed {
            runtime: "runc".into(),
            command: "exec".into(),
            status: "exit status 1".into(),
            message: message.into(),
        };
        for e in [
            failed("exec: \"nosuchcmd\": executable file not found in $PATH"),
            failed("chdir to cwd (\"/does/not/exist\"): no such file or directory"),
            runtime::RuntimeError::User("unable to find user x".into()),
        ] {
            assert_eq!(exec_exit_code(&e), 126, "{e}");
        }
        let missing = runtime::RuntimeError::NoSuchContainer("c".into());
        assert_eq!(exec_exit_code(&missing), missing.run_exit_code());
    }
}
