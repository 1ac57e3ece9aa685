//! OCI archives and docker-archives: writing then reading back, several images in one
//! archive, the classic `docker save` form built by hand, and bad input.

#[path = "archive_support/mod.rs"]
mod support;

use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use oci::{Descriptor, Digest, Index, media};
use support::*;
use transport::{
    DockerArchiveDestination, DockerArchiveSource, ImageDestination, OciArchiveDestination,
    OciArchiveSource, TarIndex, TransportError, spool_to_tempfile,
};

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn assert_same_image(read: &ReadImage, img: &TestImage) {
    assert_eq!(read.config, img.config);
    assert_eq!(read.layers.len(), img.layers.len());
    for (got, (want, _, _)) in read.layers.iter().zip(&img.layers) {
        assert_eq!(got, want);
    }
}

#[tokio::test]
async fn oci_archive_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("img.tar");
    let img = TestImage::new("oci", 2, true, true);
    let dst = OciArchiveDestination::create(&path).unwrap();
    copy_image(&img.source(), &dst, Some("v1")).await.unwrap();
    assert!(!path.exists(), "nothing visible before commit");
    dst.commit().await.unwrap();
    assert_eq!(files_in(dir.path()), ["img.tar"], "temp file renamed away");

    let listing = tar_listing(&path);
    let names: Vec<&str> = listing.iter().map(|(p, _, _)| p.as_str()).collect();
    assert!(names.contains(&"oci-layout") && names.contains(&"index.json"));
    let index = Index::from_slice(&tar_file(&path, "index.json")).unwrap();
    assert_eq!(index.manifests.len(), 1);
    assert_eq!(index.manifests[0].digest, img.desc.digest);
    assert_eq!(
        index.manifests[0].annotations["org.opencontainers.image.ref.name"],
        "v1"
    );

    for reference in [None, Some("v1"), Some(img.desc.digest.to_string().as_str())] {
        let src = OciArchiveSource::open(&path, reference).unwrap();
        let read = read_image(&src).await.unwrap();
        assert_eq!(read.desc.digest, img.desc.digest);
        assert_eq!(read.manifest_bytes, img.manifest);
        assert_same_image(&read, &img);
    }
    let err = OciArchiveSource::open(&path, Some("nope")).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("v1"), "lists what it has: {err}");
}

