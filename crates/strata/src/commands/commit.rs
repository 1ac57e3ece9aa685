//! `strata commit`: a container's writable layer becomes a new image.

use std::io::Write;

use runtime::commit::CommitOptions;

use super::{Ctx, container, util};
use crate::cli::CommitArgs;

/// Commits the container and prints the new image ID.
pub fn run(ctx: &Ctx, args: CommitArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let reference = args
        .reference
        .as_deref()
        .map(|r| util::parse_reference(r).map(|r| r.to_string()))
        .transpose()?;
    let (c, rt) = container::load(ctx, &args.container)?;
    let store = ctx.store()?;
    let committed = runtime::commit::commit(
        &store,
        &rt,
        &c,
        &CommitOptions {
            reference,
            author: args.author,
            message: args.message,
            changes: args.changes,
            pause: args.pause,
        },
    )?;
    writeln!(out, "{}", committed.id)?;
    Ok(())
}
