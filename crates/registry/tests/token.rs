//! Bearer-token auth: Docker's token flow against strata's server and its built-in token
//! endpoint, per-repository permissions, refused tokens, real clients (skopeo, strata's
//! own registry client), and interop with Debian's docker-registry 2.8 trusting strata's
//! tokens.

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use registry::Auth;
use registry::auth::{AccessRule, ResourceActions, TokenAuth, TokenConfig};
use serde_json::Value;

const SERVICE: &str = "strata-test";
const ISSUER: &str = "strata-test-issuer";

/// Rules of the tests: everyone pulls `public/*`; alice pulls and pushes `team/*` and
/// `public/*`, and deletes in `team/app` only; bob pulls and pushes his own namespace.
fn rules() -> Vec<AccessRule> {
    vec![
        AccessRule::new("*", "public/*", &["pull"]),
        AccessRule::new("alice", "team/*", &["pull", "push"]),
        AccessRule::new("alice", "public/*", &["push"]),
        AccessRule::new("alice", "team/app", &["delete"]),
        AccessRule::new("bob", "${account}/*", &["pull", "push"]),
        AccessRule {
            account: "alice".into(),
            kind: "registry".into(),
            repository: "catalog".into(),
            actions: vec!["*".into()],
        },
    ]
}

fn htpasswd(dir: &Path) -> PathBuf {
    let path = dir.join("htpasswd");
    let a = bcrypt::hash("alice-pw", 4).unwrap();
    let b = bcrypt::hash("bob-pw", 4).unwrap();
    std::fs::write(&path, format!("alice:{a}\nbob:{b}\n")).unwrap();
    path
}

struct TokenServer {
    s: TestServer,
    auth: Arc<TokenAuth>,
    _files: tempfile::TempDir,
}

impl std::ops::Deref for TokenServer {
    type Target = TestServer;
    fn deref(&self) -> &TestServer {
        &self.s
    }
}

async fn token_server_with(config: impl FnOnce(&Path) -> TokenConfig) -> TokenServer {
    let files = tempfile::tempdir().unwrap();
    let cfg = config(files.path());
    let auth = Arc::new(TokenAuth::new(&cfg).unwrap());
    let s = start_with(Auth::Token(auth.clone())).await;
    TokenServer {
        s,
        auth,
        _files: files,
    }
}

async fn token_server() -> TokenServer {
    token_server_with(|dir| TokenConfig {
        service: Some(SERVICE.into()),
        issuer: Some(ISSUER.into()),
        htpasswd: Some(htpasswd(dir)),
        access: Some(rules()),
        ..TokenConfig::default()
    })
    .await
}

impl TokenServer {
    /// A token from the built-in endpoint.
    async fn token(&self, user: Option<(&str, &str)>, scopes: &[&str]) -> String {
        let (status, v) = self.token_response(user, scopes).await;
        assert_eq!(status, 200, "token for {user:?} {scopes:?}: {v}");
        assert_eq!(v["token"], v["access_token"]);
        assert!(v["expires_in"].as_u64().unwrap() > 0);
        assert!(v["issued_at"].as_str().unwrap().ends_with('Z'));
        v["token"].as_str().unwrap().to_string()
    }

    async fn token_response(&self, user: Option<(&str, &str)>, scopes: &[&str]) -> (u16, Value) {
        let mut q: Vec<(&str, &str)> = vec![("service", SERVICE)];
        q.extend(scopes.iter().map(|s| ("scope", *s)));
        if let Some((u, _)) = user {
            q.push(("account", u));
        }
        let mut req = self.client.get(with_query(&self.url("/token"), &q));
        if let Some((u, p)) = user {
            req = req.basic_auth(u, Some(p));
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let v = r.json().await.unwrap_or(Value::Null);
        (status, v)
    }

    async fn push_blob_with(&self, name: &str, data: &[u8], token: &str) -> reqwest::Response {
        let d = sha256(data);
        self.client
            .post(self.url(&format!("/v2/{name}/blobs/uploads/?digest={d}")))
            .bearer_auth(token)
            .header("content-type", "application/octet-stream")
            .body(data.to_vec())
            .send()
            .await
            .unwrap()
    }
}

fn with_query(base: &str, q: &[(&str, &str)]) -> String {
    let mut u = url::Url::parse(base).unwrap();
    u.query_pairs_mut().extend_pairs(q);
    u.to_string()
}

/// The token with one signature character changed. Not the last one: its low bits are
/// padding that base64 decoders may ignore, which would leave the signature intact.
fn tamper_signature(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let i = chars.len() - 10;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    let out: String = chars.into_iter().collect();
    assert_ne!(out, token);
    out
}

fn challenge(r: &reqwest::Response) -> String {
    r.headers()
        .get("www-authenticate")
        .unwrap_or_else(|| panic!("no WWW-Authenticate on {}", r.status()))
        .to_str()
        .unwrap()
        .to_string()
}

/// Access claims of a JWT (not verified: for checking what the endpoint granted).
fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).unwrap();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&raw).unwrap()
}