#[tokio::test]
async fn blob_reads_resume_at_an_offset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("img.tar");
    let img = TestImage::new("offset", 1, false, true);
    let dst = OciArchiveDestination::create(&path).unwrap();
    copy_image(&img.source(), &dst, Some("v1")).await.unwrap();
    dst.commit().await.unwrap();
    let src = OciArchiveSource::open(&path, None).unwrap();
    let layer = &img.layers[0];
    let mut s = transport::ImageSource::blob(&src, &layer.2, 100)
        .await
        .unwrap();
    let mut rest = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut s, &mut rest)
        .await
        .unwrap();
    assert_eq!(rest, layer.0[100..]);
    let past = Descriptor::new(media::OCI_LAYER, layer.2.digest.clone(), layer.2.size);
    assert!(
        transport::ImageSource::blob(&src, &past, layer.2.size + 1)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn docker_archive_round_trip_keeps_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("save.tar");
    let img = TestImage::new("dock", 3, true, false);
    let dst = DockerArchiveDestination::create(&path).unwrap();
    copy_image(&img.source(), &dst, Some("alpine"))
        .await
        .unwrap();
    // Writing the same image again changes nothing (blobs are deduplicated).
    copy_image(&img.source(), &dst, Some("alpine"))
        .await
        .unwrap();
    dst.commit().await.unwrap();
    assert_eq!(files_in(dir.path()), ["save.tar"]);

    let listing = tar_listing(&path);
    let blob_entries = listing
        .iter()
        .filter(|(p, _, _)| p.starts_with("blobs/sha256/"))
        .count();
    assert_eq!(blob_entries, 5, "config, 3 layers, manifest, once each");

    // Go's json.Encoder ends manifest.json and repositories with a newline, as Docker's.
    for file in ["manifest.json", "repositories"] {
        assert!(
            tar_file(&path, file).ends_with(b"]\n") || tar_file(&path, file).ends_with(b"}\n"),
            "{file}"
        );
    }
    let manifest_json: serde_json::Value =
        serde_json::from_slice(&tar_file(&path, "manifest.json")).unwrap();
    let m = img.parsed();
    assert_eq!(
        manifest_json,
        serde_json::json!([{
            "Config": format!("blobs/sha256/{}", m.config.digest.hex()),
            "RepoTags": ["alpine:latest"],
            "Layers": m.layers.iter().map(|l| format!("blobs/sha256/{}", l.digest.hex())).collect::<Vec<_>>(),
        }])
    );
    let repos: serde_json::Value =
        serde_json::from_slice(&tar_file(&path, "repositories")).unwrap();
    assert_eq!(
        repos,
        serde_json::json!({"alpine": {"latest": m.layers[2].digest.hex()}})
    );
    let index = Index::from_slice(&tar_file(&path, "index.json")).unwrap();
    assert_eq!(index.manifests.len(), 1);
    let a = &index.manifests[0].annotations;
    assert_eq!(
        a["io.containerd.image.name"],
        "docker.io/library/alpine:latest"
    );
    assert_eq!(a["org.opencontainers.image.ref.name"], "latest");

    let src = DockerArchiveSource::open(&path).unwrap();
    assert_eq!(src.list().len(), 1);
    assert_eq!(src.list()[0].repo_tags, ["alpine:latest"]);
    let read = read_image(&src).await.unwrap();
    assert_eq!(
        read.desc.digest, img.desc.digest,
        "the real manifest is served"
    );
    assert_same_image(&read, &img);
}

#[tokio::test]
async fn several_images_in_one_docker_archive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("multi.tar");
    let a = TestImage::new("a", 1, true, false);
    let b = TestImage::new("b", 2, false, true);
    let dst = DockerArchiveDestination::create(&path).unwrap();
    copy_image(&a.source(), &dst, Some("alpine:3"))
        .await
        .unwrap();
    copy_image(&b.source(), &dst, Some("localhost:5000/app:v1"))
        .await
        .unwrap();
    dst.add_image_tag(&a.desc.digest, "docker.io/library/alpine:latest")
        .unwrap();
    assert!(dst.add_image_tag(&a.desc.digest, "bad@sha256:00").is_err());
    let unknown = Digest::sha256_of(b"nothing");
    assert!(
        dst.add_image_tag(&unknown, "x:y")
            .unwrap_err()
            .is_not_found()
    );
    dst.commit().await.unwrap();

    let src = DockerArchiveSource::open(&path).unwrap();
    let list = src.list();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].repo_tags, ["alpine:3", "alpine:latest"]);
    assert_eq!(list[1].repo_tags, ["localhost:5000/app:v1"]);
    let err = transport::ImageSource::resolve(&src).await.unwrap_err();
    assert!(err.to_string().contains("choose one"), "{err}");

    let ra = read_image(&src.image_by_tag("alpine").unwrap())
        .await
        .unwrap();
    assert_eq!(ra.desc.digest, a.desc.digest);
    assert_same_image(&ra, &a);
    let rb = read_image(&src.image(1).unwrap()).await.unwrap();
    assert_eq!(rb.desc.digest, b.desc.digest);
    assert_same_image(&rb, &b);
    let rb2 = read_image(&src.image_by_tag("localhost:5000/app:v1").unwrap())
        .await
        .unwrap();
    assert_eq!(rb2.desc.digest, b.desc.digest);
    assert!(src.image_by_tag("nope:1").unwrap_err().is_not_found());
    assert!(src.image(2).unwrap_err().is_not_found());

    let index = Index::from_slice(&tar_file(&path, "index.json")).unwrap();
    let names: Vec<&str> = index
        .manifests
        .iter()
        .map(|d| d.annotations["io.containerd.image.name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "docker.io/library/alpine:3",
            "docker.io/library/alpine:latest",
            "localhost:5000/app:v1"
        ]
    );
    let repos: serde_json::Value =
        serde_json::from_slice(&tar_file(&path, "repositories")).unwrap();
    assert_eq!(repos["alpine"]["3"], repos["alpine"]["latest"]);
    assert!(repos["localhost:5000/app"]["v1"].is_string());
}

