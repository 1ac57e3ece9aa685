//! A container in the foreground (`run` without `-d`, `start -a`): this process is its
//! monitor; its output goes to ours, our stdin to it with `-i`, our signals to it, and its
//! exit code becomes ours.

use std::io::IsTerminal;

use runtime::record::Status;
use runtime::{Attach, Container, OciRuntime};

use super::{Ctx, ExitStatus, container};

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
/// 125/126/127 (and the container is removed under `--rm`).
pub fn run_attached(
    ctx: &Ctx,
    store: &store::Store,
    c: Container,
    rt: &OciRuntime,
    stdin: bool,
    sig_proxy: bool,
) -> anyhow::Result<i32> {
    let id = c.record.id.clone();
    let tty = c.record.options.tty;
    let auto_remove = c.record.options.auto_remove;
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
    let status = super::monitor::run_attached_monitor(ctx, &c, rt, stdin);
    drop(raw);
    let status = status.map_err(|e| ExitStatus::error(125, e))?;
    let recorded = runtime::container::load(&ctx.root, &id).ok();
    if !status.success()
        && let Some(c) = recorded
            .as_ref()
            .filter(|c| c.state.status == Status::Created)
        && let Some(error) = &c.state.error
    {
        // The start failed (recorded by the monitor): Docker's code, the container removed
        // under `--rm`, else left `created` with the error.
        // The monitor exits with `run`'s code (125/126/127); the state has `start`'s.
        let code = status.code().unwrap_or(125);
        let error = anyhow::anyhow!("{error}");
        if auto_remove {
            let _ = container::remove_with_volumes(ctx, store, rt, c.clone(), true);
        }
        return Err(ExitStatus::error(code, error));
    }
    let Some(code) = status.code() else {
        return Err(ExitStatus::error(
            125,
            anyhow::anyhow!("the monitor of container {id} was killed ({status})"),
        ));
    };
    if !auto_remove && let Some(c) = recorded {
        // `--restart` goes on without us, as Docker's daemon goes on after its client.
        super::monitor::resume_detached(ctx, &c, rt)?;
    }
    Ok(code)
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
