//! `--add-host`, `--dns*`, `--ipc`, `--pid`, `--uts` and `--restart` into [`RunOptions`],
//! with Docker's cross-flag checks. CLI-side refusals exit 125 for `create` too, as
//! Docker's CLI's do; the daemon's exit 1 there (125 under `run`).

use runtime::RunOptions;
use runtime::namespaces::{IpcMode, PidMode, UtsMode};
use runtime::restart::RestartPolicy;

use super::ExitStatus;
use crate::cli::HostFlags;

/// A refusal of Docker's CLI (not its daemon): exit 125 from `create` as from `run`.
fn cli_error(e: impl std::fmt::Display) -> anyhow::Error {
    ExitStatus::error(125, anyhow::anyhow!("{e}"))
}

/// Sets the options of `flags` on `opts`; `hostname_given` is `-h`, `auto_remove` `--rm`.
pub fn apply(
    flags: &HostFlags,
    hostname_given: bool,
    auto_remove: bool,
    opts: &mut RunOptions,
) -> anyhow::Result<()> {
    opts.extra_hosts = flags.add_host.clone();
    opts.dns.servers = flags.dns.clone();
    opts.dns.search = flags.dns_search.clone();
    opts.dns.options = flags.dns_option.clone();
    // The CLI checks the count's syntax and `--rm` first; the daemon the rest.
    let restart = match RestartPolicy::parse(&flags.restart) {
        Ok(p) => Some(p),
        Err(e) if e.to_string().ends_with("must be an integer") => return Err(cli_error(e)),
        Err(_) => None,
    };
    let restarts = restart.as_ref().is_none_or(RestartPolicy::is_some);
    if auto_remove && restarts {
        return Err(cli_error("Conflicting options: --restart and --rm"));
    }
    opts.restart = match restart {
        Some(p) => p,
        None => RestartPolicy::parse(&flags.restart)?,
    };
    opts.pid = PidMode::parse(flags.pid.as_deref().unwrap_or_default()).map_err(cli_error)?;
    opts.uts = UtsMode::parse(flags.uts.as_deref().unwrap_or_default()).map_err(cli_error)?;
    opts.ipc = IpcMode::parse(flags.ipc.as_deref().unwrap_or_default())?;
    if hostname_given && opts.uts == UtsMode::Host {
        anyhow::bail!("conflicting options: hostname and the UTS mode");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        hosts: HostFlags,
    }

    fn apply_args(args: &[&str], hostname: bool, rm: bool) -> anyhow::Result<RunOptions> {
        let f = Flags::try_parse_from(std::iter::once("x").chain(args.iter().copied()))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut opts = RunOptions::default();
        apply(&f.hosts, hostname, rm, &mut opts)?;
        Ok(opts)
    }

    fn code(e: &anyhow::Error) -> Option<u8> {
        e.downcast_ref::<ExitStatus>().map(|s| s.code)
    }

    /// `--add-host`, `--dns*`, `--ipc`, `--pid`, `--uts`, `--restart` were unknown flags.
    #[test]
    fn host_flags_become_run_options() {
        let o = apply_args(
            &[
                "--add-host=db:10.1.2.3",
                "--dns=10.9.8.7",
                "--dns-search=example.test",
                "--dns-option=ndots:2",
                "--ipc=host",
                "--pid=host",
                "--uts=host",
                "--restart=on-failure:3",
            ],
            false,
            false,
        )
        .unwrap();
        assert_eq!(o.extra_hosts, ["db:10.1.2.3"]);
        assert_eq!(
            (o.dns.servers, o.dns.search, o.dns.options),
            (
                vec!["10.9.8.7".to_string()],
                vec!["example.test".to_string()],
                vec!["ndots:2".to_string()]
            )
        );
        assert_eq!(
            (o.ipc, o.pid, o.uts),
            (IpcMode::Host, PidMode::Host, UtsMode::Host)
        );
        assert_eq!(
            (o.restart.name.as_str(), o.restart.maximum_retry_count),
            ("on-failure", 3)
        );
        assert!(apply_args(&["--add-host=db"], false, false).is_err());
        assert!(apply_args(&["--dns=x"], false, false).is_err());
    }

    #[test]
    fn host_flags_conflicts_are_dockers() {
        let e = apply_args(&["--restart=always"], false, true).unwrap_err();
        assert_eq!(
            (e.to_string(), code(&e)),
            (
                "Conflicting options: --restart and --rm".to_string(),
                Some(125)
            )
        );
        // Docker's CLI refuses `--rm` with a policy it cannot parse the same way.
        let e = apply_args(&["--restart=sometimes"], false, true).unwrap_err();
        assert_eq!(e.to_string(), "Conflicting options: --restart and --rm");
        assert!(apply_args(&["--restart=no"], false, true).is_ok());
        let e = apply_args(&["--restart=sometimes"], false, false).unwrap_err();
        assert_eq!(
            (e.to_string(), code(&e)),
            ("invalid restart policy 'sometimes'".to_string(), None)
        );
        let e = apply_args(&["--restart=on-failure:x"], false, true).unwrap_err();
        assert_eq!(code(&e), Some(125));
        let e = apply_args(&["--uts=host"], true, false).unwrap_err();
        assert_eq!(
            e.to_string(),
            "conflicting options: hostname and the UTS mode"
        );
        let e = apply_args(&["--pid=bogus"], false, false).unwrap_err();
        assert_eq!(
            (e.to_string(), code(&e)),
            ("--pid: invalid PID mode".to_string(), Some(125))
        );
        let e = apply_args(&["--ipc=bogus"], false, false).unwrap_err();
        assert_eq!(e.to_string(), "Invalid IPC mode: bogus");
    }
}
