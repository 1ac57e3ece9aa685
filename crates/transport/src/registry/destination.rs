//! Writing an image to a registry.

use bytes::Bytes;
use futures::StreamExt;
use oci::{Descriptor, Digest};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION};
use reqwest::{Method, StatusCode};
use tokio_util::io::ReaderStream;
use url::Url;

use crate::registry::client::Req;
use crate::registry::{DIGEST_HEADER, RegistryClient, repository_path};
use crate::{BlobStream, ImageDestination, TransportError};

/// A registry repository to push to.
///
/// Blobs go up as monolithic uploads (`POST` an upload session, then one streamed `PUT
/// …?digest=`); the registry verifies the digest before the blob becomes visible, so a failed
/// or short stream leaves nothing behind. Manifests go last, by tag for the top-level one and
/// by digest otherwise.
#[derive(Debug)]
pub struct RegistryDestination {
    client: RegistryClient,
    repo: String,
    /// `repository:REPO:pull,push`: one token serves every request of a push.
    scopes: Vec<String>,
}

impl RegistryDestination {
    /// The repository `repo` (`app`, `team/app`) on the client's registry.
    pub fn new(client: RegistryClient, repo: impl Into<String>) -> RegistryDestination {
        let repo = repository_path(client.host(), &repo.into());
        let scopes = vec![format!("repository:{repo}:pull,push")];
        RegistryDestination {
            client,
            repo,
            scopes,
        }
    }

    /// The repository path on the registry.
    pub fn repository(&self) -> &str {
        &self.repo
    }

    fn what(&self, d: &Descriptor) -> String {
        format!("blob {} to {}/{}", d.digest, self.client.host(), self.repo)
    }

    /// Parses an upload session's `Location` (relative or absolute, query kept).
    fn upload_location(
        &self,
        method: &Method,
        request_url: &Url,
        headers: &HeaderMap,
    ) -> Result<Url, TransportError> {
        let location = headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| TransportError::Invalid {
                what: format!("{method} {request_url}"),
                detail: "the registry started an upload without a Location header".into(),
            })?;
        self.client.resolve_location(request_url, location)
    }

    /// Abandons an upload session; failures only leave a session the registry expires.
    async fn cancel_upload(&self, location: Url) {
        let req = Req::new(Method::DELETE, location.clone(), &self.scopes);
        match self.client.send(req).await {
            Ok(resp) if resp.status().is_success() || resp.status() == StatusCode::NOT_FOUND => {}
            Ok(resp) => {
                tracing::debug!(url = %location, status = %resp.status(), "cancelling upload")
            }
            Err(e) => tracing::debug!(url = %location, error = %e, "cancelling upload"),
        }
    }
}

impl ImageDestination for RegistryDestination {
    async fn has_blob(&self, d: &Descriptor) -> Result<bool, TransportError> {
        let url = self
            .client
            .url(&format!("/v2/{}/blobs/{}", self.repo, d.digest))
            .await?;
        let resp = self
            .client
            .send(Req::new(Method::HEAD, url.clone(), &self.scopes))
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.client.status_error(&Method::HEAD, &url, resp).await),
        }
    }

    async fn mount_blob(&self, d: &Descriptor, from_repo: &str) -> Result<bool, TransportError> {
        let from = repository_path(self.client.host(), from_repo);
        if from == self.repo {
            return Ok(false);
        }
        let mut url = self
            .client
            .url(&format!("/v2/{}/blobs/uploads/", self.repo))
            .await?;
        url.query_pairs_mut()
            .append_pair("mount", &d.digest.to_string())
            .append_pair("from", &from);
        // The token must allow pulling from the source repository too.
        let scopes = vec![self.scopes[0].clone(), format!("repository:{from}:pull")];
        let req = Req::new(Method::POST, url.clone(), &scopes).header(CONTENT_LENGTH, "0");
        let resp = match self.client.send(req).await {
            Ok(r) => r,
            // No pull right on `from` (or no such repository) is a refused mount: upload.
            Err(TransportError::Unauthorized { detail, .. }) => {
                tracing::debug!(%detail, "mount refused");
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => {
                // The registry opened an ordinary upload instead; the copy engine uploads
                // through `put_blob`, so close this one.
                if let Ok(location) = self.upload_location(&Method::POST, &url, resp.headers()) {
                    self.cancel_upload(location).await;
                }
                Ok(false)
            }
            StatusCode::NOT_FOUND | StatusCode::FORBIDDEN => Ok(false),
            _ => Err(self.client.status_error(&Method::POST, &url, resp).await),
        }
    }

    async fn put_blob(&self, d: &Descriptor, stream: BlobStream) -> Result<(), TransportError> {
        // 1. Open an upload session. This request also settles authentication, which the
        //    streamed PUT cannot redo (its body can be sent once).
        let start = self
            .client
            .url(&format!("/v2/{}/blobs/uploads/", self.repo))
            .await?;
        let mut req =
            Req::new(Method::POST, start.clone(), &self.scopes).header(CONTENT_LENGTH, "0");
        req.retry = true; // an abandoned extra session is harmless
        let resp = self.client.send(req).await?;
        if resp.status() != StatusCode::ACCEPTED && !resp.status().is_success() {
            return Err(self.client.status_error(&Method::POST, &start, resp).await);
        }
        let session = self.upload_location(&Method::POST, &start, resp.headers())?;
        let mut put_url = session.clone();
        put_url
            .query_pairs_mut()
            .append_pair("digest", &d.digest.to_string());

        // 2. Stream the whole blob in one PUT; a stream longer or shorter than declared is
        //    cut off with an error so the registry never commits it.
        let body = exact_length(stream, d.size, self.what(d));
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, HeaderValue::from(d.size));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        let resp = match self
            .client
            .send_once(Method::PUT, &put_url, headers, body, &self.scopes)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                self.cancel_upload(session).await;
                return Err(e);
            }
        };
        if resp.status() != StatusCode::CREATED && !resp.status().is_success() {
            let err = self.client.status_error(&Method::PUT, &put_url, resp).await;
            self.cancel_upload(session).await;
            return Err(err);
        }
        check_digest(resp.headers(), &d.digest, &format!("PUT {put_url}"))
    }

    async fn put_manifest(
        &self,
        d: &Descriptor,
        bytes: Bytes,
        tag: Option<&str>,
    ) -> Result<(), TransportError> {
        let reference = match tag {
            Some(t) => t.to_string(),
            None => d.digest.to_string(),
        };
        let url = self
            .client
            .url(&format!("/v2/{}/manifests/{reference}", self.repo))
            .await?;
        let media_type = if d.media_type.is_empty() {
            oci::media::OCI_MANIFEST
        } else {
            d.media_type.as_str()
        };
        let mut req =
            Req::new(Method::PUT, url.clone(), &self.scopes).header(CONTENT_TYPE, media_type);
        req.body = Some(bytes);
        req.retry = true; // a PUT of the same bytes is idempotent
        let resp = self.client.send(req).await?;
        if !resp.status().is_success() {
            return Err(self.client.status_error(&Method::PUT, &url, resp).await);
        }
        check_digest(resp.headers(), &d.digest, &format!("PUT {url}"))
    }
}

