//! A container's files under the store, and its record and state as JSON.
//!
//! ```text
//! <store>/containers/<id>/
//!   config.json        ContainerRecord: what was asked for (written once at create)
//!   state.json         ContainerState: created / running / exited, pid, exit code
//!   bundle/config.json the OCI runtime spec
//!   bundle/rootfs/     the overlay mount point (mounted while the container runs)
//!   init/              mount points the runtime needs (the top lower layer)
//!   upper/ work/       the overlay's writable layer and work directory
//!   hosts resolv.conf hostname   bind-mounted into /etc
//!   ctr.log            stdout and stderr as JSON lines (Docker's json-file format)
//!   runtime.log        the OCI runtime's own log
//!   init.pid           the container's init PID, written by the runtime
//! ```
//!
//! Every file is written to a temporary name and renamed, so a reader in another process
//! sees the old or the new content, never a torn one. Records (`config.json`, the bundle)
//! are fsynced first ([`write_json`]); the state, rewritten at every transition, is not
//! ([`write_state`]): after a crash the container is not running whatever it says, and
//! [`crate::container::observed_state`] shows that.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::{RunOptions, RuntimeError};

/// What a container was created from and with; never changes after `create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerRecord {
    /// 64 hex characters.
    pub id: String,
    /// Its unique name.
    pub name: String,
    /// The image as the user named it.
    pub image: String,
    /// The image ID (config digest).
    pub image_id: String,
    /// The image's stored target digest (what `image_users` refers to).
    pub image_target: String,
    /// For a multi-platform image (an index), the platform of the manifest the container
    /// was made from, so later mounts (start, commit, diff, export) use that platform's
    /// layers whatever other platforms are pulled since. `None` for a single manifest
    /// (and in records of an older strata).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<oci::Platform>,
    /// Creation time, RFC 3339.
    pub created: String,
    /// The run options.
    pub options: RunOptions,
    /// The argv the container runs.
    pub args: Vec<String>,
    /// The signal that stops it (the image's `StopSignal`, default `SIGTERM`).
    pub stop_signal: String,
    /// The OCI runtime's name (`runc`).
    pub runtime: String,
    /// Why the container cannot start, found at create but reported by every `start`:
    /// Docker resolves the user and its groups when the container starts, so an unknown
    /// `-u`/`--group-add` name still creates a container (left `created` by its start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_error: Option<String>,
}

/// Where a container is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Created, never started (or stopped before its process began).
    Created,
    /// Its process runs.
    Running,
    /// Its process has exited.
    Exited,
}

/// The mutable state of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    /// The status.
    pub status: Status,
    /// The init process's host PID while running, else 0.
    pub pid: i32,
    /// The exit code once exited (128 + signal for a killed process).
    pub exit_code: Option<i32>,
    /// When it last started, RFC 3339.
    pub started_at: Option<String>,
    /// When it last exited, RFC 3339.
    pub finished_at: Option<String>,
    /// The PID of the process that waits for the container (its monitor) while running.
    #[serde(default)]
    pub monitor_pid: i32,
    /// Why the container is not running when that is not its own doing (a failed start,
    /// a monitor that died).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Published ports with their real host ports, while running (`docker port`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<crate::ports::PortMapping>,
    /// How many times the monitor restarted the container (`--restart`) since the user
    /// last started it (`RestartCount`).
    #[serde(default)]
    pub restart_count: u32,
    /// Exited, and its monitor waits to start it again (`--restart`): Docker's
    /// `restarting` state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub restarting: bool,
    /// Running with its processes frozen (`pause`): never recorded, the OCI runtime's
    /// state says so, and [`crate::Container::observed`] asks it.
    #[serde(skip)]
    pub paused: bool,
}

impl ContainerState {
    /// The state of a new container.
    pub fn created() -> ContainerState {
        ContainerState {
            status: Status::Created,
            pid: 0,
            exit_code: None,
            started_at: None,
            finished_at: None,
            monitor_pid: 0,
            error: None,
            ports: Vec::new(),
            restart_count: 0,
            restarting: false,
            paused: false,
        }
    }
}

/// The paths of one container's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerDir(pub PathBuf);

