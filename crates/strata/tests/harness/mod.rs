//! Shared fixtures for the integration tests: the real `strata` binary on a throw-away store,
//! Debian's docker-registry on a free loopback port, a fake registry that can lie or stall,
//! and OCI layouts built in the test.
#![allow(dead_code)]

pub mod differential;
pub mod docker;
pub mod fake_registry;
pub mod fault_registry;
pub mod fault_runs;
pub mod fstree;
pub mod images;
pub mod platform_index;
pub mod rootfs;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A temp dir with a store and an isolated docker config; runs the strata binary on them.
pub struct Env {
    /// Keeps the temp dir alive.
    pub dir: tempfile::TempDir,
}

impl Env {
    /// A fresh store.
    pub fn new() -> Env {
        let dir = tempfile::Builder::new()
            .prefix("strata-it-")
            .tempdir()
            .unwrap();
        std::fs::create_dir_all(dir.path().join("docker")).unwrap();
        Env { dir }
    }

    /// The store root.
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The paths under the store root, as the store names them.
    pub fn layout(&self) -> store::Layout {
        store::Layout::new(self.root())
    }

    /// A path inside the temp dir.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `strata ARGS` on this store, not yet run.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_strata"));
        c.env("STRATA_ROOT", self.root())
            .env("DOCKER_CONFIG", self.dir.path().join("docker"))
            .env("HOME", self.dir.path())
            .env_remove("SOURCE_DATE_EPOCH")
            .env_remove("XDG_CONFIG_HOME")
            // The trust policy comes from the test's own HOME or flags, never the caller's.
            .env_remove("STRATA_POLICY")
            .env_remove("STRATA_CONTENT_TRUST")
            .env_remove("DOCKER_CONTENT_TRUST")
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// `strata` on this store as an `assert_cmd` command, for tests that assert on output
    /// or feed stdin with its helpers.
    pub fn strata(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.cmd(&[]))
    }

    /// Writes a small rootfs tar (plus `extra` as /etc/extra) and returns its path.
    pub fn rootfs_tar(&self, name: &str, extra: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, images::rootfs_bytes(extra)).expect("write tar");
        path
    }

    /// Runs `strata ARGS` and returns its output, whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("strata runs")
    }

    /// Runs `strata ARGS`, panics with its stderr unless it exits 0, returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "strata {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs `strata ARGS`, panics unless it fails; returns (exit code, stderr).
    pub fn fails(&self, args: &[&str]) -> (i32, String) {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "strata {args:?} should have failed:\nstdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Total bytes and count of the files under the store's blobs/ directory.
    pub fn blob_usage(&self) -> (u64, usize) {
        dir_usage(&self.layout().blobs_dir())
    }
}

/// Total bytes and file count under `dir` (0 if it does not exist).
pub fn dir_usage(dir: &Path) -> (u64, usize) {
    let mut bytes = 0;
    let mut files = 0;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return (0, 0);
    };
    for e in rd.flatten() {
        let m = e.metadata().unwrap();
        if m.is_dir() {
            let (b, f) = dir_usage(&e.path());
            bytes += b;
            files += f;
        } else {
            bytes += m.len();
            files += 1;
        }
    }
    (bytes, files)
}

/// Panics (never skips) when a peer tool the test needs is missing.
pub fn require(tool: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("{tool} is required for this test: run scripts/install-peers.sh (apt-get install {tool})")
    })
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs a peer command, panicking with its output if it fails; returns stdout.
pub fn peer(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A child process (a `strata registry serve`), killed and reaped on drop.
pub struct Served(pub Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `strata registry serve` of `env`'s binary on a free loopback port, storing under
/// `env`'s `root` (a name inside its temp dir); returns it (stopped on drop) and its
/// `127.0.0.1:PORT` once /v2/ answers.
pub fn serve_registry(env: &Env, root: &str) -> (Served, String) {
    serve_registry_with(env, root, &[])
}

/// [`serve_registry`] with more arguments (a config file, flags).
pub fn serve_registry_with(env: &Env, root: &str, extra: &[&str]) -> (Served, String) {
    let host = format!("127.0.0.1:{}", free_port());
    let root = env.path(root);
    let mut args = vec![
        "registry",
        "serve",
        "--addr",
        &host,
        "--root",
        root.to_str().unwrap(),
    ];
    args.extend(extra);
    let child = env
        .cmd(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let served = Served(child);
    wait_for_http(&host);
    (served, host)
}

/// Debian's docker-registry (the CNCF reference registry) on a free loopback port.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub host: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts one with its own storage; waits until /v2/ answers.
    pub fn start() -> Registry {
        Registry::start_with(|_| String::new())
    }

    /// Like [`Registry::start`], with more YAML config lines from `extra`, which gets the
    /// registry's own temp dir (for files such as an htpasswd).
    pub fn start_with(extra: impl FnOnce(&Path) -> String) -> Registry {
        let bin = require("docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let cfg = dir.path().join("config.yml");
        let extra = extra(dir.path());
        std::fs::write(
            &cfg,
            format!(
                "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {{addr: 127.0.0.1:{port}}}\n{extra}",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let host = format!("127.0.0.1:{port}");
        wait_for_http(&host);
        Registry {
            child,
            host,
            _dir: dir,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits up to 10 s until `GET http://host/v2/` answers with any HTTP status.
pub fn wait_for_http(host: &str) {
    use std::io::{Read, Write};
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(host) {
            let _ = s.write_all(format!("GET /v2/ HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes());
            let mut buf = [0u8; 12];
            if s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/") {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("registry at {host} did not answer within 10 s");
}

/// Docker's go-units `HumanSizeWithPrecision(bytes, precision)`: decimal units, Go's `%g`
/// with `precision` significant digits (`HumanSize` is precision 4: prunes' reclaimed
/// space; `docker images` uses 3). Written independently of strata's own.
#[allow(dead_code)]
pub fn go_human_size(bytes: u64, precision: usize) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut s = bytes as f64;
    let mut i = 0;
    while s >= 1000.0 && i < units.len() - 1 {
        s /= 1000.0;
        i += 1;
    }
    let int_digits = format!("{}", s.trunc() as u64).len();
    let decimals = precision.saturating_sub(int_digits);
    let mut t = format!("{s:.decimals$}");
    if t.contains('.') {
        t = t.trim_end_matches('0').trim_end_matches('.').to_string();
    }
    format!("{t}{}", units[i])
}
