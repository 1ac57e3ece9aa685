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
    let reclaimed = prune_section(&ctx.store()?, all, &filters, out)?;
    super::util::print_reclaimed(out, reclaimed)
}

/// Removes the dangling (or with `all` every unused) images `filters` let go, and the
/// unpacked layers nothing needs any more; prints Docker's "Deleted Images:" section
/// (nothing when none went) and returns the bytes freed.
pub fn prune_section(
    store: &store::Store,
    all: bool,
    filters: &PruneFilters,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    // Images a container uses are never pruned (the store keeps every image with users).
    let report = store.prune_matching(all, &|i| filters.allows(i))?;
    if let Err(e) = runtime::snapshot::prune(store) {
        tracing::warn!("removing unused snapshots: {e}");
    }
    if !report.deleted.is_empty() {
        writeln!(out, "Deleted Images:")?;
        for e in &report.deleted {
            writeln!(out, "{}", prune_line(e))?;
        }
        writeln!(out)?;
    }
    Ok(report.space_reclaimed)
}

/// Docker's prune lists events as `untagged: x` / `deleted: sha256:…` (lower case).
fn prune_line(e: &store::RemoveEvent) -> String {
    let line = super::rmi::display_event(e);
    match line.split_once(": ") {
        Some((verb, rest)) => format!("{}: {rest}", verb.to_lowercase()),
        None => line,
    }
}
