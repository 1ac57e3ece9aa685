//! What a user asks for when creating a container (`docker run` flags), as data.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::seccomp::SeccompOption;

/// Run options: the part of `docker run`'s flags that shapes the container.
///
/// Kept in the container record, so `start` after `create` sees the same options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// `--platform`: which platform's manifest of a multi-platform image the container
    /// uses (`None`: the image's default, the host's when it has it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<oci::Platform>,
    /// `--entrypoint`: `None` keeps the image's; `Some(vec![])` (or `Some(vec!["".into()])`)
    /// is `--entrypoint ""`, which clears it. Either `Some` also drops the image's `Cmd`.
    pub entrypoint: Option<Vec<String>>,
    /// The arguments after the image name; when not empty they replace the image's `Cmd`.
    pub cmd: Vec<String>,
    /// `-e KEY=value` (and `KEY` alone, which removes `KEY`), in order.
    pub env: Vec<String>,
    /// `-u name|uid|name:group|uid:gid`; `None` uses the image's `User`.
    pub user: Option<String>,
    /// `-w`: an absolute path; `None` uses the image's `WorkingDir`, else `/`.
    pub workdir: Option<String>,
    /// `--hostname`; `None` uses the first 12 characters of the container ID.
    pub hostname: Option<String>,
    /// `-t`: allocate a terminal.
    pub tty: bool,
    /// `-i`: keep stdin open.
    pub open_stdin: bool,
    /// `--read-only`: mount the root filesystem read-only.
    pub read_only: bool,
    /// `--network`.
    pub network: NetworkMode,
    /// `-v` and `--tmpfs`.
    pub mounts: Vec<MountSpec>,
    /// `-p` (see [`crate::ports::parse_publish`]); ignored with `--network host`.
    #[serde(default)]
    pub publish: Vec<crate::ports::PortMapping>,
    /// `-P`/`--publish-all`: the image's `EXPOSE`d ports on free host ports (the
    /// mappings are made when the container is created, see
    /// [`RunOptions::exposed_published`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub publish_all: bool,
    /// `--network-alias`: more names the container has on its user network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_aliases: Vec<String>,
    /// User networks the container was connected to besides its `--network`
    /// (`network connect`), with their aliases.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connected: Vec<(String, Vec<String>)>,
    /// What `-P` published: filled in by `create` from the image's `ExposedPorts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exposed_published: Vec<crate::ports::PortMapping>,
    /// `--memory`, in bytes.
    pub memory: Option<i64>,
    /// `--cpus`, in CPUs (`1.5`).
    pub cpus: Option<f64>,
    /// `--pids-limit`.
    pub pids_limit: Option<i64>,
    /// `--memory-swap`, in bytes; `None` is Docker's default (twice `memory`),
    /// -1 unlimited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<i64>,
    /// `--cpu-period`, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<i64>,
    /// `--cpu-quota`, microseconds per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    /// `--cpuset-cpus`: the CPUs allowed (`0-3`, `0,1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`: the memory nodes allowed (`0-3`, `0,1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_mems: Option<String>,
    /// `--memory-reservation`: the soft limit, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<i64>,
    /// `--blkio-weight`: the relative block I/O weight (10 to 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blkio_weight: Option<u16>,
    /// `--cpu-rt-period`: the real-time scheduler's period, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_rt_period: Option<i64>,
    /// `--cpu-rt-runtime`: the real-time scheduler's runtime per period, microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_rt_runtime: Option<i64>,
    /// `--rm`: remove the container (and its anonymous volumes) once it exits; the
    /// monitor of a detached container does it.
    #[serde(default)]
    pub auto_remove: bool,
    /// `--init`: run an init process (tini-like) as PID 1 that reaps zombies and forwards
    /// signals.
    pub init: bool,
    /// `--security-opt seccomp=…`: Docker's default profile unless told otherwise (see
    /// [`SeccompOption::load`]).
    #[serde(default)]
    pub seccomp: SeccompOption,
    /// The sandbox of a BuildKit RUN step rather than a `docker run` container: the
    /// hostname `buildkitsandbox` (set even on the host network), BuildKit's two-line
    /// `/etc/hosts`, no `/etc/hostname` file and no `HOSTNAME` variable.
    #[serde(default)]
    pub build_sandbox: bool,
    /// `--stop-signal`: overrides the image's `StopSignal`.
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// `--label`: the container's own labels, over the image's.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// Security and resource flags (`--cap-add`, `--sysctl`, `--ulimit`, …): one block of
    /// their own, see [`SecurityResources`].
    #[serde(default, flatten)]
    pub security: SecurityResources,
    // --- Name resolution, shared namespaces and restart (`--add-host`, `--dns*`,
    // `--ipc`, `--pid`, `--uts`, `--restart`). ---
    /// `--add-host NAME:IP`, as given (see [`crate::etc_files::validate_extra_host`]).
    #[serde(default)]
    pub extra_hosts: Vec<String>,
    /// `--dns`, `--dns-search`, `--dns-option`.
    #[serde(default)]
    pub dns: crate::etc_files::DnsConfig,
    /// `--ipc`.
    #[serde(default)]
    pub ipc: crate::namespaces::IpcMode,
    /// `--pid`.
    #[serde(default)]
    pub pid: crate::namespaces::PidMode,
    /// `--uts`.
    #[serde(default)]
    pub uts: crate::namespaces::UtsMode,
    /// `--restart`: what the monitor does when the container exits.
    #[serde(default)]
    pub restart: crate::restart::RestartPolicy,
    /// `--health-*` (`--no-healthcheck` is the test `NONE`); `create` lays it over the
    /// image's `HEALTHCHECK`, so a created container's is the one it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<oci::config::Healthcheck>,
    /// `--security-opt no-new-privileges`: the container's processes cannot gain
    /// privileges (setuid binaries, file capabilities).
    #[serde(default)]
    pub no_new_privileges: bool,
    /// `--security-opt` values as given (`HostConfig.SecurityOpt`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_opts: Vec<String>,
    /// `--userns` as given: `host` or empty (strata remaps no users either way).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub userns: String,
    /// `--log-driver`, `--log-opt` (`HostConfig.LogConfig`).
    #[serde(default)]
    pub log_config: crate::log_driver::LogConfig,
    /// `--stop-timeout`: seconds `stop` waits for the stop signal to work before it kills;
    /// `None` is Docker's 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    /// `--cidfile`: the file `create` wrote the ID to (`HostConfig.ContainerIDFile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidfile: Option<PathBuf>,
    /// `--volumes-from`, as given (`CONTAINER[:ro|rw]`); their mounts are in
    /// [`RunOptions::mounts`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    /// The destinations of the mounts in [`RunOptions::mounts`] that `--volumes-from` gave
    /// (Docker lists them in `Mounts`, not in `Binds` or `Config.Volumes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inherited_mounts: Vec<String>,
    /// The `--mount` values as given (`HostConfig.Mounts`); what they mount is in
    /// [`RunOptions::mounts`] with the `-v` and `--tmpfs` mounts.
    #[serde(default)]
    pub mount_flags: Vec<MountFlag>,
}

