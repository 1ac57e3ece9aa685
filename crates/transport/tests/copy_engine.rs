//! The copy engine against a destination that trusts everything: the engine's own checks,
//! parallelism, deduplication and write order.

mod copy_common;

use std::sync::atomic::Ordering;

use copy_common::*;
use transport::{CopyOptions, LayoutSource, OciLayout, PlatformChoice, TransportError, copy};

#[tokio::test]
async fn the_engine_itself_refuses_lies() {
    let dir = tempdir();
    let root = path(&dir, "src");
    let (m, layer) = image(&root, "amd64", &[("a", b"genuine")]);
    layout(&root, &[(m, None)]);
    let real = std::fs::read(root.join("blobs/sha256").join(layer.digest.hex())).unwrap();
    let mut longer = real.clone();
    longer.extend_from_slice(&[0; 100]);
    for (name, lie) in [
        ("same size, other bytes", vec![0u8; real.len()]),
        ("shorter", real[..real.len() - 1].to_vec()),
        ("longer", longer),
    ] {
        let inner = LayoutSource::new(OciLayout::open(&root).unwrap(), None).unwrap();
        let src = Misbehaving::new(inner, layer.digest.clone(), Lie::Bytes(lie));
        let sink = Sink::default();
        let err = copy(&src, &sink, &CopyOptions::default())
            .await
            .unwrap_err();
        match (name, &err) {
            ("same size, other bytes", TransportError::DigestMismatch { expected, .. }) => {
                assert_eq!(*expected, layer.digest)
            }
            ("shorter" | "longer", TransportError::SizeMismatch { expected, .. }) => {
                assert_eq!(*expected, layer.size)
            }
            _ => panic!("{name}: unexpected {err}"),
        }
        assert!(
            !sink.blobs.lock().unwrap().contains_key(&layer.digest),
            "{name}"
        );
        assert!(sink.manifests.lock().unwrap().is_empty(), "{name}");
        assert_eq!(sink.commits.load(Ordering::SeqCst), 0, "{name}");
    }
}

/// An index of `n` images that all share one base layer and each have their own config.
fn shared_base(root: &std::path::Path, n: usize) -> oci::Descriptor {
    let archs = ["amd64", "arm64", "ppc64le", "s390x", "riscv64", "386"];
    let manifests: Vec<oci::Descriptor> = archs[..n]
        .iter()
        .map(|a| image(root, a, &[("base", b"shared")]).0)
        .collect();
    let idx = index(root, &manifests);
    layout(root, &[(idx.clone(), None)]);
    idx
}

#[tokio::test]
async fn transfers_shared_blobs_once_and_in_parallel() {
    let dir = tempdir();
    let root = path(&dir, "src");
    let idx = shared_base(&root, 6);
    for jobs in [1, 3] {
        let src = LayoutSource::new(OciLayout::open(&root).unwrap(), None).unwrap();
        let sink = Sink {
            delay_ms: 30,
            ..Sink::default()
        };
        let opts = CopyOptions {
            platforms: PlatformChoice::All,
            jobs,
            tag: Some("t".into()),
            ..CopyOptions::default()
        };
        let report = copy(&src, &sink, &opts).await.unwrap();
        assert_eq!(report.blobs_copied, 7, "six configs and one shared layer");
        assert_eq!(sink.blobs.lock().unwrap().len(), 7);
        assert_eq!(sink.max_active.load(Ordering::SeqCst), jobs, "jobs={jobs}");
        assert_eq!(sink.commits.load(Ordering::SeqCst), 1);
        let manifests = sink.manifests.lock().unwrap();
        assert_eq!(manifests.len(), 7);
        let (last, tag) = manifests.last().unwrap();
        assert_eq!(last.digest, idx.digest, "the index comes last");
        assert_eq!(tag.as_deref(), Some("t"));
        assert!(
            manifests[..6].iter().all(|(_, t)| t.is_none()),
            "only the top is tagged"
        );
    }
}

#[tokio::test]
async fn mounts_what_it_can_and_reports_progress() {
    use std::sync::{Arc, Mutex};
    use transport::ProgressEvent;
    let dir = tempdir();
    let root = path(&dir, "src");
    let big = noise(1_000_000);
    let (m, layer) = image(&root, "amd64", &[("big", &big)]);
    layout(&root, &[(m, None)]);
    let src = LayoutSource::new(OciLayout::open(&root).unwrap(), None).unwrap();
    let sink = Sink {
        mountable: vec![layer.digest.clone()],
        ..Sink::default()
    };
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let opts = CopyOptions {
        mount_from: Some("library/base".into()),
        progress: Some(Arc::new(move |e| seen.lock().unwrap().push(e))),
        ..CopyOptions::default()
    };
    let report = copy(&src, &sink, &opts).await.unwrap();
    assert_eq!((report.blobs_copied, report.blobs_skipped), (1, 1));
    assert!(report.bytes_copied < layer.size);
    assert!(
        sink.mounts_from
            .lock()
            .unwrap()
            .iter()
            .all(|r| r == "library/base")
    );
    let mounted = ProgressEvent::BlobMounted {
        digest: layer.digest.clone(),
        size: layer.size,
        media_type: layer.media_type.clone(),
        from: "library/base".to_string(),
    };
    assert!(events.lock().unwrap().contains(&mounted));

    // Without a mount the layer flows, with progress up to its size.
    let sink = Sink::default();
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = events.clone();
    let opts = CopyOptions {
        progress: Some(Arc::new(move |e| seen.lock().unwrap().push(e))),
        ..CopyOptions::default()
    };
    copy(&src, &sink, &opts).await.unwrap();
    let progress: Vec<u64> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            ProgressEvent::BlobProgress { digest, bytes } if *digest == layer.digest => {
                Some(*bytes)
            }
            _ => None,
        })
        .collect();
    assert!(progress.len() > 1, "{progress:?}");
    assert!(progress.windows(2).all(|w| w[0] < w[1]), "{progress:?}");
    assert_eq!(*progress.last().unwrap(), layer.size);
}
