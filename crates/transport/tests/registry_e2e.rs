//! The registry client against a real `docker-registry` (distribution 2.8) on 127.0.0.1,
//! and against a small fake registry + token server for the bearer flow.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use oci::{Descriptor, Digest};
use tokio::io::AsyncReadExt;
use transport::registry::{RegistryClient, RegistryDestination, RegistryOptions, RegistrySource};
use transport::{
    BlobStream, CredentialStore, Credentials, ImageDestination, ImageSource, TransportError,
};

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// A `docker-registry serve` on a free loopback port with its own storage; killed on drop.
struct Registry {
    child: Child,
    host: String,
    dir: tempfile::TempDir,
}

impl Registry {
    fn start(htpasswd: Option<(&str, &str)>) -> Registry {
        Registry::start_with(htpasswd, false)
    }

    /// With `tls`, serves HTTPS with a fresh self-signed certificate for 127.0.0.1.
    fn start_with(htpasswd: Option<(&str, &str)>, tls: bool) -> Registry {
        assert!(
            Path::new(REGISTRY_BIN).exists(),
            "{REGISTRY_BIN} is missing: install the docker-registry package"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.path().join("storage").display()
        );
        let mut auth = String::new();
        if let Some((user, pass)) = htpasswd {
            let hash = bcrypt::hash(pass, 4).unwrap();
            let path = dir.path().join("htpasswd");
            std::fs::write(&path, format!("{user}:{hash}\n")).unwrap();
            auth.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: basic-realm\n    path: {}\n",
                path.display()
            ));
        }
        if tls {
            let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
            let out = Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                ])
                .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
                .args(["-addext", "subjectAltName=IP:127.0.0.1"])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.display(),
                key.display()
            ));
        }
        config.push_str(&auth);
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(REGISTRY_BIN)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut registry = Registry {
            child,
            host: format!("127.0.0.1:{port}"),
            dir,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(self.dir.path().join("registry.log"))
                    .unwrap_or_default();
                panic!("docker-registry exited with {status}: {log}");
            }
            // A TCP connection is enough: the registry listens once it is configured.
            if TcpStream::connect(&self.host).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("docker-registry on {} did not answer /v2/", self.host);
    }

    fn client(&self, credentials: Option<Credentials>) -> RegistryClient {
        RegistryClient::new(
            &self.host,
            RegistryOptions {
                credentials,
                ..RegistryOptions::default()
            },
        )
        .unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A small image: config, one layer of `layer_size` pseudo-random bytes, manifest.
struct TestImage {
    config: (Descriptor, Bytes),
    layer: (Descriptor, Bytes),
    manifest: (Descriptor, Bytes),
}

fn test_image(seed: u8, layer_size: usize) -> TestImage {
    let mut x: u32 = 0x9e37_79b9 ^ u32::from(seed);
    let layer: Vec<u8> = (0..layer_size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect();
    let layer = Bytes::from(layer);
    let config = Bytes::from(format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Labels":{{"seed":"{seed}"}}}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        Digest::sha256_of(&layer)
    ));
    let config_d = Descriptor::of_bytes(oci::media::OCI_CONFIG, &config);
    let layer_d = Descriptor::of_bytes(oci::media::OCI_LAYER, &layer);
    let manifest = Bytes::from(
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": oci::media::OCI_MANIFEST,
            "config": config_d,
            "layers": [layer_d],
        }))
        .unwrap(),
    );
    let manifest_d = Descriptor::of_bytes(oci::media::OCI_MANIFEST, &manifest);
    TestImage {
        config: (config_d, config),
        layer: (layer_d, layer),
        manifest: (manifest_d, manifest),
    }
}

fn stream(b: &Bytes) -> BlobStream {
    Box::pin(std::io::Cursor::new(b.clone()))
}

async fn read_all(mut s: BlobStream) -> Vec<u8> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    out
}

