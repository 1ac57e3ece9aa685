//! Bearer tokens (Docker's token protocol and OAuth2 refresh tokens) and their cache.
//!
//! Flow, as Docker's: a 401 names a realm and service; we ask the realm for a token for the
//! scopes the request needs (`repository:app:pull,push`), sending basic credentials if we
//! have them, or exchange an identity token with `POST realm` (`grant_type=refresh_token`).
//! Tokens are cached per scope set until shortly before they expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::header::HeaderValue;
use url::Url;

use crate::TransportError;
use crate::credentials::Credentials;
use crate::registry::client::{Attempt, IDLE_TIMEOUT_ENV, error_detail, read_limited};

/// The OAuth2 client id we present when exchanging refresh tokens.
const CLIENT_ID: &str = "strata";

/// How long a token lives when the server does not say (the token spec's default).
const DEFAULT_EXPIRY: Duration = Duration::from_secs(60);

/// A bearer challenge's realm and service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BearerRealm {
    pub realm: String,
    pub service: Option<String>,
}

#[derive(Clone)]
struct CachedToken {
    header: HeaderValue,
    expires: Instant,
}

/// Tokens by scope set.
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<String, CachedToken>>,
    /// Held while fetching, so parallel requests needing the same token wait for one fetch.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

fn cache_key(realm: &BearerRealm, scopes: &[String]) -> String {
    let mut s: Vec<&str> = scopes.iter().map(String::as_str).collect();
    s.sort_unstable();
    s.dedup();
    format!(
        "{}\n{}\n{}",
        realm.realm,
        realm.service.as_deref().unwrap_or(""),
        s.join(" ")
    )
}

impl TokenCache {
    /// A valid cached token for these scopes.
    pub fn get(&self, realm: &BearerRealm, scopes: &[String]) -> Option<HeaderValue> {
        let key = cache_key(realm, scopes);
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens
            .get(&key)
            .filter(|t| t.expires > Instant::now())
            .map(|t| t.header.clone())
    }

    /// Forgets the token for these scopes (the registry refused it).
    pub fn invalidate(&self, realm: &BearerRealm, scopes: &[String]) {
        let key = cache_key(realm, scopes);
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.remove(&key);
    }

    fn put(&self, realm: &BearerRealm, scopes: &[String], token: CachedToken) {
        let key = cache_key(realm, scopes);
        let mut tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        tokens.retain(|_, t| t.expires > Instant::now());
        tokens.insert(key, token);
    }

    /// A cached token, or a new one from the realm.
    pub async fn token(
        &self,
        http: &reqwest::Client,
        registry: &str,
        realm: &BearerRealm,
        scopes: &[String],
        credentials: Option<&Credentials>,
    ) -> Result<HeaderValue, TransportError> {
        if let Some(h) = self.get(realm, scopes) {
            return Ok(h);
        }
        let _fetching = self.fetching.lock().await;
        if let Some(h) = self.get(realm, scopes) {
            return Ok(h);
        }
        let (value, lifetime) = fetch_token(http, registry, realm, scopes, credentials).await?;
        let header = HeaderValue::from_str(&format!("Bearer {value}")).map_err(|_| {
            TransportError::Invalid {
                what: format!("token from {}", realm.realm),
                detail: "the token contains characters not allowed in a header".into(),
            }
        })?;
        // Renew a little early so a token does not expire between check and use.
        let margin = (lifetime / 10).min(Duration::from_secs(10));
        self.put(
            realm,
            scopes,
            CachedToken {
                header: header.clone(),
                expires: Instant::now() + lifetime - margin,
            },
        );
        Ok(header)
    }
}

/// The largest token response read.
const MAX_TOKEN_RESPONSE: usize = 1 << 20;

/// The error for a token request that got no usable answer; a timeout says so, and how to
/// change it.
fn token_error(registry: &str, url: &Url, e: reqwest::Error) -> TransportError {
    if e.is_timeout() && !e.is_connect() {
        let mut realm = url.clone();
        realm.set_query(None);
        return TransportError::TimedOut {
            what: format!("token from {realm}"),
            registry: registry.to_string(),
            detail: format!(
                "no answer in time (idle timeout or small-object deadline; set \
                 {IDLE_TIMEOUT_ENV} to change them)"
            ),
        };
    }
    TransportError::Http {
        url: url.to_string(),
        error: e,
    }
}

