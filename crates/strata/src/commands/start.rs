//! `strata start`: detached under a monitor (prints each name), or with `-a` in the
//! foreground like `run`.

use std::io::Write;

use super::{Ctx, ExitStatus, attach, container, monitor};
use crate::cli::StartArgs;

/// Starts each container; a running one is left as it is.
pub fn run(ctx: &Ctx, args: StartArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.attach || args.interactive {
        if args.containers.len() > 1 {
            anyhow::bail!("you cannot start and attach multiple containers at once");
        }
        let (mut c, rt) = container::load(ctx, &args.containers[0])?;
        if c.is_up(&rt)? {
            anyhow::bail!("container {} is already running", args.containers[0]);
        }
        c.settle(&rt)?;
        let keys = super::terminal::detach_keys(ctx, args.detach_keys.as_deref())?;
        let store = ctx.store()?;
        let code = attach::run_attached(
            ctx,
            &store,
            c,
            &rt,
            attach::Attached::of_flags(&[], args.interactive),
            true,
            &keys,
        )?;
        if code != 0 {
            out.flush()?;
            return Err(ExitStatus::code(code));
        }
        return Ok(());
    }
    super::each_named(&args.containers, out, |name| {
        let (c, rt) = container::load(ctx, name)?;
        // A restarting one counts as running (Docker's way): its monitor starts it.
        if !c.is_up(&rt)? {
            monitor::start_detached(ctx, &ctx.store()?, &c, &rt)?;
        }
        Ok(())
    })
}