async fn push(dst: &RegistryDestination, img: &TestImage, tag: Option<&str>) {
    for (d, b) in [&img.config, &img.layer] {
        if !dst.has_blob(d).await.unwrap() {
            dst.put_blob(d, stream(b)).await.unwrap();
        }
    }
    dst.put_manifest(&img.manifest.0, img.manifest.1.clone(), tag)
        .await
        .unwrap();
}

#[tokio::test]
async fn push_then_pull_round_trips() {
    let reg = Registry::start(None);
    let client = reg.client(None);
    let img = test_image(1, 300_000);
    let dst = RegistryDestination::new(client.clone(), "team/app");

    assert!(!dst.has_blob(&img.layer.0).await.unwrap());
    push(&dst, &img, Some("v1")).await;
    assert!(dst.has_blob(&img.layer.0).await.unwrap());
    assert!(dst.has_blob(&img.config.0).await.unwrap());
    // Loopback without TLS: the client fell back to plain HTTP.
    assert_eq!(client.base_url().await.unwrap().scheme(), "http");

    let src = RegistrySource::new(client.clone(), "team/app", "v1");
    let top = src.resolve().await.unwrap();
    assert_eq!(top.digest, img.manifest.0.digest);
    assert_eq!(top.size, img.manifest.0.size);
    assert_eq!(top.media_type, oci::media::OCI_MANIFEST);
    assert_eq!(src.manifest(&top).await.unwrap(), img.manifest.1);
    assert_eq!(
        read_all(src.blob(&img.layer.0, 0).await.unwrap()).await,
        img.layer.1
    );
    assert_eq!(
        read_all(src.blob(&img.config.0, 0).await.unwrap()).await,
        img.config.1
    );
    assert_eq!(
        read_all(src.blob(&img.layer.0, 1000).await.unwrap()).await,
        &img.layer.1[1000..]
    );

    // By digest, too, and from a parsed reference.
    let by_digest = RegistrySource::new(client.clone(), "team/app", top.digest.to_string());
    assert_eq!(by_digest.resolve().await.unwrap(), top);
    let r = oci::Reference::parse(&format!("{}/team/app@{}", reg.host, top.digest)).unwrap();
    let by_ref = RegistrySource::from_reference(client.clone(), &r);
    assert_eq!(by_ref.resolve().await.unwrap(), top);

    // Missing things are "not found", with the URL and the registry's code in the message.
    let missing = RegistrySource::new(client.clone(), "team/app", "nope");
    let err = missing.resolve().await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        err.to_string().contains("/v2/team/app/manifests/nope"),
        "{err}"
    );
    let other = test_image(2, 10);
    let err = match src.blob(&other.layer.0, 0).await {
        Err(e) => e,
        Ok(_) => panic!("a missing blob was served"),
    };
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("BLOB_UNKNOWN"), "{err}");

    // skopeo reads what we pushed.
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{}/team/app:v1", reg.host))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, img.manifest.1);
}

#[tokio::test]
async fn https_with_a_self_signed_certificate_on_loopback() {
    let reg = Registry::start_with(None, true);
    let client = reg.client(None);
    let img = test_image(8, 200_000);
    push(
        &RegistryDestination::new(client.clone(), "tls"),
        &img,
        Some("v1"),
    )
    .await;
    assert_eq!(client.base_url().await.unwrap().scheme(), "https");
    let src = RegistrySource::new(client, "tls", "v1");
    let top = src.resolve().await.unwrap();
    assert_eq!(top.digest, img.manifest.0.digest);
    assert_eq!(
        read_all(src.blob(&img.layer.0, 7).await.unwrap()).await,
        &img.layer.1[7..]
    );
}

