//! The copy engine between two OCI layout directories: platforms, skipping, verification,
//! retries and recompression.

mod copy_common;

use std::sync::{Arc, Mutex};

use copy_common::*;
use oci::{Platform, media};
use transport::{
    CopyOptions, LayoutDestination, LayoutSource, OciLayout, PlatformChoice, ProgressEvent,
    TransportError, copy,
};

fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    }
}

fn other_arch() -> &'static str {
    if host_arch() == "amd64" {
        "arm64"
    } else {
        "amd64"
    }
}

#[tokio::test]
async fn copies_a_single_manifest() {
    let dir = tempdir();
    let (src_root, dst_root) = (path(&dir, "src"), path(&dir, "dst"));
    let (m, layer) = image(&src_root, "amd64", &[("hello.txt", b"hello")]);
    let src = LayoutSource::new(layout(&src_root, &[(m.clone(), Some("v1"))]), None).unwrap();
    let dst = LayoutDestination::new(&dst_root, Some("app".into())).unwrap();

    let report = copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.top.digest, m.digest);
    assert_eq!(report.source_digest, m.digest);
    assert_eq!(report.manifests.len(), 1);
    assert!(report.config.is_some());
    assert_eq!((report.blobs_copied, report.blobs_skipped), (2, 0));
    assert!(report.bytes_copied >= layer.size);
    assert!(!report.rewritten);

    let idx = index_json(&dst_root);
    assert_eq!(idx.manifests.len(), 1);
    assert_eq!(idx.manifests[0].digest, m.digest);
    assert_eq!(
        idx.manifests[0].annotations[transport::REF_NAME_ANNOTATION],
        "app"
    );
    // Manifest bytes are passed through unchanged.
    assert_eq!(
        std::fs::read(dst_root.join("blobs/sha256").join(m.digest.hex())).unwrap(),
        std::fs::read(src_root.join("blobs/sha256").join(m.digest.hex())).unwrap()
    );
    assert_eq!(
        blob_files(&dst_root).len(),
        3,
        "config, layer, manifest only"
    );

    // A second copy finds everything there.
    let again = copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!((again.blobs_copied, again.blobs_skipped), (0, 2));
    assert_eq!(again.bytes_copied, 0);
}

/// A layout with one index of two platforms; returns (index, host manifest, other manifest).
fn two_platforms(root: &std::path::Path) -> (oci::Descriptor, oci::Descriptor, oci::Descriptor) {
    let (host, _) = image(root, host_arch(), &[("arch", host_arch().as_bytes())]);
    let (other, _) = image(root, other_arch(), &[("arch", other_arch().as_bytes())]);
    let idx = index(root, &[other.clone(), host.clone()]);
    layout(root, &[(idx.clone(), Some("multi"))]);
    (idx, host, other)
}

#[tokio::test]
async fn chooses_a_platform_from_an_index() {
    let dir = tempdir();
    let src_root = path(&dir, "src");
    let (idx, host, other) = two_platforms(&src_root);
    let src = LayoutSource::new(OciLayout::open(&src_root).unwrap(), Some("multi")).unwrap();

    for (choice, want) in [
        (PlatformChoice::Host, &host),
        (
            PlatformChoice::One(Platform {
                os: "linux".into(),
                architecture: other_arch().into(),
                ..Platform::default()
            }),
            &other,
        ),
    ] {
        let dst_root = path(&dir, &format!("dst-{}", want.digest.short()));
        let dst = LayoutDestination::new(&dst_root, Some("one".into())).unwrap();
        let opts = CopyOptions {
            platforms: choice.clone(),
            ..CopyOptions::default()
        };
        let report = copy(&src, &dst, &opts).await.unwrap();
        assert_eq!(report.top.digest, want.digest, "{choice:?}");
        assert_eq!(report.source_digest, idx.digest, "{choice:?}");
        assert_eq!(report.manifests.len(), 1);
        let entries = index_json(&dst_root).manifests;
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].digest, want.digest);
        assert!(
            !dst_root
                .join("blobs/sha256")
                .join(idx.digest.hex())
                .exists(),
            "the index is not written when one platform is chosen"
        );
    }
}

