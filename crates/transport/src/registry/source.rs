//! Reading an image from a registry.

use std::sync::Mutex;

use bytes::Bytes;
use futures::TryStreamExt;
use oci::{Descriptor, Digest};
use reqwest::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, LINK, RANGE};
use reqwest::{Method, StatusCode};
use tokio_util::io::StreamReader;

use crate::registry::client::Req;
use crate::registry::{DIGEST_HEADER, MAX_MANIFEST_SIZE, RegistryClient, repository_path};
use crate::{BlobStream, ImageSource, TransportError};

/// An image in a registry repository, by tag or digest.
///
/// `resolve` asks for the manifest with `HEAD` (falling back to `GET` when the registry
/// leaves out the digest, type or length), keeping the bytes when it had to `GET` them so
/// `manifest` does not fetch twice. Blobs stream straight from the response body and follow
/// redirects to other hosts (storage back ends), which never see our credentials.
#[derive(Debug)]
pub struct RegistrySource {
    client: RegistryClient,
    repo: String,
    reference: String,
    scopes: Vec<String>,
    /// The manifest `resolve` fetched with `GET`, if it did.
    fetched: Mutex<Option<(Digest, Bytes)>>,
}

impl RegistrySource {
    /// The image `repo` (`library/ubuntu`, `app`) at `reference`, a tag (`v1`) or a digest
    /// (`sha256:…`). On Docker Hub a one-part name gets the `library/` prefix.
    pub fn new(
        client: RegistryClient,
        repo: impl Into<String>,
        reference: impl Into<String>,
    ) -> RegistrySource {
        let repo = repository_path(client.host(), &repo.into());
        let scopes = vec![format!("repository:{repo}:pull")];
        RegistrySource {
            client,
            repo,
            reference: reference.into(),
            scopes,
            fetched: Mutex::new(None),
        }
    }

    /// The image a parsed reference names (its digest when it has one, else its tag). The
    /// client should be for `r.domain()`.
    pub fn from_reference(client: RegistryClient, r: &oci::Reference) -> RegistrySource {
        let reference = match (r.digest(), r.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_string(),
        };
        RegistrySource::new(client, r.path(), reference)
    }

    /// The repository path on the registry.
    pub fn repository(&self) -> &str {
        &self.repo
    }

    /// Every tag of the repository, following `Link` pagination.
    pub async fn tags(&self) -> Result<Vec<String>, TransportError> {
        self.tags_paged(1000).await
    }

    /// Every tag, asking for `page_size` at a time (`n`), following the `Link: <…>;
    /// rel="next"` header, or `last=` when a registry truncates without one.
    pub async fn tags_paged(&self, page_size: usize) -> Result<Vec<String>, TransportError> {
        #[derive(serde::Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let mut url = self
            .client
            .url(&format!("/v2/{}/tags/list", self.repo))
            .await?;
        url.query_pairs_mut()
            .append_pair("n", &page_size.max(1).to_string());
        let mut all = Vec::new();
        // A guard against a registry whose `Link` points back at a page already read.
        for _ in 0..100_000 {
            let resp = self
                .client
                .send(Req::new(Method::GET, url.clone(), &self.scopes))
                .await?;
            if !resp.status().is_success() {
                let err = self.client.status_error(&Method::GET, &url, resp).await;
                return Err(self.not_found(err, format!("repository {}", self.name())));
            }
            let next = next_link(resp.headers());
            let body = self
                .client
                .read_small(resp, 16 << 20, &format!("tag list of {}", self.name()))
                .await?;
            let page: TagList =
                serde_json::from_slice(&body).map_err(|e| TransportError::Invalid {
                    what: format!("GET {url}: tag list"),
                    detail: e.to_string(),
                })?;
            all.extend(page.tags.unwrap_or_default());
            match next {
                Some(link) => url = self.client.resolve_location(&url, &link)?,
                None => return Ok(all),
            }
        }
        Err(TransportError::Invalid {
            what: format!("tag list of {}", self.name()),
            detail: "the registry's pagination does not end".into(),
        })
    }

