//! The OCI runtime `config.json` of a container, made from the image config and the run
//! options the way Docker's daemon makes it (`daemon/oci_linux.go`, `oci/defaults.go`).
//!
//! Pure: no I/O. The caller resolves the user ([`crate::user`]) and the paths of the
//! container's `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use oci::ContainerConfig;
use serde::{Deserialize, Serialize};

use crate::seccomp::{self, LinuxSeccomp, Machine};
use crate::{ExecUser, MountKind, NetworkMode, RunOptions, RuntimeError};

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

/// Paths Docker hides from containers (bind-mounted over with `/dev/null` or an empty tmpfs).
pub const MASKED_PATHS: [&str; 12] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
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
    /// cgroup resources.
    pub resources: Resources,
    /// The cgroup path (`/strata/<id>`).
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
}

/// A device cgroup rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRule {
    /// Allow or deny.
    pub allow: bool,
    /// `rwm`.
    pub access: String,
}

/// Memory limits, in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// `--memory`.
    pub limit: i64,
    /// Memory plus swap: twice the limit, Docker's default.
    pub swap: i64,
}

/// CPU bandwidth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cpu {
    /// Microseconds per period.
    pub quota: i64,
    /// The period, microseconds.
    pub period: u64,
}

/// Process count limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pids {
    /// Maximum number of processes.
    pub limit: i64,
}

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
/// wins), and `HOME` from the user's passwd entry when nothing set it.
pub fn environment(
    image: &ContainerConfig,
    opts: &RunOptions,
    hostname: &str,
    home: &str,
) -> Vec<String> {
    // runconfig.Merge: the user's entries, then the image's whose key the user did not set.
    let mut merged = opts.env.clone();
    for e in &image.env {
        if !opts.env.iter().any(|u| env_key(u) == env_key(e)) {
            merged.push(e.clone());
        }
    }
    let mut defaults = vec![
        format!("PATH={DEFAULT_PATH}"),
        format!("HOSTNAME={hostname}"),
    ];
    if opts.tty {
        defaults.push("TERM=xterm".into());
    }
    let mut env = replace_or_append(defaults, &merged);
    if !env.iter().any(|e| env_key(e) == "HOME") {
        env.push(format!("HOME={home}"));
    }
    env
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
        options.extend(m.options.iter().cloned());
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
    let caps: Vec<String> = DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
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
    namespaces.push("cgroup");
    let seccomp = seccomp::for_container(&opts.seccomp, &caps, Machine::this(ctx.kernel))?;
    Ok(Spec {
        oci_version: "1.0.2".into(),
        process: Process {
            terminal: opts.tty,
            user: User {
                uid: ctx.user.uid,
                gid: ctx.user.gid,
                additional_gids: ctx.user.additional_gids.clone(),
            },
            args,
            env: environment(image, opts, ctx.hostname, &ctx.user.home),
            cwd: working_dir(image, opts)?,
            capabilities: Capabilities {
                bounding: caps.clone(),
                effective: caps.clone(),
                permitted: caps,
            },
            rlimits: vec![Rlimit {
                kind: "RLIMIT_NOFILE".into(),
                hard: ctx.nofile,
                soft: ctx.nofile,
            }],
            no_new_privileges: false,
        },
        root: Root {
            path: "rootfs".into(),
            readonly: opts.read_only,
        },
        hostname: (opts.network != NetworkMode::Host).then(|| ctx.hostname.to_string()),
        mounts,
        linux: Linux {
            namespaces: namespaces
                .into_iter()
                .map(|k| Namespace { kind: k.into() })
                .collect(),
            resources: Resources {
                devices: vec![DeviceRule {
                    allow: false,
                    access: "rwm".into(),
                }],
                memory: opts.memory.map(|limit| Memory {
                    limit,
                    swap: limit.saturating_mul(2),
                }),
                cpu: opts.cpus.map(|c| Cpu {
                    quota: (c * 100_000.0).round() as i64,
                    period: 100_000,
                }),
                pids: opts.pids_limit.map(|limit| Pids { limit }),
            },
            cgroups_path: ctx.cgroups_path.clone(),
            masked_paths: MASKED_PATHS.iter().map(|s| s.to_string()).collect(),
            readonly_paths: READONLY_PATHS.iter().map(|s| s.to_string()).collect(),
            sysctl,
            seccomp,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MountSpec;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn image(ep: Option<&[&str]>, cmd: Option<&[&str]>) -> ContainerConfig {
        ContainerConfig {
            entrypoint: ep.map(v),
            cmd: cmd.map(v),
            ..Default::default()
        }
    }

    #[test]
    fn entrypoint_and_cmd_follow_docker() {
        let ep: Option<&[&str]> = Some(&["/ep", "-x"]);
        let cmd: Option<&[&str]> = Some(&["serve", "--port=1"]);
        #[allow(clippy::type_complexity)]
        let cases: [(
            &str,
            Option<&[&str]>,
            Option<&[&str]>,
            Option<&[&str]>,
            &[&str],
            Option<&[&str]>,
        ); 12] = [
            // name, image ep, image cmd, --entrypoint, args, want (None = error)
            (
                "image cmd only",
                None,
                cmd,
                None,
                &[],
                Some(&["serve", "--port=1"]),
            ),
            ("args replace cmd", None, cmd, None, &["sh"], Some(&["sh"])),
            (
                "ep + cmd",
                ep,
                cmd,
                None,
                &[],
                Some(&["/ep", "-x", "serve", "--port=1"]),
            ),
            (
                "ep + args",
                ep,
                cmd,
                None,
                &["a", "b"],
                Some(&["/ep", "-x", "a", "b"]),
            ),
            (
                "--entrypoint drops image cmd",
                ep,
                cmd,
                Some(&["/new"]),
                &[],
                Some(&["/new"]),
            ),
            (
                "--entrypoint + args",
                ep,
                cmd,
                Some(&["/new"]),
                &["1"],
                Some(&["/new", "1"]),
            ),
            (
                "--entrypoint '' + args",
                ep,
                cmd,
                Some(&[""]),
                &["ls"],
                Some(&["ls"]),
            ),
            (
                "--entrypoint [] + args",
                ep,
                cmd,
                Some(&[]),
                &["ls", "-l"],
                Some(&["ls", "-l"]),
            ),
            ("--entrypoint '' alone", ep, cmd, Some(&[""]), &[], None),
            ("nothing at all", None, None, None, &[], None),
            ("empty image cmd", None, Some(&[]), None, &[], None),
            ("ep without cmd", ep, None, None, &[], Some(&["/ep", "-x"])),
        ];
        for (name, iep, icmd, oep, args, want) in cases {
            let opts = RunOptions {
                entrypoint: oep.map(v),
                cmd: v(args),
                ..Default::default()
            };
            let got = command(&image(iep, icmd), &opts);
            match want {
                Some(w) => assert_eq!(got.unwrap(), v(w), "{name}"),
                None => assert_eq!(
                    got.unwrap_err().to_string(),
                    "No command specified",
                    "{name}"
                ),
            }
        }
    }

    #[test]
    fn environment_precedence() {
        let path = format!("PATH={DEFAULT_PATH}");
        for (name, image_env, user_env, tty, want) in [
            (
                "defaults",
                &[][..],
                &[][..],
                false,
                vec![path.as_str(), "HOSTNAME=h", "HOME=/root"],
            ),
            (
                "tty adds TERM",
                &[],
                &[],
                true,
                vec![path.as_str(), "HOSTNAME=h", "TERM=xterm", "HOME=/root"],
            ),
            (
                "image PATH replaces default in place",
                &["A=1", "PATH=/x"],
                &[],
                false,
                vec!["PATH=/x", "HOSTNAME=h", "A=1", "HOME=/root"],
            ),
            (
                "-e wins over image",
                &["A=1", "B=2"],
                &["B=3", "C=4"],
                false,
                vec![
                    path.as_str(),
                    "HOSTNAME=h",
                    "B=3",
                    "C=4",
                    "A=1",
                    "HOME=/root",
                ],
            ),
            (
                "-e KEY alone removes it",
                &["A=1"],
                &["HOSTNAME"],
                false,
                vec![path.as_str(), "A=1", "HOME=/root"],
            ),
            (
                "HOME from env wins",
                &["HOME=/h"],
                &["HOSTNAME=x"],
                true,
                vec![path.as_str(), "HOSTNAME=x", "TERM=xterm", "HOME=/h"],
            ),
        ] {
            let img = ContainerConfig {
                env: v(image_env),
                ..Default::default()
            };
            let opts = RunOptions {
                env: v(user_env),
                tty,
                ..Default::default()
            };
            assert_eq!(environment(&img, &opts, "h", "/root"), v(&want), "{name}");
        }
    }

    #[test]
    fn nofile_needs_cap_sys_resource() {
        for (cap, hard, want) in [
            (1u64 << 24, 1024, DEFAULT_NOFILE),
            (0x01ff_feff_ffff, 20_000, 20_000),
            (0, u64::MAX, DEFAULT_NOFILE),
        ] {
            assert_eq!(nofile_limit(cap, hard), want, "{cap:x} {hard}");
        }
    }

    #[test]
    fn working_dir_rules() {
        for (image_wd, opt, want) in [
            (None, None, Ok("/")),
            (Some(""), None, Ok("/")),
            (Some("/srv"), None, Ok("/srv")),
            (Some("app"), None, Ok("/app")),
            (Some("/srv"), Some("/tmp"), Ok("/tmp")),
            (None, Some("rel"), Err(())),
        ] {
            let img = ContainerConfig {
                working_dir: image_wd.map(String::from),
                ..Default::default()
            };
            let opts = RunOptions {
                workdir: opt.map(String::from),
                ..Default::default()
            };
            let got = working_dir(&img, &opts).map_err(|_| ());
            assert_eq!(got, want.map(String::from), "{image_wd:?} {opt:?}");
        }
    }

    fn ctx<'a>(user: &'a ExecUser, init: Option<&'a Path>) -> Context<'a> {
        Context {
            user,
            hostname: "abc",
            cgroups_path: Some("/strata/abc".into()),
            etc_files: None,
            init_binary: init,
            nofile: DEFAULT_NOFILE,
            kernel: Some((6, 1)),
        }
    }

    #[test]
    fn builds_docker_defaults() {
        let img = image(None, Some(&["true"]));
        let user = ExecUser {
            uid: 1,
            gid: 2,
            additional_gids: vec![3],
            home: "/home/u".into(),
        };
        let spec = build(&img, &RunOptions::default(), &ctx(&user, None)).unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["ociVersion"], "1.0.2");
        assert_eq!(json["process"]["user"]["additionalGids"][0], 3);
        assert_eq!(json["process"]["cwd"], "/");
        assert_eq!(
            json["process"]["capabilities"]["bounding"]
                .as_array()
                .unwrap()
                .len(),
            14
        );
        assert_eq!(json["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
        assert_eq!(json["hostname"], "abc");
        let ns: Vec<&str> = spec
            .linux
            .namespaces
            .iter()
            .map(|n| n.kind.as_str())
            .collect();
        assert_eq!(ns, ["pid", "ipc", "uts", "mount", "network", "cgroup"]);
        let dests: Vec<&str> = spec.mounts.iter().map(|m| m.destination.as_str()).collect();
        assert_eq!(
            dests,
            [
                "/proc",
                "/dev",
                "/dev/pts",
                "/sys",
                "/sys/fs/cgroup",
                "/dev/mqueue",
                "/dev/shm"
            ]
        );
        assert!(spec.linux.masked_paths.contains(&"/proc/kcore".to_string()));
        assert_eq!(json["linux"]["resources"]["devices"][0]["allow"], false);
        assert!(json["linux"]["resources"].get("memory").is_none());
        assert!(!spec.root.readonly);
    }

    #[test]
    fn options_shape_the_spec() {
        let img = image(Some(&["/ep"]), None);
        let user = ExecUser::default();
        let opts = RunOptions {
            network: NetworkMode::Host,
            read_only: true,
            tty: true,
            memory: Some(64 << 20),
            cpus: Some(1.5),
            pids_limit: Some(100),
            init: true,
            mounts: vec![
                MountSpec {
                    kind: MountKind::Bind {
                        source: "/host".into(),
                    },
                    destination: "/data".into(),
                    read_only: true,
                    options: vec![],
                },
                MountSpec {
                    kind: MountKind::Tmpfs,
                    destination: "/run".into(),
                    read_only: false,
                    options: vec!["size=1m".into()],
                },
            ],
            ..Default::default()
        };
        let init = Path::new("/usr/bin/tini");
        let spec = build(&img, &opts, &ctx(&user, Some(init))).unwrap();
        assert_eq!(spec.process.args, v(&[INIT_PATH, "--", "/ep"]));
        assert!(spec.process.terminal && spec.root.readonly);
        assert!(spec.hostname.is_none());
        assert!(!spec.linux.namespaces.iter().any(|n| n.kind == "network"));
        let r = &spec.linux.resources;
        assert_eq!(r.memory.as_ref().unwrap().swap, 128 << 20);
        assert_eq!(r.cpu.as_ref().unwrap().quota, 150_000);
        assert_eq!(r.pids.as_ref().unwrap().limit, 100);
        let data = spec
            .mounts
            .iter()
            .find(|m| m.destination == "/data")
            .unwrap();
        assert_eq!(
            (data.kind.as_str(), data.source.as_str()),
            ("bind", "/host")
        );
        assert_eq!(data.options, v(&["rbind", "rprivate", "ro"]));
        let run = spec
            .mounts
            .iter()
            .find(|m| m.destination == "/run")
            .unwrap();
        assert_eq!(run.options, v(&["nosuid", "nodev", "noexec", "size=1m"]));
        // --init without a binary, and a relative mount path, are errors.
        assert!(build(&img, &opts, &ctx(&user, None)).is_err());
        let bad = RunOptions {
            cmd: v(&["x"]),
            mounts: vec![MountSpec {
                kind: MountKind::Tmpfs,
                destination: "rel".into(),
                read_only: false,
                options: vec![],
            }],
            ..Default::default()
        };
        assert!(build(&img, &bad, &ctx(&user, None)).is_err());
    }

    /// Docker sets these two sysctls in a container with its own network namespace only.
    #[test]
    fn own_network_namespace_gets_dockers_sysctls() {
        let img = image(None, Some(&["true"]));
        let user = ExecUser::default();
        let spec = build(&img, &RunOptions::default(), &ctx(&user, None)).unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(
            json["linux"]["sysctl"],
            serde_json::json!({
                "net.ipv4.ip_unprivileged_port_start": "0",
                "net.ipv4.ping_group_range": "0 2147483647",
            })
        );
        let host = RunOptions {
            network: NetworkMode::Host,
            ..Default::default()
        };
        let spec = build(&img, &host, &ctx(&user, None)).unwrap();
        assert!(spec.linux.sysctl.is_empty());
    }

    /// `--read-only` left `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` writable.
    #[test]
    fn read_only_root_mounts_etc_files_read_only() {
        let img = image(None, Some(&["true"]));
        let user = ExecUser::default();
        let files = EtcFiles {
            hosts: "/c/hosts".into(),
            resolv_conf: "/c/resolv.conf".into(),
            hostname: "/c/hostname".into(),
        };
        for read_only in [false, true] {
            let opts = RunOptions {
                read_only,
                ..Default::default()
            };
            let c = Context {
                etc_files: Some(&files),
                ..ctx(&user, None)
            };
            let spec = build(&img, &opts, &c).unwrap();
            let etc: Vec<&Mount> = spec
                .mounts
                .iter()
                .filter(|m| m.destination.starts_with("/etc/"))
                .collect();
            assert_eq!(etc.len(), 3);
            for m in etc {
                assert_eq!(
                    m.options.contains(&"ro".to_string()),
                    read_only,
                    "{m:?} read_only={read_only}"
                );
            }
        }
    }

    /// No seccomp filter was set; Docker applies its default profile unless unconfined.
    #[test]
    fn default_seccomp_profile_unless_unconfined() {
        let img = image(None, Some(&["true"]));
        let user = ExecUser::default();
        let spec = build(&img, &RunOptions::default(), &ctx(&user, None)).unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        let sc = &json["linux"]["seccomp"];
        assert_eq!(sc["defaultAction"], "SCMP_ACT_ERRNO");
        assert_eq!(sc["defaultErrnoRet"], 1);
        assert!(sc["syscalls"].as_array().unwrap().len() > 10);
        let unconfined = RunOptions {
            seccomp: crate::SeccompOption::Unconfined,
            ..Default::default()
        };
        let spec = build(&img, &unconfined, &ctx(&user, None)).unwrap();
        let json = serde_json::to_value(&spec).unwrap();
        assert!(json["linux"].get("seccomp").is_none());
    }
}