/// Builds an archive like `docker save` before Docker 25: `<hex>.json` config, layers in
/// `<id>/layer.tar` (one a symlink to another image's copy), `manifest.json`, `repositories`.
fn classic_archive(dir: &Path) -> (std::path::PathBuf, Vec<u8>, Vec<Vec<u8>>, Vec<u8>) {
    let l1 = layer_tar(&[("etc/one", b"1")]);
    let l2 = layer_tar(&[("etc/two", b"22")]);
    let l2_gz = gzip(&l2);
    let diff_ids = [
        Digest::sha256_of(&l1),
        Digest::sha256_of(&l2),
        Digest::sha256_of(&l1),
    ];
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }))
    .unwrap();
    let cfg_hex = Digest::sha256_of(&config).hex().to_string();
    let (id1, id2, id3) = ("a".repeat(64), "b".repeat(64), "c".repeat(64));
    let manifest_json = serde_json::to_vec(&serde_json::json!([{
        "Config": format!("{cfg_hex}.json"),
        "RepoTags": null,
        "Layers": [format!("{id1}/layer.tar"), format!("{id2}/layer.tar"), format!("./{id3}/layer.tar")],
    }]))
    .unwrap();
    let repositories = format!(r#"{{"busybox":{{"latest":"{id3}"}}}}"#);
    let cfg_name = format!("{cfg_hex}.json");
    let (p1, p2, p3) = (
        format!("{id1}/layer.tar"),
        format!("{id2}/layer.tar"),
        format!("{id3}/layer.tar"),
    );
    let data = build_tar(
        &[
            (&p1, &l1),
            (&p2, &l2_gz),
            (&cfg_name, &config),
            ("manifest.json", &manifest_json),
            ("repositories", repositories.as_bytes()),
        ],
        &[(&p3, &format!("../{id1}/layer.tar"))],
    );
    let path = dir.join("classic.tar");
    std::fs::write(&path, data).unwrap();
    (path, config, vec![l1.clone(), l2_gz, l1], l2)
}

#[tokio::test]
async fn reads_the_classic_docker_save_form() {
    let dir = tempfile::tempdir().unwrap();
    let (path, config, layers, l2_raw) = classic_archive(dir.path());
    let src = DockerArchiveSource::open(&path).unwrap();
    assert_eq!(
        src.list()[0].repo_tags,
        ["busybox:latest"],
        "from repositories"
    );
    let read = read_image(&src).await.unwrap();
    assert_eq!(read.config, config);
    let m = &read.manifest;
    assert_eq!(m.media_type.as_deref(), Some(media::DOCKER_MANIFEST));
    assert_eq!(m.config.media_type, media::DOCKER_CONFIG);
    assert_eq!(m.config.digest, Digest::sha256_of(&config));
    let types: Vec<&str> = m.layers.iter().map(|l| l.media_type.as_str()).collect();
    assert_eq!(
        types,
        [
            media::DOCKER_LAYER,
            media::DOCKER_LAYER_GZIP,
            media::DOCKER_LAYER
        ]
    );
    assert_eq!(m.layers[0].digest, Digest::sha256_of(&layers[0]), "diffID");
    assert_eq!(
        m.layers[1].digest,
        Digest::sha256_of(&layers[1]),
        "hashed gzip"
    );
    assert_ne!(m.layers[1].digest, Digest::sha256_of(&l2_raw));
    for (got, want) in read.layers.iter().zip(&layers) {
        assert_eq!(got, want);
    }
    // The synthesised manifest is the same bytes for the whole session.
    let again = transport::ImageSource::manifest(&src, &read.desc)
        .await
        .unwrap();
    assert_eq!(again, read.manifest_bytes);
    assert_eq!(
        transport::ImageSource::resolve(&src).await.unwrap().digest,
        read.desc.digest
    );

    // Copying it into a docker-archive and reading back gives the same manifest.
    let out = dir.path().join("out.tar");
    let dst = DockerArchiveDestination::create(&out).unwrap();
    copy_image(&src, &dst, Some("busybox")).await.unwrap();
    dst.commit().await.unwrap();
    let back = read_image(&DockerArchiveSource::open(&out).unwrap())
        .await
        .unwrap();
    assert_eq!(back.manifest_bytes, read.manifest_bytes);
}

