//! The `/v2/` HTTP API of the distribution spec, on axum.
//!
//! Repository names contain slashes, so one catch-all route takes every `/v2/...` path and
//! [`Route::parse`] reads it from the right (`.../manifests/<ref>`, `.../blobs/<digest>`,
//! `.../blobs/uploads/<id>`, `.../tags/list`, `.../referrers/<digest>`), as distribution
//! does. Responses carry the spec's status codes and headers; errors are JSON bodies with
//! the spec's codes.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, TryStreamExt};
use oci::media;
use serde_json::json;

use crate::auth::Guard;
use crate::error::{ApiError, Code};
use crate::names;
use crate::repo::{self, MANIFEST_MAX, Registry, parse_digest};
use crate::storage::ByteStream;

/// What the handlers share.
#[derive(Debug)]
pub struct App {
    /// The content.
    pub registry: Registry,
    /// Authentication: anonymous, basic or token.
    pub auth: Guard,
    /// The pull-through cache, when the server mirrors an upstream registry.
    pub proxy: Option<crate::proxy::Proxy>,
}

/// A parsed `/v2/` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags {
        /// Repository.
        name: String,
    },
    /// `/v2/<name>/manifests/<reference>`
    Manifest {
        /// Repository.
        name: String,
        /// Tag or digest.
        reference: String,
    },
    /// `/v2/<name>/blobs/<digest>`
    Blob {
        /// Repository.
        name: String,
        /// Digest (unparsed).
        digest: String,
    },
    /// `/v2/<name>/blobs/uploads/`
    UploadStart {
        /// Repository.
        name: String,
    },
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload {
        /// Repository.
        name: String,
        /// Session id.
        id: String,
    },
    /// `/v2/<name>/referrers/<digest>`
    Referrers {
        /// Repository.
        name: String,
        /// Subject digest (unparsed).
        digest: String,
    },
}

impl Route {
    /// Parses the part of a path after `/v2/`. `None` is a path the API does not have;
    /// an invalid repository name is 400 `NAME_INVALID`.
    pub fn parse(path: &str) -> Result<Option<Route>, ApiError> {
        if path == "_catalog" {
            return Ok(Some(Route::Catalog));
        }
        let segs: Vec<&str> = path.split('/').collect();
        let n = segs.len();
        let name_of = |k: usize| -> Result<String, ApiError> {
            let name = segs[..n - k].join("/");
            if names::valid_name(&name) {
                Ok(name)
            } else {
                Err(ApiError::new(
                    Code::NameInvalid,
                    format!("invalid repository name {name:?}"),
                ))
            }
        };
        if n >= 3 && segs[n - 2] == "tags" && segs[n - 1] == "list" {
            return Ok(Some(Route::Tags { name: name_of(2)? }));
        }
        if n >= 4 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads" {
            let name = name_of(3)?;
            return Ok(Some(if segs[n - 1].is_empty() {
                Route::UploadStart { name }
            } else {
                Route::Upload {
                    name,
                    id: segs[n - 1].to_string(),
                }
            }));
        }
        if n >= 3 && segs[n - 2] == "blobs" && segs[n - 1] == "uploads" {
            return Ok(Some(Route::UploadStart { name: name_of(2)? }));
        }
        if n >= 3 && !segs[n - 1].is_empty() {
            let last = segs[n - 1].to_string();
            match segs[n - 2] {
                "manifests" => {
                    return Ok(Some(Route::Manifest {
                        name: name_of(2)?,
                        reference: last,
                    }));
                }
                "blobs" => {
                    return Ok(Some(Route::Blob {
                        name: name_of(2)?,
                        digest: last,
                    }));
                }
                "referrers" => {
                    return Ok(Some(Route::Referrers {
                        name: name_of(2)?,
                        digest: last,
                    }));
                }
                _ => {}
            }
        }
        Ok(None)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        if status.is_server_error() {
            tracing::error!(code = self.code.as_str(), "{}", self.message);
        }
        // A 500 is a failure inside the registry (mostly of its storage): its message names
        // backend endpoints, bucket keys and driver errors, which are for the operator's
        // log above, not for clients.
        let internal = status == StatusCode::INTERNAL_SERVER_ERROR;
        let message = if internal {
            INTERNAL_MESSAGE.to_string()
        } else {
            self.message
        };
        let mut e = json!({ "code": self.code.as_str(), "message": message });
        if let Some(d) = self.detail.filter(|_| !internal) {
            e["detail"] = d;
        }
        let body = json!({ "errors": [e] }).to_string();
        (
            status,
            [
                (header::CONTENT_TYPE, "application/json"),
                (
                    header::HeaderName::from_static("docker-distribution-api-version"),
                    "registry/2.0",
                ),
            ],
            body,
        )
            .into_response()
    }
}

