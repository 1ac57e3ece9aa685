//! Signatures in an OCI image layout directory: the `sha256-<hex>.sig` signature manifest is
//! an `index.json` entry named by that tag (its `org.opencontainers.image.ref.name`), as
//! `skopeo copy … oci:DIR:TAG` names any image, so the layout can be copied back to a
//! registry with its signatures.

use bytes::Bytes;
use oci::Descriptor;
use transport::{
    ImageDestination as _, ImageSource as _, LayoutDestination, LayoutSource, OciLayout,
    TransportError,
};

use crate::TrustError;
use crate::repo::{SignatureRepo, bytes_stream, check_digest, check_document_size, read_document};

/// An OCI layout holding images and their signatures.
#[derive(Debug, Clone)]
pub struct LayoutRepo {
    path: std::path::PathBuf,
}

impl LayoutRepo {
    /// The layout at `path` (created on the first write when missing).
    pub fn new(path: impl Into<std::path::PathBuf>) -> LayoutRepo {
        LayoutRepo { path: path.into() }
    }

    /// Opens the layout for reading; `None` when it does not exist yet.
    fn open(&self) -> Result<Option<OciLayout>, TrustError> {
        if !self.path.join("oci-layout").exists() {
            return Ok(None);
        }
        Ok(Some(OciLayout::open(self.path.clone())?))
    }

    fn source(&self, layout: OciLayout, top: &Descriptor) -> Result<LayoutSource, TrustError> {
        Ok(LayoutSource::new(layout, Some(&top.digest.to_string()))?)
    }

    /// A reader for blobs: any entry serves, blobs are found by digest.
    fn reader(&self, d: &Descriptor) -> Result<LayoutSource, TrustError> {
        let layout = self.open()?.ok_or_else(|| TransportError::NotFound {
            what: format!("layout {}", self.path.display()),
        })?;
        // LayoutSource wants an entry to open; the blob is read by its digest alone, so any
        // entry will do.
        let top = layout
            .index()?
            .manifests
            .into_iter()
            .next()
            .ok_or_else(|| TransportError::NotFound {
                what: format!(
                    "{} in layout {} (it is empty)",
                    d.digest,
                    self.path.display()
                ),
            })?;
        self.source(layout, &top)
    }
}

impl SignatureRepo for LayoutRepo {
    async fn resolve(&self, reference: &str) -> Result<Option<Descriptor>, TrustError> {
        let Some(layout) = self.open()? else {
            return Ok(None);
        };
        match layout.find(Some(reference)) {
            Ok(d) => Ok(Some(d)),
            Err(TransportError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn manifest(&self, d: &Descriptor) -> Result<Vec<u8>, TrustError> {
        let bytes = self.reader(d)?.manifest(d).await?;
        check_digest(&d.digest, &bytes, "manifest")?;
        Ok(bytes.to_vec())
    }

    async fn blob(&self, d: &Descriptor) -> Result<Vec<u8>, TrustError> {
        check_document_size(d)?;
        let stream = self.reader(d)?.blob(d, 0).await?;
        let what = format!("blob {} in layout {}", d.digest, self.path.display());
        read_document(stream, d, what).await
    }

    async fn put_blob(&self, d: &Descriptor, bytes: Vec<u8>) -> Result<(), TrustError> {
        let dest = LayoutDestination::new(self.path.clone(), None)?;
        dest.put_blob(d, bytes_stream(bytes)).await?;
        Ok(())
    }

    async fn put_manifest(
        &self,
        d: &Descriptor,
        bytes: Vec<u8>,
        tag: &str,
    ) -> Result<(), TrustError> {
        let dest = LayoutDestination::new(self.path.clone(), None)?;
        dest.put_manifest(d, Bytes::from(bytes), Some(tag)).await?;
        // The destination names its last manifest in index.json on commit, replacing an
        // older signature manifest of the same tag.
        dest.commit().await?;
        Ok(())
    }
}
