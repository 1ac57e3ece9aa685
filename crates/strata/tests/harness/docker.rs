//! The real Docker Engine as the oracle of the differential suites: a `dockerd` of the
//! test's own (Debian's `docker.io`, BuildKit included), with its own data root, exec root,
//! pidfile and socket under a temp dir, no bridge and no firewall rules, stopped by PID when
//! the fixture drops. Images reach it with `docker import` of the same root filesystem tar
//! the strata side imports; nothing comes from a registry.
//!
//! Needs root and `dockerd`; without them the test fails, never skips.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::require;

/// A running `dockerd` owned by one test.
pub struct Dockerd {
    child: Option<Child>,
    dir: tempfile::TempDir,
    client: PathBuf,
}

impl Dockerd {
    /// Starts a daemon and waits (up to 60 s) until it answers `docker version`.
    pub fn start() -> Dockerd {
        assert!(
            rustix::process::geteuid().is_root(),
            "the differential tests need root to run dockerd"
        );
        let dockerd = require("dockerd");
        // The client that comes with Debian's docker.io speaks the daemon's API version and
        // drives BuildKit itself; a newer client elsewhere on PATH wants a buildx plugin.
        let client = ["/usr/bin/docker", "/usr/local/bin/docker"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .unwrap_or_else(|| require("docker"));
        // Short: the socket path must fit in sun_path (108 bytes).
        let dir = tempfile::Builder::new()
            .prefix("strata-dockerd-")
            .tempdir_in("/tmp")
            .unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("config")).unwrap();
        fs::create_dir_all(d.join("tmp")).unwrap();
        let log = fs::File::create(d.join("dockerd.log")).unwrap();
        let child = Command::new(&dockerd)
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", d.join("sock").display()))
            .args([
                "--bridge=none",
                "--iptables=false",
                "--ip6tables=false",
                "--ip-forward=false",
                "--ip-masq=false",
                "--storage-driver=overlay2",
            ])
            // containerd may dump its stacks into TMPDIR on the way down: keep them in here.
            .env("TMPDIR", d.join("tmp"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", dockerd.display()));
        let mut daemon = Dockerd {
            child: Some(child),
            dir,
            client,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let out = daemon
                .cmd(&["version", "--format", "{{.Server.Version}}"])
                .output();
            if matches!(&out, Ok(o) if o.status.success()) {
                break;
            }
            if let Some(status) = daemon.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "dockerd exited ({status}) before answering:\n{}",
                    daemon.log_tail()
                );
            }
            assert!(
                Instant::now() < deadline,
                "dockerd did not answer within 60 s:\n{}",
                daemon.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        daemon
    }

    /// The daemon's scratch directory (data root, exec root, socket, log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `docker ARGS` against this daemon (BuildKit on), not yet run.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.client);
        c.env(
            "DOCKER_HOST",
            format!("unix://{}", self.dir.path().join("sock").display()),
        )
        .env("DOCKER_BUILDKIT", "1")
        .env("DOCKER_CONFIG", self.dir.path().join("config"))
        .env("BUILDKIT_PROGRESS", "plain")
        .env_remove("SOURCE_DATE_EPOCH")
        .args(args)
        .stdin(Stdio::null());
        c
    }

    /// Runs `docker ARGS`; its output whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("docker runs")
    }

    /// Runs `docker ARGS`, panics with its stderr unless it exits 0, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `docker import` of `tar` as `name`, with `--change` lines.
    pub fn import(&self, tar: &Path, name: &str, changes: &[&str]) {
        let mut args = vec!["import".to_string()];
        for c in changes {
            args.push("-c".into());
            args.push(c.to_string());
        }
        args.push(tar.to_string_lossy().into_owned());
        args.push(name.into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ok(&args);
    }

    /// The last lines of the daemon's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Mount points under the daemon's directory.
    fn mounts(&self) -> Vec<String> {
        let prefix = self.dir.path().to_string_lossy().into_owned();
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|mp| mp.starts_with(&prefix))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // Containers first, so no shim outlives the daemon.
        if let Ok(out) = self.cmd(&["ps", "-aq"]).output() {
            let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .map(str::to_string)
                .collect();
            if !ids.is_empty() {
                let mut args = vec!["rm", "-f", "-v"];
                args.extend(ids.iter().map(String::as_str));
                let _ = self.cmd(&args).output();
            }
        }
        if let Some(mut child) = self.child.take() {
            let pid = rustix::process::Pid::from_child(&child);
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            let deadline = Instant::now() + Duration::from_secs(30);
            while child.try_wait().ok().flatten().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // Whatever the daemon left mounted (overlay2 layers, netns files), deepest first.
        let mut mounts = self.mounts();
        mounts.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for mp in mounts {
            let _ = Command::new("umount").arg("-l").arg(&mp).status();
        }
    }
}