/// Errors if the registry reports a digest other than ours (it hashed other bytes).
fn check_digest(headers: &HeaderMap, want: &Digest, what: &str) -> Result<(), TransportError> {
    let Some(got) = headers.get(DIGEST_HEADER).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    match got.trim().parse::<Digest>() {
        Ok(got) if got == *want => Ok(()),
        // A registry may report another algorithm's digest of the same bytes.
        Ok(got) if got.algorithm() != want.algorithm() => Ok(()),
        Ok(got) => Err(TransportError::DigestMismatch {
            what: format!("{what}: {DIGEST_HEADER}"),
            expected: want.clone(),
            actual: got,
        }),
        Err(e) => Err(TransportError::Invalid {
            what: format!("{what}: {DIGEST_HEADER} header"),
            detail: e.to_string(),
        }),
    }
}

/// The stream's chunks, with an error in place of the end if it does not yield exactly
/// `size` bytes.
fn exact_length(
    stream: BlobStream,
    size: u64,
    what: String,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let reader = ReaderStream::with_capacity(stream, 256 * 1024);
    futures::stream::unfold(
        (reader, 0u64, false, what),
        move |(mut reader, sent, done, what)| async move {
            if done {
                return None;
            }
            match reader.next().await {
                Some(Ok(chunk)) => {
                    let sent = sent + chunk.len() as u64;
                    if sent > size {
                        let e = std::io::Error::other(format!(
                            "{what}: stream is longer than the declared {size} bytes"
                        ));
                        Some((Err(e), (reader, sent, true, what)))
                    } else {
                        Some((Ok(chunk), (reader, sent, false, what)))
                    }
                }
                Some(Err(e)) => Some((Err(e), (reader, sent, true, what))),
                None if sent != size => {
                    let e = std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("{what}: stream ended after {sent} of {size} bytes"),
                    );
                    Some((Err(e), (reader, sent, true, what)))
                }
                None => None,
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    async fn collect(data: &'static [u8], size: u64) -> Result<Vec<u8>, std::io::Error> {
        let s: BlobStream = Box::pin(data);
        let chunks: Vec<Bytes> = exact_length(s, size, "t".into()).try_collect().await?;
        Ok(chunks.concat())
    }

    #[tokio::test]
    async fn exact_length_checks_size() {
        assert_eq!(collect(b"hello", 5).await.unwrap(), b"hello");
        assert!(collect(b"hello", 4).await.is_err());
        assert!(collect(b"hello", 6).await.is_err());
        assert_eq!(collect(b"", 0).await.unwrap(), b"");
    }

    #[test]
    fn digest_header_check() {
        let d = Digest::sha256_of(b"x");
        let mut h = HeaderMap::new();
        assert!(check_digest(&h, &d, "t").is_ok());
        h.insert(
            DIGEST_HEADER,
            HeaderValue::from_str(&d.to_string()).unwrap(),
        );
        assert!(check_digest(&h, &d, "t").is_ok());
        let other = Digest::sha256_of(b"y");
        h.insert(
            DIGEST_HEADER,
            HeaderValue::from_str(&other.to_string()).unwrap(),
        );
        assert!(matches!(
            check_digest(&h, &d, "t"),
            Err(TransportError::DigestMismatch { .. })
        ));
    }
}
