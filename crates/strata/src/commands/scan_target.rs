//! What `sbom` and `scan` look at: an image (the local store, a registry, an OCI layout or
//! archive, a `docker save` archive) or a root filesystem directory, walked into an
//! inventory of packages (and secrets).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use scan::catalog::Cataloger;
use scan::inventory::{ImageInfo, Inventory, LayerInfo};
use scan::secrets::Scanner;
use scan::walk::Walker;
use transport::{ImageAddress, ImageSource, StoreSource, TarIndex};

use super::{Ctx, image_source, util};

/// Where the packages are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An image at a transport address.
    Image(ImageAddress),
    /// A bare name the local store does not have: its registry's image.
    Remote(ImageAddress),
    /// A root filesystem directory.
    Dir(PathBuf),
}

/// Reads the target as written: an existing directory is a root filesystem; an existing
/// file a `docker save` (or OCI) archive; a transport address (`oci:`, `docker://`, ...) is
/// that; a bare reference is the local store's image, or, when the store has none of that
/// name, the registry's (as `trivy image` falls back to the registry).
pub fn parse(ctx: &Ctx, text: &str) -> anyhow::Result<Target> {
    let path = Path::new(text);
    let has_transport = [
        "docker://",
        "oci:",
        "oci-archive:",
        "docker-archive:",
        "strata:",
    ]
    .iter()
    .any(|p| text.starts_with(p));
    if !has_transport {
        if path.is_dir() {
            return Ok(Target::Dir(path.to_path_buf()));
        }
        if path.is_file() {
            return Ok(Target::Image(archive_address(path)?));
        }
    }
    let addr: ImageAddress = text.parse()?;
    if let ImageAddress::Store(name) = &addr
        && !text.starts_with("strata:")
    {
        let store = ctx.store()?;
        if let Err(e) = StoreSource::open(store, name) {
            if e.is_not_found() {
                return Ok(Target::Remote(ImageAddress::Docker(name.clone())));
            }
            return Err(e.into());
        }
    }
    Ok(Target::Image(addr))
}

/// A file is an OCI archive when it holds an OCI layout (as `load` decides), else a
/// `docker save` archive when it has a `manifest.json`.
fn archive_address(path: &Path) -> anyhow::Result<ImageAddress> {
    let tar = TarIndex::open_path(path)?;
    let path = path.to_path_buf();
    if tar.contains("oci-layout") && tar.contains("index.json") {
        Ok(ImageAddress::OciArchive {
            path,
            reference: None,
        })
    } else if tar.contains("manifest.json") {
        Ok(ImageAddress::DockerArchive {
            path,
            reference: None,
        })
    } else {
        anyhow::bail!(
            "{} is neither a docker-archive (no manifest.json) nor an OCI archive (no oci-layout)",
            path.display()
        )
    }
}

/// Walks the target with these catalogers (and the secret scanner, when given).
pub fn inventory(
    ctx: &Ctx,
    target: &Target,
    name: &str,
    platform: Option<&str>,
    tls_verify: bool,
    catalogers: &[Box<dyn Cataloger>],
    secrets: Option<&Scanner>,
) -> anyhow::Result<(ImageInfo, Inventory)> {
    let walker = Walker::new(catalogers, secrets);
    match target {
        Target::Dir(dir) => {
            let mut walker = walker;
            walker
                .directory(dir)
                .with_context(|| format!("scanning {}", dir.display()))?;
            let info = ImageInfo {
                name: name.to_string(),
                layers: vec![LayerInfo::default()],
                ..ImageInfo::default()
            };
            Ok((info, walker.finish()))
        }
        Target::Image(addr) | Target::Remote(addr) => {
            let platform = util::platform_or_host(platform)?;
            let opened = image_source::open(
                ctx,
                addr,
                tls_verify,
                Walk {
                    name,
                    platform,
                    walker,
                },
            );
            match target {
                Target::Remote(_) => opened.with_context(|| {
                    format!(
                        "scanning {name}: no such image in the local store, and from its registry"
                    )
                }),
                _ => opened.with_context(|| format!("scanning {name}")),
            }
        }
    }
}

/// The walk, run on the opened source.
struct Walk<'a> {
    name: &'a str,
    platform: oci::Platform,
    walker: Walker<'a>,
}

impl image_source::UseSource for Walk<'_> {
    type Output = (ImageInfo, Inventory);

    fn apply<S: ImageSource>(self, src: &S) -> anyhow::Result<(ImageInfo, Inventory)> {
        Ok(util::block_on(scan::image::inventory(
            src,
            self.name,
            &self.platform,
            self.walker,
        ))??)
    }
}
