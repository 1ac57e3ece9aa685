//! The user-mode network helper of a container on the default network: Debian's `pasta`
//! (package `passt`) or `slirp4netns`, whichever is installed (pasta preferred, as
//! podman does), chosen when the container starts. The helper gives the namespace an
//! interface with [`GUEST`]/24, a default route via [`GATEWAY`] (which reaches the host's
//! loopback) and a DNS forwarder on [`DNS`]; it carries the container's traffic through
//! ordinary sockets of the host, so nothing is added to the host's interfaces, routes or
//! firewall.
//!
//! Its life is tied to the container's: [`Helper::stop`] when the container exits, and
//! on its own when the monitor dies (slirp4netns's exit pipe closes; pasta quits once the
//! namespace file is deleted, which `rm` does in any case, see [`stop_recorded`]).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::RuntimeError;

/// The container's address on the user-mode network.
pub const GUEST: &str = "10.0.2.100";
/// The gateway: connections to it reach the host's loopback.
pub const GATEWAY: &str = "10.0.2.2";
/// The helper's DNS forwarder (to the host's resolver).
pub const DNS: &str = "10.0.2.3";

/// Which helper program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// passt's `pasta`.
    Pasta,
    /// `slirp4netns`.
    Slirp4netns,
}

impl Kind {
    /// The program's name.
    pub fn program(self) -> &'static str {
        match self {
            Kind::Pasta => "pasta",
            Kind::Slirp4netns => "slirp4netns",
        }
    }
}

/// Finds the helper: `STRATA_USERNET_HELPER` (`pasta` or `slirp4netns`) if set, else
/// pasta, else slirp4netns, on `PATH`.
pub fn detect() -> Result<(Kind, PathBuf), RuntimeError> {
    let wanted = std::env::var("STRATA_USERNET_HELPER").ok();
    let order: Vec<Kind> = match wanted.as_deref() {
        Some("pasta") => vec![Kind::Pasta],
        Some("slirp4netns") => vec![Kind::Slirp4netns],
        _ => vec![Kind::Pasta, Kind::Slirp4netns],
    };
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    for kind in order {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(kind.program());
            if p.is_file() {
                return Ok((kind, p));
            }
        }
    }
    Err(RuntimeError::InvalidOptions(
        "the default network needs a user-mode network helper: install Debian's package \
         passt (for pasta) or slirp4netns, or run with --network none or --network host"
            .into(),
    ))
}

/// A running helper.
#[derive(Debug)]
pub struct Helper {
    kind: Kind,
    pid: i32,
    /// slirp4netns: our child, and the write end of its exit pipe (it exits once closed).
    child: Option<(Child, std::os::fd::OwnedFd)>,
    pid_file: PathBuf,
    /// The namespace it serves: what tells it from a process that reused its PID.
    netns: PathBuf,
}

/// The helper's PID file and log in the container's directory `dir`.
fn pid_file(dir: &Path) -> PathBuf {
    dir.join("usernet.pid")
}
fn log_file(dir: &Path) -> PathBuf {
    dir.join("usernet.log")
}

/// Starts the helper on the namespace bound at `netns`; returns once the namespace is
/// configured. `dir` (the container's directory) keeps its PID file and log.
pub fn start(kind: Kind, program: &Path, netns: &Path, dir: &Path) -> Result<Helper, RuntimeError> {
    let log_path = log_file(dir);
    let log = fs::File::create(&log_path).map_err(|e| RuntimeError::io("create", &log_path, e))?;
    let log2 = log
        .try_clone()
        .map_err(|e| RuntimeError::io("open", &log_path, e))?;
    let pid_path = pid_file(dir);
    let failed = |what: String| {
        let said = fs::read_to_string(&log_path).unwrap_or_default();
        RuntimeError::InvalidOptions(format!(
            "{} failed to set up the network: {what}{}{}",
            kind.program(),
            if said.trim().is_empty() { "" } else { ": " },
            said.trim()
        ))
    };
    match kind {
        Kind::Pasta => {
            // pasta daemonizes once the namespace is set up: its exit is the readiness.
            let status = Command::new(program)
                .args(pasta_args(netns, &pid_path))
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log2)
                .status()
                .map_err(|e| RuntimeError::io("run", program, e))?;
            if !status.success() {
                return Err(failed(status.to_string()));
            }
            let pid = read_pid(&pid_path).ok_or_else(|| failed("no PID file".into()))?;
            Ok(Helper {
                kind,
                pid,
                child: None,
                pid_file: pid_path,
                netns: netns.to_path_buf(),
            })
        }
        Kind::Slirp4netns => {
            use std::os::fd::AsRawFd;
            let pipe = || {
                rustix::pipe::pipe_with(rustix::pipe::PipeFlags::empty())
                    .map_err(|e| RuntimeError::io("make a pipe for", program, e.into()))
            };
            // The child inherits the ends it reads (exit) and writes (ready); ours close on
            // exec so that no other program holds them.
            let (exit_r, exit_w) = pipe()?;
            let (ready_r, ready_w) = pipe()?;
            for fd in [&exit_w, &ready_r] {
                rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::CLOEXEC)
                    .map_err(|e| RuntimeError::io("set up a pipe for", program, e.into()))?;
            }
            let child = Command::new(program)
                .args(slirp_args(netns, exit_r.as_raw_fd(), ready_w.as_raw_fd()))
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log2)
                .spawn()
                .map_err(|e| RuntimeError::io("run", program, e))?;
            drop((exit_r, ready_w));
            let mut ready = fs::File::from(ready_r);
            let mut got = [0u8; 1];
            let n = ready.read(&mut got).unwrap_or(0);
            let pid = child.id() as i32;
            let mut helper = Helper {
                kind,
                pid,
                child: Some((child, exit_w)),
                pid_file: pid_path.clone(),
                netns: netns.to_path_buf(),
            };
            if n != 1 {
                helper.stop_in_place();
                return Err(failed("it exited before the network was ready".into()));
            }
            crate::record::write_replace(&pid_path, format!("{pid}\n").as_bytes())?;
            Ok(helper)
        }
    }
}

