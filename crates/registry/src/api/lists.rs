//! Lists: tags (`/v2/<name>/tags/list`), the catalog (`/v2/_catalog`), both paginated,
//! and referrers (`/v2/<name>/referrers/<digest>`).

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::Response;
use oci::media;
use serde_json::json;

use super::App;
use super::response::{ApiResult, builder, finish, query_param};
use crate::error::{ApiError, Code};
use crate::repo::parse_digest;

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

pub(super) async fn tags(app: &App, name: &str, req: &Parts) -> ApiResult {
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

pub(super) async fn catalog(app: &App, req: &Parts) -> ApiResult {
    let all = app.registry.catalog().await?;
    let n = query_param(req, "n");
    let (page, more) = paginate(all, n.as_deref(), query_param(req, "last").as_deref())?;
    let body = json!({ "repositories": page });
    Ok(paged_response("/v2/_catalog", body, &page, more, n))
}

pub(super) async fn referrers(app: &App, name: &str, digest: &str, req: &Parts) -> ApiResult {
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
