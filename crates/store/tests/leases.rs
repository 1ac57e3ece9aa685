//! Leases keep what operations in progress use: `image prune` takes only images that are
//! unreferenced *and* unleased (issue 10, "Prune races").

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use oci::{Manifest, media};
use store::{RemoveEvent, Store};

mod common;
use common::{make_image, payload};

/// Every blob an image needs: its manifest, config and layers.
fn image_blobs(store: &Store, target: &oci::Digest) -> Vec<oci::Digest> {
    let m = Manifest::from_slice(&store.manifest_bytes(target).unwrap()).unwrap();
    let mut out = vec![target.clone(), m.config.digest.clone()];
    out.extend(m.layers.iter().map(|l| l.digest.clone()));
    out
}

/// Stores a one-layer image as a pull does: each blob leased before it is written.
fn make_leased_image(
    store: &Store,
    lease: &store::Lease,
    seed: u32,
) -> Result<oci::Descriptor, store::StoreError> {
    let layer = payload(2048, seed as u8);
    let layer_desc = oci::Descriptor::of_bytes(media::OCI_LAYER, &layer);
    lease.add(&layer_desc.digest)?;
    store.put_blob_bytes(media::OCI_LAYER, &layer)?;
    let config = serde_json::to_vec(&serde_json::json!({
        "created": format!("2024-01-02T03:04:{:02}Z", seed % 60),
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"seed": seed.to_string()}},
        "rootfs": {"type": "layers", "diff_ids": [layer_desc.digest.to_string()]},
    }))
    .unwrap();
    let config_desc = oci::Descriptor::of_bytes(media::OCI_CONFIG, &config);
    lease.add(&config_desc.digest)?;
    store.put_blob_bytes(media::OCI_CONFIG, &config)?;
    let m = Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config: config_desc,
        layers: vec![layer_desc],
        subject: None,
        annotations: Default::default(),
    };
    let bytes = m.to_vec();
    let desc = oci::Descriptor::of_bytes(media::OCI_MANIFEST, &bytes);
    lease.add(&desc.digest)?;
    store.put_manifest(&desc, &bytes)?;
    Ok(desc)
}

#[test]
fn prune_all_keeps_an_image_a_live_lease_holds() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let held = make_image(&store, "held", &[&payload(4096, 1)]);
    store
        .set_tag("docker.io/library/held:latest", &held)
        .unwrap();
    let free = make_image(&store, "free", &[b"free layer"]);
    store
        .set_tag("docker.io/library/free:latest", &free)
        .unwrap();
    let lease = store.lease().unwrap();
    lease.add(&held.digest).unwrap();

    let report = store.prune(true).unwrap();
    // Only the free image is listed: the held one is neither removed nor reported.
    let lines: Vec<String> = report.deleted.iter().map(ToString::to_string).collect();
    assert_eq!(
        lines[0], "Untagged: docker.io/library/free:latest",
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.contains("held")),
        "the leased image was pruned: {lines:?}"
    );
    let info = store
        .resolve_image("docker.io/library/held:latest")
        .unwrap();
    assert_eq!(info.target.digest, held.digest);
    for d in image_blobs(&store, &held.digest) {
        assert!(store.has_blob(&d).unwrap(), "{d} of the leased image went");
    }

    // Once the lease is gone, the image is prunable like any other.
    drop(lease);
    let report = store.prune(true).unwrap();
    assert!(
        report.deleted.contains(&RemoveEvent::Untagged(
            "docker.io/library/held:latest".into()
        )),
        "{:?}",
        report.deleted
    );
    assert!(store.images().unwrap().is_empty());
}

#[test]
fn prune_dangling_keeps_a_leased_untagged_image() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // A pull between recording the image and tagging it: an untagged record, leased.
    let pulled = make_image(&store, "pulled", &[b"layer"]);
    let lease = store.lease().unwrap();
    lease.add(&pulled.digest).unwrap();
    store.add_image(&pulled).unwrap();
    let report = store.prune(false).unwrap();
    assert!(report.deleted.is_empty(), "{:?}", report.deleted);
    assert_eq!(report.space_reclaimed, 0);
    store
        .set_tag("docker.io/library/pulled:latest", &pulled)
        .unwrap();
    assert_eq!(
        store.resolve_image("pulled").unwrap().target.digest,
        pulled.digest
    );
}

