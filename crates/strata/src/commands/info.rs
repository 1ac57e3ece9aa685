//! `strata info` / `strata system info`: what `docker info` tells about the engine and the
//! host, under Docker's field names (so `--format '{{.NCPU}}'` and scripts reading
//! `{{.Driver}}` keep working), from the store and the host itself: there is no daemon.

use std::io::Write;

use serde_json::{Value, json};

use super::Ctx;
use crate::render::{Missing, Template};

/// `strata info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// Format output using a custom template (`json` for the whole object).
    #[arg(short, long)]
    pub format: Option<String>,
}

/// Prints the engine's and host's information, as `docker info` does.
pub fn run(ctx: &Ctx, args: InfoArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let info = gather(ctx)?;
    match args.format.as_deref() {
        Some("json") => writeln!(out, "{}", serde_json::to_string(&info)?)?,
        Some(f) => {
            let t = Template::parse(f, Missing::Error)?;
            writeln!(out, "{}", t.execute(&info)?)?;
        }
        None => write_plain(&info, out)?,
    }
    Ok(())
}

/// The object `--format` sees, with Docker's field names.
fn gather(ctx: &Ctx) -> anyhow::Result<Value> {
    let (mut running, mut paused, mut stopped) = (0u64, 0u64, 0u64);
    let containers = runtime::container::list(&ctx.root)?;
    for c in &containers {
        let rt = c.oci_runtime(&ctx.root)?;
        let s = c.observed(&rt)?;
        match s.status {
            runtime::Status::Running if s.paused => paused += 1,
            runtime::Status::Running => running += 1,
            _ => stopped += 1,
        }
    }
    let images = ctx.store()?.images()?.len();
    let uname = rustix::system::uname();
    let text = |s: &std::ffi::CStr| s.to_string_lossy().into_owned();
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let runtime = runtime::OciRuntime::detect(ctx.runtime.as_deref(), &ctx.root).ok();
    let cgroup_v2 = runtime::oci_runtime::cgroup_v2_unified();
    let env = |k: &str| {
        std::env::var(k)
            .or_else(|_| std::env::var(k.to_lowercase()))
            .unwrap_or_default()
    };
    Ok(json!({
        "Containers": containers.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": stopped,
        "Images": images,
        // strata keeps each layer once, unpacked on overlayfs: what Docker calls overlay2.
        "Driver": "overlay2",
        "DriverStatus": [["Backing Filesystem", backing_filesystem(&ctx.root)]],
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": if cgroup_v2 { "2" } else { "1" },
        "KernelVersion": text(uname.release()),
        "OperatingSystem": os_field(&os_release, "PRETTY_NAME"),
        "OSVersion": os_field(&os_release, "VERSION_ID"),
        "OSType": "linux",
        "Architecture": text(uname.machine()),
        "NCPU": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "MemTotal": mem_total(),
        "DockerRootDir": ctx.root.display().to_string(),
        "Name": text(uname.nodename()),
        "ServerVersion": env!("CARGO_PKG_VERSION"),
        "Runtimes": runtime.as_ref().map_or(json!({}), |r| json!({ &r.name: { "path": r.path } })),
        "DefaultRuntime": runtime.as_ref().map_or(String::new(), |r| r.name.clone()),
        "IndexServerAddress": "https://index.docker.io/v1/",
        "HttpProxy": env("HTTP_PROXY"),
        "HttpsProxy": env("HTTPS_PROXY"),
        "NoProxy": env("NO_PROXY"),
        "Warnings": if runtime.is_none() {
            json!(["WARNING: no OCI runtime found (apt-get install runc): containers cannot run"])
        } else {
            json!([])
        },
    }))
}

/// A field of `/etc/os-release`, unquoted.
fn os_field(os_release: &str, key: &str) -> String {
    os_release
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim_matches('"').to_string())
        .unwrap_or_default()
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The file system the store lives on, in Docker's words (`extfs`, `xfs`, `tmpfs`, …).
fn backing_filesystem(root: &std::path::Path) -> &'static str {
    let mut dir = root;
    // The store may not exist yet: ask the nearest directory that does.
    while !dir.exists() {
        match dir.parent() {
            Some(p) => dir = p,
            None => break,
        }
    }
    match rustix::fs::statfs(dir).map(|s| s.f_type as u64) {
        Ok(0xEF53) => "extfs",
        Ok(0x5846_5342) => "xfs",
        Ok(0x0102_1994) => "tmpfs",
        Ok(0x9123_683E) => "btrfs",
        Ok(0x794C_7630) => "overlayfs",
        Ok(0x2FC1_2FC1) => "zfs",
        _ => "<unknown>",
    }
}

/// Docker's plain layout (the server part: strata has no separate client).
fn write_plain(info: &Value, out: &mut dyn Write) -> anyhow::Result<()> {
    let s = |k: &str| match &info[k] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    writeln!(out, "Server:")?;
    writeln!(out, " Containers: {}", s("Containers"))?;
    writeln!(out, "  Running: {}", s("ContainersRunning"))?;
    writeln!(out, "  Paused: {}", s("ContainersPaused"))?;
    writeln!(out, "  Stopped: {}", s("ContainersStopped"))?;
    writeln!(out, " Images: {}", s("Images"))?;
    writeln!(
        out,
        " Server Version: {} (strata, daemonless)",
        s("ServerVersion")
    )?;
    writeln!(out, " Storage Driver: {}", s("Driver"))?;
    for pair in info["DriverStatus"].as_array().into_iter().flatten() {
        writeln!(
            out,
            "  {}: {}",
            pair[0].as_str().unwrap_or_default(),
            pair[1].as_str().unwrap_or_default()
        )?;
    }
    writeln!(out, " Logging Driver: {}", s("LoggingDriver"))?;
    writeln!(out, " Cgroup Driver: {}", s("CgroupDriver"))?;
    writeln!(out, " Cgroup Version: {}", s("CgroupVersion"))?;
    let runtimes: Vec<&String> = info["Runtimes"]
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    writeln!(
        out,
        " Runtimes: {}",
        runtimes
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    )?;
    writeln!(out, " Default Runtime: {}", s("DefaultRuntime"))?;
    writeln!(out, " Kernel Version: {}", s("KernelVersion"))?;
    writeln!(out, " Operating System: {}", s("OperatingSystem"))?;
    writeln!(out, " OSType: {}", s("OSType"))?;
    writeln!(out, " Architecture: {}", s("Architecture"))?;
    writeln!(out, " CPUs: {}", s("NCPU"))?;
    let mem = info["MemTotal"].as_u64().unwrap_or(0) as f64 / (1024.0 * 1024.0 * 1024.0);
    writeln!(out, " Total Memory: {mem:.2}GiB")?;
    writeln!(out, " Name: {}", s("Name"))?;
    writeln!(out, " Docker Root Dir: {}", s("DockerRootDir"))?;
    for w in info["Warnings"].as_array().into_iter().flatten() {
        writeln!(out, "{}", w.as_str().unwrap_or_default())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_fields_are_unquoted() {
        let text = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n";
        for (key, want) in [
            ("PRETTY_NAME", "Debian GNU/Linux 12 (bookworm)"),
            ("VERSION_ID", "12"),
            ("ID", "debian"),
            ("NAME", "Debian GNU/Linux"),
            ("MISSING", ""),
        ] {
            assert_eq!(os_field(text, key), want, "{key}");
        }
    }
}
