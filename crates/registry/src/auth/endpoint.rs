//! The built-in token endpoint, `/token`: Docker's token protocol (`GET`, with optional
//! basic credentials) and its OAuth2 form (`POST`, `grant_type=password` or
//! `grant_type=refresh_token`, as `docker login` uses for identity tokens).
//!
//! The endpoint grants the intersection of what is asked and what the access rules
//! permit: asking for more is never an error, the token just grants less. Wrong
//! credentials are answered 401 with a `Basic` challenge.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::access::{ResourceActions, parse_scopes};
use super::{IssuedToken, TokenAuth, parse_basic, unauthorized};
use crate::api::App;
use crate::error::{ApiError, Code};

/// Largest accepted `POST /token` form body.
const FORM_MAX: usize = 64 * 1024;

/// `GET` and `POST /token`.
pub async fn token(State(app): State<Arc<App>>, req: Request) -> Response {
    let Some(t) = app.auth.token().filter(|t| t.serves_endpoint()) else {
        return (StatusCode::NOT_FOUND, "404 page not found\n").into_response();
    };
    let result = match *req.method() {
        Method::GET => token_get(t, req).await,
        Method::POST => token_post(t, req).await,
        _ => Err(
            ApiError::new(Code::Unsupported, "the token endpoint answers GET and POST")
                .into_response(),
        ),
    };
    let mut r = result.unwrap_or_else(|r| r);
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    r
}

fn params(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn bad_credentials(t: &TokenAuth) -> Response {
    unauthorized(
        ApiError::new(Code::Unauthorized, "invalid username or password"),
        &format!("Basic realm=\"{}\"", t.service().replace('"', "")),
    )
}

fn check_service(t: &TokenAuth, service: Option<&str>) -> Result<(), ApiError> {
    match service {
        Some(s) if s != t.service() => Err(ApiError::new(
            Code::Denied,
            format!(
                "this token server issues tokens for {:?}, not {s:?}",
                t.service()
            ),
        )
        .with_status(400)),
        _ => Ok(()),
    }
}

fn json_response(v: Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

fn rfc3339(secs: u64) -> String {
    chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(i64::MAX), 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn log_issued(account: &str, requested: &[ResourceActions], issued: &IssuedToken) {
    let scopes = |list: &[ResourceActions]| {
        list.iter()
            .map(ResourceActions::scope)
            .collect::<Vec<_>>()
            .join(" ")
    };
    tracing::info!(
        account = if account.is_empty() { "<anonymous>" } else { account },
        requested = %scopes(requested),
        granted = %scopes(&issued.access),
        "issued token"
    );
}

async fn token_get(t: &TokenAuth, req: Request) -> Result<Response, Response> {
    let p = params(req.uri().query().unwrap_or(""));
    check_service(t, param(&p, "service")).map_err(IntoResponse::into_response)?;
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let account = match auth.and_then(parse_basic) {
        Some((user, pass)) => {
            if !t.check_password(&user, &pass).await {
                return Err(bad_credentials(t));
            }
            user
        }
        // A malformed or non-basic header is a failed login, not an anonymous request.
        None if auth.is_some_and(|a| !a.trim().is_empty()) => return Err(bad_credentials(t)),
        None => String::new(),
    };
    let (_, mut body) = issue_for(t, &account, &p).map_err(IntoResponse::into_response)?;
    if param(&p, "offline_token") == Some("true") && !account.is_empty() {
        let refresh = t
            .issue_refresh(&account)
            .map_err(|e| ApiError::new(Code::Unknown, e.to_string()).into_response())?;
        body["refresh_token"] = json!(refresh);
    }
    Ok(json_response(body))
}

/// Issues `account` a token for the `scope` parameters of `p`, logs it, and returns it with
/// the response body both token endpoints share.
fn issue_for(
    t: &TokenAuth,
    account: &str,
    p: &[(String, String)],
) -> Result<(IssuedToken, Value), ApiError> {
    let scopes = parse_scopes(
        p.iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.as_str()),
    );
    let issued = t
        .issue(account, &scopes)
        .map_err(|e| ApiError::new(Code::Unknown, e.to_string()))?;
    log_issued(account, &scopes, &issued);
    let body = json!({
        "token": issued.token,
        "access_token": issued.token,
        "expires_in": issued.expires_in,
        "issued_at": rfc3339(issued.issued_at),
    });
    Ok((issued, body))
}

async fn token_post(t: &TokenAuth, req: Request) -> Result<Response, Response> {
    let body: Body = req.into_body();
    let bytes = axum::body::to_bytes(body, FORM_MAX).await.map_err(|e| {
        ApiError::new(
            Code::Unsupported,
            format!("token request body unreadable or over {FORM_MAX} bytes: {e}"),
        )
        .with_status(400)
        .into_response()
    })?;
    let p = params(&String::from_utf8_lossy(&bytes));
    check_service(t, param(&p, "service")).map_err(IntoResponse::into_response)?;
    let grant = param(&p, "grant_type").unwrap_or("");
    let account = match grant {
        "password" => {
            let user = param(&p, "username").unwrap_or("");
            let pass = param(&p, "password").unwrap_or("");
            if user.is_empty() || !t.check_password(user, pass).await {
                return Err(bad_credentials(t));
            }
            user.to_string()
        }
        "refresh_token" => {
            let refresh = param(&p, "refresh_token").unwrap_or("");
            match t.verify_refresh(refresh) {
                Ok(account) if t.has_account(&account) => account,
                Ok(_) | Err(_) => return Err(bad_credentials(t)),
            }
        }
        other => {
            return Err(ApiError::new(
                Code::Unsupported,
                format!("unsupported grant_type {other:?} (password and refresh_token are)"),
            )
            .with_status(400)
            .into_response());
        }
    };
    let (issued, mut body) = issue_for(t, &account, &p).map_err(IntoResponse::into_response)?;
    let granted: Vec<String> = issued.access.iter().map(|a| a.scope()).collect();
    body["scope"] = json!(granted.join(" "));
    if grant == "refresh_token" || param(&p, "access_type") == Some("offline") {
        let refresh = if grant == "refresh_token" {
            param(&p, "refresh_token").unwrap_or("").to_string()
        } else {
            t.issue_refresh(&account)
                .map_err(|e| ApiError::new(Code::Unknown, e.to_string()).into_response())?
        };
        body["refresh_token"] = json!(refresh);
    }
    Ok(json_response(body))
}
