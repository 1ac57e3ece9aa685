//! `strata stats`: containers' resource use ([`runtime::stats`]) in Docker's table and
//! `--format` fields, once (`--no-stream`) or redrawn every second until interrupted.
//! CPU % compares two samples, as Docker's does, so even `--no-stream` waits one interval.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use clap::Args;
use runtime::stats::{Sample, cpu_percent};
use serde_json::{Value, json};

use super::{Ctx, container};
use crate::render::units::{bytes_size, human_size};
use crate::render::{OutputFormat, write_rows};

/// `strata stats` / `strata container stats`.
#[derive(Debug, Args)]
pub struct StatsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Pretty-print stats using a Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Disable streaming stats and only pull the first result.
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// The containers (default: every running one).
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Docker's default table.
const DEFAULT_TABLE: &str = "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}";

/// Column titles of Docker's stats table.
const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Container", "CONTAINER"),
    ("Name", "NAME"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// Docker's collection interval: CPU % is over this long.
const INTERVAL: Duration = Duration::from_secs(1);

/// One container's row, as Docker's stats formatter fields.
fn row(given: &str, c: &runtime::Container, no_trunc: bool, prev: &Sample, now: &Sample) -> Value {
    let id = if no_trunc {
        c.record.id.clone()
    } else {
        c.record.id[..12.min(c.record.id.len())].to_string()
    };
    json!({
        "Container": given,
        "ID": id,
        "Name": c.record.name,
        "CPUPerc": format!("{:.2}%", cpu_percent(prev, now)),
        "MemUsage": format!("{} / {}", bytes_size(now.mem_used()), bytes_size(now.mem_limit)),
        "MemPerc": format!("{:.2}%", now.mem_percent()),
        "NetIO": format!("{} / {}", human_size(now.net_rx), human_size(now.net_tx)),
        "BlockIO": format!("{} / {}", human_size(now.blk_read), human_size(now.blk_write)),
        "PIDs": now.pids,
    })
}

/// The containers to show: the named ones, else every running one (every one with `-a`),
/// each with the name it is shown by.
fn targets(ctx: &Ctx, args: &StatsArgs) -> anyhow::Result<Vec<(String, runtime::Container)>> {
    if !args.containers.is_empty() {
        return args
            .containers
            .iter()
            .map(|n| Ok((n.clone(), container::load(ctx, n)?.0)))
            .collect();
    }
    let mut out = Vec::new();
    for c in runtime::container::list(&ctx.root)? {
        let rt = c.oci_runtime(&ctx.root)?;
        let seen = c.observed(&rt)?;
        if args.all || seen.status == runtime::Status::Running {
            let c = runtime::Container { state: seen, ..c };
            out.push((c.record.id[..12].to_string(), c));
        }
    }
    Ok(out)
}

/// Prints the stats once (`--no-stream`) or every [`INTERVAL`] until interrupted.
pub fn run(ctx: &Ctx, args: StatsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let format = OutputFormat::parse(args.format.as_deref(), DEFAULT_TABLE)?
        .on_struct("*formatter.statsContext");
    let mut shown = observed(ctx, targets(ctx, &args)?)?;
    let mut previous = samples(&shown)?;
    loop {
        std::thread::sleep(INTERVAL);
        // Without names, Docker's stream follows the containers as they start and go.
        if !args.no_stream && args.containers.is_empty() {
            shown = observed(ctx, targets(ctx, &args)?)?;
        }
        let now = samples(&shown)?;
        let rows: Vec<Value> = shown
            .iter()
            .map(|(given, c)| {
                let n = &now[&c.record.id];
                // A container new to the stream has no earlier sample yet: 0% this round.
                let p = previous.get(&c.record.id).unwrap_or(n);
                row(given, c, args.no_trunc, p, n)
            })
            .collect();
        if !args.no_stream {
            // Docker's redraw: clear the screen, cursor home.
            write!(out, "\x1b[2J\x1b[H")?;
        }
        write_rows(out, &format, HEADERS, &rows)?;
        out.flush()?;
        if args.no_stream {
            return Ok(());
        }
        previous = now;
    }
}

/// The containers with their state as observed now (a running one's PID).
fn observed(
    ctx: &Ctx,
    mut shown: Vec<(String, runtime::Container)>,
) -> anyhow::Result<Vec<(String, runtime::Container)>> {
    for (_, c) in shown.iter_mut() {
        let rt = c.oci_runtime(&ctx.root)?;
        c.state = c.observed(&rt)?;
    }
    Ok(shown)
}

/// One sample of each container, by ID.
fn samples(shown: &[(String, runtime::Container)]) -> anyhow::Result<HashMap<String, Sample>> {
    shown
        .iter()
        .map(|(_, c)| Ok((c.record.id.clone(), c.stats_sample()?)))
        .collect()
}
