//! `-t`: the container's terminal. The OCI runtime makes a pseudo-terminal inside the
//! container and passes its master side over a unix socket (`--console-socket`) as an
//! `SCM_RIGHTS` message; whoever holds the master reads the container's output and
//! writes its input.

use std::io::{self, IoSliceMut};
use std::mem::MaybeUninit;
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, recvmsg};

use crate::RuntimeError;

/// A listening console socket, waiting for the runtime's terminal on another thread.
#[derive(Debug)]
pub struct ConsoleSocket {
    path: PathBuf,
    waiter: Option<JoinHandle<io::Result<OwnedFd>>>,
}

/// Listens on a new socket for the terminal of container `id`. The socket lives in the
/// temporary directory: a unix socket path is limited to 108 bytes, which a store path
/// can exceed.
pub fn listen(id: &str) -> Result<ConsoleSocket, RuntimeError> {
    let short = &id[..id.len().min(12)];
    let path = std::env::temp_dir().join(format!(
        "strata-{short}-{}.sock",
        &crate::record::new_id()?[..8]
    ));
    let listener =
        UnixListener::bind(&path).map_err(|e| RuntimeError::io("listen on", &path, e))?;
    let waiter = std::thread::spawn(move || {
        let (stream, _) = listener.accept()?;
        receive_fd(&stream)
    });
    Ok(ConsoleSocket {
        path,
        waiter: Some(waiter),
    })
}

/// Receives one file descriptor sent with `SCM_RIGHTS` on `stream`.
pub fn receive_fd(stream: &UnixStream) -> io::Result<OwnedFd> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    // runc sends the terminal's name as the data.
    let mut name = [0u8; 4096];
    recvmsg(
        stream,
        &mut [IoSliceMut::new(&mut name)],
        &mut control,
        RecvFlags::CMSG_CLOEXEC,
    )?;
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg
            && let Some(fd) = fds.next()
        {
            return Ok(fd);
        }
    }
    Err(io::Error::other("the console socket received no terminal"))
}

impl ConsoleSocket {
    /// The socket's path, for `--console-socket`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The terminal's master side, once the runtime has sent it; `None` when `alive`
    /// turns false first (the runtime exited without sending one).
    pub fn receive_while(
        self,
        alive: impl FnMut() -> bool,
    ) -> Result<Option<OwnedFd>, RuntimeError> {
        let mut alive = alive;
        loop {
            if self.waiter.as_ref().is_some_and(|w| w.is_finished()) {
                return self.receive().map(Some);
            }
            if !alive() {
                // Drop wakes the waiting thread and removes the socket.
                return Ok(None);
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    /// The terminal's master side, once the runtime has sent it.
    pub fn receive(mut self) -> Result<OwnedFd, RuntimeError> {
        let waiter = self.waiter.take().expect("receive is called once");
        let r = waiter
            .join()
            .map_err(|_| io::Error::other("the console thread panicked"))
            .and_then(|r| r);
        r.map_err(|e| RuntimeError::io("receive the terminal from", &self.path, e))
    }
}

impl Drop for ConsoleSocket {
    fn drop(&mut self) {
        if let Some(waiter) = self.waiter.take() {
            // Nobody sent a terminal (the runtime failed): wake the accept and let it end.
            let _ = UnixStream::connect(&self.path);
            let _ = waiter.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Sets the terminal's size (`TIOCSWINSZ`).
pub fn set_size(master: &OwnedFd, rows: u16, cols: u16) -> Result<(), RuntimeError> {
    rustix::termios::tcsetwinsize(
        master,
        rustix::termios::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
    .map_err(|e| RuntimeError::io("resize", Path::new("the container's terminal"), e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags, sendmsg};
    use std::io::{IoSlice, Read};
    use std::os::fd::AsFd;

    #[test]
    fn receives_a_descriptor() {
        let sock = listen("0123456789abcdef").unwrap();
        let (r, mut w) = std::io::pipe().unwrap();
        let stream = UnixStream::connect(sock.path()).unwrap();
        let fds = [r.as_fd()];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        assert!(control.push(SendAncillaryMessage::ScmRights(&fds)));
        sendmsg(
            &stream,
            &[IoSlice::new(b"/dev/pts/0")],
            &mut control,
            SendFlags::empty(),
        )
        .unwrap();
        drop(r);
        let got = sock.receive().unwrap();
        std::io::Write::write_all(&mut w, b"through").unwrap();
        drop(w);
        let mut s = String::new();
        std::fs::File::from(got).read_to_string(&mut s).unwrap();
        assert_eq!(s, "through");
    }

    #[test]
    fn an_unused_socket_cleans_up() {
        let sock = listen("abc").unwrap();
        let path = sock.path().to_path_buf();
        assert!(path.exists());
        drop(sock);
        assert!(!path.exists());
    }
}
