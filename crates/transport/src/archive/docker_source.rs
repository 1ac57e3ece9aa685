//! Reading docker-archives: the classic `docker save` form (`manifest.json`, `<hex>.json`
//! configs, `<id>/layer.tar` layers, often symlinked between images) and Docker 25+'s
//! combined form (an OCI layout whose `manifest.json` points into `blobs/`).

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use oci::{AnyManifest, Descriptor, Digest, Index, Manifest, media};
use serde::Deserialize;

use super::names::ImageName;
use super::oci_archive::{read_blob_bytes, read_layout_index, stream_blob};
use super::tar_index::TarIndex;
use super::{
    DOCKER_LAYER_ZSTD, INDEX_FILE, MANIFEST_FILE, METADATA_LIMIT, OCI_LAYOUT_FILE,
    REPOSITORIES_FILE, blob_path,
};
use crate::{BlobStream, ImageSource, TransportError};

/// One image listed in a docker-archive's `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveImage {
    /// Its names as the archive spells them (`alpine:latest`); empty for an untagged image.
    pub repo_tags: Vec<String>,
    /// Its position in `manifest.json`, for [`DockerArchiveSource::image`].
    pub index: usize,
    /// The position of an earlier entry with the same config and layers, when this one
    /// repeats it: a loader copies that image once and only adds this entry's names.
    pub same_as: Option<usize>,
}

/// An entry of `manifest.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestItem {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// The parts of an image config a synthesised manifest needs.
#[derive(Debug, Deserialize)]
struct ConfigProbe {
    #[serde(default)]
    rootfs: Option<RootFs>,
}

#[derive(Debug, Deserialize)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<Digest>,
}

/// The image a source was opened for.
#[derive(Debug)]
struct Selected {
    /// The top-level manifest's descriptor.
    desc: Descriptor,
    /// Manifest bytes served from memory (a synthesised one), by digest.
    manifests: HashMap<Digest, Bytes>,
    /// Archive paths of blobs that are not at `blobs/<alg>/<hex>`.
    paths: HashMap<Digest, String>,
}

/// Reads a docker-archive. [`list`](DockerArchiveSource::list) shows its images; an
/// [`ImageSource`] is opened for one of them with [`image`](DockerArchiveSource::image) or
/// [`image_by_tag`](DockerArchiveSource::image_by_tag) (an archive of one image opens it at
/// once).
///
/// For Docker 25+'s form the image's real manifest (from `index.json` and `blobs/`) is
/// served. For the classic form a Docker schema2 manifest is synthesised once per opening:
/// the config's digest is that of its bytes; an uncompressed layer's digest is its diffID
/// from the config, a gzip or zstd layer's is computed by hashing the file when the image is
/// opened.
#[derive(Debug, Clone)]
pub struct DockerArchiveSource {
    tar: Arc<TarIndex>,
    items: Arc<Vec<ManifestItem>>,
    oci_index: Option<Arc<Index>>,
    selected: Option<Arc<Selected>>,
}

impl DockerArchiveSource {
    /// Opens the archive at `path`, reads its `manifest.json`, and when it holds exactly one
    /// image opens that one. Blocking: scans the archive and may hash compressed layers.
    pub fn open(path: &Path) -> Result<DockerArchiveSource, TransportError> {
        DockerArchiveSource::from_tar(TarIndex::open_path(path)?)
    }

    /// Like [`DockerArchiveSource::open`] for an archive already indexed (a spooled stdin).
    pub fn from_tar(tar: TarIndex) -> Result<DockerArchiveSource, TransportError> {
        let tar = Arc::new(tar);
        if tar.get(MANIFEST_FILE)?.is_none() {
            let hint = if tar.contains(OCI_LAYOUT_FILE) {
                " (it is an OCI archive: read it as oci-archive)"
            } else {
                ""
            };
            return Err(TransportError::Invalid {
                what: tar.name().to_string(),
                detail: format!("not a docker-archive: it has no {MANIFEST_FILE}{hint}"),
            });
        }
        let raw = tar.read_small(MANIFEST_FILE, METADATA_LIMIT)?;
        let mut items: Vec<ManifestItem> =
            serde_json::from_slice(&raw).map_err(|e| TransportError::Invalid {
                what: format!("{MANIFEST_FILE} in {}", tar.name()),
                detail: e.to_string(),
            })?;
        fill_tags_from_repositories(&tar, &mut items);
        let oci_index = if tar.contains(OCI_LAYOUT_FILE) && tar.contains(INDEX_FILE) {
            Some(Arc::new(read_layout_index(&tar)?))
        } else {
            None
        };
        let mut source = DockerArchiveSource {
            tar,
            items: Arc::new(items),
            oci_index,
            selected: None,
        };
        if source.items.len() == 1 {
            source = source.image(0)?;
        }
        Ok(source)
    }

