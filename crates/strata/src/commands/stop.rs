//! `strata stop`: the stop signal, then SIGKILL after `-t` seconds.

use std::io::Write;
use std::time::Duration;

use runtime::Status;

use super::{Ctx, container};
use crate::cli::StopArgs;

/// Stops each container and waits until its exit is recorded; prints each name as given.
pub fn run(ctx: &Ctx, args: StopArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    super::each_named(&args.containers, out, |name| stop_one(ctx, name, &args))
}

/// Stops one container (nothing to do when it is not running).
pub fn stop_one(ctx: &Ctx, name: &str, args: &StopArgs) -> anyhow::Result<()> {
    let (mut c, rt) = container::load(ctx, name)?;
    let mut seen = c.observed(&rt)?;
    if seen.restarting {
        // Between two runs of a `--restart` policy: it stays exited from now on, unless its
        // monitor was starting it just then; that run is stopped as any other.
        c.state = seen;
        if !c.cancel_restart()? {
            return Ok(());
        }
        seen = c.observed(&rt)?;
    }
    if seen.status != Status::Running {
        return Ok(());
    }
    if let Some(sig) = &args.signal {
        c.record.stop_signal = sig.clone();
    }
    // Docker: a negative timeout waits for ever.
    let timeout = if args.time < 0 {
        Duration::from_secs(u64::MAX / 4)
    } else {
        Duration::from_secs(args.time as u64)
    };
    c.stop(&rt, timeout)?;
    runtime::container::wait_recorded(&ctx.root, &c.record.id, &rt, Duration::from_secs(30))?;
    Ok(())
}
