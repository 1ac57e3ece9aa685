//! The `/v2/` HTTP API of the distribution spec, on axum.
//!
//! Repository names contain slashes, so one catch-all route takes every `/v2/...` path and
//! [`Route::parse`] reads it from the right (`.../manifests/<ref>`, `.../blobs/<digest>`,
//! `.../blobs/uploads/<id>`, `.../tags/list`, `.../referrers/<digest>`), as distribution
//! does. Responses carry the spec's status codes and headers; errors are JSON bodies with
//! the spec's codes.

mod blobs;
mod errors;
mod lists;
mod manifests;
mod response;
mod route;
mod uploads;

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub use response::INTERNAL_MESSAGE;
pub use route::Route;

use crate::auth::Guard;
use crate::error::{ApiError, Code};
use crate::repo::Registry;
use blobs::{blob_delete, blob_get};
use lists::{catalog, referrers, tags};
use manifests::{manifest_delete, manifest_get, manifest_put};
use response::{builder, drain_on_drop, finish};
use uploads::{upload_cancel, upload_patch, upload_put, upload_start, upload_status};

/// What the handlers share.
#[derive(Debug)]
pub struct App {
    /// The content.
    pub registry: Registry,
    /// Authentication: anonymous, basic or token.
    pub auth: Guard,
    /// The pull-through cache, when the server mirrors an upstream registry.
    pub proxy: Option<crate::proxy::Proxy>,
    /// Repositories that serve only signed manifests.
    pub signed: Option<Arc<crate::signed::SignedPulls>>,
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