#[tokio::test]
async fn challenges_name_realm_service_and_scope() {
    let s = token_server().await;
    let realm = format!("http://127.0.0.1:{}/token", s.addr.port());
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("GET", "/v2/", None),
        ("GET", "/v2/_catalog", Some("registry:catalog:*")),
        (
            "GET",
            "/v2/team/app/tags/list",
            Some("repository:team/app:pull"),
        ),
        (
            "HEAD",
            "/v2/team/app/manifests/1",
            Some("repository:team/app:pull"),
        ),
        (
            "PUT",
            "/v2/team/app/manifests/1",
            Some("repository:team/app:pull,push"),
        ),
        (
            "POST",
            "/v2/team/app/blobs/uploads/",
            Some("repository:team/app:pull,push"),
        ),
        (
            "DELETE",
            "/v2/team/app/manifests/sha256:0000000000000000000000000000000000000000000000000000000000000000",
            Some("repository:team/app:delete"),
        ),
    ];
    for (method, path, scope) in cases {
        let r = s
            .client
            .request(method.parse().unwrap(), s.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{method} {path}");
        let mut want = format!("Bearer realm=\"{realm}\",service=\"{SERVICE}\"");
        if let Some(sc) = scope {
            want.push_str(&format!(",scope=\"{sc}\""));
        }
        assert_eq!(challenge(&r), want, "{method} {path}");
        if *method != "HEAD" {
            assert_eq!(error_code(r).await, "UNAUTHORIZED");
        }
    }
    // The health endpoint needs no token.
    let r = s.client.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn anonymous_push_refused_pull_only_where_granted() {
    let s = token_server().await;
    // alice pushes into public/ and team/.
    let token = s
        .token(
            Some(("alice", "alice-pw")),
            &[
                "repository:public/x:pull,push",
                "repository:team/app:pull,push",
            ],
        )
        .await;
    for name in ["public/x", "team/app"] {
        let r = s.push_blob_with(name, b"shared data", &token).await;
        assert_eq!(r.status(), 201, "{name}");
    }
    let d = sha256(b"shared data");

    // Anonymous: no credentials at the endpoint, a token granting only what the rules give
    // everyone: pull of public/*.
    let anon = s
        .token(
            None,
            &["repository:public/x:pull,push", "repository:team/app:pull"],
        )
        .await;
    let c = claims(&anon);
    assert_eq!(c["sub"], "");
    assert_eq!(
        c["access"],
        serde_json::json!([{"type": "repository", "name": "public/x", "actions": ["pull"]}])
    );
    let r = s
        .client
        .get(s.url(&format!("/v2/public/x/blobs/{d}")))
        .bearer_auth(&anon)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"shared data");

    // Anonymous push refused, pull of team/ refused.
    let r = s.push_blob_with("public/x", b"anon data", &anon).await;
    assert_eq!(r.status(), 401);
    let ch = challenge(&r);
    assert!(
        ch.contains("scope=\"repository:public/x:pull,push\""),
        "{ch}"
    );
    assert!(ch.contains("error=\"insufficient_scope\""), "{ch}");
    assert_eq!(error_code(r).await, "DENIED");
    let r = s
        .client
        .get(s.url(&format!("/v2/team/app/blobs/{d}")))
        .bearer_auth(&anon)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("error=\"insufficient_scope\""));

    // Without any token at all: 401 and a challenge, nothing stored.
    let r = s
        .client
        .post(s.url("/v2/public/x/blobs/uploads/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).starts_with("Bearer "));
    assert_eq!(error_code(r).await, "UNAUTHORIZED");
}

#[tokio::test]
async fn token_for_one_repository_cannot_push_or_delete_another() {
    let s = token_server().await;
    let a = s
        .token(
            Some(("alice", "alice-pw")),
            &["repository:team/app:pull,push"],
        )
        .await;
    assert_eq!(s.push_blob_with("team/app", b"a", &a).await.status(), 201);
    // Same token, repository B: refused although alice could get B's push.
    let r = s.push_blob_with("team/other", b"b", &a).await;
    assert_eq!(r.status(), 401);
    let ch = challenge(&r);
    assert!(
        ch.contains("scope=\"repository:team/other:pull,push\"")
            && ch.contains("insufficient_scope"),
        "{ch}"
    );
    // Pushing needs a manifest too; PUT is refused the same way.
    let r = s
        .client
        .put(s.url("/v2/team/other/manifests/1"))
        .bearer_auth(&a)
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // No delete in the token: delete refused even where the rules would allow it.
    let d = sha256(b"a");
    let r = s
        .client
        .delete(s.url(&format!("/v2/team/app/blobs/{d}")))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("scope=\"repository:team/app:delete\""));

    // Asking for delete where the rules do not give it: the endpoint grants less, no error.
    let t = s
        .token(
            Some(("alice", "alice-pw")),
            &["repository:team/other:pull,push,delete"],
        )
        .await;
    assert_eq!(
        claims(&t)["access"][0]["actions"],
        serde_json::json!(["pull", "push"])
    );
    let r = s
        .client
        .delete(s.url(&format!("/v2/team/other/blobs/{d}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // With delete granted (team/app), the delete goes through to the API.
    let t = s
        .token(Some(("alice", "alice-pw")), &["repository:team/app:delete"])
        .await;
    let r = s
        .client
        .delete(s.url(&format!("/v2/team/app/blobs/{d}")))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_ne!(r.status(), 401);

    // bob only gets his own namespace.
    let b = s
        .token(
            Some(("bob", "bob-pw")),
            &["repository:bob/app:pull,push", "repository:team/app:pull"],
        )
        .await;
    assert_eq!(
        claims(&b)["access"],
        serde_json::json!([{"type": "repository", "name": "bob/app", "actions": ["pull", "push"]}])
    );
    assert_eq!(s.push_blob_with("bob/app", b"bob", &b).await.status(), 201);

    // A cross-repository mount from a repository the token cannot pull becomes an
    // ordinary upload: bob cannot copy team/app's blob into his namespace.
    let r = s
        .client
        .post(s.url(&format!(
            "/v2/bob/app/blobs/uploads/?mount={d}&from=team/app"
        )))
        .bearer_auth(&b)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "mount refused, upload session instead");

    // The catalog needs registry:catalog:*.
    let r = s
        .client
        .get(s.url("/v2/_catalog"))
        .bearer_auth(&a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let c = s
        .token(Some(("alice", "alice-pw")), &["registry:catalog:*"])
        .await;
    let r = s
        .client
        .get(s.url("/v2/_catalog"))
        .bearer_auth(&c)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let c = s
        .token(Some(("bob", "bob-pw")), &["registry:catalog:*"])
        .await;
    let r = s
        .client
        .get(s.url("/v2/_catalog"))
        .bearer_auth(&c)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn wrong_password_at_the_token_endpoint() {
    let s = token_server().await;
    for (user, pass) in [("alice", "wrong"), ("nobody", "alice-pw"), ("bob", "")] {
        let r = s
            .client
            .get(with_query(
                &s.url("/token"),
                &[("service", SERVICE), ("scope", "repository:team/app:pull")],
            ))
            .basic_auth(user, Some(pass))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{user}");
        assert_eq!(challenge(&r), format!("Basic realm=\"{SERVICE}\""));
        assert_eq!(error_code(r).await, "UNAUTHORIZED");
    }
    // A garbled Authorization header is no anonymous request.
    let r = s
        .client
        .get(s.url("/token"))
        .header("authorization", "Basic !!!")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // OAuth2 form with a wrong password.
    let r = s
        .client
        .post(s.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=password&username=alice&password=nope&service={SERVICE}&client_id=test"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).starts_with("Basic "));
    // Another service.
    let r = s
        .client
        .get(with_query(&s.url("/token"), &[("service", "elsewhere")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn oauth_password_and_refresh_token_grants() {
    let s = token_server().await;
    let form = |body: String| {
        s.client
            .post(s.url("/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
    };
    let r = form(format!(
        "grant_type=password&username=alice&password=alice-pw&service={SERVICE}\
         &client_id=docker&access_type=offline&scope=repository%3Ateam%2Fapp%3Apull%2Cpush"
    ))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["scope"], "repository:team/app:pull,push");
    let access = v["access_token"].as_str().unwrap().to_string();
    let refresh = v["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(
        s.push_blob_with("team/app", b"x", &access).await.status(),
        201
    );
    // The refresh (identity) token is not an access token.
    let r = s.push_blob_with("team/app", b"y", &refresh).await;
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("invalid_token"));
    // Exchanged for a new access token.
    let r = form(format!(
        "grant_type=refresh_token&refresh_token={refresh}&service={SERVICE}&client_id=docker\
         &scope=repository%3Ateam%2Fapp%3Apull"
    ))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let t = v["access_token"].as_str().unwrap();
    assert_eq!(claims(t)["sub"], "alice");
    assert_eq!(v["scope"], "repository:team/app:pull");
    // An access token is no refresh token.
    let r = form(format!(
        "grant_type=refresh_token&refresh_token={access}&service={SERVICE}"
    ))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 401);
    // An offline GET gives a refresh token too.
    let r = s
        .client
        .get(with_query(
            &s.url("/token"),
            &[("service", SERVICE), ("offline_token", "true")],
        ))
        .basic_auth("alice", Some("alice-pw"))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert!(v["refresh_token"].is_string());
}

#[tokio::test]
async fn expired_tampered_and_foreign_tokens_refused() {
    let s = token_server().await;
    let access = [ResourceActions::repository("team/app", &["pull", "push"])];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let expired = s
        .auth
        .sign_with_times("alice", &access, now - 3600, 300)
        .unwrap();
    let good = s.auth.sign_with_times("alice", &access, now, 300).unwrap();
    // Tamper: change the signature's last characters; and graft other claims on.
    let sig_tampered = tamper_signature(&good);
    let other_claims = s
        .auth
        .sign_with_times(
            "alice",
            &[ResourceActions::repository("team/x", &["pull"])],
            now,
            300,
        )
        .unwrap();
    let p: Vec<&str> = good.split('.').collect();
    let q: Vec<&str> = other_claims.split('.').collect();
    let grafted = format!("{}.{}.{}", p[0], q[1], p[2]);
    // Another server's key (same service and issuer names).
    let other = TokenAuth::new(&TokenConfig {
        service: Some(SERVICE.into()),
        issuer: Some(ISSUER.into()),
        ..TokenConfig::default()
    })
    .unwrap();
    let foreign = other.sign_with_times("alice", &access, now, 300).unwrap();
    // Same key, another audience.
    for (what, token) in [
        ("expired", expired.as_str()),
        ("bad signature", sig_tampered.as_str()),
        ("grafted claims", grafted.as_str()),
        ("foreign key", foreign.as_str()),
        ("garbage", "abc.def.ghi"),
    ] {
        let r = s.push_blob_with("team/app", b"z", token).await;
        assert_eq!(r.status(), 401, "{what}");
        let ch = challenge(&r);
        assert!(ch.contains("error=\"invalid_token\""), "{what}: {ch}");
        assert_eq!(error_code(r).await, "UNAUTHORIZED", "{what}");
    }
    assert_eq!(
        s.push_blob_with("team/app", b"z", &good).await.status(),
        201
    );
}

#[tokio::test]
async fn wrong_audience_refused() {
    let files = tempfile::tempdir().unwrap();
    let (key, _cert) = openssl_key_and_cert(files.path(), KeyKind::Ec);
    let make = |service: &str, issuer: &str| {
        Arc::new(
            TokenAuth::new(&TokenConfig {
                service: Some(service.into()),
                issuer: Some(issuer.into()),
                key: Some(key.clone()),
                ..TokenConfig::default()
            })
            .unwrap(),
        )
    };
    let server = make(SERVICE, ISSUER);
    let s = start_with(Auth::Token(server.clone())).await;
    let access = [ResourceActions::repository("team/app", &["pull", "push"])];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (what, signer) in [
        ("wrong audience", make("another-service", ISSUER)),
        ("wrong issuer", make(SERVICE, "another-issuer")),
    ] {
        let t = signer.sign_with_times("alice", &access, now, 300).unwrap();
        let r = s
            .client
            .get(s.url("/v2/team/app/tags/list"))
            .bearer_auth(&t)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{what}");
        assert!(challenge(&r).contains("invalid_token"), "{what}");
    }
    let t = server.sign_with_times("alice", &access, now, 300).unwrap();
    let r = s
        .client
        .get(s.url("/v2/team/app/tags/list"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        404,
        "authorized: the repository is just unknown"
    );
}

#[tokio::test]
async fn basic_auth_server_wrong_password_gets_basic_challenge() {
    let dir = tempfile::tempdir().unwrap();
    let path = htpasswd(dir.path());
    let s = start_with(Auth::Htpasswd {
        path,
        realm: "basic realm".into(),
    })
    .await;
    let r = s
        .client
        .post(s.url("/v2/team/app/blobs/uploads/"))
        .basic_auth("alice", Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(challenge(&r), "Basic realm=\"basic realm\"");
    // A bearer token means nothing to a basic-auth server.
    let r = s
        .client
        .get(s.url("/v2/"))
        .bearer_auth("abc")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // No token endpoint on a basic-auth server.
    let r = s.client.get(s.url("/token")).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

// ---- real clients -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skopeo_copy_with_token_flow() {
    let s = token_server().await;
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let manifest = build_layout(&layout);
    let md = sha256(&manifest);
    let port = s.addr.port();
    let src = format!("oci:{}:1", layout.display());

    // Anonymous push refused.
    let args: Vec<String> = vec![
        "copy".into(),
        "--dest-tls-verify=false".into(),
        src.clone(),
        format!("docker://127.0.0.1:{port}/team/app:1"),
    ];
    let out = tokio::task::spawn_blocking(move || skopeo_output(&args))
        .await
        .unwrap();
    assert!(!out.status.success(), "anonymous skopeo push must fail");

    // With credentials: the token dance, then the push.
    let args: Vec<String> = vec![
        "copy".into(),
        "--dest-tls-verify=false".into(),
        "--dest-creds=alice:alice-pw".into(),
        src.clone(),
        format!("docker://127.0.0.1:{port}/team/app:1"),
    ];
    tokio::task::spawn_blocking(move || skopeo_ok(&args))
        .await
        .unwrap();
    let t = s
        .token(Some(("alice", "alice-pw")), &["repository:team/app:pull"])
        .await;
    let r = s
        .client
        .get(s.url("/v2/team/app/manifests/1"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["docker-content-digest"], md.as_str());

    // bob may not push into team/.
    let args: Vec<String> = vec![
        "copy".into(),
        "--dest-tls-verify=false".into(),
        "--dest-creds=bob:bob-pw".into(),
        src.clone(),
        format!("docker://127.0.0.1:{port}/team/app:2"),
    ];
    let out = tokio::task::spawn_blocking(move || skopeo_output(&args))
        .await
        .unwrap();
    assert!(!out.status.success(), "bob's push into team/ must fail");

    // Pull back with credentials; a wrong password fails.
    let out_dir = work.path().join("out");
    let args: Vec<String> = vec![
        "copy".into(),
        "--src-tls-verify=false".into(),
        "--src-creds=alice:wrong".into(),
        format!("docker://127.0.0.1:{port}/team/app:1"),
        format!("oci:{}:x", out_dir.display()),
    ];
    let out = tokio::task::spawn_blocking(move || skopeo_output(&args))
        .await
        .unwrap();
    assert!(!out.status.success(), "a wrong password must fail");
    let args: Vec<String> = vec![
        "copy".into(),
        "--src-tls-verify=false".into(),
        "--src-creds=alice:alice-pw".into(),
        format!("docker://127.0.0.1:{port}/team/app:1"),
        format!("oci:{}:x", out_dir.display()),
    ];
    tokio::task::spawn_blocking(move || skopeo_ok(&args))
        .await
        .unwrap();
    let hex = md.strip_prefix("sha256:").unwrap();
    assert_eq!(
        std::fs::read(out_dir.join("blobs/sha256").join(hex)).unwrap(),
        manifest
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strata_client_push_and_pull_with_credentials() {
    use transport::{
        CopyOptions, Credentials, LayoutDestination, LayoutSource, OciLayout, RegistryClient,
        RegistryDestination, RegistryOptions, RegistrySource,
    };
    let s = token_server().await;
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let manifest = build_layout(&layout);
    let md = sha256(&manifest);
    let host = format!("127.0.0.1:{}", s.addr.port());
    let client = |creds: Option<(&str, &str)>| {
        RegistryClient::new(
            &host,
            RegistryOptions {
                credentials: creds.map(|(u, p)| Credentials::Basic {
                    username: u.into(),
                    password: p.into(),
                }),
                ..RegistryOptions::default()
            },
        )
        .unwrap()
    };
    let src = LayoutSource::new(OciLayout::open(&layout).unwrap(), Some("1")).unwrap();
    let opts = CopyOptions {
        tag: Some("v1".into()),
        ..CopyOptions::default()
    };
    // Anonymous: refused.
    let dst = RegistryDestination::new(client(None), "team/app");
    assert!(transport::copy(&src, &dst, &opts).await.is_err());
    // Wrong password: refused.
    let dst = RegistryDestination::new(client(Some(("alice", "bad"))), "team/app");
    assert!(transport::copy(&src, &dst, &opts).await.is_err());
    // alice: pushed.
    let alice = client(Some(("alice", "alice-pw")));
    let dst = RegistryDestination::new(alice.clone(), "team/app");
    let report = transport::copy(&src, &dst, &opts).await.unwrap();
    assert_eq!(report.top.digest.to_string(), md);
    // Mounted into a second repository alice may push to.
    let dst2 = RegistryDestination::new(alice.clone(), "team/copy");
    let opts2 = CopyOptions {
        tag: Some("v1".into()),
        mount_from: Some("team/app".into()),
        ..CopyOptions::default()
    };
    transport::copy(&src, &dst2, &opts2).await.unwrap();
    // Pulled back.
    let out = work.path().join("out");
    let src = RegistrySource::new(alice.clone(), "team/copy", "v1");
    let dst = LayoutDestination::new(&out, Some("pulled".into())).unwrap();
    let report = transport::copy(&src, &dst, &CopyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.top.digest.to_string(), md);
    let hex = md.strip_prefix("sha256:").unwrap();
    assert_eq!(
        std::fs::read(out.join("blobs/sha256").join(hex)).unwrap(),
        manifest
    );
    // bob cannot pull team/.
    let src = RegistrySource::new(client(Some(("bob", "bob-pw"))), "team/copy", "v1");
    let out2 = work.path().join("out2");
    let dst = LayoutDestination::new(&out2, Some("pulled".into())).unwrap();
    assert!(
        transport::copy(&src, &dst, &CopyOptions::default())
            .await
            .is_err()
    );

    // Anonymous clients pull where the rules let everyone pull (public/*), nowhere else.
    let src_layout = LayoutSource::new(OciLayout::open(&layout).unwrap(), Some("1")).unwrap();
    let dst = RegistryDestination::new(alice.clone(), "public/app");
    transport::copy(&src_layout, &dst, &opts).await.unwrap();
    let src = RegistrySource::new(client(None), "public/app", "v1");
    let out3 = work.path().join("out3");
    let dst = LayoutDestination::new(&out3, Some("pulled".into())).unwrap();
    let report = transport::copy(&src, &dst, &CopyOptions::default())
        .await
        .unwrap();
    assert_eq!(report.top.digest.to_string(), md);
    let src = RegistrySource::new(client(None), "team/app", "v1");
    let out4 = work.path().join("out4");
    let dst = LayoutDestination::new(&out4, Some("pulled".into())).unwrap();
    assert!(
        transport::copy(&src, &dst, &CopyOptions::default())
            .await
            .is_err()
    );
}

// ---- interop with docker-registry 2.8 --------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum KeyKind {
    Ec,
    Rsa,
}

fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl must be installed (/usr/bin/openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A private key (EC: SEC1 `EC PRIVATE KEY`; RSA: PKCS#8) and a self-signed certificate.
fn openssl_key_and_cert(dir: &Path, kind: KeyKind) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{kind:?}-key.pem"));
    let cert = dir.join(format!("{kind:?}-cert.pem"));
    let (k, c) = (key.to_str().unwrap(), cert.to_str().unwrap());
    match kind {
        KeyKind::Ec => openssl(&[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            k,
        ]),
        KeyKind::Rsa => openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            k,
        ]),
    }
    openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        k,
        "-out",
        c,
        "-days",
        "2",
        "-subj",
        "/CN=strata token test",
    ]);
    (key, cert)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// docker-registry running as a child; killed (by its own PID) on drop.
struct DockerRegistry {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl DockerRegistry {
    async fn start(realm: &str, cert: &Path) -> DockerRegistry {
        let bin = Path::new("/usr/bin/docker-registry");
        assert!(
            bin.exists(),
            "/usr/bin/docker-registry is missing (apt install docker-registry): the token \
             interop test needs it"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\n\
                 log:\n  level: warn\n\
                 storage:\n  filesystem:\n    rootdirectory: {root}\n  delete:\n    enabled: true\n\
                 http:\n  addr: 127.0.0.1:{port}\n\
                 auth:\n  token:\n    realm: {realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {cert}\n",
                root = dir.path().join("data").display(),
                cert = cert.display(),
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
            .spawn()
            .expect("starting /usr/bin/docker-registry");
        let mut reg = DockerRegistry { child, port, dir };
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(r) = client.get(reg.url("/v2/")).send().await {
                assert_eq!(r.status(), 401, "docker-registry must ask for a token");
                let ch = challenge(&r);
                assert!(ch.contains(&format!("realm=\"{realm}\"")), "{ch}");
                return reg;
            }
            if let Ok(Some(status)) = reg.child.try_wait() {
                panic!("docker-registry exited at start: {status}\n{}", reg.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("docker-registry did not answer on port {port}");
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// What docker-registry logged, for failure messages.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_registry_accepts_strata_tokens() {
    for kind in [KeyKind::Ec, KeyKind::Rsa] {
        interop(kind).await;
    }
}

async fn interop(kind: KeyKind) {
    let keys = tempfile::tempdir().unwrap();
    let (key, cert) = openssl_key_and_cert(keys.path(), kind);
    let s = token_server_with(|dir| TokenConfig {
        service: Some(SERVICE.into()),
        issuer: Some(ISSUER.into()),
        key: Some(key.clone()),
        htpasswd: Some(htpasswd(dir)),
        access: Some(rules()),
        ..TokenConfig::default()
    })
    .await;
    let realm = s.url("/token");
    let dr = DockerRegistry::start(&realm, &cert).await;
    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let manifest = build_layout(&layout);
    let md = sha256(&manifest);

    // skopeo pushes into docker-registry with tokens from strata's endpoint.
    let args: Vec<String> = vec![
        "copy".into(),
        "--dest-tls-verify=false".into(),
        "--dest-creds=alice:alice-pw".into(),
        format!("oci:{}:1", layout.display()),
        format!("docker://127.0.0.1:{}/team/app:1", dr.port),
    ];
    let pushed = tokio::task::spawn_blocking(move || skopeo_output(&args))
        .await
        .unwrap();
    assert!(
        pushed.status.success(),
        "{kind:?}: skopeo push into docker-registry failed:\n{}\ndocker-registry log:\n{}",
        String::from_utf8_lossy(&pushed.stderr),
        dr.log()
    );

    // A pull token from strata works against docker-registry for team/app.
    let t = s
        .token(Some(("alice", "alice-pw")), &["repository:team/app:pull"])
        .await;
    let r = s
        .client
        .get(dr.url("/v2/team/app/manifests/1"))
        .bearer_auth(&t)
        .header("accept", "application/vnd.oci.image.manifest.v1+json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "{kind:?}: docker-registry refused strata's token\n{}",
        dr.log()
    );
    assert_eq!(r.headers()["docker-content-digest"], md.as_str());
    assert_eq!(r.bytes().await.unwrap(), manifest);

    // The same token is refused for repository B, for pushing, and for deleting.
    let r = s
        .client
        .get(dr.url("/v2/team/other/manifests/1"))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "{kind:?}: token for A used on B");
    assert!(challenge(&r).contains("insufficient_scope"));
    let push_a = s
        .token(
            Some(("alice", "alice-pw")),
            &["repository:team/app:pull,push"],
        )
        .await;
    let r = s
        .client
        .post(dr.url("/v2/team/other/blobs/uploads/"))
        .bearer_auth(&push_a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "{kind:?}: push token for A used on B");
    let r = s
        .client
        .post(dr.url("/v2/team/app/blobs/uploads/"))
        .bearer_auth(&push_a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202, "{kind:?}: push token for A on A");
    let r = s
        .client
        .delete(dr.url(&format!("/v2/team/app/manifests/{md}")))
        .bearer_auth(&push_a)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "{kind:?}: delete without delete scope");

    // A tampered token and one from an untrusted key are refused too.
    let bad = tamper_signature(&t);
    let other = TokenAuth::new(&TokenConfig {
        service: Some(SERVICE.into()),
        issuer: Some(ISSUER.into()),
        ..TokenConfig::default()
    })
    .unwrap()
    .issue(
        "alice",
        &[ResourceActions::repository("team/app", &["pull"])],
    )
    .unwrap()
    .token;
    for token in [bad, other] {
        let r = s
            .client
            .get(dr.url("/v2/team/app/manifests/1"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401, "{kind:?}");
    }

    // skopeo pulls back from docker-registry; bob cannot.
    let out = work.path().join("out");
    let args: Vec<String> = vec![
        "copy".into(),
        "--src-tls-verify=false".into(),
        "--src-creds=alice:alice-pw".into(),
        format!("docker://127.0.0.1:{}/team/app:1", dr.port),
        format!("oci:{}:x", out.display()),
    ];
    tokio::task::spawn_blocking(move || skopeo_ok(&args))
        .await
        .unwrap();
    let hex = md.strip_prefix("sha256:").unwrap();
    assert_eq!(
        std::fs::read(out.join("blobs/sha256").join(hex)).unwrap(),
        manifest
    );
    let args: Vec<String> = vec![
        "inspect".into(),
        "--tls-verify=false".into(),
        "--creds=bob:bob-pw".into(),
        format!("docker://127.0.0.1:{}/team/app:1", dr.port),
    ];
    let o = tokio::task::spawn_blocking(move || skopeo_output(&args))
        .await
        .unwrap();
    assert!(!o.status.success(), "{kind:?}: bob must not pull team/app");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_token_login_like_docker() {
    use transport::{
        CopyOptions, Credentials, LayoutSource, OciLayout, RegistryClient, RegistryDestination,
        RegistryOptions,
    };
    let s = token_server().await;
    // `docker login` with an identity token: POST password grant, offline.
    let r = s
        .client
        .post(s.url("/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "grant_type=password&username=alice&password=alice-pw&service={SERVICE}\
             &client_id=strata&access_type=offline"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    let identity = v["refresh_token"].as_str().unwrap().to_string();

    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let manifest = build_layout(&layout);
    let host = format!("127.0.0.1:{}", s.addr.port());
    let client = RegistryClient::new(
        &host,
        RegistryOptions {
            credentials: Some(Credentials::IdentityToken(identity)),
            ..RegistryOptions::default()
        },
    )
    .unwrap();
    let src = LayoutSource::new(OciLayout::open(&layout).unwrap(), Some("1")).unwrap();
    let dst = RegistryDestination::new(client, "team/idt");
    let opts = CopyOptions {
        tag: Some("v1".into()),
        ..CopyOptions::default()
    };
    let report = transport::copy(&src, &dst, &opts).await.unwrap();
    assert_eq!(report.top.digest.to_string(), sha256(&manifest));
}

/// A strata server trusting an external token issuer (here another strata server) by its
/// certificate, as docker-registry's `rootcertbundle`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_trusts_external_issuer_by_certificate() {
    use transport::{
        CopyOptions, Credentials, LayoutSource, OciLayout, RegistryClient, RegistryDestination,
        RegistryOptions,
    };
    let keys = tempfile::tempdir().unwrap();
    let (key, cert) = openssl_key_and_cert(keys.path(), KeyKind::Ec);
    let issuer = token_server_with(|dir| TokenConfig {
        service: Some(SERVICE.into()),
        issuer: Some(ISSUER.into()),
        key: Some(key.clone()),
        htpasswd: Some(htpasswd(dir)),
        access: Some(rules()),
        ..TokenConfig::default()
    })
    .await;
    let realm = issuer.url("/token");
    let registry = token_server_with(|_| TokenConfig {
        realm: Some(realm.clone()),
        service: Some(SERVICE.into()),
        issuer: Some(ISSUER.into()),
        rootcertbundle: Some(cert.clone()),
        endpoint: Some(false),
        ..TokenConfig::default()
    })
    .await;
    // The challenge names the external realm; the registry has no endpoint of its own.
    let r = registry
        .client
        .get(registry.url("/v2/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        challenge(&r),
        format!("Bearer realm=\"{realm}\",service=\"{SERVICE}\"")
    );
    let r = registry
        .client
        .get(registry.url("/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let work = tempfile::tempdir().unwrap();
    let layout = work.path().join("layout");
    let manifest = build_layout(&layout);
    let host = format!("127.0.0.1:{}", registry.addr.port());
    let client = RegistryClient::new(
        &host,
        RegistryOptions {
            credentials: Some(Credentials::Basic {
                username: "alice".into(),
                password: "alice-pw".into(),
            }),
            ..RegistryOptions::default()
        },
    )
    .unwrap();
    let src = LayoutSource::new(OciLayout::open(&layout).unwrap(), Some("1")).unwrap();
    let dst = RegistryDestination::new(client, "team/ext");
    let opts = CopyOptions {
        tag: Some("v1".into()),
        ..CopyOptions::default()
    };
    let report = transport::copy(&src, &dst, &opts).await.unwrap();
    assert_eq!(report.top.digest.to_string(), sha256(&manifest));
    // A token of an issuer whose certificate is not in the bundle is refused.
    let stranger = registry_token_from_stranger();
    let r = registry
        .client
        .get(registry.url("/v2/team/ext/manifests/v1"))
        .bearer_auth(&stranger)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(challenge(&r).contains("invalid_token"));
}

fn registry_token_from_stranger() -> String {
    TokenAuth::new(&TokenConfig {
        service: Some(SERVICE.into()),
        issuer: Some(ISSUER.into()),
        ..TokenConfig::default()
    })
    .unwrap()
    .issue(
        "alice",
        &[ResourceActions::repository("team/ext", &["pull"])],
    )
    .unwrap()
    .token
}
