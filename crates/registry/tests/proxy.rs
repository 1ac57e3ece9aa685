//! Pull-through cache mode: a proxy server in front of another in-process registry, reached
//! through a test `Upstream` over reqwest that can be switched off or made to corrupt blobs.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use oci::Digest;
use registry::proxy::{ProxyConfig, Upstream, UpstreamBlob, UpstreamError, UpstreamManifest};
use registry::{Config, Server};

use common::{TestServer, error_code, image, sha256};

/// A proxy server on 127.0.0.1:0; `dir` holds its storage.
struct ProxyServer {
    base: String,
    dir: tempfile::TempDir,
    client: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ProxyServer {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// An upstream over HTTP to a test registry, with switches and counters.
struct FakeUpstream {
    base: String,
    http: reqwest::Client,
    down: AtomicBool,
    hang: AtomicBool,
    hide_size: AtomicBool,
    blob_delay_ms: std::sync::atomic::AtomicU64,
    corrupt: AtomicBool,
    manifest_gets: AtomicUsize,
    manifest_heads: AtomicUsize,
    blob_gets: AtomicUsize,
}

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

impl FakeUpstream {
    fn new(base: &str) -> Arc<FakeUpstream> {
        Arc::new(FakeUpstream {
            base: base.to_string(),
            http: reqwest::Client::new(),
            down: AtomicBool::new(false),
            hang: AtomicBool::new(false),
            hide_size: AtomicBool::new(false),
            blob_delay_ms: std::sync::atomic::AtomicU64::new(0),
            corrupt: AtomicBool::new(false),
            manifest_gets: AtomicUsize::new(0),
            manifest_heads: AtomicUsize::new(0),
            blob_gets: AtomicUsize::new(0),
        })
    }

    fn check_up(&self, what: &str) -> Result<(), UpstreamError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(UpstreamError::Unavailable {
                what: what.to_string(),
                message: "connection refused (test switch)".into(),
            });
        }
        Ok(())
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
    ) -> Result<Option<reqwest::Response>, UpstreamError> {
        self.check_up(path)?;
        if self.hang.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        let r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("accept", ACCEPT)
            .send()
            .await
            .map_err(|e| UpstreamError::Unavailable {
                what: path.to_string(),
                message: e.to_string(),
            })?;
        match r.status().as_u16() {
            404 => Ok(None),
            s if (200..300).contains(&s) => Ok(Some(r)),
            s => Err(UpstreamError::Unavailable {
                what: path.to_string(),
                message: format!("status {s}"),
            }),
        }
    }
}

fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

impl Upstream for FakeUpstream {
    fn manifest<'a>(
        &'a self,
        name: &'a str,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<UpstreamManifest>, UpstreamError>> {
        Box::pin(async move {
            self.manifest_gets.fetch_add(1, Ordering::SeqCst);
            let path = format!("/v2/{name}/manifests/{reference}");
            let Some(r) = self.send(reqwest::Method::GET, &path).await? else {
                return Ok(None);
            };
            let media_type = header(&r, "content-type").unwrap_or_default();
            let bytes = r.bytes().await.map_err(|e| UpstreamError::Unavailable {
                what: path.clone(),
                message: e.to_string(),
            })?;
            let digest = Digest::sha256_of(&bytes);
            let bytes = if self.corrupt.load(Ordering::SeqCst) {
                // Still JSON, but not the content the digest names.
                let mut v = bytes.to_vec();
                v.push(b' ');
                Bytes::from(v)
            } else {
                bytes
            };
            Ok(Some(UpstreamManifest {
                digest,
                bytes,
                media_type,
            }))
        })
    }

    fn manifest_digest<'a>(
        &'a self,
        name: &'a str,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<Digest>, UpstreamError>> {
        Box::pin(async move {
            self.manifest_heads.fetch_add(1, Ordering::SeqCst);
            let path = format!("/v2/{name}/manifests/{reference}");
            let Some(r) = self.send(reqwest::Method::HEAD, &path).await? else {
                return Ok(None);
            };
            let d = header(&r, "docker-content-digest").and_then(|d| d.parse().ok());
            d.map(Some).ok_or(UpstreamError::Invalid {
                what: path,
                message: "no digest header".into(),
            })
        })
    }

    fn blob<'a>(
        &'a self,
        name: &'a str,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Option<UpstreamBlob>, UpstreamError>> {
        Box::pin(async move {
            self.blob_gets.fetch_add(1, Ordering::SeqCst);
            let delay = self.blob_delay_ms.load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let path = format!("/v2/{name}/blobs/{digest}");
            let Some(r) = self.send(reqwest::Method::GET, &path).await? else {
                return Ok(None);
            };
            let size = r
                .content_length()
                .filter(|_| !self.hide_size.load(Ordering::SeqCst));
            let corrupt = self.corrupt.load(Ordering::SeqCst);
            let stream = r
                .bytes_stream()
                .map_err(std::io::Error::other)
                .map_ok(move |b: Bytes| {
                    if corrupt && !b.is_empty() {
                        let mut v = b.to_vec();
                        v[0] ^= 0xff;
                        Bytes::from(v)
                    } else {
                        b
                    }
                })
                .boxed();
            Ok(Some(UpstreamBlob { size, stream }))
        })
    }

    fn tags<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, UpstreamError>> {
        Box::pin(async move {
            let path = format!("/v2/{name}/tags/list");
            let Some(r) = self.send(reqwest::Method::GET, &path).await? else {
                return Ok(None);
            };
            let v: serde_json::Value = r.json().await.map_err(|e| UpstreamError::Invalid {
                what: path,
                message: e.to_string(),
            })?;
            Ok(Some(
                v["tags"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .collect(),
            ))
        })
    }
}

