//! The seccomp filter of a container, as Docker sets it (`profiles/seccomp`): a profile in
//! Docker's format (its default one, see [`crate::seccomp_default`], or one the user
//! gives with `--security-opt seccomp=FILE`) is narrowed to this machine's architecture,
//! the container's capabilities and the running kernel, giving the OCI `linux.seccomp`
//! section the runtime loads.
//!
//! Pure: no I/O except [`SeccompOption::load`], which reads a profile file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::RuntimeError;

/// The seccomp profile asked for (`--security-opt seccomp=…`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SeccompOption {
    /// Docker's default profile.
    #[default]
    Default,
    /// `seccomp=unconfined`: no filter.
    Unconfined,
    /// `seccomp=FILE`: the text of a profile in Docker's format (read when the container
    /// is created, as the Docker client does, so a later change of the file changes
    /// nothing).
    Profile(String),
}

impl SeccompOption {
    /// The option for the value of `--security-opt seccomp=VALUE`: `unconfined`, or the
    /// path of a profile file, read and checked now.
    pub fn load(value: &str) -> Result<SeccompOption, RuntimeError> {
        if value == "unconfined" {
            return Ok(SeccompOption::Unconfined);
        }
        let path = Path::new(value);
        let text = std::fs::read_to_string(path)
            .map_err(|e| RuntimeError::io("open the seccomp profile", path, e))?;
        parse_profile(&text)?;
        Ok(SeccompOption::Profile(text))
    }
}

/// A seccomp profile in Docker's format (`profiles/seccomp/default.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// The action of a syscall no rule matches (`SCMP_ACT_ERRNO`).
    pub default_action: String,
    /// The errno of the default action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// Architectures, the older form of [`Profile::arch_map`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// Per native architecture, the architectures whose syscalls the filter covers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arch_map: Vec<ArchMap>,
    /// Filter flags (`SECCOMP_FILTER_FLAG_LOG`, …), passed on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// The rules, in order.
    #[serde(default)]
    pub syscalls: Vec<ProfileRule>,
}

/// One entry of [`Profile::arch_map`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArchMap {
    /// `SCMP_ARCH_X86_64`, …
    pub architecture: String,
    /// The compatible architectures (`SCMP_ARCH_X86`, `SCMP_ARCH_X32`).
    #[serde(default)]
    pub sub_architectures: Option<Vec<String>>,
}

/// One rule of a Docker profile: an OCI rule that applies only under some conditions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileRule {
    /// A single syscall name (older form of `names`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Syscall names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// `SCMP_ACT_ALLOW`, `SCMP_ACT_ERRNO`, …
    pub action: String,
    /// The errno of an `SCMP_ACT_ERRNO` action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Argument conditions, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Arg>,
    /// The rule applies only when all of these hold.
    #[serde(default)]
    pub includes: Filter,
    /// The rule does not apply when any of these holds.
    #[serde(default)]
    pub excludes: Filter,
}

/// A condition on the machine and container of a [`ProfileRule`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Filter {
    /// Go architecture names (`amd64`, `arm64`, `s390x`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub arches: Vec<String>,
    /// Capabilities (`CAP_SYS_ADMIN`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caps: Vec<String>,
    /// The lowest kernel version (`4.8`), includes only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_kernel: Option<String>,
}

/// A condition on one syscall argument.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Arg {
    /// The argument's index.
    pub index: u32,
    /// The value compared with.
    pub value: u64,
    /// The second value (the mask's result for `SCMP_CMP_MASKED_EQ`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value_two: u64,
    /// `SCMP_CMP_EQ`, `SCMP_CMP_NE`, `SCMP_CMP_MASKED_EQ`, …
    pub op: String,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// The OCI runtime spec's `linux.seccomp`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinuxSeccomp {
    /// The action of a syscall no rule matches.
    pub default_action: String,
    /// Its errno.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_errno_ret: Option<u32>,
    /// `SCMP_ARCH_*` names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub architectures: Vec<String>,
    /// Filter flags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<String>,
    /// The rules.
    #[serde(default)]
    pub syscalls: Vec<SyscallRule>,
}

/// One OCI seccomp rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyscallRule {
    /// Syscall names.
    pub names: Vec<String>,
    /// The action.
    pub action: String,
    /// The errno of an `SCMP_ACT_ERRNO` action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno_ret: Option<u32>,
    /// Argument conditions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<Arg>,
}

/// The machine a profile is narrowed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Machine<'a> {
    /// Rust's name of the native architecture ([`std::env::consts::ARCH`]).
    pub arch: &'a str,
    /// The running kernel's (major, minor) version; `None` when unknown, which passes
    /// every `minKernel`.
    pub kernel: Option<(u32, u32)>,
}

