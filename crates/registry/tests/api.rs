//! Every endpoint of the distribution API, with its error cases, over real HTTP.

mod common;

use common::*;
use serde_json::{Value, json};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

#[tokio::test]
async fn base_and_health() {
    let s = start().await;
    for p in ["/v2/", "/v2"] {
        let r = s.client.get(s.url(p)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["docker-distribution-api-version"],
            "registry/2.0"
        );
    }
    let r = s.client.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = s
        .client
        .get(s.url("/v2/a/unknown/endpoint"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn monolithic_blob_get_head_range_delete() {
    let s = start().await;
    let data = b"0123456789abcdef".to_vec();
    let d = sha256(&data);
    let r = s
        .client
        .post(s.url(&format!("/v2/lib/a/blobs/uploads/?digest={d}")))
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], format!("/v2/lib/a/blobs/{d}"));
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());

    let r = s
        .client
        .head(s.url(&format!("/v2/lib/a/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-length"], "16");
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());

    let r = s
        .client
        .get(s.url(&format!("/v2/lib/a/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), data);

    let r = s
        .client
        .get(s.url(&format!("/v2/lib/a/blobs/{d}")))
        .header("range", "bytes=2-5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 2-5/16");
    assert_eq!(&r.bytes().await.unwrap()[..], b"2345");

    let r = s
        .client
        .get(s.url(&format!("/v2/lib/a/blobs/{d}")))
        .header("range", "bytes=16-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["content-range"], "bytes */16");

    // Another repository does not see the blob until it is mounted.
    let r = s
        .client
        .get(s.url(&format!("/v2/other/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");

    let r = s
        .client
        .delete(s.url(&format!("/v2/lib/a/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = s
        .client
        .head(s.url(&format!("/v2/lib/a/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = s
        .client
        .delete(s.url(&format!("/v2/lib/a/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
}

#[tokio::test]
async fn digest_mismatch_stores_nothing() {
    let s = start().await;
    let wrong = sha256(b"something else");
    let r = s
        .client
        .post(s.url(&format!("/v2/a/blobs/uploads/?digest={wrong}")))
        .body(b"payload".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    let r = s
        .client
        .head(s.url(&format!("/v2/a/blobs/{wrong}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = s
        .client
        .head(s.url(&format!("/v2/a/blobs/{}", sha256(b"payload"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // No blob file and no upload left behind.
    let root = s.dir.path().join("root");
    let files: Vec<_> = walk(&root)
        .into_iter()
        .filter(|p| p.contains("/blobs/") || p.contains("_uploads"))
        .collect();
    assert!(files.is_empty(), "{files:?}");

    // Chunked upload closed with the wrong digest: same.
    let loc = start_upload(&s, "a").await;
    let r = s
        .client
        .put(format!("{loc}?digest={wrong}"))
        .body(b"chunk".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    let r = s.client.get(&loc).send().await.unwrap();
    assert_eq!(r.status(), 404);

    // Malformed digests are 400, never 500.
    for bad in ["sha256:zz", "md5:abc", "nocolon", "sha256:ABCDEF"] {
        let r = s
            .client
            .post(s.url(&format!("/v2/a/blobs/uploads/?digest={bad}")))
            .body(b"x".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(error_code(r).await, "DIGEST_INVALID");
        let r = s
            .client
            .get(s.url(&format!("/v2/a/blobs/{bad}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{bad}");
        assert_eq!(error_code(r).await, "DIGEST_INVALID");
    }
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

async fn start_upload(s: &TestServer, name: &str) -> String {
    let r = s
        .client
        .post(s.url(&format!("/v2/{name}/blobs/uploads/")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(r.headers().contains_key("docker-upload-uuid"));
    s.location(&r)
}

#[tokio::test]
async fn chunked_upload_in_order_and_out_of_order() {
    let s = start().await;
    let loc = start_upload(&s, "chunky").await;
    let r = s
        .client
        .patch(&loc)
        .header("content-range", "0-4")
        .header("content-type", "application/octet-stream")
        .body(b"hello".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["range"], "0-4");
    let loc = s.location(&r);

    // A chunk that does not start at 5 is refused with 416, and changes nothing.
    for range in ["3-7", "6-10", "0-4"] {
        let r = s
            .client
            .patch(&loc)
            .header("content-range", range)
            .body(b"XXXXX".to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 416, "{range}");
    }
    // A Content-Range that disagrees with the body length is refused too.
    let r = s
        .client
        .patch(&loc)
        .header("content-range", "5-20")
        .body(b"XX".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);

    let r = s.client.get(&loc).send().await.unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["range"], "0-4");
    assert!(r.headers().contains_key("location"));

    let r = s
        .client
        .patch(&loc)
        .header("content-range", "5-10")
        .body(b" world".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["range"], "0-10");

    // Streamed chunk without Content-Range, then the last chunk with the PUT.
    let r = s
        .client
        .patch(&loc)
        .body(b"!!".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let full = b"hello world!!?".to_vec();
    let d = sha256(&full);
    let r = s
        .client
        .put(format!("{loc}?digest={d}"))
        .body(b"?".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], format!("/v2/chunky/blobs/{d}"));
    let r = s
        .client
        .get(s.url(&format!("/v2/chunky/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.bytes().await.unwrap(), full);
    // The session is gone.
    let r = s.client.get(&loc).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
}

#[tokio::test]
async fn sha512_blobs() {
    let s = start().await;
    let data = b"sha512 content".to_vec();
    let d = sha512(&data);
    let loc = start_upload(&s, "five12").await;
    let r = s
        .client
        .put(format!("{loc}?digest={d}"))
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .client
        .get(s.url(&format!("/v2/five12/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());
    assert_eq!(r.bytes().await.unwrap(), data);
}

#[tokio::test]
async fn digest_algorithm_sha512_chunked() {
    let s = start().await;
    let r = s
        .client
        .post(s.url("/v2/five12/blobs/uploads/?digest-algorithm=sha512"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let loc = s.location(&r);
    let r = s
        .client
        .patch(&loc)
        .header("content-range", "0-2")
        .body(b"abc".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let loc = s.location(&r);
    let d = sha512(b"abcdef");
    let r = s
        .client
        .put(format!("{loc}?digest={d}"))
        .header("content-range", "3-5")
        .body(b"def".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());
    let r = s
        .client
        .post(s.url("/v2/five12/blobs/uploads/?digest-algorithm=md5"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
    // Announced sha512, closed with sha256: still verified (by re-reading), still right.
    let r = s
        .client
        .post(s.url("/v2/five12/blobs/uploads/?digest-algorithm=sha512"))
        .send()
        .await
        .unwrap();
    let loc = s.location(&r);
    let d = sha256(b"xyz");
    let r = s
        .client
        .put(format!("{loc}?digest={d}"))
        .body(b"xyz".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // Final chunk out of order on PUT: 416.
    let loc = start_upload(&s, "five12").await;
    let r = s
        .client
        .put(format!("{loc}?digest={d}"))
        .header("content-range", "1-3")
        .body(b"xyz".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
}

#[tokio::test]
async fn manifest_push_by_digest_with_tag_params() {
    let s = start().await;
    s.push_blob("tp", b"{}").await;
    s.push_blob("tp", b"L").await;
    let m = image(b"{}", b"L", false);
    let d = sha256(&m);
    let r = s
        .client
        .put(s.url(&format!("/v2/tp/manifests/{d}?tag=1.2.3&tag=latest")))
        .header("content-type", OCI_MANIFEST)
        .body(m.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let tags: Vec<_> = r
        .headers()
        .get_all("oci-tag")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert_eq!(tags, ["1.2.3", "latest"]);
    let v: Value = s
        .client
        .get(s.url("/v2/tp/tags/list"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["tags"], json!(["1.2.3", "latest"]));
    // A bad tag refuses the whole push.
    let r = s
        .client
        .put(s.url(&format!("/v2/tp/manifests/{d}?tag=ok&tag=.bad")))
        .header("content-type", OCI_MANIFEST)
        .body(m.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    let r = s
        .client
        .get(s.url("/v2/tp/manifests/ok"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn upload_cancel_and_unknown_sessions() {
    let s = start().await;
    let loc = start_upload(&s, "c").await;
    let r = s.client.delete(&loc).send().await.unwrap();
    assert_eq!(r.status(), 204);
    for (m, code) in [("GET", 404), ("DELETE", 404), ("PATCH", 404)] {
        let r = s
            .client
            .request(m.parse().unwrap(), &loc)
            .body(Vec::new())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), code, "{m}");
        assert_eq!(error_code(r).await, "BLOB_UPLOAD_UNKNOWN");
    }
    let d = sha256(b"");
    let r = s
        .client
        .put(s.url(&format!(
            "/v2/c/blobs/uploads/00000000000000000000000000000000?digest={d}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = s
        .client
        .get(s.url("/v2/c/blobs/uploads/not-an-id"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A session belongs to its repository.
    let loc = start_upload(&s, "c").await;
    let other = loc.replace("/v2/c/", "/v2/d/");
    let r = s.client.get(&other).send().await.unwrap();
    assert_eq!(r.status(), 404);
    // PUT without a digest.
    let r = s.client.put(&loc).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
}

#[tokio::test]
async fn cross_repository_mount() {
    let s = start().await;
    let d = s.push_blob("src/repo", b"shared layer").await;
    let r = s
        .client
        .post(s.url(&format!("/v2/dst/blobs/uploads/?mount={d}&from=src/repo")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], format!("/v2/dst/blobs/{d}"));
    assert_eq!(r.headers()["docker-content-digest"], d.as_str());
    let r = s
        .client
        .get(s.url(&format!("/v2/dst/blobs/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(&r.bytes().await.unwrap()[..], b"shared layer");

    // From a repository that lacks it: an upload session instead.
    let missing = sha256(b"nope");
    let r = s
        .client
        .post(s.url(&format!(
            "/v2/dst2/blobs/uploads/?mount={missing}&from=src/repo"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert!(
        r.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/v2/dst2/blobs/uploads/")
    );
    // Blob in the registry but not in `from`: not mounted.
    let r = s
        .client
        .post(s.url(&format!("/v2/dst3/blobs/uploads/?mount={d}&from=elsewhere")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    // Without `from`, any blob the registry holds mounts.
    let r = s
        .client
        .post(s.url(&format!("/v2/dst4/blobs/uploads/?mount={d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = s
        .client
        .post(s.url(&format!("/v2/dst5/blobs/uploads/?mount={d}&from=../x")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "NAME_INVALID");
}

#[tokio::test]
async fn manifests_put_get_head_by_tag_and_digest() {
    let s = start().await;
    let config = br#"{"architecture":"amd64","os":"linux"}"#;
    let layer = b"layer bytes";
    for (docker, repo) in [(false, "img/oci"), (true, "img/docker")] {
        let m = image(config, layer, docker);
        let mt = if docker {
            DOCKER_MANIFEST
        } else {
            OCI_MANIFEST
        };
        // Blobs missing: refused.
        let r = s.put_manifest(repo, "v1", mt, &m).await;
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
        s.push_blob(repo, config).await;
        // Layer still missing.
        let r = s.put_manifest(repo, "v1", mt, &m).await;
        assert_eq!(r.status(), 400);
        s.push_blob(repo, layer).await;
        let r = s.put_manifest(repo, "v1", mt, &m).await;
        assert_eq!(r.status(), 201);
        let d = sha256(&m);
        assert_eq!(r.headers()["docker-content-digest"], d.as_str());
        assert_eq!(r.headers()["location"], format!("/v2/{repo}/manifests/{d}"));
        assert!(!r.headers().contains_key("oci-subject"));
        for reference in ["v1", d.as_str()] {
            let r = s
                .client
                .get(s.url(&format!("/v2/{repo}/manifests/{reference}")))
                .header("accept", mt)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], mt);
            assert_eq!(r.headers()["docker-content-digest"], d.as_str());
            assert_eq!(r.bytes().await.unwrap(), m, "byte-identical");
            let r = s
                .client
                .head(s.url(&format!("/v2/{repo}/manifests/{reference}")))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-length"], m.len().to_string().as_str());
            assert_eq!(r.headers()["docker-content-digest"], d.as_str());
        }
        // By digest: the digest must match.
        let r = s.put_manifest(repo, &d, mt, &m).await;
        assert_eq!(r.status(), 201);
        let r = s.put_manifest(repo, &sha256(b"other"), mt, &m).await;
        assert_eq!(r.status(), 400);
        assert_eq!(error_code(r).await, "DIGEST_INVALID");
    }
    // Unknown manifests.
    for reference in ["nope", &sha256(b"nothing")] {
        let r = s
            .client
            .get(s.url(&format!("/v2/img/oci/manifests/{reference}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
        let r = s
            .client
            .head(s.url(&format!("/v2/img/oci/manifests/{reference}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
    let r = s
        .client
        .get(s.url("/v2/img/oci/manifests/sha256:short"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "DIGEST_INVALID");
}

#[tokio::test]
async fn manifests_invalid_and_too_large() {
    let s = start().await;
    let cases: &[(&str, &[u8])] = &[
        (OCI_MANIFEST, b"not json"),
        (OCI_MANIFEST, b"{\"schemaVersion\":1}"),
        (OCI_MANIFEST, b"{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:x\"}}"),
        (OCI_INDEX, b"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"bad\",\"size\":1}]}"),
        // An image manifest sent as an index.
        (
            OCI_INDEX,
            b"{\"schemaVersion\":2,\"config\":{\"mediaType\":\"a\",\"digest\":\"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\",\"size\":0},\"layers\":[]}",
        ),
        (OCI_INDEX, b"{\"schemaVersion\":2}"),
        (OCI_MANIFEST, b"{\"schemaVersion\":2,\"manifests\":[]}"),
        // mediaType contradicting the Content-Type.
        (
            OCI_INDEX,
            b"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.docker.distribution.manifest.list.v2+json\",\"manifests\":[]}",
        ),
    ];
    for (mt, body) in cases {
        let r = s.put_manifest("bad", "t", mt, body).await;
        assert_eq!(r.status(), 400, "{}", String::from_utf8_lossy(body));
        assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    }
    let big = vec![b' '; 4 * 1024 * 1024 + 1];
    let r = s.put_manifest("bad", "t", OCI_MANIFEST, &big).await;
    assert_eq!(r.status(), 413);
    // Invalid tag.
    let r = s.put_manifest("bad", "-tag", OCI_INDEX, b"{}").await;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(r).await, "MANIFEST_INVALID");
    // The server still serves.
    let r = s.client.get(s.url("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn indexes_and_manifest_lists() {
    let s = start().await;
    let repo = "multi";
    let config = b"{}";
    let layer = b"L";
    s.push_blob(repo, config).await;
    s.push_blob(repo, layer).await;
    let m = image(config, layer, false);
    let md = sha256(&m);
    for (mt, list_mt) in [(OCI_MANIFEST, OCI_INDEX), (DOCKER_MANIFEST, DOCKER_LIST)] {
        let index = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": list_mt,
            "manifests": [{"mediaType": mt, "digest": md, "size": m.len(),
                           "platform": {"architecture": "amd64", "os": "linux"}}],
        }))
        .unwrap();
        // The child manifest is not pushed yet.
        let r = s.put_manifest(repo, "all", list_mt, &index).await;
        assert_eq!(r.status(), 400, "{list_mt}");
        assert_eq!(error_code(r).await, "MANIFEST_BLOB_UNKNOWN");
        let r = s.put_manifest(repo, &md, OCI_MANIFEST, &m).await;
        assert_eq!(r.status(), 201);
        let r = s.put_manifest(repo, "all", list_mt, &index).await;
        assert_eq!(r.status(), 201);
        let r = s
            .client
            .get(s.url(&format!("/v2/{repo}/manifests/all")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["content-type"], list_mt);
        assert_eq!(r.bytes().await.unwrap(), index);
        let r = s
            .client
            .delete(s.url(&format!("/v2/{repo}/manifests/{md}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
}

#[tokio::test]
async fn tags_list_pagination_and_catalog() {
    let s = start().await;
    let r = s
        .client
        .get(s.url("/v2/nothing/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");

    s.push_blob("t/r", b"{}").await;
    s.push_blob("t/r", b"L").await;
    let m = image(b"{}", b"L", false);
    for tag in ["v3", "latest", "v1", "v2", "A"] {
        let r = s.put_manifest("t/r", tag, OCI_MANIFEST, &m).await;
        assert_eq!(r.status(), 201);
    }
    let r = s
        .client
        .get(s.url("/v2/t/r/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!r.headers().contains_key("link"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        v,
        json!({"name": "t/r", "tags": ["A", "latest", "v1", "v2", "v3"]})
    );

    let r = s
        .client
        .get(s.url("/v2/t/r/tags/list?n=2"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["link"],
        "</v2/t/r/tags/list?n=2&last=latest>; rel=\"next\""
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["tags"], json!(["A", "latest"]));
    let r = s
        .client
        .get(s.url("/v2/t/r/tags/list?n=2&last=latest"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["tags"], json!(["v1", "v2"]));
    let r = s
        .client
        .get(s.url("/v2/t/r/tags/list?n=2&last=v2"))
        .send()
        .await
        .unwrap();
    assert!(!r.headers().contains_key("link"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["tags"], json!(["v3"]));
    let r = s
        .client
        .get(s.url("/v2/t/r/tags/list?n=0"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["tags"], json!([]));
    let r = s
        .client
        .get(s.url("/v2/t/r/tags/list?n=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    s.push_blob("t", b"x").await;
    s.push_blob("a/b/c", b"{}").await;
    s.push_blob("a/b/c", b"L").await;
    assert_eq!(
        s.put_manifest("a/b/c", "1", OCI_MANIFEST, &m)
            .await
            .status(),
        201
    );
    let r = s.client.get(s.url("/v2/_catalog")).send().await.unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v, json!({"repositories": ["a/b/c", "t/r"]}));
    let r = s
        .client
        .get(s.url("/v2/_catalog?n=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["link"],
        "</v2/_catalog?n=1&last=a%2Fb%2Fc>; rel=\"next\""
    );
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["repositories"], json!(["a/b/c"]));
}

#[tokio::test]
async fn referrers_with_subject_and_filter() {
    let s = start().await;
    let repo = "ref";
    s.push_blob(repo, b"{}").await;
    s.push_blob(repo, b"L").await;
    let m = image(b"{}", b"L", false);
    let md = sha256(&m);
    assert_eq!(
        s.put_manifest(repo, "v1", OCI_MANIFEST, &m).await.status(),
        201
    );

    let empty = b"{}";
    let artifact = |atype: &str, note: &str| {
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "artifactType": atype,
            "config": {"mediaType": "application/vnd.oci.empty.v1+json",
                       "digest": sha256(empty), "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.empty.v1+json",
                        "digest": sha256(empty), "size": 2}],
            "subject": {"mediaType": OCI_MANIFEST, "digest": md, "size": m.len()},
            "annotations": {"note": note},
        }))
        .unwrap()
    };
    let sig = artifact("application/vnd.example.sig", "a");
    let sbom = artifact("application/vnd.example.sbom", "b");
    for a in [&sig, &sbom] {
        let d = sha256(a);
        let r = s.put_manifest(repo, &d, OCI_MANIFEST, a).await;
        assert_eq!(r.status(), 201);
        assert_eq!(r.headers()["oci-subject"], md.as_str());
    }
    let r = s
        .client
        .get(s.url(&format!("/v2/{repo}/referrers/{md}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], OCI_INDEX);
    assert!(!r.headers().contains_key("oci-filters-applied"));
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["schemaVersion"], 2);
    assert_eq!(v["mediaType"], OCI_INDEX);
    let list = v["manifests"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for e in list {
        assert_eq!(e["mediaType"], OCI_MANIFEST);
        assert!(e["size"].as_u64().unwrap() > 0);
        assert!(e["annotations"]["note"].is_string());
    }

    let r = s
        .client
        .get(s.url(&format!(
            "/v2/{repo}/referrers/{md}?artifactType=application/vnd.example.sbom"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["oci-filters-applied"], "artifactType");
    let v: Value = r.json().await.unwrap();
    let list = v["manifests"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["digest"], sha256(&sbom));
    assert_eq!(list[0]["artifactType"], "application/vnd.example.sbom");

    // A subject nobody refers to: an empty index.
    let r = s
        .client
        .get(s.url(&format!("/v2/{repo}/referrers/{}", sha256(b"x"))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["manifests"], json!([]));
    let r = s
        .client
        .get(s.url(&format!("/v2/{repo}/referrers/sha256:nope")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Deleting a referrer takes it out of the list.
    let r = s
        .client
        .delete(s.url(&format!("/v2/{repo}/manifests/{}", sha256(&sig))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let r = s
        .client
        .get(s.url(&format!("/v2/{repo}/referrers/{md}")))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn delete_tag_only_and_by_digest() {
    let s = start().await;
    let repo = "del";
    s.push_blob(repo, b"{}").await;
    s.push_blob(repo, b"L").await;
    let m = image(b"{}", b"L", false);
    let d = sha256(&m);
    for t in ["a", "b"] {
        assert_eq!(
            s.put_manifest(repo, t, OCI_MANIFEST, &m).await.status(),
            201
        );
    }
    let r = s
        .client
        .delete(s.url(&format!("/v2/{repo}/manifests/a")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let get = |reference: String| {
        let s = &s;
        async move {
            s.client
                .get(s.url(&format!("/v2/{repo}/manifests/{reference}")))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(get("a".into()).await, 404);
    assert_eq!(get("b".into()).await, 200);
    assert_eq!(get(d.clone()).await, 200);
    let r = s
        .client
        .delete(s.url(&format!("/v2/{repo}/manifests/a")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");

    let r = s
        .client
        .delete(s.url(&format!("/v2/{repo}/manifests/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(get(d.clone()).await, 404);
    assert_eq!(get("b".into()).await, 404);
    let v: Value = s
        .client
        .get(s.url(&format!("/v2/{repo}/tags/list")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["tags"], json!([]));
    let r = s
        .client
        .delete(s.url(&format!("/v2/{repo}/manifests/{d}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn hostile_names_are_refused() {
    let s = start().await;
    let d = sha256(b"x");
    for path in [
        "/v2/../x/manifests/latest".to_string(),
        "/v2/a/../../b/manifests/latest".to_string(),
        "/v2/a/../../../../etc/blobs/uploads/".to_string(),
        "/v2/Upper/manifests/latest".to_string(),
        "/v2/a/./b/tags/list".to_string(),
        "/v2/a//b/tags/list".to_string(),
        format!("/v2/..%2f..%2fetc/blobs/{d}"),
        format!("/v2/a/%2e%2e/blobs/{d}"),
        "/v2/-a/tags/list".to_string(),
    ] {
        for method in ["GET", "POST", "PUT", "DELETE", "HEAD"] {
            let (status, text) = s.raw(method, &path).await;
            assert_eq!(status, 400, "{method} {path}: {text}");
            if method != "HEAD" {
                assert!(text.contains("NAME_INVALID"), "{method} {path}: {text}");
            }
        }
    }
    // Nothing was created outside the root, and the server still serves.
    assert!(!s.dir.path().join("x").exists());
    assert!(!s.dir.path().join("b").exists());
    let r = s.client.get(s.url("/v2/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn unsupported_methods() {
    let s = start().await;
    let r = s
        .client
        .post(s.url("/v2/a/manifests/latest"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
}
