//! `strata diff`: what a container changed against its image, as `A`/`C`/`D` lines.

use std::io::Write;

use super::Ctx;
use crate::cli::DiffArgs;

/// Prints Docker's `docker diff` lines.
pub fn run(ctx: &Ctx, args: DiffArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let c = runtime::container::load(&ctx.root, &args.container)?;
    for change in c.diff(&store)? {
        writeln!(out, "{change}")?;
    }
    Ok(())
}
