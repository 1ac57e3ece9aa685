//! Manifests and tags through the cache: by tag (asked upstream, remembered for the TTL,
//! served from the cache when the upstream is down), by digest (cached for good).

use oci::{Digest, media};

use super::upstream::{UpstreamError, UpstreamManifest};
use super::{Proxy, manifest_unknown, upstream_error};
use crate::error::{ApiError, Code, RepoError};
use crate::names;
use crate::repo::{MANIFEST_MAX, StoredManifest, parse_digest};

impl Proxy {
    /// The local manifest `reference` of `name`, or `None` when it is not cached.
    pub(super) async fn local_manifest(
        &self,
        name: &str,
        reference: &str,
    ) -> Result<Option<StoredManifest>, ApiError> {
        match self.registry.manifest_get(name, reference).await {
            Ok(m) => Ok(Some(m)),
            Err(RepoError::ManifestUnknown { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Fetches manifest `d` of `name` from the upstream, checks it and stores it (tagged
    /// `tag` when given).
    pub(super) async fn fetch_manifest(
        &self,
        name: &str,
        d: &Digest,
        tag: Option<&str>,
    ) -> Result<StoredManifest, ApiError> {
        let reference = d.to_string();
        let what = format!("manifest {name}@{d}");
        let m = self
            .deadline(&what, self.upstream.manifest(name, &reference))
            .await
            .map_err(upstream_error)?
            .ok_or_else(|| manifest_unknown(name, &reference))?;
        let media_type = check_manifest(name, d, &m)?;
        self.registry
            .manifest_store_cached(name, d, &media_type, m.bytes.clone(), tag)
            .await?;
        self.learn_sizes(&media_type, &m.bytes);
        tracing::info!(repository = name, digest = %d, "cached manifest from upstream");
        Ok(StoredManifest {
            bytes: m.bytes,
            digest: d.clone(),
            media_type,
        })
    }

    /// The manifest `reference` (tag or digest) of `name`: from the cache, or the upstream
    /// (then cached), as the module documentation says.
    pub async fn manifest(&self, name: &str, reference: &str) -> Result<StoredManifest, ApiError> {
        if reference.contains(':') {
            let d = parse_digest(reference)?;
            if let Some(m) = self.local_manifest(name, reference).await? {
                return Ok(m);
            }
            return self.fetch_manifest(name, &d, None).await;
        }
        if !names::valid_tag(reference) {
            // The local answer has the right error.
            return Ok(self.registry.manifest_get(name, reference).await?);
        }
        if let Some(d) = self.fresh_tag(name, reference)
            && let Some(m) = self.local_manifest(name, &d.to_string()).await?
        {
            return Ok(m);
        }
        let what = format!("manifest {name}:{reference}");
        let upstream = self.upstream.manifest_digest(name, reference);
        match self.deadline(&what, upstream).await {
            Ok(Some(d)) => {
                let m = match self.local_manifest(name, &d.to_string()).await? {
                    Some(m) => {
                        if self.registry.resolve(name, reference).await? != Some(d.clone()) {
                            self.registry
                                .manifest_store_cached(
                                    name,
                                    &d,
                                    &m.media_type,
                                    m.bytes.clone(),
                                    Some(reference),
                                )
                                .await?;
                        }
                        m
                    }
                    None => self.fetch_manifest(name, &d, Some(reference)).await?,
                };
                self.remember_tag(name, reference, Some(&d));
                Ok(m)
            }
            Ok(None) => {
                self.remember_tag(name, reference, None);
                Err(manifest_unknown(name, reference))
            }
            Err(e) => {
                tracing::warn!(
                    repository = name,
                    tag = reference,
                    "{e}; serving the cached copy"
                );
                match self.local_manifest(name, reference).await? {
                    Some(m) => Ok(m),
                    None => Err(upstream_error(e)),
                }
            }
        }
    }

    /// Every tag of `name`: the upstream's, sorted, or the cached ones when the upstream
    /// cannot be reached.
    pub async fn tags(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let what = format!("tags of {name}");
        match self.deadline(&what, self.upstream.tags(name)).await {
            Ok(Some(mut tags)) => {
                tags.sort();
                tags.dedup();
                Ok(tags)
            }
            Ok(None) => Err(ApiError::new(
                Code::NameUnknown,
                format!("repository {name} is not known here or upstream"),
            )),
            Err(e) => {
                tracing::warn!(repository = name, "{e}; listing the cached tags");
                if self.registry.repository_exists(name).await? {
                    Ok(self.registry.tags(name).await?)
                } else {
                    Err(upstream_error(e))
                }
            }
        }
    }
}

/// Checks a manifest from the upstream against the digest asked for; returns its media type.
pub(super) fn check_manifest(
    name: &str,
    d: &Digest,
    m: &UpstreamManifest,
) -> Result<String, ApiError> {
    let bad = |message: String| {
        upstream_error(UpstreamError::Invalid {
            what: format!("manifest {name}@{d}"),
            message,
        })
    };
    if m.bytes.len() as u64 > MANIFEST_MAX {
        return Err(bad(format!(
            "{} bytes is over the {MANIFEST_MAX}-byte limit",
            m.bytes.len()
        )));
    }
    let actual = Digest::of(d.algorithm(), &m.bytes);
    if actual != *d {
        return Err(bad(format!("content hashes to {actual}")));
    }
    let media_type = m.media_type.trim().to_ascii_lowercase();
    if !(media::is_index(&media_type) || media::is_manifest(&media_type)) {
        return Err(bad(format!("{media_type:?} is not a manifest media type")));
    }
    Ok(media_type)
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    #[test]
    fn upstream_manifests_are_checked() {
        let body = Bytes::from_static(br#"{"schemaVersion":2}"#);
        let d = Digest::sha256_of(&body);
        let m = |bytes: Bytes, media_type: &str| UpstreamManifest {
            bytes,
            media_type: media_type.to_string(),
            digest: d.clone(),
        };
        let big = Bytes::from(vec![b' '; MANIFEST_MAX as usize + 1]);
        let cases: Vec<(UpstreamManifest, Result<&str, &str>)> = vec![
            (
                m(body.clone(), media::OCI_MANIFEST),
                Ok(media::OCI_MANIFEST),
            ),
            (
                m(body.clone(), "Application/Vnd.Oci.Image.Index.v1+json"),
                Ok(media::OCI_INDEX),
            ),
            (
                m(body.clone(), "application/octet-stream"),
                Err("not a manifest"),
            ),
            (m(body.slice(1..), media::OCI_MANIFEST), Err("hashes to")),
            (m(big, media::OCI_MANIFEST), Err("limit")),
        ];
        for (i, (manifest, want)) in cases.into_iter().enumerate() {
            match (check_manifest("app", &d, &manifest), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "case {i}"),
                (Err(e), Err(want)) => {
                    assert_eq!(e.status, 502, "case {i}");
                    assert!(e.message.contains(want), "case {i}: {}", e.message);
                }
                (got, want) => panic!("case {i}: got {got:?}, want {want:?}"),
            }
        }
    }
}