/// The message of every 500 answer (the details go to the server's log).
pub const INTERNAL_MESSAGE: &str = "internal server error: see the registry's log";

/// A response builder with the headers every API response carries.
fn builder(status: StatusCode) -> axum::http::response::Builder {
    Response::builder()
        .status(status)
        .header("Docker-Distribution-API-Version", "registry/2.0")
}

fn finish(b: axum::http::response::Builder, body: Body) -> Response {
    b.body(body).unwrap_or_else(|e| {
        ApiError::new(Code::Unknown, format!("building a response: {e}")).into_response()
    })
}

type ApiResult = Result<Response, ApiError>;

fn query_param(req: &Parts, key: &str) -> Option<String> {
    let q = req.uri.query()?;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

fn query_params(req: &Parts, key: &str) -> Vec<String> {
    let Some(q) = req.uri.query() else {
        return Vec::new();
    };
    url::form_urlencoded::parse(q.as_bytes())
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .collect()
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// How much of a refused request body is still read (and discarded), and for how long,
/// so that a client still sending gets the error response instead of a reset connection.
const DRAIN_MAX: u64 = 64 * 1024 * 1024;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(30);

/// A request body that, dropped before its end (a request refused before its body was
/// read), is read on to its end by a spawned task, at most [`DRAIN_MAX`] bytes for at most
/// [`DRAIN_TIME`].
struct DrainOnDrop(Option<axum::body::BodyDataStream>);

impl futures::Stream for DrainOnDrop {
    type Item = Result<bytes::Bytes, axum::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let Some(s) = self.0.as_mut() else {
            return std::task::Poll::Ready(None);
        };
        let r = s.poll_next_unpin(cx);
        if matches!(r, std::task::Poll::Ready(None)) {
            self.0 = None;
        }
        r
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        if let Some(mut s) = self.0.take()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            rt.spawn(async move {
                let _ = tokio::time::timeout(DRAIN_TIME, async {
                    let mut seen = 0u64;
                    while let Some(Ok(c)) = s.next().await {
                        seen += c.len() as u64;
                        if seen > DRAIN_MAX {
                            break;
                        }
                    }
                })
                .await;
            });
        }
    }
}

/// Wraps a request body in [`DrainOnDrop`] (bodiless requests are left alone).
fn drain_on_drop(body: Body) -> Body {
    if axum::body::HttpBody::is_end_stream(&body) {
        return body;
    }
    Body::from_stream(DrainOnDrop(Some(body.into_data_stream())))
}

fn body_stream(body: Body) -> ByteStream<'static> {
    body.into_data_stream()
        .map_err(std::io::Error::other)
        .boxed()
}

/// The base endpoint, `/v2/`.
pub async fn base(State(app): State<Arc<App>>, req: Request) -> Response {
    if let Err(r) = app.auth.authorize(&req, &[]).await {
        return r;
    }
    finish(
        builder(StatusCode::OK).header(header::CONTENT_TYPE, "application/json"),
        Body::from("{}"),
    )
}

