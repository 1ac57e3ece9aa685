//! `strata system df`: disk usage by type.

use std::io::Write;

use serde_json::{Value, json};

use super::{Ctx, util};
use crate::cli::DfArgs;
use crate::render::{self, OutputFormat};

const HEADERS: &[(&str, &str)] = &[
    ("Type", "TYPE"),
    ("TotalCount", "TOTAL"),
    ("Active", "ACTIVE"),
    ("Size", "SIZE"),
    ("Reclaimable", "RECLAIMABLE"),
];

/// Prints the usage table (Images from the store; containers, volumes and build cache are
/// not kept by strata yet and count zero).
pub fn run(ctx: &Ctx, args: DfArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let usage = store.disk_usage()?;
    let rows = vec![
        row(
            "Images",
            usage.images,
            usage.active,
            usage.blobs_bytes,
            usage.reclaimable_bytes,
        ),
        row("Containers", 0, 0, 0, 0),
        row("Local Volumes", 0, 0, 0, 0),
        row("Build Cache", 0, 0, 0, 0),
    ];
    let format = OutputFormat::parse(
        args.format.as_deref(),
        "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
    )?;
    if !args.verbose {
        return render::write_rows(out, &format, HEADERS, &rows);
    }
    writeln!(out, "Images space usage:\n")?;
    let now = util::now();
    let mut images = Vec::new();
    for info in store.images()? {
        let created = util::parse_time(info.created.as_deref());
        let names: Vec<(String, String)> = if info.tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            info.tags.iter().map(|t| util::repo_and_tag(t)).collect()
        };
        for (repo, tag) in names {
            images.push(json!({
                "Repository": repo,
                "Tag": tag,
                "ID": render::image_id(&info.id, false),
                "CreatedSince": render::created_since(created, now),
                "Size": render::human_size(info.size),
                "Containers": info.users.len().to_string(),
            }));
        }
    }
    let table = OutputFormat::parse(
        None,
        "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.Containers}}",
    )?;
    render::write_rows(
        out,
        &table,
        &[("ID", "IMAGE ID"), ("CreatedSince", "CREATED")],
        &images,
    )
}

/// One row; RECLAIMABLE as Docker prints it: `1.2MB (50%)`.
fn row(kind: &str, total: u64, active: u64, size: u64, reclaimable: u64) -> Value {
    let shown = render::units::human_size_precision(reclaimable, 4);
    let reclaim = match (reclaimable * 100).checked_div(size) {
        Some(percent) => format!("{shown} ({percent}%)"),
        None => shown,
    };
    json!({
        "Type": kind,
        "TotalCount": total.to_string(),
        "Active": active.to_string(),
        "Size": render::units::human_size_precision(size, 4),
        "Reclaimable": reclaim,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reclaimable_has_a_percentage() {
        for (size, reclaim, want) in [
            (0, 0, "0B"),
            (2_000_000, 1_000_000, "1MB (50%)"),
            (3_000, 3_000, "3kB (100%)"),
        ] {
            assert_eq!(row("Images", 1, 0, size, reclaim)["Reclaimable"], want);
        }
    }
}