    /// The images in the archive, in `manifest.json` order.
    pub fn list(&self) -> Vec<ArchiveImage> {
        // Keyed by the normalised paths, so `./a.json` repeats `a.json`: one pass, so that
        // an archive of many repeated entries costs linear time.
        let mut first: HashMap<(String, Vec<String>), usize> = HashMap::new();
        self.items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                let key = (
                    super::tar_index::normalise(&item.config),
                    item.layers
                        .iter()
                        .map(|l| super::tar_index::normalise(l))
                        .collect(),
                );
                let same_as = match first.entry(key) {
                    std::collections::hash_map::Entry::Occupied(e) => Some(*e.get()),
                    std::collections::hash_map::Entry::Vacant(e) => {
                        e.insert(index);
                        None
                    }
                };
                ArchiveImage {
                    repo_tags: item.repo_tags.clone().unwrap_or_default(),
                    index,
                    same_as,
                }
            })
            .collect()
    }

    /// A source for the image at `index` in [`list`](DockerArchiveSource::list). Blocking:
    /// may hash compressed layers.
    pub fn image(&self, index: usize) -> Result<DockerArchiveSource, TransportError> {
        let item = self
            .items
            .get(index)
            .ok_or_else(|| TransportError::NotFound {
                what: format!(
                    "image #{index} in {} (it has {} images)",
                    self.tar.name(),
                    self.items.len()
                ),
            })?;
        let selected = self.select(item)?;
        Ok(DockerArchiveSource {
            selected: Some(Arc::new(selected)),
            ..self.clone()
        })
    }

    /// A source for the image tagged `tag` (`alpine`, `alpine:3`, the full
    /// `docker.io/library/alpine:3` all match `alpine:3`).
    pub fn image_by_tag(&self, tag: &str) -> Result<DockerArchiveSource, TransportError> {
        let wanted = ImageName::parse(tag).ok();
        let found = self.items.iter().position(|item| {
            item.repo_tags.iter().flatten().any(|t| {
                t == tag
                    || matches!((&wanted, ImageName::parse(t)), (Some(w), Ok(have)) if *w == have)
            })
        });
        match found {
            Some(i) => self.image(i),
            None => Err(TransportError::NotFound {
                what: format!(
                    "image {tag:?} in {} (it has: {})",
                    self.tar.name(),
                    self.list()
                        .iter()
                        .map(|i| if i.repo_tags.is_empty() {
                            format!("#{} (untagged)", i.index)
                        } else {
                            i.repo_tags.join(" ")
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }),
        }
    }

    fn invalid(&self, detail: String) -> TransportError {
        TransportError::Invalid {
            what: self.tar.name().to_string(),
            detail,
        }
    }

    fn select(&self, item: &ManifestItem) -> Result<Selected, TransportError> {
        let config_path = super::tar_index::normalise(&item.config);
        let config = self.tar.read_small(&config_path, METADATA_LIMIT)?;
        let config_digest = Digest::sha256_of(&config);
        if let Some(found) = self.find_real_manifest(&config_digest)? {
            return Ok(found);
        }
        let probe: ConfigProbe =
            serde_json::from_slice(&config).map_err(|e| TransportError::Invalid {
                what: format!("image config {config_path} in {}", self.tar.name()),
                detail: e.to_string(),
            })?;
        let diff_ids = probe.rootfs.map(|r| r.diff_ids).unwrap_or_default();
        if diff_ids.len() != item.layers.len() {
            return Err(self.invalid(format!(
                "{MANIFEST_FILE} lists {} layers for {config_path} but its config has {} diff_ids",
                item.layers.len(),
                diff_ids.len()
            )));
        }
        let mut paths = HashMap::new();
        paths.insert(config_digest.clone(), config_path);
        let mut layers = Vec::with_capacity(item.layers.len());
        for (path, diff_id) in item.layers.iter().zip(diff_ids) {
            let path = super::tar_index::normalise(path);
            let entry = self.tar.require(&path)?;
            let head = self.tar.head(entry, 4)?;
            let compressed = if head.starts_with(&[0x1f, 0x8b]) {
                Some(media::DOCKER_LAYER_GZIP)
            } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
                Some(DOCKER_LAYER_ZSTD)
            } else {
                None
            };
            let (digest, media_type) = match compressed {
                None => (diff_id, media::DOCKER_LAYER),
                Some(mt) => (self.hash_entry(&path)?, mt),
            };
            paths.insert(digest.clone(), path);
            layers.push(Descriptor::new(media_type, digest, entry.size));
        }
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(media::DOCKER_MANIFEST.to_string()),
            artifact_type: None,
            config: Descriptor::new(media::DOCKER_CONFIG, config_digest, config.len() as u64),
            layers,
            subject: None,
            annotations: BTreeMap::new(),
        };
        let bytes = Bytes::from(manifest.to_vec());
        let desc = Descriptor::of_bytes(media::DOCKER_MANIFEST, &bytes);
        Ok(Selected {
            manifests: HashMap::from([(desc.digest.clone(), bytes)]),
            desc,
            paths,
        })
    }

    /// For Docker 25+'s form: the manifest in `index.json` (directly, or inside an index
    /// entry) whose config is `config`.
    fn find_real_manifest(&self, config: &Digest) -> Result<Option<Selected>, TransportError> {
        let Some(index) = &self.oci_index else {
            return Ok(None);
        };
        for top in &index.manifests {
            let Some(bytes) = self.blob_bytes_if_present(&top.digest)? else {
                continue;
            };
            let candidates: Vec<(Descriptor, Bytes)> =
                match AnyManifest::parse(Some(&top.media_type), &bytes) {
                    Ok(AnyManifest::Manifest(_)) => vec![(top.clone(), bytes)],
                    Ok(AnyManifest::Index(i)) => {
                        let mut v = Vec::new();
                        for child in i.manifests {
                            if let Some(b) = self.blob_bytes_if_present(&child.digest)? {
                                v.push((child, b));
                            }
                        }
                        v
                    }
                    Err(_) => Vec::new(),
                };
            for (d, b) in candidates {
                if let Ok(AnyManifest::Manifest(m)) = AnyManifest::parse(Some(&d.media_type), &b)
                    && m.config.digest == *config
                {
                    let mut desc = Descriptor::new(
                        m.effective_media_type().to_string(),
                        d.digest.clone(),
                        d.size,
                    );
                    desc.platform = d.platform.clone();
                    return Ok(Some(Selected {
                        desc,
                        manifests: HashMap::new(),
                        paths: HashMap::new(),
                    }));
                }
            }
        }
        Ok(None)
    }

    fn blob_bytes_if_present(&self, d: &Digest) -> Result<Option<Bytes>, TransportError> {
        if self.tar.contains(&blob_path(d)) {
            read_blob_bytes(&self.tar, d).map(Some)
        } else {
            Ok(None)
        }
    }

    fn hash_entry(&self, path: &str) -> Result<Digest, TransportError> {
        let entry = self.tar.require(path)?;
        let mut reader = self.tar.reader(entry, 0);
        let mut hasher = oci::Algorithm::Sha256.digester();
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = reader
                .read(&mut buf)
                .map_err(|e| self.invalid(format!("cannot read layer {path}: {e}")))?;
            if n == 0 {
                return Ok(hasher.finish());
            }
            hasher.update(&buf[..n]);
        }
    }

    fn selected(&self) -> Result<&Selected, TransportError> {
        self.selected.as_deref().ok_or_else(|| {
            self.invalid(format!(
                "it holds {} images; choose one by tag or index",
                self.items.len()
            ))
        })
    }
}

