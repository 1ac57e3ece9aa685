//! A real S3 server for the object-storage backend's tests: `s3s-fs` on 127.0.0.1, with a
//! temporary root and a key pair, stopped (by its PID) when dropped.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use registry::storage::{MIN_PART_SIZE, ObjectStorage};

pub const ACCESS_KEY: &str = "strata-test";
pub const SECRET_KEY: &str = "strata-test-secret-key";

pub struct S3Server {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    /// The bucket the server was started with (a directory under `root`).
    pub bucket: String,
    /// s3s-fs's root directory: `root/<bucket>/<key>` is an object's file.
    pub root: PathBuf,
    port: u16,
    child: Option<Child>,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Where `s3s-fs` is: on PATH, else in cargo's bin directory. Panics with how to install it.
pub fn s3s_fs_binary() -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(home).join("bin"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join("s3s-fs"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "s3s-fs (the S3 server the object-storage tests run against) is not installed: \
                 run scripts/install-peers.sh, or `cargo install --locked s3s-fs@0.14.1 \
                 --features binary`"
            )
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs s3s-fs on `port` over `root` and waits until it listens; `None` when it exits or
/// hangs (someone else took the port).
fn spawn_on(root: &Path, port: u16) -> Option<Child> {
    let bin = s3s_fs_binary();
    let mut child = Command::new(&bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Some(child);
        }
        if child.try_wait().unwrap().is_some() || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl S3Server {
    /// Starts s3s-fs with root `root` (created) and an empty bucket `bucket`.
    pub fn start(root: &Path, bucket: &str) -> S3Server {
        std::fs::create_dir_all(root.join(bucket)).unwrap();
        for _attempt in 0..5 {
            let port = free_port();
            if let Some(child) = spawn_on(root, port) {
                return S3Server {
                    endpoint: format!("http://127.0.0.1:{port}"),
                    bucket: bucket.to_string(),
                    root: root.to_path_buf(),
                    port,
                    child: Some(child),
                };
            }
        }
        panic!("s3s-fs did not start listening on 127.0.0.1");
    }

    /// Kills the server (by its PID), as a backend that dies; the bucket's files stay.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and root, after [`S3Server::stop`].
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "the S3 server is still running");
        self.child = Some(
            spawn_on(&self.root, self.port)
                .unwrap_or_else(|| panic!("s3s-fs did not restart on port {}", self.port)),
        );
    }

    /// The options `ObjectStorage::from_url` needs for this server.
    pub fn options(&self) -> Vec<(String, String)> {
        [
            ("endpoint", self.endpoint.as_str()),
            ("region", "us-east-1"),
            ("access_key_id", ACCESS_KEY),
            ("secret_access_key", SECRET_KEY),
            ("allow_http", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// A new backend instance on the bucket (under `prefix`, which may be empty), with
    /// the smallest part size so multipart paths are exercised by modest blobs.
    pub fn storage(&self, prefix: &str) -> ObjectStorage {
        let url = if prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{prefix}", self.bucket)
        };
        let mut options = self.options();
        options.push(("part_size".into(), MIN_PART_SIZE.to_string()));
        ObjectStorage::from_url(&url, options).unwrap()
    }
}
