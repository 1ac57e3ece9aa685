//! Documents that are not what their media type says, served by a fake registry to `pull`
//! (issue 10): non-JSON or wrongly shaped manifests and configs, self-referencing and huge
//! indexes. Nothing may be tagged or stored, and no raw input byte may reach the terminal.

mod harness;

use std::time::Duration;

use harness::Env;
use harness::fault_registry::FaultRegistry;
use harness::fault_runs::*;
use harness::images::{desc, sha256};
use serde_json::json;

#[test]
fn manifests_of_the_wrong_shape_are_refused() {
    let docs: [(&str, &[u8]); 4] = [
        (OCI_MANIFEST, br#"{"schemaVersion":2,"config":"nope","layers":{}}"#),
        (OCI_MANIFEST, br#"[1,2,3]"#),
        (OCI_INDEX, br#"{"schemaVersion":2,"manifests":"all of them"}"#),
        (OCI_MANIFEST, br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:\u001b[2J","size":2},"layers":[]}"#),
    ];
    for (media_type, doc) in docs {
        let reg = FaultRegistry::start();
        reg.manifest("app", "v1", media_type, doc);
        let env = Env::new();
        let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
        failed(&run, Duration::from_secs(10), &["malformed"]);
        nothing_tagged(&env);
    }
}

#[test]
fn a_manifest_that_is_not_json_is_refused_without_echoing_it() {
    let reg = FaultRegistry::start();
    let garbage = b"\x1b[31m\x00\x07\xff\xfe not a manifest\r\n\x1b]0;title\x07".to_vec();
    reg.manifest("app", "v1", OCI_MANIFEST, &garbage);
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(&run, Duration::from_secs(10), &["manifest"]);
    assert!(!run.stderr.contains("not a manifest"), "{}", run.stderr);
    nothing_tagged(&env);
}

#[test]
fn a_config_that_is_not_json_is_refused_before_anything_is_stored() {
    let reg = FaultRegistry::start();
    let img = image(10_000);
    let config = b"\x1b[2J\x00this is no image config\xff".to_vec();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": desc("application/vnd.oci.image.config.v1+json", &config),
        "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", &img.layers[0])],
    }))
    .unwrap();
    reg.manifest("app", "v1", OCI_MANIFEST, &manifest);
    reg.blob(&config);
    reg.blob(&img.layers[0]);
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(
        &run,
        Duration::from_secs(10),
        &["config", &sha256(&config), "not an image config"],
    );
    assert!(!run.stderr.contains("no image config"), "{}", run.stderr);
    nothing_tagged(&env);
    let (_, blobs) = env.blob_usage();
    assert_eq!(blobs, 0, "nothing is stored from a refused image");
}

#[test]
fn a_self_referencing_index_is_refused() {
    let reg = FaultRegistry::start();
    // An index whose only entry is served as the index again: whatever the client asks by
    // digest, it gets the index back.
    let entry = sha256(b"the index itself");
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_INDEX, "digest": entry, "size": 300,
            "platform": {"architecture": "amd64", "os": "linux"},
        }],
    }))
    .unwrap();
    reg.manifest("app", "v1", OCI_INDEX, &index);
    reg.manifest("app", &entry, OCI_INDEX, &index);
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(&run, Duration::from_secs(10), &[&entry]);
    nothing_tagged(&env);
}

#[test]
fn an_index_without_our_platform_lists_its_platforms_escaped_and_few() {
    let reg = FaultRegistry::start();
    let entries: Vec<_> = (0..500)
        .map(|i| {
            json!({
                "mediaType": OCI_MANIFEST,
                "digest": sha256(format!("m{i}").as_bytes()),
                "size": 500,
                "platform": {"architecture": format!("\u{1b}[31mevil{i}"), "os": "linux"},
            })
        })
        .collect();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries,
    }))
    .unwrap();
    reg.manifest("app", "v1", OCI_INDEX, &index);
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(&run, Duration::from_secs(10), &["evil0", "\\u{1b}"]);
    assert!(!run.stderr.contains("evil30"), "{}", run.stderr);
    nothing_tagged(&env);
}

#[test]
fn a_huge_index_is_refused() {
    let reg = FaultRegistry::start();
    let entries: Vec<_> = (0..40_000)
        .map(|i| {
            json!({
                "mediaType": OCI_MANIFEST,
                "digest": sha256(format!("m{i}").as_bytes()),
                "size": 500,
                "platform": {"architecture": "riscv64", "os": "linux"},
            })
        })
        .collect();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries,
    }))
    .unwrap();
    assert!(index.len() > 4 << 20, "{} bytes", index.len());
    reg.manifest("app", "v1", OCI_INDEX, &index);
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(&run, Duration::from_secs(10), &["manifest", "limit"]);
    nothing_tagged(&env);
}
