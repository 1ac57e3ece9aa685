//! `images --tree`: each image with its platforms, as Docker 28 prints it (the image's
//! names and its target's ID, then a `├─ os/arch` row per platform with its manifest's ID,
//! disk usage, content size and `U` when a container uses it; platforms not in the store
//! show `0B`; attestation entries are left out).

use std::io::Write;

use runtime::Container;
use store::{ImageInfo, Store};

use super::util;
use crate::render;

/// Spaces between columns, as Docker's.
const SPACING: usize = 3;

/// One row under an image: a platform.
struct Child {
    platform: String,
    id: String,
    disk_usage: u64,
    content: u64,
    in_use: bool,
}

/// Prints `images` (already filtered and sorted, newest first) as Docker 28's tree.
pub fn print(
    store: &Store,
    containers: &[Container],
    images: &[ImageInfo],
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let mut tops = Vec::new();
    for info in images {
        let children = children(store, containers, info)?;
        let mut names: Vec<String> = info.tags.iter().map(|t| util::familiar(t)).collect();
        names.sort();
        if names.is_empty() {
            names.push("<untagged>".to_string());
        }
        tops.push((names, info, children));
    }
    let width = tops
        .iter()
        .flat_map(|(names, _, children)| {
            let names = names.iter().map(|n| n.chars().count());
            let platforms = children.iter().map(|c| c.platform.chars().count() + 3);
            names.chain(platforms).collect::<Vec<_>>()
        })
        .chain(["IMAGE".len()])
        .max()
        .unwrap_or(5);
    let table = width + SPACING + 12 + SPACING + 10 + SPACING + 12 + SPACING + 5;
    let legend = "i Info →   U  In Use";
    writeln!(out, "{legend:>table$}")?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<width$}   {:<12}   {:>10}   {:>12}   EXTRA",
        "IMAGE", "ID", "DISK USAGE", "CONTENT SIZE"
    )?;
    for (names, info, children) in &tops {
        let disk: u64 = children.iter().map(|c| c.disk_usage).sum();
        let content: u64 = children.iter().map(|c| c.content).sum();
        let in_use = children.iter().any(|c| c.in_use);
        let (last, rest) = names.split_last().expect("one name at least");
        for n in rest {
            writeln!(out, "{n}")?;
        }
        line(
            out,
            &format!("{last:<width$}"),
            &short(&info.target.digest.to_string()),
            disk,
            content,
            in_use,
        )?;
        for (i, c) in children.iter().enumerate() {
            let branch = if i + 1 == children.len() {
                "└─"
            } else {
                "├─"
            };
            let label = format!("{branch} {}", c.platform);
            line(
                out,
                &format!("{label:<width$}"),
                &c.id,
                c.disk_usage,
                c.content,
                c.in_use,
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// One row's columns after the first.
fn line(
    out: &mut dyn Write,
    first: &str,
    id: &str,
    disk: u64,
    content: u64,
    in_use: bool,
) -> anyhow::Result<()> {
    let extra = if in_use { "  U" } else { "" };
    let text = format!(
        "{first}   {id:<12}   {:>10}   {:>12}{extra}",
        render::human_size(disk),
        render::human_size(content)
    );
    writeln!(out, "{}", text.trim_end())?;
    Ok(())
}

/// A digest's first 12 hex digits, as Docker's `TruncateID`.
fn short(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

/// The platforms of image `info`: an index's entries (attestations left out), or the one
/// manifest of a single-platform image.
fn children(
    store: &Store,
    containers: &[Container],
    info: &ImageInfo,
) -> anyhow::Result<Vec<Child>> {
    let target = info.target.digest.to_string();
    let users: Vec<&Container> = containers
        .iter()
        .filter(|c| c.record.image_target == target)
        .collect();
    let entries = store.image_platforms(info)?;
    let mut out = Vec::new();
    if entries.is_empty() {
        let (content, unpacked) = store.manifest_sizes(&info.target)?;
        out.push(Child {
            platform: info
                .platform
                .as_ref()
                .map_or_else(|| "unknown".into(), |p| p.to_string()),
            id: short(&target),
            disk_usage: content + unpacked,
            content,
            in_use: !users.is_empty(),
        });
        return Ok(out);
    }
    for e in entries.iter().filter(|e| !e.attestation) {
        let (content, unpacked) = if e.present {
            store.manifest_sizes(&e.descriptor)?
        } else {
            (0, 0)
        };
        // A container made before its record named a platform used the image's default.
        let in_use = users
            .iter()
            .any(|c| match (&c.record.platform, &e.platform) {
                (Some(used), Some(p)) => used.matches(p),
                (None, _) => e.descriptor.digest == info.manifest,
                _ => false,
            });
        out.push(Child {
            platform: e
                .platform
                .as_ref()
                .map_or_else(|| "unknown".into(), |p| p.to_string()),
            id: short(&e.descriptor.digest.to_string()),
            disk_usage: content + unpacked,
            content,
            in_use,
        });
    }
    Ok(out)
}
