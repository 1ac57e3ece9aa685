//! `strata run`: create, then start in the foreground (exit with the container's code) or
//! with `-d` under a detached monitor (print the ID).

use std::io::Write;

use super::{Ctx, ExitStatus, FlagCheck, attach, create, monitor};
use crate::cli::RunArgs;

/// Docker's refusal of `run -it` when stdin is not a terminal (on stderr, exit 1).
pub const NOT_A_TTY: &str = "the input device is not a TTY";

/// Runs a container the way `docker run` does. Failures before the container's process
/// runs exit 125 (126 when its command cannot be run, 127 when it is not found).
pub fn run(ctx: &Ctx, args: RunArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    // Docker's CLI refuses `-it` without a terminal on stdin before creating anything.
    if !args.detach
        && args.flags.interactive
        && args.flags.tty
        && !std::io::IsTerminal::is_terminal(&std::io::stdin())
    {
        eprintln!("{NOT_A_TTY}");
        return Err(ExitStatus::code(1));
    }
    let detach_keys = super::terminal::detach_keys(ctx, args.detach_keys.as_deref());
    // Docker's CLI says it bare, and exits 1.
    if args.detach && !args.flags.attach.is_empty() {
        return Err(super::Plain::error("Conflicting options: -a and -d"));
    }
    let store = ctx.store().map_err(|e| ExitStatus::error(125, e))?;
    let c = create::create(
        ctx,
        &store,
        &args.flags,
        args.operands.image(),
        args.operands.command(),
    )
    .map_err(|e| {
        // 125, or Docker's 126/127 for what its daemon finds only at start (a `--device`
        // the host lacks), which strata finds while writing the spec at create.
        let code = e
            .downcast_ref::<runtime::RuntimeError>()
            .map_or(125, runtime::RuntimeError::run_exit_code);
        ExitStatus::error(code, FlagCheck::render(e, "run"))
    })?;
    let rt = c
        .oci_runtime(&ctx.root)
        .map_err(|e| ExitStatus::error(125, e))?;
    if args.detach {
        let id = c.record.id.clone();
        monitor::start_detached(ctx, &store, &c, &rt)?;
        writeln!(out, "{id}")?;
        return Ok(());
    }
    let detach_keys = match detach_keys {
        Ok(k) => k,
        Err(e) => {
            // Docker's daemon refuses the attach, not the run: the container runs, without
            // its output, and the client exits 1.
            monitor::start_detached(ctx, &store, &c, &rt)?;
            return Err(ExitStatus::error(
                1,
                anyhow::anyhow!("Error response from daemon: {e}"),
            ));
        }
    };
    let code = attach::run_attached(
        ctx,
        &store,
        c,
        &rt,
        attach::Attached::of_flags(&args.flags.attach, args.flags.interactive),
        args.sig_proxy,
        &detach_keys,
    )?;
    if code != 0 {
        out.flush()?;
        return Err(ExitStatus::code(code));
    }
    Ok(())
}
