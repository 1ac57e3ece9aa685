//! Upload sessions: `/v2/<name>/blobs/uploads/[<id>]` (start, mount, monolithic push,
//! chunks, close, status, cancel).

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;

use super::App;
use super::response::{
    ApiResult, body_stream, builder, content_length, finish, header_str, query_param,
};
use crate::error::{ApiError, Code, RepoError};
use crate::names;
use crate::repo::parse_digest;

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

pub(super) async fn upload_start(app: &App, name: &str, req: &Parts, body: Body) -> ApiResult {
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

pub(super) async fn upload_patch(
    app: &App,
    name: &str,
    id: &str,
    req: &Parts,
    body: Body,
) -> ApiResult {
    let start = chunk_start(&req.headers)?;
    let size = app
        .registry
        .upload_append(name, id, start, body_stream(body))
        .await?;
    Ok(upload_accepted(StatusCode::ACCEPTED, name, id, size))
}

pub(super) async fn upload_put(
    app: &App,
    name: &str,
    id: &str,
    req: &Parts,
    body: Body,
) -> ApiResult {
    let digest = query_param(req, "digest")
        .ok_or_else(|| ApiError::new(Code::DigestInvalid, "digest query parameter is required"))?;
    let d = parse_digest(&digest)?;
    // The upload must exist before anything else is judged.
    let size = app.registry.upload_size(name, id).await?;
    let start = chunk_start(&req.headers)?;
    if let Some(s) = start
        && s != size
    {
        return Err(RepoError::ChunkOutOfOrder { start: s, size }.into());
    }
    let has_body = content_length(&req.headers) != Some(0);
    let body = has_body.then(|| body_stream(body));
    app.registry.upload_finish(name, id, &d, body).await?;
    Ok(blob_created(name, &d))
}

pub(super) async fn upload_status(app: &App, name: &str, id: &str) -> ApiResult {
    let size = app.registry.upload_size(name, id).await?;
    Ok(upload_accepted(StatusCode::NO_CONTENT, name, id, size))
}

pub(super) async fn upload_cancel(app: &App, name: &str, id: &str) -> ApiResult {
    app.registry.upload_size(name, id).await?;
    app.registry.upload_cancel(name, id).await?;
    Ok(finish(
        builder(StatusCode::NO_CONTENT).header(header::CONTENT_LENGTH, 0),
        Body::empty(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges() {
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
}
