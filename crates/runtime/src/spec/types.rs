//! The parts of the OCI runtime spec (`config.json`) that strata writes, as serde types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::seccomp::LinuxSeccomp;

/// The OCI runtime spec (`config.json`), the parts strata writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    /// The runtime spec version.
    pub oci_version: String,
    /// The container process.
    pub process: Process,
    /// The root filesystem.
    pub root: Root,
    /// The UTS hostname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Mounts, in order.
    pub mounts: Vec<Mount>,
    /// Linux specifics.
    pub linux: Linux,
}

/// The container process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Process {
    /// Allocate a terminal.
    pub terminal: bool,
    /// Who it runs as.
    pub user: User,
    /// argv.
    pub args: Vec<String>,
    /// `KEY=value` entries.
    pub env: Vec<String>,
    /// The working directory (absolute).
    pub cwd: String,
    /// Capability sets.
    pub capabilities: Capabilities,
    /// Resource limits.
    pub rlimits: Vec<Rlimit>,
    /// `no_new_privs`.
    pub no_new_privileges: bool,
}

/// A process identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// User ID.
    pub uid: u32,
    /// Group ID.
    pub gid: u32,
    /// Supplementary groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_gids: Vec<u32>,
}

/// Capability sets (names like `CAP_CHOWN`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Capabilities {
    /// The bounding set.
    pub bounding: Vec<String>,
    /// The effective set.
    pub effective: Vec<String>,
    /// The permitted set.
    pub permitted: Vec<String>,
}

/// One `setrlimit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rlimit {
    /// `RLIMIT_NOFILE`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Hard limit.
    pub hard: u64,
    /// Soft limit.
    pub soft: u64,
}

/// The root filesystem, relative to the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Root {
    /// `rootfs`.
    pub path: String,
    /// Mount it read-only.
    pub readonly: bool,
}

/// One mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// Where, inside the container.
    pub destination: String,
    /// Filesystem type (`proc`, `tmpfs`, `bind`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Source (a host path for binds).
    pub source: String,
    /// Mount options.
    pub options: Vec<String>,
}

/// Linux specifics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Linux {
    /// Namespaces to create (no `path`: new ones).
    pub namespaces: Vec<Namespace>,
    /// Device nodes to make besides the runtime's defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<LinuxDevice>,
    /// cgroup resources.
    pub resources: Resources,
    /// The cgroup path (`/docker/<id>`, Docker's default parent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroups_path: Option<String>,
    /// Paths masked from the container.
    pub masked_paths: Vec<String>,
    /// Paths made read-only.
    pub readonly_paths: Vec<String>,
    /// Namespaced sysctls to set.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctl: BTreeMap<String, String>,
    /// The seccomp filter; `None` is unconfined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seccomp: Option<LinuxSeccomp>,
}

/// A namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    /// `pid`, `ipc`, `uts`, `mount`, `network`, `cgroup`.
    #[serde(rename = "type")]
    pub kind: String,
    /// An existing namespace to join (`/proc/PID/ns/ipc`), for `--ipc`/`--pid
    /// container:NAME`; `None` makes a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// cgroup resources.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Resources {
    /// Device rules (Docker denies all; the runtime adds its default allow list).
    pub devices: Vec<DeviceRule>,
    /// Memory limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// CPU limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Process count limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids: Option<Pids>,
    /// Block I/O weight.
    #[serde(default, rename = "blockIO", skip_serializing_if = "Option::is_none")]
    pub block_io: Option<BlockIo>,
}

/// Block I/O settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockIo {
    /// `--blkio-weight`: the relative weight, 10 to 1000.
    pub weight: u16,
}

/// A device cgroup rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    /// Allow or deny.
    pub allow: bool,
    /// `c`, `b` or `a`; none means all.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The major number; none means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub major: Option<i64>,
    /// The minor number; none means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minor: Option<i64>,
    /// `rwm`.
    pub access: String,
}

/// A device node the runtime makes in the container (`--device`, `--privileged`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxDevice {
    /// Its path in the container.
    pub path: String,
    /// `c` or `b`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Major number.
    pub major: i64,
    /// Minor number.
    pub minor: i64,
    /// Permission bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_mode: Option<u32>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    /// Group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
}

/// Memory limits, in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// `--memory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    /// `--memory-reservation`: the soft limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation: Option<i64>,
    /// Memory plus swap: twice the limit, Docker's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swap: Option<i64>,
}

/// CPU weight and bandwidth.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    /// `--cpu-shares`: the relative weight (cgroup v1 `cpu.shares`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shares: Option<u64>,
    /// Microseconds per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<i64>,
    /// The period, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<u64>,
    /// `--cpuset-cpus`: the CPUs allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<String>,
    /// `--cpuset-mems`: the memory nodes allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mems: Option<String>,
    /// `--cpu-rt-period`, microseconds.
    #[serde(
        default,
        rename = "realtimePeriod",
        skip_serializing_if = "Option::is_none"
    )]
    pub realtime_period: Option<u64>,
    /// `--cpu-rt-runtime`, microseconds per period.
    #[serde(
        default,
        rename = "realtimeRuntime",
        skip_serializing_if = "Option::is_none"
    )]
    pub realtime_runtime: Option<i64>,
}

/// Process count limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pids {
    /// Maximum number of processes.
    pub limit: i64,
}
