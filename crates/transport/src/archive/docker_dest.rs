//! Writing docker-archives in Docker 25+'s combined form: an OCI layout (`blobs/sha256/*`,
//! `index.json`, `oci-layout`) that `docker load` and skopeo also read through its
//! `manifest.json` and `repositories`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;
use oci::{AnyManifest, Descriptor, Digest, Index, Manifest, media};
use serde::Serialize;

use super::blob_writer::BlobArchive;
use super::names::ImageName;
use super::oci_archive::{ManifestLog, entry_descriptor};
use super::{
    ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, INDEX_FILE, MANIFEST_FILE, OCI_LAYOUT_CONTENT,
    OCI_LAYOUT_FILE, REPOSITORIES_FILE, blob_path,
};
use crate::{BlobStream, ImageDestination, TransportError};

/// An entry of `manifest.json` as Docker writes it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestItem {
    config: String,
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// Writes a docker-archive (Docker 25+'s combined form), streaming each blob into the tar as
/// it arrives. Several images may go into one archive (`docker save a b`).
///
/// Lifecycle: `put_blob`/`put_manifest` append `blobs/sha256/<hex>` entries (each blob once;
/// concurrent calls take turns). `put_manifest` with a tag, or a later
/// [`add_image_tag`](DockerArchiveDestination::add_image_tag), names an image; several names
/// of one image share its `RepoTags`. Untagged top-level manifests become images without
/// `RepoTags`. `commit` appends `index.json`, `oci-layout`, `manifest.json` and
/// `repositories`, ends the tar and, for a file, fsyncs it and renames it into place; dropped
/// without `commit`, the temporary file is removed. Layers are written as received (a gzip
/// layer stays gzip); `docker load` and skopeo detect the compression.
pub struct DockerArchiveDestination {
    archive: BlobArchive,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    log: ManifestLog,
    /// Names given to top-level manifests, in order: `(name, manifest digest)`.
    names: Vec<(ImageName, Digest)>,
}

impl DockerArchiveDestination {
    /// Starts an archive to be renamed onto `path` at `commit`.
    pub fn create(path: &Path) -> Result<DockerArchiveDestination, TransportError> {
        Ok(DockerArchiveDestination {
            archive: BlobArchive::create(path)?,
            state: Mutex::new(State::default()),
        })
    }

    /// Starts an archive written sequentially to `sink` (stdout for `save` without `-o`).
    pub fn to_writer(sink: impl Write + Send + 'static) -> DockerArchiveDestination {
        DockerArchiveDestination {
            archive: BlobArchive::to_writer(Box::new(sink)),
            state: Mutex::new(State::default()),
        }
    }

