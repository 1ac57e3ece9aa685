//! The stream wrapper that checks a blob's size and digest while it flows to the destination.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use oci::{Descriptor, Digester};
use tokio::io::{AsyncRead, ReadBuf};

use crate::{ProgressEvent, TransportError};

/// Emit a progress event at most once per this many bytes (and at the end).
const PROGRESS_STEP: u64 = 256 * 1024;

/// Why a verified stream failed, recorded for the copy engine: the destination only sees an
/// `io::Error` and may wrap it in anything.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The content is not what the descriptor says; never retried.
    Content(TransportError),
    /// The source's stream broke; retried.
    Source(io::Error),
}

/// The shared slot a [`Verifier`] writes its failure into.
pub(crate) type FailureSlot = Arc<Mutex<Option<Failure>>>;

pub(crate) type ProgressFn = Arc<dyn Fn(ProgressEvent) + Send + Sync>;

/// Wraps a source stream: hashes and counts what passes, refuses more bytes than the
/// descriptor's size, and at the end fails with an error (recorded in the slot) when size or
/// digest differ. `skip` leading bytes are read and hashed but not passed on (the source
/// could not resume, the destination already holds them).
pub(crate) struct Verifier<R> {
    inner: R,
    desc: Descriptor,
    what: String,
    /// Hashes from byte 0; `None` when the stream starts mid-blob (the destination, which
    /// holds the prefix, checks the digest then).
    digester: Option<Digester>,
    /// Bytes of the blob seen so far, counting from 0 (a resume offset included).
    pos: u64,
    skip: u64,
    last_reported: u64,
    progress: Option<ProgressFn>,
    slot: FailureSlot,
    done: bool,
}

impl<R> Verifier<R> {
    /// `start` is the blob offset the inner stream starts at; `skip` how many of its bytes to
    /// swallow before passing bytes on. `hash` is false when the destination checks the
    /// digest itself (the store does), so the bytes are hashed once, not twice.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        inner: R,
        desc: &Descriptor,
        what: String,
        start: u64,
        skip: u64,
        hash: bool,
        progress: Option<ProgressFn>,
        slot: FailureSlot,
    ) -> Verifier<R> {
        Verifier {
            inner,
            digester: (start == 0 && hash).then(|| desc.digest.algorithm().digester()),
            desc: desc.clone(),
            what,
            pos: start,
            skip,
            last_reported: start + skip,
            progress,
            slot,
            done: false,
        }
    }

    fn fail(&mut self, e: TransportError) -> io::Error {
        let msg = e.to_string();
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(Failure::Content(e));
        io::Error::new(io::ErrorKind::InvalidData, msg)
    }

    fn report(&mut self, force: bool) {
        if let Some(p) = &self.progress
            && (force || self.pos - self.last_reported >= PROGRESS_STEP)
            && self.pos != self.last_reported
        {
            self.last_reported = self.pos;
            p(ProgressEvent::BlobProgress {
                digest: self.desc.digest.clone(),
                bytes: self.pos,
            });
        }
    }

    /// Accounts for `data` just read; errors when the blob grows past its size.
    fn account(&mut self, data: &[u8]) -> Result<(), io::Error> {
        self.pos += data.len() as u64;
        if self.pos > self.desc.size {
            return Err(self.fail(TransportError::SizeMismatch {
                what: self.what.clone(),
                expected: self.desc.size,
                actual: self.pos,
            }));
        }
        if let Some(d) = &mut self.digester {
            d.update(data);
        }
        Ok(())
    }

    /// The stream ended: check size and digest.
    fn finish(&mut self) -> Result<(), io::Error> {
        if self.pos != self.desc.size {
            return Err(self.fail(TransportError::SizeMismatch {
                what: self.what.clone(),
                expected: self.desc.size,
                actual: self.pos,
            }));
        }
        if let Some(d) = self.digester.take() {
            let actual = d.finish();
            if actual != self.desc.digest {
                return Err(self.fail(TransportError::DigestMismatch {
                    what: self.what.clone(),
                    expected: self.desc.digest.clone(),
                    actual,
                }));
            }
        }
        self.report(true);
        Ok(())
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Verifier<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(Ok(()));
        }
        // Swallow the prefix the destination already holds.
        while this.skip > 0 {
            let mut scratch = [0u8; 16 * 1024];
            let want = (this.skip as usize).min(scratch.len());
            let mut rb = ReadBuf::new(&mut scratch[..want]);
            match Pin::new(&mut this.inner).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(this.source_failed(e))),
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    if n == 0 {
                        this.done = true;
                        return Poll::Ready(this.finish());
                    }
                    this.skip -= n as u64;
                    this.account(rb.filled())?;
                }
            }
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(this.source_failed(e))),
            Poll::Ready(Ok(())) => {
                let filled = &buf.filled()[before..];
                if filled.is_empty() {
                    this.done = true;
                    return Poll::Ready(this.finish());
                }
                if let Err(e) = this.account(filled) {
                    // A reader that fails must not have filled the buffer.
                    buf.set_filled(before);
                    return Poll::Ready(Err(e));
                }
                this.report(false);
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl<R> Verifier<R> {
    /// Records the source's error (keeping any [`TransportError`] it carries, a stall) and
    /// hands the destination a copy of its message.
    fn source_failed(&mut self, e: io::Error) -> io::Error {
        let copy = io::Error::new(e.kind(), e.to_string());
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(Failure::Source(e));
        copy
    }
}
