//! htpasswd basic auth: challenges, wrong passwords, anonymous pushes refused.

mod common;

use common::*;
use registry::Auth;

async fn server() -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(&path, format!("alice:{hash}\n")).unwrap();
    let s = start_with(Auth::Htpasswd {
        path: path.clone(),
        realm: "strata test".into(),
    })
    .await;
    // The file is read at start; the temp dir may go.
    drop(dir);
    s
}

#[tokio::test]
async fn challenge_wrong_password_and_success() {
    let s = server().await;
    for (user, pass) in [
        (None, None),
        (Some("alice"), Some("wrong")),
        (Some("bob"), Some("s3cret")),
    ] {
        let mut req = s.client.get(s.url("/v2/"));
        if let (Some(u), Some(p)) = (user, pass) {
            req = req.basic_auth(u, Some(p));
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401, "{user:?}");
        assert_eq!(
            r.headers()["www-authenticate"],
            "Basic realm=\"strata test\""
        );
        assert_eq!(error_code(r).await, "UNAUTHORIZED");
    }
    let r = s
        .client
        .get(s.url("/v2/"))
        .basic_auth("alice", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The health endpoint needs no credentials.
    let r = s.client.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn anonymous_push_refused() {
    let s = server().await;
    let data = b"blob";
    let d = sha256(data);
    let r = s
        .client
        .post(s.url(&format!("/v2/a/blobs/uploads/?digest={d}")))
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    let r = s
        .client
        .head(s.url(&format!("/v2/a/blobs/{d}")))
        .basic_auth("alice", Some("s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "nothing was stored");
    let r = s
        .client
        .post(s.url(&format!("/v2/a/blobs/uploads/?digest={d}")))
        .basic_auth("alice", Some("s3cret"))
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

#[tokio::test]
async fn bad_htpasswd_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("htpasswd");
    std::fs::write(&path, "bob:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n").unwrap();
    let mut config = registry::Config::new("127.0.0.1:0".parse().unwrap(), dir.path().join("r"));
    config.auth = Auth::Htpasswd {
        path,
        realm: "x".into(),
    };
    let err = registry::Server::bind(config).await.err().unwrap();
    assert!(err.to_string().contains("bcrypt"), "{err}");
}