#[test]
fn tar_index_reads_long_names_and_links() {
    let long = format!("{}/file.txt", "d".repeat(150));
    let data = build_tar(
        &[(&long, b"long name"), ("a/x", b"xx")],
        &[
            ("b/y", "../a/x"),
            ("c", "b/y"),
            ("loop1", "loop2"),
            ("loop2", "loop1"),
            ("esc", "../../etc/passwd"),
        ],
    );
    let file = spool_to_tempfile(std::io::Cursor::new(data)).unwrap();
    let idx = TarIndex::open(file).unwrap();
    let read = |p: &str| {
        let e = idx.require(p).unwrap();
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut idx.reader(e, 0), &mut v).unwrap();
        v
    };
    assert_eq!(read(&long), b"long name");
    assert_eq!(read("./a/x"), b"xx");
    assert_eq!(read("b/y"), b"xx");
    assert_eq!(read("c"), b"xx");
    assert!(idx.get("loop1").is_err());
    assert!(idx.get("esc").is_err());
    assert!(idx.get("missing").unwrap().is_none());
    assert!(idx.require("missing").unwrap_err().is_not_found());
}

fn expect_invalid(err: TransportError, path: &Path) -> String {
    let msg = err.to_string();
    assert!(
        matches!(err, TransportError::Invalid { .. }),
        "expected Invalid, got {err:?}"
    );
    assert!(
        msg.contains(&path.display().to_string()),
        "names the archive: {msg}"
    );
    msg
}

