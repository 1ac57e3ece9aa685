//! The upstream a pull-through cache mirrors, as a trait (the CLI implements it over the
//! transport crate's client), and what it answers.

use bytes::Bytes;
use futures::future::BoxFuture;
use oci::Digest;

use crate::storage::ByteStream;

/// The upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// It could not be reached, refused us, or answered with an error status.
    #[error("upstream {what}: {message}")]
    Unavailable {
        /// What was asked (`manifest app:v1`).
        what: String,
        /// What went wrong.
        message: String,
    },
    /// It answered with content that is not what was asked for.
    #[error("upstream {what}: {message}")]
    Invalid {
        /// What was asked.
        what: String,
        /// What is wrong with the answer.
        message: String,
    },
}

/// A manifest as the upstream serves it.
#[derive(Debug, Clone)]
pub struct UpstreamManifest {
    /// Its exact bytes (at most [`crate::repo::MANIFEST_MAX`]).
    pub bytes: Bytes,
    /// Its media type.
    pub media_type: String,
    /// Its digest (checked again by the cache before storing).
    pub digest: Digest,
}

/// A blob as the upstream streams it.
pub struct UpstreamBlob {
    /// Its size, when the upstream said.
    pub size: Option<u64>,
    /// Its bytes (unverified: the cache checks the digest).
    pub stream: ByteStream<'static>,
}

impl std::fmt::Debug for UpstreamBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamBlob")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// The registry a pull-through cache mirrors. `Ok(None)` means the upstream says the
/// thing does not exist (404); errors mean it could not tell.
pub trait Upstream: Send + Sync + 'static {
    /// The manifest `reference` (tag or digest) of repository `name`.
    fn manifest<'a>(
        &'a self,
        name: &'a str,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<UpstreamManifest>, UpstreamError>>;

    /// The digest the tag or digest `reference` of `name` names, without its body (`HEAD`).
    fn manifest_digest<'a>(
        &'a self,
        name: &'a str,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<Digest>, UpstreamError>>;

    /// Blob `digest` of repository `name`, as a stream.
    fn blob<'a>(
        &'a self,
        name: &'a str,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Option<UpstreamBlob>, UpstreamError>>;

    /// Every tag of repository `name`.
    fn tags<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, UpstreamError>>;
}
