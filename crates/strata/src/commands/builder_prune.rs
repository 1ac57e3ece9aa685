//! `strata builder prune`: removes build cache, as `docker builder prune` does.

use std::io::Write;
use std::time::Duration;

use anyhow::bail;

use super::Ctx;
use crate::cli::BuilderPruneArgs;

/// Docker's prompts.
const DANGLING_WARNING: &str =
    "WARNING! This will remove all dangling build cache. Are you sure you want to continue?";
const ALL_WARNING: &str =
    "WARNING! This will remove all build cache. Are you sure you want to continue?";

/// The `--filter` values `builder prune` takes: `until=DURATION` (and its older name
/// `unused-for`), refused in dockerd's words otherwise.
pub fn unused_for(filters: &[String]) -> anyhow::Result<Option<Duration>> {
    let mut out = None;
    for f in filters {
        let Some((key, value)) = f.split_once('=') else {
            bail!("bad format of filter (expected name=value): {f}");
        };
        match key {
            "until" | "unused-for" => {
                let d = oci::go_duration::parse_unsigned(value).map_err(|e| {
                    anyhow::anyhow!(
                        "failed to prune build cache: \"until\" filter expects a duration \
                         (e.g., '24h'): {e}"
                    )
                })?;
                out = Some(d);
            }
            _ => bail!("failed to prune build cache: Invalid filter '{key}'"),
        }
    }
    Ok(out)
}

/// Removes the build cache `args` select after asking, unless `-f`.
pub fn run(ctx: &Ctx, args: BuilderPruneArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let unused_for = unused_for(&args.filter)?;
    if !args.force {
        let warning = if args.all {
            ALL_WARNING
        } else {
            DANGLING_WARNING
        };
        if !super::util::ask_yes_no(out, warning)? {
            // Docker prints the total even when it does nothing.
            writeln!(out, "Total reclaimed space: 0B")?;
            return Ok(());
        }
    }
    let now = super::util::now().timestamp();
    let policy = store::CachePrunePolicy {
        all: args.all,
        unused_since: unused_for.map(|d| now - d.as_secs() as i64),
        keep_storage: args.keep_storage.map(|k| k.max(0) as u64),
    };
    let reclaimed = prune_section(&ctx.store()?, &policy, out)?;
    super::util::print_reclaimed(out, reclaimed)
}

/// Removes the build cache `policy` selects and prints Docker's "Deleted build cache
/// objects:" section (nothing when none went); returns the bytes freed.
pub fn prune_section(
    store: &store::Store,
    policy: &store::CachePrunePolicy,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let report = store.prune_build_cache(policy)?;
    if !report.deleted.is_empty() {
        writeln!(out, "Deleted build cache objects:")?;
        for id in &report.deleted {
            writeln!(out, "{id}")?;
        }
        writeln!(out)?;
    }
    Ok(report.bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_as_dockerd_reads_them() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(unused_for(&s(&[])).unwrap(), None);
        assert_eq!(
            unused_for(&s(&["until=24h"])).unwrap(),
            Some(Duration::from_secs(86_400))
        );
        assert_eq!(
            unused_for(&s(&["unused-for=90m"])).unwrap(),
            Some(Duration::from_secs(5_400))
        );
        for (bad, words) in [
            (&["foo=bar"][..], "Invalid filter 'foo'"),
            (&["until=xyz"][..], "\"until\" filter expects a duration"),
            (&["until"][..], "bad format of filter"),
        ] {
            let e = unused_for(&s(bad)).unwrap_err().to_string();
            assert!(e.contains(words), "{bad:?}: {e}");
        }
    }
}
