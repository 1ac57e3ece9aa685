//! Authentication and authorization: anonymous, htpasswd basic auth, or bearer tokens
//! with Docker's token flow.
//!
//! With token auth, a request without a valid token is answered 401 with a challenge,
//! `WWW-Authenticate: Bearer realm="...",service="...",scope="repository:NAME:pull,push"`,
//! naming the access the request needs: `pull` for GET and HEAD, `pull,push` for uploads
//! and manifest PUT, `delete` for DELETE, `registry:catalog:*` for the catalog, none for
//! `/v2/`. The client gets a token from the realm (the built-in endpoint, [`endpoint`], or
//! an external token server) and retries with `Authorization: Bearer <token>`. A token
//! that is expired, badly signed, or meant for another service or issuer is answered 401
//! with `error="invalid_token"`; a valid one lacking the needed access 401 with
//! `error="insufficient_scope"` (and the `DENIED` code), as distribution does.

pub mod access;
pub mod endpoint;
pub mod htpasswd;
pub mod token;

use std::future::Future;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub use access::{AccessList, AccessRule, ResourceActions};
pub use htpasswd::{Htpasswd, parse_basic};
pub use token::{IssuedToken, TokenAuth, TokenConfig};

use crate::api::Route;
use crate::error::{ApiError, Code, ServerError};
use crate::server::Auth;

/// Setting up authentication failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// A key, certificate or password file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The signing key is unusable.
    #[error("token signing key {path}: {message}")]
    Key {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The certificate bundle is unusable.
    #[error("token certificate bundle {path}: {message}")]
    Certificate {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The htpasswd file is unusable.
    #[error("htpasswd file {path}: {message}")]
    Htpasswd {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The settings do not fit together.
    #[error("token auth config: {0}")]
    Config(String),
    /// A token could not be signed.
    #[error("signing a token: {0}")]
    Sign(String),
}

/// The authentication state the API handlers check requests against.
#[derive(Debug)]
pub enum Guard {
    /// Everyone may do everything.
    Anonymous,
    /// Basic auth: any listed user may do everything.
    Basic {
        /// The users.
        htpasswd: Htpasswd,
        /// The realm of the challenge.
        realm: String,
    },
    /// Bearer tokens.
    Token(Arc<TokenAuth>),
}

/// What a request may do: everything, or what its token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Granted {
    /// No restriction (anonymous mode, or a basic-auth user).
    All,
    /// The access of a verified token.
    Token(Vec<ResourceActions>),
}

impl Granted {
    /// Whether this allows all of `needed`.
    pub fn allows(&self, needed: &[ResourceActions]) -> bool {
        match self {
            Granted::All => true,
            Granted::Token(g) => access::allows(g, needed),
        }
    }
}

impl Guard {
    /// The guard for `auth` (reads the htpasswd file of basic auth).
    pub fn new(auth: &Auth) -> Result<Guard, ServerError> {
        Ok(match auth {
            Auth::Anonymous => Guard::Anonymous,
            Auth::Htpasswd { path, realm } => Guard::Basic {
                htpasswd: Htpasswd::load(path)?,
                realm: realm.clone(),
            },
            Auth::Token(t) => Guard::Token(t.clone()),
        })
    }

    /// The token auth, when tokens are on.
    pub fn token(&self) -> Option<&TokenAuth> {
        match self {
            Guard::Token(t) => Some(t),
            _ => None,
        }
    }

    /// Checks a `/v2/...` request: its route says what access it needs. When a cross-
    /// repository mount names a `from` repository the client may not pull, the mount
    /// parameters are removed from the request, so that it becomes an ordinary upload
    /// (the spec's fallback) instead of leaking the other repository's blobs.
    pub async fn authorize_request(&self, req: &mut Request) -> Result<Granted, Response> {
        let path = req.uri().path();
        let route = Route::parse(path.strip_prefix("/v2/").unwrap_or(""))
            .ok()
            .flatten();
        let needed = route
            .as_ref()
            .map(|r| needed_access(r, req.method()))
            .unwrap_or_default();
        let granted = self.authorize(req, &needed).await?;
        if let Some(Route::UploadStart { .. }) = route
            && let Some(from) = query_value(req.uri(), "from")
            && query_value(req.uri(), "mount").is_some()
            && !granted.allows(&[ResourceActions::repository(&from, &[access::PULL])])
        {
            strip_mount(req);
        }
        Ok(granted)
    }

    /// Checks that the request carries credentials allowing `needed` (empty: any valid
    /// credentials, as for `/v2/`). The error is the 401 response with its challenge. The
    /// request is read before the returned future runs, so the future does not borrow it.
    pub fn authorize(
        &self,
        req: &Request,
        needed: &[ResourceActions],
    ) -> impl Future<Output = Result<Granted, Response>> + Send + '_ {
        let (decided, basic) = match self {
            Guard::Anonymous => (Some(Ok(Granted::All)), None),
            Guard::Token(t) => (Some(authorize_token(t, req, needed).map_err(|r| *r)), None),
            Guard::Basic { htpasswd, realm } => {
                let credentials = req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_basic);
                (None, Some((htpasswd, realm, credentials)))
            }
        };
        async move {
            if let Some(d) = decided {
                return d;
            }
            let Some((htpasswd, realm, credentials)) = basic else {
                return Ok(Granted::All);
            };
            if let Some((user, pass)) = credentials
                && htpasswd.check(&user, &pass).await
            {
                return Ok(Granted::All);
            }
            let challenge = format!("Basic realm=\"{}\"", realm.replace('"', ""));
            Err(unauthorized(
                ApiError::new(Code::Unauthorized, "authentication required"),
                &challenge,
            ))
        }
    }
}