    /// `host/repo:ref` or `host/repo@digest`, for messages.
    fn name(&self) -> String {
        let sep = if self.reference.contains(':') {
            '@'
        } else {
            ':'
        };
        format!(
            "{}/{}{sep}{}",
            self.client.host(),
            self.repo,
            self.reference
        )
    }

    fn not_found(&self, err: TransportError, what: String) -> TransportError {
        if let TransportError::Registry {
            status: 404,
            method,
            url,
            detail,
        } = &err
        {
            return TransportError::NotFound {
                what: format!("{what} ({method} {url}: 404: {detail})"),
            };
        }
        err
    }

    async fn manifest_url(&self, reference: &str) -> Result<url::Url, TransportError> {
        self.client
            .url(&format!("/v2/{}/manifests/{reference}", self.repo))
            .await
    }

    /// `HEAD` the manifest; `None` when the answer lacks what we need (then `GET`).
    async fn head_manifest(&self) -> Result<Option<Descriptor>, TransportError> {
        let url = self.manifest_url(&self.reference).await?;
        let resp = self
            .client
            .send(
                Req::new(Method::HEAD, url.clone(), &self.scopes)
                    .header(ACCEPT, oci::media::MANIFEST_ACCEPT),
            )
            .await?;
        let status = resp.status();
        if status == StatusCode::NOT_FOUND {
            let err = self.client.status_error(&Method::HEAD, &url, resp).await;
            return Err(self.not_found(err, format!("manifest {}", self.name())));
        }
        if status.is_server_error() {
            // The client retried what was worth retrying; the caller sends one GET for the
            // registry's explanation rather than another round of retries.
            return Err(self.client.status_error(&Method::HEAD, &url, resp).await);
        }
        if !status.is_success() {
            // Some registries do not implement HEAD on manifests (405, 400): try GET.
            return Ok(None);
        }
        let headers = resp.headers();
        let digest = header_str(headers, DIGEST_HEADER).and_then(|d| d.parse::<Digest>().ok());
        let media_type = header_str(headers, CONTENT_TYPE.as_str()).map(media_type_of);
        let size = header_str(headers, CONTENT_LENGTH.as_str()).and_then(|s| s.parse::<u64>().ok());
        match (digest, media_type, size) {
            (Some(digest), Some(media_type), Some(size))
                if size > 0
                    && (oci::media::is_index(&media_type)
                        || oci::media::is_manifest(&media_type)) =>
            {
                if let Ok(want) = self.reference.parse::<Digest>()
                    && want != digest
                {
                    return Err(TransportError::DigestMismatch {
                        what: format!("HEAD {url}"),
                        expected: want,
                        actual: digest,
                    });
                }
                Ok(Some(Descriptor::new(media_type, digest, size)))
            }
            _ => Ok(None),
        }
    }