#[tokio::test]
async fn all_platforms_keep_the_index_byte_for_byte() {
    let dir = tempdir();
    let (src_root, dst_root) = (path(&dir, "src"), path(&dir, "dst"));
    let (idx, host, other) = two_platforms(&src_root);
    let src = LayoutSource::new(OciLayout::open(&src_root).unwrap(), None).unwrap();
    let dst = LayoutDestination::new(&dst_root, None).unwrap();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let opts = CopyOptions {
        platforms: PlatformChoice::All,
        tag: Some("everything".into()),
        progress: Some(Arc::new(move |e| sink.lock().unwrap().push(e))),
        ..CopyOptions::default()
    };
    let report = copy(&src, &dst, &opts).await.unwrap();
    assert_eq!(report.top.digest, idx.digest);
    assert_eq!(report.source_digest, idx.digest);
    assert_eq!(report.manifests.len(), 2);
    assert_eq!(report.config, None);
    assert_eq!(report.blobs_copied, 4);
    let name = |p: &std::path::Path| p.join("blobs/sha256").join(idx.digest.hex());
    assert_eq!(
        std::fs::read(name(&dst_root)).unwrap(),
        std::fs::read(name(&src_root)).unwrap()
    );
    let entries = index_json(&dst_root).manifests;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].digest, idx.digest);
    assert_eq!(
        entries[0].annotations[transport::REF_NAME_ANNOTATION],
        "everything"
    );

    // Children before parents: both manifests, then the index.
    let written: Vec<oci::Digest> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::ManifestWritten { digest } => Some(digest.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(written.len(), 3);
    assert_eq!(written[2], idx.digest);
    assert!(written.contains(&host.digest) && written.contains(&other.digest));
    let events = events.lock().unwrap();
    assert!(matches!(events[0], ProgressEvent::Resolved { .. }));
    let done = events
        .iter()
        .filter(|e| matches!(e, ProgressEvent::BlobDone { .. }))
        .count();
    assert_eq!(done, 4);
}

