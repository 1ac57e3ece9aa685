//! `strata tag SOURCE TARGET`.

use super::{Ctx, Plain, util};
use crate::cli::TagArgs;

/// Points the name TARGET at the image SOURCE names.
pub fn run(ctx: &Ctx, args: TagArgs) -> anyhow::Result<()> {
    // Docker's client checks TARGET before it asks the daemon, in these words.
    let target = oci::reference::parse_normalized_named(&args.target).map_err(|e| {
        Plain::error(format!(
            "Error parsing reference: {:?} is not a valid repository/tag: {}",
            args.target,
            util::go_reference_message(&e)
        ))
    })?;
    if target.digest.is_some() {
        return Err(Plain::error(
            "refusing to create a tag with a digest reference",
        ));
    }
    let target = util::parse_reference(&args.target)?;
    let store = ctx.store()?;
    // Held from the lookup to the new tag: a concurrent prune cannot take the image in
    // between (the tag would name a manifest no longer stored).
    let hold = store.lease()?;
    let info = util::hold(&hold, &args.source)?;
    store.set_tag(&target.to_string(), &info.target)?;
    Ok(())
}
