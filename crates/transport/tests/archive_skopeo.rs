//! Interoperability with skopeo (`/usr/bin/skopeo`): it reads the docker-archives and OCI
//! archives we write, and we read the ones it writes. These tests fail, not skip, when
//! skopeo is missing.

#[path = "archive_support/mod.rs"]
mod support;

use std::path::Path;
use std::process::Command;

use oci::{Digest, Index, Manifest};
use support::*;
use transport::{
    DockerArchiveDestination, DockerArchiveSource, ImageDestination, OciArchiveDestination,
    OciArchiveSource,
};

const SKOPEO: &str = "/usr/bin/skopeo";

fn skopeo(args: &[&str]) -> String {
    let out = Command::new(SKOPEO)
        .arg("--insecure-policy")
        .args(args)
        .env("TMPDIR", std::env::temp_dir())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {SKOPEO} (install skopeo): {e}"));
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn arg(p: &Path, prefix: &str, suffix: &str) -> String {
    format!("{prefix}{}{suffix}", p.display())
}

/// The layout skopeo wrote at `dir` holds `img` (same config; layers with the same content).
fn assert_layout_holds(dir: &Path, img: &TestImage) {
    let index = Index::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    let d = &index.manifests[0];
    let m = Manifest::from_slice(
        &std::fs::read(dir.join("blobs/sha256").join(d.digest.hex())).unwrap(),
    )
    .unwrap();
    assert_eq!(m.config.digest, Digest::sha256_of(&img.config));
    assert_eq!(m.layers.len(), img.layers.len());
}

#[tokio::test]
async fn skopeo_reads_our_docker_archive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("save.tar");
    let a = TestImage::new("sk-a", 2, true, false);
    let b = TestImage::new("sk-b", 1, false, true);
    let dst = DockerArchiveDestination::create(&path).unwrap();
    copy_image(&a.source(), &dst, Some("alpine")).await.unwrap();
    copy_image(&b.source(), &dst, Some("localhost:5000/app:v1"))
        .await
        .unwrap();
    dst.commit().await.unwrap();

    let out = skopeo(&["inspect", &arg(&path, "docker-archive:", ":alpine:latest")]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), 2, "{out}");
    assert_eq!(v["Env"][0], "SEED=sk-a", "{out}");
    let out = skopeo(&[
        "inspect",
        "--config",
        &arg(&path, "docker-archive:", ":localhost:5000/app:v1"),
    ]);
    assert!(out.contains("SEED=sk-b"), "{out}");
    // By index, as `docker-archive:PATH:@1`.
    let out = skopeo(&["inspect", "--config", &arg(&path, "docker-archive:", ":@1")]);
    assert!(out.contains("SEED=sk-b"), "{out}");

    for (img, name) in [(&a, "alpine:latest"), (&b, "localhost:5000/app:v1")] {
        let layout = dir
            .path()
            .join(format!("layout-{}", name.replace([':', '/'], "_")));
        skopeo(&[
            "copy",
            &arg(&path, "docker-archive:", &format!(":{name}")),
            &arg(&layout, "oci:", ":copied"),
        ]);
        assert_layout_holds(&layout, img);
    }
}

#[tokio::test]
async fn skopeo_reads_our_single_image_docker_archive_without_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.tar");
    let img = TestImage::new("sk-one", 2, true, true);
    let dst = DockerArchiveDestination::create(&path).unwrap();
    copy_image(&img.source(), &dst, Some("busybox:1.36"))
        .await
        .unwrap();
    dst.commit().await.unwrap();
    let out = skopeo(&["inspect", &arg(&path, "docker-archive:", "")]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Layers"].as_array().unwrap().len(), 2, "{out}");
    assert_eq!(v["Env"][0], "SEED=sk-one", "{out}");
    let layout = dir.path().join("layout");
    skopeo(&[
        "copy",
        &arg(&path, "docker-archive:", ""),
        &arg(&layout, "oci:", ":x"),
    ]);
    assert_layout_holds(&layout, &img);
}

