//! `strata exec`: another process in a running container; exits with its code.

use std::io::{IsTerminal, Write};
use std::process::Stdio;

use runtime::Attach;
use runtime::exec::ExecOptions;
use runtime::record::Status;

use super::{Ctx, ExitStatus, container, create};
use crate::cli::ExecArgs;

/// Runs the command; exits with its code (126/127 when it cannot be run or found).
pub fn run(ctx: &Ctx, args: ExecArgs) -> anyhow::Result<()> {
    let (c, rt) = container::load(ctx, &args.container)?;
    if container::observed(&c, &rt)?.status != Status::Running {
        anyhow::bail!("container {} is not running", c.record.id);
    }
    let mut env = Vec::new();
    for file in &args.env_file {
        let text = std::fs::read_to_string(file)?;
        env.extend(create::parse_env_file(&text, |k| std::env::var(k).ok()));
    }
    env.extend(args.env.iter().cloned());
    let opts = ExecOptions {
        cmd: args.command.clone(),
        env,
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        tty: args.tty,
    };
    let result = if args.interactive || args.tty {
        let size = std::io::stdout()
            .is_terminal()
            .then(|| rustix::termios::tcgetwinsize(std::io::stdout()).ok())
            .flatten()
            .map(|w| (w.ws_row, w.ws_col));
        let attach = Attach {
            stdin: args
                .interactive
                .then(|| Box::new(std::io::stdin()) as Box<dyn std::io::Read + Send>),
            stdout: Some(Box::new(std::io::stdout())),
            stderr: Some(Box::new(std::io::stderr())),
            tty_size: if args.tty { size } else { None },
        };
        c.exec_attached(&rt, &opts, attach)
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
        Err(e) => Err(ExitStatus::error(e.run_exit_code(), e)),
    }
}
