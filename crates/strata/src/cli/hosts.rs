//! The `run`/`create` flags for name resolution, shared namespaces, restart policy and
//! `--mount`, flattened into [`super::ContainerFlags`]; values are checked here, as
//! Docker's CLI checks them (a bad one is a usage error, exit 125).

use clap::Args;

use runtime::MountFlag;

/// Name resolution, namespaces, restart and `--mount`.
#[derive(Debug, Args)]
pub struct HostFlags {
    /// Add a custom host-to-IP mapping (host:ip).
    #[arg(long = "add-host", value_name = "list", value_parser = add_host)]
    pub add_host: Vec<String>,
    /// Set custom DNS servers.
    #[arg(long, value_name = "list", value_parser = dns)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains.
    #[arg(long = "dns-search", value_name = "list", value_parser = dns_search)]
    pub dns_search: Vec<String>,
    /// Set DNS options.
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "list")]
    pub dns_option: Vec<String>,
    /// IPC mode to use (private, shareable, host, none, container:NAME).
    #[arg(long, value_name = "string")]
    pub ipc: Option<String>,
    /// PID namespace to use (host, container:NAME).
    #[arg(long, value_name = "string")]
    pub pid: Option<String>,
    /// UTS namespace to use (host).
    #[arg(long, value_name = "string")]
    pub uts: Option<String>,
    /// Restart policy to apply when a container exits (no, on-failure[:max-retries],
    /// always, unless-stopped).
    #[arg(long, value_name = "string", default_value = "no")]
    pub restart: String,
    /// Attach a filesystem mount to the container (type=bind|volume|tmpfs,...).
    #[arg(long, value_name = "mount", value_parser = crate::commands::mount_flag::parse)]
    pub mount: Vec<MountFlag>,
}

impl Default for HostFlags {
    /// As parsed from no flags.
    fn default() -> HostFlags {
        HostFlags {
            add_host: Vec::new(),
            dns: Vec::new(),
            dns_search: Vec::new(),
            dns_option: Vec::new(),
            ipc: None,
            pid: None,
            uts: None,
            restart: "no".into(),
            mount: Vec::new(),
        }
    }
}

fn add_host(s: &str) -> Result<String, String> {
    runtime::etc_files::validate_extra_host(s)
}

fn dns_search(s: &str) -> Result<String, String> {
    runtime::etc_files::validate_dns_search(s)
}

fn dns(s: &str) -> Result<String, String> {
    runtime::etc_files::validate_dns(s)
}
