//! One execution of a stage at a time per key, in this process: the platforms of a
//! multi-platform build run in parallel, and a stage that does not depend on the target
//! platform (`FROM --platform=$BUILDPLATFORM`) has the same key in each. The first build
//! to reach it executes it; the others wait, then find every step in the cache.

use std::collections::HashSet;
use std::sync::{Condvar, Mutex};

use oci::Digest;

static RUNNING: Mutex<Option<HashSet<Digest>>> = Mutex::new(None);
static DONE: Condvar = Condvar::new();

/// Holds a stage key while its stage executes.
pub(super) struct Flight(Digest);

/// Waits until no other build of this process is executing the stage `key`, then claims it
/// until the returned value drops.
pub(super) fn enter(key: &Digest) -> Flight {
    let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
    while running.as_ref().is_some_and(|r| r.contains(key)) {
        running = DONE.wait(running).unwrap_or_else(|p| p.into_inner());
    }
    running.get_or_insert_with(HashSet::new).insert(key.clone());
    Flight(key.clone())
}

impl Drop for Flight {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = running.as_mut() {
            r.remove(&self.0);
        }
        DONE.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn one_key_runs_once_at_a_time_other_keys_run_alongside() {
        let same = Digest::sha256_of(b"stage");
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..4 {
                let (inside, most, same) = (inside.clone(), most.clone(), same.clone());
                s.spawn(move || {
                    let _f = enter(&same);
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    inside.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 1, "never two at once");
        // Another key is not held up by a claimed one.
        let _a = enter(&same);
        let _b = enter(&Digest::sha256_of(b"other stage"));
    }
}