struct Setup {
    upstream_server: TestServer,
    upstream: Arc<FakeUpstream>,
    proxy: ProxyServer,
    manifest: Vec<u8>,
    manifest_digest: String,
    config: Vec<u8>,
    layer: Vec<u8>,
}

/// A proxy server in front of `upstream`.
async fn start_proxy(upstream: Arc<FakeUpstream>, ttl: Duration) -> ProxyServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("root"));
    let mut proxy = ProxyConfig::new(upstream as Arc<dyn Upstream>);
    proxy.tag_ttl = ttl;
    proxy.upstream_timeout = Duration::from_millis(500);
    config.proxy = Some(proxy);
    let (addr, fut) = Server::bind(config).await.unwrap();
    let task = tokio::spawn(async move {
        fut.await.unwrap();
    });
    ProxyServer {
        base: format!("http://{addr}"),
        dir,
        client: reqwest::Client::new(),
        task,
    }
}

/// An upstream registry holding `app:v1` (a config and a 3 MiB layer), and a proxy of it.
async fn setup(ttl: Duration) -> Setup {
    let upstream_server = common::start().await;
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let layer: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    upstream_server.push_blob("app", &config).await;
    upstream_server.push_blob("app", &layer).await;
    let manifest = image(&config, &layer, false);
    let r = upstream_server
        .put_manifest(
            "app",
            "v1",
            "application/vnd.oci.image.manifest.v1+json",
            &manifest,
        )
        .await;
    assert_eq!(r.status(), 201);
    let upstream = FakeUpstream::new(&upstream_server.base);
    let proxy = start_proxy(upstream.clone(), ttl).await;
    Setup {
        upstream_server,
        upstream,
        proxy,
        manifest_digest: sha256(&manifest),
        manifest,
        config,
        layer,
    }
}

impl Setup {
    async fn get(&self, path: &str) -> reqwest::Response {
        self.proxy
            .client
            .get(self.proxy.url(path))
            .send()
            .await
            .unwrap()
    }

    async fn head(&self, path: &str) -> reqwest::Response {
        self.proxy
            .client
            .head(self.proxy.url(path))
            .send()
            .await
            .unwrap()
    }

    fn stored_blob(&self, digest: &str) -> std::path::PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.proxy
            .dir
            .path()
            .join("root/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
    }
}

