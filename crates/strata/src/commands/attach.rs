//! A container in the foreground (`run` without `-d`, `start -a`): this process is its
//! monitor; its output goes to ours, our stdin to it with `-i`, our signals to it, and its
//! exit code becomes ours.

use std::io::IsTerminal;

use runtime::{Attach, Container, OciRuntime};

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
/// runtime's ([`runtime::MonitorProgram::run_attached`]); this process adds what is its
/// own: its terminal in raw mode and the signals it receives.
pub fn run_attached(
    ctx: &Ctx,
    store: &store::Store,
    c: Container,
    rt: &OciRuntime,
    stdin: bool,
    sig_proxy: bool,
) -> anyhow::Result<i32> {
    let program = super::monitor::program(ctx).map_err(|e| ExitStatus::error(125, e))?;
    // Docker's daemon reports the client attaching before the start.
    runtime::events::container(&c, "attach", &[]);
    if sig_proxy {
        forward_signals(rt.clone(), c.clone())?;
    }
    let raw = if c.record.options.tty && stdin {
        RawTerminal::enter()
    } else {
        None
    };
    // The container's monitor is a process of its own (as Docker's daemon is): killed,
    // we leave it running, and it still records the exit code and honours `--rm`.
    let ran = program.run_attached(store, &c, rt, stdin);
    drop(raw);
    ran.map_err(super::monitor::start_failed)
}

/// The streams of the monitor of an attached run: this process's stdout and stderr, its
/// stdin with `stdin`, and with `tty` the terminal's size.
pub fn own_streams(stdin: bool, tty: bool) -> Attach {
    Attach {
        stdin: stdin.then(|| Box::new(std::io::stdin()) as Box<dyn std::io::Read + Send>),
        stdout: Some(Box::new(std::io::stdout())),
        stderr: Some(Box::new(std::io::stderr())),
        tty_size: tty.then(terminal_size).flatten(),
    }
}

/// Forwards [`FORWARDED`] signals to container `id` from a thread of its own; returns once
/// the handlers are installed.
fn forward_signals(rt: OciRuntime, c: Container) -> anyhow::Result<()> {
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

/// Rows and columns of our terminal, if stdout is one.
fn terminal_size() -> Option<(u16, u16)> {
    let out = std::io::stdout();
    if !out.is_terminal() {
        return None;
    }
    rustix::termios::tcgetwinsize(&out)
        .ok()
        .map(|w| (w.ws_row, w.ws_col))
}

/// Our terminal in raw mode while a `-it` container runs; restored on drop.
struct RawTerminal {
    saved: rustix::termios::Termios,
}

impl RawTerminal {
    fn enter() -> Option<RawTerminal> {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return None;
        }
        let saved = rustix::termios::tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw).ok()?;
        Some(RawTerminal { saved })
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}