/// Every `/v2/<...>` request.
pub async fn dispatch(State(app): State<Arc<App>>, req: Request) -> Response {
    let mut req = req.map(drain_on_drop);
    if let Err(r) = app.auth.authorize_request(&mut req).await {
        return r;
    }
    let path = req.uri().path().to_string();
    let rest = path.strip_prefix("/v2/").unwrap_or("");
    if rest.contains('%') {
        return ApiError::new(
            Code::NameInvalid,
            "escaped characters are not allowed in names",
        )
        .into_response();
    }
    let route = match Route::parse(rest) {
        Ok(Some(r)) => r,
        Ok(None) => {
            return (StatusCode::NOT_FOUND, "404 page not found\n").into_response();
        }
        Err(e) => return e.into_response(),
    };
    let (req, body) = req.into_parts();
    let method = req.method.clone();
    if app.proxy.is_some() && method != Method::GET && method != Method::HEAD {
        return ApiError::new(
            Code::Unsupported,
            "this registry is a pull-through cache: pushes and deletes are not supported",
        )
        .into_response();
    }
    let result = match (route, method) {
        (Route::Catalog, Method::GET) => catalog(&app, &req).await,
        (Route::Tags { name }, Method::GET) => tags(&app, &name, &req).await,
        (Route::Manifest { name, reference }, m) if m == Method::GET || m == Method::HEAD => {
            manifest_get(&app, &name, &reference, m == Method::HEAD).await
        }
        (Route::Manifest { name, reference }, Method::PUT) => {
            manifest_put(&app, &name, &reference, &req, body).await
        }
        (Route::Manifest { name, reference }, Method::DELETE) => {
            manifest_delete(&app, &name, &reference).await
        }
        (Route::Blob { name, digest }, m) if m == Method::GET || m == Method::HEAD => {
            blob_get(&app, &name, &digest, &req, m == Method::HEAD).await
        }
        (Route::Blob { name, digest }, Method::DELETE) => blob_delete(&app, &name, &digest).await,
        (Route::UploadStart { name }, Method::POST) => upload_start(&app, &name, &req, body).await,
        (Route::Upload { name, id }, Method::PATCH) => {
            upload_patch(&app, &name, &id, &req, body).await
        }
        (Route::Upload { name, id }, Method::PUT) => upload_put(&app, &name, &id, &req, body).await,
        (Route::Upload { name, id }, Method::GET) => upload_status(&app, &name, &id).await,
        (Route::Upload { name, id }, Method::DELETE) => upload_cancel(&app, &name, &id).await,
        (Route::Referrers { name, digest }, Method::GET) => {
            referrers(&app, &name, &digest, &req).await
        }
        (_, m) => Err(ApiError::new(
            Code::Unsupported,
            format!("{m} is not supported on this endpoint"),
        )),
    };
    result.unwrap_or_else(IntoResponse::into_response)
}

// ---- blobs -----------------------------------------------------------------------------

/// What a `Range` header asks of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeSpec {
    /// No header, or one not interpreted (several ranges, another unit): the whole blob.
    Whole,
    /// Bytes `.0..=.1`.
    Part(u64, u64),
    /// Nothing of the blob matches: 416.
    Unsatisfiable,
}

/// Parses a `Range: bytes=...` header against a blob of `size`.
fn parse_range(h: Option<&str>, size: u64) -> RangeSpec {
    match parse_range_inner(h, size) {
        Ok(None) => RangeSpec::Whole,
        Ok(Some((a, b))) => RangeSpec::Part(a, b),
        Err(()) => RangeSpec::Unsatisfiable,
    }
}

fn parse_range_inner(h: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = h.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        // A suffix: the last N bytes.
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let Ok(start) = a.parse::<u64>() else {
            return Ok(None);
        };
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            match b.parse::<u64>() {
                Ok(e) => e.min(size.saturating_sub(1)),
                Err(_) => return Ok(None),
            }
        };
        if start >= size || end < start {
            return Err(());
        }
        (start, end)
    };
    Ok(Some((start, end)))
}