#[tokio::test]
async fn manifest_by_tag_and_digest_is_cached() {
    let s = setup(Duration::from_secs(60)).await;
    let r = s.get("/v2/app/manifests/v1").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type").unwrap(),
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        header(&r, "docker-content-digest").unwrap(),
        s.manifest_digest
    );
    assert_eq!(r.bytes().await.unwrap(), s.manifest);
    assert_eq!(s.upstream.manifest_gets.load(Ordering::SeqCst), 1);
    assert_eq!(s.upstream.manifest_heads.load(Ordering::SeqCst), 1);

    // By digest: served from the cache without asking.
    let r = s
        .get(&format!("/v2/app/manifests/{}", s.manifest_digest))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), s.manifest);
    // By tag again within the TTL: no upstream request at all.
    let r = s.head("/v2/app/manifests/v1").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-length").unwrap(),
        s.manifest.len().to_string()
    );
    assert_eq!(s.upstream.manifest_gets.load(Ordering::SeqCst), 1);
    assert_eq!(s.upstream.manifest_heads.load(Ordering::SeqCst), 1);

    // The manifest is stored: served with the upstream down.
    s.upstream.down.store(true, Ordering::SeqCst);
    let r = s
        .get(&format!("/v2/app/manifests/{}", s.manifest_digest))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), s.manifest);
    // Catalog: what is cached.
    let r = s.get("/v2/_catalog").await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["repositories"], serde_json::json!(["app"]));
}

#[tokio::test]
async fn tag_follows_upstream_and_survives_its_outage() {
    // TTL zero: every tag request asks the upstream (distribution's behaviour).
    let s = setup(Duration::ZERO).await;
    let r = s.get("/v2/app/manifests/v1").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), s.manifest);

    // The tag moves upstream: the proxy follows it.
    let other = image(&s.layer, &s.config, true);
    let r = s
        .upstream_server
        .put_manifest(
            "app",
            "v1",
            "application/vnd.docker.distribution.manifest.v2+json",
            &other,
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = s.get("/v2/app/manifests/v1").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-type").unwrap(),
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(r.bytes().await.unwrap(), other);
    assert_eq!(s.upstream.manifest_heads.load(Ordering::SeqCst), 2);

    // Upstream down: the cached tag is served; an uncached one is a 502 naming the upstream.
    s.upstream.down.store(true, Ordering::SeqCst);
    let r = s.get("/v2/app/manifests/v1").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), other);
    let r = s.get("/v2/app/manifests/v2").await;
    assert_eq!(r.status(), 502);
    let body = r.text().await.unwrap();
    assert!(body.contains("upstream"), "{body}");
    let r = s.get("/v2/other/manifests/v1").await;
    assert_eq!(r.status(), 502);
    // Tags list falls back to the cached tags.
    let r = s.get("/v2/app/tags/list").await;
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["tags"], serde_json::json!(["v1"]));

    // Upstream up: unknown tags and repositories are 404 with the spec's codes.
    s.upstream.down.store(false, Ordering::SeqCst);
    let r = s.get("/v2/app/manifests/nope").await;
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    let r = s
        .get(&format!("/v2/app/manifests/{}", sha256(b"nothing")))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "MANIFEST_UNKNOWN");
    let r = s.get("/v2/nothing/tags/list").await;
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "NAME_UNKNOWN");
}

#[tokio::test]
async fn tags_list_passes_through() {
    let s = setup(Duration::from_secs(60)).await;
    for t in ["b", "a", "c"] {
        let r = s
            .upstream_server
            .put_manifest(
                "app",
                t,
                "application/vnd.oci.image.manifest.v1+json",
                &s.manifest,
            )
            .await;
        assert_eq!(r.status(), 201);
    }
    let r = s.get("/v2/app/tags/list?n=2").await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "link").unwrap().contains("last=b"));
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["tags"], serde_json::json!(["a", "b"]));
}

