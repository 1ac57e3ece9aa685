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
    std::fs::create_dir_all(scratch).map_err(|e| BuildError::io("create", scratch, e))?;
    let dir = tempfile::Builder::new()
        .prefix("export-")
        .tempdir_in(scratch)
        .map_err(|e| BuildError::io("create a directory in", scratch, e))?;
    rootfs_to_dir(store, manifest, dir.path())?;
    layer::create_layer(dir.path(), out, &layer::CreateOptions::default())?;
    Ok(())
}
