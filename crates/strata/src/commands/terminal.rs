//! The client's terminal while attached to a container: raw mode, its size (sent at
//! start and on every `SIGWINCH`) and the detach keys.

use std::io::IsTerminal;

use runtime::attach::DetachKeys;

use super::Ctx;

/// Rows and columns of our terminal, if stdout is one.
pub fn terminal_size() -> Option<(u16, u16)> {
    let out = std::io::stdout();
    if !out.is_terminal() {
        return None;
    }
    rustix::termios::tcgetwinsize(&out)
        .ok()
        .map(|w| (w.ws_row, w.ws_col))
}

/// Calls `resize` with our terminal's size whenever it changes (`SIGWINCH`), from a
/// thread of its own, for the rest of the process.
pub fn on_resize(resize: impl Fn(u16, u16) + Send + 'static) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut winch = {
        let _guard = rt.enter();
        signal(SignalKind::window_change())?
    };
    std::thread::spawn(move || {
        rt.block_on(async move {
            while winch.recv().await.is_some() {
                if let Some((rows, cols)) = terminal_size() {
                    resize(rows, cols);
                }
            }
        });
    });
    Ok(())
}

/// The detach keys in force: `flag` (`--detach-keys`), else the configured ones, else
/// Docker's default; a bad value is Docker's "Invalid detach keys" error.
pub fn detach_keys(ctx: &Ctx, flag: Option<&str>) -> anyhow::Result<DetachKeys> {
    // The flag, else Docker's client `detachKeys`, else strata's `detach-keys`.
    let spec = flag
        .or(ctx.client.detach_keys.as_deref())
        .or(ctx.config.detach_keys.as_deref())
        .filter(|s| !s.is_empty());
    match spec {
        Some(s) => Ok(DetachKeys::parse(s)?),
        None => Ok(DetachKeys::default()),
    }
}

/// Our terminal in raw mode while a `-it` container runs; restored on drop.
pub struct RawTerminal {
    saved: rustix::termios::Termios,
}

impl RawTerminal {
    /// Puts stdin's terminal in raw mode: keys (Ctrl-C too) go to the container as bytes.
    /// `None` when stdin is no terminal.
    pub fn enter() -> Option<RawTerminal> {
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