impl ContainerDir {
    /// The directory of container `id` in the store at `store_root`.
    pub fn new(store_root: &Path, id: &str) -> ContainerDir {
        ContainerDir(store::Layout::new(store_root).container(id))
    }
    /// `config.json`.
    pub fn record(&self) -> PathBuf {
        self.0.join("config.json")
    }
    /// `state.json`.
    pub fn state(&self) -> PathBuf {
        self.0.join("state.json")
    }
    /// The OCI bundle.
    pub fn bundle(&self) -> PathBuf {
        self.0.join("bundle")
    }
    /// The root filesystem mount point.
    pub fn rootfs(&self) -> PathBuf {
        self.0.join("bundle/rootfs")
    }
    /// The overlay upper directory.
    pub fn upper(&self) -> PathBuf {
        self.0.join("upper")
    }
    /// The container's init layer (mount points for the runtime), the top lower.
    pub fn init(&self) -> PathBuf {
        self.0.join("init")
    }
    /// The overlay work directory.
    pub fn work(&self) -> PathBuf {
        self.0.join("work")
    }
    /// The container's log (JSON lines).
    pub fn log(&self) -> PathBuf {
        self.0.join("ctr.log")
    }
    /// The OCI runtime's log.
    pub fn runtime_log(&self) -> PathBuf {
        self.0.join("runtime.log")
    }
    /// Marks a container the user stopped or killed: its monitor does not restart it.
    pub fn stopped_by_user(&self) -> PathBuf {
        self.0.join("stopped-by-user")
    }

    /// The init PID file.
    pub fn pid_file(&self) -> PathBuf {
        self.0.join("init.pid")
    }

    /// The container's `/etc/hosts`, bind-mounted in.
    pub fn hosts(&self) -> PathBuf {
        self.0.join("hosts")
    }

    /// The container's `/etc/resolv.conf`, bind-mounted in.
    pub fn resolv_conf(&self) -> PathBuf {
        self.0.join("resolv.conf")
    }

    /// The container's `/etc/hostname`, bind-mounted in.
    pub fn hostname(&self) -> PathBuf {
        self.0.join("hostname")
    }
}

/// Writes `bytes` to `path` atomically: a temporary file, fsync, rename, fsync of the
/// directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let write = || -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    };
    write().map_err(|e| {
        let _ = fs::remove_file(&tmp);
        RuntimeError::io("write", path, e)
    })
}

/// Writes `bytes` to `path` by rename, without fsync: readers see the old or the new
/// content, but a crash may lose the write. For files rewritten often whose loss a crash
/// makes moot (a container's state: after a crash it is not running, whatever the file
/// says) or that are transient.
pub fn write_replace(path: &Path, bytes: &[u8]) -> Result<(), RuntimeError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    fs::write(&tmp, bytes)
        .and_then(|()| fs::rename(&tmp, path))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            RuntimeError::io("write", path, e)
        })
}

/// Writes `value` as JSON with [`write_replace`] (no fsync; see there).
pub fn write_state(path: &Path, value: &impl Serialize) -> Result<(), RuntimeError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| RuntimeError::BadRecord {
        path: path.to_path_buf(),
        source,
    })?;
    write_replace(path, &bytes)
}

/// Writes `value` as JSON with [`write_atomic`].
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<(), RuntimeError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| RuntimeError::BadRecord {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomic(path, &bytes)
}

/// Reads a JSON file.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, RuntimeError> {
    let bytes = fs::read(path).map_err(|e| RuntimeError::io("read", path, e))?;
    serde_json::from_slice(&bytes).map_err(|source| RuntimeError::BadRecord {
        path: path.to_path_buf(),
        source,
    })
}

/// A new container ID: 32 random bytes in hex.
pub fn new_id() -> Result<String, RuntimeError> {
    let mut buf = [0u8; 32];
    rustix::rand::getrandom(&mut buf, rustix::rand::GetRandomFlags::empty()).map_err(|e| {
        RuntimeError::io(
            "read random bytes for",
            Path::new("a container ID"),
            e.into(),
        )
    })?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// Now, RFC 3339 with nanoseconds in UTC (Docker's timestamps).
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.json");
        let mut s = ContainerState::created();
        write_json(&p, &s).unwrap();
        s.status = Status::Exited;
        s.exit_code = Some(3);
        write_json(&p, &s).unwrap();
        assert_eq!(read_json::<ContainerState>(&p).unwrap(), s);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"], "no temporary file left");
        let text = fs::read_to_string(&p).unwrap();
        assert!(text.contains("\"status\": \"exited\""), "{text}");
    }

    #[test]
    fn ids_are_random_hex() {
        let (a, b) = (new_id().unwrap(), new_id().unwrap());
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
