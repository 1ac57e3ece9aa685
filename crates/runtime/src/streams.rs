//! A container's standard streams: pipes (stdout and stderr kept apart) or a terminal
//! (`-t`, one stream), pumped into the container's log and to an attached caller.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::RuntimeError;
use crate::logs::{LogSink, pump};

/// Streams a foreground `run` connects to the container: its output is copied there
/// besides the log, and `stdin` (`-i`) is fed to the container's standard input.
#[derive(Default)]
pub struct Attach {
    /// Copied into the container's stdin, which then sees end of file; `None` gives it
    /// `/dev/null`.
    pub stdin: Option<Box<dyn std::io::Read + Send>>,
    /// Receives stdout.
    pub stdout: Option<Box<dyn Write + Send>>,
    /// Receives stderr (with `-t`, output comes on `stdout` only, as from a terminal).
    pub stderr: Option<Box<dyn Write + Send>>,
    /// With `-t`: the terminal's initial size, rows and columns.
    pub tty_size: Option<(u16, u16)>,
}

/// A thread copying a container stream into its log.
pub(crate) type Pump = JoinHandle<std::io::Result<()>>;

/// The streams of a container without a terminal: pipes for stdout and stderr pumped
/// into the log (and `attach`), and stdin fed from `attach.stdin` or `/dev/null`.
pub(crate) fn pipe_streams(
    attach: Attach,
    log: &Arc<Mutex<crate::logs::LogFile>>,
    log_path: &Path,
) -> Result<([Stdio; 3], Vec<Pump>), RuntimeError> {
    let pipe = || std::io::pipe().map_err(|e| RuntimeError::io("make a pipe for", log_path, e));
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let mut pumps = Vec::new();
    for (r, stream, attach) in [
        (out_r, "stdout", attach.stdout),
        (err_r, "stderr", attach.stderr),
    ] {
        let sink = LogSink {
            file: log.clone(),
            stream,
            attach,
        };
        pumps.push(std::thread::spawn(move || pump(r, sink)));
    }
    let stdin = match attach.stdin {
        None => Stdio::null(),
        Some(mut input) => {
            let (in_r, mut in_w) = pipe()?;
            // Not joined: it may block on a terminal after the container is gone. A write
            // to a container that exited fails (EPIPE) and ends it.
            std::thread::spawn(move || std::io::copy(&mut input, &mut in_w));
            Stdio::from(in_r)
        }
    };
    Ok(([stdin, Stdio::from(out_w), Stdio::from(err_w)], pumps))
}

/// The streams of a container with a terminal: its output (stdout and stderr merged, as
/// a terminal has them) is pumped from the master into the log as `stdout`, and
/// `attach.stdin` is written to the master.
pub(crate) fn terminal_streams(
    master: std::os::fd::OwnedFd,
    attach: Attach,
    log: &Arc<Mutex<crate::logs::LogFile>>,
) -> Result<Pump, RuntimeError> {
    let where_ = Path::new("the container's terminal");
    if let Some((rows, cols)) = attach.tty_size {
        crate::console::set_size(&master, rows, cols)?;
    }
    let reader = fs::File::from(master);
    if let Some(mut input) = attach.stdin {
        let mut writer = reader
            .try_clone()
            .map_err(|e| RuntimeError::io("duplicate", where_, e))?;
        std::thread::spawn(move || std::io::copy(&mut input, &mut writer));
    }
    let sink = LogSink {
        file: log.clone(),
        stream: "stdout",
        attach: attach.stdout,
    };
    Ok(std::thread::spawn(move || pump(reader, sink)))
}
