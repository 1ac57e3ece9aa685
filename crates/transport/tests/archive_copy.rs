//! The copy engine between archives: OCI archive → docker-archive → OCI archive, and a
//! multi-platform index saved to a docker-archive.

#[path = "archive_support/mod.rs"]
mod support;

use std::collections::BTreeMap;

use bytes::Bytes;
use oci::{Descriptor, Index, Platform, media};
use support::*;
use transport::{
    CopyOptions, DockerArchiveDestination, DockerArchiveSource, ImageDestination,
    OciArchiveDestination, OciArchiveSource, WithoutCommit, copy,
};

fn opts(tag: &str) -> CopyOptions {
    CopyOptions {
        tag: Some(tag.to_string()),
        ..CopyOptions::default()
    }
}

#[tokio::test]
async fn copy_engine_moves_images_between_archives() {
    let dir = tempfile::tempdir().unwrap();
    let img = TestImage::new("engine", 3, true, true);
    let first = dir.path().join("first.tar");
    let dst = OciArchiveDestination::create(&first).unwrap();
    copy(&img.source(), &dst, &opts("v1")).await.unwrap();
    assert!(first.exists(), "the copy engine commits");

    let docker = dir.path().join("docker.tar");
    let src = OciArchiveSource::open(&first, Some("v1")).unwrap();
    let dst = DockerArchiveDestination::create(&docker).unwrap();
    copy(&src, &dst, &opts("localhost:5000/engine:v1"))
        .await
        .unwrap();

    let back = dir.path().join("back.tar");
    let src = DockerArchiveSource::open(&docker).unwrap();
    assert_eq!(src.list()[0].repo_tags, ["localhost:5000/engine:v1"]);
    let dst = OciArchiveDestination::create(&back).unwrap();
    copy(&src, &dst, &opts("v2")).await.unwrap();

    let read = read_image(&OciArchiveSource::open(&back, Some("v2")).unwrap())
        .await
        .unwrap();
    assert_eq!(
        read.desc.digest, img.desc.digest,
        "manifest kept byte for byte"
    );
}

#[tokio::test]
async fn several_copies_into_one_docker_archive() {
    let dir = tempfile::tempdir().unwrap();
    let a = TestImage::new("save-a", 2, true, false);
    let b = TestImage::new("save-b", 1, true, true);
    let path = dir.path().join("ab.tar");
    let dst = DockerArchiveDestination::create(&path).unwrap();
    copy(&a.source(), &WithoutCommit(&dst), &opts("a:1"))
        .await
        .unwrap();
    copy(&b.source(), &WithoutCommit(&dst), &opts("b:1"))
        .await
        .unwrap();
    assert!(!path.exists());
    dst.commit().await.unwrap();
    let src = DockerArchiveSource::open(&path).unwrap();
    let tags: Vec<Vec<String>> = src.list().into_iter().map(|i| i.repo_tags).collect();
    assert_eq!(tags, [["a:1"], ["b:1"]]);
    let rb = read_image(&src.image_by_tag("b:1").unwrap()).await.unwrap();
    assert_eq!(rb.desc.digest, b.desc.digest);
}

#[tokio::test]
async fn a_multi_platform_index_saves_the_platform_written() {
    let dir = tempfile::tempdir().unwrap();
    let img = TestImage::new("multi-arch", 1, true, true);
    let other = TestImage::new("other-arch", 1, true, true);
    let plat = |arch: &str| Platform {
        os: "linux".into(),
        architecture: arch.into(),
        variant: None,
        os_version: None,
        os_features: Vec::new(),
    };
    let mut d1 = img.desc.clone();
    d1.platform = Some(plat("amd64"));
    let mut d2 = other.desc.clone();
    d2.platform = Some(plat("arm64"));
    let index = Index {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.into()),
        artifact_type: None,
        manifests: vec![d1, d2],
        subject: None,
        annotations: BTreeMap::new(),
    };
    let index_bytes = Bytes::from(index.to_vec());
    let index_desc = Descriptor::of_bytes(media::OCI_INDEX, &index_bytes);

    // Only amd64's blobs and manifest go in, then the index, tagged.
    let path = dir.path().join("save.tar");
    let dst = DockerArchiveDestination::create(&path).unwrap();
    copy_image(&img.source(), &dst, None).await.unwrap();
    dst.put_manifest(&index_desc, index_bytes, Some("multi:1"))
        .await
        .unwrap();
    dst.commit().await.unwrap();

    let index_json = Index::from_slice(&tar_file(&path, "index.json")).unwrap();
    assert_eq!(
        index_json.manifests.len(),
        1,
        "the untagged child is not listed"
    );
    assert_eq!(index_json.manifests[0].digest, index_desc.digest);
    let src = DockerArchiveSource::open(&path).unwrap();
    let read = read_image(&src).await.unwrap();
    assert_eq!(
        read.desc.digest, img.desc.digest,
        "the child manifest is served"
    );
    assert_eq!(read.config, img.config);

    // An index none of whose manifests were written cannot be a docker-archive image.
    let path = dir.path().join("empty.tar");
    let dst = DockerArchiveDestination::create(&path).unwrap();
    let lone = Bytes::from(
        Index {
            manifests: vec![other.desc.clone()],
            ..index.clone()
        }
        .to_vec(),
    );
    let lone_desc = Descriptor::of_bytes(media::OCI_INDEX, &lone);
    dst.put_manifest(&lone_desc, lone, Some("x")).await.unwrap();
    let err = dst.commit().await.unwrap_err();
    assert!(err.to_string().contains("platform"), "{err}");
}
