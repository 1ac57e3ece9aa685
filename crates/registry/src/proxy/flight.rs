//! Streaming a blob from the upstream: the in-flight table that lets a burst of requests
//! share one download, and the pump that copies the bytes to clients and storage while
//! holding the last chunk back until the digest checks out.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use oci::{Digest, Digester};
use tokio::sync::{mpsc, oneshot, watch};

use crate::storage::ByteStream;

/// Where a blob's bytes go to a client.
pub(super) type Client = mpsc::Sender<io::Result<Bytes>>;

/// A request sharing another's fetch: its stream, and where to say the transfer started
/// (with the blob's size, when known). Dropping the sender says the fetch failed first.
pub(super) type Joiner = (Client, oneshot::Sender<Option<u64>>);

/// A blob being fetched into the cache.
pub(super) struct Flight {
    /// Closes (its sender drops) when the fetch ends.
    pub(super) done: watch::Receiver<()>,
    /// Requests that joined before the bytes started flowing: each is told the blob's size
    /// when the upstream answers, then gets the same stream. `None` once it flows (later
    /// requests stream from the upstream on their own).
    pub(super) joiners: Mutex<Option<Vec<Joiner>>>,
}

pub(super) type Inflight = Arc<Mutex<HashMap<Digest, Arc<Flight>>>>;

/// Removes a blob from the in-flight map when its fetch ends; dropping the sender wakes
/// whoever waits for it, and joiners never started learn that the fetch failed.
pub(super) struct InflightGuard {
    pub(super) map: Inflight,
    pub(super) digest: Digest,
    pub(super) flight: Arc<Flight>,
    pub(super) _done: watch::Sender<()>,
}

impl InflightGuard {
    /// Closes the flight to joiners; returns those who joined.
    pub(super) fn take_joiners(&self) -> Vec<Joiner> {
        let mut j = self
            .flight
            .joiners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        j.take().unwrap_or_default()
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.digest);
        drop(self.take_joiners());
    }
}

pub(super) fn stream_of(rx: mpsc::Receiver<io::Result<Bytes>>) -> ByteStream<'static> {
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}

