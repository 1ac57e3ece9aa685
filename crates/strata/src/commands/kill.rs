//! `strata kill`: sends a signal (default SIGKILL) to running containers.

use std::io::Write;

use runtime::record::Status;

use super::{Ctx, container};
use crate::cli::KillArgs;

/// Signals each container, printing its name as given.
pub fn run(ctx: &Ctx, args: KillArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    for name in &args.containers {
        let result = (|| -> anyhow::Result<()> {
            let (c, rt) = container::load(ctx, name)?;
            if container::observed(&c, &rt)?.status != Status::Running {
                anyhow::bail!(
                    "cannot kill container: {name}: container {} is not running",
                    c.record.id
                );
            }
            c.kill(&rt, args.signal.trim_start_matches("SIG"))?;
            Ok(())
        })();
        match result {
            Ok(()) => writeln!(out, "{name}")?,
            Err(e) => errors.push(e),
        }
    }
    super::report_errors(errors)
}
