//! `strata stop`: the stop signal, then SIGKILL after `-t` seconds.

use std::io::Write;
use std::time::Duration;

use super::{Ctx, container};
use crate::cli::StopArgs;

/// Docker's stop timeout when neither `-t` nor `--stop-timeout` says: 10 seconds.
const DEFAULT_STOP_TIMEOUT: i64 = 10;

/// Stops each container and waits until its exit is recorded; prints each name as given.
pub fn run(ctx: &Ctx, args: StopArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    super::each_named(&args.containers, out, |name| stop_one(ctx, name, &args))
}

/// Stops one container (nothing to do when it is not running).
pub fn stop_one(ctx: &Ctx, name: &str, args: &StopArgs) -> anyhow::Result<()> {
    let (c, rt) = container::load(ctx, name)?;
    // Docker: `-t`, else the container's `--stop-timeout`, else 10; negative waits for ever.
    let secs = args
        .time
        .or(c.record.options.stop_timeout)
        .unwrap_or(DEFAULT_STOP_TIMEOUT);
    let timeout = if secs < 0 {
        Duration::from_secs(u64::MAX / 4)
    } else {
        Duration::from_secs(secs as u64)
    };
    c.stop_and_wait(&rt, args.signal.as_deref(), timeout)?;
    Ok(())
}