#[test]
fn hold_image_resolves_and_keeps_the_image_until_the_lease_drops() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let lease = store.lease().unwrap();
    let err = lease.hold_image("nosuch").unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert_eq!(err.to_string(), "No such image: nosuch");

    let img = make_image(&store, "base", &[b"base layer"]);
    store
        .set_tag("docker.io/library/base:latest", &img)
        .unwrap();
    let info = lease.hold_image("base").unwrap();
    assert_eq!(info.target.digest, img.digest);
    assert_eq!(lease.digests().unwrap(), vec![img.digest.clone()]);
    // Another handle on the store (another process) prunes: the image stays.
    let other = Store::open(dir.path()).unwrap();
    assert!(other.prune(true).unwrap().deleted.is_empty());
    assert!(other.resolve_image("base").is_ok());
    drop(lease);
    assert!(!other.prune(true).unwrap().deleted.is_empty());
    assert!(other.resolve_image("base").is_err());
}

/// One thread prunes everything in a loop; another records an image and tags it (as a
/// pull or a build does, under a lease from its first blob), then holds it by name and
/// reads every blob of it (as a build's FROM or a run does). No step may fail.
#[test]
fn operations_holding_leases_never_fail_beside_a_prune_loop() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut failures = Vec::new();
    std::thread::scope(|s| {
        let pruner = s.spawn(|| {
            let store = Store::open(dir.path()).unwrap();
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline && rounds < 100_000 {
                store.prune(true).unwrap();
                rounds += 1;
            }
            rounds
        });
        for i in 0..150u32 {
            let name = format!("docker.io/library/img{}:latest", i % 3);
            let made = (|| -> Result<(), String> {
                let writing = store.lease().map_err(|e| e.to_string())?;
                let target = make_leased_image(&store, &writing, i).map_err(|e| e.to_string())?;
                store
                    .set_tag(&name, &target)
                    .map_err(|e| format!("tag: {e}"))?;
                // Hand over: the reader holds the image before the writer lets it go.
                let using = store.lease().map_err(|e| e.to_string())?;
                let info = using.hold_image(&name).map_err(|e| format!("hold: {e}"))?;
                drop(writing);
                for d in image_blobs(&store, &info.target.digest) {
                    store.read_blob(&d).map_err(|e| format!("read {d}: {e}"))?;
                }
                store
                    .image_config(&info)
                    .map_err(|e| format!("config: {e}"))?;
                Ok(())
            })();
            if let Err(e) = made {
                failures.push(format!("{i}: {e}"));
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        let rounds = pruner.join().unwrap();
        assert!(rounds > 0, "the prune loop never ran");
    });
    assert!(
        failures.is_empty(),
        "{} failures, the first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}

/// `images` (and a lookup by ID prefix, which describes every image) while another
/// process prunes: an image removed between the listing's snapshot and the reading of its
/// blobs is left out, not reported as "blob … is not in the store".
#[test]
fn listing_images_beside_a_prune_loop_never_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let stop = AtomicBool::new(false);
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut errors = Vec::new();
    std::thread::scope(|s| {
        let maker = s.spawn(|| {
            let store = Store::open(dir.path()).unwrap();
            let mut i = 0u32;
            while !stop.load(Ordering::Relaxed) && Instant::now() < deadline && i < 100_000 {
                let lease = store.lease().unwrap();
                let target = make_leased_image(&store, &lease, i).unwrap();
                store
                    .set_tag(&format!("docker.io/library/l{}:latest", i % 5), &target)
                    .unwrap();
                drop(lease);
                store.prune(true).unwrap();
                i += 1;
            }
            i
        });
        for _ in 0..100_000 {
            if Instant::now() >= deadline {
                break;
            }
            if let Err(e) = store.images() {
                errors.push(format!("images: {e}"));
            }
            match store.resolve_image("0123") {
                Err(e) if !e.is_not_found() && !e.to_string().contains("multiple IDs") => {
                    errors.push(format!("resolve: {e}"))
                }
                _ => {}
            }
        }
        stop.store(true, Ordering::Relaxed);
        assert!(maker.join().unwrap() > 0);
    });
    assert!(
        errors.is_empty(),
        "{} failures, the first: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
}
