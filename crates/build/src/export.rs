//! Exporting a built image's root filesystem (`build --output type=local|tar`): its layers
//! applied in order, with the same safe application that unpacks layers everywhere else.

use std::io::Write;
use std::path::Path;

use oci::{Digest, Manifest};
use store::Store;

use crate::BuildError;

/// Writes the root filesystem of the image whose manifest is `manifest` into `dest` (created
/// if missing): every layer applied in order, whiteouts honoured, nothing written outside
/// `dest`.
pub fn rootfs_to_dir(store: &Store, manifest: &Digest, dest: &Path) -> Result<(), BuildError> {
    std::fs::create_dir_all(dest).map_err(|e| BuildError::io("create", dest, e))?;
    let m = Manifest::from_slice(&store.manifest_bytes(manifest)?).map_err(|e| {
        BuildError::BadImage {
            image: manifest.to_string(),
            detail: e.to_string(),
        }
    })?;
    let opts = layer::ApplyOptions::default();
    for l in &m.layers {
        let blob = store.open_blob(&l.digest)?;
        layer::apply_layer_auto(dest, blob, &opts)?;
    }
    Ok(())
}

/// Writes the root filesystem of the image as one uncompressed tar to `out`, made from a
/// temporary directory under `scratch` (the store's disk, not memory).
pub fn rootfs_to_tar(
    store: &Store,
    manifest: &Digest,
    scratch: &Path,
    out: impl Write,
) -> Result<(), BuildError> {
    tar_of(scratch, out, |dir| rootfs_to_dir(store, manifest, dir))
}

/// One uncompressed tar on `out` of what `fill` writes into a temporary directory under
/// `scratch` (the store's disk, not memory), removed afterwards.
fn tar_of(
    scratch: &Path,
    out: impl Write,
    fill: impl FnOnce(&Path) -> Result<(), BuildError>,
) -> Result<(), BuildError> {
    std::fs::create_dir_all(scratch).map_err(|e| BuildError::io("create", scratch, e))?;
    let dir = tempfile::Builder::new()
        .prefix("export-")
        .tempdir_in(scratch)
        .map_err(|e| BuildError::io("create a directory in", scratch, e))?;
    fill(dir.path())?;
    layer::create_layer(dir.path(), out, &layer::CreateOptions::default())?;
    Ok(())
}

/// The directory BuildKit gives a platform's root filesystem when a multi-platform build is
/// exported as files: `linux/arm64/v8` → `linux_arm64_v8`.
pub fn platform_dir_name(platform: &oci::Platform) -> String {
    platform.to_string().replace('/', "_")
}

/// Writes each platform's root filesystem into its own subdirectory of `dest`
/// ([`platform_dir_name`]), as BuildKit's local exporter does for several platforms.
pub fn platforms_to_dir(
    store: &Store,
    images: &[(oci::Platform, Digest)],
    dest: &Path,
) -> Result<(), BuildError> {
    for (p, manifest) in images {
        rootfs_to_dir(store, manifest, &dest.join(platform_dir_name(p)))?;
    }
    Ok(())
}

/// [`platforms_to_dir`] as one tar on `out` (BuildKit's tar exporter for several platforms),
/// made in a temporary directory under `scratch`.
pub fn platforms_to_tar(
    store: &Store,
    images: &[(oci::Platform, Digest)],
    scratch: &Path,
    out: impl Write,
) -> Result<(), BuildError> {
    tar_of(scratch, out, |dir| platforms_to_dir(store, images, dir))
}

#[cfg(test)]
mod tests {
    #[test]
    fn platform_directories_are_named_as_buildkit_names_them() {
        for (p, want) in [
            ("linux/amd64", "linux_amd64"),
            ("linux/arm64", "linux_arm64"),
            ("linux/arm/v7", "linux_arm_v7"),
        ] {
            let p: oci::Platform = p.parse().unwrap();
            assert_eq!(super::platform_dir_name(&p.normalize()), want);
        }
    }
}
