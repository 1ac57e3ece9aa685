//! `strata kill`: sends a signal (default SIGKILL) to running containers.

use std::io::Write;

use super::{Ctx, container};
use crate::cli::KillArgs;

/// Signals each container, printing its name as given.
pub fn run(ctx: &Ctx, args: KillArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    super::each_named(&args.containers, out, |name| {
        let (c, rt) = container::load(ctx, name)?;
        let id = c.record.id.clone();
        if !c.kill_running(&rt, args.signal.trim_start_matches("SIG"))? {
            anyhow::bail!("cannot kill container: {name}: container {id} is not running");
        }
        Ok(())
    })
}
