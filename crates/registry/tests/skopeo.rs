//! Interop with skopeo (containers/image, Docker's registry client behaviour): an OCI layout
//! built by hand is copied in over docker:// and back out, byte for byte.

mod common;

use std::process::Command;

use common::*;
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_copy_in_and_out() {
    let s = start().await;
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let manifest = build_layout(&layout);
    let md = sha256(&manifest);
    let port = s.addr.port();

    let args: Vec<String> = vec![
        "copy".into(),
        "--dest-tls-verify=false".into(),
        format!("oci:{}:1", layout.display()),
        format!("docker://127.0.0.1:{port}/x:1"),
    ];
    tokio::task::spawn_blocking(move || skopeo_ok(&args))
        .await
        .unwrap();

    let r = s
        .client
        .get(s.url("/v2/x/manifests/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"], md.as_str());
    assert_eq!(r.bytes().await.unwrap(), manifest);

    let out = work.path().join("out");
    let args: Vec<String> = vec![
        "copy".into(),
        "--src-tls-verify=false".into(),
        format!("docker://127.0.0.1:{port}/x:1"),
        format!("oci:{}:copied", out.display()),
    ];
    tokio::task::spawn_blocking(move || skopeo_ok(&args))
        .await
        .unwrap();
    let index: Value =
        serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], md.as_str());
    let hex = md.strip_prefix("sha256:").unwrap();
    let copied = std::fs::read(out.join("blobs/sha256").join(hex)).unwrap();
    assert_eq!(
        copied, manifest,
        "manifest is byte-identical after the round trip"
    );
    for entry in std::fs::read_dir(layout.join("blobs/sha256")).unwrap() {
        let entry = entry.unwrap();
        let a = std::fs::read(entry.path()).unwrap();
        let b = std::fs::read(out.join("blobs/sha256").join(entry.file_name())).unwrap();
        assert_eq!(a, b, "{:?}", entry.file_name());
    }

    // skopeo sees the tag list and can delete by digest.
    let out = Command::new("skopeo")
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://127.0.0.1:{port}/x"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tags: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(tags["Tags"], json!(["1"]));
    let args: Vec<String> = vec![
        "delete".into(),
        "--tls-verify=false".into(),
        format!("docker://127.0.0.1:{port}/x@{md}"),
    ];
    tokio::task::spawn_blocking(move || skopeo_ok(&args))
        .await
        .unwrap();
    let r = s
        .client
        .get(s.url("/v2/x/manifests/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_with_htpasswd_auth() {
    let work = tempfile::tempdir().unwrap();
    let htpasswd = work.path().join("htpasswd");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(&htpasswd, format!("alice:{hash}\n")).unwrap();
    let s = start_with(registry::Auth::Htpasswd {
        path: htpasswd,
        realm: "strata".into(),
    })
    .await;
    let layout = work.path().join("layout");
    build_layout(&layout);
    let port = s.addr.port();
    let copy = |creds: Option<&str>| {
        let mut args: Vec<String> = vec!["copy".into(), "--dest-tls-verify=false".into()];
        if let Some(c) = creds {
            args.push(format!("--dest-creds={c}"));
        }
        args.push(format!("oci:{}:1", layout.display()));
        args.push(format!("docker://127.0.0.1:{port}/auth/x:1"));
        args
    };
    let anon = copy(None);
    let out = tokio::task::spawn_blocking(move || skopeo_output(&anon))
        .await
        .unwrap();
    assert!(!out.status.success(), "anonymous push must be refused");
    let wrong = copy(Some("alice:wrong"));
    let out = tokio::task::spawn_blocking(move || skopeo_output(&wrong))
        .await
        .unwrap();
    assert!(!out.status.success(), "wrong password must be refused");
    let right = copy(Some("alice:s3cret"));
    tokio::task::spawn_blocking(move || skopeo_ok(&right))
        .await
        .unwrap();
    let r = s
        .client
        .get(s.url("/v2/auth/x/tags/list"))
        .basic_auth("alice", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["tags"], json!(["1"]));
}
