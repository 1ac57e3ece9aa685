//! The upstream of `strata registry serve --proxy`: the registry crate's
//! [`registry::proxy::Upstream`] over the transport crate's registry client, so the
//! pull-through cache authenticates (basic, bearer tokens), retries and verifies as
//! `strata pull` does.

use std::sync::Arc;

use anyhow::{Context as _, bail};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::future::BoxFuture;
use oci::{Descriptor, Digest};
use registry::proxy::{Upstream, UpstreamBlob, UpstreamError, UpstreamManifest};
use tokio::io::AsyncReadExt;
use transport::credentials::Credentials;
use transport::{ImageSource, RegistryClient, RegistryOptions, RegistrySource, TransportError};

/// How much a blob read asks of the upstream connection at a time.
const READ_CHUNK: usize = 64 * 1024;

/// A registry mirrored by the pull-through cache.
pub struct RegistryUpstream {
    client: RegistryClient,
}

/// Splits `--proxy URL` into the registry host and whether TLS must be verified:
/// `https://host[:port]` (verified), `http://host[:port]` (plain HTTP allowed), or a bare
/// `host[:port]` (HTTPS, with plain HTTP for loopback hosts as Docker does).
pub fn parse_upstream_url(url: &str) -> anyhow::Result<(String, bool)> {
    let url = url.trim();
    let (rest, tls_verify) = if let Some(r) = url.strip_prefix("https://") {
        (r, true)
    } else if let Some(r) = url.strip_prefix("http://") {
        (r, false)
    } else if url.contains("://") {
        bail!("upstream {url:?}: only http:// and https:// URLs are supported");
    } else {
        (url, true)
    };
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains('/') || host.contains('@') || host.contains('?') {
        bail!(
            "upstream {url:?}: expected a registry URL such as https://registry-1.docker.io \
             or http://127.0.0.1:5000 (no path, no user info)"
        );
    }
    Ok((host.to_string(), tls_verify))
}

impl RegistryUpstream {
    /// An upstream at `url` (see [`parse_upstream_url`]), logging in with `credentials`.
    pub fn new(url: &str, credentials: Option<Credentials>) -> anyhow::Result<RegistryUpstream> {
        let (host, tls_verify) = parse_upstream_url(url)?;
        let opts = RegistryOptions {
            tls_verify,
            credentials,
            ..crate::commands::registry::with_timeouts(RegistryOptions::default())?
        };
        let client = RegistryClient::new(&host, opts)
            .with_context(|| format!("opening the upstream registry {url}"))?;
        Ok(RegistryUpstream { client })
    }

    /// The upstream's host, for messages and credential look-ups.
    pub fn host(&self) -> &str {
        self.client.host()
    }

    /// As an `Arc<dyn Upstream>` for [`registry::proxy::ProxyConfig`].
    pub fn into_dyn(self) -> Arc<dyn Upstream> {
        Arc::new(self)
    }

    fn source(&self, name: &str, reference: &str) -> RegistrySource {
        RegistrySource::new(self.client.clone(), name, reference)
    }
}

/// Sorts a transport failure: "does not exist" is `Ok(None)`; content that is not what
/// was asked for is [`UpstreamError::Invalid`]; anything else (network, auth, 5xx) is
/// [`UpstreamError::Unavailable`].
fn classify<T>(what: String, r: Result<T, TransportError>) -> Result<Option<T>, UpstreamError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(TransportError::NotFound { .. }) => Ok(None),
        Err(
            e @ (TransportError::DigestMismatch { .. }
            | TransportError::SizeMismatch { .. }
            | TransportError::Invalid { .. }),
        ) => Err(UpstreamError::Invalid {
            what,
            message: e.to_string(),
        }),
        Err(e) => Err(UpstreamError::Unavailable {
            what,
            message: e.to_string(),
        }),
    }
}

impl Upstream for RegistryUpstream {
    fn manifest<'a>(
        &'a self,
        name: &'a str,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<UpstreamManifest>, UpstreamError>> {
        Box::pin(async move {
            let src = self.source(name, reference);
            let what = format!("manifest {}/{name}:{reference}", self.host());
            let fetched = async {
                let d = src.resolve().await?;
                let bytes = src.manifest(&d).await?;
                Ok::<_, TransportError>(UpstreamManifest {
                    bytes,
                    media_type: d.media_type,
                    digest: d.digest,
                })
            }
            .await;
            classify(what, fetched)
        })
    }

    fn manifest_digest<'a>(
        &'a self,
        name: &'a str,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<Digest>, UpstreamError>> {
        Box::pin(async move {
            let what = format!("manifest {}/{name}:{reference}", self.host());
            let d = self.source(name, reference).resolve().await;
            classify(what, d.map(|d| d.digest))
        })
    }

    fn blob<'a>(
        &'a self,
        name: &'a str,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Option<UpstreamBlob>, UpstreamError>> {
        Box::pin(async move {
            let what = format!("blob {}/{name}@{digest}", self.host());
            let src = self.source(name, &digest.to_string());
            let d = Descriptor::new("application/octet-stream", digest.clone(), 0);
            let Some(reader) = classify(what, src.blob(&d, 0).await)? else {
                return Ok(None);
            };
            let stream = futures::stream::unfold(Some(reader), |reader| async move {
                let mut reader = reader?;
                let mut buf = BytesMut::with_capacity(READ_CHUNK);
                match reader.read_buf(&mut buf).await {
                    Ok(0) => None,
                    Ok(_) => Some((Ok::<Bytes, std::io::Error>(buf.freeze()), Some(reader))),
                    // Stop after an error: the cache discards the transfer.
                    Err(e) => Some((Err(e), None)),
                }
            })
            .boxed();
            // The transport client does not report a blob's length before its body: the
            // cache takes it from the manifest that named the blob, and checks the digest.
            Ok(Some(UpstreamBlob { size: None, stream }))
        })
    }

    fn tags<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, UpstreamError>> {
        Box::pin(async move {
            let what = format!("tags of {}/{name}", self.host());
            classify(what, self.source(name, "latest").tags().await)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_urls() {
        let cases: &[(&str, Option<(&str, bool)>)] = &[
            (
                "https://registry-1.docker.io",
                Some(("registry-1.docker.io", true)),
            ),
            (
                "https://registry-1.docker.io/",
                Some(("registry-1.docker.io", true)),
            ),
            ("http://127.0.0.1:5000", Some(("127.0.0.1:5000", false))),
            ("localhost:5000", Some(("localhost:5000", true))),
            ("http://[::1]:5000", Some(("[::1]:5000", false))),
            ("ftp://x", None),
            ("https://host/path", None),
            ("https://user@host", None),
            ("http://", None),
            ("", None),
        ];
        for (url, want) in cases {
            let got = parse_upstream_url(url).ok();
            let got = got.as_ref().map(|(h, t)| (h.as_str(), *t));
            assert_eq!(got, *want, "{url}");
        }
    }
}