    /// Names the image whose top-level manifest (already put) is `manifest`: `name` is an
    /// image reference such as `alpine`, `alpine:3.19` or `localhost:5000/app:v1`. A name
    /// given to another image before moves to this one, as `docker tag` would.
    pub fn add_image_tag(&self, manifest: &Digest, name: &str) -> Result<(), TransportError> {
        let name = ImageName::parse(name)?;
        let mut state = self.lock();
        if state.log.get(manifest).is_none() {
            return Err(TransportError::NotFound {
                what: format!("manifest {manifest} in {}", self.archive.name()),
            });
        }
        state.names.retain(|(n, _)| *n != name);
        state.names.push((name, manifest.clone()));
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The trailing files, built from what was put.
    fn metadata(&self) -> Result<Vec<(String, Vec<u8>)>, TransportError> {
        let state = self.lock();
        // Images in the order first named (then untagged ones), each with its names.
        let mut images: Vec<(Digest, Vec<&ImageName>)> = Vec::new();
        for (name, digest) in &state.names {
            match images.iter_mut().find(|(d, _)| d == digest) {
                Some((_, names)) => names.push(name),
                None => images.push((digest.clone(), vec![name])),
            }
        }
        for root in state
            .log
            .untagged_roots(|m| state.names.iter().any(|(_, t)| t == m))
        {
            images.push((root.digest.clone(), Vec::new()));
        }
        if images.is_empty() {
            return Err(self.invalid("no image was written".into()));
        }

        let mut index_entries = Vec::new();
        let mut items = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (digest, names) in &images {
            let Some((top, parsed)) = state.log.get(digest) else {
                continue;
            };
            let base = entry_descriptor(top, parsed);
            if names.is_empty() {
                index_entries.push(base.clone());
            }
            for name in names {
                let mut e = base.clone();
                e.annotations = BTreeMap::from([
                    (ANNOTATION_IMAGE_NAME.to_string(), name.full()),
                    (ANNOTATION_REF_NAME.to_string(), name.tag.clone()),
                ]);
                index_entries.push(e);
            }
            let manifest = self.image_manifest(&state.log, digest, parsed)?;
            for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
                if !self.archive.has(&d.digest) {
                    return Err(self.invalid(format!(
                        "image {digest} needs blob {} that was not written",
                        d.digest
                    )));
                }
            }
            if let Some(top_layer) = manifest.layers.last() {
                for name in names {
                    repositories
                        .entry(name.familiar_repo())
                        .or_default()
                        .insert(name.tag.clone(), top_layer.digest.hex().to_string());
                }
            }
            items.push(ManifestItem {
                config: blob_path(&manifest.config.digest),
                repo_tags: (!names.is_empty())
                    .then(|| names.iter().map(|n| n.familiar()).collect()),
                layers: manifest
                    .layers
                    .iter()
                    .map(|l| blob_path(&l.digest))
                    .collect(),
            });
        }
        let index = Index {
            schema_version: 2,
            media_type: Some(media::OCI_INDEX.to_string()),
            artifact_type: None,
            manifests: index_entries,
            subject: None,
            annotations: BTreeMap::new(),
        };
        let mut files = vec![
            (INDEX_FILE.to_string(), index.to_vec()),
            (OCI_LAYOUT_FILE.to_string(), OCI_LAYOUT_CONTENT.to_vec()),
            (
                MANIFEST_FILE.to_string(),
                self.to_json(MANIFEST_FILE, &items)?,
            ),
        ];
        if !repositories.is_empty() {
            let repos = self.to_json(REPOSITORIES_FILE, &repositories)?;
            files.push((REPOSITORIES_FILE.to_string(), repos));
        }
        Ok(files)
    }

    /// The single-platform manifest behind a top-level one: itself, or for an index the
    /// first entry that was put (the platform the copy chose).
    fn image_manifest(
        &self,
        log: &ManifestLog,
        digest: &Digest,
        parsed: &AnyManifest,
    ) -> Result<Manifest, TransportError> {
        match parsed {
            AnyManifest::Manifest(m) => Ok(m.clone()),
            AnyManifest::Index(i) => i
                .manifests
                .iter()
                .find_map(|d| match log.get(&d.digest) {
                    Some((_, AnyManifest::Manifest(m))) => Some(m.clone()),
                    _ => None,
                })
                .ok_or_else(|| {
                    self.invalid(format!(
                        "index {digest} has none of its platform manifests in the archive; \
                         a docker-archive needs one (choose a platform)"
                    ))
                }),
        }
    }

    /// `manifest.json` and `repositories` as Docker writes them (Go's `json.Encoder`, so
    /// with a final newline; `index.json` is `json.Marshal`ed, without).
    fn to_json(&self, file: &str, v: &impl Serialize) -> Result<Vec<u8>, TransportError> {
        let mut bytes = serde_json::to_vec(v)
            .map_err(|e| self.invalid(format!("cannot serialise {file}: {e}")))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    fn invalid(&self, detail: String) -> TransportError {
        TransportError::Invalid {
            what: self.archive.name().to_string(),
            detail,
        }
    }
}

impl ImageDestination for DockerArchiveDestination {
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
        let name = tag.map(ImageName::parse).transpose()?;
        self.archive.put_blob_bytes(d, bytes.clone()).await?;
        let mut state = self.lock();
        state.log.record(self.archive.name(), d, &bytes)?;
        if let Some(name) = name {
            state.names.retain(|(n, _)| *n != name);
            state.names.push((name, d.digest.clone()));
        }
        Ok(())
    }

    async fn commit(&self) -> Result<(), TransportError> {
        let files = self.metadata()?;
        self.archive.finish(files).await
    }
}
