//! HTTPS with a given certificate (reqwest and skopeo verify it), and the `/metrics` and
//! `/healthz` endpoints.

mod common;

use std::path::Path;
use std::process::Command;

use common::{build_layout, sha256};
use registry::tls::TlsFiles;
use registry::{Config, Server};

fn openssl(args: &[&str], dir: &Path) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed (apt install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA (`ca.crt`) and a server certificate it signed for 127.0.0.1 and localhost, made
/// by the openssl CLI (webpki refuses a self-signed CA as the server's own certificate).
fn make_cert(dir: &Path) -> TlsFiles {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-days",
        "2",
        "-subj",
        "/CN=strata test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
    ]);
    openssl(&ca, dir);
    let mut csr = vec!["req", "-new"];
    csr.extend(ec);
    csr.extend([
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
    ]);
    openssl(&csr, dir);
    std::fs::write(
        dir.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ],
        dir,
    );
    TlsFiles {
        certificate: dir.join("server.crt"),
        key: dir.join("server.key"),
    }
}

async fn start_tls(
    dir: &Path,
    files: TlsFiles,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    start_tls_auth(dir, files, registry::Auth::Anonymous).await
}

async fn start_tls_auth(
    dir: &Path,
    files: TlsFiles,
    auth: registry::Auth,
) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.join("root"));
    config.tls = Some(files);
    config.auth = auth;
    let (addr, fut) = Server::bind(config).await.unwrap();
    let task = tokio::spawn(async move {
        fut.await.unwrap();
    });
    (addr, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_a_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let files = make_cert(dir.path());
    let pem = std::fs::read(dir.path().join("ca.crt")).unwrap();
    let (addr, task) = start_tls(dir.path(), files).await;

    // A client trusting the certificate gets the API over HTTPS.
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let r = trusting
        .get(format!("https://127.0.0.1:{}/v2/", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["docker-distribution-api-version"],
        "registry/2.0"
    );

    // One that does not trust it fails the handshake, and plain HTTP gets no API answer;
    // neither stops the server from serving the next client.
    let untrusting = reqwest::Client::new();
    assert!(
        untrusting
            .get(format!("https://127.0.0.1:{}/v2/", addr.port()))
            .send()
            .await
            .is_err()
    );
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/v2/", addr.port()))
        .send()
        .await;
    assert!(plain.map(|r| r.status() != 200).unwrap_or(true));

    // skopeo pushes and pulls over verified TLS with the certificate as its CA.
    let certs = dir.path().join("certs.d");
    std::fs::create_dir_all(&certs).unwrap();
    std::fs::write(certs.join("ca.crt"), &pem).unwrap();
    let layout = dir.path().join("layout");
    let manifest = build_layout(&layout);
    let port = addr.port();
    let push = vec![
        "copy".to_string(),
        format!("--dest-cert-dir={}", certs.display()),
        format!("oci:{}:1", layout.display()),
        format!("docker://localhost:{port}/tls/x:1"),
    ];
    let out = tokio::task::spawn_blocking(move || {
        Command::new("skopeo")
            .args(&push)
            .output()
            .expect("skopeo must be installed (apt install skopeo)")
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "skopeo push over TLS: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = trusting
        .get(format!("https://localhost:{port}/v2/tls/x/manifests/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["docker-content-digest"],
        sha256(&manifest).as_str()
    );
    task.abort();
}

#[tokio::test]
async fn token_challenges_over_tls_name_an_https_realm() {
    let dir = tempfile::tempdir().unwrap();
    let files = make_cert(dir.path());
    let pem = std::fs::read(dir.path().join("ca.crt")).unwrap();
    let token = registry::auth::TokenAuth::new(&registry::auth::TokenConfig::default()).unwrap();
    let (addr, task) = start_tls_auth(
        dir.path(),
        files,
        registry::Auth::Token(std::sync::Arc::new(token)),
    )
    .await;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let r = client
        .get(format!("https://localhost:{}/v2/x/tags/list", addr.port()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        challenge.starts_with(&format!(
            "Bearer realm=\"https://localhost:{}/token\"",
            addr.port()
        )),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"repository:x:pull\""),
        "{challenge}"
    );
    task.abort();
}

#[tokio::test]
async fn bad_certificate_files_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let files = make_cert(dir.path());
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("root"));
    config.tls = Some(TlsFiles {
        certificate: dir.path().join("missing.crt"),
        key: files.key.clone(),
    });
    let err = Server::bind(config.clone())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("missing.crt"), "{err}");

    std::fs::write(dir.path().join("empty.crt"), "not a certificate\n").unwrap();
    config.tls = Some(TlsFiles {
        certificate: dir.path().join("empty.crt"),
        key: files.key.clone(),
    });
    let err = Server::bind(config.clone())
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("no PEM certificate"), "{err}");

    // A key that does not belong to the certificate.
    let other = tempfile::tempdir().unwrap();
    let other = make_cert(other.path());
    config.tls = Some(TlsFiles {
        certificate: files.certificate.clone(),
        key: other.key,
    });
    let err = Server::bind(config).await.err().unwrap().to_string();
    assert!(err.contains("server.crt"), "{err}");
}

