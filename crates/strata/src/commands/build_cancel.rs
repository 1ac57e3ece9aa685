//! SIGINT and SIGTERM during `strata build` (Ctrl-C, a CI timeout): the build is canceled
//! ([`build::cancel::cancel`] kills its RUN containers) and unwinds, removing what it
//! made, instead of dying and leaving its RUN container running.

use std::sync::atomic::{AtomicI32, Ordering};

/// The signal that canceled the build, 0 while none came.
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// The signals that cancel a build.
const CANCELING: [i32; 2] = [libc::SIGINT, libc::SIGTERM];

/// Catches [`CANCELING`] signals from now on, on a thread of its own: the first cancels
/// the build; returns once the handlers are installed.
pub fn catch_signals() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut streams = Vec::new();
    {
        let _guard = rt.enter();
        for num in CANCELING {
            streams.push((num, signal(SignalKind::from_raw(num))?));
        }
    }
    std::thread::spawn(move || {
        rt.block_on(async move {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            for (num, mut s) in streams {
                let tx = tx.clone();
                tokio::spawn(async move {
                    while s.recv().await.is_some() {
                        if tx.send(num).is_err() {
                            break;
                        }
                    }
                });
            }
            while let Some(num) = rx.recv().await {
                // The first signal decides the exit code; later ones change nothing.
                let _ = RECEIVED.compare_exchange(0, num, Ordering::SeqCst, Ordering::SeqCst);
                ::build::cancel::cancel();
            }
        });
    });
    Ok(())
}

/// The exit code of a build canceled by a signal: 128 + its number (130 for SIGINT, 143
/// for SIGTERM), as a shell reports a process the signal ended; `None` if none came.
pub fn exit_code() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        n => Some(128 + n),
    }
}
