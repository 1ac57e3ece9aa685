//! `strata rm`: removes containers (`-f` kills a running one first, `-v` removes its
//! anonymous volumes).

use std::io::Write;

use super::{Ctx, container};
use crate::cli::RmArgs;

/// Removes each container, printing its name as given.
pub fn run(ctx: &Ctx, args: RmArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = ctx.store()?;
    super::each_named(&args.containers, out, |name| {
        let (c, rt) = container::load(ctx, name)?;
        c.remove_as_asked(&store, &rt, args.force, args.volumes)?;
        Ok(())
    })
}
