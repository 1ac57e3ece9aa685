//! How the object-storage backend talks to its service: bounded retries and connect
//! timeouts, and the URL it names in messages.
//!
//! `object_store`'s defaults retry a failed request ten times for up to three minutes, so
//! a registry on a dead endpoint held every client request for seconds before a 500. Here
//! a request is retried at most [`DEFAULT_MAX_RETRIES`] times with short back-offs, and
//! the whole retry budget stays under [`DEFAULT_RETRY_TIMEOUT`]: a dead backend fails a
//! request in well under 2 s, and the health check (see [`crate::health`]) takes the
//! registry out of service.

use std::time::Duration;

use object_store::{BackoffConfig, ClientOptions, RetryConfig};

use crate::error::StorageError;

/// Retries of one request after its first attempt (option `max_retries`).
pub const DEFAULT_MAX_RETRIES: usize = 2;

/// No retry starts later than this after the first attempt (option `retry_timeout`).
pub const DEFAULT_RETRY_TIMEOUT: Duration = Duration::from_secs(1);

/// How long opening a connection to the service may take (option `connect_timeout`,
/// `object_store`'s own key, which overrides this).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The retry and client settings of one backend.
#[derive(Debug, Clone)]
pub(super) struct Tuning {
    /// Retries and back-off.
    pub retry: RetryConfig,
    /// HTTP client settings; the service options given by the user are applied on top.
    pub client: ClientOptions,
}

impl Tuning {
    /// The defaults, with this module's own options (`max_retries`, `retry_timeout`)
    /// taken out of `options`; the rest are left for the `object_store` builder.
    pub fn take(url: &str, options: &mut Vec<(String, String)>) -> Result<Tuning, StorageError> {
        let mut retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_millis(500),
                base: 2.0,
            },
            max_retries: DEFAULT_MAX_RETRIES,
            retry_timeout: DEFAULT_RETRY_TIMEOUT,
        };
        let bad = |k: &str, v: &str, what: &str| StorageError::Config {
            what: url.to_string(),
            message: format!("{k} {v:?} is not {what}"),
        };
        let mut rest = Vec::with_capacity(options.len());
        for (k, v) in options.drain(..) {
            match k.as_str() {
                "max_retries" => {
                    retry.max_retries = v.parse().map_err(|_| bad(&k, &v, "a number"))?;
                }
                "retry_timeout" => {
                    retry.retry_timeout = crate::config::parse_duration(&v)
                        .map_err(|_| bad(&k, &v, "a duration (like 1s, 500ms)"))?;
                }
                _ => rest.push((k, v)),
            }
        }
        *options = rest;
        let client = ClientOptions::new().with_connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        Ok(Tuning { retry, client })
    }
}

/// `url` without what may be secret in it (user info, a query such as an Azure SAS
/// token), for messages and logs.
pub(super) fn redact(url: &url::Url) -> String {
    let mut u = url.clone();
    // Both fail only for URLs that cannot have user info (not ours), which is fine.
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_options_are_taken_and_checked() {
        let mut opts = vec![
            ("max_retries".to_string(), "0".to_string()),
            ("retry_timeout".to_string(), "250ms".to_string()),
            ("region".to_string(), "x".to_string()),
        ];
        let t = Tuning::take("s3://b", &mut opts).unwrap();
        assert_eq!(t.retry.max_retries, 0);
        assert_eq!(t.retry.retry_timeout, Duration::from_millis(250));
        assert_eq!(opts, vec![("region".to_string(), "x".to_string())]);
        let mut bad = vec![("max_retries".to_string(), "many".to_string())];
        assert!(Tuning::take("s3://b", &mut bad).is_err());
    }

    #[test]
    fn redacted_urls_keep_no_secrets() {
        let u = url::Url::parse("https://me:pw@acct.blob.core.windows.net/c/p?sig=SECRET").unwrap();
        let r = redact(&u);
        assert!(
            !r.contains("pw") && !r.contains("SECRET") && !r.contains("me@"),
            "{r}"
        );
        assert!(r.contains("acct.blob.core.windows.net/c/p"), "{r}");
        assert_eq!(
            redact(&url::Url::parse("s3://bucket/prefix").unwrap()),
            "s3://bucket/prefix"
        );
    }
}
