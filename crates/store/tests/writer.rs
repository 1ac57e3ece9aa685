//! Writing a blob before its digest is known, and storing an image whole (issue 11, "One
//! way to write an image").

use std::fs;
use std::io::Write;

use oci::{Descriptor, Manifest, media};
use store::{Layout, Store};

mod common;
use common::{make_image, payload};

/// The entries of `ingest/`.
fn ingest_entries(layout: &Layout) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(layout.ingest_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_committed_writer_names_its_blob_by_its_hash_and_leaves_no_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let lease = store.lease().unwrap();
    let bytes = payload(300_000, 7);
    let mut w = store.blob_writer(&lease).unwrap();
    assert_eq!(
        ingest_entries(store.layout()).len(),
        1,
        "one directory while writing"
    );
    for chunk in bytes.chunks(4096) {
        w.write_all(chunk).unwrap();
    }
    assert_eq!(w.written(), bytes.len() as u64);
    let desc = w.commit(media::OCI_LAYER_GZIP).unwrap();
    assert_eq!(desc, Descriptor::of_bytes(media::OCI_LAYER_GZIP, &bytes));
    assert_eq!(store.read_blob(&desc.digest).unwrap(), bytes);
    assert_eq!(store.blob_descriptor(&desc.digest).unwrap(), desc);
    assert_eq!(lease.digests().unwrap(), vec![desc.digest.clone()]);
    assert_eq!(ingest_entries(store.layout()), Vec::<String>::new());
}

#[test]
fn a_writer_dropped_without_commit_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let lease = store.lease().unwrap();
    let mut w = store.blob_writer(&lease).unwrap();
    w.write_all(&payload(100_000, 1)).unwrap();
    drop(w);
    assert_eq!(ingest_entries(store.layout()), Vec::<String>::new());
    let blobs = fs::read_dir(store.layout().blobs_dir_of(oci::Algorithm::Sha256)).unwrap();
    assert_eq!(blobs.count(), 0);
}

#[test]
fn writing_a_blob_already_stored_keeps_the_stored_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let bytes = payload(5000, 3);
    let image = make_image(&store, "stored", &[&bytes]);
    let m = Manifest::from_slice(&store.manifest_bytes(&image.digest).unwrap()).unwrap();
    let first = m.layers[0].clone();
    let lease = store.lease().unwrap();
    let mut w = store.blob_writer(&lease).unwrap();
    w.write_all(&bytes).unwrap();
    let again = w.commit(media::OCI_LAYER).unwrap();
    assert_eq!(again, first);
    assert_eq!(store.read_blob(&first.digest).unwrap(), bytes);
    assert_eq!(ingest_entries(store.layout()), Vec::<String>::new());
}

#[test]
fn a_writers_blob_is_leased_until_the_lease_drops() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let lease = store.lease().unwrap();
    let mut w = store.blob_writer(&lease).unwrap();
    w.write_all(b"not yet in an image").unwrap();
    let desc = w.commit(media::OCI_LAYER).unwrap();
    // A prune between the layer's commit and its image's tag must keep it.
    assert!(store.gc().unwrap().removed.is_empty());
    assert!(store.has_blob(&desc.digest).unwrap());
    drop(lease);
    assert_eq!(store.gc().unwrap().removed, vec![desc.digest.clone()]);
}

