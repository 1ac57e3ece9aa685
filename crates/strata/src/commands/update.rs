//! `strata update`: new resource limits and restart policy for containers
//! ([`runtime::update`]), each printed as given once updated, as Docker's CLI does.

use std::io::Write;

use clap::Args;
use runtime::restart::RestartPolicy;
use runtime::update::ResourceUpdate;

use super::{Ctx, Plain, container};

/// `strata update` / `strata container update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Memory limit.
    #[arg(short, long, value_name = "BYTES", value_parser = bytes_arg)]
    pub memory: Option<i64>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap.
    #[arg(long, value_name = "BYTES", allow_hyphen_values = true, value_parser = swap_arg)]
    pub memory_swap: Option<i64>,
    /// Number of CPUs.
    #[arg(long, value_name = "DECIMAL")]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long, value_name = "INT", allow_hyphen_values = true, value_parser = int_arg)]
    pub cpu_shares: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long, value_name = "INT", allow_hyphen_values = true, value_parser = int_arg)]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long, value_name = "INT", allow_hyphen_values = true, value_parser = int_arg)]
    pub cpu_quota: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long, value_name = "STRING")]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long, value_name = "INT", allow_hyphen_values = true, value_parser = int_arg)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits.
    #[arg(long, value_name = "STRING")]
    pub restart: Option<String>,
    /// The containers.
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

fn bytes_arg(s: &str) -> Result<i64, String> {
    super::parse_bytes(s).map_err(|e| e.to_string())
}

/// Docker's `MemSwapBytes`: a size, or -1 for unlimited.
fn swap_arg(s: &str) -> Result<i64, String> {
    if s == "-1" {
        return Ok(-1);
    }
    bytes_arg(s)
}

fn int_arg(s: &str) -> Result<i64, String> {
    runtime::spec::rlimits::parse_int(s)
}

/// Updates each container, printing its name as given.
pub fn run(ctx: &Ctx, args: UpdateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let restart = args
        .restart
        .as_deref()
        .map(RestartPolicy::parse)
        .transpose()?;
    let update = ResourceUpdate {
        memory: args.memory,
        memory_swap: args.memory_swap,
        cpus: args.cpus,
        cpu_shares: args.cpu_shares,
        cpu_period: args.cpu_period,
        cpu_quota: args.cpu_quota,
        cpuset_cpus: args.cpuset_cpus.clone(),
        pids_limit: args.pids_limit,
        restart,
    };
    if update == ResourceUpdate::default() {
        return Err(Plain::error(
            "you must provide one or more flags when using this command",
        ));
    }
    // As Docker's CLI: names as they succeed, then the daemon's warnings for each, then
    // the failures.
    let mut warnings = Vec::new();
    let mut errors = Vec::new();
    for name in &args.containers {
        let updated =
            container::load(ctx, name).and_then(|(mut c, rt)| Ok(c.update(&rt, &update)?));
        match updated {
            Ok(()) => {
                writeln!(out, "{name}")?;
                warnings.extend(runtime::update::warnings());
            }
            Err(e) => errors.push(e),
        }
    }
    if !warnings.is_empty() {
        writeln!(out, "{}", warnings.join("\n"))?;
    }
    super::report_errors(errors)
}
