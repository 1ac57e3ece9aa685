//! `strata restart`: stop (as `stop -t`), then start detached.

use std::io::Write;

use super::{Ctx, container, monitor, stop};
use crate::cli::StopArgs;

/// Restarts each container, printing its name as given.
pub fn run(ctx: &Ctx, args: StopArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    for name in &args.containers {
        let result = (|| -> anyhow::Result<()> {
            stop::stop_one(ctx, name, &args)?;
            let (c, rt) = container::load(ctx, name)?;
            monitor::start_detached(ctx, &c, &rt)?;
            Ok(())
        })();
        match result {
            Ok(()) => writeln!(out, "{name}")?,
            Err(e) => errors.push(e),
        }
    }
    super::report_errors(errors)
}
