//! `strata system prune`: one question, then the prunes of containers, volumes (with
//! `--volumes`), images and build cache in Docker's order, each printing its section,
//! and one total. Each part is the same library call its own prune command makes.

use std::io::Write;

use anyhow::bail;

use super::Ctx;
use super::prune_filter::PruneFilters;
use crate::cli::SystemPruneArgs;

/// Docker's question: what `system prune` with these flags removes, one item a line.
/// (strata has no networks to remove; Docker's line about them is kept so the question
/// reads as users know it.)
fn warning(all: bool, volumes: bool) -> String {
    let mut items = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if volumes {
        items.push("all anonymous volumes not used by at least one container");
    }
    items.push(if all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    });
    items.push(if all {
        "all build cache"
    } else {
        "all dangling build cache"
    });
    let mut text = String::from("WARNING! This will remove:\n");
    for i in items {
        text.push_str("  - ");
        text.push_str(i);
        text.push('\n');
    }
    text
}

/// Removes what `args` select after asking, unless `-f`.
pub fn run(ctx: &Ctx, args: SystemPruneArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let now = super::util::now();
    let filters = PruneFilters::parse(&args.filter, now)?;
    if filters.dangling.is_some() {
        // Docker's container prune, the first part, refuses it.
        bail!("Invalid filter 'dangling'");
    }
    if !args.force {
        // Docker asks after an empty line; "n" prints nothing more.
        let question = format!(
            "{}\nAre you sure you want to continue?",
            warning(args.all, args.volumes)
        );
        if !super::util::ask_yes_no(out, &question)? {
            return Ok(());
        }
    }
    let store = ctx.store()?;
    let mut reclaimed = super::container::prune_section(
        &store,
        &|c| filters.allows_parts(Some(&c.record.created), &c.record.options.labels),
        out,
    )?;
    if args.volumes {
        reclaimed += super::volume::prune_section(
            &store,
            false,
            &|v| filters.allows_parts(None, &v.labels),
            out,
        )?;
    }
    reclaimed += super::prune::prune_section(&store, args.all, &filters, out)?;
    // Build cache has no labels: a label filter keeps all of it.
    if !filters.wants_labels() {
        let policy = store::CachePrunePolicy {
            all: args.all,
            unused_since: filters.until().map(|t| t.timestamp()),
            keep_storage: None,
        };
        reclaimed += super::builder_prune::prune_section(&store, &policy, out)?;
    }
    super::util::print_reclaimed(out, reclaimed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_question_lists_what_the_flags_remove() {
        assert_eq!(
            warning(false, false),
            "WARNING! This will remove:\n  - all stopped containers\n  \
             - all networks not used by at least one container\n  - all dangling images\n  \
             - all dangling build cache\n"
        );
        assert_eq!(
            warning(true, true),
            "WARNING! This will remove:\n  - all stopped containers\n  \
             - all networks not used by at least one container\n  \
             - all anonymous volumes not used by at least one container\n  \
             - all images without at least one container associated to them\n  \
             - all build cache\n"
        );
    }
}
