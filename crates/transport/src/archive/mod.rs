//! Tar-based image archives: OCI archives (a tarred OCI layout) and docker-archives (what
//! `docker save` writes, in the classic form and Docker 25's combined OCI form).
//!
//! Reading never extracts: [`TarIndex`] scans the headers once and serves entries by
//! positioned reads. Writing streams: each blob becomes a tar entry as it arrives, and the
//! index files are appended at `commit`, which then renames the finished archive into place.
//!
//! | type | reads / writes |
//! |---|---|
//! | [`OciArchiveSource`] / [`OciArchiveDestination`] | `oci-layout`, `index.json`, `blobs/<alg>/<hex>` |
//! | [`DockerArchiveSource`] | classic `docker save` (`manifest.json`, `<id>/layer.tar`) and Docker 25+ |
//! | [`DockerArchiveDestination`] | Docker 25+'s form: OCI layout plus `manifest.json` and `repositories` |

mod blob_writer;
mod docker_dest;
mod docker_source;
mod names;
mod oci_archive;
mod tar_index;
mod tar_writer;

pub use docker_dest::DockerArchiveDestination;
pub use docker_source::{ArchiveImage, DockerArchiveSource};
pub use oci_archive::{OciArchiveDestination, OciArchiveSource};
pub use tar_index::{EntryReader, TarEntry, TarIndex, spool_to_tempfile};

use bytes::Bytes;
use oci::{Descriptor, Digest};

use crate::{BlobStream, ImageDestination, TransportError};

/// A destination whose `commit` does nothing, so that several copies can write into one
/// archive before it is committed once (`save a b`): the copy engine commits after every
/// image.
///
/// ```ignore
/// let dst = DockerArchiveDestination::create(path)?;
/// copy(&a, &WithoutCommit(&dst), &opts_a).await?;
/// copy(&b, &WithoutCommit(&dst), &opts_b).await?;
/// dst.commit().await?;
/// ```
pub struct WithoutCommit<'a, D>(pub &'a D);

impl<D: ImageDestination> ImageDestination for WithoutCommit<'_, D> {
    async fn has_blob(&self, d: &Descriptor) -> Result<bool, TransportError> {
        self.0.has_blob(d).await
    }

    async fn mount_blob(&self, d: &Descriptor, from_repo: &str) -> Result<bool, TransportError> {
        self.0.mount_blob(d, from_repo).await
    }

    async fn resume_offset(&self, d: &Descriptor) -> u64 {
        self.0.resume_offset(d).await
    }

    fn verifies_content(&self) -> bool {
        self.0.verifies_content()
    }

    async fn put_blob(&self, d: &Descriptor, stream: BlobStream) -> Result<(), TransportError> {
        self.0.put_blob(d, stream).await
    }

    async fn put_manifest(
        &self,
        d: &Descriptor,
        bytes: Bytes,
        tag: Option<&str>,
    ) -> Result<(), TransportError> {
        self.0.put_manifest(d, bytes, tag).await
    }

    async fn commit(&self) -> Result<(), TransportError> {
        Ok(())
    }
}

/// The file naming an OCI layout's version.
pub(crate) const OCI_LAYOUT_FILE: &str = "oci-layout";
/// Its content.
pub(crate) const OCI_LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// The layout's top-level index.
pub(crate) const INDEX_FILE: &str = "index.json";
/// Docker's list of images in an archive.
pub(crate) const MANIFEST_FILE: &str = "manifest.json";
/// Docker's legacy `repo → tag → top layer id` map.
pub(crate) const REPOSITORIES_FILE: &str = "repositories";
/// OCI's annotation for an index entry's name (a tag, in Docker's use).
pub(crate) const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// containerd's (and Docker 25's) annotation for an entry's full image name.
pub(crate) const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// Docker's media type for a zstd layer (containerd's spelling; `oci` has no constant).
pub(crate) const DOCKER_LAYER_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";
/// The most we read into memory for one JSON file (manifests, configs, indexes).
pub(crate) const METADATA_LIMIT: u64 = 64 * 1024 * 1024;

/// Where a blob lives in an OCI layout: `blobs/sha256/<hex>`.
pub(crate) fn blob_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().name(), digest.hex())
}
