//! A registry whose storage fails: it refuses to start on a backend it cannot use, takes
//! itself out of service (503) while the backend is down and back in when it answers,
//! fails requests fast, and never shows clients the backend's endpoint or key layout.
//! Also: connections that never send a request head are closed.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use registry::health::HealthOptions;
use registry::storage::{FsStorage, ObjectStorage, Storage};
use registry::{Config, Server, ServerError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::s3::S3Server;

/// A port nothing listens on (bound, then released).
fn dead_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn config() -> Config {
    Config::new("127.0.0.1:0".parse().unwrap(), "/nonexistent-unused")
}

/// A server on `storage`; its task is aborted on drop of the handle.
struct Running {
    base: String,
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start(config: Config, storage: Arc<dyn Storage>) -> Running {
    let (addr, fut) = Server::bind_storage(config, storage, std::future::pending())
        .await
        .unwrap();
    let task = tokio::spawn(async move {
        fut.await.unwrap();
    });
    Running {
        base: format!("http://{addr}"),
        addr,
        task,
    }
}

/// Binding a server on `storage` fails, within `within`; returns the error's text.
async fn refused(storage: Arc<dyn Storage>, within: Duration) -> String {
    let started = Instant::now();
    let r = tokio::time::timeout(
        within + Duration::from_secs(5),
        Server::bind_storage(config(), storage, std::future::pending()),
    )
    .await
    .expect("bind_storage hung");
    let elapsed = started.elapsed();
    let err = match r {
        Ok((addr, _)) => panic!("the server started on {addr} on unusable storage"),
        Err(e) => e,
    };
    assert!(
        matches!(err, ServerError::StorageUnavailable { .. }),
        "{err:?}"
    );
    assert!(elapsed < within, "refusing took {elapsed:?}");
    err.to_string()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

#[tokio::test]
async fn serve_refuses_to_start_on_an_unreachable_s3_endpoint() {
    let options = vec![
        (
            "endpoint".to_string(),
            format!("http://127.0.0.1:{}", dead_port()),
        ),
        ("region".to_string(), "us-east-1".to_string()),
        ("access_key_id".to_string(), "AKIDEXAMPLE".to_string()),
        (
            "secret_access_key".to_string(),
            "very-secret-key".to_string(),
        ),
        ("allow_http".to_string(), "true".to_string()),
    ];
    let storage = ObjectStorage::from_url("s3://bucket/prefix", options).unwrap();
    let text = refused(Arc::new(storage), Duration::from_secs(3)).await;
    assert!(text.contains("s3://bucket/prefix"), "{text}");
    assert!(!text.contains("very-secret-key"), "{text}");
}

#[tokio::test]
async fn serve_refuses_to_start_on_a_missing_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start(dir.path(), "root");
    let mut options = s3.options();
    options.push(("part_size".into(), "5242880".into()));
    let storage = ObjectStorage::from_url("s3://no-such-bucket", options).unwrap();
    let text = refused(Arc::new(storage), Duration::from_secs(5)).await;
    assert!(text.contains("s3://no-such-bucket"), "{text}");
    // The bucket that exists is fine.
    let ok = start(config(), Arc::new(s3.storage(""))).await;
    let r = client()
        .get(format!("{}/v2/", ok.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn serve_refuses_to_start_on_a_read_only_root() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ro");
    std::fs::create_dir(&root).unwrap();
    let st = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs"])
        .arg(&root)
        .status()
        .expect("mount must be installed; the test runs as root");
    assert!(st.success(), "mounting a read-only tmpfs needs root");
    let result = FsStorage::new(&root);
    let st = std::process::Command::new("umount").arg(&root).status();
    assert!(st.is_ok_and(|s| s.success()), "umount {}", root.display());
    let err = result.expect_err("a read-only root was accepted");
    assert!(
        err.to_string().contains(&root.display().to_string()),
        "{err}"
    );
}

/// Polls `url` until it answers `want` (at most `within`); returns how long it took.
async fn until_status(c: &reqwest::Client, url: &str, want: u16, within: Duration) -> Duration {
    let started = Instant::now();
    let mut last = 0;
    while started.elapsed() < within {
        if let Ok(r) = c.get(url).send().await {
            last = r.status().as_u16();
            if last == want {
                return started.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} still answers {last}, not {want}, after {within:?}");
}

#[tokio::test]
async fn healthz_and_v2_answer_503_while_the_backend_is_down() {
    let dir = tempfile::tempdir().unwrap();
    let mut s3 = S3Server::start(dir.path(), "root");
    let mut config = config();
    config.health = HealthOptions {
        interval: Duration::from_millis(300),
        threshold: 2,
        timeout: Duration::from_secs(2),
    };
    let server = start(config, Arc::new(s3.storage(""))).await;
    let c = client();
    let healthz = format!("{}/healthz", server.base);
    let v2 = format!("{}/v2/", server.base);
    assert_eq!(c.get(&healthz).send().await.unwrap().status(), 200);
    assert_eq!(c.get(&v2).send().await.unwrap().status(), 200);

    s3.stop();
    until_status(&c, &healthz, 503, Duration::from_secs(10)).await;
    let r = c.get(&v2).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let body = r.text().await.unwrap();
    assert!(body.contains("\"UNAVAILABLE\""), "{body}");
    let r = c
        .get(format!("{}/v2/a/manifests/latest", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    let health_body = c.get(&healthz).send().await.unwrap().text().await.unwrap();
    for text in [&body, &health_body] {
        assert!(!text.contains(&s3.endpoint), "{text}");
        assert!(!text.contains("127.0.0.1"), "{text}");
    }

    s3.restart();
    until_status(&c, &v2, 200, Duration::from_secs(10)).await;
    assert_eq!(c.get(&healthz).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_dead_backend_fails_requests_fast_with_a_generic_500() {
    let dir = tempfile::tempdir().unwrap();
    let mut s3 = S3Server::start(dir.path(), "root");
    let mut config = config();
    // No background check during the test: the request itself meets the dead backend.
    config.health.interval = Duration::from_secs(3600);
    let server = start(config, Arc::new(s3.storage(""))).await;
    let c = client();
    let blob = b"some layer";
    let digest = common::sha256(blob);
    let r = c
        .post(format!(
            "{}/v2/team/app/blobs/uploads/?digest={digest}",
            server.base
        ))
        .body(blob.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);

    s3.stop();
    let hex = digest.strip_prefix("sha256:").unwrap();
    let paths = [
        "/v2/team/app/manifests/latest".to_string(),
        format!("/v2/team/app/blobs/{digest}"),
        "/v2/team/app/tags/list".to_string(),
    ];
    for path in paths {
        let started = Instant::now();
        let r = c
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        let elapsed = started.elapsed();
        let status = r.status().as_u16();
        let body = r.text().await.unwrap();
        assert_eq!(status, 500, "{path}: {body}");
        assert!(
            elapsed < Duration::from_millis(1500),
            "{path} took {elapsed:?} against a dead backend"
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["errors"][0]["code"], "UNKNOWN", "{body}");
        for secret in [
            s3.endpoint.as_str(),
            "127.0.0.1",
            "repositories",
            "blobs/",
            "_manifests",
            &hex[..12],
            "S3",
        ] {
            assert!(
                !body.contains(secret),
                "{path}: body shows {secret:?}: {body}"
            );
        }
    }
}

/// Reads until the server closes the connection; `None` when it is still open after
/// `within`.
async fn closed_within(s: &mut tokio::net::TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((started + within).into(), s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn connections_that_send_no_request_head_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config();
    config.header_timeout = Duration::from_secs(1);
    let server = start(config, Arc::new(FsStorage::new(dir.path()).unwrap())).await;

    // Silent from the start.
    let mut silent = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    // Half a request head, then nothing.
    let mut half = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // One whole request, then idle on a kept-alive connection.
    let mut idle = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    idle.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");

    for (what, s) in [
        ("silent", &mut silent),
        ("half", &mut half),
        ("idle", &mut idle),
    ] {
        let t = closed_within(s, Duration::from_secs(5)).await;
        assert!(t.is_some(), "the {what} connection is still open after 5s");
    }
    // The server still serves.
    let r = client()
        .get(format!("{}/v2/", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