    /// `GET` a manifest by tag or digest; returns its descriptor and bytes. `retry` false
    /// sends it once (after a `HEAD` that exhausted the retries, for the error's details).
    async fn get_manifest(
        &self,
        reference: &str,
        accept: &str,
        retry: bool,
    ) -> Result<(Descriptor, Bytes), TransportError> {
        let url = self.manifest_url(reference).await?;
        let mut req = Req::new(Method::GET, url.clone(), &self.scopes).header(ACCEPT, accept);
        req.retry = retry;
        let resp = self.client.send(req).await?;
        if !resp.status().is_success() {
            let err = self.client.status_error(&Method::GET, &url, resp).await;
            return Err(self.not_found(err, format!("manifest {}", self.name())));
        }
        let header_digest = header_str(resp.headers(), DIGEST_HEADER).map(str::to_string);
        let content_type = header_str(resp.headers(), CONTENT_TYPE.as_str()).map(media_type_of);
        let what = format!("manifest GET {url}");
        let bytes = self
            .client
            .read_small(resp, MAX_MANIFEST_SIZE, &what)
            .await?;
        // The digest we trust is the one we compute; the registry's must agree with it.
        let wanted: Option<Digest> = match reference.parse::<Digest>() {
            Ok(d) => Some(d),
            Err(_) => match header_digest {
                Some(h) => Some(h.parse::<Digest>().map_err(|e| TransportError::Invalid {
                    what: format!("{what}: {DIGEST_HEADER} header"),
                    detail: e.to_string(),
                })?),
                None => None,
            },
        };
        let digest = match wanted {
            Some(want) => {
                let actual = Digest::of(want.algorithm(), &bytes);
                if actual != want {
                    return Err(TransportError::DigestMismatch {
                        what,
                        expected: want,
                        actual,
                    });
                }
                want
            }
            None => Digest::sha256_of(&bytes),
        };
        let media_type = match content_type {
            Some(t) if oci::media::is_index(&t) || oci::media::is_manifest(&t) => t,
            _ => sniff_media_type(&bytes),
        };
        let d = Descriptor::new(media_type, digest, bytes.len() as u64);
        Ok((d, bytes))
    }
}

impl ImageSource for RegistrySource {
    async fn resolve(&self) -> Result<Descriptor, TransportError> {
        let retry = match self.head_manifest().await {
            Ok(Some(d)) => return Ok(d),
            Ok(None) => true,
            // A HEAD tells no why: one GET, not another round of retries, fetches it.
            Err(TransportError::Registry { status, .. }) if status >= 500 => false,
            Err(e) => return Err(e),
        };
        let (d, bytes) = self
            .get_manifest(&self.reference, oci::media::MANIFEST_ACCEPT, retry)
            .await?;
        *self.fetched.lock().unwrap_or_else(|p| p.into_inner()) = Some((d.digest.clone(), bytes));
        Ok(d)
    }

    async fn manifest(&self, d: &Descriptor) -> Result<Bytes, TransportError> {
        {
            let fetched = self.fetched.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((digest, bytes)) = fetched.as_ref()
                && *digest == d.digest
            {
                return Ok(bytes.clone());
            }
        }
        if d.size > MAX_MANIFEST_SIZE as u64 {
            return Err(TransportError::Invalid {
                what: format!("manifest {} in {}", d.digest, self.name()),
                detail: format!(
                    "{} bytes is over the {MAX_MANIFEST_SIZE}-byte limit",
                    d.size
                ),
            });
        }
        let accept =
            if d.media_type.is_empty() || oci::media::MANIFEST_ACCEPT.contains(&d.media_type) {
                oci::media::MANIFEST_ACCEPT.to_string()
            } else {
                format!("{}, {}", d.media_type, oci::media::MANIFEST_ACCEPT)
            };
        let (_, bytes) = self
            .get_manifest(&d.digest.to_string(), &accept, true)
            .await?;
        Ok(bytes)
    }