#[tokio::test]
async fn blob_is_streamed_verified_and_cached() {
    let s = setup(Duration::from_secs(60)).await;
    let ld = sha256(&s.layer);
    let r = s.get(&format!("/v2/app/blobs/{ld}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "docker-content-digest").unwrap(), ld);
    assert_eq!(
        header(&r, "content-length").unwrap(),
        s.layer.len().to_string()
    );
    let body = r.bytes().await.unwrap();
    assert!(body == s.layer, "streamed blob differs");
    // The commit happens right after the last byte is released: give it a moment.
    for _ in 0..100 {
        if s.stored_blob(&ld).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(std::fs::read(s.stored_blob(&ld)).unwrap(), s.layer);
    assert_eq!(s.upstream.blob_gets.load(Ordering::SeqCst), 1);

    // Cached: served locally, Range included, with the upstream down.
    s.upstream.down.store(true, Ordering::SeqCst);
    let r = s
        .proxy
        .client
        .get(s.proxy.url(&format!("/v2/app/blobs/{ld}")))
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap(), s.layer[10..20]);
    let r = s.get(&format!("/v2/app/blobs/{ld}")).await;
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap() == s.layer);
    assert_eq!(s.upstream.blob_gets.load(Ordering::SeqCst), 1);

    // Another repository of the same proxy reuses the stored bytes.
    let r = s.head(&format!("/v2/other/blobs/{ld}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(s.upstream.blob_gets.load(Ordering::SeqCst), 1);

    // Uncached with the upstream down: a 502, not a hang or an empty 200.
    let cd = sha256(&s.config);
    let r = s.get(&format!("/v2/app/blobs/{cd}")).await;
    assert_eq!(r.status(), 502);
    s.upstream.down.store(false, Ordering::SeqCst);
    // Unknown upstream too: 404 BLOB_UNKNOWN.
    let r = s
        .get(&format!("/v2/app/blobs/{}", sha256(b"not there")))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(r).await, "BLOB_UNKNOWN");
}

#[tokio::test]
async fn blob_head_fetches_into_the_cache() {
    let s = setup(Duration::from_secs(60)).await;
    let cd = sha256(&s.config);
    let r = s.head(&format!("/v2/app/blobs/{cd}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-length").unwrap(),
        s.config.len().to_string()
    );
    assert_eq!(std::fs::read(s.stored_blob(&cd)).unwrap(), s.config);
    s.upstream.down.store(true, Ordering::SeqCst);
    let r = s.get(&format!("/v2/app/blobs/{cd}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), s.config);
}

#[tokio::test]
async fn corrupt_upstream_blob_is_refused_and_not_stored() {
    let s = setup(Duration::from_secs(60)).await;
    s.upstream.corrupt.store(true, Ordering::SeqCst);
    let ld = sha256(&s.layer);
    let r = s.get(&format!("/v2/app/blobs/{ld}")).await;
    // Headers go out before the content is verified; the body must then fail.
    let body = r.bytes().await;
    assert!(
        body.is_err() || body.as_ref().unwrap().len() < s.layer.len(),
        "a corrupt blob reached the client whole"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!s.stored_blob(&ld).exists(), "a corrupt blob was stored");
    // Nothing cached: with the upstream down it is still unavailable.
    s.upstream.down.store(true, Ordering::SeqCst);
    let r = s.get(&format!("/v2/app/blobs/{ld}")).await;
    assert_eq!(r.status(), 502);
    // A HEAD of a corrupt blob fails too, and stores nothing.
    s.upstream.down.store(false, Ordering::SeqCst);
    let cd = sha256(&s.config);
    let r = s.head(&format!("/v2/app/blobs/{cd}")).await;
    assert_eq!(r.status(), 502);
    assert!(!s.stored_blob(&cd).exists());
    // Fixed upstream: the blob now comes through and is stored.
    s.upstream.corrupt.store(false, Ordering::SeqCst);
    let r = s.get(&format!("/v2/app/blobs/{ld}")).await;
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap() == s.layer);
}

#[tokio::test]
async fn corrupt_upstream_manifest_is_refused_and_not_stored() {
    let s = setup(Duration::from_secs(60)).await;
    s.upstream.corrupt.store(true, Ordering::SeqCst);
    for path in [
        "/v2/app/manifests/v1".to_string(),
        format!("/v2/app/manifests/{}", s.manifest_digest),
    ] {
        let r = s.get(&path).await;
        assert_eq!(r.status(), 502, "{path}");
        let body = r.text().await.unwrap();
        assert!(body.contains("hashes to"), "{body}");
    }
    assert!(!s.stored_blob(&s.manifest_digest).exists());
    let r = s.get("/v2/_catalog").await;
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["repositories"], serde_json::json!([]));
    s.upstream.corrupt.store(false, Ordering::SeqCst);
    let r = s.get("/v2/app/manifests/v1").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), s.manifest);
}