/// Asks the realm for a token; returns it with its lifetime.
async fn fetch_token(
    http: &reqwest::Client,
    registry: &str,
    realm: &BearerRealm,
    scopes: &[String],
    credentials: Option<&Credentials>,
) -> Result<(String, Duration), TransportError> {
    let mut url = Url::parse(&realm.realm).map_err(|e| TransportError::Invalid {
        what: format!("{registry}: WWW-Authenticate realm {:?}", realm.realm),
        detail: e.to_string(),
    })?;
    let refresh = match credentials {
        Some(Credentials::IdentityToken(t)) => Some(t.as_str()),
        _ => None,
    };
    let basic = match credentials {
        Some(Credentials::Basic { username, password }) => Some((username, password)),
        _ => None,
    };
    let method = if refresh.is_some() { "POST" } else { "GET" };
    if refresh.is_none() {
        let mut q = url.query_pairs_mut();
        if let Some(s) = &realm.service {
            q.append_pair("service", s);
        }
        for s in scopes {
            q.append_pair("scope", s);
        }
        if let Some((username, _)) = basic {
            q.append_pair("account", username);
        }
    }
    let mut attempt = Attempt::default();
    loop {
        let req = if let Some(refresh) = refresh {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "refresh_token")
                .append_pair("refresh_token", refresh)
                .append_pair("client_id", CLIENT_ID);
            if let Some(s) = &realm.service {
                form.append_pair("service", s);
            }
            if !scopes.is_empty() {
                form.append_pair("scope", &scopes.join(" "));
            }
            http.post(url.clone())
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(form.finish())
        } else {
            let req = http.get(url.clone());
            match basic {
                Some((u, p)) => req.basic_auth(u, Some(p)),
                None => req,
            }
        };
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                if let Some(delay) = attempt.next_after_error(&e) {
                    tokio::time::sleep(delay).await;
                    continue;
                }
                return Err(token_error(registry, &url, e));
            }
        };
        let status = resp.status();
        if status.is_success() {
            // A token response is small: a registry sending more is refused, not read on.
            let body = match read_limited(resp, MAX_TOKEN_RESPONSE, "token response").await {
                Err(TransportError::Http { error: source, .. }) => {
                    return Err(token_error(registry, &url, source));
                }
                other => other?,
            };
            let parsed: TokenResponse =
                serde_json::from_slice(&body).map_err(|e| TransportError::Invalid {
                    what: format!("token response from {method} {url}"),
                    detail: e.to_string(),
                })?;
            let token = parsed
                .access_token
                .filter(|t| !t.is_empty())
                .or(parsed.token.filter(|t| !t.is_empty()))
                .ok_or_else(|| TransportError::Invalid {
                    what: format!("token response from {method} {url}"),
                    detail: "neither `token` nor `access_token` is set".into(),
                })?;
            let lifetime = parsed
                .expires_in
                .filter(|s| *s > 0)
                .map(Duration::from_secs)
                .unwrap_or(DEFAULT_EXPIRY);
            return Ok((token, lifetime));
        }
        if let Some(delay) = attempt.next_after_status(&resp) {
            tokio::time::sleep(delay).await;
            continue;
        }
        let code = status.as_u16();
        let detail = error_detail(resp).await;
        return Err(match code {
            401 | 403 => TransportError::Unauthorized {
                registry: registry.to_string(),
                detail: format!("token server {method} {url}: {code}: {detail}"),
            },
            _ => TransportError::Registry {
                method: method.to_string(),
                url: url.to_string(),
                status: code,
                detail,
            },
        });
    }
}

/// `Authorization: Basic …` for credentials that have a password.
pub(crate) fn basic_header(credentials: Option<&Credentials>) -> Option<HeaderValue> {
    use base64::Engine;
    match credentials {
        Some(Credentials::Basic { username, password }) => {
            let enc =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            HeaderValue::from_str(&format!("Basic {enc}")).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_key_ignores_scope_order_and_duplicates() {
        let r = BearerRealm {
            realm: "https://t".into(),
            service: Some("s".into()),
        };
        let a = cache_key(
            &r,
            &["repository:a:pull".into(), "repository:b:pull".into()],
        );
        let b = cache_key(
            &r,
            &[
                "repository:b:pull".into(),
                "repository:a:pull".into(),
                "repository:a:pull".into(),
            ],
        );
        assert_eq!(a, b);
        assert_ne!(a, cache_key(&r, &["repository:a:pull".into()]));
    }

    #[test]
    fn cached_tokens_expire() {
        let r = BearerRealm {
            realm: "https://t".into(),
            service: None,
        };
        let scopes = vec!["repository:a:pull".to_string()];
        let cache = TokenCache::default();
        cache.put(
            &r,
            &scopes,
            CachedToken {
                header: HeaderValue::from_static("Bearer x"),
                expires: Instant::now() + Duration::from_secs(30),
            },
        );
        assert!(cache.get(&r, &scopes).is_some());
        cache.put(
            &r,
            &scopes,
            CachedToken {
                header: HeaderValue::from_static("Bearer y"),
                expires: Instant::now(),
            },
        );
        assert!(cache.get(&r, &scopes).is_none());
        cache.invalidate(&r, &scopes);
        assert!(cache.get(&r, &scopes).is_none());
    }
}