#[test]
fn what_dead_writers_left_in_ingest_is_discarded_and_live_writers_are_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let layout = store.layout().clone();
    // A killed anonymous writer: its lock is free, its data partial.
    let dead = layout.anonymous_ingest(999_999, 0);
    fs::create_dir_all(dead.path()).unwrap();
    fs::write(dead.lock(), b"").unwrap();
    fs::write(dead.data(), b"partial").unwrap();
    // One killed between its directory and its lock.
    fs::create_dir_all(layout.anonymous_ingest(999_999, 1).path()).unwrap();
    // A digest-named ingest killed after taking its lock, before writing a byte: nothing
    // to resume (it used to stay forever: no data means no age for the stale sweep).
    let d = Descriptor::of_bytes(media::OCI_CONFIG, b"{}");
    let bare = layout.ingest(&d.digest);
    fs::create_dir_all(bare.path()).unwrap();
    fs::write(bare.lock(), b"").unwrap();
    // One killed after opening its data, before marking it oneshot (a config's write).
    let d = Descriptor::of_bytes(media::OCI_CONFIG, b"{\"a\":1}");
    let empty = layout.ingest(&d.digest);
    fs::create_dir_all(empty.path()).unwrap();
    fs::write(empty.lock(), b"").unwrap();
    fs::write(empty.data(), b"").unwrap();
    // A resumable partial download: kept.
    let partial = Descriptor::of_bytes(media::OCI_LAYER, &payload(1000, 9));
    let resumable = layout.ingest(&partial.digest);
    fs::create_dir_all(resumable.path()).unwrap();
    fs::write(resumable.lock(), b"").unwrap();
    fs::write(resumable.data(), &payload(1000, 9)[..10]).unwrap();
    let lease = store.lease().unwrap();
    let mut live = store.blob_writer(&lease).unwrap();
    live.write_all(b"still writing").unwrap();

    store.discard_dead_oneshot_ingests();
    let left = ingest_entries(&layout);
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(left.contains(&partial.digest.hex().to_string()), "{left:?}");
    assert!(
        left.iter()
            .any(|n| n.starts_with(&format!("anon-{}-", std::process::id()))),
        "{left:?}"
    );
    let desc = live.commit(media::OCI_LAYER).unwrap();
    assert_eq!(store.read_blob(&desc.digest).unwrap(), b"still writing");
}

fn manifest_of(config: &[u8], layers: Vec<Descriptor>) -> Manifest {
    Manifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.into()),
        artifact_type: None,
        config: Descriptor::of_bytes(media::OCI_CONFIG, config),
        layers,
        subject: None,
        annotations: Default::default(),
    }
}

#[test]
fn put_image_stores_config_manifest_and_tags_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let lease = store.lease().unwrap();
    let mut w = store.blob_writer(&lease).unwrap();
    w.write_all(b"layer").unwrap();
    let layer = w.commit(media::OCI_LAYER_GZIP).unwrap();
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let m = manifest_of(config, vec![layer.clone()]);
    let tags = vec![
        "docker.io/library/a:1".to_string(),
        "docker.io/library/a:2".to_string(),
    ];
    let stored = store.put_image(&lease, &m, config, &tags).unwrap();
    assert_eq!(
        stored.manifest,
        Descriptor::of_bytes(media::OCI_MANIFEST, &m.to_vec())
    );
    assert_eq!(stored.id, m.config.digest);
    assert_eq!(
        store.manifest_bytes(&stored.manifest.digest).unwrap(),
        m.to_vec()
    );
    let info = store.resolve_image("docker.io/library/a:2").unwrap();
    assert_eq!((info.id, info.tags), (stored.id.clone(), tags));
    // Untagged: an image record all the same.
    let m2 = manifest_of(b"{}", vec![layer]);
    let untagged = store.put_image(&lease, &m2, b"{}", &[]).unwrap();
    let info = store.resolve_image(&untagged.id.to_string()).unwrap();
    assert!(info.dangling);
    drop(lease);
    assert!(
        store.gc().unwrap().removed.is_empty(),
        "the images keep it all"
    );
}

#[test]
fn put_image_refuses_a_missing_layer_or_a_config_the_manifest_does_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let lease = store.lease().unwrap();
    let missing = Descriptor::of_bytes(media::OCI_LAYER_GZIP, b"never written");
    let m = manifest_of(b"{}", vec![missing]);
    assert!(
        store
            .put_image(&lease, &m, b"{}", &[])
            .unwrap_err()
            .is_not_found()
    );
    let m = manifest_of(b"{}", vec![]);
    let e = store.put_image(&lease, &m, b"{ }", &[]).unwrap_err();
    assert!(matches!(e, store::StoreError::Invalid { .. }), "{e}");
    assert!(store.images().unwrap().is_empty());
}

