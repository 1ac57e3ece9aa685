//! `strata volume create|ls|inspect|rm|prune`.

use std::collections::BTreeMap;
use std::io::Write;

use runtime::volumes::{self, Volume};
use serde_json::{Value, json};

use super::{Ctx, container};
use crate::cli::{
    VolumeCreateArgs, VolumeInspectArgs, VolumeLsArgs, VolumePruneArgs, VolumeRmArgs,
};
use crate::render::{self, Missing, OutputFormat, Template};

/// Creates a volume (or finds the one with that name) and prints its name.
pub fn create(ctx: &Ctx, args: VolumeCreateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.driver != "local" {
        anyhow::bail!(
            "volume driver {} is not supported (only local)",
            args.driver
        );
    }
    let mut labels = BTreeMap::new();
    for l in &args.labels {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }
    let v = volumes::create(&ctx.store()?, args.name.as_deref(), labels)?;
    writeln!(out, "{}", v.name)?;
    Ok(())
}

/// Lists volumes: `DRIVER  VOLUME NAME`.
pub fn ls(ctx: &Ctx, args: VolumeLsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut dangling = None;
    let mut names = Vec::new();
    for f in &args.filters {
        match f.split_once('=') {
            Some(("dangling", v)) => dangling = Some(matches!(v, "true" | "1")),
            Some(("name", v)) => names.push(v.to_string()),
            _ => anyhow::bail!("invalid filter '{f}'"),
        }
    }
    let mut rows = Vec::new();
    for v in volumes::list(&ctx.store()?)? {
        if !names.is_empty() && !names.iter().any(|n| v.name.contains(n.as_str())) {
            continue;
        }
        if let Some(d) = dangling
            && runtime::container::volume_users(&ctx.root, &v.name)?.is_empty() != d
        {
            continue;
        }
        rows.push(json!({
            "Driver": v.driver,
            "Name": v.name,
            "Mountpoint": v.mountpoint.display().to_string(),
            "Scope": "local",
            "Labels": v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        }));
    }
    if args.quiet {
        for r in &rows {
            writeln!(out, "{}", r["Name"].as_str().unwrap_or_default())?;
        }
        return Ok(());
    }
    let format = OutputFormat::parse(args.format.as_deref(), "{{.Driver}}\t{{.Name}}")?;
    render::write_rows(out, &format, &[("Name", "VOLUME NAME")], &rows)
}

/// Docker's `volume inspect` object.
fn volume_json(v: &Volume) -> Value {
    json!({
        "CreatedAt": v.created,
        "Driver": v.driver,
        "Labels": v.labels,
        "Mountpoint": v.mountpoint.display().to_string(),
        "Name": v.name,
        "Options": {},
        "Scope": "local",
    })
}

/// Prints the volumes as a JSON array (or a template line each).
pub fn inspect(ctx: &Ctx, args: VolumeInspectArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    let store = ctx.store()?;
    for name in &args.names {
        match volumes::inspect(&store, name) {
            Ok(v) => found.push(volume_json(&v)),
            Err(e) => errors.push(anyhow::Error::from(e)),
        }
    }
    match &args.format {
        Some(f) if f != "json" => {
            let t = Template::parse(f, Missing::Error)?;
            for v in &found {
                writeln!(out, "{}", t.execute(v)?)?;
            }
        }
        _ => writeln!(out, "{}", super::inspect::pretty(&Value::Array(found))?)?,
    }
    super::report_errors(errors)
}

/// Removes volumes, printing each name.
pub fn rm(ctx: &Ctx, args: VolumeRmArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    let store = ctx.store()?;
    for name in &args.names {
        if args.force && volumes::inspect(&store, name).is_err() {
            continue;
        }
        match runtime::container::remove_volume(&store, name) {
            Ok(()) => writeln!(out, "{name}")?,
            Err(e) => errors.push(e.into()),
        }
    }
    super::report_errors(errors)
}

/// Removes unused anonymous volumes (all unused ones with `-a`).
pub fn prune(ctx: &Ctx, args: VolumePruneArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let warning = if args.all {
        "WARNING! This will remove all local volumes not used by at least one container."
    } else {
        "WARNING! This will remove anonymous local volumes not used by at least one container."
    };
    if !args.force && !container::confirm(out, warning)? {
        return Ok(());
    }
    let reclaimed = prune_section(&ctx.store()?, args.all, &|_| true, out)?;
    super::util::print_reclaimed(out, reclaimed)
}

/// Removes the unused anonymous volumes (all unused ones when `all`) `allowed` lets go
/// and prints Docker's "Deleted Volumes:" section (nothing when none went); returns the
/// bytes they held.
pub fn prune_section(
    store: &store::Store,
    all: bool,
    allowed: &dyn Fn(&volumes::Volume) -> bool,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let sizes: BTreeMap<String, u64> = volumes::list(store)?
        .into_iter()
        .map(|v| (v.name.clone(), dir_size(&v.mountpoint)))
        .collect();
    let removed = runtime::container::prune_volumes_matching(store, all, allowed)?;
    if !removed.is_empty() {
        writeln!(out, "Deleted Volumes:")?;
        for n in &removed {
            writeln!(out, "{n}")?;
        }
        writeln!(out)?;
    }
    Ok(removed.iter().filter_map(|n| sizes.get(n)).sum())
}

/// Bytes of the files under `dir` (0 when it cannot be read).
pub fn dir_size(dir: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}
