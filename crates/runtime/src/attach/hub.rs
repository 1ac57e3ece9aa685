//! The monitor's side of attach: the container's streams, shared with every client.

use std::collections::HashMap;
use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::frame::{self, read_frame, write_frame};
use crate::RuntimeError;
use crate::streams::Attach;

/// The streams of one container as its monitor holds them: output goes to every client,
/// client input to the container's stdin, resizes to its terminal.
pub struct Hub {
    tty: bool,
    /// Docker's `StdinOnce` (a foreground `run -i`): the container's stdin closes when a
    /// client's input ends; otherwise it stays open for the next client.
    stdin_once: bool,
    clients: Mutex<HashMap<u64, Client>>,
    next: AtomicU64,
    /// The write end of the container's stdin while it runs with `-i`.
    stdin: Mutex<Option<io::PipeWriter>>,
    /// The terminal's master (a duplicate), for resizes.
    master: Mutex<Option<OwnedFd>>,
    /// The exit code once the container exited: late clients get it at once.
    exited: Mutex<Option<i32>>,
    /// The terminal size clients last asked for.
    size: Mutex<Option<(u16, u16)>>,
}

/// The listening attach socket; removed when dropped.
pub struct Server {
    path: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Hub {
    /// A hub for a container with (`tty`) or without a terminal.
    pub fn new(tty: bool, stdin_once: bool) -> Arc<Hub> {
        Arc::new(Hub {
            tty,
            stdin_once,
            clients: Mutex::new(HashMap::new()),
            next: AtomicU64::new(0),
            stdin: Mutex::new(None),
            master: Mutex::new(None),
            exited: Mutex::new(None),
            size: Mutex::new(None),
        })
    }

    /// Listens on the attach socket in the container directory `dir`, accepting clients
    /// on a thread of its own for as long as the process lives.
    pub fn serve(self: &Arc<Self>, dir: &Path) -> Result<Server, RuntimeError> {
        let path = dir.join(super::SOCKET);
        let listener = super::bind(dir).map_err(|e| RuntimeError::io("listen on", &path, e))?;
        let hub = self.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                match conn {
                    Ok(c) => hub.add_client(c),
                    // Out of descriptors, say: a client is refused, the container goes on.
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(50)),
                }
            }
        });
        Ok(Server { path })
    }

    /// Adds a connected client: it gets the output from now on, and its input (after its
    /// [`frame::HELLO`]) goes to the container.
    pub fn add_client(self: &Arc<Self>, stream: UnixStream) {
        let Ok(mut reader) = stream.try_clone() else {
            return;
        };
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        {
            let exited = self.exited.lock().map(|e| *e).unwrap_or(None);
            if let Some(code) = exited {
                let mut s = stream;
                let _ = write_frame(&mut s, frame::EXIT, &code.to_be_bytes());
                return;
            }
            if let Ok(mut clients) = self.clients.lock() {
                clients.insert(
                    id,
                    Client {
                        stream,
                        output: true,
                    },
                );
            }
        }
        let hub = self.clone();
        std::thread::spawn(move || hub.serve_client(id, &mut reader));
    }

    /// Reads one client's frames until it leaves.
    fn serve_client(&self, id: u64, reader: &mut UnixStream) {
        let mut sends_stdin = false;
        while let Ok(Some((kind, payload))) = read_frame(reader) {
            match kind {
                frame::HELLO => sends_stdin = payload.first() == Some(&1),
                frame::STDIN if sends_stdin => {
                    let mut stdin = self.stdin.lock().expect("stdin lock");
                    if let Some(w) = stdin.as_mut()
                        && w.write_all(&payload).is_err()
                    {
                        *stdin = None;
                    }
                }
                frame::CLOSE_STDIN if sends_stdin => {
                    if !self.client_stdin_ended()
                        && let Ok(mut clients) = self.clients.lock()
                        && let Some(c) = clients.get_mut(&id)
                    {
                        // Docker's way: when a client's input ends and the container's
                        // stdin stays open, the client's output ends too (it still
                        // learns the exit code).
                        c.output = false;
                    }
                    sends_stdin = false;
                }
                frame::RESIZE => {
                    if let Some(size) = frame::parse_resize(&payload) {
                        self.resize(size);
                    }
                }
                frame::DETACH => break,
                _ => {}
            }
        }
        if sends_stdin {
            self.client_stdin_ended();
        }
        if let Ok(mut clients) = self.clients.lock() {
            clients.remove(&id);
        }
    }

    /// A client's input ended: with `StdinOnce` and no terminal the container's stdin
    /// closes, as Docker's does. Returns whether it did.
    fn client_stdin_ended(&self) -> bool {
        if self.stdin_once
            && !self.tty
            && let Ok(mut stdin) = self.stdin.lock()
        {
            *stdin = None;
            return true;
        }
        false
    }

    /// The streams for one start of the container: output into the hub, and with
    /// `open_stdin` (`-i`) a stdin the hub writes client input to.
    pub fn streams(self: &Arc<Self>, open_stdin: bool) -> Result<Attach, RuntimeError> {
        if let Ok(mut e) = self.exited.lock() {
            *e = None;
        }
        let stdin = if open_stdin {
            let (r, w) = io::pipe()
                .map_err(|e| RuntimeError::io("make a pipe for", Path::new("stdin"), e))?;
            *self.stdin.lock().expect("stdin lock") = Some(w);
            Some(Box::new(r) as Box<dyn io::Read + Send>)
        } else {
            None
        };
        let writer = |kind| {
            Some(Box::new(Output {
                hub: self.clone(),
                kind,
            }) as Box<dyn Write + Send>)
        };
        Ok(Attach {
            stdin,
            stdout: writer(frame::STDOUT),
            stderr: writer(frame::STDERR),
            tty_size: None,
        })
    }

    /// Keeps a duplicate of the container's terminal master for resizes, and gives it the
    /// last size a client sent (the first client's comes before the terminal exists).
    pub fn set_terminal(&self, master: &OwnedFd) {
        if let (Ok(dup), Ok(mut m)) = (master.try_clone(), self.master.lock()) {
            *m = Some(dup);
        }
        let size = *self.size.lock().expect("size lock");
        if let Some(size) = size {
            self.resize(size);
        }
    }

    /// Resizes the terminal (once it exists) to `(rows, cols)`.
    fn resize(&self, (rows, cols): (u16, u16)) {
        *self.size.lock().expect("size lock") = Some((rows, cols));
        if let Ok(master) = self.master.lock()
            && let Some(m) = master.as_ref()
        {
            let _ = crate::console::set_size(m, rows, cols);
        }
    }

    /// Whether the first client added has left (detached, or died) before [`Hub::finish`].
    pub fn first_client_gone(&self) -> bool {
        self.clients.lock().map_or(true, |c| !c.contains_key(&0))
    }

    /// The monitor failed with `message`: tells every client and lets them go (a client
    /// has no other way to learn why: the monitor prints nowhere).
    pub fn fail(&self, message: &str) {
        self.send_last(frame::FAILED, message.as_bytes());
    }

    /// The container exited with `code` (its output drained): tells every client and lets
    /// them go; stdin and terminal are released.
    pub fn finish(&self, code: i32) {
        if let Ok(mut e) = self.exited.lock() {
            *e = Some(code);
        }
        *self.stdin.lock().expect("stdin lock") = None;
        *self.master.lock().expect("master lock") = None;
        self.send_last(frame::EXIT, &code.to_be_bytes());
    }

    /// Sends every client its last frame and closes its connection.
    fn send_last(&self, kind: u8, payload: &[u8]) {
        let clients = std::mem::take(&mut *self.clients.lock().expect("clients lock"));
        for (_, mut c) in clients {
            let _ = write_frame(&mut c.stream, kind, payload);
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
    }

    fn broadcast(&self, kind: u8, bytes: &[u8]) {
        let Ok(mut clients) = self.clients.lock() else {
            return;
        };
        // A client that cannot take output (gone, detached) is dropped.
        clients.retain(|_, c| !c.output || write_frame(&mut c.stream, kind, bytes).is_ok());
    }
}

/// A connected client.
struct Client {
    stream: UnixStream,
    /// Whether it still gets output.
    output: bool,
}

/// One output stream of the container, written into the hub.
struct Output {
    hub: Arc<Hub>,
    kind: u8,
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.hub.broadcast(self.kind, buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
