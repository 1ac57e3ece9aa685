//! `strata rename`.

use super::Ctx;
use crate::cli::RenameArgs;

/// Renames a container; the new name must be free.
pub fn run(ctx: &Ctx, args: RenameArgs) -> anyhow::Result<()> {
    let c = runtime::container::load(&ctx.root, &args.container)?;
    runtime::container::rename(&ctx.root, &c.record.id, &args.new_name)?;
    Ok(())
}
