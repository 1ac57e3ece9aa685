//! OCI archives: a tar of an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/<alg>/<hex>`), as `skopeo copy … oci-archive:` and `buildx --output type=oci` write.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use oci::{AnyManifest, Descriptor, Digest, Index, media};

use super::blob_writer::BlobArchive;
use super::tar_index::TarIndex;
use super::{
    ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, INDEX_FILE, METADATA_LIMIT, OCI_LAYOUT_CONTENT,
    OCI_LAYOUT_FILE, blob_path,
};
use crate::{BlobStream, ImageDestination, ImageSource, TransportError, error_chain};

/// Reads one image (manifest or index) from an OCI archive.
///
/// An archive of several images opened without a reference reads none until one is chosen
/// with [`image`](OciArchiveSource::image) or [`image_at`](OciArchiveSource::image_at)
/// (`load` walks [`index`](OciArchiveSource::index) to take them all).
#[derive(Debug, Clone)]
pub struct OciArchiveSource {
    tar: Arc<TarIndex>,
    index: Arc<Index>,
    selected: Option<Descriptor>,
}

impl OciArchiveSource {
    /// Opens the archive at `path` and picks the image named `reference` (the
    /// `org.opencontainers.image.ref.name` or `io.containerd.image.name` annotation, or a
    /// digest), or the only image when `reference` is `None` (with several, none: see
    /// [`image`](OciArchiveSource::image)). Blocking: scans the archive.
    pub fn open(path: &Path, reference: Option<&str>) -> Result<OciArchiveSource, TransportError> {
        OciArchiveSource::from_tar(TarIndex::open_path(path)?, reference)
    }

    /// Like [`OciArchiveSource::open`] for an archive already indexed.
    pub fn from_tar(
        tar: TarIndex,
        reference: Option<&str>,
    ) -> Result<OciArchiveSource, TransportError> {
        let tar = Arc::new(tar);
        let index = read_layout_index(&tar)?;
        let selected = match reference {
            None if index.manifests.len() > 1 => None,
            r => Some(select_entry(&tar, &index, r)?),
        };
        Ok(OciArchiveSource {
            tar,
            index: Arc::new(index),
            selected,
        })
    }

    /// The archive's `index.json`.
    pub fn index(&self) -> &Index {
        &self.index
    }

    /// A source for the image named `reference` (as for [`open`](OciArchiveSource::open)).
    pub fn image(&self, reference: &str) -> Result<OciArchiveSource, TransportError> {
        Ok(OciArchiveSource {
            selected: Some(select_entry(&self.tar, &self.index, Some(reference))?),
            ..self.clone()
        })
    }

    /// A source for entry `i` of [`index`](OciArchiveSource::index).
    pub fn image_at(&self, i: usize) -> Result<OciArchiveSource, TransportError> {
        let d = self
            .index
            .manifests
            .get(i)
            .ok_or_else(|| TransportError::NotFound {
                what: format!(
                    "image #{i} in {} (it has {})",
                    self.tar.name(),
                    self.index.manifests.len()
                ),
            })?;
        Ok(OciArchiveSource {
            selected: Some(d.clone()),
            ..self.clone()
        })
    }
}

/// Parses `index.json` of a layout inside an archive, checking `oci-layout` is there.
pub(crate) fn read_layout_index(tar: &TarIndex) -> Result<Index, TransportError> {
    if !tar.contains(OCI_LAYOUT_FILE) {
        return Err(TransportError::Invalid {
            what: tar.name().to_string(),
            detail: format!("not an OCI archive: it has no {OCI_LAYOUT_FILE} file"),
        });
    }
    let bytes = tar.read_small(INDEX_FILE, METADATA_LIMIT)?;
    Index::from_slice(&bytes).map_err(|e| TransportError::Invalid {
        what: format!("{INDEX_FILE} in {}", tar.name()),
        detail: error_chain(&e),
    })
}

