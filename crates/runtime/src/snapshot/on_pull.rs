//! Snapshots made while `pull` downloads: each layer's bytes are unpacked as they arrive,
//! on a thread of their own, so `pull` then `run` unpacks nothing more.
//!
//! The pull tells a [`PullUnpacker`] each image it is about to copy (its manifest and
//! config give every layer its chain ID), then asks it, for each layer about to be
//! downloaded, for a [`LayerUnpack`]: the snapshot's lock is taken and a staging directory
//! named. The unpack reads the downloaded bytes, and publishes the snapshot only once the
//! pull says the blob was verified and stored; anything else (a digest mismatch, a broken
//! download, a kill) leaves no ready snapshot, and the next `create` unpacks the layer
//! from its blob as it does for loaded images.

use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;

use oci::{Digest, ImageConfig, Manifest};
use store::Store;

use super::{Identity, Staging, chain_ids, reap_staging, unpack};
use crate::RuntimeError;

/// Hands out snapshot unpacks for the layers of the images a pull copies.
pub struct PullUnpacker {
    store: Store,
    /// Layer blob digest → the snapshot it makes, from the images announced so far.
    layers: Mutex<HashMap<Digest, Identity>>,
}

impl PullUnpacker {
    /// An unpacker making snapshots in `store`. What killed pulls left staged goes first,
    /// so pulls killed again and again do not pile up half-unpacked layers.
    pub fn new(store: Store) -> PullUnpacker {
        reap_staging(store.layout());
        PullUnpacker {
            store,
            layers: Mutex::new(HashMap::new()),
        }
    }

    /// Learns each layer's chain ID and diffID from an image about to be copied. A config
    /// that does not parse, or lists another number of layers than `manifest`, teaches
    /// nothing: its layers are not unpacked here (`create` reports what is wrong).
    pub fn image(&self, manifest: &Manifest, config: &[u8]) {
        let Ok(config) = ImageConfig::from_slice(config) else {
            return;
        };
        let diff_ids = &config.rootfs.diff_ids;
        if diff_ids.len() != manifest.layers.len() {
            return;
        }
        let mut layers = self.layers.lock().unwrap_or_else(|p| p.into_inner());
        let chains = chain_ids(diff_ids);
        for (i, ((chain, diff_id), desc)) in chains
            .iter()
            .zip(diff_ids)
            .zip(&manifest.layers)
            .enumerate()
        {
            // A blob at two places of two stacks is unpacked for the first one seen.
            layers
                .entry(desc.digest.clone())
                .or_insert_with(|| Identity {
                    chain: chain.clone(),
                    parent: i.checked_sub(1).map(|p| chains[p].clone()),
                    diff_id: diff_id.clone(),
                    layer: desc.digest.clone(),
                });
        }
    }

    /// Claims the snapshot of layer blob `blob`, about to be downloaded. `None` when it is
    /// ready already, another process is making it, no announced image has the layer, or
    /// the claim failed (then `create` makes it later).
    pub fn layer(&self, blob: &Digest) -> Option<LayerUnpack> {
        let id = self
            .layers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(blob)
            .cloned()?;
        let staging = Staging::claim(&self.store, id, false).ok()??;
        Some(LayerUnpack {
            staging,
            blob_path: self.store.blob_path(blob),
        })
    }
}

/// One layer's snapshot being made from its downloaded bytes (its lock held).
pub struct LayerUnpack {
    staging: Staging,
    blob_path: std::path::PathBuf,
}

impl LayerUnpack {
    /// Unpacks the compressed layer read from `bytes` (dropped once unpacked or failed),
    /// then asks `verified` whether the blob was verified and stored: the snapshot is
    /// published only then. Returns whether it was; an error when the layer would not
    /// unpack (bad content the blob's digest vouched for: `create` will say so too).
    pub fn run(
        self,
        bytes: impl Read + Send + 'static,
        verified: impl FnOnce() -> bool,
    ) -> Result<bool, RuntimeError> {
        let id = &self.staging.id;
        let unpacked = unpack::unpack(
            &self.staging.fs(),
            bytes,
            &id.diff_id,
            &id.layer,
            &self.blob_path,
        );
        // Whatever was made is removed with the staging unless published below.
        if !verified() {
            return Ok(false);
        }
        unpacked?;
        self.staging.publish()?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-layer image: the layer (an uncompressed tar with a whiteout), its manifest and
    /// config, and the layer's chain ID.
    fn image() -> (Vec<u8>, Manifest, Vec<u8>, Digest) {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in [("etc/motd", &b"hi"[..]), ("etc/.wh.gone", &b""[..])] {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, name, data).unwrap();
        }
        let layer = b.into_inner().unwrap();
        let diff_id = Digest::sha256_of(&layer);
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
        }))
        .unwrap();
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": Digest::sha256_of(&config).to_string(), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                        "digest": Digest::sha256_of(&layer).to_string(), "size": layer.len()}],
        }))
        .unwrap();
        (
            layer,
            Manifest::from_slice(&manifest).unwrap(),
            config,
            diff_id,
        )
    }

    fn staged(store: &Store) -> usize {
        std::fs::read_dir(store.layout().snapshot_staging_dir())
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Needs root: the whiteout becomes a device node.
    #[test]
    fn a_snapshot_is_published_only_for_a_verified_blob() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let (layer, manifest, config, chain) = image();
        let blob = manifest.layers[0].digest.clone();
        let unpacker = PullUnpacker::new(store.clone());
        assert!(unpacker.layer(&blob).is_none(), "no image announced yet");
        unpacker.image(&manifest, &config);

        let first = unpacker.layer(&blob).expect("a claim");
        assert!(
            unpacker.layer(&blob).is_none(),
            "a snapshot being made is not claimed twice"
        );
        assert!(
            !first
                .run(std::io::Cursor::new(layer.clone()), || false)
                .unwrap()
        );
        assert!(!store.layout().snapshot(&chain).path().exists());
        assert_eq!(staged(&store), 0, "the unverified unpack was not removed");

        let second = unpacker.layer(&blob).expect("a claim after the failed one");
        assert!(second.run(std::io::Cursor::new(layer), || true).unwrap());
        let snapshot = store.layout().snapshot(&chain);
        assert!(snapshot.ready().exists());
        assert_eq!(
            std::fs::read(snapshot.fs().join("etc/motd")).unwrap(),
            b"hi"
        );
        use std::os::unix::fs::FileTypeExt;
        assert!(
            std::fs::symlink_metadata(snapshot.fs().join("etc/gone"))
                .unwrap()
                .file_type()
                .is_char_device()
        );
        assert_eq!(staged(&store), 0);
        assert!(
            unpacker.layer(&blob).is_none(),
            "a ready snapshot is not claimed"
        );
    }
}
