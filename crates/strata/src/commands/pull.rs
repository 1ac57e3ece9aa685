//! `strata pull NAME[:TAG|@DIGEST]`: registry → store, with Docker's output.

use std::io::Write;

use super::{Ctx, pulling};
use crate::cli::PullArgs;

/// Pulls one tag or digest, or with `-a` every tag of the repository.
pub fn run(ctx: &Ctx, args: PullArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = ctx.store()?;
    pulling::pull(ctx, args, out, &store.lease()?)
}
