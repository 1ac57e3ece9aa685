//! The OCI runtime `config.json` of a container, made from the image config and the run
//! options the way Docker's daemon makes it (`daemon/oci_linux.go`, `oci/defaults.go`).
//!
//! Pure: no I/O. The caller resolves the user ([`crate::user`]) and the paths of the
//! container's `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci::ContainerConfig;

use crate::seccomp::{self, Machine};
use crate::{ExecUser, MountKind, NetworkMode, RunOptions, RuntimeError};

pub mod namespaces;
mod types;
pub use types::*;

// Security and resource flags (`--cap-add/--cap-drop`, `--ulimit`, `--sysctl`, `--cpus`
// and `--cpu-shares` checks): one module each.
pub mod capabilities;
pub mod devices;
pub mod limits;
pub mod resources;
pub mod rlimits;
pub mod sysctl;

/// Docker's default `PATH` when the image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Docker's default capability set.
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// Paths Docker hides from containers (bind-mounted over with `/dev/null` or an empty
/// tmpfs): Docker 20.10's list exactly (`oci/defaults.go`; later releases added
/// `/proc/interrupts` and `/sys/devices/virtual/powercap`).
pub const MASKED_PATHS: [&str; 10] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Paths Docker makes read-only in containers.
pub const READONLY_PATHS: [&str; 5] = [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
];

/// The sysctls Docker sets in a container with a network namespace of its own
/// (`daemon/oci_linux.go` `WithSysctls`): any user may bind ports below 1024 and open
/// ICMP echo sockets (`ping` without `CAP_NET_RAW`), as the namespace isolates both.
pub const NETWORK_SYSCTLS: [(&str, &str); 2] = [
    ("net.ipv4.ip_unprivileged_port_start", "0"),
    ("net.ipv4.ping_group_range", "0 2147483647"),
];

/// Where `--init` puts the init binary inside the container (Docker's path).
pub const INIT_PATH: &str = "/sbin/docker-init";

/// Host files bind-mounted into the container, as Docker does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcFiles {
    /// Becomes `/etc/hosts`.
    pub hosts: PathBuf,
    /// Becomes `/etc/resolv.conf`.
    pub resolv_conf: PathBuf,
    /// Becomes `/etc/hostname`.
    pub hostname: PathBuf,
}

/// Everything [`build`] needs besides the image config and run options.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// The resolved user.
    pub user: &'a ExecUser,
    /// The hostname (the caller applies the default: the ID's first 12 characters).
    pub hostname: &'a str,
    /// The cgroup path, or `None` for the runtime's default.
    pub cgroups_path: Option<String>,
    /// `/etc/hosts`, `/etc/resolv.conf`, `/etc/hostname` to bind in.
    pub etc_files: Option<&'a EtcFiles>,
    /// The host's init binary for `--init`.
    pub init_binary: Option<&'a Path>,
    /// `RLIMIT_NOFILE` (soft and hard): Docker's [`DEFAULT_NOFILE`] where this process may
    /// raise its limit that far, else its own hard limit (see [`nofile_limit`]).
    pub nofile: u64,
    /// The running kernel's (major, minor) version, for the seccomp profile's `minKernel`
    /// rules; `None` when unknown.
    pub kernel: Option<(u32, u32)>,
    /// The capabilities this process may pass on (its bounding set, bit per capability):
    /// a `--privileged` container gets these.
    pub held_capabilities: u64,
}

/// Docker's `RLIMIT_NOFILE` for containers.
pub const DEFAULT_NOFILE: u64 = 1_048_576;

/// The `RLIMIT_NOFILE` a container can get from this process: [`DEFAULT_NOFILE`] with
/// `CAP_SYS_RESOURCE` (`cap_eff` is the effective capability mask), else at most
/// `hard`, the current hard limit (the runtime cannot raise it further).
pub fn nofile_limit(cap_eff: u64, hard: u64) -> u64 {
    const CAP_SYS_RESOURCE: u32 = 24;
    if cap_eff & (1 << CAP_SYS_RESOURCE) != 0 {
        DEFAULT_NOFILE
    } else {
        DEFAULT_NOFILE.min(hard)
    }
}

