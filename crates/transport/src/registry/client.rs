//! The HTTP client for one registry host: scheme choice, authentication, retries and error
//! mapping. Sources and destinations build requests; this module sends them.

use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::{Method, Response, StatusCode};
use tokio::sync::OnceCell;
use url::Url;

use crate::TransportError;
use crate::credentials::Credentials;
use crate::error::printable;
use crate::registry::auth::{BearerRealm, TokenCache, basic_header};
use crate::registry::challenge::{Challenge, parse_challenges};
use crate::registry::upload_watch::watched;
use crate::retry::{Fault, RequestKind};

pub(crate) use crate::retry::Attempt;

/// How long a transfer may go without receiving a byte before it fails.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variable the CLI reads the idle timeout from (`5s`, `1m30s`, `90`); the
/// small-object deadline is twice it. Named in timeout errors so users know what to change.
pub const IDLE_TIMEOUT_ENV: &str = "STRATA_REGISTRY_IDLE_TIMEOUT";

/// How to talk to a registry.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Verify TLS certificates (default true). When false, invalid certificates are accepted
    /// and plain HTTP is tried if HTTPS fails, like Docker's `insecure-registries`; loopback
    /// registries (`localhost`, `127.0.0.0/8`, `::1`) are always treated so, as by Docker.
    pub tls_verify: bool,
    /// Credentials to log in with; `None` for anonymous access.
    pub credentials: Option<Credentials>,
    /// The `User-Agent` header.
    pub user_agent: String,
    /// A transfer (blob, manifest, token, upload) fails when no byte moves for this long
    /// (default [`DEFAULT_IDLE_TIMEOUT`]).
    pub idle_timeout: Duration,
    /// The most a small object (the `/v2/` check, a token, a manifest, a tag list, a `HEAD`)
    /// may take in all, whatever trickles in (default twice [`DEFAULT_IDLE_TIMEOUT`]).
    pub deadline: Duration,
}

impl Default for RegistryOptions {
    fn default() -> RegistryOptions {
        RegistryOptions {
            tls_verify: true,
            credentials: None,
            user_agent: concat!("strata/", env!("CARGO_PKG_VERSION")).to_string(),
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            deadline: DEFAULT_IDLE_TIMEOUT * 2,
        }
    }
}

/// A client for one registry host. Cheap to clone: clones share the connection pool, the
/// chosen scheme, the last authentication challenge and the token cache.
#[derive(Clone)]
pub struct RegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    /// The registry as named by the user (`docker.io`, `localhost:5000`).
    host: String,
    /// `host[:port]` we connect to (`registry-1.docker.io` for Docker Hub).
    endpoint: String,
    /// For small objects: the idle timeout and the deadline apply.
    http: reqwest::Client,
    /// For blob downloads: only the idle timeout applies.
    bulk: reqwest::Client,
    /// For streamed uploads: reqwest's read timeout runs from the start of the request, so
    /// it would cut long uploads; [`watched`] measures idleness instead.
    upload: reqwest::Client,
    idle_timeout: Duration,
    deadline: Duration,
    credentials: Option<Credentials>,
    /// Whether falling back to plain HTTP is allowed (loopback or `tls_verify = false`).
    allow_http: bool,
    /// `scheme://endpoint/`, decided by the first request.
    base: OnceCell<Url>,
    /// The registry's latest `WWW-Authenticate` challenge.
    challenge: Mutex<Option<Challenge>>,
    tokens: TokenCache,
}

/// A request the client may send more than once (for authentication and retries).
pub(crate) struct Req<'a> {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: Option<Bytes>,
    /// Token scopes the request needs (`repository:app:pull`).
    pub scopes: &'a [String],
    /// Whether transient failures may be retried (idempotent requests).
    pub retry: bool,
    /// A large body (a blob): only the idle timeout applies, not the small-object deadline.
    pub bulk: bool,
}