impl Machine<'_> {
    /// This machine: its architecture and the running kernel's version.
    pub fn this(kernel: Option<(u32, u32)>) -> Machine<'static> {
        Machine {
            arch: std::env::consts::ARCH,
            kernel,
        }
    }
}

/// Rust's architecture name → (Go's, libseccomp's), for the `arches` conditions and the
/// `archMap` of profiles.
const ARCHES: [(&str, &str, &str); 9] = [
    ("x86_64", "amd64", "SCMP_ARCH_X86_64"),
    ("x86", "386", "SCMP_ARCH_X86"),
    ("aarch64", "arm64", "SCMP_ARCH_AARCH64"),
    ("arm", "arm", "SCMP_ARCH_ARM"),
    ("mips64", "mips64", "SCMP_ARCH_MIPS64"),
    ("powerpc64", "ppc64le", "SCMP_ARCH_PPC64LE"),
    ("s390x", "s390x", "SCMP_ARCH_S390X"),
    ("riscv64", "riscv64", "SCMP_ARCH_RISCV64"),
    ("loongarch64", "loong64", "SCMP_ARCH_LOONGARCH64"),
];

/// The kernel version in a release string like `6.1.0-18-amd64`.
pub fn parse_kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

fn bad_profile(detail: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::InvalidOptions(format!("decoding seccomp profile failed: {detail}"))
}

/// Parses a profile in Docker's format.
pub fn parse_profile(text: &str) -> Result<Profile, RuntimeError> {
    let p: Profile = serde_json::from_str(text).map_err(bad_profile)?;
    if !p.architectures.is_empty() && !p.arch_map.is_empty() {
        return Err(bad_profile(
            "use either 'architectures' or 'archMap', not both",
        ));
    }
    for rule in &p.syscalls {
        if rule.name.is_some() && !rule.names.is_empty() {
            return Err(bad_profile("use either 'name' or 'names', not both"));
        }
    }
    Ok(p)
}

/// The `linux.seccomp` section for `option`, a container with capabilities `caps`, on
/// `machine`; `None` for `unconfined`.
pub fn for_container(
    option: &SeccompOption,
    caps: &[String],
    machine: Machine<'_>,
) -> Result<Option<LinuxSeccomp>, RuntimeError> {
    let profile = match option {
        SeccompOption::Unconfined => return Ok(None),
        SeccompOption::Default => crate::seccomp_default::profile(),
        SeccompOption::Profile(text) => parse_profile(text)?,
    };
    Ok(Some(narrow(&profile, caps, machine)))
}

/// Docker's `setupSeccomp`: keeps the rules whose conditions hold for `caps` on `machine`.
pub fn narrow(profile: &Profile, caps: &[String], machine: Machine<'_>) -> LinuxSeccomp {
    let native = ARCHES.iter().find(|(rust, _, _)| *rust == machine.arch);
    let go_arch = native.map_or(machine.arch, |(_, go, _)| *go);
    let mut architectures = profile.architectures.clone();
    if let Some((_, _, scmp)) = native {
        for m in profile.arch_map.iter().filter(|m| m.architecture == *scmp) {
            architectures.push(m.architecture.clone());
            architectures.extend(m.sub_architectures.iter().flatten().cloned());
        }
    }
    let has_cap = |c: &String| caps.contains(c);
    let syscalls = profile
        .syscalls
        .iter()
        .filter(|r| {
            let ex = &r.excludes;
            let inc = &r.includes;
            !ex.arches.iter().any(|a| a == go_arch)
                && !ex.caps.iter().any(has_cap)
                && (inc.arches.is_empty() || inc.arches.iter().any(|a| a == go_arch))
                && inc.caps.iter().all(has_cap)
                && kernel_at_least(machine.kernel, inc.min_kernel.as_deref())
        })
        .map(|r| SyscallRule {
            names: match &r.name {
                Some(n) => vec![n.clone()],
                None => r.names.clone(),
            },
            action: r.action.clone(),
            errno_ret: r.errno_ret,
            args: r.args.clone(),
        })
        .collect();
    LinuxSeccomp {
        default_action: profile.default_action.clone(),
        default_errno_ret: profile.default_errno_ret,
        architectures,
        flags: profile.flags.clone(),
        syscalls,
    }
}

