//! The client's side of attach: our streams on a container's, until it exits or we detach.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::frame::{self, read_frame, write_frame};
use super::keys::{DetachKeys, Escape};

/// What a client connects to the container.
pub struct ClientStreams {
    /// Sent to the container's stdin (`None`: `--no-stdin`, or a container without `-i`).
    pub stdin: Option<Box<dyn Read + Send>>,
    /// Receives the container's stdout (all its output with a terminal).
    pub stdout: Box<dyn Write + Send>,
    /// Receives the container's stderr.
    pub stderr: Box<dyn Write + Send>,
    /// Typed on `stdin`, these detach the client (`None`: never).
    pub detach_keys: Option<DetachKeys>,
    /// Our terminal's size, sent first.
    pub tty_size: Option<(u16, u16)>,
}

/// How an attached session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// The container exited with this code.
    Exited(i32),
    /// The monitor closed the connection without an exit code (it died, or it is the
    /// foreground run's monitor, whose own exit status tells).
    Closed,
    /// The detach keys were typed: the container goes on without us.
    Detached,
    /// The monitor failed, for this reason.
    Failed(String),
}

/// Sends resizes of our terminal on a session while it runs.
#[derive(Clone)]
pub struct Resizer(Arc<Mutex<UnixStream>>);

impl Resizer {
    /// Tells the container's terminal our new size.
    pub fn resize(&self, rows: u16, cols: u16) -> io::Result<()> {
        let mut s = self.0.lock().map_err(|_| io::Error::other("attach lock"))?;
        write_frame(&mut *s, frame::RESIZE, &frame::resize_payload(rows, cols))
    }
}

/// A connection to a container's attach socket.
pub struct Session {
    reader: UnixStream,
    writer: Arc<Mutex<UnixStream>>,
}

impl Session {
    /// A session on a connected attach socket.
    pub fn new(stream: UnixStream) -> io::Result<Session> {
        let writer = Arc::new(Mutex::new(stream.try_clone()?));
        Ok(Session {
            reader: stream,
            writer,
        })
    }

    /// A handle to send resizes with.
    pub fn resizer(&self) -> Resizer {
        Resizer(self.writer.clone())
    }

    /// Relays `streams` until the container exits, the connection closes or we detach.
    pub fn run(mut self, streams: ClientStreams) -> io::Result<Ended> {
        let ClientStreams {
            stdin,
            mut stdout,
            mut stderr,
            detach_keys,
            tty_size,
        } = streams;
        {
            let mut w = self
                .writer
                .lock()
                .map_err(|_| io::Error::other("attach lock"))?;
            write_frame(&mut *w, frame::HELLO, &[u8::from(stdin.is_some())])?;
            if let Some((rows, cols)) = tty_size {
                write_frame(&mut *w, frame::RESIZE, &frame::resize_payload(rows, cols))?;
            }
        }
        let detached = Arc::new(AtomicBool::new(false));
        if let Some(input) = stdin {
            let writer = self.writer.clone();
            let reader = self.reader.try_clone()?;
            let escape = detach_keys.as_ref().map(Escape::new);
            let flag = detached.clone();
            // Not joined: it may block reading a terminal after the container is gone.
            std::thread::spawn(move || send_input(input, escape, &writer, &reader, &flag));
        }
        loop {
            match read_frame(&mut self.reader) {
                Ok(Some((frame::STDOUT, bytes))) => {
                    // A closed stdout must not stop the session (nor the container).
                    let _ = stdout.write_all(&bytes).and_then(|()| stdout.flush());
                }
                Ok(Some((frame::STDERR, bytes))) => {
                    let _ = stderr.write_all(&bytes).and_then(|()| stderr.flush());
                }
                Ok(Some((frame::EXIT, code))) => {
                    let code = <[u8; 4]>::try_from(&code[..]).map(i32::from_be_bytes);
                    return Ok(code.map_or(Ended::Closed, Ended::Exited));
                }
                Ok(Some((frame::FAILED, why))) => {
                    return Ok(Ended::Failed(String::from_utf8_lossy(&why).into_owned()));
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) if detached.load(Ordering::SeqCst) => return Ok(Ended::Detached),
                Ok(None) => return Ok(Ended::Closed),
                Err(e) => return Err(e),
            }
        }
    }
}

/// Copies `input` into the session as stdin frames, watching for the detach keys.
fn send_input(
    mut input: Box<dyn Read + Send>,
    mut escape: Option<Escape>,
    writer: &Mutex<UnixStream>,
    reader: &UnixStream,
    detached: &AtomicBool,
) {
    let mut buf = vec![0u8; 32 * 1024];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        let Ok(mut w) = writer.lock() else { return };
        if n == 0 {
            let _ = write_frame(&mut *w, frame::CLOSE_STDIN, &[]);
            return;
        }
        let (data, detach) = match escape.as_mut() {
            Some(e) => e.feed(&buf[..n]),
            None => (buf[..n].to_vec(), false),
        };
        if !data.is_empty() && write_frame(&mut *w, frame::STDIN, &data).is_err() {
            return;
        }
        if detach {
            detached.store(true, Ordering::SeqCst);
            let _ = write_frame(&mut *w, frame::DETACH, &[]);
            // Ends the output loop: the session is over for us.
            let _ = reader.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
}

/// Connects `streams` to the container whose directory is `dir` (see [`super::connect`])
/// and relays until it ends.
pub fn attach(dir: &std::path::Path, streams: ClientStreams) -> io::Result<Ended> {
    Session::new(super::connect(dir)?)?.run(streams)
}