#[tokio::test]
async fn corrupt_and_truncated_archives_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("good.tar");
    let img = TestImage::new("bad", 2, true, false);
    let dst = DockerArchiveDestination::create(&path).unwrap();
    copy_image(&img.source(), &dst, Some("app:1"))
        .await
        .unwrap();
    dst.commit().await.unwrap();
    let good = std::fs::read(&path).unwrap();

    // Cut in half: inside some entry's data.
    let half = dir.path().join("half.tar");
    std::fs::write(&half, &good[..good.len() / 2]).unwrap();
    let msg = expect_invalid(DockerArchiveSource::open(&half).unwrap_err(), &half);
    assert!(msg.contains("truncated"), "{msg}");
    expect_invalid(OciArchiveSource::open(&half, None).unwrap_err(), &half);

    // Cut inside a header.
    let cut = dir.path().join("cut.tar");
    let header = good
        .windows(13)
        .position(|w| w == b"repositories\0")
        .unwrap();
    std::fs::write(&cut, &good[..header + 100]).unwrap();
    expect_invalid(DockerArchiveSource::open(&cut).unwrap_err(), &cut);

    // A flipped byte in a header breaks its checksum.
    let hdr = dir.path().join("header.tar");
    let mut bytes = good.clone();
    bytes[10] ^= 0x55;
    std::fs::write(&hdr, &bytes).unwrap();
    let msg = expect_invalid(DockerArchiveSource::open(&hdr).unwrap_err(), &hdr);
    assert!(msg.contains("corrupt"), "{msg}");

    // A flipped byte inside a layer blob: the archive opens, the blob fails verification
    // when copied into another archive (whose error names that archive and the blob).
    let layer = &img.layers[1].0;
    let pos = good
        .windows(layer.len())
        .position(|w| w == &layer[..])
        .unwrap();
    let mut bytes = good.clone();
    bytes[pos + layer.len() / 2] ^= 0xff;
    let flipped = dir.path().join("flipped.tar");
    std::fs::write(&flipped, &bytes).unwrap();
    let src = DockerArchiveSource::open(&flipped).unwrap();
    let out = dir.path().join("out.tar");
    let dst = OciArchiveDestination::create(&out).unwrap();
    let err = copy_image(&src, &dst, Some("x")).await.unwrap_err();
    assert!(
        matches!(err, TransportError::DigestMismatch { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(&img.layers[1].2.digest.to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("out.tar"), "{err}");
    drop(dst);
    assert!(!out.exists());

    // Malformed manifest.json.
    let bad_json = dir.path().join("json.tar");
    std::fs::write(
        &bad_json,
        build_tar(&[("manifest.json", b"[{\"Config\": 1}]")], &[]),
    )
    .unwrap();
    let err = DockerArchiveSource::open(&bad_json).unwrap_err();
    assert!(err.to_string().contains("manifest.json"), "{err}");
    assert!(err.to_string().contains("json.tar"), "{err}");

    // Not an archive at all.
    let junk = dir.path().join("junk.tar");
    std::fs::write(&junk, vec![0x42u8; 3000]).unwrap();
    expect_invalid(DockerArchiveSource::open(&junk).unwrap_err(), &junk);

    // An OCI archive offered as a docker-archive says so.
    let oci_path = dir.path().join("oci.tar");
    let dst = OciArchiveDestination::create(&oci_path).unwrap();
    copy_image(&img.source(), &dst, Some("x")).await.unwrap();
    dst.commit().await.unwrap();
    let msg = expect_invalid(DockerArchiveSource::open(&oci_path).unwrap_err(), &oci_path);
    assert!(msg.contains("oci-archive"), "{msg}");
}

/// A stream that yields `data` then fails or ends early.
fn short_stream(data: Vec<u8>, fail: bool) -> transport::BlobStream {
    use futures::StreamExt;
    let end: std::io::Result<Bytes> = Err(std::io::Error::other("connection reset"));
    let mut items = vec![Ok(Bytes::from(data))];
    if fail {
        items.push(end);
    }
    Box::pin(tokio_util::io::StreamReader::new(
        futures::stream::iter(items).boxed(),
    ))
}

#[tokio::test]
async fn failed_blobs_are_taken_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("img.tar");
    let img = TestImage::new("short", 1, true, true);
    let dst = OciArchiveDestination::create(&path).unwrap();
    let (blob, _, d) = &img.layers[0];
    let half = blob[..blob.len() / 2].to_vec();

    let err = dst
        .put_blob(d, short_stream(half.clone(), false))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::SizeMismatch { .. }),
        "{err:?}"
    );
    let err = dst.put_blob(d, short_stream(half, true)).await.unwrap_err();
    assert!(matches!(err, TransportError::Stream { .. }), "{err:?}");
    let mut longer = blob.to_vec();
    longer.push(0);
    let err = dst
        .put_blob(d, short_stream(longer, false))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::SizeMismatch { .. }),
        "{err:?}"
    );
    let mut wrong = blob.to_vec();
    wrong[0] ^= 1;
    let err = dst
        .put_blob(d, short_stream(wrong, false))
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::DigestMismatch { .. }),
        "{err:?}"
    );
    assert!(!dst.has_blob(d).await.unwrap());

    // The archive is still good: the whole image goes in and reads back.
    copy_image(&img.source(), &dst, Some("v1")).await.unwrap();
    // A manifest that does not match its descriptor is refused.
    let lie = Descriptor::of_bytes(media::OCI_MANIFEST, b"{}");
    assert!(
        dst.put_manifest(&lie, img.manifest.clone(), None)
            .await
            .is_err()
    );
    dst.commit().await.unwrap();
    let read = read_image(&OciArchiveSource::open(&path, Some("v1")).unwrap())
        .await
        .unwrap();
    assert_same_image(&read, &img);
    assert_eq!(tar_listing(&path).len(), 5);
    // Committing again does nothing; writing after commit is refused.
    dst.commit().await.unwrap();
    let other = TestImage::new("late", 1, false, true);
    assert!(copy_image(&other.source(), &dst, Some("v2")).await.is_err());
    assert_eq!(tar_listing(&path).len(), 5);
}