/// The argv Docker would run: the entrypoint (the image's, unless `--entrypoint` is given)
/// followed by the command (the arguments if any; else the image's `Cmd`, unless
/// `--entrypoint` was given, which resets it).
pub fn command(image: &ContainerConfig, opts: &RunOptions) -> Result<Vec<String>, RuntimeError> {
    let (entrypoint, cmd) = match &opts.entrypoint {
        Some(ep) => {
            let ep = if ep.len() == 1 && ep[0].is_empty() {
                Vec::new()
            } else {
                ep.clone()
            };
            (ep, opts.cmd.clone())
        }
        None => {
            let cmd = if opts.cmd.is_empty() {
                image.cmd.clone().unwrap_or_default()
            } else {
                opts.cmd.clone()
            };
            (image.entrypoint.clone().unwrap_or_default(), cmd)
        }
    };
    let argv: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if argv.is_empty() {
        return Err(RuntimeError::InvalidOptions("No command specified".into()));
    }
    Ok(argv)
}

fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// Replaces entries of `base` whose key an override names, appends the rest; an override
/// without `=` removes the key (Docker's `ReplaceOrAppendEnvValues`).
pub(crate) fn replace_or_append(mut base: Vec<String>, overrides: &[String]) -> Vec<String> {
    for o in overrides {
        let key = env_key(o);
        let pos = base.iter().position(|b| env_key(b) == key);
        match (pos, o.contains('=')) {
            (Some(i), true) => base[i] = o.clone(),
            (Some(i), false) => {
                base.remove(i);
            }
            (None, true) => base.push(o.clone()),
            (None, false) => {}
        }
    }
    base
}

/// The process environment, as Docker builds it: defaults `PATH`, `HOSTNAME` (and
/// `TERM=xterm` with a terminal), overridden by the image's `Env` merged with `-e` (which
/// wins). No `HOME` unless one of those sets it: as under Docker, the OCI runtime appends
/// `HOME` from the process user's passwd entry, last, so an `exec` (with its own `-e`
/// and `-u`) gets it after its variables too.
pub fn environment(image: &ContainerConfig, opts: &RunOptions, hostname: &str) -> Vec<String> {
    // runconfig.Merge: the user's entries, then the image's whose key the user did not set.
    let mut merged = opts.env.clone();
    for e in &image.env {
        if !opts.env.iter().any(|u| env_key(u) == env_key(e)) {
            merged.push(e.clone());
        }
    }
    let mut defaults = vec![format!("PATH={DEFAULT_PATH}")];
    // BuildKit's RUN sets no HOSTNAME.
    if !opts.build_sandbox {
        defaults.push(format!("HOSTNAME={hostname}"));
    }
    if opts.tty {
        defaults.push("TERM=xterm".into());
    }
    replace_or_append(defaults, &merged)
}

/// The working directory: `-w` (which must be absolute), else the image's (made absolute),
/// else `/`.
pub fn working_dir(image: &ContainerConfig, opts: &RunOptions) -> Result<String, RuntimeError> {
    if let Some(w) = &opts.workdir {
        if !w.starts_with('/') {
            return Err(RuntimeError::InvalidOptions(format!(
                "the working directory '{w}' is invalid, it needs to be an absolute path"
            )));
        }
        return Ok(w.clone());
    }
    Ok(match image.working_dir.as_deref() {
        None | Some("") => "/".to_string(),
        Some(w) if w.starts_with('/') => w.to_string(),
        Some(w) => format!("/{w}"),
    })
}

fn mount(dest: &str, kind: &str, source: &str, options: &[&str]) -> Mount {
    Mount {
        destination: dest.into(),
        kind: kind.into(),
        source: source.into(),
        options: options.iter().map(|s| s.to_string()).collect(),
    }
}