#[tokio::test]
async fn skopeo_reads_our_oci_archive() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("oci.tar");
    let img = TestImage::new("sk-oci", 2, true, true);
    let dst = OciArchiveDestination::create(&path).unwrap();
    copy_image(&img.source(), &dst, Some("v1")).await.unwrap();
    dst.commit().await.unwrap();

    let out = skopeo(&["inspect", "--raw", &arg(&path, "oci-archive:", ":v1")]);
    assert_eq!(
        out.as_bytes(),
        &img.manifest[..],
        "the exact manifest bytes"
    );
    let layout = dir.path().join("layout");
    skopeo(&[
        "copy",
        &arg(&path, "oci-archive:", ":v1"),
        &arg(&layout, "oci:", ":v1"),
    ]);
    assert_layout_holds(&layout, &img);
}

#[tokio::test]
async fn we_read_skopeos_docker_archive() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let img = TestImage::new("from-skopeo", 3, true, true);
    write_layout(&input, &[(&img, "v1")]);
    let out = dir.path().join("docker.tar");
    skopeo(&[
        "copy",
        &arg(&input, "oci:", ":v1"),
        &arg(&out, "docker-archive:", ":example.com/team/app:v1"),
    ]);

    let src = DockerArchiveSource::open(&out).unwrap();
    assert_eq!(src.list()[0].repo_tags, ["example.com/team/app:v1"]);
    let read = read_image(&src).await.unwrap();
    assert_eq!(read.config, img.config, "config bytes kept");
    // skopeo stores layers uncompressed: their digests are the diffIDs.
    let digests: Vec<Digest> = read
        .manifest
        .layers
        .iter()
        .map(|l| l.digest.clone())
        .collect();
    assert_eq!(digests, img.diff_ids());
    for (got, (_, raw, _)) in read.layers.iter().zip(&img.layers) {
        assert_eq!(got, raw);
    }

    // And what we read from it, written again, skopeo reads.
    let again = dir.path().join("again.tar");
    let dst = DockerArchiveDestination::create(&again).unwrap();
    copy_image(&src, &dst, Some("example.com/team/app:v2"))
        .await
        .unwrap();
    dst.commit().await.unwrap();
    let out = skopeo(&[
        "inspect",
        &arg(&again, "docker-archive:", ":example.com/team/app:v2"),
    ]);
    assert!(out.contains("SEED=from-skopeo"), "{out}");
}

#[tokio::test]
async fn we_read_skopeos_docker_archives_by_tag() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let a = TestImage::new("multi-a", 1, true, true);
    let b = TestImage::new("multi-b", 2, true, true);
    write_layout(&input, &[(&a, "a"), (&b, "b")]);
    // skopeo 1.9 writes one image per `copy` to a docker-archive: one archive per image.
    for (img, tag) in [(&a, "a"), (&b, "b")] {
        let out = dir.path().join(format!("{tag}.tar"));
        skopeo(&[
            "copy",
            &arg(&input, "oci:", &format!(":{tag}")),
            &arg(&out, "docker-archive:", &format!(":img:{tag}")),
        ]);
        let src = DockerArchiveSource::open(&out).unwrap();
        let read = read_image(&src.image_by_tag(&format!("img:{tag}")).unwrap())
            .await
            .unwrap();
        assert_eq!(read.config, img.config);
    }
}

#[tokio::test]
async fn we_read_skopeos_oci_archive() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let img = TestImage::new("oci-from-skopeo", 2, true, true);
    write_layout(&input, &[(&img, "v1")]);
    let out = dir.path().join("oci.tar");
    skopeo(&[
        "copy",
        &arg(&input, "oci:", ":v1"),
        &arg(&out, "oci-archive:", ":v1"),
    ]);

    let src = OciArchiveSource::open(&out, Some("v1")).unwrap();
    let read = read_image(&src).await.unwrap();
    assert_eq!(
        read.desc.digest, img.desc.digest,
        "gzip layers kept as they were"
    );
    assert_eq!(read.config, img.config);
    for (got, (blob, _, _)) in read.layers.iter().zip(&img.layers) {
        assert_eq!(got, blob);
    }
}
