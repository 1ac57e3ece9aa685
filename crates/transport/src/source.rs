//! The two small traits every transport implements.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use oci::Descriptor;
use tokio::io::AsyncRead;

use crate::TransportError;

/// A blob's bytes as an async stream.
pub type BlobStream = Pin<Box<dyn AsyncRead + Send>>;

/// Where images are read from: a registry, the store, an OCI layout, an archive.
///
/// A source is opened for one image (a reference, a layout entry, an archive entry); `resolve`
/// names its top-level manifest or index.
pub trait ImageSource: Send + Sync {
    /// The descriptor of the top-level manifest or index this source was opened for.
    fn resolve(&self) -> impl Future<Output = Result<Descriptor, TransportError>> + Send;

    /// The exact bytes of a manifest or index, never re-serialised. The caller verifies them
    /// against `d.digest`.
    fn manifest(
        &self,
        d: &Descriptor,
    ) -> impl Future<Output = Result<Bytes, TransportError>> + Send;

    /// A blob as a stream, starting at byte `offset` (to resume an interrupted transfer; a
    /// source that cannot seek returns [`TransportError::RangeUnsupported`] for `offset > 0`).
    /// The caller checks size and digest; a source does not.
    fn blob(
        &self,
        d: &Descriptor,
        offset: u64,
    ) -> impl Future<Output = Result<BlobStream, TransportError>> + Send;
}

/// Where images are written to.
///
/// The copy engine calls `has_blob`/`put_blob` for every blob (configs and layers), then
/// `put_manifest` children before parents, then `commit` once. Until `commit`, nothing need
/// be visible; a destination dropped without `commit` leaves nothing half-written behind.
pub trait ImageDestination: Send + Sync {
    /// Whether the destination already holds this blob (then it is not transferred).
    fn has_blob(&self, d: &Descriptor)
    -> impl Future<Output = Result<bool, TransportError>> + Send;

    /// Offers a cross-repository mount from `from_repo` on the same registry. Returns true if
    /// the blob is now present; destinations without the notion return false.
    fn mount_blob(
        &self,
        _d: &Descriptor,
        _from_repo: &str,
    ) -> impl Future<Output = Result<bool, TransportError>> + Send {
        async { Ok(false) }
    }

    /// How many leading bytes of this blob the destination already holds from an interrupted
    /// transfer (the local store keeps partial ingests). The copy engine then asks the source
    /// for the rest only, and `put_blob`'s stream starts at that offset.
    fn resume_offset(&self, _d: &Descriptor) -> impl Future<Output = u64> + Send {
        async { 0 }
    }

    /// Whether `put_blob` itself checks a blob's size and digest before making it visible (the
    /// local store does, on commit). The copy engine then only counts bytes, so content is
    /// hashed once. Wrong content must then fail `put_blob` with an error naming both digests.
    fn verifies_content(&self) -> bool {
        false
    }

    /// Writes a blob. `stream` yields the blob's bytes from [`resume_offset`] on. When the
    /// offset was 0 the copy engine checks the whole stream's size and digest and turns a
    /// mismatch into an error before the stream ends; when it was not, the destination must
    /// verify the whole blob itself (it holds the prefix). On error nothing of the blob may
    /// become visible.
    ///
    /// [`resume_offset`]: ImageDestination::resume_offset
    fn put_blob(
        &self,
        d: &Descriptor,
        stream: BlobStream,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Writes a manifest or index (its exact bytes). `tag` is the name to give it when it is
    /// the top-level one (an image reference's tag, an archive's name for it).
    fn put_manifest(
        &self,
        d: &Descriptor,
        bytes: Bytes,
        tag: Option<&str>,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Makes everything written visible (archives write their index here).
    fn commit(&self) -> impl Future<Output = Result<(), TransportError>> + Send {
        async { Ok(()) }
    }
}