/// Docker's default mounts: proc, a tmpfs `/dev`, devpts, sysfs (read-only), the cgroup
/// tree (read-only), mqueue and a 64 MiB `/dev/shm`.
pub fn default_mounts() -> Vec<Mount> {
    vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"]),
        mount(
            "/dev",
            "tmpfs",
            "tmpfs",
            &["nosuid", "strictatime", "mode=755", "size=65536k"],
        ),
        mount(
            "/dev/pts",
            "devpts",
            "devpts",
            &[
                "nosuid",
                "noexec",
                "newinstance",
                "ptmxmode=0666",
                "mode=0620",
                "gid=5",
            ],
        ),
        mount(
            "/sys",
            "sysfs",
            "sysfs",
            &["nosuid", "noexec", "nodev", "ro"],
        ),
        mount(
            "/sys/fs/cgroup",
            "cgroup",
            "cgroup",
            &["ro", "nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/mqueue",
            "mqueue",
            "mqueue",
            &["nosuid", "noexec", "nodev"],
        ),
        mount(
            "/dev/shm",
            "tmpfs",
            "shm",
            &["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"],
        ),
    ]
}

fn user_mounts(opts: &RunOptions) -> Result<Vec<Mount>, RuntimeError> {
    let mut out = Vec::new();
    for m in &opts.mounts {
        if !m.destination.starts_with('/') {
            return Err(RuntimeError::InvalidOptions(format!(
                "invalid mount config: mount path must be absolute: {}",
                m.destination
            )));
        }
        let mut options: Vec<String> = match &m.kind {
            MountKind::Bind { .. } | MountKind::Volume { .. } => {
                vec!["rbind".into(), "rprivate".into()]
            }
            MountKind::Tmpfs => vec!["nosuid".into(), "nodev".into(), "noexec".into()],
        };
        options.extend(
            m.options
                .iter()
                .filter(|o| *o != crate::volumes::NO_COPY)
                .cloned(),
        );
        if m.read_only {
            options.push("ro".into());
        }
        let (kind, source) = match &m.kind {
            MountKind::Bind { source } | MountKind::Volume { source, .. } => {
                ("bind", source.display().to_string())
            }
            MountKind::Tmpfs => ("tmpfs", "tmpfs".to_string()),
        };
        out.push(Mount {
            destination: m.destination.clone(),
            kind: kind.into(),
            source,
            options,
        });
    }
    Ok(out)
}

