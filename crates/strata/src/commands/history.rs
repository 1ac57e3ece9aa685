//! `strata history`: the config's history, newest first.

use std::io::Write;

use anyhow::Context as _;
use oci::Manifest;
use serde_json::{Value, json};

use super::{Ctx, util};
use crate::cli::HistoryArgs;
use crate::render::{self, OutputFormat};

const HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];

/// Shows how an image's layers were made.
pub fn run(ctx: &Ctx, args: HistoryArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let platform = util::platform_flag(args.platform.as_deref())?;
    let info = util::resolve_platform(&store, &args.image, platform.as_ref())?;
    let config = util::image_config(&store, &info)?;
    let manifest = Manifest::from_slice(&store.manifest_bytes(&info.manifest)?)
        .with_context(|| format!("parsing the manifest {}", info.manifest))?;
    // Layer sizes in history order (unpacked, as Docker shows them, where the store
    // measured them): each non-empty entry takes the next layer.
    let mut layer_sizes = manifest
        .layers
        .iter()
        .map(|l| store.layer_size(l))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter();
    // A config without history (some builders write none): one anonymous step per layer.
    let synthesized: Vec<oci::config::History> = if config.history.is_empty() {
        manifest
            .layers
            .iter()
            .map(|_| oci::config::History::default())
            .collect()
    } else {
        Vec::new()
    };
    let history = if config.history.is_empty() {
        &synthesized
    } else {
        &config.history
    };
    let mut entries: Vec<(Option<u64>, &oci::config::History)> = history
        .iter()
        .map(|h| {
            let size = if h.empty_layer {
                Some(0)
            } else {
                layer_sizes.next()
            };
            (size, h)
        })
        .collect();
    entries.reverse();
    let now = util::now();
    let mut rows = Vec::new();
    for (i, (size, h)) in entries.iter().enumerate() {
        // The newest entry is the image itself; Docker has no IDs for the steps below it.
        let id = if i == 0 {
            render::image_id(&info.id, args.no_trunc)
        } else {
            "<missing>".to_string()
        };
        if args.quiet {
            writeln!(out, "{id}")?;
            continue;
        }
        let created = util::parse_time(h.created.as_deref());
        let created_by = h.created_by.clone().unwrap_or_default();
        let size = size.unwrap_or(0);
        rows.push(history_row(
            &id,
            created,
            &created_by,
            size,
            h.comment.as_deref().unwrap_or(""),
            &args,
            now,
        ));
    }
    if args.quiet {
        return Ok(());
    }
    // Docker's default table shows `CREATED AT` (the timestamp column) with -H=false.
    let default = if args.human {
        "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    } else {
        "{{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
    };
    let format =
        OutputFormat::parse(args.format.as_deref(), default)?.on_struct("*image.historyContext");
    render::write_rows(out, &format, HEADERS, &rows)
}

fn history_row(
    id: &str,
    created: Option<chrono::DateTime<chrono::Utc>>,
    created_by: &str,
    size: u64,
    comment: &str,
    args: &HistoryArgs,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let created_at = created
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    let since = if args.human {
        render::created_since(created, now)
    } else {
        created_at.clone()
    };
    let created_by = if args.no_trunc {
        created_by.to_string()
    } else {
        util::ellipsis(&created_by.replace('\t', " "), 45)
    };
    json!({
        "Comment": comment,
        "CreatedAt": created_at,
        "CreatedBy": created_by,
        "CreatedSince": since,
        "ID": id,
        "Size": if args.human { render::human_size(size) } else { size.to_string() },
    })
}