fn select_entry(
    tar: &TarIndex,
    index: &Index,
    reference: Option<&str>,
) -> Result<Descriptor, TransportError> {
    let names = || {
        index
            .manifests
            .iter()
            .map(|d| {
                d.annotations
                    .get(ANNOTATION_REF_NAME)
                    .cloned()
                    .unwrap_or_else(|| d.digest.to_string())
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match reference {
        None => match index.manifests.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(TransportError::Invalid {
                what: tar.name().to_string(),
                detail: "its index.json lists no images".into(),
            }),
            _ => Err(TransportError::Invalid {
                what: tar.name().to_string(),
                detail: format!(
                    "it holds {} images; name one of: {}",
                    index.manifests.len(),
                    names()
                ),
            }),
        },
        Some(r) => index
            .manifests
            .iter()
            .find(|d| {
                d.annotations.get(ANNOTATION_REF_NAME).map(String::as_str) == Some(r)
                    || d.annotations.get(ANNOTATION_IMAGE_NAME).map(String::as_str) == Some(r)
                    || d.digest.to_string() == r
            })
            .cloned()
            .ok_or_else(|| TransportError::NotFound {
                what: format!("image {r:?} in {} (it has: {})", tar.name(), names()),
            }),
    }
}

/// Reads `blobs/<alg>/<hex>` into memory (manifests, configs).
pub(crate) fn read_blob_bytes(tar: &TarIndex, digest: &Digest) -> Result<Bytes, TransportError> {
    tar.read_small(&blob_path(digest), METADATA_LIMIT)
        .map(Bytes::from)
}

/// Streams `blobs/<alg>/<hex>` from `offset`.
pub(crate) fn stream_blob(
    tar: &TarIndex,
    path: &str,
    d: &Descriptor,
    offset: u64,
) -> Result<BlobStream, TransportError> {
    let entry = tar.get(path)?.ok_or_else(|| TransportError::NotFound {
        what: format!("blob {} in {}", d.digest, tar.name()),
    })?;
    if offset > entry.size {
        return Err(TransportError::Invalid {
            what: format!("blob {} in {}", d.digest, tar.name()),
            detail: format!("offset {offset} is past its end ({} bytes)", entry.size),
        });
    }
    Ok(tar.stream(entry, offset))
}

impl ImageSource for OciArchiveSource {
    async fn resolve(&self) -> Result<Descriptor, TransportError> {
        match &self.selected {
            Some(d) => Ok(d.clone()),
            None => select_entry(&self.tar, &self.index, None),
        }
    }

    async fn manifest(&self, d: &Descriptor) -> Result<Bytes, TransportError> {
        read_blob_bytes(&self.tar, &d.digest)
    }

    async fn blob(&self, d: &Descriptor, offset: u64) -> Result<BlobStream, TransportError> {
        stream_blob(&self.tar, &blob_path(&d.digest), d, offset)
    }
}

/// What the destinations remember about the manifests put into them.
#[derive(Debug, Default)]
pub(crate) struct ManifestLog {
    /// Every manifest or index written, in order, parsed.
    pub manifests: Vec<(Descriptor, AnyManifest)>,
    /// Tags given, in order: `(tag, manifest digest)`.
    pub tags: Vec<(String, Digest)>,
}

impl ManifestLog {
    /// Parses and records a manifest.
    pub(crate) fn record(
        &mut self,
        archive: &str,
        d: &Descriptor,
        bytes: &[u8],
    ) -> Result<(), TransportError> {
        let parsed = AnyManifest::parse(Some(&d.media_type), bytes).map_err(|e| {
            TransportError::Invalid {
                what: format!("manifest {} for {archive}", d.digest),
                detail: error_chain(&e),
            }
        })?;
        if !self.manifests.iter().any(|(m, _)| m.digest == d.digest) {
            self.manifests.push((d.clone(), parsed));
        }
        Ok(())
    }

    /// The manifest or index recorded under `digest`.
    pub(crate) fn get(&self, digest: &Digest) -> Option<&(Descriptor, AnyManifest)> {
        self.manifests.iter().find(|(d, _)| d.digest == *digest)
    }

    /// Manifests that no other recorded index lists and that `tagged` says have no name:
    /// top-level images put without a name.
    pub(crate) fn untagged_roots(&self, tagged: impl Fn(&Digest) -> bool) -> Vec<&Descriptor> {
        let children: HashSet<&Digest> = self
            .manifests
            .iter()
            .filter_map(|(_, m)| match m {
                AnyManifest::Index(i) => Some(i.manifests.iter().map(|d| &d.digest)),
                AnyManifest::Manifest(_) => None,
            })
            .flatten()
            .collect();
        self.manifests
            .iter()
            .map(|(d, _)| d)
            .filter(|d| !children.contains(&d.digest) && !tagged(&d.digest))
            .collect()
    }
}

/// The descriptor to list in an index for a recorded manifest: its digest and size, and the
/// media type its bytes declare.
pub(crate) fn entry_descriptor(d: &Descriptor, m: &AnyManifest) -> Descriptor {
    let media_type = match m {
        AnyManifest::Manifest(man) => man.effective_media_type().to_string(),
        AnyManifest::Index(i) => i
            .media_type
            .clone()
            .unwrap_or_else(|| media::OCI_INDEX.to_string()),
    };
    let media_type = if media::is_manifest(&d.media_type) || media::is_index(&d.media_type) {
        d.media_type.clone()
    } else {
        media_type
    };
    let mut out = Descriptor::new(media_type, d.digest.clone(), d.size);
    out.platform = d.platform.clone();
    out
}

/// Writes an OCI archive, streaming each blob into the tar as it arrives.
///
/// Lifecycle: `put_blob`/`put_manifest` append `blobs/<alg>/<hex>` entries (each blob once;
/// concurrent calls take turns); a manifest put with a tag gets an `index.json` entry
/// annotated `org.opencontainers.image.ref.name = tag`, and untagged top-level manifests get
/// entries without a name. `commit` appends `oci-layout` and `index.json`, ends the tar,
/// fsyncs and renames it onto the target path. Dropped without `commit`, the temporary file
/// is removed.
pub struct OciArchiveDestination {
    archive: BlobArchive,
    log: Mutex<ManifestLog>,
}

impl OciArchiveDestination {
    /// Starts an archive to be renamed onto `path` at `commit` (a temporary file beside it
    /// holds the data until then).
    pub fn create(path: &Path) -> Result<OciArchiveDestination, TransportError> {
        Ok(OciArchiveDestination {
            archive: BlobArchive::create(path)?,
            log: Mutex::new(ManifestLog::default()),
        })
    }

    /// Starts an archive written sequentially to `sink` (stdout).
    pub fn to_writer(sink: impl Write + Send + 'static) -> OciArchiveDestination {
        OciArchiveDestination {
            archive: BlobArchive::to_writer(Box::new(sink)),
            log: Mutex::new(ManifestLog::default()),
        }
    }

    fn index_json(&self) -> Vec<u8> {
        let log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        let mut entries: Vec<Descriptor> = Vec::new();
        let mut seen_tags: Vec<&str> = Vec::new();
        // The last manifest given a tag wins it, as when re-tagging in a layout.
        for (tag, digest) in log.tags.iter().rev() {
            if seen_tags.contains(&tag.as_str()) {
                continue;
            }
            seen_tags.push(tag);
            if let Some((d, m)) = log.get(digest) {
                let mut e = entry_descriptor(d, m);
                e.annotations = BTreeMap::from([(ANNOTATION_REF_NAME.to_string(), tag.clone())]);
                entries.push(e);
            }
        }
        entries.reverse();
        for d in log.untagged_roots(|m| log.tags.iter().any(|(_, t)| t == m)) {
            if let Some((d, m)) = log.get(&d.digest) {
                entries.push(entry_descriptor(d, m));
            }
        }
        Index {
            schema_version: 2,
            media_type: Some(media::OCI_INDEX.to_string()),
            artifact_type: None,
            manifests: entries,
            subject: None,
            annotations: BTreeMap::new(),
        }
        .to_vec()
    }
}

impl ImageDestination for OciArchiveDestination {
    async fn has_blob(&self, d: &Descriptor) -> Result<bool, TransportError> {
        Ok(self.archive.has(&d.digest))
    }

    async fn put_blob(&self, d: &Descriptor, stream: BlobStream) -> Result<(), TransportError> {
        self.archive.put_blob(d, stream).await
    }

    async fn put_manifest(
        &self,
        d: &Descriptor,
        bytes: Bytes,
        tag: Option<&str>,
    ) -> Result<(), TransportError> {
        self.archive.put_blob_bytes(d, bytes.clone()).await?;
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        log.record(self.archive.name(), d, &bytes)?;
        if let Some(tag) = tag {
            log.tags.push((tag.to_string(), d.digest.clone()));
        }
        Ok(())
    }

    async fn commit(&self) -> Result<(), TransportError> {
        let index = self.index_json();
        self.archive
            .finish(vec![
                (OCI_LAYOUT_FILE.to_string(), OCI_LAYOUT_CONTENT.to_vec()),
                (INDEX_FILE.to_string(), index),
            ])
            .await
    }
}
