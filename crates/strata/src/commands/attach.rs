//! A container in the foreground (`run` without `-d`, `start -a`): its monitor holds its
//! streams and this process is attached to them; its output goes to ours, our stdin to it
//! with `-i`, our signals to it, and its exit code becomes ours, unless we detach.

use runtime::attach::client::Session;
use runtime::attach::{ClientStreams, DetachKeys, Ended};
use runtime::{Container, OciRuntime};

use super::terminal::{RawTerminal, on_resize, terminal_size};
use super::{Ctx, ExitStatus};

/// The signals a foreground container receives when this process does (Docker's
/// `--sig-proxy`).
const FORWARDED: [(i32, &str); 6] = [
    (libc::SIGINT, "INT"),
    (libc::SIGTERM, "TERM"),
    (libc::SIGHUP, "HUP"),
    (libc::SIGQUIT, "QUIT"),
    (libc::SIGUSR1, "USR1"),
    (libc::SIGUSR2, "USR2"),
];

/// Starts `c` attached to this process's streams, waits for it, removes it under `--rm`,
/// and returns its exit code. A start that fails is an [`ExitStatus`] with Docker's
/// 125/126/127 (and the container is removed under `--rm`). The run itself is the
/// runtime's ([`runtime::MonitorProgram::run_attached`]): its monitor holds the
/// container's streams and this process is a client of them (as after `attach`); this
/// process adds what is its own: its terminal in raw mode, its size, the signals it
/// receives and the `detach_keys`, which leave the container running (exit 0).
pub fn run_attached(
    ctx: &Ctx,
    store: &store::Store,
    c: Container,
    rt: &OciRuntime,
    streams: Attached,
    sig_proxy: bool,
    detach_keys: &DetachKeys,
) -> anyhow::Result<i32> {
    let stdin = streams.stdin;
    let program = super::monitor::program(ctx).map_err(|e| ExitStatus::error(125, e))?;
    // Docker's daemon reports the client attaching before the start.
    runtime::events::container(&c, "attach", &[]);
    let tty = c.record.options.tty;
    // In raw mode (`-it`) Ctrl-C is a key for the container's terminal, not a signal.
    if sig_proxy {
        forward_signals(rt.clone(), c.clone())?;
    }
    let raw = if tty && stdin {
        RawTerminal::enter()
    } else {
        None
    };
    // The container's monitor is a process of its own (as Docker's daemon is): killed,
    // we leave it running, and it still records the exit code and honours `--rm`.
    let ran = program.run_attached(store, &c, rt, stdin, |stream| {
        session_of(stream, streams, tty, detach_keys)
    });
    drop(raw);
    match ran.map_err(super::monitor::start_failed)? {
        Some(code) => Ok(code),
        // Detached: Docker prints nothing and exits 0.
        None => Ok(0),
    }
}

/// Relays this process's streams on an attach connection until the container exits or
/// the `detach_keys` are typed (on stdin, with `stdin`); with `tty`, our terminal's size
/// is sent at the start and on every change.
pub fn session(
    stream: std::os::unix::net::UnixStream,
    stdin: bool,
    tty: bool,
    detach_keys: &DetachKeys,
) -> std::io::Result<Ended> {
    let streams = Attached {
        stdin,
        ..Attached::default()
    };
    session_of(stream, streams, tty, detach_keys)
}

/// Which of the container's streams a client takes (`run -a`): all output by default,
/// stdin with `-i`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attached {
    /// Our stdin feeds the container's.
    pub stdin: bool,
    /// The container's stdout is shown.
    pub stdout: bool,
    /// The container's stderr is shown.
    pub stderr: bool,
}

impl Default for Attached {
    fn default() -> Attached {
        Attached {
            stdin: false,
            stdout: true,
            stderr: true,
        }
    }
}

impl Attached {
    /// `run -a STREAM…` (each of `stdin`, `stdout`, `stderr`, any case) with `-i`: only
    /// the streams named; without `-a`, stdout and stderr, and stdin with `-i`.
    pub fn of_flags(attach: &[String], interactive: bool) -> Attached {
        if attach.is_empty() {
            return Attached {
                stdin: interactive,
                ..Attached::default()
            };
        }
        let has = |s: &str| attach.iter().any(|a| a.eq_ignore_ascii_case(s));
        Attached {
            stdin: has("stdin"),
            stdout: has("stdout"),
            stderr: has("stderr"),
        }
    }
}

/// [`session`] with the streams `streams` names; the others are dropped here (the log
/// keeps them).
fn session_of(
    stream: std::os::unix::net::UnixStream,
    streams: Attached,
    tty: bool,
    detach_keys: &DetachKeys,
) -> std::io::Result<Ended> {
    let stdin = streams.stdin;
    let out = |on: bool, w: Box<dyn std::io::Write + Send>| -> Box<dyn std::io::Write + Send> {
        if on { w } else { Box::new(std::io::sink()) }
    };
    let session = Session::new(stream)?;
    if tty {
        let resizer = session.resizer();
        if let Err(e) = on_resize(move |rows, cols| {
            let _ = resizer.resize(rows, cols);
        }) {
            tracing::debug!("watching the terminal size: {e}");
        }
    }
    session.run(ClientStreams {
        stdin: stdin.then(|| Box::new(std::io::stdin()) as Box<dyn std::io::Read + Send>),
        stdout: out(streams.stdout, Box::new(std::io::stdout())),
        stderr: out(streams.stderr, Box::new(std::io::stderr())),
        detach_keys: stdin.then(|| detach_keys.clone()),
        tty_size: tty.then(terminal_size).flatten(),
    })
}

/// Forwards [`FORWARDED`] signals to container `id` from a thread of its own; returns once
/// the handlers are installed.
pub fn forward_signals(rt: OciRuntime, c: Container) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let tokio_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut streams = Vec::new();
    {
        let _guard = tokio_rt.enter();
        for (num, name) in FORWARDED {
            streams.push((signal(SignalKind::from_raw(num))?, name));
        }
    }
    std::thread::spawn(move || {
        tokio_rt.block_on(async move {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            for (mut s, name) in streams {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while s.recv().await.is_some() {
                        if tx.send(name).is_err() {
                            break;
                        }
                    }
                });
            }
            while let Some(name) = rx.recv().await {
                // Through `Container::kill`: a proxied signal is the user's, so a
                // `--restart` policy does not start the container again (Docker's way).
                if let Err(e) = c.kill(&rt, name) {
                    tracing::debug!("forwarding SIG{name} to {}: {e}", c.record.id);
                }
            }
        });
    });
    Ok(())
}