/// pasta's arguments: the addresses above, no port forwarding of its own (`-p` is the
/// forwarder's), the gateway mapped to the host's loopback (pasta's default).
fn pasta_args(netns: &Path, pid_file: &Path) -> Vec<String> {
    let mut a: Vec<String> = [
        "--config-net",
        "--address",
        GUEST,
        "--netmask",
        "24",
        "--gateway",
        GATEWAY,
        "--dns-forward",
        DNS,
        "-t",
        "none",
        "-u",
        "none",
        "-T",
        "none",
        "-U",
        "none",
        "--quiet",
        // As root pasta would switch to `nobody`, who cannot enter the namespace.
        "--runas",
        &rustix::process::geteuid().as_raw().to_string(),
        "--pid",
    ]
    .map(String::from)
    .to_vec();
    a.push(pid_file.display().to_string());
    a.push("--netns".into());
    a.push(netns.display().to_string());
    a
}

/// slirp4netns's arguments: its default addresses (the ones above), host loopback
/// reachable through the gateway, the namespace by path.
fn slirp_args(netns: &Path, exit_fd: i32, ready_fd: i32) -> Vec<String> {
    vec![
        "--configure".into(),
        "--mtu=65520".into(),
        "--netns-type=path".into(),
        format!("--exit-fd={exit_fd}"),
        format!("--ready-fd={ready_fd}"),
        netns.display().to_string(),
        "tap0".into(),
    ]
}

fn read_pid(p: &Path) -> Option<i32> {
    fs::read_to_string(p).ok()?.trim().parse().ok()
}

/// Whether process `pid` is a helper of ours for namespace `netns` (a PID from a file
/// may have been reused by then).
fn is_helper_of(pid: i32, netns: &Path) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let want = netns.as_os_str().as_encoded_bytes();
    cmdline.split(|b| *b == 0).any(|arg| arg == want)
}

/// Ends process `pid`: `SIGTERM`, then `SIGKILL` if it lingers; reaps it when it is our
/// child (this process is the subreaper of the daemonized pasta).
fn end(pid: i32) {
    let Some(p) = rustix::process::Pid::from_raw(pid) else {
        return;
    };
    let _ = rustix::process::kill_process(p, rustix::process::Signal::TERM);
    for i in 0..200 {
        let _ = rustix::process::waitpid(Some(p), rustix::process::WaitOptions::NOHANG);
        let gone = match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => true,
            // A zombie that is not ours (its parent reaps it).
            Ok(stat) => stat
                .rsplit_once(')')
                .is_some_and(|(_, r)| r.trim_start().starts_with('Z')),
        };
        if gone {
            return;
        }
        if i == 100 {
            let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

impl Helper {
    /// Which helper it is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// Stops the helper and removes its PID file.
    pub fn stop(mut self) {
        self.stop_in_place();
    }

    fn stop_in_place(&mut self) {
        match self.child.take() {
            Some((mut child, exit_w)) => {
                // Closing the exit pipe is slirp4netns's way to quit.
                drop(exit_w);
                let _ = child.kill();
                let _ = child.wait();
            }
            // pasta, daemonized: it may have ended with its namespace already, and its
            // PID gone to another process since.
            None if is_helper_of(self.pid, &self.netns) => end(self.pid),
            None => {}
        }
        let _ = fs::remove_file(&self.pid_file);
    }
}

/// Stops the helper recorded in the container directory `dir` for namespace `netns`, if
/// it still runs (the monitor that started it died): `rm`'s cleanup.
pub fn stop_recorded(dir: &Path, netns: &Path) {
    let p = pid_file(dir);
    if let Some(pid) = read_pid(&p)
        && is_helper_of(pid, netns)
    {
        end(pid);
    }
    let _ = fs::remove_file(p);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helper_arguments() {
        let a = pasta_args(Path::new("/s/netns"), Path::new("/s/pid"));
        let joined = a.join(" ");
        assert!(
            joined.starts_with("--config-net --address 10.0.2.100 --netmask 24"),
            "{joined}"
        );
        assert!(
            joined.ends_with("--pid /s/pid --netns /s/netns"),
            "{joined}"
        );
        assert!(
            !joined.contains("--no-map-gw"),
            "the gateway must reach the host's loopback"
        );
        let s = slirp_args(Path::new("/s/netns"), 5, 6).join(" ");
        assert_eq!(
            s,
            "--configure --mtu=65520 --netns-type=path --exit-fd=5 --ready-fd=6 /s/netns tap0"
        );
        assert!(!s.contains("disable-host-loopback"));
    }

    #[test]
    fn a_reused_pid_is_not_taken_for_the_helper() {
        // Our own process does not name that namespace file.
        assert!(!is_helper_of(
            std::process::id() as i32,
            Path::new("/no/such/netns")
        ));
        assert!(!is_helper_of(i32::MAX, Path::new("/x")));
    }
}
