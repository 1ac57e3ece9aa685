//! `--cap-add` / `--cap-drop`: the container's capability set from Docker's default one,
//! with Docker's rules (moby `oci/caps`): names in any case, with or without `CAP_`,
//! `ALL` for every capability the kernel knows; an unknown name is refused.

use crate::RuntimeError;

/// The capabilities Docker 20.10 knows, in bit order (`CAP_CHOWN` is bit 0): its
/// capability library's list ends at `CAP_AUDIT_READ`, so the newer `CAP_PERFMON`,
/// `CAP_BPF` and `CAP_CHECKPOINT_RESTORE` are unknown names to it (refused, and not in
/// `ALL`). The kernel knows those up to `/proc/sys/kernel/cap_last_cap`.
pub const ALL_CAPABILITIES: [&str; 38] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
];

/// What `--privileged` grants: every capability of [`ALL_CAPABILITIES`] that `held` (a
/// bounding-set mask, bit per capability) has. Docker asks for every capability the
/// kernel knows, and its runtime then fails where the engine itself lacks one (a
/// container host without `CAP_SYS_RESOURCE`); podman grants what it holds, and so does
/// strata.
pub fn held(held: u64) -> Vec<String> {
    ALL_CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(bit, _)| held & (1u64 << bit) != 0)
        .map(|(_, c)| c.to_string())
        .collect()
}

/// The word that stands for every capability.
const ALL: &str = "ALL";

/// The capabilities of [`ALL_CAPABILITIES`] the running kernel knows (`cap_last_cap`;
/// all of them when it cannot be read).
pub fn known_to_kernel() -> &'static [&'static str] {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<usize>().ok())
        .unwrap_or(ALL_CAPABILITIES.len() - 1);
    &ALL_CAPABILITIES[..=last.min(ALL_CAPABILITIES.len() - 1)]
}

/// Docker's `NormalizeLegacyCapabilities`: upper case, `CAP_` prefixed (`ALL` stays);
/// `field` (`CapAdd`, `CapDrop`) names the list in the error, as Docker's daemon does.
fn normalize(names: &[String], known: &[&str], field: &str) -> Result<Vec<String>, RuntimeError> {
    names
        .iter()
        .map(|n| {
            let up = n.to_ascii_uppercase();
            if up == ALL {
                return Ok(up);
            }
            let c = if up.starts_with("CAP_") {
                up
            } else {
                format!("CAP_{up}")
            };
            if known.contains(&c.as_str()) {
                Ok(c)
            } else {
                Err(RuntimeError::InvalidOptions(format!(
                    "invalid {field}: unknown capability: \"{c}\""
                )))
            }
        })
        .collect()
}

/// Refuses unknown names in `--cap-add` / `--cap-drop` (checked at create, as Docker's
/// daemon does).
pub fn validate(add: &[String], drop: &[String], known: &[&str]) -> Result<(), RuntimeError> {
    normalize(add, known, "CapAdd")?;
    normalize(drop, known, "CapDrop")?;
    Ok(())
}

/// Docker's `TweakCapabilities`: `base` (Docker's default set) with `add` and `drop`
/// applied. `--cap-add ALL` gives every known capability but the dropped ones;
/// `--cap-drop ALL` leaves only the added ones; otherwise drops go first, then adds.
pub fn tweak(
    base: &[&str],
    add: &[String],
    drop: &[String],
    known: &[&str],
) -> Result<Vec<String>, RuntimeError> {
    let add = normalize(add, known, "CapAdd")?;
    let drop = normalize(drop, known, "CapDrop")?;
    let has = |list: &[String], c: &str| list.iter().any(|x| x == c);
    let mut caps: Vec<String> = if has(&add, ALL) {
        known
            .iter()
            .filter(|c| !has(&drop, c))
            .map(|c| c.to_string())
            .collect()
    } else if has(&drop, ALL) {
        add
    } else {
        base.iter()
            .filter(|c| !has(&drop, c))
            .map(|c| c.to_string())
            .chain(add)
            .collect()
    };
    // The same capability twice (`--cap-add chown` on the default set) is one capability.
    let mut seen = Vec::new();
    caps.retain(|c| {
        let new = !seen.contains(c);
        seen.push(c.clone());
        new
    });
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::DEFAULT_CAPABILITIES;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    /// Regression (cap_add/cap_drop): strata had no `--cap-add`/`--cap-drop`.
    #[test]
    fn tweaks_the_default_set_like_docker() {
        let known = &ALL_CAPABILITIES[..];
        let base = &DEFAULT_CAPABILITIES[..];
        let default = v(base);
        let got = tweak(base, &v(&["NET_ADMIN", "sys_time"]), &[], known).unwrap();
        assert_eq!(got[..base.len()], default[..]);
        assert_eq!(got[base.len()..], v(&["CAP_NET_ADMIN", "CAP_SYS_TIME"]));

        let got = tweak(base, &[], &v(&["CHOWN", "cap_kill"]), known).unwrap();
        assert_eq!(got.len(), base.len() - 2);
        assert!(!got.iter().any(|c| c == "CAP_CHOWN" || c == "CAP_KILL"));

        assert!(tweak(base, &[], &v(&["all"]), known).unwrap().is_empty());
        assert_eq!(
            tweak(base, &v(&["chown"]), &v(&["ALL"]), known).unwrap(),
            v(&["CAP_CHOWN"])
        );
        let all_but = tweak(base, &v(&["ALL"]), &v(&["CAP_CHOWN"]), known).unwrap();
        assert_eq!(all_but.len(), known.len() - 1);
        assert!(!all_but.iter().any(|c| c == "CAP_CHOWN"));
        // Adding one already there keeps a single entry.
        assert_eq!(
            tweak(base, &v(&["chown"]), &[], known).unwrap().len(),
            base.len()
        );
    }

    #[test]
    fn unknown_names_are_refused_with_dockers_message() {
        let known = &ALL_CAPABILITIES[..];
        for (add, drop, want) in [
            (
                &["foo"][..],
                &[][..],
                "invalid CapAdd: unknown capability: \"CAP_FOO\"",
            ),
            (
                &[],
                &["CAP_FOO"],
                "invalid CapDrop: unknown capability: \"CAP_FOO\"",
            ),
            // A capability newer than the kernel is unknown too.
            (
                &["audit_read"],
                &[],
                "invalid CapAdd: unknown capability: \"CAP_AUDIT_READ\"",
            ),
            // Newer than Docker 20.10: unknown to it whatever the kernel.
            (
                &["bpf"],
                &[],
                "invalid CapAdd: unknown capability: \"CAP_BPF\"",
            ),
        ] {
            let err = validate(&v(add), &v(drop), &known[..37]).unwrap_err();
            assert_eq!(err.to_string(), want);
        }
        assert!(validate(&v(&["net_admin", "All"]), &v(&["Cap_Chown"]), known).is_ok());
    }

    #[test]
    fn the_kernel_knows_at_least_the_default_set() {
        let known = known_to_kernel();
        assert!(DEFAULT_CAPABILITIES.iter().all(|c| known.contains(c)));
    }
}
