//! The object-storage backend on a real S3 server (s3s-fs on 127.0.0.1): the storage
//! contract itself, and several registry replicas sharing one bucket and nothing else.

mod common;

use std::sync::Arc;

use bytes::Bytes;
use common::s3::S3Server;
use common::*;
use futures::{StreamExt, TryStreamExt};
use registry::storage::{ByteStream, Key, ObjectStorage, Storage, put_bytes, read_small};
use registry::{Config, Server, StorageError};

fn body(chunks: Vec<Vec<u8>>) -> ByteStream<'static> {
    futures::stream::iter(chunks.into_iter().map(|c| Ok(Bytes::from(c)))).boxed()
}

async fn read_all(s: &dyn Storage, k: &Key, range: Option<std::ops::Range<u64>>) -> Vec<u8> {
    let parts: Vec<Bytes> = s.get(k, range).await.unwrap().try_collect().await.unwrap();
    parts.concat()
}

/// Varied bytes, so a misplaced part shows.
fn pattern(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_add(seed).wrapping_mul(2654435761) >> 13) as u8)
        .collect()
}

const MIB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_contract_on_s3() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(dir.path(), "bucket");
    let s = s3.storage("some/prefix");
    let k = Key::new("a/b/c").unwrap();
    assert_eq!(s.stat(&k).await.unwrap(), None);
    assert!(matches!(
        s.get(&k, None).await,
        Err(StorageError::NotFound { .. })
    ));
    assert_eq!(
        s.put(&k, body(vec![b"hello ".to_vec(), b"world".to_vec()]))
            .await
            .unwrap(),
        11
    );
    let m = s.meta(&k).await.unwrap().unwrap();
    assert_eq!(m.size, 11);
    let age = std::time::SystemTime::now()
        .duration_since(m.modified)
        .unwrap_or_default();
    assert!(age.as_secs() < 60, "modified {age:?} ago");
    assert_eq!(read_all(&s, &k, Some(6..11)).await, b"world");
    assert_eq!(&read_small(&s, &k, 100).await.unwrap()[..], b"hello world");
    put_bytes(&s, &Key::new("a/b/d").unwrap(), Bytes::from_static(b"x"))
        .await
        .unwrap();
    put_bytes(&s, &Key::new("a/b/e/f").unwrap(), Bytes::from_static(b"y"))
        .await
        .unwrap();
    let ab = Key::new("a/b").unwrap();
    assert_eq!(s.list(&ab).await.unwrap(), vec!["c", "d", "e"]);
    assert_eq!(s.list(&Key::root()).await.unwrap(), vec!["a"]);
    // The prefix keeps everything inside it.
    assert!(dir.path().join("bucket/some/prefix/a/b/c").is_file());

    // A failed put leaves the old object, also for a multipart-sized body.
    let broken: ByteStream<'static> = futures::stream::iter(vec![
        Ok(Bytes::from(pattern(6 * MIB, 1))),
        Err(std::io::Error::other("client went away")),
    ])
    .boxed();
    assert!(matches!(
        s.put(&k, broken).await,
        Err(StorageError::Body { .. })
    ));
    assert_eq!(&read_small(&s, &k, 100).await.unwrap()[..], b"hello world");
    // A large put goes in parts and reads back whole.
    let big = pattern(11 * MIB + 3, 2);
    let chunks: Vec<Vec<u8>> = big.chunks(MIB / 3).map(<[u8]>::to_vec).collect();
    assert_eq!(s.put(&k, body(chunks)).await.unwrap(), big.len() as u64);
    assert_eq!(read_all(&s, &k, None).await, big);

    // Appends: offsets checked, tails merged into parts, renamed into place.
    let u = Key::new("up/1/data").unwrap();
    assert!(matches!(
        s.append(&u, 3, body(vec![b"x".to_vec()])).await,
        Err(StorageError::NotFound { .. })
    ));
    assert_eq!(s.append(&u, 0, body(vec![])).await.unwrap(), 0);
    assert_eq!(s.stat(&u).await.unwrap(), Some(0));
    assert_eq!(
        s.list(&Key::new("up/1").unwrap()).await.unwrap(),
        vec!["data"]
    );
    let data = pattern(13 * MIB + 17, 3);
    let mut off = 0u64;
    for piece in data.chunks(3 * MIB + 1) {
        assert!(matches!(
            s.append(&u, off + 1, body(vec![piece.to_vec()])).await,
            Err(StorageError::OffsetMismatch { .. })
        ));
        off = s.append(&u, off, body(vec![piece.to_vec()])).await.unwrap();
        assert_eq!(s.stat(&u).await.unwrap(), Some(off));
    }
    assert_eq!(off, data.len() as u64);
    // Reading an upload in progress works (it seals it), and appending goes on after.
    assert_eq!(
        read_all(&s, &u, Some(5 * MIB as u64..6 * MIB as u64)).await,
        &data[5 * MIB..6 * MIB]
    );
    let more = pattern(MIB, 4);
    off = s.append(&u, off, body(vec![more.clone()])).await.unwrap();
    let mut all = data.clone();
    all.extend_from_slice(&more);
    assert_eq!(off, all.len() as u64);
    assert_eq!(read_all(&s, &u, None).await, all);
    let blob = Key::new("blobs/x").unwrap();
    s.rename(&u, &blob).await.unwrap();
    assert_eq!(read_all(&s, &blob, None).await, all);
    assert_eq!(s.stat(&u).await.unwrap(), None);
    assert!(s.list(&Key::new("up/1").unwrap()).await.unwrap().is_empty());

    // A small upload renames with one copy.
    let u2 = Key::new("up/2/data").unwrap();
    s.append(&u2, 0, body(vec![b"abc".to_vec()])).await.unwrap();
    s.append(&u2, 3, body(vec![b"de".to_vec()])).await.unwrap();
    let b2 = Key::new("blobs/y").unwrap();
    s.rename(&u2, &b2).await.unwrap();
    assert_eq!(read_all(&s, &b2, None).await, b"abcde");
    assert!(matches!(
        s.rename(&u2, &b2).await,
        Err(StorageError::NotFound { .. })
    ));

    // Long names and digests in keys list back as they were.
    let long = format!("A_{}", "x".repeat(126));
    let h = sha256(b"z");
    let hex = h.strip_prefix("sha256:").unwrap();
    let tags = Key::new("a/tags").unwrap();
    for name in [
        long.clone(),
        format!("sha256-{hex}.sig"),
        hex.to_string(),
        "v1".into(),
    ] {
        let k = tags.join(&format!("{name}/current/link")).unwrap();
        put_bytes(&s, &k, Bytes::from(name.clone())).await.unwrap();
        assert_eq!(
            &read_small(&s, &k, 1000).await.unwrap()[..],
            name.as_bytes()
        );
    }
    let mut want = vec![
        long.clone(),
        format!("sha256-{hex}.sig"),
        hex.to_string(),
        "v1".into(),
    ];
    want.sort();
    assert_eq!(s.list(&tags).await.unwrap(), want);
    assert!(s.delete(&tags.join(&long).unwrap()).await.unwrap());
    want.retain(|n| *n != long);
    assert_eq!(s.list(&tags).await.unwrap(), want);

    // Prefix delete removes objects and uploads (aborting their multipart uploads).
    let u3 = Key::new("a/up/data").unwrap();
    s.append(&u3, 0, body(vec![pattern(6 * MIB, 5)]))
        .await
        .unwrap();
    assert!(s.delete(&k).await.unwrap());
    assert!(!s.delete(&k).await.unwrap());
    assert!(s.delete(&Key::new("a").unwrap()).await.unwrap());
    assert!(s.list(&ab).await.unwrap().is_empty());
    assert_eq!(s.stat(&u3).await.unwrap(), None);
    assert_eq!(s.list(&Key::root()).await.unwrap(), vec!["blobs"]);
}

