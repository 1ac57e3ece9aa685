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

/// Prints the usage table: images (their blobs and unpacked layers),
/// containers (their directories: record, writable layer, logs; active = running,
/// reclaimable = stopped ones'), local volumes (active = in use), and the build cache (the
/// blobs only its records keep, and its files). Every byte under the store's root is in
/// one row, or in the line `-v` adds for the store's own files (its database, directories
/// and scratch), so the rows and that line add up to `du -sb` of the root. Besides Docker's fields, each row has `Bytes` and `ReclaimableBytes`
/// (exact numbers, for scripts).
pub fn run(ctx: &Ctx, args: DfArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let usage = store.disk_usage()?;
    let containers = container_usage(ctx, &usage)?;
    let volumes = volume_usage(ctx, &usage)?;
    let cache = store.cache_entries()?;
    let mounts = store.cache_mounts();
    let rows = vec![
        row(
            "Images",
            usage.images,
            usage.active,
            usage.images_bytes,
            usage.reclaimable_bytes,
        ),
        row(
            "Containers",
            containers.len() as u64,
            containers.iter().filter(|c| c.running).count() as u64,
            usage.containers.values().sum::<u64>() + usage.containers_shared,
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
            usage.volumes.values().sum::<u64>() + usage.volumes_shared,
            volumes
                .iter()
                .filter(|v| v.links == 0)
                .map(|v| v.size)
                .sum(),
        ),
        row(
            "Build Cache",
            usage.cache_records + mounts.len() as u64,
            0,
            usage.cache_bytes,
            usage.cache_bytes,
        ),
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
    render::write_rows(out, &table, &[("Name", "VOLUME NAME")], &rows)?;
    writeln!(
        out,
        "\nBuild cache usage: {}\n",
        render::human_size(usage.cache_bytes)
    )?;
    let mut rows: Vec<Value> = cache
        .iter()
        .map(|e| {
            let at = |secs: i64| chrono::DateTime::from_timestamp(secs, 0);
            json!({
                "ID": store::cache_id(e.key.hex())[..12].to_string(),
                "CacheType": "regular",
                "Size": render::human_size(e.size),
                "CreatedSince": render::created_since(at(e.created_at), now),
                "LastUsedSince": render::created_since(at(e.last_used), now),
                "Shared": e.shared.to_string(),
            })
        })
        .collect();
    rows.extend(mounts.iter().map(|m| {
        json!({
            "ID": store::cache_id(m)[..12.min(m.len())].to_string(),
            "CacheType": "exec.cachemount",
            "Size": "",
            "CreatedSince": "",
            "LastUsedSince": "",
            "Shared": "false",
        })
    }));
    let table = OutputFormat::parse(
        None,
        "{{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.Shared}}",
    )?;
    render::write_rows(
        out,
        &table,
        &[
            ("ID", "CACHE ID"),
            ("CacheType", "CACHE TYPE"),
            ("CreatedSince", "CREATED"),
            ("LastUsedSince", "LAST USED"),
        ],
        &rows,
    )?;
    // Not Docker's: what no row counts, so the rows and this line add up to the root.
    writeln!(
        out,
        "\nStore's own files: {} (metadata database {} bytes, directories and scratch {} bytes)",
        render::human_size(usage.db_bytes + usage.own_bytes),
        usage.db_bytes,
        usage.own_bytes
    )?;
    Ok(())
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

fn container_usage(ctx: &Ctx, usage: &store::DiskUsage) -> anyhow::Result<Vec<ContainerUsage>> {
    let now = util::now();
    let mut out = Vec::new();
    for c in runtime::container::list(&ctx.root)? {
        let rt = c.oci_runtime(&ctx.root)?;
        let state = c.observed(&rt)?;
        out.push(ContainerUsage {
            running: state.status == runtime::Status::Running,
            status: super::container::status_text(
                &state,
                runtime::health::read(&c.dir.0).as_ref(),
                now,
            ),
            size: usage.containers.get(&c.record.id).copied().unwrap_or(0),
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

fn volume_usage(ctx: &Ctx, usage: &store::DiskUsage) -> anyhow::Result<Vec<VolumeUsage>> {
    let mut out = Vec::new();
    for v in runtime::volumes::list(&ctx.store()?)? {
        out.push(VolumeUsage {
            links: runtime::container::volume_users(&ctx.root, &v.name)?.len(),
            size: usage.volumes.get(&v.name).copied().unwrap_or(0),
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
        "Bytes": size.to_string(),
        "ReclaimableBytes": reclaimable.to_string(),
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
