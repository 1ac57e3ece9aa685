//! `strata kill`: sends a signal (default SIGKILL) to running containers.

use std::io::Write;

use runtime::record::Status;

use super::{Ctx, container};
use crate::cli::KillArgs;

/// Signals each container, printing its name as given.
pub fn run(ctx: &Ctx, args: KillArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    super::each_named(&args.containers, out, |name| {
        let (c, rt) = container::load(ctx, name)?;
        if container::observed(&c, &rt)?.status != Status::Running {
            anyhow::bail!(
                "cannot kill container: {name}: container {} is not running",
                c.record.id
            );
        }
        c.kill(&rt, args.signal.trim_start_matches("SIG"))?;
        Ok(())
    })
}
