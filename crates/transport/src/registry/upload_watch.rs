//! An idle timeout for streamed uploads. reqwest's read timeout starts with the request and
//! does not reset while the body is sent, so it would cut every upload longer than the
//! timeout; instead the body stream notes when it last handed over a chunk, and a watchdog
//! fires when nothing moved for the idle timeout — the registry stopped reading, or, once
//! the body is sent, stopped short of answering.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{Stream, StreamExt};

/// Wraps an upload body: returns the body to send and a future that completes once no chunk
/// was taken from it for `idle` (counting from the end of the body once it is all sent).
pub(crate) fn watched<S>(
    body: S,
    idle: Duration,
) -> (reqwest::Body, impl Future<Output = ()> + Send + 'static)
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
{
    let (body, watchdog) = watch(body, idle);
    (reqwest::Body::wrap_stream(body), watchdog)
}

/// [`watched`] on a plain stream.
fn watch<S>(
    body: S,
    idle: Duration,
) -> (
    impl Stream<Item = S::Item> + Send + 'static,
    impl Future<Output = ()> + Send + 'static,
)
where
    S: Stream + Send + 'static,
{
    let origin = Instant::now();
    // Milliseconds since `origin` of the last progress.
    let last = Arc::new(AtomicU64::new(0));
    let mark = last.clone();
    let body = body.inspect(move |_| {
        mark.store(origin.elapsed().as_millis() as u64, Ordering::Relaxed);
    });
    let watchdog = async move {
        loop {
            let since = Duration::from_millis(last.load(Ordering::Relaxed));
            let quiet = origin.elapsed().saturating_sub(since);
            if quiet >= idle {
                return;
            }
            tokio::time::sleep(idle - quiet).await;
        }
    };
    (body, watchdog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_watchdog_fires_only_after_a_quiet_spell() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<u8>();
        let (body, watchdog) = watch(rx, Duration::from_millis(400));
        let mut body = Box::pin(body);
        let watchdog = tokio::spawn(watchdog);
        // A chunk every 150 ms keeps it quiet for over a second...
        for _ in 0..8 {
            tokio::time::sleep(Duration::from_millis(150)).await;
            tx.unbounded_send(1).unwrap();
            assert!(body.next().await.is_some());
            assert!(!watchdog.is_finished());
        }
        // ...then 400 ms of nothing fires it.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(watchdog.is_finished());
    }
}