#[tokio::test]
async fn names_the_platforms_an_index_has() {
    let dir = tempdir();
    let src_root = path(&dir, "src");
    two_platforms(&src_root);
    let src = LayoutSource::new(OciLayout::open(&src_root).unwrap(), None).unwrap();
    let dst = LayoutDestination::new(path(&dir, "dst"), None).unwrap();
    let opts = CopyOptions {
        platforms: PlatformChoice::One(Platform {
            os: "linux".into(),
            architecture: "s390x".into(),
            ..Platform::default()
        }),
        ..CopyOptions::default()
    };
    let err = copy(&src, &dst, &opts).await.unwrap_err();
    match &err {
        TransportError::NoMatchingPlatform {
            platform,
            available,
            ..
        } => {
            assert_eq!(platform, "linux/s390x");
            assert!(available.contains("linux/amd64"), "{available}");
            assert!(available.contains("linux/arm64"), "{available}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn refuses_a_lying_source_and_keeps_nothing() {
    let dir = tempdir();
    let src_root = path(&dir, "src");
    let (m, layer) = image(&src_root, "amd64", &[("a", b"real content")]);
    layout(&src_root, &[(m.clone(), Some("v1"))]);
    let fake_same_size = vec![b'x'; layer.size as usize];
    let mut too_long =
        std::fs::read(src_root.join("blobs/sha256").join(layer.digest.hex())).unwrap();
    too_long.extend_from_slice(b"trailing");
    let mut other_manifest =
        std::fs::read(src_root.join("blobs/sha256").join(m.digest.hex())).unwrap();
    other_manifest.push(b'\n');

    for (i, (target, lie)) in [
        (layer.digest.clone(), Lie::Bytes(fake_same_size)),
        (layer.digest.clone(), Lie::Bytes(too_long)),
        (layer.digest.clone(), Lie::Bytes(b"short".to_vec())),
        (m.digest.clone(), Lie::Manifest(other_manifest)),
    ]
    .into_iter()
    .enumerate()
    {
        let inner = LayoutSource::new(OciLayout::open(&src_root).unwrap(), None).unwrap();
        let src = Misbehaving::new(inner, target.clone(), lie.clone());
        let dst_root = path(&dir, &format!("dst{i}"));
        let dst = LayoutDestination::new(&dst_root, None).unwrap();
        let err = copy(&src, &dst, &CopyOptions::default()).await.unwrap_err();
        let ok = match (&lie, &err) {
            (Lie::Bytes(b), TransportError::DigestMismatch { expected, .. })
                if b.len() as u64 == layer.size =>
            {
                *expected == target
            }
            (Lie::Bytes(_), TransportError::SizeMismatch { expected, .. }) => {
                *expected == layer.size
            }
            (Lie::Manifest(_), TransportError::SizeMismatch { .. }) => true,
            _ => false,
        };
        assert!(ok, "case {i}: {err}");
        assert!(
            !blob_files(&dst_root).iter().any(|f| f == target.hex()),
            "case {i}: the bad blob was kept"
        );
        assert!(
            !blob_files(&dst_root).iter().any(|f| f.starts_with('.')),
            "case {i}: temp files left: {:?}",
            blob_files(&dst_root)
        );
        assert!(index_json(&dst_root).manifests.is_empty(), "case {i}");
    }
}

#[tokio::test]
async fn retries_a_transfer_that_broke() {
    let dir = tempdir();
    let (src_root, dst_root) = (path(&dir, "src"), path(&dir, "dst"));
    // Incompressible content, so the layer is large enough to break in the middle.
    let (m, layer) = image(&src_root, "amd64", &[("noise", &noise(300_000))]);
    layout(&src_root, &[(m.clone(), None)]);
    let inner = LayoutSource::new(OciLayout::open(&src_root).unwrap(), None).unwrap();
    let after = (layer.size / 2) as usize;
    let src = Misbehaving::new(
        inner,
        layer.digest.clone(),
        Lie::FailAfter { after, times: 1 },
    );
    let dst = LayoutDestination::new(&dst_root, None).unwrap();
    let report = copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.blobs_copied, 2);
    assert_eq!(*src.offsets.lock().unwrap(), vec![0, 0]);
    assert!(
        blob_files(&dst_root)
            .iter()
            .any(|f| f == layer.digest.hex())
    );

    // With no retries allowed the same fault fails the copy.
    let inner = LayoutSource::new(OciLayout::open(&src_root).unwrap(), None).unwrap();
    let src = Misbehaving::new(
        inner,
        layer.digest.clone(),
        Lie::FailAfter { after, times: 1 },
    );
    let dst = LayoutDestination::new(path(&dir, "dst2"), None).unwrap();
    let opts = CopyOptions {
        retries: 0,
        ..CopyOptions::default()
    };
    let err = copy(&src, &dst, &opts).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
}

#[tokio::test]
async fn recompresses_layers_and_rewrites_the_manifest() {
    let dir = tempdir();
    let (src_root, dst_root) = (path(&dir, "src"), path(&dir, "dst"));
    let (m, layer) = image(&src_root, "amd64", &[("f", b"some file content")]);
    layout(&src_root, &[(m.clone(), None)]);
    let src = LayoutSource::new(OciLayout::open(&src_root).unwrap(), None).unwrap();
    let dst = LayoutDestination::new(&dst_root, Some("z".into())).unwrap();
    let opts = CopyOptions {
        recompress: Some(layer::Compression::Zstd),
        ..CopyOptions::default()
    };
    let report = copy(&src, &dst, &opts).await.unwrap();
    assert!(report.rewritten);
    assert_ne!(report.top.digest, m.digest);
    let bytes = std::fs::read(dst_root.join("blobs/sha256").join(report.top.digest.hex())).unwrap();
    assert!(report.top.digest.verify(&bytes));
    let new = oci::Manifest::from_slice(&bytes).unwrap();
    let old = oci::Manifest::from_slice(
        &std::fs::read(src_root.join("blobs/sha256").join(m.digest.hex())).unwrap(),
    )
    .unwrap();
    assert_eq!(new.config, old.config, "the config is kept");
    assert_eq!(new.layers[0].media_type, media::OCI_LAYER_ZSTD);
    assert_ne!(new.layers[0].digest, layer.digest);
    let blob = std::fs::read(
        dst_root
            .join("blobs/sha256")
            .join(new.layers[0].digest.hex()),
    )
    .unwrap();
    assert!(new.layers[0].digest.verify(&blob));
    assert_eq!(new.layers[0].size, blob.len() as u64);
    let tar = zstd_decode(&blob);
    assert_eq!(tar, tar_of(&[("f", b"some file content")]));
    assert!(
        !blob_files(&dst_root)
            .iter()
            .any(|f| f == layer.digest.hex()),
        "the gzip layer is not copied"
    );
    assert_eq!(index_json(&dst_root).manifests[0].digest, report.top.digest);

    // Same compression asked: nothing is rewritten.
    let same = CopyOptions {
        recompress: Some(layer::Compression::Gzip),
        ..CopyOptions::default()
    };
    let dst2 = LayoutDestination::new(path(&dir, "dst2"), None).unwrap();
    let report = copy(&src, &dst2, &same).await.unwrap();
    assert!(!report.rewritten);
    assert_eq!(report.top.digest, m.digest);
}

fn zstd_decode(blob: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    layer::decompress(
        std::io::Cursor::new(blob.to_vec()),
        layer::Compression::Zstd,
    )
    .unwrap()
    .read_to_end(&mut out)
    .unwrap();
    out
}

#[tokio::test]
async fn picks_layout_entries_by_name() {
    let dir = tempdir();
    let root = path(&dir, "src");
    let (a, _) = image(&root, "amd64", &[("a", b"a")]);
    let (b, _) = image(&root, "amd64", &[("b", b"b")]);
    let l = layout(&root, &[(a.clone(), Some("a")), (b.clone(), Some("b"))]);
    let top =
        |r: Option<&str>| LayoutSource::new(l.clone(), r).map(|s| s.layout().path().to_path_buf());
    assert!(top(Some("a")).is_ok());
    assert_eq!(l.find(Some("b")).unwrap().digest, b.digest);
    assert_eq!(
        l.find(Some(&a.digest.to_string())).unwrap().digest,
        a.digest
    );
    let err = l.find(None).unwrap_err().to_string();
    assert!(err.contains("a, b"), "{err}");
    let err = l.find(Some("c")).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("a, b"), "{err}");
}

#[tokio::test]
async fn destination_replaces_a_name_and_keeps_other_entries() {
    let dir = tempdir();
    let (src_root, dst_root) = (path(&dir, "src"), path(&dir, "dst"));
    let (a, _) = image(&src_root, "amd64", &[("a", b"a")]);
    let (b, _) = image(&src_root, "amd64", &[("b", b"b")]);
    layout(&src_root, &[(a.clone(), Some("a")), (b.clone(), Some("b"))]);
    let l = OciLayout::open(&src_root).unwrap();
    for (name, src_ref) in [("x", "a"), ("y", "b"), ("x", "b")] {
        let src = LayoutSource::new(l.clone(), Some(src_ref)).unwrap();
        let dst = LayoutDestination::new(&dst_root, Some(name.into())).unwrap();
        copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    }
    let entries = index_json(&dst_root).manifests;
    let named: Vec<(String, oci::Digest)> = entries
        .iter()
        .map(|d| {
            (
                d.annotations[transport::REF_NAME_ANNOTATION].clone(),
                d.digest.clone(),
            )
        })
        .collect();
    assert_eq!(
        named,
        vec![
            ("y".to_string(), b.digest.clone()),
            ("x".to_string(), b.digest.clone())
        ]
    );
}

#[tokio::test]
async fn concurrent_writers_keep_every_name() {
    let dir = tempdir();
    let (src_root, dst_root) = (path(&dir, "src"), path(&dir, "dst"));
    let (m, _) = image(&src_root, "amd64", &[("a", b"a")]);
    layout(&src_root, &[(m.clone(), None)]);
    OciLayout::create(&dst_root).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (dst_root, m) = (dst_root.clone(), m.clone());
            std::thread::spawn(move || {
                OciLayout::open(&dst_root)
                    .unwrap()
                    .add_to_index(&m, Some(&format!("name{i}")))
                    .unwrap();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut names: Vec<String> = index_json(&dst_root)
        .manifests
        .iter()
        .map(|d| d.annotations[transport::REF_NAME_ANNOTATION].clone())
        .collect();
    names.sort();
    assert_eq!(
        names,
        (0..8).map(|i| format!("name{i}")).collect::<Vec<_>>()
    );
    assert!(
        !std::fs::read_dir(&dst_root)
            .unwrap()
            .any(|e| { e.unwrap().file_name().to_string_lossy().starts_with('.') })
    );
}
