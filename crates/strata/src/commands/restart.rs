//! `strata restart`: stop (as `stop -t`), then start detached.

use std::io::Write;

use super::{Ctx, container, monitor, stop};
use crate::cli::StopArgs;

/// Restarts each container, printing its name as given.
pub fn run(ctx: &Ctx, args: StopArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    super::each_named(&args.containers, out, |name| {
        stop::stop_one(ctx, name, &args)?;
        let (c, rt) = container::load(ctx, name)?;
        monitor::start_detached(ctx, &ctx.store()?, &c, &rt)?;
        runtime::events::container(&c, "restart", &[]);
        Ok(())
    })
}