#[tokio::test]
async fn dropped_without_commit_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let img = TestImage::new("drop", 1, false, false);
    {
        let dst = DockerArchiveDestination::create(&dir.path().join("d.tar")).unwrap();
        copy_image(&img.source(), &dst, Some("x")).await.unwrap();
        let oci = OciArchiveDestination::create(&dir.path().join("o.tar")).unwrap();
        copy_image(&img.source(), &oci, Some("x")).await.unwrap();
    }
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}

#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn docker_archive_to_a_stream_and_back_through_a_spool() {
    let img = TestImage::new("stdout", 2, true, false);
    let buf = SharedBuf::default();
    let dst = DockerArchiveDestination::to_writer(buf.clone());
    copy_image(&img.source(), &dst, Some("localhost:5000/app:v1"))
        .await
        .unwrap();
    dst.commit().await.unwrap();
    let bytes = buf.0.lock().unwrap().clone();
    assert_eq!(bytes.len() % 512, 0);
    let file = spool_to_tempfile(std::io::Cursor::new(bytes)).unwrap();
    let src = DockerArchiveSource::from_tar(TarIndex::open_named(file, "stdin").unwrap()).unwrap();
    assert_eq!(src.list()[0].repo_tags, ["localhost:5000/app:v1"]);
    let read = read_image(&src).await.unwrap();
    assert_eq!(read.desc.digest, img.desc.digest);
    assert_same_image(&read, &img);
}

