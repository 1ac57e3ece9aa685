//! Hostile and concurrent clients: lying lengths, broken bodies, parallel pushes, big blobs.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn head_status(s: &TestServer, path: &str) -> u16 {
    s.client
        .head(s.url(path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn body_longer_than_declared_is_cut_and_refused() {
    let s = start().await;
    let full = b"0123456789";
    let d = sha256(full);
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let req = format!(
        "POST /v2/a/blobs/uploads/?digest={d} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
    );
    c.write_all(req.as_bytes()).await.unwrap();
    c.write_all(full).await.unwrap();
    c.shutdown().await.unwrap();
    let mut out = Vec::new();
    c.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("DIGEST_INVALID"), "{text}");
    assert_eq!(head_status(&s, &format!("/v2/a/blobs/{d}")).await, 404);
    assert_eq!(
        head_status(&s, &format!("/v2/a/blobs/{}", sha256(b"01234"))).await,
        404
    );
    assert_eq!(
        s.client.get(s.url("/v2/")).send().await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn body_shorter_than_declared_stores_nothing() {
    let s = start().await;
    let data = b"only ten b";
    let d = sha256(data);
    let mut c = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let req = format!(
        "POST /v2/a/blobs/uploads/?digest={d} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
    );
    c.write_all(req.as_bytes()).await.unwrap();
    c.write_all(data).await.unwrap();
    c.shutdown().await.unwrap();
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out).await;
    // Whatever the server managed to answer, nothing is stored.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(head_status(&s, &format!("/v2/a/blobs/{d}")).await, 404);
    assert_eq!(
        s.client.get(s.url("/v2/")).send().await.unwrap().status(),
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_pushes_of_shared_content() {
    let s = std::sync::Arc::new(start().await);
    let layer = vec![7u8; 256 * 1024];
    let mut tasks = Vec::new();
    for i in 0..16 {
        let s = s.clone();
        let layer = layer.clone();
        tasks.push(tokio::spawn(async move {
            let repo = format!("par/r{}", i % 4);
            s.push_blob(&repo, &layer).await;
            s.push_blob(&repo, b"{}").await;
            let mut m = image(b"{}", &layer, false);
            // Each task pushes a distinct manifest (different annotation bytes).
            m.extend_from_slice(format!("\n{}", " ".repeat(i)).as_bytes());
            let r = s
                .put_manifest(
                    &repo,
                    &format!("t{i}"),
                    "application/vnd.oci.image.manifest.v1+json",
                    &m,
                )
                .await;
            assert_eq!(r.status(), 201);
            (repo, i, sha256(&m), m)
        }));
    }
    for t in tasks {
        let (repo, i, d, m) = t.await.unwrap();
        let r = s
            .client
            .get(s.url(&format!("/v2/{repo}/manifests/t{i}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["docker-content-digest"], d.as_str());
        assert_eq!(r.bytes().await.unwrap(), m);
    }
    let r = s
        .client
        .get(s.url(&format!("/v2/par/r0/blobs/{}", sha256(&layer))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), layer.len());
    // One copy of the shared layer on disk.
    let root = s.dir.path().join("root/blobs/sha256");
    let count = std::fs::read_dir(&root)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .count();
    assert_eq!(count, 2 + 16, "layer + config + 16 manifests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_blob_in_chunks_and_ranges() {
    let s = start().await;
    // 24 MiB of varied bytes, in 1 MiB + odd-sized chunks.
    let data: Vec<u8> = (0..24u32 * 1024 * 1024)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let d = sha256(&data);
    let r = s
        .client
        .post(s.url("/v2/big/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let mut loc = s.location(&r);
    let mut off = 0usize;
    let chunk = 1024 * 1024 + 17;
    while off < data.len() {
        let end = (off + chunk).min(data.len());
        let r = s
            .client
            .patch(&loc)
            .header("content-range", format!("{}-{}", off, end - 1))
            .body(data[off..end].to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        assert_eq!(r.headers()["range"], format!("0-{}", end - 1).as_str());
        loc = s.location(&r);
        off = end;
    }
    let r = s
        .client
        .put(format!("{loc}?digest={d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .client
        .get(s.url(&format!("/v2/big/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-length"],
        data.len().to_string().as_str()
    );
    let body = r.bytes().await.unwrap();
    assert!(body == data, "blob round-trips");
    let r = s
        .client
        .get(s.url(&format!("/v2/big/blobs/{d}")))
        .header("range", "bytes=10000000-10000099")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(&r.bytes().await.unwrap()[..], &data[10_000_000..10_000_100]);
}
