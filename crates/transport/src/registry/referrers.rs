//! The OCI 1.1 referrers API: `GET /v2/<name>/referrers/<digest>[?artifactType=…]`, the
//! manifests whose `subject` is a given manifest.
//!
//! A registry without the API answers 404 (Debian's docker-registry 2.8 does); that is
//! not an error but the signal to use the referrers tag schema, so it comes back as
//! `None`. A registry may ignore the `artifactType` filter (it says so in
//! `OCI-Filters-Applied`), so the listing is filtered here as well.

use oci::{Digest, Index};
use reqwest::Method;
use reqwest::header::ACCEPT;

use crate::TransportError;
use crate::registry::client::Req;
use crate::registry::source::next_link;
use crate::registry::{MAX_MANIFEST_SIZE, RegistryClient, repository_path};

/// The most pages of one listing followed: a guard against a `Link` loop.
const MAX_PAGES: usize = 1000;

impl RegistryClient {
    /// The referrers of `digest` in repository `repo` (a reference's path), only those of
    /// `artifact_type` when given, as one index (pages of a paginated answer merged).
    /// `None` when the registry has no referrers API (it answers 404).
    pub async fn referrers(
        &self,
        repo: &str,
        digest: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Option<Index>, TransportError> {
        let repo = repository_path(self.host(), repo);
        let scopes = [format!("repository:{repo}:pull")];
        let mut url = self.url(&format!("/v2/{repo}/referrers/{digest}")).await?;
        if let Some(t) = artifact_type {
            url.query_pairs_mut().append_pair("artifactType", t);
        }
        let what = format!("referrers of {}/{repo}@{digest}", self.host());
        let mut all: Option<Index> = None;
        for _ in 0..MAX_PAGES {
            let resp = self
                .send(
                    Req::new(Method::GET, url.clone(), &scopes)
                        .header(ACCEPT, oci::media::OCI_INDEX),
                )
                .await?;
            if resp.status().as_u16() == 404 {
                // A 404 on a later page would mean the listing vanished; on the first it
                // means no API.
                return Ok(all);
            }
            if !resp.status().is_success() {
                return Err(self.status_error(&Method::GET, &url, resp).await);
            }
            let next = next_link(resp.headers());
            let body = self.read_small(resp, MAX_MANIFEST_SIZE, &what).await?;
            let mut page = Index::from_slice(&body).map_err(|e| TransportError::Invalid {
                what: what.clone(),
                detail: format!("not an image index: {e}"),
            })?;
            if let Some(t) = artifact_type {
                page.manifests
                    .retain(|d| d.artifact_type.as_deref() == Some(t));
            }
            match &mut all {
                Some(index) => index.manifests.append(&mut page.manifests),
                None => all = Some(page),
            }
            match next {
                Some(link) => url = self.resolve_location(&url, &link)?,
                None => return Ok(all),
            }
        }
        Err(TransportError::Invalid {
            what,
            detail: "the registry's pagination does not end".into(),
        })
    }
}
