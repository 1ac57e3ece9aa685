//! The `run`/`create` flags about the container's life rather than its sandbox:
//! `--cidfile`, `--label-file`, `--stop-timeout`, `--volumes-from`, the health check
//! (`--health-*`, `--no-healthcheck`) and logging (`--log-driver`, `--log-opt`); flattened
//! into [`super::ContainerFlags`].

use std::path::PathBuf;

use clap::Args;

/// `--cidfile`, `--label-file`, `--stop-timeout`, `--volumes-from`, `--health-*`.
#[derive(Debug, Args, Default)]
pub struct LifecycleFlags {
    /// Write the container ID to the file.
    #[arg(long, value_name = "string")]
    pub cidfile: Option<PathBuf>,
    /// Read in a line delimited file of labels.
    #[arg(long = "label-file", value_name = "list")]
    pub label_file: Vec<PathBuf>,
    /// Timeout (in seconds) to stop a container.
    #[arg(long = "stop-timeout", value_name = "int", allow_hyphen_values = true)]
    pub stop_timeout: Option<i64>,
    /// Mount volumes from the specified container(s) (`CONTAINER[:ro|rw]`).
    #[arg(long = "volumes-from", value_name = "list")]
    pub volumes_from: Vec<String>,
    /// Command to run to check health.
    #[arg(long = "health-cmd", value_name = "string")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h) (default 0s).
    #[arg(long = "health-interval", value_name = "duration", value_parser = duration_arg, allow_hyphen_values = true)]
    pub health_interval: Option<i64>,
    /// Consecutive failures needed to report unhealthy.
    #[arg(
        long = "health-retries",
        value_name = "int",
        allow_hyphen_values = true
    )]
    pub health_retries: Option<i64>,
    /// Start period for the container to initialize before starting health-retries
    /// countdown (ms|s|m|h) (default 0s).
    #[arg(long = "health-start-period", value_name = "duration", value_parser = duration_arg, allow_hyphen_values = true)]
    pub health_start_period: Option<i64>,
    /// Maximum time to allow one check to run (ms|s|m|h) (default 0s).
    #[arg(long = "health-timeout", value_name = "duration", value_parser = duration_arg, allow_hyphen_values = true)]
    pub health_timeout: Option<i64>,
    /// Disable any container-specified HEALTHCHECK.
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// User namespace to use (`host`; strata remaps no users, so it is the default too).
    #[arg(long, value_name = "string")]
    pub userns: Option<String>,
    /// Logging driver for the container (json-file, local or none).
    #[arg(long = "log-driver", value_name = "string")]
    pub log_driver: Option<String>,
    /// Log driver options (`max-size=10m`, `max-file=3`).
    #[arg(long = "log-opt", value_name = "list")]
    pub log_opt: Vec<String>,
}

/// A Go duration in nanoseconds; negative ones parse (Docker refuses them after parsing,
/// naming the flag).
fn duration_arg(s: &str) -> Result<i64, String> {
    oci::go_duration::parse(s).map_err(|e| e.to_string())
}
