//! Manifests: `GET`/`HEAD`, `PUT` and `DELETE` of `/v2/<name>/manifests/<reference>`.

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

use super::App;
use super::response::{
    ApiResult, body_stream, builder, content_length, finish, header_str, query_params, read_limited,
};
use crate::error::{ApiError, Code, RepoError};
use crate::repo::MANIFEST_MAX;

pub(super) async fn manifest_get(app: &App, name: &str, reference: &str, head: bool) -> ApiResult {
    let m = match &app.proxy {
        Some(p) => p.manifest(name, reference).await?,
        None => app.registry.manifest_get(name, reference).await?,
    };
    if let Some(signed) = app.signed.as_ref().filter(|_| !head) {
        signed.check(&app.registry, name, &m).await?;
    }
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

pub(super) async fn manifest_put(
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
    let bytes = read_limited(body_stream(body), MANIFEST_MAX).await?;
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

pub(super) async fn manifest_delete(app: &App, name: &str, reference: &str) -> ApiResult {
    if !app.registry.manifest_delete(name, reference).await? {
        return Err(RepoError::ManifestUnknown {
            name: name.to_string(),
            reference: reference.to_string(),
        }
        .into());
    }
    Ok(finish(
        builder(StatusCode::ACCEPTED).header(header::CONTENT_LENGTH, 0),
        Body::empty(),
    ))
}