async fn serve(s3: &S3Server) -> (String, tokio::task::JoinHandle<()>) {
    let storage: Arc<ObjectStorage> = Arc::new(s3.storage("registry"));
    let config = Config::new("127.0.0.1:0".parse().unwrap(), "/nonexistent");
    let (addr, fut) = Server::bind_storage(config, storage, std::future::pending())
        .await
        .unwrap();
    let task = tokio::spawn(async move {
        fut.await.unwrap();
    });
    (format!("http://{addr}"), task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(dir.path(), "shared");
    let (a, ta) = serve(&s3).await;
    let (b, tb) = serve(&s3).await;
    let (c3, tc) = serve(&s3).await;
    let c = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Push an image through A, pull it through B.
    let config = b"{\"architecture\":\"amd64\",\"os\":\"linux\"}".to_vec();
    let layer = pattern(3000, 7);
    for blob in [&config, &layer] {
        let r = c
            .post(format!("{a}/v2/app/blobs/uploads/?digest={}", sha256(blob)))
            .header("content-type", "application/octet-stream")
            .body(blob.to_vec())
            .send()
            .await
            .unwrap();
        let status = r.status();
        assert_eq!(status, 201, "{}", r.text().await.unwrap());
    }
    let manifest = image(&config, &layer, false);
    let r = c
        .put(format!("{a}/v2/app/manifests/v1"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .get(format!("{b}/v2/app/manifests/v1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["docker-content-digest"],
        sha256(&manifest).as_str()
    );
    assert_eq!(r.bytes().await.unwrap(), manifest);
    let r = c
        .get(format!("{b}/v2/app/blobs/{}", sha256(&layer)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), layer);
    let r = c.get(format!("{b}/v2/app/tags/list")).send().await.unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["tags"], serde_json::json!(["v1"]));

    // An upload started on A, chunks PATCHed alternately on B and A, status on B, closed on
    // A: 12 MiB in 1 MiB chunks, more than two 5 MiB parts.
    let data = pattern(12 * MIB + 123, 9);
    let r = c
        .post(format!("{a}/v2/big/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let path = if loc.starts_with('/') {
        loc.clone()
    } else {
        reqwest::Url::parse(&loc).unwrap().path().to_string()
    };
    let mut off = 0usize;
    for (i, chunk) in data.chunks(MIB).enumerate() {
        let host = if i % 2 == 0 { &b } else { &a };
        let r = c
            .patch(format!("{host}{path}"))
            .header("content-type", "application/octet-stream")
            .header(
                "content-range",
                format!("{}-{}", off, off + chunk.len() - 1),
            )
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202, "chunk {i} on {host}");
        off += chunk.len();
        assert_eq!(
            r.headers()["range"].to_str().unwrap(),
            format!("0-{}", off - 1)
        );
    }
    let r = c.get(format!("{b}{path}")).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["range"].to_str().unwrap(),
        format!("0-{}", data.len() - 1)
    );
    // An out-of-order chunk is refused on either replica.
    let r = c
        .patch(format!("{b}{path}"))
        .header("content-type", "application/octet-stream")
        .header("content-range", "5-9")
        .body(vec![0u8; 5])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    let d = sha256(&data);
    let sep = if path.contains('?') { '&' } else { '?' };
    let r = c
        .put(format!("{a}{path}{sep}digest={d}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    for host in [&a, &b] {
        let r = c
            .get(format!("{host}/v2/big/blobs/{d}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let got = r.bytes().await.unwrap();
        assert_eq!(sha256(&got), d);
        let r = c
            .get(format!("{host}/v2/big/blobs/{d}"))
            .header("range", "bytes=6291456-6291465")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 206);
        assert_eq!(r.bytes().await.unwrap(), &data[6291456..6291466]);
    }
    // Nothing of the upload is left in the bucket.
    let s = s3.storage("registry");
    let uploads = Key::new("repositories/big/_uploads").unwrap();
    assert!(s.list(&uploads).await.unwrap().is_empty());

    // Started on B, PATCHed on A, closed on a third replica with a wrong digest: the upload
    // is discarded for all of them.
    let r = c
        .post(format!("{b}/v2/big/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let path = if loc.starts_with('/') {
        loc
    } else {
        reqwest::Url::parse(&loc).unwrap().path().to_string()
    };
    let r = c
        .patch(format!("{a}{path}"))
        .header("content-type", "application/octet-stream")
        .body(pattern(6 * MIB, 11))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let sep = if path.contains('?') { '&' } else { '?' };
    let r = c
        .put(format!("{c3}{path}{sep}digest={}", sha256(b"other")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c.get(format!("{a}{path}")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(s.list(&uploads).await.unwrap().is_empty());

    let r = c.get(format!("{b}{path}")).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // And a good close on the third replica of an upload started on A.
    let small = pattern(7 * MIB, 13);
    let r = c
        .post(format!("{a}/v2/big/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let r = c
        .patch(format!("{b}{loc}"))
        .header("content-type", "application/octet-stream")
        .body(small[..3 * MIB].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = c
        .put(format!("{c3}{loc}?digest={}", sha256(&small)))
        .header("content-type", "application/octet-stream")
        .body(small[3 * MIB..].to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = c
        .get(format!("{a}/v2/big/blobs/{}", sha256(&small)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap(), small);

    ta.abort();
    tb.abort();
    tc.abort();
}