impl<'a> Req<'a> {
    /// A bodiless request.
    pub fn new(method: Method, url: Url, scopes: &'a [String]) -> Req<'a> {
        let retry = matches!(method, Method::GET | Method::HEAD | Method::DELETE);
        Req {
            method,
            url,
            headers: HeaderMap::new(),
            body: None,
            scopes,
            retry,
            bulk: false,
        }
    }

    /// Adds a header (values we build are always valid).
    pub fn header(mut self, name: reqwest::header::HeaderName, value: &str) -> Req<'a> {
        if let Ok(v) = HeaderValue::from_str(value) {
            self.headers.insert(name, v);
        }
        self
    }
}

impl RegistryClient {
    /// A client for `host` (`localhost:5000`, `docker.io`, `[::1]:5000`). Nothing is sent
    /// until the first request.
    pub fn new(host: &str, opts: RegistryOptions) -> Result<RegistryClient, TransportError> {
        let host = host.trim().trim_end_matches('/').to_string();
        if host.is_empty() || host.contains('/') || host.contains('@') {
            return Err(TransportError::Invalid {
                what: format!("registry host {host:?}"),
                detail: "expected HOST[:PORT], such as localhost:5000 or docker.io".into(),
            });
        }
        let endpoint = endpoint_for(&host);
        // Docker treats loopback registries as insecure: certificates are not verified and
        // plain HTTP is tried when HTTPS fails.
        let allow_http = !opts.tls_verify || is_loopback(&endpoint);
        let idle = opts.idle_timeout.max(Duration::from_millis(1));
        let deadline = opts.deadline.max(idle);
        let builder = || {
            reqwest::Client::builder()
                .user_agent(opts.user_agent.clone())
                .connect_timeout(Duration::from_secs(15).min(deadline))
                .tls_danger_accept_invalid_certs(allow_http)
        };
        let build = |b: reqwest::ClientBuilder| {
            b.build().map_err(|e| TransportError::Http {
                url: format!("https://{endpoint}/"),
                error: e,
            })
        };
        let http = build(builder().read_timeout(idle).timeout(deadline))?;
        let bulk = build(builder().read_timeout(idle))?;
        let upload = build(builder())?;
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                host,
                endpoint,
                http,
                bulk,
                upload,
                idle_timeout: idle,
                deadline,
                credentials: opts.credentials,
                allow_http,
                base: OnceCell::new(),
                challenge: Mutex::new(None),
                tokens: TokenCache::default(),
            }),
        })
    }

    /// The registry host as given (`docker.io`, `localhost:5000`).
    pub fn host(&self) -> &str {
        &self.inner.host
    }

    /// `scheme://host/` of the API, probing HTTPS (then HTTP where allowed) on first use.
    pub async fn base_url(&self) -> Result<Url, TransportError> {
        self.inner
            .base
            .get_or_try_init(|| self.probe_scheme())
            .await
            .cloned()
    }

    /// Checks that the registry speaks the distribution API and accepts our credentials:
    /// `GET /v2/`, authenticating as asked.
    pub async fn ping(&self) -> Result<(), TransportError> {
        let url = self.url("/v2/").await?;
        let resp = self.send(Req::new(Method::GET, url.clone(), &[])).await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(self.status_error(&Method::GET, &url, resp).await)
        }
    }

    /// A URL on this registry from an absolute path (`/v2/app/tags/list`).
    pub(crate) async fn url(&self, path: &str) -> Result<Url, TransportError> {
        let base = self.base_url().await?;
        base.join(path).map_err(|e| TransportError::Invalid {
            what: format!("URL path {path:?} on {}", self.inner.host),
            detail: e.to_string(),
        })
    }

    /// Resolves a `Location` or `Link` target (relative or absolute) against `base`.
    pub(crate) fn resolve_location(
        &self,
        base: &Url,
        location: &str,
    ) -> Result<Url, TransportError> {
        base.join(location).map_err(|e| TransportError::Invalid {
            what: format!("location {location:?} from {}", self.inner.host),
            detail: e.to_string(),
        })
    }

    async fn probe_scheme(&self) -> Result<Url, TransportError> {
        let https = Url::parse(&format!("https://{}/", self.inner.endpoint)).map_err(|e| {
            TransportError::Invalid {
                what: format!("registry host {:?}", self.inner.host),
                detail: e.to_string(),
            }
        })?;
        // Where plain HTTP is allowed, a TLS failure is expected: fall back at once.
        match self.probe(&https, !self.inner.allow_http).await {
            Ok(()) => Ok(https),
            Err(e) if self.inner.allow_http => {
                let mut http = https.clone();
                let _ = http.set_scheme("http");
                match self.probe(&http, true).await {
                    Ok(()) => {
                        tracing::debug!(registry = %self.inner.host, "using plain HTTP");
                        Ok(http)
                    }
                    // Report the HTTPS failure too: it is usually the interesting one.
                    Err(TransportError::Http { url, error: source }) => Err(TransportError::Http {
                        url: format!("{url} (after HTTPS failed: {e})"),
                        error: source,
                    }),
                    Err(other) => Err(other),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// `GET /v2/` on `base`; any HTTP answer proves the scheme. Remembers a challenge.
    async fn probe(&self, base: &Url, retry: bool) -> Result<(), TransportError> {
        let url = base.join("/v2/").unwrap_or_else(|_| base.clone());
        let mut attempt = Attempt::default();
        loop {
            let started = Instant::now();
            match self.inner.http.get(url.clone()).send().await {
                Ok(resp) => {
                    if resp.status() == StatusCode::UNAUTHORIZED {
                        self.learn_challenge(&resp);
                    }
                    return Ok(());
                }
                Err(e) => {
                    if retry && let Some(d) = attempt.next_after_error(&e) {
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    return Err(self.request_error(&Method::GET, &url, e, false, started));
                }
            }
        }
    }

    fn learn_challenge(&self, resp: &Response) {
        let challenges: Vec<Challenge> = resp
            .headers()
            .get_all(WWW_AUTHENTICATE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(parse_challenges)
            .collect();
        let pick = challenges
            .iter()
            .find(|c| c.scheme == "bearer" && c.param("realm").is_some())
            .or_else(|| challenges.iter().find(|c| c.scheme == "basic"))
            .cloned();
        if let Some(c) = pick {
            *self
                .inner
                .challenge
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(c);
        }
    }

    fn challenge(&self) -> Option<Challenge> {
        self.inner
            .challenge
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn bearer_realm(c: &Challenge) -> Option<BearerRealm> {
        (c.scheme == "bearer").then(|| BearerRealm {
            realm: c.param("realm").unwrap_or_default().to_string(),
            service: c.param("service").map(str::to_string),
        })
    }

    /// Whether `url` is on this registry (credentials never go to another host).
    fn same_host(&self, url: &Url) -> bool {
        match self.inner.base.get() {
            Some(base) => {
                url.host_str() == base.host_str()
                    && url.port_or_known_default() == base.port_or_known_default()
            }
            None => false,
        }
    }

    /// The `Authorization` value for a request to `url` needing `scopes`, if any.
    async fn authorization(
        &self,
        url: &Url,
        scopes: &[String],
    ) -> Result<Option<HeaderValue>, TransportError> {
        if !self.same_host(url) {
            return Ok(None);
        }
        let Some(challenge) = self.challenge() else {
            return Ok(None);
        };
        if let Some(realm) = Self::bearer_realm(&challenge) {
            let h = self
                .inner
                .tokens
                .token(
                    &self.inner.http,
                    &self.inner.host,
                    &realm,
                    scopes,
                    self.inner.credentials.as_ref(),
                )
                .await?;
            return Ok(Some(h));
        }
        if challenge.scheme == "basic" {
            return Ok(basic_header(self.inner.credentials.as_ref()));
        }
        Ok(None)
    }

    /// Whether a fresh attempt after a 401 could succeed.
    fn can_authenticate(&self) -> bool {
        match self.challenge() {
            Some(c) if c.scheme == "bearer" => true,
            Some(c) if c.scheme == "basic" => {
                matches!(self.inner.credentials, Some(Credentials::Basic { .. }))
            }
            _ => false,
        }
    }

    /// Sends a request, authenticating (once more after a 401) and retrying transient
    /// failures when `req.retry`. Returns any response but a final 401; the caller checks
    /// the status.
    pub(crate) async fn send(&self, req: Req<'_>) -> Result<Response, TransportError> {
        let mut attempt = Attempt::default();
        let kind = RequestKind {
            read: matches!(req.method, Method::GET | Method::HEAD),
            idempotent: req.retry,
        };
        let mut refreshed = false;
        loop {
            let http = if req.bulk {
                &self.inner.bulk
            } else {
                &self.inner.http
            };
            let started = Instant::now();
            let mut rb = http
                .request(req.method.clone(), req.url.clone())
                .headers(req.headers.clone());
            if let Some(a) = self.authorization(&req.url, req.scopes).await? {
                rb = rb.header(AUTHORIZATION, a);
            }
            if let Some(b) = &req.body {
                rb = rb.body(b.clone());
            }
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(e) => {
                    if let Some(d) = attempt.next(fault_of(&e), kind, None) {
                        tracing::debug!(url = %req.url, error = %e, "retrying");
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    return Err(self.request_error(&req.method, &req.url, e, req.bulk, started));
                }
            };
            if resp.status() == StatusCode::UNAUTHORIZED && self.same_host(&req.url) {
                self.learn_challenge(&resp);
                if !refreshed && self.can_authenticate() {
                    refreshed = true;
                    if let Some(realm) = self.challenge().as_ref().and_then(Self::bearer_realm) {
                        self.inner.tokens.invalidate(&realm, req.scopes);
                    }
                    continue;
                }
                return Err(self.status_error(&req.method, &req.url, resp).await);
            }
            if !resp.status().is_success()
                && let Some(d) = attempt.next(
                    Fault::Status(resp.status().as_u16()),
                    kind,
                    retry_after(&resp),
                )
            {
                tracing::debug!(url = %req.url, status = %resp.status(), "retrying");
                tokio::time::sleep(d).await;
                continue;
            }
            return Ok(resp);
        }
    }

    /// Sends a request whose body can be sent only once (a streamed blob). Authentication
    /// must already be settled by an earlier request with the same scopes.
    pub(crate) async fn send_once(
        &self,
        method: Method,
        url: &Url,
        headers: HeaderMap,
        body: impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
        scopes: &[String],
    ) -> Result<Response, TransportError> {
        let auth = self.authorization(url, scopes).await?;
        let started = Instant::now();
        let (body, idle) = watched(body, self.inner.idle_timeout);
        let mut rb = self
            .inner
            .upload
            .request(method.clone(), url.clone())
            .headers(headers)
            .body(body);
        if let Some(a) = auth {
            rb = rb.header(AUTHORIZATION, a);
        }
        let resp = tokio::select! {
            r = rb.send() => r.map_err(|e| self.request_error(&method, url, e, true, started))?,
            () = idle => return Err(self.timed_out(url, true, started)),
        };
        if resp.status() == StatusCode::UNAUTHORIZED {
            return Err(self.status_error(&method, url, resp).await);
        }
        Ok(resp)
    }

    /// The error for a request that got no usable answer: a timeout is named as such, with
    /// the registry, the object and the setting to change; anything else keeps reqwest's.
    pub(crate) fn request_error(
        &self,
        method: &Method,
        url: &Url,
        e: reqwest::Error,
        bulk: bool,
        started: Instant,
    ) -> TransportError {
        if e.is_timeout() && !e.is_connect() {
            return self.timed_out(url, bulk, started);
        }
        TransportError::Http {
            url: format!("{method} {url}"),
            error: e,
        }
    }

    /// The error for `url` stalling (no byte for the idle timeout) or, for a small object,
    /// missing its deadline (`started` tells which).
    pub(crate) fn timed_out(&self, url: &Url, bulk: bool, started: Instant) -> TransportError {
        let idle = self.inner.idle_timeout;
        let deadline = self.inner.deadline;
        let detail = if !bulk && started.elapsed() + Duration::from_millis(50) >= deadline {
            format!(
                "not complete within {} (the deadline for small objects, twice the idle \
                 timeout; set {IDLE_TIMEOUT_ENV} to change it)",
                seconds(deadline)
            )
        } else {
            format!(
                "no data for {} (idle timeout; set {IDLE_TIMEOUT_ENV} to change it)",
                seconds(idle)
            )
        };
        TransportError::TimedOut {
            what: object_of(url),
            registry: self.inner.host.clone(),
            detail,
        }
    }

    /// Reads a small response body (a manifest, a tag list) of at most `limit` bytes,
    /// naming a stall or a missed deadline as such.
    pub(crate) async fn read_small(
        &self,
        resp: Response,
        limit: usize,
        what: &str,
    ) -> Result<Bytes, TransportError> {
        let url = resp.url().clone();
        let started = Instant::now();
        match read_limited(resp, limit, what).await {
            Err(TransportError::Http { error: source, .. }) if source.is_timeout() => {
                Err(self.timed_out(&url, false, started))
            }
            other => other,
        }
    }

    /// The error for an unexpected status, with the registry's own message.
    pub(crate) async fn status_error(
        &self,
        method: &Method,
        url: &Url,
        resp: Response,
    ) -> TransportError {
        let status = resp.status().as_u16();
        let detail = error_detail(resp).await;
        match status {
            401 => TransportError::Unauthorized {
                registry: self.inner.host.clone(),
                detail: format!("{method} {url}: 401: {detail}"),
            },
            403 => TransportError::Denied {
                method: method.to_string(),
                url: url.to_string(),
                detail,
            },
            _ => TransportError::Registry {
                method: method.to_string(),
                url: url.to_string(),
                status,
                detail,
            },
        }
    }
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("host", &self.inner.host)
            .field("base", &self.inner.base.get().map(Url::as_str))
            .finish_non_exhaustive()
    }
}

/// Reads a response body, failing once it exceeds `limit` bytes.
pub(crate) async fn read_limited(
    mut resp: Response,
    limit: usize,
    what: &str,
) -> Result<Bytes, TransportError> {
    let url = resp.url().to_string();
    if let Some(len) = resp.content_length()
        && len > limit as u64
    {
        return Err(TransportError::Invalid {
            what: what.to_string(),
            detail: format!("{url} declares {len} bytes; the limit is {limit}"),
        });
    }
    let mut buf = BytesMut::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| TransportError::Http {
        url: url.clone(),
        error: e,
    })? {
        if buf.len() + chunk.len() > limit {
            return Err(TransportError::Invalid {
                what: what.to_string(),
                detail: format!("{url} sent more than {limit} bytes"),
            });
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The registry's explanation of an error response: `CODE: message` for each entry of the
/// distribution spec's `{"errors": [...]}`, else the start of the body, else the status text.
pub(crate) async fn error_detail(resp: Response) -> String {
    let status = resp.status();
    let body = read_limited(resp, 64 * 1024, "error body")
        .await
        .unwrap_or_default();
    let detail = summarize_error_body(&body);
    if detail.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no details")
            .to_string()
    } else {
        detail
    }
}

/// The registry's error body as one printable line (see [`printable`]).
fn summarize_error_body(body: &[u8]) -> String {
    printable(&raw_error_summary(body), 300)
}

fn raw_error_summary(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<ErrorEntry>,
    }
    #[derive(serde::Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
        #[serde(default)]
        detail: Option<serde_json::Value>,
    }
    if let Ok(errs) = serde_json::from_slice::<Errors>(body)
        && !errs.errors.is_empty()
    {
        return errs
            .errors
            .iter()
            .map(|e| {
                let mut s = match (e.code.is_empty(), e.message.is_empty()) {
                    (false, false) => format!("{}: {}", e.code, e.message),
                    (false, true) => e.code.clone(),
                    _ => e.message.clone(),
                };
                match &e.detail {
                    Some(serde_json::Value::String(d)) if !d.is_empty() => {
                        s.push_str(&format!(" ({d})"))
                    }
                    Some(d @ serde_json::Value::Object(_)) => s.push_str(&format!(" ({d})")),
                    _ => {}
                }
                s
            })
            .collect::<Vec<_>>()
            .join("; ");
    }
    String::from_utf8_lossy(body).trim().to_string()
}

impl Attempt {
    /// The delay before retrying a read after a transport error, or `None` to give up
    /// (for callers that send reads themselves: the `/v2/` probe, token requests).
    pub fn next_after_error(&mut self, e: &reqwest::Error) -> Option<Duration> {
        self.next(fault_of(e), READ, None)
    }

    /// The delay before retrying a read after an error status, or `None` to give up.
    pub fn next_after_status(&mut self, resp: &Response) -> Option<Duration> {
        self.next(
            Fault::Status(resp.status().as_u16()),
            READ,
            retry_after(resp),
        )
    }
}

/// A `GET`: retried for every fault worth it.
const READ: RequestKind = RequestKind {
    read: true,
    idempotent: true,
};

/// Sorts a reqwest failure for the retry policy.
fn fault_of(e: &reqwest::Error) -> Fault {
    if crate::error::is_tls_failure(e) {
        // A certificate the client refuses is refused again: no retry.
        Fault::Status(0)
    } else if e.is_timeout() && !e.is_connect() {
        Fault::TimedOut
    } else if e.is_connect() {
        Fault::Connect
    } else if e.is_request() || e.is_body() {
        Fault::Broken
    } else {
        // Redirect loops, undecodable answers: sending again changes nothing.
        Fault::Status(0)
    }
}

/// The server's `Retry-After`, when it sent one we understand.
fn retry_after(resp: &Response) -> Option<Duration> {
    resp.headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

/// `30s`, `1.5s`, `250ms`, for messages.
fn seconds(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// What a registry URL names, for messages: `manifest app:v1`, `blob sha256:…`, `upload of
/// blob sha256:… to app`, `tags of app`, `the API check (/v2/)`; else the URL.
pub(crate) fn object_of(url: &Url) -> String {
    let path = url.path();
    let Some(rest) = path.strip_prefix("/v2/") else {
        return format!("{} (token)", url.as_str().split('?').next().unwrap_or(""));
    };
    if rest.is_empty() {
        return "the API check (/v2/)".to_string();
    }
    if let Some((repo, _)) = rest.split_once("/blobs/uploads") {
        return match url.query_pairs().find(|(k, _)| k == "digest") {
            Some((_, d)) => format!("upload of blob {d} to {repo}"),
            None => format!("upload to {repo}"),
        };
    }
    if let Some((_, digest)) = rest.rsplit_once("/blobs/") {
        return format!("blob {digest}");
    }
    if let Some((repo, reference)) = rest.rsplit_once("/manifests/") {
        let sep = if reference.contains(':') { '@' } else { ':' };
        return format!("manifest {repo}{sep}{reference}");
    }
    if let Some(repo) = rest.strip_suffix("/tags/list") {
        return format!("tags of {repo}");
    }
    path.to_string()
}

/// `Retry-After` in seconds (HTTP dates are rare from registries; they get the backoff).
fn parse_retry_after(v: &str) -> Option<Duration> {
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// Where to connect for a registry name: Docker Hub's API lives on `registry-1.docker.io`;
/// a bare IPv6 address gets brackets.
fn endpoint_for(host: &str) -> String {
    match host {
        "docker.io" | "index.docker.io" => "registry-1.docker.io".to_string(),
        _ if host.parse::<Ipv6Addr>().is_ok() => format!("[{host}]"),
        _ => host.to_string(),
    }
}

/// Whether `endpoint` (`host[:port]`) is `localhost`, `127.0.0.0/8` or `::1`.
fn is_loopback(endpoint: &str) -> bool {
    let host = if let Some(rest) = endpoint.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        endpoint.rsplit_once(':').map_or(endpoint, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for (endpoint, want) in [
            ("localhost", true),
            ("localhost:5000", true),
            ("LOCALHOST:5000", true),
            ("127.0.0.1:5000", true),
            ("127.1.2.3", true),
            ("[::1]:5000", true),
            ("[::1]", true),
            ("10.0.0.1:5000", false),
            ("registry-1.docker.io", false),
            ("localhost.example.com", false),
            ("[2001:db8::1]:5000", false),
        ] {
            assert_eq!(is_loopback(endpoint), want, "{endpoint}");
        }
    }

    #[test]
    fn endpoints() {
        for (host, want) in [
            ("docker.io", "registry-1.docker.io"),
            ("index.docker.io", "registry-1.docker.io"),
            ("localhost:5000", "localhost:5000"),
            ("::1", "[::1]"),
            ("[::1]:5000", "[::1]:5000"),
            ("ghcr.io", "ghcr.io"),
        ] {
            assert_eq!(endpoint_for(host), want, "{host}");
        }
    }

    #[test]
    fn summarizes_error_bodies() {
        for (body, want) in [
            (
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v9"}}]}"#,
                r#"MANIFEST_UNKNOWN: manifest unknown ({"Tag":"v9"})"#,
            ),
            (
                r#"{"errors":[{"code":"DENIED","message":"no"},{"code":"UNAUTHORIZED","message":"who?"}]}"#,
                "DENIED: no; UNAUTHORIZED: who?",
            ),
            (r#"{"errors":[{"code":"BLOB_UNKNOWN"}]}"#, "BLOB_UNKNOWN"),
            ("  plain text error\n", "plain text error"),
            ("", ""),
            (r#"{"errors":[]}"#, r#"{"errors":[]}"#),
            (
                "\x1b[31mred\x1b[0m\0\r\nnext",
                "\\u{1b}[31mred\\u{1b}[0m\\0\\r\\nnext",
            ),
            (
                r#"{"errors":[{"code":"X","message":"\u001b]0;pwned\u0007"}]}"#,
                "X: \\u{1b}]0;pwned\\u{7}",
            ),
        ] {
            assert_eq!(summarize_error_body(body.as_bytes()), want, "{body}");
        }
        let binary: Vec<u8> = (0u8..=255).cycle().take(2000).collect();
        let s = summarize_error_body(&binary);
        assert!(!s.chars().any(char::is_control), "{s:?}");
        assert!(s.ends_with('…'), "{s:?}");
    }

    #[test]
    fn retry_after_values() {
        for (v, want) in [
            ("3", Some(Duration::from_secs(3))),
            (" 0 ", Some(Duration::ZERO)),
            ("Wed, 21 Oct 2015 07:28:00 GMT", None),
            ("", None),
        ] {
            assert_eq!(parse_retry_after(v), want, "{v}");
        }
    }

    #[test]
    fn objects_named_in_messages() {
        for (url, want) in [
            ("http://r/v2/", "the API check (/v2/)"),
            ("http://r/v2/app/manifests/v1", "manifest app:v1"),
            (
                "http://r/v2/a/b/manifests/sha256:ab",
                "manifest a/b@sha256:ab",
            ),
            ("http://r/v2/app/blobs/sha256:ab", "blob sha256:ab"),
            (
                "http://r/v2/app/blobs/uploads/x?digest=sha256:ab",
                "upload of blob sha256:ab to app",
            ),
            ("http://r/v2/app/blobs/uploads/", "upload to app"),
            ("http://r/v2/app/tags/list?n=5", "tags of app"),
            ("http://auth/token?scope=x", "http://auth/token (token)"),
        ] {
            assert_eq!(object_of(&Url::parse(url).unwrap()), want, "{url}");
        }
    }

    #[test]
    fn timeout_durations_in_messages() {
        for (d, want) in [
            (Duration::from_secs(30), "30s"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_millis(1500), "1.5s"),
        ] {
            assert_eq!(seconds(d), want);
        }
    }
}
