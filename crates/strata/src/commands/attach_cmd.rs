//! `strata attach`: this process's streams on a running container's, through its monitor's
//! attach socket (see [`runtime::attach`]), until the container exits (its code becomes
//! ours) or the detach keys are typed (exit 0, the container goes on).

use std::io::IsTerminal;

use clap::Args;
use runtime::Status;
use runtime::attach::Ended;

use super::terminal::{RawTerminal, detach_keys};
use super::{Ctx, ExitStatus, attach, container};

/// `strata attach`.
#[derive(Debug, Args)]
pub struct AttachArgs {
    /// Override the key sequence for detaching a container.
    #[arg(long, value_name = "string")]
    pub detach_keys: Option<String>,
    /// Do not attach STDIN.
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub sig_proxy: bool,
    /// The container.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Attaches to the container; exits with its code once it exits.
pub fn run(ctx: &Ctx, args: AttachArgs) -> anyhow::Result<()> {
    let (c, rt) = container::load(ctx, &args.container)?;
    // Docker's CLI checks the state first, then the daemon the detach keys.
    let state = c.observed(&rt)?;
    if state.restarting {
        anyhow::bail!("You cannot attach to a restarting container, wait until it is running");
    }
    if state.status != Status::Running {
        anyhow::bail!("You cannot attach to a stopped container, start it first");
    }
    if state.paused {
        anyhow::bail!("You cannot attach to a paused container, unpause it first");
    }
    let keys = detach_keys(ctx, args.detach_keys.as_deref())
        .map_err(|e| anyhow::anyhow!("Error response from daemon: {e}"))?;
    let tty = c.record.options.tty;
    let stdin = c.record.options.open_stdin && !args.no_stdin;
    if tty && stdin && !std::io::stdin().is_terminal() {
        eprintln!("{}", super::run::NOT_A_TTY);
        return Err(ExitStatus::code(1));
    }
    let stream = runtime::attach::connect(&c.dir.0)
        .map_err(|_| anyhow::anyhow!("You cannot attach to a stopped container, start it first"))?;
    // Docker's daemon reports each client that attaches, and one that detaches.
    runtime::events::container(&c, "attach", &[]);
    if args.sig_proxy && !tty {
        attach::forward_signals(rt.clone(), c.clone())?;
    }
    let raw = if tty && stdin {
        RawTerminal::enter()
    } else {
        None
    };
    let ended = attach::session(stream, stdin, tty, &keys);
    drop(raw);
    let code = match ended? {
        Ended::Exited(code) => code,
        Ended::Detached => {
            runtime::events::container(&c, "detach", &[]);
            0
        }
        Ended::Failed(why) => return Err(anyhow::anyhow!("Error response from daemon: {why}")),
        // The monitor went away without saying: what it recorded tells.
        Ended::Closed => {
            let c = runtime::container::load(&ctx.root, &c.record.id)?;
            c.observed(&rt)?.exit_code.unwrap_or(0)
        }
    };
    if code != 0 {
        return Err(ExitStatus::code(code));
    }
    Ok(())
}
