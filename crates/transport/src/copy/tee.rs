//! A second sink for layers as they download: the copy engine hands a [`LayerTee`] the
//! same bytes it writes to the destination, so a consumer (the runtime's snapshot
//! unpacker) works on them without a second read of the network or of the blob file.
//!
//! The consumer runs on a thread of its own and reads a blocking [`FeedReader`]; the
//! download waits for it (a bounded channel), so memory stays bounded whatever the speeds.
//! It learns at the end, from [`Verdict::wait`], whether the blob was verified and
//! committed at the destination: only then may it keep what it made.

use std::io::{self, Read};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use oci::{Descriptor, Manifest};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::PollSender;

/// How many chunks may wait between the download and the consumer.
const CHANNEL_CHUNKS: usize = 32;

/// Takes a copy of layers as they download. Set in [`crate::CopyOptions::tee`].
pub trait LayerTee: Send + Sync {
    /// An image with a layer to download is about to be copied: its manifest and config
    /// (fetched even when the destination has it, so the consumer can tell each layer's
    /// place in the stack).
    fn image(&self, manifest: &Manifest, config: &[u8]);

    /// The layer `desc` is about to be downloaded from its first byte: a consumer to run
    /// on a thread of its own with a copy of its bytes, or `None` for no copy. Not called
    /// for blobs the destination has, nor for a download that resumes mid-blob.
    fn layer(&self, desc: &Descriptor) -> Option<LayerConsumer>;
}

/// What [`LayerTee::layer`] returns: run once, on its own thread, with the layer's feed.
pub type LayerConsumer = Box<dyn FnOnce(LayerFeed) + Send>;

/// The bytes of one layer as they arrive, and whether the blob turned out good.
pub struct LayerFeed {
    reader: FeedReader,
    verdict: Verdict,
}

impl LayerFeed {
    /// The blocking reader of the bytes, and the verdict. Drop the reader before waiting
    /// for the verdict: the download waits for a reader that is alive but not read.
    pub fn split(self) -> (FeedReader, Verdict) {
        (self.reader, self.verdict)
    }
}

/// A blocking reader of a layer's bytes as the destination receives them. It ends when
/// the download ends, well or not: the bytes are trustworthy only once [`Verdict::wait`]
/// says so.
pub struct FeedReader {
    rx: mpsc::Receiver<Bytes>,
    chunk: Bytes,
}

impl Read for FeedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(c) => self.chunk = c,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        let _ = self.chunk.split_to(n);
        Ok(n)
    }
}

/// Whether a layer fed to a consumer was verified (size and digest) and committed.
pub struct Verdict(oneshot::Receiver<bool>);

impl Verdict {
    /// Blocks until the download is over: true when the blob is verified and stored; false
    /// when it failed, was cancelled, or the process is going away.
    pub fn wait(self) -> bool {
        self.0.blocking_recv().unwrap_or(false)
    }
}

/// What the engine's end and the stream wrapper share: the consumer's thread, joined by
/// whichever of the two goes last. The consumer ends only once the stream wrapper is gone
/// (its channel closed) and a verdict was sent, so joining earlier could wait for ever.
struct Shared {
    thread: Option<std::thread::JoinHandle<()>>,
    other_gone: bool,
}

type Link = Arc<Mutex<Shared>>;

/// The thread to join if the other end is gone already; else marks this end gone.
fn last_one(link: &Link) -> Option<std::thread::JoinHandle<()>> {
    let mut s = link.lock().unwrap_or_else(|p| p.into_inner());
    if s.other_gone {
        s.thread.take()
    } else {
        s.other_gone = true;
        None
    }
}

/// The copy engine's end of one tee: the verdict to send. Dropped unfinished (the copy
/// failed or was cancelled), it sends "not verified"; either way the consumer is waited
/// for, so nothing it staged outlives the copy.
pub(crate) struct Teeing {
    verdict: Option<oneshot::Sender<bool>>,
    link: Link,
}

impl Teeing {
    /// Starts `consumer` on a thread of its own; returns the engine's end and the wrapper
    /// that copies `inner`'s bytes to it, or `inner` back when no thread could be started
    /// (the layer is then just not copied).
    pub(crate) fn start<R>(inner: R, consumer: LayerConsumer) -> Result<(Teeing, Teed<R>), R> {
        let (tx, rx) = mpsc::channel(CHANNEL_CHUNKS);
        let (verdict_tx, verdict_rx) = oneshot::channel();
        let feed = LayerFeed {
            reader: FeedReader {
                rx,
                chunk: Bytes::new(),
            },
            verdict: Verdict(verdict_rx),
        };
        let thread = match std::thread::Builder::new()
            .name("layer-tee".into())
            .spawn(move || consumer(feed))
        {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("cannot start a thread for a layer copy: {e}");
                return Err(inner);
            }
        };
        let link = Arc::new(Mutex::new(Shared {
            thread: Some(thread),
            other_gone: false,
        }));
        let teeing = Teeing {
            verdict: Some(verdict_tx),
            link: link.clone(),
        };
        let teed = Teed {
            inner,
            tx: Some(PollSender::new(tx)),
            pending: None,
            link,
        };
        Ok((teeing, teed))
    }

    /// Tells the consumer whether the blob is good (call once the destination is done with
    /// the stream), and waits until the consumer is done with it.
    pub(crate) async fn finish(mut self, verified: bool) {
        if let Some(v) = self.verdict.take() {
            let _ = v.send(verified);
        }
        if let Some(t) = last_one(&self.link) {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }
}