async fn blob_get(app: &App, name: &str, digest: &str, req: &Parts, head: bool) -> ApiResult {
    if let Some(p) = &app.proxy
        && let Some(r) = p.blob(name, digest, head).await?
    {
        return Ok(r);
    }
    let d = parse_digest(digest)?;
    let Some(size) = app.registry.blob_size(name, &d).await? else {
        return Err(ApiError::new(
            Code::BlobUnknown,
            format!("blob {d} is not in {name}"),
        ));
    };
    let b = builder(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header("Docker-Content-Digest", d.to_string())
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, format!("\"{d}\""));
    let range = match parse_range(header_str(&req.headers, "range"), size) {
        RangeSpec::Whole => None,
        RangeSpec::Part(a, b) => Some((a, b)),
        RangeSpec::Unsatisfiable => {
            let r = builder(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"));
            return Ok(finish(r, Body::empty()));
        }
    };
    match range {
        None => {
            let b = b.header(header::CONTENT_LENGTH, size);
            if head {
                return Ok(finish(b, Body::empty()));
            }
            let s = app.registry.blob_read(&d, None).await?;
            Ok(finish(b, Body::from_stream(s)))
        }
        Some((start, end)) => {
            let len = end - start + 1;
            let b = b
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_LENGTH, len)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
            if head {
                return Ok(finish(b, Body::empty()));
            }
            let s = app.registry.blob_read(&d, Some(start..end + 1)).await?;
            Ok(finish(b, Body::from_stream(s)))
        }
    }
}

async fn blob_delete(app: &App, name: &str, digest: &str) -> ApiResult {
    let d = parse_digest(digest)?;
    if !app.registry.blob_delete(name, &d).await? {
        return Err(ApiError::new(
            Code::BlobUnknown,
            format!("blob {d} is not in {name}"),
        ));
    }
    Ok(finish(
        builder(StatusCode::ACCEPTED).header(header::CONTENT_LENGTH, 0),
        Body::empty(),
    ))
}

// ---- uploads ---------------------------------------------------------------------------

fn blob_created(name: &str, d: &oci::Digest) -> Response {
    finish(
        builder(StatusCode::CREATED)
            .header(header::LOCATION, format!("/v2/{name}/blobs/{d}"))
            .header("Docker-Content-Digest", d.to_string())
            .header(header::CONTENT_LENGTH, 0),
        Body::empty(),
    )
}

fn upload_accepted(status: StatusCode, name: &str, id: &str, size: u64) -> Response {
    finish(
        builder(status)
            .header(header::LOCATION, format!("/v2/{name}/blobs/uploads/{id}"))
            .header(header::RANGE, format!("0-{}", size.saturating_sub(1)))
            .header("Docker-Upload-UUID", id)
            .header(header::CONTENT_LENGTH, 0),
        Body::empty(),
    )
}

fn content_length(h: &HeaderMap) -> Option<u64> {
    header_str(h, "content-length").and_then(|v| v.trim().parse().ok())
}

async fn upload_start(app: &App, name: &str, req: &Parts, body: Body) -> ApiResult {
    if let Some(mount) = query_param(req, "mount") {
        let d = parse_digest(&mount)?;
        let from = query_param(req, "from");
        if let Some(f) = &from
            && !names::valid_name(f)
        {
            return Err(ApiError::new(
                Code::NameInvalid,
                format!("invalid repository name {f:?} in from="),
            ));
        }
        if app.registry.blob_mount(name, from.as_deref(), &d).await? {
            return Ok(blob_created(name, &d));
        }
        // Not mountable: fall back to an ordinary upload session, as the spec says.
        let id = app.registry.upload_start(name, d.algorithm()).await?;
        return Ok(upload_accepted(StatusCode::ACCEPTED, name, &id, 0));
    }
    if let Some(digest) = query_param(req, "digest") {
        let d = parse_digest(&digest)?;
        let id = app.registry.upload_start(name, d.algorithm()).await?;
        let body = body_stream(body);
        let r = app.registry.upload_finish(name, &id, &d, Some(body)).await;
        if r.is_err() {
            let _ = app.registry.upload_cancel(name, &id).await;
        }
        r?;
        return Ok(blob_created(name, &d));
    }
    let algorithm = match query_param(req, "digest-algorithm").as_deref() {
        None | Some("sha256") => oci::Algorithm::Sha256,
        Some("sha512") => oci::Algorithm::Sha512,
        Some(other) => {
            return Err(ApiError::new(
                Code::DigestInvalid,
                format!("unsupported digest-algorithm {other:?} (sha256 and sha512 are)"),
            ));
        }
    };
    let id = app.registry.upload_start(name, algorithm).await?;
    Ok(upload_accepted(StatusCode::ACCEPTED, name, &id, 0))
}

