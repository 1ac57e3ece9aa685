//! strata's own registry client (the `transport` crate behind `strata push`/`pull`) against
//! the server: layout → registry → layout, and pushes that mount from another repository.

mod common;

use common::*;
use transport::{
    CopyOptions, LayoutDestination, LayoutSource, OciLayout, RegistryClient, RegistryDestination,
    RegistryOptions, RegistrySource,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_push_and_pull() {
    let s = start().await;
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let manifest = build_layout(&layout);
    let md = sha256(&manifest);
    let host = format!("127.0.0.1:{}", s.addr.port());
    let client = RegistryClient::new(&host, RegistryOptions::default()).unwrap();

    let src = LayoutSource::new(OciLayout::open(&layout).unwrap(), Some("1")).unwrap();
    let dst = RegistryDestination::new(client.clone(), "strata/app");
    let opts = CopyOptions {
        tag: Some("v1".into()),
        ..CopyOptions::default()
    };
    let report = transport::copy(&src, &dst, &opts).await.unwrap();
    assert_eq!(report.top.digest.to_string(), md);
    let r = s
        .client
        .get(s.url("/v2/strata/app/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap(), manifest);

    // A second repository, mounting the blobs from the first.
    let dst2 = RegistryDestination::new(client.clone(), "strata/copy");
    let opts2 = CopyOptions {
        tag: Some("v1".into()),
        mount_from: Some("strata/app".into()),
        ..CopyOptions::default()
    };
    transport::copy(&src, &dst2, &opts2).await.unwrap();

    // Pull back into a new layout: the same bytes.
    let out = work.path().join("out");
    let src = RegistrySource::new(client, "strata/copy", "v1");
    let dst = LayoutDestination::new(&out, Some("pulled".into())).unwrap();
    let report = transport::copy(&src, &dst, &CopyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.top.digest.to_string(), md);
    let hex = md.strip_prefix("sha256:").unwrap();
    let pulled = std::fs::read(out.join("blobs/sha256").join(hex)).unwrap();
    assert_eq!(pulled, manifest);
}
