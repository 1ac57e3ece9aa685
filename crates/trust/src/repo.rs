//! Where signatures are read from and written to.
//!
//! [`SignatureRepo`] is the small surface sign and verify need: resolve an image, read a
//! manifest or blob, find a tag, write blobs and a tagged manifest, and, for bundles,
//! write an untagged manifest and list an image's referrers. [`RegistryRepo`]
//! implements it on a registry repository through transport's public client; an OCI layout
//! can implement it the same way.

use std::future::Future;

use bytes::Bytes;
use oci::{Descriptor, Digest};
use tokio::io::AsyncReadExt as _;
use transport::{
    ImageDestination as _, ImageSource as _, RegistryClient, RegistryDestination, RegistrySource,
    TransportError,
};

use crate::TrustError;

/// The most a signature blob (payload, config) or manifest may be: these are small JSON
/// documents, and a registry that sends more is refused rather than buffered.
pub const MAX_DOCUMENT: u64 = 4 << 20;

/// A repository holding images and their signatures.
pub trait SignatureRepo: Send + Sync {
    /// The descriptor of the manifest or index `reference` (a tag or a digest) names, or
    /// `None` when there is none.
    fn resolve(
        &self,
        reference: &str,
    ) -> impl Future<Output = Result<Option<Descriptor>, TrustError>> + Send;
    /// The exact bytes of a manifest, checked against its digest.
    fn manifest(&self, d: &Descriptor) -> impl Future<Output = Result<Vec<u8>, TrustError>> + Send;
    /// A small blob's bytes. The caller checks the digest (a mismatch is a verification
    /// failure to report, not an I/O error).
    fn blob(&self, d: &Descriptor) -> impl Future<Output = Result<Vec<u8>, TrustError>> + Send;
    /// Stores a blob unless it is there.
    fn put_blob(
        &self,
        d: &Descriptor,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<(), TrustError>> + Send;
    /// Stores a manifest under `tag`.
    fn put_manifest(
        &self,
        d: &Descriptor,
        bytes: Vec<u8>,
        tag: &str,
    ) -> impl Future<Output = Result<(), TrustError>> + Send;
    /// Stores a manifest by its digest only, without a tag (a bundle's referrer manifest,
    /// reached through its `subject`). Its blobs are stored first.
    ///
    /// The default stores the bytes as a blob, which is what an untagged manifest is in an
    /// OCI layout (it stays reachable from the referrers tag schema's index). It fits only
    /// where [`manifest`](Self::manifest) reads manifests from the blob store, as a layout
    /// does; a registry overrides it with `PUT /v2/<name>/manifests/<digest>`.
    fn put_manifest_untagged(
        &self,
        d: &Descriptor,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<(), TrustError>> + Send {
        self.put_blob(d, bytes)
    }
    /// The descriptors of the manifests whose `subject` is `subject` (the OCI referrers
    /// API), only those of `artifact_type` when given, each with its `artifactType` and
    /// annotations. `None` when this repository cannot list referrers: then sign and
    /// verify use the referrers tag schema (an index tagged `sha256-<hex>`), read and
    /// written through [`resolve`](Self::resolve), [`manifest`](Self::manifest) and
    /// [`put_manifest`](Self::put_manifest).
    ///
    /// The default is `None`, right for an OCI layout, which has no such listing.
    fn referrers(
        &self,
        subject: &Descriptor,
        artifact_type: Option<&str>,
    ) -> impl Future<Output = Result<Option<Vec<Descriptor>>, TrustError>> + Send {
        let _ = (subject, artifact_type);
        async { Ok(None) }
    }
}

/// A repository in a registry.
#[derive(Debug)]
pub struct RegistryRepo {
    client: RegistryClient,
    repo: String,
}

impl RegistryRepo {
    /// The repository `repo` (a reference's path) on `client`'s registry.
    pub fn new(client: RegistryClient, repo: impl Into<String>) -> RegistryRepo {
        RegistryRepo {
            client,
            repo: repo.into(),
        }
    }

    fn source(&self, reference: &str) -> RegistrySource {
        RegistrySource::new(self.client.clone(), self.repo.clone(), reference)
    }
}

impl SignatureRepo for RegistryRepo {
    async fn resolve(&self, reference: &str) -> Result<Option<Descriptor>, TrustError> {
        match self.source(reference).resolve().await {
            Ok(d) => Ok(Some(d)),
            Err(TransportError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn manifest(&self, d: &Descriptor) -> Result<Vec<u8>, TrustError> {
        let bytes = self.source(&d.digest.to_string()).manifest(d).await?;
        check_digest(&d.digest, &bytes, "manifest")?;
        Ok(bytes.to_vec())
    }

    async fn blob(&self, d: &Descriptor) -> Result<Vec<u8>, TrustError> {
        check_document_size(d)?;
        let stream = self.source(&d.digest.to_string()).blob(d, 0).await?;
        read_document(stream, d, format!("blob {}", d.digest)).await
    }

    async fn put_blob(&self, d: &Descriptor, bytes: Vec<u8>) -> Result<(), TrustError> {
        let dest = RegistryDestination::new(self.client.clone(), self.repo.clone());
        if dest.has_blob(d).await? {
            return Ok(());
        }
        dest.put_blob(d, bytes_stream(bytes)).await?;
        Ok(())
    }

    async fn put_manifest(
        &self,
        d: &Descriptor,
        bytes: Vec<u8>,
        tag: &str,
    ) -> Result<(), TrustError> {
        let dest = RegistryDestination::new(self.client.clone(), self.repo.clone());
        dest.put_manifest(d, Bytes::from(bytes), Some(tag)).await?;
        Ok(())
    }

    async fn put_manifest_untagged(
        &self,
        d: &Descriptor,
        bytes: Vec<u8>,
    ) -> Result<(), TrustError> {
        let dest = RegistryDestination::new(self.client.clone(), self.repo.clone());
        dest.put_manifest(d, Bytes::from(bytes), None).await?;
        Ok(())
    }

    async fn referrers(
        &self,
        subject: &Descriptor,
        artifact_type: Option<&str>,
    ) -> Result<Option<Vec<Descriptor>>, TrustError> {
        let index = self
            .client
            .referrers(&self.repo, &subject.digest, artifact_type)
            .await?;
        Ok(index.map(|i| i.manifests))
    }
}

/// Refuses a signature document (payload, bundle, config) said to be larger than one may be.
pub(crate) fn check_document_size(d: &Descriptor) -> Result<(), TrustError> {
    if d.size <= MAX_DOCUMENT {
        return Ok(());
    }
    Err(TrustError::BadDocument {
        what: format!("blob {}", d.digest),
        detail: format!(
            "{} bytes, more than a signature document may be ({MAX_DOCUMENT})",
            d.size
        ),
    })
}

/// Reads a signature document's stream (`what` names it in errors), never more than
/// [`MAX_DOCUMENT`] and one byte: the caller checks the digest, which a longer stream fails.
pub(crate) async fn read_document(
    stream: transport::BlobStream,
    d: &Descriptor,
    what: String,
) -> Result<Vec<u8>, TrustError> {
    let mut buf = Vec::with_capacity(d.size.min(MAX_DOCUMENT) as usize);
    stream
        .take(MAX_DOCUMENT + 1)
        .read_to_end(&mut buf)
        .await
        .map_err(|source| TransportError::Stream { what, source })?;
    Ok(buf)
}

/// A small document's bytes as a blob stream, for a destination's `put_blob`.
pub(crate) fn bytes_stream(bytes: Vec<u8>) -> transport::BlobStream {
    Box::pin(std::io::Cursor::new(bytes))
}

/// What to ask a repository for to find the image `r` names: its digest when pinned, else
/// its tag (`latest` when it has none), as `docker pull` does.
pub fn tag_or_digest(r: &oci::Reference) -> String {
    match (r.digest(), r.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => "latest".to_string(),
    }
}

/// Refuses bytes that do not hash to `digest`.
pub(crate) fn check_digest(digest: &Digest, bytes: &[u8], what: &str) -> Result<(), TrustError> {
    if digest.verify(bytes) {
        return Ok(());
    }
    Err(TransportError::DigestMismatch {
        what: format!("{what} {digest}"),
        actual: Digest::of(digest.algorithm(), bytes),
        expected: digest.clone(),
    }
    .into())
}