fn kernel_at_least(kernel: Option<(u32, u32)>, min: Option<&str>) -> bool {
    match (kernel, min.and_then(parse_kernel_version)) {
        (Some(have), Some(want)) => have >= want,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn rule<'a>(s: &'a LinuxSeccomp, name: &str) -> Vec<&'a SyscallRule> {
        s.syscalls
            .iter()
            .filter(|r| r.names.iter().any(|n| n == name))
            .collect()
    }

    /// The default profile follows the capability, architecture and kernel conditions.
    #[test]
    fn default_profile_is_narrowed_like_docker() {
        let default_caps = caps(&crate::spec::DEFAULT_CAPABILITIES);
        let amd64 = Machine {
            arch: "x86_64",
            kernel: Some((6, 1)),
        };
        let s = for_container(&SeccompOption::Default, &default_caps, amd64)
            .unwrap()
            .unwrap();
        assert_eq!(
            (s.default_action.as_str(), s.default_errno_ret),
            ("SCMP_ACT_ERRNO", Some(1))
        );
        assert_eq!(
            s.architectures,
            ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        );
        // Without CAP_SYS_ADMIN: no mount, clone only without namespace flags, and clone3
        // fails with ENOSYS so libc falls back to clone.
        assert!(rule(&s, "mount").is_empty());
        let clone = rule(&s, "clone");
        assert_eq!(clone.len(), 1);
        assert_eq!(clone[0].args[0].op, "SCMP_CMP_MASKED_EQ");
        assert_eq!(clone[0].args[0].index, 0);
        let clone3 = rule(&s, "clone3");
        assert_eq!(
            (clone3.len(), clone3[0].errno_ret),
            (1, Some(libc::ENOSYS as u32))
        );
        // CAP_SYS_CHROOT is a default capability; arch_prctl is amd64's; ptrace needs 4.8.
        assert_eq!(rule(&s, "chroot").len(), 1);
        assert_eq!(rule(&s, "arch_prctl").len(), 1);
        assert!(rule(&s, "s390_runtime_instr").is_empty());
        assert_eq!(rule(&s, "ptrace").len(), 1);
        assert!(rule(&s, "reboot").is_empty());
        let old = Machine {
            kernel: Some((4, 4)),
            ..amd64
        };
        let s_old = narrow(&crate::seccomp_default::profile(), &default_caps, old);
        assert!(rule(&s_old, "ptrace").is_empty());
        // With CAP_SYS_ADMIN: mount and any clone.
        let mut admin = default_caps.clone();
        admin.push("CAP_SYS_ADMIN".into());
        let s = narrow(&crate::seccomp_default::profile(), &admin, amd64);
        assert_eq!(rule(&s, "mount").len(), 1);
        assert!(rule(&s, "clone").iter().all(|r| r.args.is_empty()));
        assert!(
            rule(&s, "clone3")
                .iter()
                .all(|r| r.action == "SCMP_ACT_ALLOW")
        );
        // s390x: its own clone argument order, its own syscalls.
        let s390 = Machine {
            arch: "s390x",
            kernel: None,
        };
        let s = narrow(&crate::seccomp_default::profile(), &default_caps, s390);
        assert_eq!(s.architectures, ["SCMP_ARCH_S390X", "SCMP_ARCH_S390"]);
        assert_eq!(rule(&s, "clone")[0].args[0].index, 1);
        assert_eq!(rule(&s, "s390_runtime_instr").len(), 1);
        assert!(rule(&s, "arch_prctl").is_empty());
    }

    #[test]
    fn unconfined_and_custom_profiles() {
        let m = Machine::this(None);
        assert_eq!(
            for_container(&SeccompOption::Unconfined, &[], m).unwrap(),
            None
        );
        let text = r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"name":"mkdir","action":"SCMP_ACT_ERRNO","errnoRet":13},
            {"names":["chmod"],"action":"SCMP_ACT_ERRNO","includes":{"caps":["CAP_NONE"]}}]}"#;
        let s = for_container(&SeccompOption::Profile(text.into()), &[], m)
            .unwrap()
            .unwrap();
        assert_eq!(s.default_action, "SCMP_ACT_ALLOW");
        assert_eq!(
            s.syscalls,
            [SyscallRule {
                names: vec!["mkdir".into()],
                action: "SCMP_ACT_ERRNO".into(),
                errno_ret: Some(13),
                args: vec![],
            }]
        );
        for bad in [
            "not json",
            r#"{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86"],
                "archMap":[{"architecture":"SCMP_ARCH_X86_64"}]}"#,
            r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
                {"name":"a","names":["b"],"action":"SCMP_ACT_ALLOW"}]}"#,
        ] {
            let err = for_container(&SeccompOption::Profile(bad.into()), &[], m).unwrap_err();
            assert!(err.to_string().contains("seccomp profile"), "{err}");
        }
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(parse_kernel_version("6.18.44-fc-v1272"), Some((6, 18)));
        assert_eq!(parse_kernel_version("4.8"), Some((4, 8)));
        assert_eq!(parse_kernel_version("x"), None);
        assert!(kernel_at_least(Some((4, 10)), Some("4.8")));
        assert!(!kernel_at_least(Some((4, 7)), Some("4.8")));
        assert!(kernel_at_least(None, Some("4.8")));
    }
}
