//! Shared helpers: a server on 127.0.0.1:0 and small request helpers.
#![allow(dead_code)]

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use serde_json::json;

use registry::{Auth, Config, Server};
use sha2::Digest as _;

pub mod s3;

pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub dir: tempfile::TempDir,
    pub client: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
    /// The S3 server under the object-storage backend (dropped after the registry).
    pub s3: Option<s3::S3Server>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
        // Stop the S3 server before its root (in `dir`) is removed.
        self.s3.take();
    }
}

pub async fn start() -> TestServer {
    start_with(Auth::Anonymous).await
}

pub async fn start_with(auth: Auth) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("root"));
    config.auth = auth;
    start_config(dir, config).await
}

/// Which storage backend this test binary's servers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `FsStorage` under `dir/root`.
    Fs,
    /// `ObjectStorage` on s3s-fs, bucket `root` (so objects are files under `dir/root` too).
    Object,
}

/// The backend of this test binary: the object-storage binaries (`tests/object_*.rs`)
/// include a suite's file as a module, so this module's path starts with their crate name.
pub fn backend() -> Backend {
    if module_path!().starts_with("object_") {
        Backend::Object
    } else {
        Backend::Fs
    }
}

/// Starts a server with `config` (its `root` is ignored on the object backend) on this
/// binary's backend; `dir` is kept alive with it.
pub async fn start_config(dir: tempfile::TempDir, config: Config) -> TestServer {
    let (s3, task, addr) = match backend() {
        Backend::Fs => {
            let (addr, fut) = Server::bind(config).await.unwrap();
            let task = tokio::spawn(async move {
                fut.await.unwrap();
            });
            (None, task, addr)
        }
        Backend::Object => {
            let s3 = s3::S3Server::start(dir.path(), "root");
            let storage = std::sync::Arc::new(s3.storage(""));
            let (addr, fut) = Server::bind_storage(config, storage, std::future::pending())
                .await
                .unwrap();
            let task = tokio::spawn(async move {
                fut.await.unwrap();
            });
            (Some(s3), task, addr)
        }
    };
    TestServer {
        addr,
        base: format!("http://{addr}"),
        dir,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        task,
        s3,
    }
}

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

pub fn sha512(data: &[u8]) -> String {
    format!("sha512:{}", hex::encode(sha2::Sha512::digest(data)))
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Absolute URL for a Location header (relative or absolute).
    pub fn location(&self, r: &reqwest::Response) -> String {
        let loc = r.headers()["location"].to_str().unwrap().to_string();
        if loc.starts_with('/') {
            self.url(&loc)
        } else {
            loc
        }
    }

    /// Pushes a blob monolithically; returns its digest.
    pub async fn push_blob(&self, name: &str, data: &[u8]) -> String {
        let d = sha256(data);
        let r = self
            .client
            .post(self.url(&format!("/v2/{name}/blobs/uploads/?digest={d}")))
            .header("content-type", "application/octet-stream")
            .body(data.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "push blob {d}");
        d
    }

    pub async fn put_manifest(
        &self,
        name: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> reqwest::Response {
        self.client
            .put(self.url(&format!("/v2/{name}/manifests/{reference}")))
            .header("content-type", media_type)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// A raw HTTP/1.1 request line, for paths a URL library would normalise.
    pub async fn raw(&self, method: &str, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.addr
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8_lossy(&out).to_string();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (status, text)
    }
}

/// The codes a 4xx error body may carry (distribution-spec, "Error Codes").
pub const SPEC_CODES: &[&str] = &[
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
];

/// The code of an error response, checked to be one the spec allows.
pub async fn error_code(r: reqwest::Response) -> String {
    assert_eq!(r.headers()["content-type"], "application/json");
    let v: serde_json::Value = r.json().await.unwrap();
    let code = v["errors"][0]["code"].as_str().unwrap().to_string();
    assert!(
        SPEC_CODES.contains(&code.as_str()),
        "{code} is not a spec code"
    );
    assert!(v["errors"][0]["message"].is_string());
    code
}

/// A small image: config, one layer and the manifest bytes (OCI or Docker media types).
pub fn image(config: &[u8], layer: &[u8], docker: bool) -> Vec<u8> {
    let (mt, cmt, lmt) = if docker {
        (
            "application/vnd.docker.distribution.manifest.v2+json",
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        )
    } else {
        (
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip",
        )
    };
    serde_json::to_vec_pretty(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": mt,
        "config": {"mediaType": cmt, "digest": sha256(config), "size": config.len()},
        "layers": [{"mediaType": lmt, "digest": sha256(layer), "size": layer.len()}],
    }))
    .unwrap()
}

pub fn write_blob(layout: &Path, data: &[u8]) -> String {
    let d = sha256(data);
    let hex = d.strip_prefix("sha256:").unwrap();
    std::fs::write(layout.join("blobs/sha256").join(hex), data).unwrap();
    d
}

/// A one-layer image as an OCI layout; returns the manifest bytes.
pub fn build_layout(layout: &Path) -> Vec<u8> {
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let content = b"hello from strata\n";
    let mut h = tar::Header::new_gnu();
    h.set_path("hello.txt").unwrap();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_cksum();
    tar.append(&h, &content[..]).unwrap();
    let tar = tar.into_inner().unwrap();
    let diff_id = sha256(&tar);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    let layer = gz.finish().unwrap();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/hello"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }))
    .unwrap();
    let cd = write_blob(layout, &config);
    let ld = write_blob(layout, &layer);
    // Indented JSON with an annotation: any re-serialisation would show.
    let manifest = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cd, "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": ld, "size": layer.len()}],
        "annotations": {"org.example.note": "byte-identical"},
    }))
    .unwrap();
    let md = write_blob(layout, &manifest);
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": md, "size": manifest.len(),
                       "annotations": {"org.opencontainers.image.ref.name": "1"}}],
    });
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&index).unwrap(),
    )
    .unwrap();
    manifest
}

/// Runs `skopeo --insecure-policy ARGS`; panics (never skips) when skopeo is missing.
pub fn skopeo_output(args: &[String]) -> std::process::Output {
    std::process::Command::new("skopeo")
        .arg("--insecure-policy")
        .args(args)
        .output()
        .expect("skopeo must be installed (apt install skopeo)")
}

/// Runs skopeo and panics with its output unless it succeeds.
pub fn skopeo_ok(args: &[String]) {
    let out = skopeo_output(args);
    assert!(
        out.status.success(),
        "skopeo {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