/// Copies `upstream` into `sink` (when storing) and `clients`, holding the last chunk back:
/// returns it with the byte count, for the caller to release once the digest checks out.
/// Hashes into `digester` when given. A client that went away is left behind silently. An
/// upstream that sends nothing for `idle` fails the transfer.
pub(super) async fn pump(
    mut upstream: ByteStream<'static>,
    idle: Duration,
    size: Option<u64>,
    clients: &mut Vec<Client>,
    sink: Option<mpsc::Sender<io::Result<Bytes>>>,
    mut digester: Option<&mut Digester>,
) -> Result<(Option<Bytes>, u64), String> {
    let mut held: Option<Bytes> = None;
    let mut received = 0u64;
    loop {
        let item = match tokio::time::timeout(idle, upstream.next()).await {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no data for {idle:?} (idle timeout)"),
            )),
        };
        let chunk = match item {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("reading from upstream: {e}");
                if let Some(s) = &sink {
                    let _ = s.send(Err(io::Error::other(msg.clone()))).await;
                }
                return Err(msg);
            }
        };
        received += chunk.len() as u64;
        if let Some(size) = size
            && received > size
        {
            let msg = format!("upstream sent more than the {size} bytes it declared");
            if let Some(s) = &sink {
                let _ = s.send(Err(io::Error::other(msg.clone()))).await;
            }
            return Err(msg);
        }
        if chunk.is_empty() {
            continue;
        }
        if let Some(d) = digester.as_deref_mut() {
            d.update(&chunk);
        }
        if let Some(s) = &sink
            && s.send(Ok(chunk.clone())).await.is_err()
        {
            return Err("storage stopped accepting the blob".to_string());
        }
        if let Some(prev) = held.replace(chunk) {
            let mut open = Vec::with_capacity(clients.len());
            for c in clients.drain(..) {
                if c.send(Ok(prev.clone())).await.is_ok() {
                    open.push(c);
                }
            }
            *clients = open;
        }
    }
    if let Some(size) = size
        && received != size
    {
        return Err(format!(
            "upstream sent {received} bytes of the {size} it declared"
        ));
    }
    Ok((held, received))
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    fn chunks(items: Vec<io::Result<&'static [u8]>>) -> ByteStream<'static> {
        futures::stream::iter(items.into_iter().map(|r| r.map(Bytes::from_static))).boxed()
    }

    #[tokio::test]
    async fn pump_holds_back_the_last_chunk_and_checks_the_size() {
        let ok = || chunks(vec![Ok(b"ab"), Ok(b""), Ok(b"cd"), Ok(b"ef")]);
        let cases: Vec<(ByteStream<'static>, Option<u64>, Result<&str, &str>)> = vec![
            (ok(), Some(6), Ok("abcd")),
            (ok(), None, Ok("abcd")),
            (ok(), Some(5), Err("more than")),
            (ok(), Some(7), Err("6 bytes of the 7")),
            (
                chunks(vec![Ok(b"ab"), Err(io::Error::other("reset"))]),
                None,
                Err("reset"),
            ),
        ];
        for (i, (stream, size, want)) in cases.into_iter().enumerate() {
            let (tx, mut rx) = mpsc::channel(16);
            let (sink_tx, mut sink_rx) = mpsc::channel(16);
            let mut digester = oci::Algorithm::Sha256.digester();
            let mut clients = vec![tx];
            let got = pump(
                stream,
                Duration::from_secs(5),
                size,
                &mut clients,
                Some(sink_tx),
                Some(&mut digester),
            )
            .await;
            drop(clients);
            let mut sent = Vec::new();
            while let Some(Ok(c)) = rx.recv().await {
                sent.extend_from_slice(&c);
            }
            let mut stored = Vec::new();
            while let Some(Ok(c)) = sink_rx.recv().await {
                stored.extend_from_slice(&c);
            }
            match (got, want) {
                (Ok((held, n)), Ok(want)) => {
                    assert_eq!(String::from_utf8_lossy(&sent), want, "case {i}");
                    assert_eq!(held.as_deref(), Some(&b"ef"[..]), "case {i}");
                    assert_eq!(n, 6, "case {i}");
                    assert_eq!(stored, b"abcdef", "case {i}");
                    assert_eq!(digester.finish(), Digest::sha256_of(b"abcdef"), "case {i}");
                }
                (Err(msg), Err(want)) => assert!(msg.contains(want), "case {i}: {msg}"),
                (got, want) => panic!("case {i}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[tokio::test]
    async fn pump_fails_an_upstream_that_stalls_mid_blob() {
        // Two chunks, then nothing for ever: the transfer must fail after the idle timeout
        // instead of holding the client (and the cache upload) open.
        let stalled = futures::stream::iter(vec![Ok(Bytes::from_static(b"ab"))])
            .chain(futures::stream::pending())
            .boxed();
        let (tx, _rx) = mpsc::channel(16);
        let (sink_tx, mut sink_rx) = mpsc::channel(16);
        let mut clients = vec![tx];
        let started = Instant::now();
        let got = tokio::time::timeout(
            Duration::from_secs(10),
            pump(
                stalled,
                Duration::from_millis(300),
                Some(10),
                &mut clients,
                Some(sink_tx),
                None,
            ),
        )
        .await
        .expect("pump returns once the upstream is idle for the timeout");
        let msg = got.expect_err("a stalled upstream fails the transfer");
        assert!(
            msg.contains("no data for") && msg.contains("idle timeout"),
            "{msg}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        // The storage side is told too, so the cache upload is discarded, not committed.
        let mut storage_failed = false;
        while let Some(item) = sink_rx.recv().await {
            storage_failed |= item.is_err();
        }
        assert!(storage_failed);
    }
}
