//! The `run`/`create` flags about the container's bookkeeping rather than its sandbox:
//! `--cidfile`, `--label-file`, `--stop-timeout`, `--volumes-from`; flattened into
//! [`super::ContainerFlags`].

use std::path::PathBuf;

use clap::Args;

/// `--cidfile`, `--label-file`, `--stop-timeout`, `--volumes-from`.
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
}