/// Builds the runtime spec of a container.
pub fn build(
    image: &ContainerConfig,
    opts: &RunOptions,
    ctx: &Context<'_>,
) -> Result<Spec, RuntimeError> {
    let mut args = command(image, opts)?;
    let mut mounts = default_mounts();
    if let Some(files) = ctx.etc_files {
        // With `--read-only` Docker mounts these read-only too (`Writable: !ReadonlyRootfs`).
        let options: &[&str] = if opts.read_only {
            &["rbind", "rprivate", "ro"]
        } else {
            &["rbind", "rprivate"]
        };
        for (dest, src) in [
            ("/etc/resolv.conf", &files.resolv_conf),
            ("/etc/hostname", &files.hostname),
            ("/etc/hosts", &files.hosts),
        ] {
            // BuildKit's RUN has no /etc/hostname.
            if opts.build_sandbox && dest == "/etc/hostname" {
                continue;
            }
            mounts.push(mount(dest, "bind", &src.display().to_string(), options));
        }
    }
    mounts.extend(user_mounts(opts)?);
    if opts.init {
        let init = ctx.init_binary.ok_or_else(|| {
            RuntimeError::InvalidOptions(
                "--init needs an init binary (tini, catatonit or docker-init) on the host".into(),
            )
        })?;
        mounts.push(mount(
            INIT_PATH,
            "bind",
            &init.display().to_string(),
            &["bind", "ro"],
        ));
        args.splice(0..0, [INIT_PATH.to_string(), "--".to_string()]);
    }
    // `create` refused unknown names against the kernel's list (resources::validate).
    let privileged = opts.security.privileged;
    let caps = if privileged {
        capabilities::held(ctx.held_capabilities)
    } else {
        capabilities::tweak(
            &DEFAULT_CAPABILITIES,
            &opts.security.cap_add,
            &opts.security.cap_drop,
            &capabilities::ALL_CAPABILITIES,
        )?
    };
    let mut namespaces = vec!["pid", "ipc", "uts", "mount"];
    let mut sysctl = BTreeMap::new();
    if opts.network != NetworkMode::Host {
        namespaces.push("network");
        sysctl.extend(
            NETWORK_SYSCTLS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
    }
    // `--sysctl` over Docker's own.
    sysctl.extend(opts.security.sysctls.clone());
    // `create` resolves the default (host on cgroup v1, as Docker); unset means private.
    if opts.security.cgroupns != Some(crate::CgroupnsMode::Host) {
        namespaces.push("cgroup");
    }
    set_shm_size(&mut mounts, opts.security.shm_size);
    // Docker: a privileged container runs unconfined whatever `--security-opt` says.
    let seccomp = if privileged {
        None
    } else {
        seccomp::for_container(&opts.seccomp, &caps, Machine::this(ctx.kernel))?
    };
    let (device_nodes, device_rules) = device_access(opts)?;
    if privileged {
        // Docker mounts /sys and the cgroup tree read-write for a privileged container.
        for m in mounts
            .iter_mut()
            .filter(|m| m.destination == "/sys" || m.destination == "/sys/fs/cgroup")
        {
            m.options.retain(|o| o != "ro");
        }
    }
    let (masked, readonly): (&[&str], &[&str]) = if privileged {
        (&[], &[])
    } else {
        (&MASKED_PATHS, &READONLY_PATHS)
    };
    let mut spec = Spec {
        oci_version: "1.0.2".into(),
        process: Process {
            terminal: opts.tty,
            user: User {
                uid: ctx.user.uid,
                gid: ctx.user.gid,
                additional_gids: ctx.user.additional_gids.clone(),
            },
            args,
            env: environment(image, opts, ctx.hostname),
            cwd: working_dir(image, opts)?,
            capabilities: Capabilities {
                bounding: caps.clone(),
                effective: caps.clone(),
                permitted: caps,
            },
            rlimits: rlimits::rlimits(ctx.nofile, &opts.security.ulimits),
            no_new_privileges: opts.no_new_privileges,
        },
        root: Root {
            path: "rootfs".into(),
            readonly: opts.read_only,
        },
        // Docker names the UTS namespace on every network (the host's name by default on
        // the host network, `-h` if given); [`namespaces::apply`] drops it with `--uts host`.
        hostname: Some(ctx.hostname.to_string()),
        mounts,
        linux: Linux {
            namespaces: namespaces
                .into_iter()
                .map(|k| Namespace {
                    kind: k.into(),
                    path: None,
                })
                .collect(),
            devices: device_nodes,
            resources: resources_with(opts, device_rules),
            cgroups_path: ctx.cgroups_path.clone(),
            masked_paths: masked.iter().map(|s| s.to_string()).collect(),
            readonly_paths: readonly.iter().map(|s| s.to_string()).collect(),
            sysctl,
            seccomp,
        },
    };
    // `--ipc`, `--pid`, `--uts`: namespaces shared with the host, `/dev/shm`.
    namespaces::apply(&mut spec, opts);
    Ok(spec)
}

/// The device nodes to make and the device cgroup rules: Docker denies every device (the
/// runtime then allows its defaults), allows each `--device`, and with `--privileged`
/// allows all and copies every host device.
fn device_access(opts: &RunOptions) -> Result<(Vec<LinuxDevice>, Vec<DeviceRule>), RuntimeError> {
    let mut nodes = Vec::new();
    let mut rules = vec![DeviceRule {
        allow: false,
        kind: None,
        major: None,
        minor: None,
        access: "rwm".into(),
    }];
    if opts.security.privileged {
        nodes = devices::host_devices();
        rules.push(DeviceRule {
            allow: true,
            kind: None,
            major: None,
            minor: None,
            access: "rwm".into(),
        });
    }
    for d in &opts.security.devices {
        let (n, r) = devices::resolve(d)?;
        // A --device over a node --privileged copied replaces it.
        nodes.retain(|have: &LinuxDevice| n.iter().all(|new| new.path != have.path));
        nodes.extend(n);
        rules.extend(r);
    }
    Ok((nodes, rules))
}

/// The cgroup resources `opts` ask for (also what `update` rewrites in the bundle and
/// gives the runtime): the device rules of [`device_access`], `-m` with swap twice it
/// unless `--memory-swap` says, the CPU flags, `--pids-limit`.
pub fn resources(opts: &RunOptions) -> Result<Resources, RuntimeError> {
    Ok(resources_with(opts, device_access(opts)?.1))
}

/// [`resources`] with the device rules already worked out.
fn resources_with(opts: &RunOptions, devices: Vec<DeviceRule>) -> Resources {
    Resources {
        devices,
        memory: memory(opts),
        cpu: cpu(opts),
        pids: opts.pids_limit.map(|limit| Pids { limit }),
        block_io: opts
            .blkio_weight
            .filter(|&w| w != 0)
            .map(|weight| BlockIo { weight }),
    }
}

/// `-m` with swap twice it unless `--memory-swap` says, and `--memory-reservation`.
fn memory(opts: &RunOptions) -> Option<Memory> {
    let reservation = opts.memory_reservation.filter(|&r| r != 0);
    if opts.memory.is_none() && reservation.is_none() {
        return None;
    }
    Some(Memory {
        limit: opts.memory,
        reservation,
        swap: opts
            .memory
            .map(|limit| opts.memory_swap.unwrap_or(limit.saturating_mul(2))),
    })
}

/// `--cpus` as a CFS quota over a 100 ms period (or `--cpu-period`/`--cpu-quota`),
/// `--cpu-shares` (0: the default), `--cpuset-cpus`/`--cpuset-mems` and the real-time
/// period and runtime.
fn cpu(opts: &RunOptions) -> Option<Cpu> {
    let shares = u64::try_from(opts.security.cpu_shares)
        .ok()
        .filter(|&s| s != 0);
    let quota = opts
        .cpus
        .map(|c| (c * 100_000.0).round() as i64)
        .or(opts.cpu_quota.filter(|&q| q != 0));
    let period = opts.cpus.map(|_| 100_000).or(opts
        .cpu_period
        .and_then(|p| u64::try_from(p).ok())
        .filter(|&p| p != 0));
    let cpus = opts.cpuset_cpus.clone().filter(|c| !c.is_empty());
    let mems = opts.cpuset_mems.clone().filter(|c| !c.is_empty());
    let realtime_period = opts
        .cpu_rt_period
        .and_then(|p| u64::try_from(p).ok())
        .filter(|&p| p != 0);
    let realtime_runtime = opts.cpu_rt_runtime.filter(|&r| r != 0);
    let cpu = Cpu {
        shares,
        quota,
        period,
        cpus,
        mems,
        realtime_period,
        realtime_runtime,
    };
    (cpu != Cpu::default()).then_some(cpu)
}

/// `--shm-size`: the `/dev/shm` tmpfs's `size=`, in bytes as Docker writes it.
fn set_shm_size(mounts: &mut [Mount], bytes: Option<i64>) {
    let Some(bytes) = bytes.filter(|&b| b > 0) else {
        return;
    };
    for m in mounts.iter_mut().filter(|m| m.destination == "/dev/shm") {
        for o in m.options.iter_mut().filter(|o| o.starts_with("size=")) {
            *o = format!("size={bytes}");
        }
    }
}

#[cfg(test)]
mod flag_tests;
#[cfg(test)]
mod tests;