/// Parses a chunk's `Content-Range` (`<start>-<end>`, optionally with a `bytes ` prefix
/// and a `/total` suffix).
fn parse_content_range(v: &str) -> Option<(u64, u64)> {
    let v = v.trim();
    let v = v.strip_prefix("bytes ").unwrap_or(v).trim();
    let v = v.split('/').next()?;
    let (a, b) = v.split_once('-')?;
    let (a, b) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (b >= a).then_some((a, b))
}

fn chunk_start(h: &HeaderMap) -> Result<Option<u64>, ApiError> {
    let Some(v) = header_str(h, "content-range") else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::new(
            Code::BlobUploadInvalid,
            format!("invalid Content-Range {v:?}"),
        )
        .with_status(416)
    };
    let (start, end) = parse_content_range(v).ok_or_else(invalid)?;
    if let Some(len) = content_length(h)
        && len != end - start + 1
    {
        return Err(invalid());
    }
    Ok(Some(start))
}

async fn upload_patch(app: &App, name: &str, id: &str, req: &Parts, body: Body) -> ApiResult {
    let start = chunk_start(&req.headers)?;
    let size = app
        .registry
        .upload_append(name, id, start, body_stream(body))
        .await?;
    Ok(upload_accepted(StatusCode::ACCEPTED, name, id, size))
}

async fn upload_put(app: &App, name: &str, id: &str, req: &Parts, body: Body) -> ApiResult {
    let digest = query_param(req, "digest")
        .ok_or_else(|| ApiError::new(Code::DigestInvalid, "digest query parameter is required"))?;
    let d = parse_digest(&digest)?;
    // The upload must exist before anything else is judged.
    let size = app.registry.upload_size(name, id).await?;
    let start = chunk_start(&req.headers)?;
    if let Some(s) = start
        && s != size
    {
        return Err(ApiError::new(
            Code::BlobUploadInvalid,
            format!("chunk starts at {s} but the upload holds {size} bytes"),
        )
        .with_status(416));
    }
    let has_body = content_length(&req.headers) != Some(0);
    let body = has_body.then(|| body_stream(body));
    app.registry.upload_finish(name, id, &d, body).await?;
    Ok(blob_created(name, &d))
}

async fn upload_status(app: &App, name: &str, id: &str) -> ApiResult {
    let size = app.registry.upload_size(name, id).await?;
    Ok(upload_accepted(StatusCode::NO_CONTENT, name, id, size))
}

async fn upload_cancel(app: &App, name: &str, id: &str) -> ApiResult {
    app.registry.upload_size(name, id).await?;
    app.registry.upload_cancel(name, id).await?;
    Ok(finish(
        builder(StatusCode::NO_CONTENT).header(header::CONTENT_LENGTH, 0),
        Body::empty(),
    ))
}

// ---- manifests -------------------------------------------------------------------------

async fn manifest_get(app: &App, name: &str, reference: &str, head: bool) -> ApiResult {
    let m = match &app.proxy {
        Some(p) => p.manifest(name, reference).await?,
        None => app.registry.manifest_get(name, reference).await?,
    };
    let b = builder(StatusCode::OK)
        .header(header::CONTENT_TYPE, m.media_type.as_str())
        .header("Docker-Content-Digest", m.digest.to_string())
        .header(header::ETAG, format!("\"{}\"", m.digest))
        .header(header::CONTENT_LENGTH, m.bytes.len());
    Ok(finish(
        b,
        if head {
            Body::empty()
        } else {
            Body::from(m.bytes)
        },
    ))
}