#[tokio::test]
async fn rejects_wrong_blobs_and_leaves_nothing() {
    let reg = Registry::start(None);
    let dst = RegistryDestination::new(reg.client(None), "app");
    let img = test_image(3, 5000);

    // Shorter than declared: our stream check cuts the upload off.
    let short = img.layer.1.slice(..4000);
    let err = dst
        .put_blob(&img.layer.0, stream(&short))
        .await
        .unwrap_err();
    assert!(!dst.has_blob(&img.layer.0).await.unwrap(), "{err}");

    // Right size, wrong bytes: the registry refuses the digest.
    let mut wrong = img.layer.1.to_vec();
    wrong[0] ^= 0xff;
    let err = dst
        .put_blob(&img.layer.0, stream(&Bytes::from(wrong)))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("DIGEST_INVALID"), "{err}");
    assert!(!dst.has_blob(&img.layer.0).await.unwrap());

    // A manifest whose blobs are missing is refused with the registry's reason.
    let err = dst
        .put_manifest(&img.manifest.0, img.manifest.1.clone(), Some("v1"))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("PUT") && msg.contains("/v2/app/manifests/v1"),
        "{msg}"
    );
    assert!(
        msg.contains("BLOB_UNKNOWN") || msg.contains("MANIFEST_BLOB_UNKNOWN"),
        "{msg}"
    );
}

#[tokio::test]
async fn mounts_blobs_between_repositories() {
    let reg = Registry::start(None);
    let client = reg.client(None);
    let img = test_image(4, 20_000);
    push(
        &RegistryDestination::new(client.clone(), "a"),
        &img,
        Some("v1"),
    )
    .await;

    let b = RegistryDestination::new(client.clone(), "b");
    assert!(!b.has_blob(&img.layer.0).await.unwrap());
    assert!(b.mount_blob(&img.layer.0, "a").await.unwrap());
    assert!(b.has_blob(&img.layer.0).await.unwrap());

    // A blob the source repository lacks: the registry opens an upload instead (202).
    let other = test_image(5, 100);
    assert!(!b.mount_blob(&other.layer.0, "a").await.unwrap());
    assert!(!b.has_blob(&other.layer.0).await.unwrap());
}

