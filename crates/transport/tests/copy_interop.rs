//! Layouts we write are read by umoci and skopeo, and layouts they write are read by us.
//! These tests need /usr/bin/umoci and /usr/bin/skopeo and fail loudly without them.

mod copy_common;

use std::path::Path;
use std::process::Command;

use copy_common::*;
use transport::{CopyOptions, LayoutDestination, LayoutSource, OciLayout, PlatformChoice, copy};

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} is required for this test: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Copies a fresh one-layer image into the layout `dst` named `name`.
async fn write_image(dir: &Path, dst: &Path, name: &str) {
    let src_root = dir.join("fixture");
    let (m, _) = image(
        &src_root,
        "amd64",
        &[("etc/greeting", b"hello from strata\n")],
    );
    layout(&src_root, &[(m, None)]);
    let src = LayoutSource::new(OciLayout::open(&src_root).unwrap(), None).unwrap();
    let dst = LayoutDestination::new(dst, Some(name.into())).unwrap();
    copy(&src, &dst, &CopyOptions::default()).await.unwrap();
}

#[tokio::test]
async fn umoci_reads_what_we_write() {
    let dir = tempdir();
    let out = path(&dir, "layout");
    write_image(dir.path(), &out, "v1").await;
    let out_s = out.to_str().unwrap();
    let listed = run("umoci", &["ls", "--layout", out_s]);
    assert_eq!(listed.trim(), "v1");
    let bundle = path(&dir, "bundle");
    run(
        "umoci",
        &[
            "unpack",
            "--rootless",
            "--image",
            &format!("{out_s}:v1"),
            bundle.to_str().unwrap(),
        ],
    );
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/etc/greeting")).unwrap(),
        "hello from strata\n"
    );
}

#[tokio::test]
async fn skopeo_reads_what_we_write() {
    let dir = tempdir();
    let out = path(&dir, "layout");
    write_image(dir.path(), &out, "v1").await;
    let inspect = run(
        "skopeo",
        &["inspect", &format!("oci:{}:v1", out.to_str().unwrap())],
    );
    let v: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert_eq!(v["Architecture"], "amd64");
    assert_eq!(v["Layers"].as_array().map(Vec::len), Some(1));
    let copied = path(&dir, "copied");
    run(
        "skopeo",
        &[
            "--insecure-policy",
            "copy",
            &format!("oci:{}:v1", out.to_str().unwrap()),
            &format!("oci:{}:again", copied.to_str().unwrap()),
        ],
    );
}

#[tokio::test]
async fn we_read_what_umoci_and_skopeo_write() {
    let dir = tempdir();
    let umoci_layout = path(&dir, "umoci");
    let u = umoci_layout.to_str().unwrap();
    run("umoci", &["init", "--layout", u]);
    run("umoci", &["new", "--image", &format!("{u}:base")]);
    // Add a second entry to the layout: we must pick by name.
    write_image(dir.path(), &umoci_layout, "ours").await;
    let src = LayoutSource::new(OciLayout::open(&umoci_layout).unwrap(), Some("base")).unwrap();
    let mid = path(&dir, "mid");
    let dst = LayoutDestination::new(&mid, Some("base".into())).unwrap();
    let report = copy(&src, &dst, &CopyOptions::default()).await.unwrap();
    assert_eq!(report.manifests.len(), 1);
    assert_eq!(
        run("umoci", &["ls", "--layout", mid.to_str().unwrap()]).trim(),
        "base"
    );

    // skopeo writes a layout from ours; we read it back, keeping every digest.
    let sk = path(&dir, "skopeo");
    run(
        "skopeo",
        &[
            "--insecure-policy",
            "copy",
            &format!("oci:{}:ours", u),
            &format!("oci:{}:x", sk.to_str().unwrap()),
        ],
    );
    let src = LayoutSource::new(OciLayout::open(&sk).unwrap(), Some("x")).unwrap();
    let dst = LayoutDestination::new(path(&dir, "final"), None).unwrap();
    let opts = CopyOptions {
        platforms: PlatformChoice::All,
        ..CopyOptions::default()
    };
    let report = copy(&src, &dst, &opts).await.unwrap();
    assert_eq!(
        report.top.digest,
        src.layout().find(Some("x")).unwrap().digest
    );
}
