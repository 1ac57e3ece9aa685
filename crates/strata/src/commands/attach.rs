//! A container in the foreground (`run` without `-d`, `start -a`): this process is its
//! monitor; its output goes to ours, our stdin to it with `-i`, our signals to it, and its
//! exit code becomes ours.

use std::io::IsTerminal;

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
    let attach = Attach {
        stdin: stdin.then(|| Box::new(std::io::stdin()) as Box<dyn std::io::Read + Send>),
        stdout: Some(Box::new(std::io::stdout())),
        stderr: Some(Box::new(std::io::stderr())),
        tty_size: tty.then(terminal_size).flatten(),
    };
    let mut c = c;
    runtime::monitor::user_start(&mut c);
    let started = c.start(store, rt, attach);
    let result = match started {
        Ok(running) => running.wait(rt).map_err(anyhow::Error::from),
        Err(e) => {
            drop(raw);
            let code = e.run_exit_code();
            if let Ok(mut c) = runtime::container::load(&ctx.root, &id) {
                if auto_remove {
                    let _ = container::remove_with_volumes(ctx, store, rt, c, true);
                } else {
                    // Docker leaves it `created`, with the code and the error.
                    c.state.exit_code = Some(e.start_exit_code());
                    c.state.error = Some(e.to_string());
                    c.state.finished_at = Some(runtime::record::now_rfc3339());
                    let _ = runtime::record::write_state(&c.dir.state(), &c.state);
                }
            }
            return Err(ExitStatus::error(code, e));
        }
    };
    drop(raw);
    let (c, code) = result?;
    if auto_remove {
        container::remove_with_volumes(ctx, store, rt, c, false)?;
    } else {
        // `--restart` goes on without us, as Docker's daemon goes on after its client.
        super::monitor::resume_detached(ctx, &c, rt)?;
    }
    Ok(code)
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
