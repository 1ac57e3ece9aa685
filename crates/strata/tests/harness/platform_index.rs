//! Multi-platform images for tests: stored single-platform images joined by an index the
//! test writes into an OCI layout, then pushed with `strata copy --all`.

#![allow(dead_code)]

use serde_json::{Value, json};

use super::Env;
use super::images::{Layout, TestImage, sha256};

/// Copies each `(image, platform)` of `env`'s store into a layout, writes an index over
/// them (each entry's `platform` as given, `os/arch`), pushes it to `target` (`docker://`
/// is added) with `copy --all`; returns the index's digest.
pub fn push_index(env: &Env, images: &[(&str, &str)], target: &str) -> String {
    let dir = env.path(&format!(
        "index-layout-{}",
        sha256(target.as_bytes())[7..19].to_owned()
    ));
    let mut entries = Vec::new();
    for (i, (image, platform)) in images.iter().enumerate() {
        let tag = format!("part{i}");
        env.ok(&["copy", image, &format!("oci:{}:{tag}", dir.display())]);
        let mut d = read_json(&dir.join("index.json"))["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag.as_str())
            .unwrap_or_else(|| panic!("{image} copied into the layout"))
            .clone();
        d.as_object_mut().unwrap().remove("annotations");
        let (os, arch) = platform.split_once('/').expect("os/arch");
        d["platform"] = json!({"os": os, "architecture": arch});
        entries.push(d);
    }
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }))
    .unwrap();
    let digest = sha256(&index);
    std::fs::write(dir.join("blobs/sha256").join(&digest[7..]), &index).unwrap();
    let mut top = read_json(&dir.join("index.json"));
    top["manifests"].as_array_mut().unwrap().push(json!({
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": digest,
        "size": index.len(),
        "annotations": {"org.opencontainers.image.ref.name": "multi"},
    }));
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&top).unwrap()).unwrap();
    env.ok(&[
        "copy",
        "--all",
        &format!("oci:{}:multi", dir.display()),
        &format!("docker://{target}"),
    ]);
    digest
}

/// Writes `host` (for [`host_arch`]) and `other` (for [`other_arch`]) under an index into a
/// layout in `env`'s temp dir and pushes it to `target` (`docker://` is added) with `copy
/// --all`; returns the index's digest.
pub fn push_test_index(env: &Env, host: &TestImage, other: &TestImage, target: &str) -> String {
    let mut layout = Layout::create(&env.path(&format!(
        "test-index-{}",
        sha256(target.as_bytes())[7..19].to_owned()
    )));
    let (index, d) = layout.index(&[(host, host_arch()), (other, other_arch())]);
    layout.tag(d, "multi");
    env.ok(&[
        "copy",
        "--all",
        &format!("oci:{}:multi", layout.dir.display()),
        &format!("docker://{target}"),
    ]);
    sha256(&index)
}

/// The host's architecture as OCI names it (`amd64`, `arm64`).
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("test written for amd64/arm64 hosts, not {other}"),
    }
}

/// The other one of `amd64` and `arm64`: a platform this host runs under QEMU.
pub fn other_arch() -> &'static str {
    if host_arch() == "amd64" {
        "arm64"
    } else {
        "amd64"
    }
}

fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}