async fn manifest_put(
    app: &App,
    name: &str,
    reference: &str,
    req: &Parts,
    body: Body,
) -> ApiResult {
    if let Some(len) = content_length(&req.headers)
        && len > MANIFEST_MAX
    {
        return Err(ApiError::new(
            Code::SizeInvalid,
            format!("manifest of {len} bytes is larger than the {MANIFEST_MAX}-byte limit"),
        )
        .with_status(413));
    }
    let content_type = header_str(&req.headers, "content-type").map(str::to_string);
    let extra_tags = query_params(req, "tag");
    if !extra_tags.is_empty() && !reference.contains(':') {
        return Err(ApiError::new(
            Code::Unsupported,
            "tag parameters are only accepted on a push by digest",
        )
        .with_status(400));
    }
    let bytes = repo::read_limited(body_stream(body), MANIFEST_MAX).await?;
    let put = app
        .registry
        .manifest_put(name, reference, content_type.as_deref(), bytes, &extra_tags)
        .await?;
    let mut b = builder(StatusCode::CREATED)
        .header(
            header::LOCATION,
            format!("/v2/{name}/manifests/{}", put.digest),
        )
        .header("Docker-Content-Digest", put.digest.to_string())
        .header(header::CONTENT_LENGTH, 0);
    if let Some(s) = put.subject {
        b = b.header("OCI-Subject", s.to_string());
    }
    for t in &extra_tags {
        b = b.header("OCI-Tag", t.as_str());
    }
    Ok(finish(b, Body::empty()))
}

async fn manifest_delete(app: &App, name: &str, reference: &str) -> ApiResult {
    if !app.registry.manifest_delete(name, reference).await? {
        return Err(ApiError::new(
            Code::ManifestUnknown,
            format!("manifest {name}:{reference} is unknown"),
        ));
    }
    Ok(finish(
        builder(StatusCode::ACCEPTED).header(header::CONTENT_LENGTH, 0),
        Body::empty(),
    ))
}

// ---- lists -----------------------------------------------------------------------------

/// Applies `n` and `last` to a sorted list; returns the page and whether more follow.
fn paginate(
    all: Vec<String>,
    n: Option<&str>,
    last: Option<&str>,
) -> Result<(Vec<String>, bool), ApiError> {
    let n = match n {
        None => None,
        Some(s) => Some(s.parse::<usize>().map_err(|_| {
            ApiError::new(
                Code::Unsupported,
                format!("n={s:?} is not a non-negative number"),
            )
            .with_status(400)
        })?),
    };
    let mut items: Vec<String> = match last {
        Some(l) => all.into_iter().filter(|t| t.as_str() > l).collect(),
        None => all,
    };
    let more = matches!(n, Some(n) if items.len() > n);
    if let Some(n) = n {
        items.truncate(n);
    }
    Ok((items, more))
}

fn paged_response(
    path: &str,
    body: serde_json::Value,
    page: &[String],
    more: bool,
    n: Option<String>,
) -> Response {
    let mut b = builder(StatusCode::OK).header(header::CONTENT_TYPE, "application/json");
    if more && let (Some(n), Some(last)) = (n, page.last()) {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("n", &n)
            .append_pair("last", last)
            .finish();
        b = b.header(header::LINK, format!("<{path}?{q}>; rel=\"next\""));
    }
    finish(b, Body::from(body.to_string()))
}

async fn tags(app: &App, name: &str, req: &Parts) -> ApiResult {
    if app.proxy.is_none() && !app.registry.repository_exists(name).await? {
        return Err(ApiError::new(
            Code::NameUnknown,
            format!("repository {name} is not known"),
        ));
    }
    let all = match &app.proxy {
        Some(p) => p.tags(name).await?,
        None => app.registry.tags(name).await?,
    };
    let n = query_param(req, "n");
    let (page, more) = paginate(all, n.as_deref(), query_param(req, "last").as_deref())?;
    let body = json!({ "name": name, "tags": page });
    Ok(paged_response(
        &format!("/v2/{name}/tags/list"),
        body,
        &page,
        more,
        n,
    ))
}

async fn catalog(app: &App, req: &Parts) -> ApiResult {
    let all = app.registry.catalog().await?;
    let n = query_param(req, "n");
    let (page, more) = paginate(all, n.as_deref(), query_param(req, "last").as_deref())?;
    let body = json!({ "repositories": page });
    Ok(paged_response("/v2/_catalog", body, &page, more, n))
}

