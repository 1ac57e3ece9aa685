//! An image from any transport source (the store, a registry, an OCI layout, an archive),
//! walked layer by layer: each blob is streamed, decompressed and read once, checked against
//! the config's diffID as it goes, and never written to disk.

use std::io;

use layer::HashingReader;
use oci::{AnyManifest, Descriptor, ImageConfig, Manifest, Platform};
use tokio_util::io::SyncIoBridge;
use transport::ImageSource;

use crate::inventory::{ImageInfo, Inventory, LayerInfo};
use crate::walk::{WalkError, Walker};

/// Why an image could not be walked.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The source could not give a manifest, config or blob.
    #[error(transparent)]
    Transport(#[from] transport::TransportError),
    /// A manifest or config is not what it should be.
    #[error("{what}: {detail}")]
    Invalid {
        /// Which document.
        what: String,
        /// What is wrong.
        detail: String,
    },
    /// An index has no manifest for the platform asked for.
    #[error("{name}: no image for {platform} in the index (it has {available})")]
    NoPlatform {
        /// The image.
        name: String,
        /// The platform asked for.
        platform: String,
        /// The index's platforms.
        available: String,
    },
    /// A layer could not be decompressed.
    #[error("layer {index} ({digest}): {source}")]
    Layer {
        /// The layer (from 0).
        index: usize,
        /// Its blob digest.
        digest: String,
        /// The cause.
        source: io::Error,
    },
    /// A layer's content is not what the config's diffID says.
    #[error(
        "layer {index} ({digest}): its content's digest is {actual}, the config's diffID is {expected}: the image is corrupt"
    )]
    DiffIdMismatch {
        /// The layer (from 0).
        index: usize,
        /// Its blob digest.
        digest: String,
        /// The diffID in the config.
        expected: String,
        /// What the content hashes to.
        actual: String,
    },
    /// A cataloger or the tar reader stopped the walk.
    #[error("layer {index} ({digest}): {source}")]
    Walk {
        /// The layer (from 0).
        index: usize,
        /// Its blob digest.
        digest: String,
        /// The cause.
        source: WalkError,
    },
}

/// The image `src` was opened for: its manifest (for `platform`, when it is an index) and
/// config, as [`ImageInfo`] (layers with their Dockerfile steps).
pub async fn describe<S: ImageSource>(
    src: &S,
    name: &str,
    platform: &Platform,
) -> Result<(ImageInfo, Manifest, ImageConfig), ImageError> {
    let top = src.resolve().await?;
    let (desc, manifest) = manifest_for(src, name, &top, platform).await?;
    let config_bytes = transport::graft::read_small_blob(src, &manifest.config).await?;
    let config = ImageConfig::from_slice(&config_bytes).map_err(|e| ImageError::Invalid {
        what: format!("{name}: config {}", manifest.config.digest),
        detail: e.to_string(),
    })?;
    if config.rootfs.diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::Invalid {
            what: format!("{name}: config {}", manifest.config.digest),
            detail: format!(
                "{} diffIDs for {} layers in the manifest",
                config.rootfs.diff_ids.len(),
                manifest.layers.len()
            ),
        });
    }
    let mut steps = config
        .layer_history()
        .map(|h| h.created_by.clone())
        .collect::<Vec<_>>()
        .into_iter();
    let layers = manifest
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .map(|(l, diff_id)| LayerInfo {
            digest: l.digest.to_string(),
            diff_id: diff_id.to_string(),
            created_by: steps.next().flatten(),
        })
        .collect();
    let info = ImageInfo {
        name: name.to_string(),
        digest: Some(desc.digest.to_string()),
        config_digest: Some(manifest.config.digest.to_string()),
        platform: Some(config.platform().to_string()),
        layers,
    };
    Ok((info, manifest, config))
}

/// The image's manifest: the top one, or the index's entry for `platform`.
async fn manifest_for<S: ImageSource>(
    src: &S,
    name: &str,
    top: &Descriptor,
    platform: &Platform,
) -> Result<(Descriptor, Manifest), ImageError> {
    let invalid = |d: &Descriptor, e: oci::OciError| ImageError::Invalid {
        what: format!("{name}: manifest {}", d.digest),
        detail: e.to_string(),
    };
    let bytes = src.manifest(top).await?;
    match AnyManifest::parse(Some(&top.media_type), &bytes).map_err(|e| invalid(top, e))? {
        AnyManifest::Manifest(m) => Ok((top.clone(), m)),
        AnyManifest::Index(index) => {
            let Some(entry) = oci::platform::choose(&index.manifests, platform) else {
                let available = index
                    .manifests
                    .iter()
                    .filter_map(|d| d.platform.as_ref())
                    .filter(|p| !p.is_unknown())
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(ImageError::NoPlatform {
                    name: name.to_string(),
                    platform: platform.to_string(),
                    available,
                });
            };
            let bytes = src.manifest(entry).await?;
            match AnyManifest::parse(Some(&entry.media_type), &bytes)
                .map_err(|e| invalid(entry, e))?
            {
                AnyManifest::Manifest(m) => Ok((entry.clone(), m)),
                AnyManifest::Index(_) => Err(ImageError::Invalid {
                    what: format!("{name}: manifest {}", entry.digest),
                    detail: "an index inside an index: name the platform's manifest by digest"
                        .into(),
                }),
            }
        }
    }
}

/// Streams every layer of `manifest` through `walker`, base first. Must run on a
/// multi-threaded tokio runtime: the synchronous walk blocks in place.
pub async fn walk_layers<S: ImageSource>(
    src: &S,
    manifest: &Manifest,
    config: &ImageConfig,
    walker: &mut Walker<'_>,
) -> Result<(), ImageError> {
    for (index, (desc, diff_id)) in manifest
        .layers
        .iter()
        .zip(&config.rootfs.diff_ids)
        .enumerate()
    {
        let digest = desc.digest.to_string();
        let layer_err = |source| ImageError::Layer {
            index,
            digest: digest.clone(),
            source,
        };
        let blob = src.blob(desc, 0).await?;
        tokio::task::block_in_place(|| {
            let bridge = SyncIoBridge::new(blob);
            let plain = layer::decompress_auto(bridge)
                .map_err(|e| layer_err(io::Error::other(e.to_string())))?;
            let mut hashed = HashingReader::new(plain);
            walker
                .layer(&mut hashed)
                .map_err(|source| ImageError::Walk {
                    index,
                    digest: digest.clone(),
                    source,
                })?;
            // The tar reader stops at the end-of-archive blocks; the diffID covers all.
            io::copy(&mut hashed, &mut io::sink()).map_err(layer_err)?;
            let actual = hashed.digest();
            if &actual != diff_id {
                return Err(ImageError::DiffIdMismatch {
                    index,
                    digest: digest.clone(),
                    expected: diff_id.to_string(),
                    actual: actual.to_string(),
                });
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Describes and walks the image `src` was opened for.
pub async fn inventory<S: ImageSource>(
    src: &S,
    name: &str,
    platform: &Platform,
    mut walker: Walker<'_>,
) -> Result<(ImageInfo, Inventory), ImageError> {
    let (info, manifest, config) = describe(src, name, platform).await?;
    walk_layers(src, &manifest, &config, &mut walker).await?;
    Ok((info, walker.finish()))
}
