//! The crate's error type.

use std::path::{Path, PathBuf};

/// Everything that can go wrong preparing, running or cleaning up a container.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// An I/O operation on a path failed.
    #[error("cannot {op} {}", path.display())]
    Io {
        /// What we were doing (`create`, `read`, `mount overlay on`, …).
        op: &'static str,
        /// Where.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The store failed (image lookup, blob read, image users).
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// Unpacking a layer failed.
    #[error("cannot unpack layer {diff_id}")]
    Layer {
        /// The layer's diffID.
        diff_id: String,
        /// The cause.
        source: layer::LayerError,
    },
    /// An image manifest or config is unusable.
    #[error("image {image}: {detail}")]
    BadImage {
        /// The image, as named.
        image: String,
        /// What is wrong.
        detail: String,
    },
    /// The user given with `-u` (or the image's `User`) cannot be resolved.
    #[error("{0}")]
    User(String),
    /// Run options that cannot work (no command, a relative `-w`, a bad mount).
    #[error("{0}")]
    InvalidOptions(String),
    /// The monitor of a container failed, as it told its client.
    #[error("{0}")]
    MonitorFailed(String),
    /// The container exited with `code`, but its exit could not be written down (a full
    /// disk): `source` says why.
    #[error("container {id} exited with code {code}, but its exit could not be recorded: {source}")]
    ExitNotRecorded {
        /// The container's ID.
        id: String,
        /// Its exit code.
        code: i32,
        /// The failed write.
        source: Box<RuntimeError>,
    },
    /// A `--device` the host cannot give, found when the container starts (as Docker's
    /// daemon finds it then): the message says which device and why.
    #[error("{0}")]
    Device(String),
    /// No OCI runtime binary was found.
    #[error(
        "no OCI runtime found ({wanted}): install one with `apt-get install runc` (or crun), \
         or name one with --runtime NAME|PATH"
    )]
    NoRuntime {
        /// The runtime that was looked for.
        wanted: String,
    },
    /// The OCI runtime ran but failed.
    #[error("{runtime} {command} failed ({status}): {message}")]
    RuntimeFailed {
        /// The runtime binary.
        runtime: String,
        /// The subcommand (`create`, `start`, …).
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed (its log or stderr), trimmed.
        message: String,
    },
    /// Programs of a platform cannot run on this host (no emulation for it).
    #[error(
        "cannot run {platform} programs on this {host} host: {why}. To run them through QEMU \
         emulation, install the handlers (`apt-get install qemu-user-static`) and register \
         them with the F flag: `strata system binfmt --install` (as root)"
    )]
    CannotRun {
        /// The platform asked for.
        platform: String,
        /// This host's platform.
        host: String,
        /// Why it cannot run here.
        why: String,
    },
    /// Writing a container's files as a tar failed.
    #[error("cannot export container {container}")]
    Export {
        /// The container's ID.
        container: String,
        /// The cause.
        source: layer::LayerError,
    },
    /// A container does not exist.
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    /// A network does not exist (`--network NAME`, `network inspect NAME`).
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    /// A state or record file cannot be parsed.
    #[error("cannot parse {}", path.display())]
    BadRecord {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

impl RuntimeError {
    /// An I/O error on `path`.
    pub(crate) fn io(op: &'static str, path: &Path, source: std::io::Error) -> RuntimeError {
        RuntimeError::Io {
            op,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The exit code `docker run` gives this error: 127 when the command cannot be found,
    /// 126 when it cannot be run, 125 for every other failure before the container runs.
    pub fn run_exit_code(&self) -> i32 {
        match self {
            RuntimeError::RuntimeFailed { message, .. } | RuntimeError::Device(message) => {
                let m = message.to_ascii_lowercase();
                if m.contains("executable file not found")
                    || m.contains("no such file or directory")
                {
                    127
                } else if m.contains("permission denied") || m.contains("is a directory") {
                    126
                } else {
                    125
                }
            }
            _ => 125,
        }
    }

    /// The exit code a container keeps in its state when its start fails with this error:
    /// Docker's daemon records 126/127 as `run` reports them and 128 for anything else.
    pub fn start_exit_code(&self) -> i32 {
        match self.run_exit_code() {
            125 => 128,
            code => code,
        }
    }

    /// True when a container or image was not found (exit code 125 / "No such" in the CLI).
    pub fn is_not_found(&self) -> bool {
        match self {
            RuntimeError::NoSuchContainer(_) => true,
            RuntimeError::Store(e) => e.is_not_found(),
            _ => false,
        }
    }
}

/// `e` with every cause after it (`cannot write X: no space left on device`), for a
/// message that leaves this process as text (the monitor's to its client).
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.ends_with(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

/// An I/O error in Go's words (`no such file or directory`): Docker's messages carry
/// Go's wording, so Rust's is lower-cased and loses its `(os error N)`.
pub fn go_io_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s);
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_follow_the_message_once() {
        let full = std::io::Error::from_raw_os_error(28);
        let e = RuntimeError::io("write", Path::new("/s/state.json"), full);
        let text = with_causes(&e);
        assert!(text.starts_with("cannot write /s/state.json: "), "{text}");
        assert!(
            text.to_lowercase().contains("no space left on device"),
            "{text}"
        );
        // A message that already ends with its cause is not repeated.
        let plain = RuntimeError::InvalidOptions("bad".into());
        assert_eq!(with_causes(&plain), "bad");
    }
}
