//! `strata update`: new resource limits and restart policy for containers
//! ([`runtime::update`]), each printed as given once updated, as Docker's CLI does.

use std::io::Write;

use clap::Args;
use runtime::restart::RestartPolicy;
use runtime::update::ResourceUpdate;

use super::{Ctx, Plain, container};
use crate::cli::resources::{ResourceFlags, bytes_arg, int_arg};

/// `strata update` / `strata container update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Memory limit.
    #[arg(short, long, value_name = "bytes", value_parser = bytes_arg)]
    pub memory: Option<i64>,
    /// Number of CPUs.
    #[arg(long, value_name = "decimal")]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long, value_name = "int", allow_hyphen_values = true, value_parser = int_arg)]
    pub cpu_shares: Option<i64>,
    /// `--memory-swap`, `--memory-reservation`, `--cpu-period` … `--blkio-weight`.
    #[command(flatten)]
    pub resources: ResourceFlags,
    /// Tune container pids limit (set -1 for unlimited).
    #[arg(long, value_name = "int", allow_hyphen_values = true, value_parser = int_arg)]
    pub pids_limit: Option<i64>,
    /// Restart policy to apply when a container exits.
    #[arg(long, value_name = "string")]
    pub restart: Option<String>,
    /// The containers.
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
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
        cpus: args.cpus,
        cpu_shares: args.cpu_shares,
        pids_limit: args.pids_limit,
        restart,
        ..args.resources.to_update()
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
            Ok(discarded) => {
                writeln!(out, "{name}")?;
                warnings.extend(discarded);
                warnings.extend(runtime::update::warnings());
            }
            Err(e) => errors.push(super::daemon_refusal(e)),
        }
    }
    if !warnings.is_empty() {
        writeln!(out, "{}", warnings.join("\n"))?;
    }
    super::report_errors(errors)
}