impl Drop for Teeing {
    fn drop(&mut self) {
        let Some(v) = self.verdict.take() else {
            return; // finished
        };
        let _ = v.send(false);
        // Only on a failed or cancelled copy: the consumer, fed no more, ends quickly.
        if let Some(t) = last_one(&self.link) {
            let _ = t.join();
        }
    }
}

/// Passes a stream through and sends a copy of each chunk to a consumer, waiting for it
/// when it lags; a consumer that hung up is no longer sent anything.
pub(crate) struct Teed<R> {
    inner: R,
    tx: Option<PollSender<Bytes>>,
    /// A chunk already passed on, not yet taken by the channel.
    pending: Option<Bytes>,
    link: Link,
}

impl<R> Drop for Teed<R> {
    fn drop(&mut self) {
        // Close the channel first: the consumer sees the end of its bytes.
        self.tx = None;
        self.pending = None;
        if let Some(t) = last_one(&self.link) {
            let _ = t.join();
        }
    }
}

impl<R> Teed<R> {
    /// Hands the pending chunk to the channel; `Pending` while the consumer lags.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(chunk) = self.pending.take() else {
            return Poll::Ready(());
        };
        let Some(tx) = &mut self.tx else {
            return Poll::Ready(());
        };
        match tx.poll_reserve(cx) {
            Poll::Pending => {
                self.pending = Some(chunk);
                Poll::Pending
            }
            Poll::Ready(Ok(())) => {
                if tx.send_item(chunk).is_err() {
                    self.tx = None;
                }
                Poll::Ready(())
            }
            // The consumer stopped reading: it gets nothing more.
            Poll::Ready(Err(_)) => {
                self.tx = None;
                Poll::Ready(())
            }
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Teed<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        // Backpressure: no new bytes before the consumer took the last ones.
        if this.poll_flush(cx).is_pending() {
            return Poll::Pending;
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let filled = &buf.filled()[before..];
                if filled.is_empty() {
                    // The end: the consumer sees it when the channel closes.
                    this.tx = None;
                } else if this.tx.is_some() {
                    this.pending = Some(Bytes::copy_from_slice(filled));
                    // Hand it over now if there is room; else on the next read.
                    let _ = this.poll_flush(cx);
                }
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn the_consumer_gets_every_byte_and_the_verdict() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let (got_tx, got_rx) = std::sync::mpsc::channel();
        let consumer: LayerConsumer = Box::new(move |feed| {
            let (mut reader, verdict) = feed.split();
            let mut bytes = Vec::new();
            reader.read_to_end(&mut bytes).unwrap();
            drop(reader);
            got_tx.send((bytes, verdict.wait())).unwrap();
        });
        let Ok((teeing, mut teed)) = Teeing::start(&data[..], consumer) else {
            panic!("no thread");
        };
        let mut passed = Vec::new();
        teed.read_to_end(&mut passed).await.unwrap();
        drop(teed);
        teeing.finish(true).await;
        assert_eq!(passed, data);
        let (bytes, verified) = got_rx.recv().unwrap();
        assert_eq!(bytes, data);
        assert!(verified);
    }

    #[tokio::test]
    async fn a_consumer_that_stops_reading_does_not_stall_the_download() {
        let data = vec![7u8; 4 << 20];
        let (got_tx, got_rx) = std::sync::mpsc::channel();
        let consumer: LayerConsumer = Box::new(move |feed| {
            let (mut reader, verdict) = feed.split();
            let mut first = [0u8; 10];
            reader.read_exact(&mut first).unwrap();
            drop(reader);
            got_tx.send(verdict.wait()).unwrap();
        });
        let Ok((teeing, mut teed)) = Teeing::start(&data[..], consumer) else {
            panic!("no thread");
        };
        let mut passed = Vec::new();
        // Small reads: many more chunks than the channel holds.
        let mut buf = [0u8; 4096];
        loop {
            let n = teed.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            passed.extend_from_slice(&buf[..n]);
        }
        drop(teed);
        teeing.finish(false).await;
        assert_eq!(passed.len(), data.len());
        assert!(!got_rx.recv().unwrap(), "a failed blob's verdict is false");
    }
}
