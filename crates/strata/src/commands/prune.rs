//! `strata image prune`.

use std::io::Write;

use super::Ctx;
use super::prune_filter::PruneFilters;
use crate::cli::PruneArgs;

/// Removes dangling (or with `-a` all unused) images after asking, unless `-f`.
pub fn run(ctx: &Ctx, args: PruneArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let filters = PruneFilters::parse(&args.filter, super::util::now())?;
    let all = args.all || filters.dangling == Some(false);
    if !args.force {
        let warning = if args.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        if !super::container::confirm(out, warning)? {
            // Docker prints the total even when it does nothing.
            writeln!(out, "Total reclaimed space: 0B")?;
            return Ok(());
        }
    }
    let store = ctx.store()?;
    // Images a container uses are never pruned (the store keeps every image with users).
    let report = store.prune_matching(all, &|i| filters.allows(i))?;
    if let Err(e) = runtime::snapshot::prune(&store) {
        tracing::warn!("removing unused snapshots: {e}");
    }
    if !report.deleted.is_empty() {
        writeln!(out, "Deleted Images:")?;
        for e in &report.deleted {
            writeln!(out, "{}", prune_line(e))?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        crate::render::units::reclaimed_size(report.space_reclaimed)
    )?;
    Ok(())
}

/// Docker's prune lists events as `untagged: x` / `deleted: sha256:…` (lower case).
fn prune_line(e: &store::RemoveEvent) -> String {
    let line = super::rmi::display_event(e);
    match line.split_once(": ") {
        Some((verb, rest)) => format!("{}: {rest}", verb.to_lowercase()),
        None => line,
    }
}
