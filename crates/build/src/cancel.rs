//! Canceling the builds of this process from another thread (the CLI's SIGINT/SIGTERM
//! handler): [`cancel`] kills the RUN containers that run now, and every step that starts
//! afterwards fails with [`BuildError::Canceled`], so the build unwinds through its
//! ordinary error paths, removing its containers, temp files and ingests as it goes.
//!
//! A RUN container's init is pid 1 of its PID namespace: the kernel drops the SIGINT a
//! terminal sends to the process group, so the build must kill it itself.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use runtime::{Container, OciRuntime};

use crate::BuildError;

static CANCELED: AtomicBool = AtomicBool::new(false);

/// The RUN containers running now, with their runtime.
static LIVE: Mutex<Vec<(Container, OciRuntime)>> = Mutex::new(Vec::new());

/// Cancels every build of this process: kills the running RUN containers; steps not yet
/// begun fail with [`BuildError::Canceled`]. Safe to call from any thread, more than once.
pub fn cancel() {
    CANCELED.store(true, Ordering::SeqCst);
    let live = LIVE.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for (c, rt) in live {
        let _ = c.kill(&rt, "KILL");
    }
}

/// Whether [`cancel`] was called.
pub fn is_canceled() -> bool {
    CANCELED.load(Ordering::SeqCst)
}

/// Fails with [`BuildError::Canceled`] once the build is canceled.
pub(crate) fn check() -> Result<(), BuildError> {
    if is_canceled() {
        return Err(BuildError::Canceled);
    }
    Ok(())
}

/// A running RUN container [`cancel`] kills; unlisted on drop.
pub(crate) struct Live {
    id: String,
}

impl Live {
    /// Lists `c` (just started). A cancel that came before the listing kills it now, so
    /// no container outlives a cancel whatever the interleaving.
    pub(crate) fn register(c: &Container, rt: &OciRuntime) -> Live {
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((c.clone(), rt.clone()));
        if is_canceled() {
            let _ = c.kill(rt, "KILL");
        }
        Live {
            id: c.record.id.clone(),
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        LIVE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(c, _)| c.record.id != self.id);
    }
}
