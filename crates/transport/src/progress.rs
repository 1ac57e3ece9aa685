//! Progress events the copy engine emits; the CLI turns them into bars.

use oci::Digest;

/// One step of a copy, in the order they happen for each blob:
/// `BlobSkipped`, or `BlobStarted`, `BlobProgress`…, `BlobDone`.
///
/// Blobs are transferred in parallel, so events of different blobs interleave.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProgressEvent {
    /// The source named its top-level manifest or index.
    Resolved {
        /// Its digest.
        digest: Digest,
        /// Its media type.
        media_type: String,
    },
    /// The destination already has this blob.
    BlobSkipped {
        /// The blob.
        digest: Digest,
        /// Its size in bytes.
        size: u64,
        /// Its media type (a config, a layer, ...).
        media_type: String,
    },
    /// The destination mounted this blob from another repository of the same registry.
    BlobMounted {
        /// The blob.
        digest: Digest,
        /// Its size in bytes.
        size: u64,
        /// Its media type (a config, a layer, ...).
        media_type: String,
        /// The repository it was mounted from.
        from: String,
    },
    /// A blob transfer starts (or restarts after a transient error).
    BlobStarted {
        /// The blob.
        digest: Digest,
        /// Its size in bytes.
        size: u64,
        /// Its media type (a config, a layer, ...).
        media_type: String,
        /// Bytes the destination already held from an earlier, interrupted transfer.
        offset: u64,
    },
    /// Bytes of a blob arrived.
    BlobProgress {
        /// The blob.
        digest: Digest,
        /// How many bytes of it the destination holds so far, the resume offset included.
        bytes: u64,
    },
    /// A blob is verified and written.
    BlobDone {
        /// The blob.
        digest: Digest,
    },
    /// A manifest or index was written at the destination.
    ManifestWritten {
        /// Its digest (the new one when the copy rewrote it).
        digest: Digest,
    },
}
