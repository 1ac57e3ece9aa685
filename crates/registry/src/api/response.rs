//! What every handler shares: the error body, the headers every answer carries, query and
//! header helpers, and request bodies (read with a limit, drained when refused).

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use serde_json::json;

use crate::error::{ApiError, Code};
use crate::storage::ByteStream;

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
pub(super) fn builder(status: StatusCode) -> axum::http::response::Builder {
    Response::builder()
        .status(status)
        .header("Docker-Distribution-API-Version", "registry/2.0")
}

pub(super) fn finish(b: axum::http::response::Builder, body: Body) -> Response {
    b.body(body).unwrap_or_else(|e| {
        ApiError::new(Code::Unknown, format!("building a response: {e}")).into_response()
    })
}

/// What a handler returns.
pub(super) type ApiResult = Result<Response, ApiError>;

pub(super) fn query_param(req: &Parts, key: &str) -> Option<String> {
    let q = req.uri.query()?;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

pub(super) fn query_params(req: &Parts, key: &str) -> Vec<String> {
    let Some(q) = req.uri.query() else {
        return Vec::new();
    };
    url::form_urlencoded::parse(q.as_bytes())
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .collect()
}

pub(super) fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
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
pub(super) fn drain_on_drop(body: Body) -> Body {
    if axum::body::HttpBody::is_end_stream(&body) {
        return body;
    }
    Body::from_stream(DrainOnDrop(Some(body.into_data_stream())))
}

pub(super) fn body_stream(body: Body) -> ByteStream<'static> {
    body.into_data_stream()
        .map_err(std::io::Error::other)
        .boxed()
}

pub(super) fn content_length(h: &HeaderMap) -> Option<u64> {
    header_str(h, "content-length").and_then(|v| v.trim().parse().ok())
}

/// Reads a request body of at most `limit` bytes; a longer one is 413 `SIZE_INVALID`.
pub async fn read_limited(mut body: ByteStream<'_>, limit: u64) -> Result<Bytes, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::new(Code::ManifestInvalid, format!("reading the body: {e}")))?;
        if (buf.len() + chunk.len()) as u64 > limit {
            return Err(ApiError::new(
                Code::SizeInvalid,
                format!("body is larger than the {limit}-byte limit"),
            )
            .with_status(413));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}