/// The `run` flags that tune the container's privileges and resources, as the user gave
/// them (inspect shows them back as Docker does); [`crate::spec`] turns them into the spec.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecurityResources {
    /// `--cap-add`, as typed (`NET_ADMIN`, `cap_sys_time`, `ALL`).
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// `--cap-drop`, as typed.
    #[serde(default)]
    pub cap_drop: Vec<String>,
    /// `--sysctl KEY=VALUE` (namespaced sysctls only, see [`crate::spec::sysctl`]).
    #[serde(default)]
    pub sysctls: std::collections::BTreeMap<String, String>,
    /// `-c`/`--cpu-shares` (cgroup `cpu.shares`); 0 keeps the default.
    #[serde(default)]
    pub cpu_shares: i64,
    /// `--shm-size` in bytes; `None` is Docker's 64 MiB.
    #[serde(default)]
    pub shm_size: Option<i64>,
    /// `--ulimit`, in order.
    #[serde(default)]
    pub ulimits: Vec<crate::spec::rlimits::Ulimit>,
    /// `--group-add`: group names (looked up in the container's `/etc/group`) or gids.
    #[serde(default)]
    pub group_add: Vec<String>,
    /// `--cgroupns`; `None` is the engine's default for the host's cgroup version.
    #[serde(default)]
    pub cgroupns: Option<CgroupnsMode>,
    /// `--privileged`: every capability, no seccomp, no masked paths, every host device.
    #[serde(default)]
    pub privileged: bool,
    /// `--device`, in order.
    #[serde(default)]
    pub devices: Vec<crate::spec::devices::DeviceMapping>,
}

/// `--cgroupns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CgroupnsMode {
    /// The host's cgroup namespace: `/proc/self/cgroup` shows the full paths.
    Host,
    /// A cgroup namespace of its own, rooted at the container's cgroup.
    Private,
}

impl CgroupnsMode {
    /// Docker's default: `host` on cgroup v1, `private` on a pure cgroup v2 host.
    pub fn default_for(cgroup_v2: bool) -> Self {
        if cgroup_v2 { Self::Private } else { Self::Host }
    }