    async fn blob(&self, d: &Descriptor, offset: u64) -> Result<BlobStream, TransportError> {
        let url = self
            .client
            .url(&format!("/v2/{}/blobs/{}", self.repo, d.digest))
            .await?;
        let mut req = Req::new(Method::GET, url.clone(), &self.scopes);
        req.bulk = true;
        if offset > 0 {
            req = req.header(RANGE, &format!("bytes={offset}-"));
        }
        let resp = self.client.send(req).await?;
        let status = resp.status();
        if !status.is_success() {
            if status == StatusCode::RANGE_NOT_SATISFIABLE {
                return Err(TransportError::RangeUnsupported);
            }
            let err = self.client.status_error(&Method::GET, &url, resp).await;
            return Err(self.not_found(err, format!("blob {} in {}", d.digest, self.name())));
        }
        if offset > 0 && status != StatusCode::PARTIAL_CONTENT {
            return Err(TransportError::RangeUnsupported);
        }
        let final_url = resp.url().to_string();
        // The error carries its TransportError, so the copy engine reports it as such: a
        // stall with the registry, the blob and the timeout (and resumes it once); a broken
        // body with its URL and root cause, once.
        let client = self.client.clone();
        let stream = resp.bytes_stream().map_err(move |e| {
            if e.is_timeout() {
                let started = std::time::Instant::now();
                let err = client.timed_out(&url, true, started);
                std::io::Error::new(std::io::ErrorKind::TimedOut, err)
            } else {
                std::io::Error::other(TransportError::Http {
                    url: format!("GET {final_url}"),
                    error: e,
                })
            }
        });
        Ok(Box::pin(StreamReader::new(stream)))
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// `application/vnd.oci.image.manifest.v1+json; charset=utf-8` → the bare type.
fn media_type_of(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or(content_type)
        .trim()
        .to_ascii_lowercase()
}

/// The media type a manifest declares in its body, or what its shape says it is.
fn sniff_media_type(bytes: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType", default)]
        media_type: Option<String>,
        #[serde(default)]
        manifests: Option<serde_json::Value>,
    }
    match serde_json::from_slice::<Probe>(bytes) {
        Ok(Probe {
            media_type: Some(t),
            ..
        }) if !t.is_empty() => t,
        Ok(Probe {
            manifests: Some(_), ..
        }) => oci::media::OCI_INDEX.to_string(),
        _ => oci::media::OCI_MANIFEST.to_string(),
    }
}

/// The `rel="next"` target of a `Link` header (`</v2/app/tags/list?last=b&n=2>; rel="next"`).
pub(crate) fn next_link(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all(LINK) {
        let Ok(value) = value.to_str() else { continue };
        for link in value.split(',') {
            let mut parts = link.split(';');
            let target = parts.next()?.trim();
            let is_next = parts.any(|p| {
                let p = p.trim().replace(' ', "");
                p.eq_ignore_ascii_case("rel=\"next\"") || p.eq_ignore_ascii_case("rel=next")
            });
            if is_next && target.starts_with('<') && target.ends_with('>') {
                return Some(target[1..target.len() - 1].to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn next_links() {
        for (value, want) in [
            (
                r#"</v2/app/tags/list?last=b&n=2>; rel="next""#,
                Some("/v2/app/tags/list?last=b&n=2"),
            ),
            (
                r#"<https://r/v2/x?n=1>;rel=next"#,
                Some("https://r/v2/x?n=1"),
            ),
            (r#"</a>; rel="prev", </b>; rel="next""#, Some("/b")),
            (r#"</a>; rel="prev""#, None),
            ("garbage", None),
        ] {
            let mut h = HeaderMap::new();
            h.insert(LINK, HeaderValue::from_str(value).unwrap());
            assert_eq!(next_link(&h).as_deref(), want, "{value}");
        }
    }

    #[test]
    fn media_types() {
        for (ct, want) in [
            (
                "application/vnd.oci.image.manifest.v1+json",
                oci::media::OCI_MANIFEST,
            ),
            (
                "application/vnd.oci.image.index.v1+json; charset=utf-8",
                oci::media::OCI_INDEX,
            ),
            (
                "Application/Vnd.Docker.Distribution.Manifest.V2+json",
                oci::media::DOCKER_MANIFEST,
            ),
        ] {
            assert_eq!(media_type_of(ct), want, "{ct}");
        }
        for (body, want) in [
            (
                r#"{"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"#,
                oci::media::DOCKER_MANIFEST_LIST,
            ),
            (
                r#"{"schemaVersion":2,"manifests":[]}"#,
                oci::media::OCI_INDEX,
            ),
            (
                r#"{"schemaVersion":2,"config":{},"layers":[]}"#,
                oci::media::OCI_MANIFEST,
            ),
            ("not json", oci::media::OCI_MANIFEST),
        ] {
            assert_eq!(sniff_media_type(body.as_bytes()), want, "{body}");
        }
    }
}
