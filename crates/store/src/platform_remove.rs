//! `rmi --platform`: removing one platform's content from a multi-platform image, which
//! stays (as Docker 28 does with the containerd image store).

use oci::{Digest, Manifest, Platform};

use crate::gc::Graph;
use crate::{GcReport, Store, StoreError, db, lease, lock};

impl Store {
    /// Deletes the manifest of image `name`'s entry for `platform`, its config and the
    /// layers nothing else keeps; the image (its index) and its other platforms stay.
    /// Returns the manifest's digest (Docker prints `Deleted: <it>`) and what was freed.
    ///
    /// Errors: the image is not an index, or does not provide or hold that platform
    /// ([`Store::select_platform`]'s words), or another image or a lease keeps that very
    /// manifest (it is then not the index's alone).
    pub fn remove_platform(
        &self,
        name: &str,
        platform: &Platform,
    ) -> Result<(Digest, GcReport), StoreError> {
        let info = self.resolve_image(name)?;
        if info.target.digest == info.manifest && self.image_platforms(&info)?.is_empty() {
            return Err(StoreError::Invalid {
                what: format!("image {name}"),
                detail: "not a multi-platform image: remove the image itself".into(),
            });
        }
        let chosen = self.select_platform(info, name, platform)?;
        let manifest = chosen.manifest.clone();
        let parsed =
            Manifest::from_slice(&self.read_blob(&manifest)?).map_err(|e| StoreError::Invalid {
                what: format!("manifest {manifest}"),
                detail: e.to_string(),
            })?;
        let parts: Vec<String> = std::iter::once(manifest.to_string())
            .chain(std::iter::once(parsed.config.digest.to_string()))
            .chain(parsed.layers.iter().map(|l| l.digest.to_string()))
            .collect();
        // As GC does: exclusive against commits and other collections until the files
        // are gone.
        let _gc = lock::exclusive(&self.layout().gc_lock())?;
        let doomed = {
            let mut conn = self.conn();
            db::write(&mut conn, "cannot remove a platform", |tx| {
                let mut roots = db::static_roots(tx)?;
                roots.extend(lease::live_roots(tx, crate::now(), false)?);
                if roots.iter().any(|r| *r == parts[0]) {
                    return Err(StoreError::Conflict {
                        message: format!(
                            "conflict: unable to delete platform {} of {name} - its manifest \
                             {} is also an image of its own",
                            platform.normalize(),
                            parts[0]
                        ),
                    });
                }
                let graph = Graph::load(tx)?;
                let live = graph.reachable_without(&roots, &parts[0]);
                graph.delete_unreachable(tx, &live, |_, digest| parts.iter().any(|p| p == digest))
            })?
        };
        let mut report = GcReport::default();
        self.remove_blob_files(&doomed, &mut report)?;
        Ok((manifest, report))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use oci::{Index, Platform, media};

    use crate::Store;
    use crate::platforms::tests::image_with_layers as image;

    #[test]
    fn removing_a_platform_keeps_the_image_and_shared_layers() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let lease = store.lease().unwrap();
        let layer = |b: &[u8]| {
            let d = store.put_blob_bytes(media::OCI_LAYER_GZIP, b).unwrap();
            lease.add(&d.digest).unwrap();
            d
        };
        let shared = layer(b"shared layer");
        let amd_only = layer(b"amd64 layer");
        let arm_only = layer(b"arm64 layer");
        let amd = image(&store, &lease, "linux/amd64", &[&shared, &amd_only]);
        let arm = image(&store, &lease, "linux/arm64", &[&shared, &arm_only]);
        let index = Index {
            schema_version: 2,
            media_type: Some(media::OCI_INDEX.into()),
            artifact_type: None,
            manifests: vec![amd.clone(), arm.clone()],
            subject: None,
            annotations: BTreeMap::new(),
        };
        store
            .put_index(&lease, &index, &["docker.io/library/multi:1".into()])
            .unwrap();
        drop(lease);
        let arm64: Platform = "linux/arm64".parse().unwrap();
        let (removed, report) = store.remove_platform("multi:1", &arm64).unwrap();
        assert_eq!(removed, arm.digest);
        assert!(
            !store.blob_path(&arm.digest).exists(),
            "the arm64 manifest's file is gone"
        );
        for gone in [&arm.digest, &arm_only.digest] {
            assert!(!store.has_blob(gone).unwrap(), "{gone} removed");
            assert!(report.removed.contains(gone), "{gone} reported");
        }
        for kept in [&amd.digest, &amd_only.digest, &shared.digest] {
            assert!(store.has_blob(kept).unwrap(), "{kept} kept");
        }
        let info = store.resolve_image("multi:1").unwrap();
        let present: Vec<bool> = store
            .image_platforms(&info)
            .unwrap()
            .iter()
            .map(|e| e.present)
            .collect();
        assert_eq!(present, [true, false], "the index stays, arm64 not present");
        let e = store.remove_platform("multi:1", &arm64).unwrap_err();
        assert!(e.to_string().contains("is not in the store"), "{e}");
        // A later GC keeps the rest of the image.
        store.gc().unwrap();
        assert!(store.has_blob(&amd_only.digest).unwrap());
        assert!(store.has_blob(&info.target.digest).unwrap());
    }
}