#[tokio::test]
async fn lists_tags() {
    let reg = Registry::start(None);
    let client = reg.client(None);
    let img = test_image(6, 100);
    let dst = RegistryDestination::new(client.clone(), "app");
    let mut want = Vec::new();
    for i in 0..5 {
        let tag = format!("t{i}");
        push(&dst, &img, Some(&tag)).await;
        want.push(tag);
    }
    // distribution 2.8 ignores `n` and lists in storage order; pagination is tested
    // against the fake registry below.
    let src = RegistrySource::new(client.clone(), "app", "t0");
    let mut got = src.tags().await.unwrap();
    got.sort();
    assert_eq!(got, want);

    let none = RegistrySource::new(client, "nothing-here", "latest");
    let err = none.tags().await.unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[tokio::test]
async fn basic_auth_with_htpasswd() {
    let reg = Registry::start(Some(("alice", "s3cret")));
    let good = reg.client(Some(Credentials::Basic {
        username: "alice".into(),
        password: "s3cret".into(),
    }));
    good.ping().await.unwrap();
    let img = test_image(7, 1000);
    push(
        &RegistryDestination::new(good.clone(), "private"),
        &img,
        Some("v1"),
    )
    .await;
    let src = RegistrySource::new(good, "private", "v1");
    let top = src.resolve().await.unwrap();
    assert_eq!(top.digest, img.manifest.0.digest);

    let wrong = reg.client(Some(Credentials::Basic {
        username: "alice".into(),
        password: "wrong".into(),
    }));
    let err = RegistrySource::new(wrong, "private", "v1")
        .resolve()
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Unauthorized { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&reg.host), "{err}");

    let anonymous = reg.client(None);
    let err = RegistryDestination::new(anonymous, "private")
        .has_blob(&img.layer.0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Unauthorized { .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn login_checks_then_stores_credentials() {
    let reg = Registry::start(Some(("bob", "pw")));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("docker").join("config.json");
    let store = CredentialStore::at(&config).with_helper_path(dir.path().join("no-helpers"));

    let err = transport::credentials::login_with(
        &store,
        &reg.host,
        "bob",
        "bad",
        RegistryOptions::default(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, TransportError::Unauthorized { .. }),
        "{err:?}"
    );
    assert!(!config.exists());

    transport::credentials::login_with(&store, &reg.host, "bob", "pw", RegistryOptions::default())
        .await
        .unwrap();
    let stored = store.get(&reg.host).unwrap();
    assert_eq!(
        stored,
        Some(Credentials::Basic {
            username: "bob".into(),
            password: "pw".into()
        })
    );
    // The stored credentials work.
    reg.client(stored).ping().await.unwrap();
}

// ---- bearer flow against a fake registry with its own token endpoint ----

const STORAGE_BLOB: &str = "bytes served by the storage back end";

const FAKE_TAGS: [&str; 5] = ["a", "b", "c", "d", "e"];

#[derive(Default)]
struct FakeState {
    token_requests: AtomicUsize,
    flaky_hits: AtomicUsize,
    storage_host: Mutex<String>,
    scopes_seen: Mutex<Vec<String>>,
}

struct HttpRequest {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl HttpRequest {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn query(&self) -> Vec<(String, String)> {
        let q = self.target.split_once('?').map_or("", |(_, q)| q);
        url::form_urlencoded::parse(q.as_bytes())
            .into_owned()
            .collect()
    }
}

fn read_request(s: &mut TcpStream) -> Option<HttpRequest> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    while !buf.ends_with(b"\r\n\r\n") {
        if s.read(&mut byte).ok()? == 0 {
            return None;
        }
        // A TLS ClientHello (the client tries HTTPS first): hang up, as a plain HTTP
        // server's error reply would make the handshake fail.
        if buf.is_empty() && !byte[0].is_ascii_uppercase() {
            return None;
        }
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some(HttpRequest {
        method,
        target,
        headers,
        body,
    })
}

fn respond(s: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &str) {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(body);
    let _ = s.write_all(out.as_bytes());
}

/// Serves `/v2/` and `/v2/app/tags/list` behind bearer tokens, and `/token`, which demands
/// `alice:pw` (or refresh token `refresh-1`) and the scope `repository:app:pull`.
fn start_fake_bearer_registry() -> (String, Arc<FakeState>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let state = Arc::new(FakeState::default());
    // The storage back end blobs redirect to: refuses any request carrying credentials.
    let storage = TcpListener::bind("127.0.0.1:0").unwrap();
    *state.storage_host.lock().unwrap() = storage.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for conn in storage.incoming() {
            let Ok(mut s) = conn else { continue };
            let Some(req) = read_request(&mut s) else {
                continue;
            };
            if req.header("authorization").is_some() {
                respond(
                    &mut s,
                    "400 Bad Request",
                    &[],
                    "credentials leaked to storage",
                );
            } else if let Some(range) = req.header("range") {
                let from: usize = range
                    .trim_start_matches("bytes=")
                    .trim_end_matches('-')
                    .parse()
                    .unwrap();
                respond(&mut s, "206 Partial Content", &[], &STORAGE_BLOB[from..]);
            } else {
                respond(&mut s, "200 OK", &[], STORAGE_BLOB);
            }
        }
    });
    let (h, st) = (host.clone(), state.clone());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut s) = conn else { continue };
            let Some(req) = read_request(&mut s) else {
                continue;
            };
            let challenge = format!(r#"Bearer realm="http://{h}/token",service="fake-registry""#);
            let unauthorized = |s: &mut TcpStream| {
                respond(
                    s,
                    "401 Unauthorized",
                    &[
                        ("WWW-Authenticate", challenge.clone()),
                        ("Content-Type", "application/json".into()),
                    ],
                    r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
                )
            };
            let path = req.target.split('?').next().unwrap_or("").to_string();
            match (req.method.as_str(), path.as_str()) {
                (_, "/token") => {
                    st.token_requests.fetch_add(1, Ordering::SeqCst);
                    let mut params = req.query();
                    if req.method == "POST" {
                        params.extend(url::form_urlencoded::parse(&req.body).into_owned());
                    }
                    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                    let scopes: Vec<String> = params
                        .iter()
                        .filter(|(n, _)| n == "scope")
                        .map(|(_, v)| v.clone())
                        .collect();
                    st.scopes_seen.lock().unwrap().extend(scopes.clone());
                    let basic_ok = req.header("authorization") == Some("Basic YWxpY2U6cHc="); // alice:pw
                    let refresh_ok = get("grant_type").as_deref() == Some("refresh_token")
                        && get("refresh_token").as_deref() == Some("refresh-1");
                    if !(basic_ok || refresh_ok)
                        || get("service").as_deref() != Some("fake-registry")
                    {
                        respond(
                            &mut s,
                            "401 Unauthorized",
                            &[],
                            r#"{"details":"incorrect username or password"}"#,
                        );
                        continue;
                    }
                    let scope = scopes.join(" ");
                    let field = if refresh_ok { "access_token" } else { "token" };
                    respond(
                        &mut s,
                        "200 OK",
                        &[("Content-Type", "application/json".into())],
                        &format!(r#"{{"{field}":"tok {scope}","expires_in":300}}"#)
                            .replace("tok ", "tok-")
                            .replace(' ', "+"),
                    );
                }
                ("GET", "/v2/") => {
                    if req
                        .header("authorization")
                        .is_some_and(|a| a.starts_with("Bearer tok-"))
                    {
                        respond(&mut s, "200 OK", &[], "{}");
                    } else {
                        unauthorized(&mut s);
                    }
                }
                ("GET", "/v2/app/tags/list") => {
                    if req.header("authorization") != Some("Bearer tok-repository:app:pull") {
                        unauthorized(&mut s);
                        continue;
                    }
                    // Paginated as the distribution spec says: `n`, `last`, `Link`.
                    let q = req.query();
                    let get = |k: &str| q.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                    let n: usize = get("n").and_then(|v| v.parse().ok()).unwrap_or(usize::MAX);
                    let last = get("last").unwrap_or_default();
                    let rest: Vec<&str> = FAKE_TAGS
                        .iter()
                        .copied()
                        .filter(|t| *t > last.as_str())
                        .collect();
                    let page: Vec<&str> = rest.iter().copied().take(n).collect();
                    let mut headers = vec![("Content-Type", "application/json".to_string())];
                    if rest.len() > page.len() {
                        headers.push((
                            "Link",
                            format!(
                                r#"</v2/app/tags/list?last={}&n={n}>; rel="next""#,
                                page.last().unwrap()
                            ),
                        ));
                    }
                    let body = serde_json::json!({"name": "app", "tags": page}).to_string();
                    respond(&mut s, "200 OK", &headers, &body);
                }
                ("GET", "/v2/locked/tags/list") => unauthorized(&mut s),
                ("GET", "/v2/denied/tags/list") => respond(
                    &mut s,
                    "403 Forbidden",
                    &[],
                    r#"{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}"#,
                ),
                ("GET", "/v2/flaky/tags/list") => {
                    // Two transient failures, then an answer.
                    if st.flaky_hits.fetch_add(1, Ordering::SeqCst) < 2 {
                        respond(
                            &mut s,
                            "503 Service Unavailable",
                            &[("Retry-After", "0".into())],
                            "busy",
                        );
                    } else {
                        respond(&mut s, "200 OK", &[], r#"{"name":"flaky","tags":["x"]}"#);
                    }
                }
                ("GET", p) if p.starts_with("/v2/app/blobs/") => {
                    if req.header("authorization") != Some("Bearer tok-repository:app:pull") {
                        unauthorized(&mut s);
                        continue;
                    }
                    // Blobs live on "storage": another host:port that must not see our token.
                    let location =
                        format!("http://{}/storage/blob", st.storage_host.lock().unwrap());
                    respond(
                        &mut s,
                        "307 Temporary Redirect",
                        &[("Location", location)],
                        "",
                    );
                }
                ("POST", "/v2/app/blobs/uploads/") => {
                    // A mount needs push on `app` and pull on `from`, in one token.
                    let want = "Bearer tok-repository:app:pull,push+repository:src:pull";
                    if req.header("authorization") == Some(want) {
                        respond(
                            &mut s,
                            "201 Created",
                            &[("Location", "/v2/app/blobs/x".into())],
                            "",
                        );
                    } else {
                        unauthorized(&mut s);
                    }
                }
                _ => respond(
                    &mut s,
                    "404 Not Found",
                    &[],
                    r#"{"errors":[{"code":"NOT_FOUND","message":"no route"}]}"#,
                ),
            }
        }
    });
    (host, state)
}

#[tokio::test]
async fn bearer_tokens_with_scopes_and_cache() {
    let (host, state) = start_fake_bearer_registry();
    let client = RegistryClient::new(
        &host,
        RegistryOptions {
            credentials: Some(Credentials::Basic {
                username: "alice".into(),
                password: "pw".into(),
            }),
            ..RegistryOptions::default()
        },
    )
    .unwrap();
    let src = RegistrySource::new(client.clone(), "app", "latest");
    assert_eq!(src.tags().await.unwrap(), FAKE_TAGS);
    assert_eq!(src.tags_paged(2).await.unwrap(), FAKE_TAGS);
    assert_eq!(src.tags_paged(1).await.unwrap(), FAKE_TAGS);
    let after_first = state.token_requests.load(Ordering::SeqCst);
    assert_eq!(after_first, 1);
    assert_eq!(
        *state.scopes_seen.lock().unwrap(),
        vec!["repository:app:pull"]
    );
    // The cached token is reused.
    assert_eq!(src.tags().await.unwrap(), FAKE_TAGS);
    assert_eq!(state.token_requests.load(Ordering::SeqCst), after_first);

    // Parallel requests on a fresh client share one token fetch.
    let fresh = RegistryClient::new(
        &host,
        RegistryOptions {
            credentials: Some(Credentials::Basic {
                username: "alice".into(),
                password: "pw".into(),
            }),
            ..RegistryOptions::default()
        },
    )
    .unwrap();
    let before = state.token_requests.load(Ordering::SeqCst);
    let srcs: Vec<_> = (0..4)
        .map(|_| RegistrySource::new(fresh.clone(), "app", "latest"))
        .collect();
    let lists = futures::future::join_all(srcs.iter().map(|s| s.tags())).await;
    for l in lists {
        assert_eq!(l.unwrap(), FAKE_TAGS);
    }
    assert_eq!(state.token_requests.load(Ordering::SeqCst), before + 1);

    // Wrong password: the token server refuses, and we say so.
    let bad = RegistryClient::new(
        &host,
        RegistryOptions {
            credentials: Some(Credentials::Basic {
                username: "alice".into(),
                password: "nope".into(),
            }),
            ..RegistryOptions::default()
        },
    )
    .unwrap();
    let err = RegistrySource::new(bad, "app", "latest")
        .tags()
        .await
        .unwrap_err();
    assert!(
        matches!(err, TransportError::Unauthorized { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("incorrect username or password"),
        "{err}"
    );

    // An identity token is exchanged with the OAuth2 refresh-token grant.
    let refresh = RegistryClient::new(
        &host,
        RegistryOptions {
            credentials: Some(Credentials::IdentityToken("refresh-1".into())),
            ..RegistryOptions::default()
        },
    )
    .unwrap();
    assert_eq!(
        RegistrySource::new(refresh, "app", "latest")
            .tags()
            .await
            .unwrap(),
        FAKE_TAGS
    );

    // A registry that refuses even a fresh token: Unauthorized after one retry, no loop.
    let before = state.token_requests.load(Ordering::SeqCst);
    let locked = RegistrySource::new(client.clone(), "locked", "latest");
    let err = locked.tags().await.unwrap_err();
    assert!(
        matches!(err, TransportError::Unauthorized { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("UNAUTHORIZED: authentication required"),
        "{err}"
    );
    assert!(err.to_string().contains("GET http://"), "{err}");
    assert_eq!(state.token_requests.load(Ordering::SeqCst), before + 2);

    // 403 is "denied", with the registry's words.
    let err = RegistrySource::new(client.clone(), "denied", "latest")
        .tags()
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::Denied { .. }), "{err:?}");
    assert!(
        err.to_string().contains("DENIED: requested access"),
        "{err}"
    );

    // 503 with Retry-After is retried.
    let flaky = RegistrySource::new(client.clone(), "flaky", "latest");
    assert_eq!(flaky.tags().await.unwrap(), vec!["x"]);
    assert_eq!(state.flaky_hits.load(Ordering::SeqCst), 3);

    // Blob redirects to another host are followed without our credentials, ranges kept.
    let d = Descriptor::of_bytes(oci::media::OCI_LAYER, STORAGE_BLOB.as_bytes());
    let src = RegistrySource::new(client.clone(), "app", "latest");
    assert_eq!(
        read_all(src.blob(&d, 0).await.unwrap()).await,
        STORAGE_BLOB.as_bytes()
    );
    assert_eq!(
        read_all(src.blob(&d, 6).await.unwrap()).await,
        &STORAGE_BLOB.as_bytes()[6..]
    );

    // A cross-repository mount asks for both scopes in one token request.
    let dst = RegistryDestination::new(client, "app");
    let d = Descriptor::of_bytes(oci::media::OCI_LAYER, b"layer");
    assert!(dst.mount_blob(&d, "src").await.unwrap());
    let seen = state.scopes_seen.lock().unwrap().clone();
    assert!(
        seen.windows(2)
            .any(|w| w == ["repository:app:pull,push", "repository:src:pull"]),
        "{seen:?}"
    );
}

#[tokio::test]
async fn unreachable_registry_names_both_attempts() {
    let port = free_port(); // nothing listens there any more
    let client =
        RegistryClient::new(&format!("127.0.0.1:{port}"), RegistryOptions::default()).unwrap();
    let err = client.ping().await.unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("http://127.0.0.1:{port}/v2/")),
        "{msg}"
    );
    assert!(msg.contains("after HTTPS failed"), "{msg}");
    assert!(err.is_transient(), "{err:?}");
}

#[tokio::test]
async fn copy_engine_between_registries() {
    let (one, two) = (Registry::start(None), Registry::start(None));
    let (c1, c2) = (one.client(None), two.client(None));
    let img = test_image(9, 400_000);
    push(
        &RegistryDestination::new(c1.clone(), "app"),
        &img,
        Some("v1"),
    )
    .await;

    // Registry to registry.
    let src = RegistrySource::new(c1.clone(), "app", "v1");
    let opts = transport::CopyOptions {
        tag: Some("v2".into()),
        ..transport::CopyOptions::default()
    };
    transport::copy(&src, &RegistryDestination::new(c2.clone(), "copied"), &opts)
        .await
        .unwrap();
    let back = RegistrySource::new(c2.clone(), "copied", "v2");
    let top = back.resolve().await.unwrap();
    assert_eq!(top.digest, img.manifest.0.digest);
    assert_eq!(
        read_all(back.blob(&img.layer.0, 0).await.unwrap()).await,
        img.layer.1
    );

    // Within one registry, blobs are mounted rather than uploaded.
    let opts = transport::CopyOptions {
        tag: Some("v1".into()),
        mount_from: Some("app".into()),
        ..transport::CopyOptions::default()
    };
    transport::copy(&src, &RegistryDestination::new(c1.clone(), "other"), &opts)
        .await
        .unwrap();
    let top = RegistrySource::new(c1, "other", "v1")
        .resolve()
        .await
        .unwrap();
    assert_eq!(top.digest, img.manifest.0.digest);
}