#[tokio::test]
async fn concurrent_requests_for_one_blob_share_one_download() {
    let s = setup(Duration::from_secs(60)).await;
    // A slow upstream answer: every request arrives before the bytes flow, and joins.
    s.upstream.blob_delay_ms.store(300, Ordering::SeqCst);
    let ld = sha256(&s.layer);
    let url = s.proxy.url(&format!("/v2/app/blobs/{ld}"));
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let c = s.proxy.client.clone();
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let r = c.get(url).send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap()
        }));
    }
    for t in tasks {
        assert!(t.await.unwrap() == s.layer);
    }
    assert_eq!(s.upstream.blob_gets.load(Ordering::SeqCst), 1);
    // Requests arriving once the bytes flow stream from the upstream on their own.
    let cd = sha256(&s.config);
    s.upstream.blob_delay_ms.store(0, Ordering::SeqCst);
    let path = format!("/v2/app/blobs/{cd}");
    let (a, b) = tokio::join!(s.get(&path), s.get(&path));
    assert_eq!(a.status(), 200);
    assert_eq!(a.bytes().await.unwrap(), s.config);
    assert_eq!(b.bytes().await.unwrap(), s.config);
    // Joiners of a fetch that fails before it starts get the failure's own answer.
    s.upstream.blob_delay_ms.store(300, Ordering::SeqCst);
    let path = format!("/v2/app/blobs/{}", sha256(b"missing upstream"));
    let (a, b) = tokio::join!(s.get(&path), s.get(&path));
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (404, 404));
    for _ in 0..100 {
        if s.stored_blob(&ld).exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(std::fs::read(s.stored_blob(&ld)).unwrap(), s.layer);
    // No upload session is left behind.
    let uploads = s.proxy.dir.path().join("root/repositories/app/_uploads");
    let left = std::fs::read_dir(&uploads).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "upload sessions left in {}", uploads.display());
}

#[tokio::test]
async fn pushes_and_deletes_are_refused() {
    let s = setup(Duration::from_secs(60)).await;
    let c = &s.proxy.client;
    let r = c
        .post(s.proxy.url("/v2/app/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
    let r = c
        .put(s.proxy.url("/v2/app/manifests/v2"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(s.manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(error_code(r).await, "UNSUPPORTED");
    // Cache the manifest, then try to delete it.
    assert_eq!(s.get("/v2/app/manifests/v1").await.status(), 200);
    let r = c
        .delete(
            s.proxy
                .url(&format!("/v2/app/manifests/{}", s.manifest_digest)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 405);
    let r = s
        .get(&format!("/v2/app/manifests/{}", s.manifest_digest))
        .await;
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn hung_upstream_counts_as_down() {
    let s = setup(Duration::ZERO).await;
    assert_eq!(s.get("/v2/app/manifests/v1").await.status(), 200);
    s.upstream.hang.store(true, Ordering::SeqCst);
    let started = std::time::Instant::now();
    let r = s.get("/v2/app/manifests/v1").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), s.manifest);
    let r = s.get(&format!("/v2/app/blobs/{}", sha256(&s.config))).await;
    assert_eq!(r.status(), 502);
    assert!(r.text().await.unwrap().contains("no answer within"));
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn blob_size_comes_from_the_manifest_when_upstream_omits_it() {
    let s = setup(Duration::from_secs(60)).await;
    s.upstream.hide_size.store(true, Ordering::SeqCst);
    let extra = b"a blob no manifest names".to_vec();
    let ed = s.upstream_server.push_blob("app", &extra).await;
    // Unknown size: streamed without Content-Length, still verified and cached.
    let r = s.get(&format!("/v2/app/blobs/{ed}")).await;
    assert_eq!(r.status(), 200);
    assert!(header(&r, "content-length").is_none());
    assert_eq!(r.bytes().await.unwrap(), extra);
    // Once the manifest is fetched, its layer sizes are known.
    assert_eq!(s.get("/v2/app/manifests/v1").await.status(), 200);
    let ld = sha256(&s.layer);
    let r = s.get(&format!("/v2/app/blobs/{ld}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        header(&r, "content-length").unwrap(),
        s.layer.len().to_string()
    );
    assert!(r.bytes().await.unwrap() == s.layer);
}