/// Checks the bearer token of a request against `needed`.
fn authorize_token(
    t: &TokenAuth,
    req: &Request,
    needed: &[ResourceActions],
) -> Result<Granted, Box<Response>> {
    let headers = req.headers();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let realm = realm_for(t, req);
    let challenge = |error: Option<&str>| {
        let mut c = format!(
            "Bearer realm=\"{}\",service=\"{}\"",
            realm.replace('"', ""),
            t.service().replace('"', "")
        );
        if !needed.is_empty() {
            let scopes: Vec<String> = needed.iter().map(|n| n.scope()).collect();
            c.push_str(&format!(",scope=\"{}\"", scopes.join(" ")));
        }
        if let Some(e) = error {
            c.push_str(&format!(",error=\"{e}\""));
        }
        c
    };
    let detail = json!(needed);
    let Some(token) = authorization.and_then(parse_bearer) else {
        return Err(Box::new(unauthorized(
            ApiError::new(Code::Unauthorized, "authentication required").with_detail(detail),
            &challenge(None),
        )));
    };
    let verified = match t.verify(token) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!("refused bearer token: {e}");
            return Err(Box::new(unauthorized(
                ApiError::new(Code::Unauthorized, e.to_string()).with_detail(detail),
                &challenge(Some("invalid_token")),
            )));
        }
    };
    if !access::allows(&verified.access, needed) {
        let scopes: Vec<String> = needed.iter().map(|n| n.scope()).collect();
        return Err(Box::new(unauthorized(
            ApiError::new(
                Code::Denied,
                format!(
                    "insufficient scope: the token does not grant {}",
                    scopes.join(" ")
                ),
            )
            .with_status(401)
            .with_detail(detail),
            &challenge(Some("insufficient_scope")),
        )));
    }
    Ok(Granted::Token(verified.access))
}

/// A request extension naming the scheme the client used (`https` behind the server's
/// TLS listener), for the default realm of token challenges. Without it, the scheme of
/// the request URI (HTTP/2), then `X-Forwarded-Proto`, then `http`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestScheme(pub &'static str);

/// The access a request to `route` with `method` needs, as distribution asks for it.
pub fn needed_access(route: &Route, method: &Method) -> Vec<ResourceActions> {
    let name = match route {
        Route::Catalog => return vec![ResourceActions::catalog()],
        Route::Tags { name }
        | Route::Manifest { name, .. }
        | Route::Blob { name, .. }
        | Route::UploadStart { name }
        | Route::Upload { name, .. }
        | Route::Referrers { name, .. } => name,
    };
    let actions: &[&str] = match *method {
        Method::GET | Method::HEAD => &[access::PULL],
        Method::PUT | Method::POST | Method::PATCH => &[access::PULL, access::PUSH],
        Method::DELETE => match route {
            // Cancelling one's own upload is part of pushing.
            Route::Upload { .. } => &[access::PULL, access::PUSH],
            _ => &[access::DELETE],
        },
        _ => &[access::PULL],
    };
    vec![ResourceActions::repository(name, actions)]
}

/// The realm of a challenge: the configured one, or `/token` on the host the client
/// addressed.
fn realm_for(t: &TokenAuth, req: &Request) -> String {
    if let Some(r) = t.realm() {
        return r.to_string();
    }
    let (headers, uri) = (req.headers(), req.uri());
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()))
        .unwrap_or_else(|| "localhost".to_string());
    let scheme = req
        .extensions()
        .get::<RequestScheme>()
        .map(|s| s.0.to_string())
        .or_else(|| uri.scheme_str().map(str::to_string))
        .or_else(|| {
            headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "http".to_string());
    format!("{scheme}://{host}/token")
}

