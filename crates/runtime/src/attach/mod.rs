//! `attach`: the monitor of a container keeps its standard streams and serves them on a
//! unix socket in the container's directory ([`SOCKET`]); `attach` clients (and the
//! foreground `run`/`start -a`) connect to it. Output goes to every client (and still to
//! the log), input from clients into the container's stdin.
//!
//! [`frame`] is the wire format, [`hub`] the monitor's side, [`client`] the client's, and
//! [`keys`] Docker's detach keys.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

pub mod client;
pub mod frame;
pub mod hub;
pub mod keys;

pub use client::{ClientStreams, Ended, attach};
pub use hub::Hub;
pub use keys::{DEFAULT_DETACH_KEYS, DetachKeys};

/// The socket's name in the container's directory.
pub const SOCKET: &str = "attach.sock";

/// `dir`'s socket path through `/proc/self/fd`: a unix socket path is limited to 108
/// bytes, which a store path can exceed; the descriptor keeps the short path valid.
fn short_path(dir: &Path) -> io::Result<(OwnedFd, PathBuf)> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        dir,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let path = PathBuf::from(format!("/proc/self/fd/{}/{SOCKET}", fd.as_raw_fd()));
    Ok((fd, path))
}

/// Connects to the attach socket of the container whose directory is `dir`.
pub fn connect(dir: &Path) -> io::Result<UnixStream> {
    let (_fd, path) = short_path(dir)?;
    UnixStream::connect(path)
}

/// Listens on the attach socket in `dir`, replacing a stale one (a monitor that died).
pub(crate) fn bind(dir: &Path) -> io::Result<UnixListener> {
    let (_fd, path) = short_path(dir)?;
    let _ = std::fs::remove_file(&path);
    UnixListener::bind(path)
}
