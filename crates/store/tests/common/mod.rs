//! Helpers the store's integration tests share.

use oci::{Descriptor, Manifest, media};
use store::Store;

/// Stores an image with the given layers and a config carrying `name` as a label; returns
/// the manifest descriptor.
pub fn make_image(store: &Store, name: &str, layers: &[&[u8]]) -> Descriptor {
    let mut layer_descs = Vec::new();
    for l in layers {
        layer_descs.push(store.put_blob_bytes(media::OCI_LAYER, l).unwrap());
    }
    let diff_ids: Vec<String> = layer_descs.iter().map(|d| d.digest.to_string()).collect();
    let config = serde_json::json!({
        "created": "2024-01-02T03:04:05Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"name": name}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let config = serde_json::to_vec(&config).unwrap();
    let config_desc = store.put_blob_bytes(media::OCI_CONFIG, &config).unwrap();
    let m = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config: config_desc,
        layers: layer_descs,
        subject: None,
        annotations: Default::default(),
    };
    let bytes = m.to_vec();
    let desc = Descriptor::of_bytes(media::OCI_MANIFEST, &bytes);
    store.put_manifest(&desc, &bytes).unwrap();
    desc
}

pub fn payload(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}
