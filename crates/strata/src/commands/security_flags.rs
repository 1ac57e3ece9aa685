//! The `run`/`create` security and resource flags ([`SecurityFlags`]) as the runtime's
//! [`SecurityResources`]: values were checked while parsing (Docker's CLI checks); what
//! Docker's daemon checks (capability names, CPU ranges) the runtime checks at create.

use runtime::{CgroupnsMode, SecurityResources};

use crate::cli::SecurityFlags;

/// Translates the flags; `--cgroupns` other than `host`/`private` is refused in Docker's
/// words.
pub fn to_options(f: &SecurityFlags) -> anyhow::Result<SecurityResources> {
    Ok(SecurityResources {
        cap_add: f.cap_add.clone(),
        cap_drop: f.cap_drop.clone(),
        sysctls: f.sysctl.iter().cloned().collect(),
        cpu_shares: f.cpu_shares.unwrap_or(0),
        shm_size: f.shm_size.filter(|&s| s > 0),
        ulimits: runtime::spec::rlimits::normalize(&f.ulimit),
        group_add: f.group_add.clone(),
        cgroupns: cgroupns(f.cgroupns.as_deref())?,
        privileged: f.privileged,
        // Docker's CLI checks these after parsing the command line.
        devices: f
            .device
            .iter()
            .map(|d| runtime::spec::devices::parse_device(d))
            .collect::<Result<_, _>>()
            .map_err(super::FlagCheck::error)?,
    })
}

/// `--cgroupns`: empty or absent is the engine's default.
fn cgroupns(mode: Option<&str>) -> anyhow::Result<Option<CgroupnsMode>> {
    match mode {
        None | Some("") => Ok(None),
        Some("host") => Ok(Some(CgroupnsMode::Host)),
        Some("private") => Ok(Some(CgroupnsMode::Private)),
        Some(_) => anyhow::bail!("--cgroupns: invalid CGROUP mode"),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<SecurityResources, String> {
        let argv = ["strata", "run"].iter().chain(args).chain(&["bb"]);
        let cli = Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
        let Command::Run(run) = cli.command else {
            panic!("not run");
        };
        to_options(&run.flags.security).map_err(|e| e.to_string())
    }

    /// Regression (cap_add … cgroup_namespace_view): none of these flags existed.
    #[test]
    fn flags_reach_the_run_options() {
        let o = parse(&[
            "--cap-add",
            "NET_ADMIN",
            "--cap-drop",
            "chown",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "-c",
            "512",
            "--shm-size",
            "1m",
            "--ulimit",
            "nofile=512:1024",
            "--group-add",
            "wheel",
            "--cgroupns",
            "private",
        ])
        .unwrap();
        assert_eq!(
            (o.cap_add, o.cap_drop),
            (vec!["NET_ADMIN".to_string()], vec!["chown".to_string()])
        );
        assert_eq!(o.sysctls["net.ipv4.ip_forward"], "1");
        assert_eq!((o.cpu_shares, o.shm_size), (512, Some(1 << 20)));
        assert_eq!((o.ulimits[0].soft, o.ulimits[0].hard), (512, 1024));
        assert_eq!(o.group_add, ["wheel"]);
        assert_eq!(o.cgroupns, Some(CgroupnsMode::Private));
        let d = parse(&[]).unwrap();
        assert_eq!(d, SecurityResources::default());
    }

    #[test]
    fn bad_values_are_refused_as_docker_refuses_them() {
        for (args, want) in [
            (
                &["--sysctl", "kernel.panic=1"][..],
                "sysctl 'kernel.panic=1' is not whitelisted",
            ),
            (
                &["--ulimit", "nofile=2:1"],
                "ulimit soft limit must be less than or equal to hard limit: 2 > 1",
            ),
            (&["--shm-size", "-1"], "invalid size: '-1'"),
            (&["--cgroupns", "foo"], "--cgroupns: invalid CGROUP mode"),
        ] {
            let err = parse(args).unwrap_err();
            assert!(err.contains(want), "{args:?}: {err}");
        }
    }
}