/// Old archives saved by image ID have no `RepoTags` but name the top layer in
/// `repositories` (`{"repo":{"tag":"<layer id>"}}`, with layers at `<id>/layer.tar`).
fn fill_tags_from_repositories(tar: &TarIndex, items: &mut [ManifestItem]) {
    if items
        .iter()
        .all(|i| i.repo_tags.as_ref().is_some_and(|t| !t.is_empty()))
    {
        return;
    }
    let Ok(raw) = tar.read_small(REPOSITORIES_FILE, METADATA_LIMIT) else {
        return;
    };
    let Ok(repos) = serde_json::from_slice::<BTreeMap<String, BTreeMap<String, String>>>(&raw)
    else {
        return;
    };
    for item in items
        .iter_mut()
        .filter(|i| i.repo_tags.as_ref().is_none_or(|t| t.is_empty()))
    {
        let Some(top) = item.layers.last() else {
            continue;
        };
        let top = super::tar_index::normalise(top);
        let tags: Vec<String> = repos
            .iter()
            .flat_map(|(repo, tags)| {
                let top = &top;
                tags.iter()
                    .filter(move |(_, id)| {
                        *top == format!("{id}/layer.tar") || *top == blob_path_hex(id)
                    })
                    .map(move |(tag, _)| format!("{repo}:{tag}"))
            })
            .collect();
        if !tags.is_empty() {
            item.repo_tags = Some(tags);
        }
    }
}

fn blob_path_hex(hex: &str) -> String {
    format!("blobs/sha256/{hex}")
}

impl ImageSource for DockerArchiveSource {
    async fn resolve(&self) -> Result<Descriptor, TransportError> {
        Ok(self.selected()?.desc.clone())
    }

    async fn manifest(&self, d: &Descriptor) -> Result<Bytes, TransportError> {
        let selected = self.selected()?;
        if let Some(bytes) = selected.manifests.get(&d.digest) {
            return Ok(bytes.clone());
        }
        read_blob_bytes(&self.tar, &d.digest)
    }

    async fn blob(&self, d: &Descriptor, offset: u64) -> Result<BlobStream, TransportError> {
        let selected = self.selected()?;
        let path = selected
            .paths
            .get(&d.digest)
            .cloned()
            .unwrap_or_else(|| blob_path(&d.digest));
        stream_blob(&self.tar, &path, d, offset)
    }
}