    /// Docker's name for it (`HostConfig.CgroupnsMode`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Host => "host",
            Self::Private => "private",
        }
    }
}

/// One `--mount type=…,source=…,target=…,…` value (Docker's `mount.Mount`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountFlag {
    /// `type`: `bind`, `volume` (the default) or `tmpfs`.
    pub kind: String,
    /// `source`/`src`: a host path, a volume name, or empty.
    pub source: String,
    /// `target`/`dst`/`destination`.
    pub target: String,
    /// `readonly`/`ro`.
    pub read_only: bool,
    /// `bind-propagation`.
    pub propagation: Option<String>,
    /// `volume-nocopy`: do not copy the image's files into a new volume.
    pub no_copy: bool,
    /// `tmpfs-size`, in bytes.
    pub tmpfs_size: Option<i64>,
    /// `tmpfs-mode`, the permission bits.
    pub tmpfs_mode: Option<u32>,
}

/// `--network`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// `none`: a network namespace of its own, with only loopback.
    #[default]
    None,
    /// `host`: the host's network namespace.
    Host,
    /// No `--network` (Docker's `default`, the `bridge` network): a namespace of its own
    /// with outbound access through a user-mode helper ([`crate::network`]).
    Default,
    /// `--network bridge`: the same network, named.
    Bridge,
    /// `container:NAME`: the network namespace of another (running) container.
    Container(String),
    /// A user network (`network create`), by the name or ID given.
    Named(String),
}

impl NetworkMode {
    /// Parses `--network`: `default`, `bridge`, `none`, `host`, `container:NAME`.
    pub fn parse(s: &str) -> Result<NetworkMode, crate::RuntimeError> {
        Ok(match s {
            "" | "default" => NetworkMode::Default,
            "bridge" => NetworkMode::Bridge,
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            _ => match s.strip_prefix("container:") {
                Some(c) if !c.is_empty() => NetworkMode::Container(c.to_string()),
                Some(_) => {
                    return Err(crate::RuntimeError::InvalidOptions(
                        "Invalid network mode: invalid container format container:<name|id>".into(),
                    ));
                }
                None => NetworkMode::Named(s.to_string()),
            },
        })
    }

    /// The value of `HostConfig.NetworkMode`.
    pub fn as_docker(&self) -> String {
        match self {
            NetworkMode::None => "none".into(),
            NetworkMode::Host => "host".into(),
            NetworkMode::Default => "default".into(),
            NetworkMode::Bridge => "bridge".into(),
            NetworkMode::Container(c) => format!("container:{c}"),
            NetworkMode::Named(n) => n.clone(),
        }
    }

    /// The network's name in `NetworkSettings.Networks` and `ps`' `Networks` (none for a
    /// container that shares another's).
    pub fn network_name(&self) -> Option<&str> {
        match self {
            NetworkMode::None => Some("none"),
            NetworkMode::Host => Some("host"),
            NetworkMode::Default | NetworkMode::Bridge => Some("bridge"),
            NetworkMode::Container(_) => None,
            NetworkMode::Named(n) => Some(n),
        }
    }

    /// Whether it is a user network (a namespace of its own on a strata bridge).
    pub fn is_named(&self) -> bool {
        matches!(self, NetworkMode::Named(_))
    }

    /// Whether the container has a namespace of its own that `start` makes (the
    /// user-mode network or user networks).
    pub fn own_namespace_file(&self) -> bool {
        self.is_user_mode() || self.is_named()
    }

    /// Whether it is `container:NAME`.
    pub fn is_container(&self) -> bool {
        matches!(self, NetworkMode::Container(_))
    }

    /// Whether the container has a namespace of its own set up by the user-mode helper.
    pub fn is_user_mode(&self) -> bool {
        matches!(self, NetworkMode::Default | NetworkMode::Bridge)
    }
}

/// One mount asked for with `-v` or `--tmpfs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    /// What is mounted.
    pub kind: MountKind,
    /// Absolute path inside the container.
    pub destination: String,
    /// `:ro`.
    pub read_only: bool,
    /// Extra mount options (`--tmpfs /run:size=64m,mode=1777` gives `size=64m`, `mode=1777`).
    pub options: Vec<String>,
}

/// The source of a [`MountSpec`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    /// A host path (`-v /host:/ctr`).
    Bind {
        /// The host path.
        source: PathBuf,
    },
    /// A named volume (`-v name:/ctr`); the caller resolves `name` to a host directory.
    Volume {
        /// The volume name.
        name: String,
        /// Its data directory on the host.
        source: PathBuf,
    },
    /// A tmpfs (`--tmpfs /ctr`).
    Tmpfs,
}