async fn referrers(app: &App, name: &str, digest: &str, req: &Parts) -> ApiResult {
    let d = parse_digest(digest)?;
    let filter = query_param(req, "artifactType");
    let list = app.registry.referrers(name, &d, filter.as_deref()).await?;
    let body = json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_INDEX,
        "manifests": list,
    });
    let mut b = builder(StatusCode::OK).header(header::CONTENT_TYPE, media::OCI_INDEX);
    if filter.is_some() {
        b = b.header("OCI-Filters-Applied", "artifactType");
    }
    Ok(finish(b, Body::from(body.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let m = |n: &str, r: &str| {
            Some(Route::Manifest {
                name: n.into(),
                reference: r.into(),
            })
        };
        let cases: Vec<(&str, Option<Route>)> = vec![
            ("_catalog", Some(Route::Catalog)),
            ("a/tags/list", Some(Route::Tags { name: "a".into() })),
            ("a/b/manifests/latest", m("a/b", "latest")),
            ("manifests/manifests/x", m("manifests", "x")),
            (
                "a/manifests/b/manifests/sha256:x",
                m("a/manifests/b", "sha256:x"),
            ),
            (
                "a/blobs/sha256:x",
                Some(Route::Blob {
                    name: "a".into(),
                    digest: "sha256:x".into(),
                }),
            ),
            (
                "a/blobs/uploads/",
                Some(Route::UploadStart { name: "a".into() }),
            ),
            (
                "a/blobs/uploads",
                Some(Route::UploadStart { name: "a".into() }),
            ),
            (
                "a/blobs/uploads/abc",
                Some(Route::Upload {
                    name: "a".into(),
                    id: "abc".into(),
                }),
            ),
            (
                "x/y/referrers/sha256:1",
                Some(Route::Referrers {
                    name: "x/y".into(),
                    digest: "sha256:1".into(),
                }),
            ),
            ("a/manifests/", None),
            ("a", None),
            ("a/other/thing", None),
        ];
        for (p, want) in cases {
            assert_eq!(Route::parse(p).unwrap(), want, "{p}");
        }
        for bad in [
            "../manifests/x",
            "a/../../b/manifests/x",
            "A/manifests/x",
            "a//b/blobs/uploads/",
            "/manifests/x",
            "a/./b/tags/list",
        ] {
            let e = Route::parse(bad).unwrap_err();
            assert_eq!(e.code, Code::NameInvalid, "{bad}");
        }
    }

    #[test]
    fn ranges() {
        use RangeSpec::*;
        let cases: &[(Option<&str>, u64, RangeSpec)] = &[
            (None, 10, Whole),
            (Some("bytes=0-4"), 10, Part(0, 4)),
            (Some("bytes=5-"), 10, Part(5, 9)),
            (Some("bytes=5-100"), 10, Part(5, 9)),
            (Some("bytes=-3"), 10, Part(7, 9)),
            (Some("bytes=-30"), 10, Part(0, 9)),
            (Some("bytes=10-"), 10, Unsatisfiable),
            (Some("bytes=4-2"), 10, Unsatisfiable),
            (Some("bytes=-0"), 10, Unsatisfiable),
            (Some("bytes=0-1,3-4"), 10, Whole),
            (Some("items=0-1"), 10, Whole),
            (Some("bytes=x-1"), 10, Whole),
        ];
        for (h, size, want) in cases {
            assert_eq!(parse_range(*h, *size), *want, "{h:?}");
        }
        let cr: &[(&str, Option<(u64, u64)>)] = &[
            ("0-9", Some((0, 9))),
            ("bytes 10-19/100", Some((10, 19))),
            ("5-4", None),
            ("x", None),
        ];
        for (v, want) in cr {
            assert_eq!(parse_content_range(v), *want, "{v}");
        }
    }

    #[test]
    fn pagination() {
        let all: Vec<String> = ["a", "b", "c", "d"].iter().map(|s| s.to_string()).collect();
        let p = |n, l| paginate(all.clone(), n, l).unwrap();
        assert_eq!(p(None, None), (all.clone(), false));
        assert_eq!(p(Some("2"), None), (vec!["a".into(), "b".into()], true));
        assert_eq!(
            p(Some("2"), Some("b")),
            (vec!["c".into(), "d".into()], false)
        );
        assert_eq!(p(Some("0"), None), (vec![], true));
        assert_eq!(p(None, Some("c")), (vec!["d".into()], false));
        assert!(paginate(all, Some("-1"), None).is_err());
    }
}