#[test]
fn verify_names_each_kind_of_violation() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let lease = store.lease().unwrap();
    let mut w = store.blob_writer(&lease).unwrap();
    w.write_all(b"layer").unwrap();
    let layer = w.commit(media::OCI_LAYER_GZIP).unwrap();
    let m = manifest_of(b"{}", vec![layer.clone()]);
    let image = store.put_image(&lease, &m, b"{}", &[]).unwrap();
    assert_eq!(store.verify().unwrap(), vec![]);
    // A file named for other content; a layer whose file went (so: a half image).
    let wrong = Descriptor::of_bytes(media::OCI_LAYER, b"x");
    fs::write(store.blob_path(&wrong.digest), b"y").unwrap();
    fs::remove_file(store.blob_path(&layer.digest)).unwrap();
    let got = store.verify().unwrap();
    assert!(
        got.contains(&store::Violation::MisnamedFile {
            path: store.blob_path(&wrong.digest),
            actual: oci::Digest::sha256_of(b"y"),
        }),
        "{got:?}"
    );
    assert!(
        got.contains(&store::Violation::RowWithoutFile(layer.digest.clone())),
        "{got:?}"
    );
    assert!(
        got.contains(&store::Violation::HalfImage {
            image: image.manifest.digest.clone(),
            missing: layer.digest.clone(),
        }),
        "{got:?}"
    );
    assert_eq!(got.len(), 3, "{got:?}");
}

/// A reaper that found no lock file in a fresh directory used to remove the files in it
/// all the same; a writer that had made its lock and data in between lost its data, and its
/// commit failed ("cannot rename into ...: No such file", seen beside a prune loop). What
/// the reaper must leave: a directory whose files appeared after it looked.
#[test]
fn a_reaper_that_finds_no_lock_file_removes_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let d = store.layout().anonymous_ingest(999_998, 0);
    fs::create_dir_all(d.path()).unwrap();
    fs::write(d.data(), b"being written").unwrap();
    store.discard_dead_oneshot_ingests();
    assert_eq!(fs::read(d.data()).unwrap(), b"being written");
}

#[test]
fn add_all_leases_every_digest_in_one_go() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let a = store.put_blob_bytes(media::OCI_LAYER, b"a").unwrap();
    let b = store.put_blob_bytes(media::OCI_LAYER, b"b").unwrap();
    let lease = store.lease().unwrap();
    lease
        .add_all(&[a.digest.clone(), b.digest.clone()])
        .unwrap();
    let mut held = lease.digests().unwrap();
    held.sort();
    let mut want = vec![a.digest.clone(), b.digest.clone()];
    want.sort();
    assert_eq!(held, want);
    assert!(store.gc().unwrap().removed.is_empty());
    drop(lease);
    assert_eq!(store.gc().unwrap().removed.len(), 2);
}

/// A dead process with this PID may have left `anon-<pid>-<n>` (PIDs are reused) before any
/// reaper ran: a writer taking that name overwrites it instead of failing.
#[test]
fn a_writer_overwrites_what_a_dead_process_with_its_pid_left() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    for n in 0..4 {
        let d = store.layout().anonymous_ingest(std::process::id(), n);
        fs::create_dir_all(d.path()).unwrap();
        fs::write(d.lock(), b"").unwrap();
        fs::write(d.data(), b"stale").unwrap();
    }
    let lease = store.lease().unwrap();
    let mut w = store.blob_writer(&lease).unwrap();
    w.write_all(b"fresh").unwrap();
    let desc = w.commit(media::OCI_LAYER).unwrap();
    assert_eq!(store.read_blob(&desc.digest).unwrap(), b"fresh");
}
