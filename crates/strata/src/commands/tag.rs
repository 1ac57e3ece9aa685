//! `strata tag SOURCE TARGET`.

use super::{Ctx, util};
use crate::cli::TagArgs;

/// Points the name TARGET at the image SOURCE names.
pub fn run(ctx: &Ctx, args: TagArgs) -> anyhow::Result<()> {
    let target = util::parse_reference(&args.target)?;
    if target.digest().is_some() {
        anyhow::bail!(
            "refusing to create a tag with a digest reference: {}",
            args.target
        );
    }
    let store = ctx.store()?;
    let info = util::resolve(&store, &args.source)?;
    store.set_tag(&target.to_string(), &info.target)?;
    Ok(())
}
