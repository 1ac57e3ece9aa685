//! `strata stop`: the stop signal, then SIGKILL after `-t` seconds.

use std::io::Write;
use std::time::Duration;

use super::{Ctx, container};
use crate::cli::StopArgs;

/// Stops each container and waits until its exit is recorded; prints each name as given.
pub fn run(ctx: &Ctx, args: StopArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    super::each_named(&args.containers, out, |name| stop_one(ctx, name, &args))
}

/// Stops one container (nothing to do when it is not running).
pub fn stop_one(ctx: &Ctx, name: &str, args: &StopArgs) -> anyhow::Result<()> {
    let (c, rt) = container::load(ctx, name)?;
    // Docker: a negative timeout waits for ever.
    let timeout = if args.time < 0 {
        Duration::from_secs(u64::MAX / 4)
    } else {
        Duration::from_secs(args.time as u64)
    };
    c.stop_and_wait(&rt, args.signal.as_deref(), timeout)?;
    Ok(())
}