fn metric(text: &str, line_start: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn metrics_and_health() {
    let s = common::start().await;
    assert_eq!(s.raw("GET", "/healthz").await.0, 200);
    s.push_blob("m/a", b"metrics blob").await;
    for _ in 0..3 {
        assert_eq!(s.raw("GET", "/v2/m/a/manifests/nope").await.0, 404);
    }
    assert_eq!(s.raw("GET", "/v2/m/a/blobs/sha256:zz").await.0, 400);
    let r = s.client.get(s.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = r.text().await.unwrap();
    let requests = |m: &str, route: &str, code: u16| {
        metric(
            &text,
            &format!(
                "registry_http_requests_total{{method=\"{m}\",route=\"{route}\",code=\"{code}\"}} "
            ),
        )
    };
    assert_eq!(requests("GET", "manifest", 404), 3, "{text}");
    assert_eq!(requests("GET", "blob", 400), 1, "{text}");
    assert_eq!(requests("POST", "blob_upload", 201), 1, "{text}");
    assert_eq!(requests("GET", "healthz", 200), 1, "{text}");
    assert_eq!(
        metric(
            &text,
            "registry_http_request_duration_seconds_count{method=\"GET\",route=\"manifest\"} "
        ),
        3
    );
    assert!(metric(&text, "registry_http_request_body_bytes_total ") >= 12);
    // Invented paths do not create new label values.
    assert_eq!(s.raw("GET", "/v2/a/weird/thing").await.0, 404);
    let text = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("weird"));
    assert_eq!(
        metric(
            &text,
            "registry_http_requests_total{method=\"GET\",route=\"other\",code=\"404\"} "
        ),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_gc_runs_while_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("root"));
    // Twice the coarsest backend timestamp resolution (one second) is the least that is safe.
    config.gc.grace = std::time::Duration::from_secs(2);
    config.gc_interval = Some(std::time::Duration::from_millis(500));
    let (addr, fut) = Server::bind(config).await.unwrap();
    let task = tokio::spawn(async move {
        fut.await.unwrap();
    });
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let push = |data: &'static [u8]| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let d = sha256(data);
            let r = client
                .post(format!("{base}/v2/p/blobs/uploads/?digest={d}"))
                .body(data)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            d
        }
    };
    let config_blob = push(b"{\"architecture\":\"amd64\",\"os\":\"linux\"}").await;
    let layer = push(b"a layer a manifest uses").await;
    let orphan = push(b"a blob nothing uses").await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_blob, "size": 38},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": layer, "size": 23}],
    });
    let r = client
        .put(format!("{base}/v2/p/manifests/1"))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(serde_json::to_vec(&manifest).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let status = |d: String| {
        let client = client.clone();
        let url = format!("{base}/v2/p/blobs/{d}");
        async move { client.head(url).send().await.unwrap().status().as_u16() }
    };
    // Without anyone asking, the orphan goes once it is older than the grace (bounded wait).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while status(orphan.clone()).await != 404 {
        assert!(
            std::time::Instant::now() < deadline,
            "the periodic GC did not free the orphan within 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(status(layer).await, 200);
    assert_eq!(status(config_blob).await, 200);
    let r = client
        .get(format!("{base}/v2/p/manifests/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    task.abort();
}
