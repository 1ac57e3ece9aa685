//! `--label-file`, `--stop-timeout`, `--volumes-from` and `--cidfile` of `run`/`create`
//! ([`LifecycleFlags`]) applied to the container's [`RunOptions`], and the container ID
//! file Docker's CLI keeps.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use runtime::RunOptions;

use super::{Ctx, FlagCheck};
use crate::cli::LifecycleFlags;

/// The container's labels: each `--label-file` in order, then `--label`, later ones
/// winning (Docker reads the files first).
pub fn labels(files: &[PathBuf], flags: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut entries = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f).map_err(|e| {
            FlagCheck::error(format!("open {}: {}", f.display(), runtime::go_io_text(&e)))
        })?;
        entries.extend(super::kv_file::parse(&text, None).map_err(FlagCheck::error)?);
    }
    entries.extend(flags.iter().cloned());
    Ok(entries
        .into_iter()
        .map(|l| match l.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (l, String::new()),
        })
        .collect())
}

/// Sets `--stop-timeout`, `--cidfile` and the mounts of `--volumes-from` (checked first:
/// each container must exist). Call after the container's own mounts are in `opts`.
pub fn apply(ctx: &Ctx, f: &LifecycleFlags, opts: &mut RunOptions) -> anyhow::Result<()> {
    opts.userns = match f.userns.as_deref() {
        None | Some("") => String::new(),
        Some("host") => "host".into(),
        Some(_) => return Err(FlagCheck::error("--userns: invalid USER mode")),
    };
    opts.healthcheck = healthcheck(f)?;
    opts.log_config = runtime::log_driver::LogConfig::parse(f.log_driver.as_deref(), &f.log_opt)?;
    opts.stop_timeout = f.stop_timeout;
    opts.cidfile = f.cidfile.clone();
    opts.volumes_from = f.volumes_from.clone();
    let own: Vec<String> = opts.mounts.iter().map(|m| m.destination.clone()).collect();
    let own: Vec<&str> = own.iter().map(String::as_str).collect();
    let mut inherited = Vec::new();
    for spec in &f.volumes_from {
        let (name, read_only) = runtime::volumes_from::parse(spec)?;
        let c = runtime::container::load(&ctx.root, name)?;
        for m in runtime::volumes_from::inherit(&c.record.options.mounts, read_only, &own) {
            // A later --volumes-from does not mount over an earlier one.
            if !inherited
                .iter()
                .any(|i: &runtime::MountSpec| i.destination == m.destination)
            {
                inherited.push(m);
            }
        }
    }
    opts.inherited_mounts = inherited.iter().map(|m| m.destination.clone()).collect();
    opts.mounts.extend(inherited);
    Ok(())
}

/// The health check the flags give (over the image's, merged at create), with Docker's
/// CLI checks: `--no-healthcheck` alone, nothing negative.
fn healthcheck(f: &LifecycleFlags) -> anyhow::Result<Option<oci::config::Healthcheck>> {
    let any = f.health_cmd.is_some()
        || f.health_interval.is_some()
        || f.health_retries.is_some()
        || f.health_start_period.is_some()
        || f.health_timeout.is_some();
    if f.no_healthcheck {
        if any {
            return Err(FlagCheck::error(
                "--no-healthcheck conflicts with --health-* options",
            ));
        }
        return Ok(Some(oci::config::Healthcheck {
            test: Some(vec!["NONE".into()]),
            ..Default::default()
        }));
    }
    if !any {
        return Ok(None);
    }
    for (flag, v) in [
        ("--health-interval", f.health_interval),
        ("--health-timeout", f.health_timeout),
        ("--health-retries", f.health_retries),
        ("--health-start-period", f.health_start_period),
    ] {
        if v.is_some_and(|v| v < 0) {
            return Err(FlagCheck::error(format!("{flag} cannot be negative")));
        }
    }
    Ok(Some(oci::config::Healthcheck {
        test: f
            .health_cmd
            .as_ref()
            .map(|c| vec!["CMD-SHELL".to_string(), c.clone()]),
        interval: f.health_interval,
        timeout: f.health_timeout,
        start_period: f.health_start_period,
        retries: f.health_retries,
        ..Default::default()
    }))
}

/// The `--cidfile` Docker's CLI keeps: refused when it exists (another container may own
/// it), made before the container, filled with its ID after, removed when creating
/// failed.
pub struct CidFile(Option<PathBuf>);

impl CidFile {
    /// Claims the file, or nothing without `--cidfile`.
    pub fn claim(path: Option<&Path>) -> anyhow::Result<CidFile> {
        let Some(p) = path else {
            return Ok(CidFile(None));
        };
        if p.exists() {
            return Err(FlagCheck::error(format!(
                "container ID file found, make sure the other container isn't running or delete {}",
                p.display()
            )));
        }
        std::fs::File::create(p)
            .with_context(|| format!("failed to create the container ID file {}", p.display()))?;
        Ok(CidFile(Some(p.to_path_buf())))
    }

    /// Writes the new container's ID; the file stays.
    pub fn write(mut self, id: &str) -> anyhow::Result<()> {
        if let Some(p) = self.0.take() {
            std::fs::OpenOptions::new()
                .write(true)
                .truncate(true)
                .open(&p)
                .and_then(|mut f| f.write_all(id.as_bytes()))
                .with_context(|| format!("failed to write the container ID to {}", p.display()))?;
        }
        Ok(())
    }
}

impl Drop for CidFile {
    /// Creating failed: the file goes, as Docker's CLI removes it.
    fn drop(&mut self) {
        if let Some(p) = &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}