#[tokio::test]
async fn concurrent_puts_are_serialised() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.tar");
    let img = TestImage::new("conc", 6, true, true);
    let dst = Arc::new(OciArchiveDestination::create(&path).unwrap());
    let src = Arc::new(img.source());
    let m = img.parsed();
    let mut tasks = Vec::new();
    for d in std::iter::once(m.config.clone()).chain(m.layers.clone()) {
        let (dst, src) = (Arc::clone(&dst), Arc::clone(&src));
        tasks.push(tokio::spawn(async move {
            let s = transport::ImageSource::blob(&*src, &d, 0).await.unwrap();
            dst.put_blob(&d, s).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    dst.put_manifest(&img.desc, img.manifest.clone(), Some("v1"))
        .await
        .unwrap();
    dst.commit().await.unwrap();
    let read = read_image(&OciArchiveSource::open(&path, None).unwrap())
        .await
        .unwrap();
    assert_same_image(&read, &img);
}

#[tokio::test]
async fn classic_zstd_layers_are_hashed_and_typed() {
    let dir = tempfile::tempdir().unwrap();
    let raw = layer_tar(&[("z", b"zstd content")]);
    let out = std::process::Command::new("/usr/bin/zstd")
        .args(["-q", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(&raw)?;
            c.wait_with_output()
        })
        .expect("zstd CLI");
    let zst = out.stdout;
    assert_eq!(&zst[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
    let config = serde_json::to_vec(&serde_json::json!({
        "rootfs": {"type": "layers", "diff_ids": [Digest::sha256_of(&raw)]},
    }))
    .unwrap();
    let manifest = br#"[{"Config":"c.json","RepoTags":["z:1"],"Layers":["l/layer.tar"]}]"#;
    let path = dir.path().join("z.tar");
    std::fs::write(
        &path,
        build_tar(
            &[
                ("c.json", &config),
                ("l/layer.tar", &zst),
                ("manifest.json", manifest),
            ],
            &[],
        ),
    )
    .unwrap();
    let read = read_image(&DockerArchiveSource::open(&path).unwrap())
        .await
        .unwrap();
    let l = &read.manifest.layers[0];
    assert_eq!(
        l.media_type,
        "application/vnd.docker.image.rootfs.diff.tar.zstd"
    );
    assert_eq!(l.digest, Digest::sha256_of(&zst));
    assert_eq!(read.layers[0], zst);

    // Layer count and diff_ids disagreeing is an error naming the archive.
    let bad = br#"[{"Config":"c.json","RepoTags":["z:1"],"Layers":["l/layer.tar","l/layer.tar"]}]"#;
    let path = dir.path().join("bad.tar");
    std::fs::write(
        &path,
        build_tar(
            &[
                ("c.json", &config),
                ("l/layer.tar", &zst),
                ("manifest.json", bad),
            ],
            &[],
        ),
    )
    .unwrap();
    let msg = expect_invalid(DockerArchiveSource::open(&path).unwrap_err(), &path);
    assert!(msg.contains("diff_ids"), "{msg}");
}

#[tokio::test]
async fn long_blob_names_use_pax_headers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sha512.tar");
    let data = Bytes::from_static(b"a blob named by sha512");
    let digest = Digest::of(oci::Algorithm::Sha512, &data);
    let d = Descriptor::new(media::OCI_LAYER, digest.clone(), data.len() as u64);
    let dst = OciArchiveDestination::create(&path).unwrap();
    dst.put_blob(&d, Box::pin(std::io::Cursor::new(data.clone())))
        .await
        .unwrap();
    let img = TestImage::new("pax", 1, false, true);
    copy_image(&img.source(), &dst, Some("v1")).await.unwrap();
    dst.commit().await.unwrap();
    let name = format!("blobs/sha512/{}", digest.hex());
    assert!(name.len() > 100);
    assert_eq!(
        tar_file(&path, &name),
        data,
        "the tar crate reads the PAX path"
    );
    let src = OciArchiveSource::open(&path, None).unwrap();
    assert_eq!(read_blob_sha512(&src, &d).await, data);
}

async fn read_blob_sha512(src: &OciArchiveSource, d: &Descriptor) -> Vec<u8> {
    let mut s = transport::ImageSource::blob(src, d, 0).await.unwrap();
    let mut v = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut s, &mut v)
        .await
        .unwrap();
    v
}

#[tokio::test]
async fn oci_archive_of_several_images() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.tar");
    let a = TestImage::new("two-a", 1, true, true);
    let b = TestImage::new("two-b", 1, false, true);
    let dst = OciArchiveDestination::create(&path).unwrap();
    copy_image(&a.source(), &dst, Some("a")).await.unwrap();
    copy_image(&b.source(), &dst, Some("b")).await.unwrap();
    // Putting a tagged image again untagged adds no entry.
    copy_image(&b.source(), &dst, None).await.unwrap();
    dst.commit().await.unwrap();

    let src = OciArchiveSource::open(&path, None).unwrap();
    assert_eq!(src.index().manifests.len(), 2);
    let err = transport::ImageSource::resolve(&src).await.unwrap_err();
    assert!(err.to_string().contains("name one of: a, b"), "{err}");
    let ra = read_image(&src.image("a").unwrap()).await.unwrap();
    assert_eq!(ra.desc.digest, a.desc.digest);
    let rb = read_image(&src.image_at(1).unwrap()).await.unwrap();
    assert_eq!(rb.desc.digest, b.desc.digest);
    assert!(src.image_at(2).unwrap_err().is_not_found());
    assert!(src.image("c").unwrap_err().is_not_found());
}