/// A 401 response with a `WWW-Authenticate` challenge.
pub(crate) fn unauthorized(err: ApiError, challenge: &str) -> Response {
    let mut r = err.into_response();
    if let Ok(v) = HeaderValue::from_str(challenge) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// The token of an `Authorization: Bearer ...` header.
pub fn parse_bearer(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let t = rest.trim();
    (!t.is_empty()).then_some(t)
}

fn query_value(uri: &Uri, key: &str) -> Option<String> {
    url::form_urlencoded::parse(uri.query()?.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// Removes `mount` and `from` from the request's query.
fn strip_mount(req: &mut Request) {
    let query: Vec<(String, String)> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k != "mount" && k != "from")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let mut pq = req.uri().path().to_string();
    if !query.is_empty() {
        pq.push('?');
        pq.push_str(
            &url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(query)
                .finish(),
        );
    }
    let mut parts = req.uri().clone().into_parts();
    match pq.parse() {
        Ok(p) => parts.path_and_query = Some(p),
        Err(e) => {
            tracing::debug!("cannot rewrite upload query: {e}");
            return;
        }
    }
    if let Ok(u) = Uri::from_parts(parts) {
        *req.uri_mut() = u;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needed_table() {
        let n = |name: &str| name.to_string();
        let cases: Vec<(Route, Method, &str)> = vec![
            (Route::Catalog, Method::GET, "registry:catalog:*"),
            (
                Route::Tags { name: n("a/b") },
                Method::GET,
                "repository:a/b:pull",
            ),
            (
                Route::Manifest {
                    name: n("a"),
                    reference: n("t"),
                },
                Method::HEAD,
                "repository:a:pull",
            ),
            (
                Route::Manifest {
                    name: n("a"),
                    reference: n("t"),
                },
                Method::PUT,
                "repository:a:pull,push",
            ),
            (
                Route::Manifest {
                    name: n("a"),
                    reference: n("t"),
                },
                Method::DELETE,
                "repository:a:delete",
            ),
            (
                Route::Blob {
                    name: n("a"),
                    digest: n("d"),
                },
                Method::DELETE,
                "repository:a:delete",
            ),
            (
                Route::UploadStart { name: n("a") },
                Method::POST,
                "repository:a:pull,push",
            ),
            (
                Route::Upload {
                    name: n("a"),
                    id: n("i"),
                },
                Method::PATCH,
                "repository:a:pull,push",
            ),
            (
                Route::Upload {
                    name: n("a"),
                    id: n("i"),
                },
                Method::DELETE,
                "repository:a:pull,push",
            ),
            (
                Route::Referrers {
                    name: n("a"),
                    digest: n("d"),
                },
                Method::GET,
                "repository:a:pull",
            ),
        ];
        for (route, method, want) in cases {
            let got: Vec<String> = needed_access(&route, &method)
                .iter()
                .map(ResourceActions::scope)
                .collect();
            assert_eq!(got, vec![want.to_string()], "{route:?} {method}");
        }
    }

    #[test]
    fn bearer_headers() {
        let cases: &[(&str, Option<&str>)] = &[
            ("Bearer abc.def", Some("abc.def")),
            ("bearer  xyz ", Some("xyz")),
            ("Bearer ", None),
            ("Basic dXNlcjpwYXNz", None),
            ("", None),
        ];
        for (h, want) in cases {
            assert_eq!(parse_bearer(h), *want, "{h:?}");
        }
    }

    #[test]
    fn mount_stripped() {
        let mut req = Request::builder()
            .uri("/v2/b/blobs/uploads/?mount=sha256%3Aab&from=a&digest-algorithm=sha512")
            .body(axum::body::Body::empty())
            .unwrap();
        strip_mount(&mut req);
        assert_eq!(
            req.uri().to_string(),
            "/v2/b/blobs/uploads/?digest-algorithm=sha512"
        );
        let mut req = Request::builder()
            .uri("/v2/b/blobs/uploads/?mount=x&from=a")
            .body(axum::body::Body::empty())
            .unwrap();
        strip_mount(&mut req);
        assert_eq!(req.uri().to_string(), "/v2/b/blobs/uploads/");
    }

    #[test]
    fn default_realm() {
        let t = TokenAuth::new(&TokenConfig::default()).unwrap();
        let req = |host: Option<&str>, proto: Option<&str>, ext: Option<RequestScheme>| {
            let mut b = Request::builder().uri("/v2/");
            if let Some(h) = host {
                b = b.header("host", h);
            }
            if let Some(p) = proto {
                b = b.header("x-forwarded-proto", p);
            }
            let mut r = b.body(axum::body::Body::empty()).unwrap();
            if let Some(e) = ext {
                r.extensions_mut().insert(e);
            }
            r
        };
        let cases = [
            (req(Some("reg:5000"), None, None), "http://reg:5000/token"),
            (req(Some("reg"), Some("https"), None), "https://reg/token"),
            (
                req(Some("reg"), None, Some(RequestScheme("https"))),
                "https://reg/token",
            ),
            (req(None, None, None), "http://localhost/token"),
        ];
        for (r, want) in cases {
            assert_eq!(realm_for(&t, &r), want);
        }
        let fixed = TokenAuth::new(&TokenConfig {
            realm: Some("https://auth.example/token".into()),
            ..TokenConfig::default()
        })
        .unwrap();
        assert_eq!(
            realm_for(&fixed, &req(Some("reg"), None, None)),
            "https://auth.example/token"
        );
    }
}
