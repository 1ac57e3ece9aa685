//! `--sysctl KEY=VALUE`: only the sysctls a container's own namespaces isolate, as Docker's
//! CLI allows (`opts.ValidateSysctl`). `net.*` needs a network namespace of its own; with
//! `--network host` the OCI runtime refuses it when the container starts, as with Docker.

/// The IPC-namespaced `kernel.*` sysctls Docker allows.
pub const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// Prefixes of the namespaced sysctl families Docker allows.
pub const PREFIXES: [&str; 2] = ["net.", "fs.mqueue."];

/// Splits and checks one `--sysctl`; the error is Docker's text.
pub fn parse_sysctl(val: &str) -> Result<(String, String), String> {
    let refused = || format!("sysctl '{val}' is not whitelisted");
    let Some((key, value)) = val.split_once('=') else {
        return Err(refused());
    };
    if IPC_SYSCTLS.contains(&key) || PREFIXES.iter().any(|p| key.starts_with(p)) {
        Ok((key.to_string(), value.to_string()))
    } else {
        Err(refused())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (sysctl_net): strata had no `--sysctl`.
    #[test]
    fn allows_only_namespaced_sysctls() {
        for ok in [
            "net.ipv4.ip_forward=1",
            "kernel.shmmax=100000",
            "fs.mqueue.msg_max=20",
            "net.core.somaxconn=",
            "net.x=a=b",
        ] {
            let (k, v) = parse_sysctl(ok).unwrap();
            assert_eq!(format!("{k}={v}"), ok);
        }
        for bad in [
            "kernel.panic=1",
            "kernel.shmmax",
            "a=b=c",
            "fs.file-max=1",
            "=1",
        ] {
            assert_eq!(
                parse_sysctl(bad).unwrap_err(),
                format!("sysctl '{bad}' is not whitelisted")
            );
        }
    }
}
