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

/// Prints the usage table: images from the store; containers (their writable layers,
/// active = running, reclaimable = stopped ones'); local volumes (active = in use); the
/// build cache is not kept by strata yet and counts zero.
pub fn run(ctx: &Ctx, args: DfArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let usage = store.disk_usage()?;
    let containers = container_usage(ctx)?;
    let volumes = volume_usage(ctx)?;
    let rows = vec![
        row(
            "Images",
            usage.images,
            usage.active,
            usage.blobs_bytes,
            usage.reclaimable_bytes,
        ),
        row(
            "Containers",
            containers.len() as u64,
            containers.iter().filter(|c| c.running).count() as u64,
            containers.iter().map(|c| c.size).sum(),
            containers
                .iter()
                .filter(|c| !c.running)
                .map(|c| c.size)
                .sum(),
        ),
        row(
            "Local Volumes",
            volumes.len() as u64,
            volumes.iter().filter(|v| v.links > 0).count() as u64,
            volumes.iter().map(|v| v.size).sum(),
            volumes
                .iter()
                .filter(|v| v.links == 0)
                .map(|v| v.size)
                .sum(),
        ),
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
    )?;
    writeln!(out, "\nContainers space usage:\n")?;
    let rows: Vec<Value> = containers
        .iter()
        .map(|c| {
            json!({
                "ID": &c.id[..12],
                "Image": c.image,
                "Command": c.command,
                "LocalVolumes": c.volumes.to_string(),
                "Size": render::human_size(c.size),
                "CreatedSince": render::created_since(util::parse_time(Some(&c.created)), now),
                "Status": c.status,
                "Names": c.name,
            })
        })
        .collect();
    let table = OutputFormat::parse(
        None,
        "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.CreatedSince}}\t{{.Status}}\t{{.Names}}",
    )?;
    render::write_rows(
        out,
        &table,
        &[
            ("ID", "CONTAINER ID"),
            ("LocalVolumes", "LOCAL VOLUMES"),
            ("CreatedSince", "CREATED"),
        ],
        &rows,
    )?;
    writeln!(out, "\nLocal Volumes space usage:\n")?;
    let rows: Vec<Value> = volumes
        .iter()
        .map(|v| {
            json!({
                "Name": v.name,
                "Links": v.links.to_string(),
                "Size": render::human_size(v.size),
            })
        })
        .collect();
    let table = OutputFormat::parse(None, "{{.Name}}\t{{.Links}}\t{{.Size}}")?;
    render::write_rows(out, &table, &[("Name", "VOLUME NAME")], &rows)
}

/// One container's line in `system df`.
struct ContainerUsage {
    id: String,
    name: String,
    image: String,
    command: String,
    created: String,
    status: String,
    volumes: usize,
    running: bool,
    size: u64,
}

fn container_usage(ctx: &Ctx) -> anyhow::Result<Vec<ContainerUsage>> {
    let now = util::now();
    let mut out = Vec::new();
    for c in runtime::container::list(&ctx.root)? {
        let rt = c.oci_runtime(&ctx.root)?;
        let state = c.observed(&rt)?;
        out.push(ContainerUsage {
            running: state.status == runtime::Status::Running,
            status: super::container::status_text(&state, now),
            size: c.size_rw().unwrap_or(0),
            volumes: c
                .record
                .options
                .mounts
                .iter()
                .filter(|m| matches!(m.kind, runtime::MountKind::Volume { .. }))
                .count(),
            id: c.record.id,
            name: c.record.name,
            image: c.record.image,
            command: format!("\"{}\"", util::ellipsis(&c.record.args.join(" "), 20)),
            created: c.record.created,
        });
    }
    Ok(out)
}

/// One volume's line in `system df`.
struct VolumeUsage {
    name: String,
    links: usize,
    size: u64,
}

fn volume_usage(ctx: &Ctx) -> anyhow::Result<Vec<VolumeUsage>> {
    let mut out = Vec::new();
    for v in runtime::volumes::list(&ctx.root)? {
        out.push(VolumeUsage {
            links: runtime::container::volume_users(&ctx.root, &v.name)?.len(),
            size: super::volume::dir_size(&v.mountpoint),
            name: v.name,
        });
    }
    Ok(out)
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
