//! Signed pulls: repositories whose manifests are served only when signed by given keys
//! (the config's `[[trust.require]]` rules).
//!
//! A manifest is served when the same repository holds a signature of it that verifies
//! with one of the rule's keys: cosign's (the `sha256-<hex>.sig` tag) or a sigstore bundle
//! (a referrer). Signature manifests themselves, and artifacts that
//! refer to a subject (bundles, attestations), are always served: a client needs them to
//! verify. Each manifest is checked on its own, so a multi-platform image needs each of
//! its manifests signed (`strata sign --recursive`). `HEAD` is not checked: it carries no
//! content, and signing needs the digest of an image not yet signed.

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures::TryStreamExt as _;
use oci::{Descriptor, Digest, Manifest};
use serde::Deserialize;
use trust::repo::{MAX_DOCUMENT, SignatureRepo};
use trust::tag_scheme::SIMPLE_SIGNING_MEDIA_TYPE;
use trust::{PublicKey, TrustError};

use crate::error::{ApiError, Code, RepoError};
use crate::repo::{Registry, StoredManifest};

/// One `[[trust.require]]` rule as written.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequireRule {
    /// Repository patterns: `*` matches within one path segment, `**` across segments
    /// (`team/*`, `prod/**`, `**` for every repository).
    pub repositories: Vec<String>,
    /// Public key files (PEM); a signature by any one of them is enough.
    pub keys: Vec<PathBuf>,
}

/// `[trust]`: which repositories serve only signed manifests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSection {
    /// The rules; the first whose pattern matches a repository applies to it.
    #[serde(default)]
    pub require: Vec<RequireRule>,
}

/// The loaded rules.
#[derive(Debug, Clone)]
pub struct SignedPulls {
    rules: Vec<Rule>,
}

/// One loaded rule: its patterns and its keys (with their file names, for messages).
#[derive(Debug, Clone)]
struct Rule {
    patterns: Vec<String>,
    keys: Vec<(String, PublicKey)>,
}

impl SignedPulls {
    /// Loads the keys of `section`'s rules; `None` when it has none.
    pub fn load(section: &TrustSection) -> Result<Option<SignedPulls>, String> {
        if section.require.is_empty() {
            return Ok(None);
        }
        let mut rules = Vec::new();
        for (i, r) in section.require.iter().enumerate() {
            let what = format!("trust.require[{i}]");
            if r.repositories.is_empty() || r.keys.is_empty() {
                return Err(format!("{what}: give repositories and keys"));
            }
            for p in &r.repositories {
                check_pattern(p).map_err(|e| format!("{what}: {e}"))?;
            }
            let mut keys = Vec::new();
            for path in &r.keys {
                let name = path.display().to_string();
                let pem = std::fs::read(path).map_err(|e| format!("{what}: key {name}: {e}"))?;
                let key = PublicKey::from_pem(&pem, &name).map_err(|e| format!("{what}: {e}"))?;
                keys.push((name, key));
            }
            rules.push(Rule {
                patterns: r.repositories.clone(),
                keys,
            });
        }
        Ok(Some(SignedPulls { rules }))
    }

    /// The keys that must have signed manifests of repository `name`, if any rule applies.
    fn keys_for(&self, name: &str) -> Option<&[(String, PublicKey)]> {
        self.rules
            .iter()
            .find(|r| r.patterns.iter().any(|p| repo_matches(p, name)))
            .map(|r| r.keys.as_slice())
    }

    /// Refuses (403 DENIED) a manifest of `name` that its rule needs signed and that is
    /// not, saying why. Both signature forms count: cosign's `.sig` tag and sigstore
    /// bundles (referrers), checked by the trust crate's verifier over this registry's own
    /// storage.
    pub async fn check(
        &self,
        registry: &Registry,
        name: &str,
        m: &StoredManifest,
    ) -> Result<(), ApiError> {
        let Some(keys) = self.keys_for(name) else {
            return Ok(());
        };
        if is_signature_artifact(&m.bytes) {
            return Ok(());
        }
        let top = Descriptor::new(m.media_type.clone(), m.digest.clone(), m.bytes.len() as u64);
        let repo = StoredRepo { registry, name };
        let image = format!("{name}@{}", m.digest);
        let mut reasons = Vec::new();
        for (key_name, key) in keys {
            match trust::verify::verify_digest(&repo, &image, &top, key, &BTreeMap::new()).await {
                Ok(_) => return Ok(()),
                Err(TrustError::NoMatchingSignatures { reasons: r, .. }) => {
                    reasons.push(format!("{key_name}: {}", r.join("; ")));
                }
                Err(e) => {
                    return Err(
                        ApiError::new(Code::Unknown, format!("{image}: {e}")).with_status(500)
                    );
                }
            }
        }
        Err(ApiError::new(
            Code::Denied,
            format!(
                "{image}: this repository serves only signed manifests: no signature by a key it trusts ({}); sign it (an index with --recursive)",
                reasons.join("; ")
            ),
        ))
    }
}

/// A repository of this registry, read through its storage, as the trust crate's verifier
/// reads any repository. Read-only: the gate never writes.
struct StoredRepo<'a> {
    registry: &'a Registry,
    name: &'a str,
}

impl SignatureRepo for StoredRepo<'_> {
    async fn resolve(&self, reference: &str) -> Result<Option<Descriptor>, TrustError> {
        match self.registry.manifest_get(self.name, reference).await {
            Ok(m) => Ok(Some(Descriptor::new(
                m.media_type,
                m.digest,
                m.bytes.len() as u64,
            ))),
            Err(RepoError::ManifestUnknown { .. }) => Ok(None),
            Err(e) => Err(storage_failed(self.name, reference, e)),
        }
    }

    async fn manifest(&self, d: &Descriptor) -> Result<Vec<u8>, TrustError> {
        let reference = d.digest.to_string();
        match self.registry.manifest_get(self.name, &reference).await {
            Ok(m) => Ok(m.bytes.to_vec()),
            Err(e) => Err(storage_failed(self.name, &reference, e)),
        }
    }

    async fn blob(&self, d: &Descriptor) -> Result<Vec<u8>, TrustError> {
        if d.size > MAX_DOCUMENT {
            return Err(bad(&d.digest, "larger than a signature document may be"));
        }
        let stream = self
            .registry
            .blob_read(&d.digest, None)
            .await
            .map_err(|e| storage_failed(self.name, &d.digest.to_string(), e))?;
        let chunks: Vec<bytes::Bytes> = stream
            .try_collect()
            .await
            .map_err(|e| bad(&d.digest, &e.to_string()))?;
        Ok(chunks.concat())
    }

    async fn put_blob(&self, d: &Descriptor, _: Vec<u8>) -> Result<(), TrustError> {
        Err(bad(&d.digest, "the signature gate does not write"))
    }

    async fn put_manifest(&self, d: &Descriptor, _: Vec<u8>, _: &str) -> Result<(), TrustError> {
        Err(bad(&d.digest, "the signature gate does not write"))
    }

    async fn referrers(
        &self,
        subject: &Descriptor,
        artifact_type: Option<&str>,
    ) -> Result<Option<Vec<Descriptor>>, TrustError> {
        self.registry
            .referrers(self.name, &subject.digest, artifact_type)
            .await
            .map(Some)
            .map_err(|e| storage_failed(self.name, &subject.digest.to_string(), e))
    }
}

/// A storage failure as the verifier reports it.
fn storage_failed(name: &str, reference: &str, e: RepoError) -> TrustError {
    TrustError::BadDocument {
        what: format!("{name}:{reference}"),
        detail: e.to_string(),
    }
}

/// A blob the gate cannot use.
fn bad(d: &Digest, detail: &str) -> TrustError {
    TrustError::BadDocument {
        what: format!("blob {d}"),
        detail: detail.to_string(),
    }
}

/// Whether a manifest is a signature or an artifact about another manifest (a cosign
/// signature manifest, anything with a `subject`, the referrers tag schema's index of
/// artifacts): those stay readable.
fn is_signature_artifact(bytes: &[u8]) -> bool {
    let Ok(m) = Manifest::from_slice(bytes) else {
        // The referrers tag schema's index lists artifacts only.
        return oci::Index::from_slice(bytes).is_ok_and(|i| {
            !i.manifests.is_empty() && i.manifests.iter().all(|d| d.artifact_type.is_some())
        });
    };
    m.subject.is_some()
        || (!m.layers.is_empty()
            && m.layers
                .iter()
                .all(|l| l.media_type == SIMPLE_SIGNING_MEDIA_TYPE))
}

/// Whether repository `name` matches `pattern` (`*` within a segment, `**` any number of
/// whole segments).
pub fn repo_matches(pattern: &str, name: &str) -> bool {
    let p: Vec<&str> = pattern.split('/').collect();
    let n: Vec<&str> = name.split('/').collect();
    segments_match(&p, &n)
}

fn segments_match(p: &[&str], n: &[&str]) -> bool {
    match p.split_first() {
        None => n.is_empty(),
        Some((&"**", rest)) => (0..=n.len()).any(|i| segments_match(rest, &n[i..])),
        Some((seg, rest)) => match n.split_first() {
            Some((first, tail)) => segment_matches(seg, first) && segments_match(rest, tail),
            None => false,
        },
    }
}

/// `*` in a segment matches any run of characters (none included).
fn segment_matches(pattern: &str, s: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == s,
        Some((prefix, rest)) => {
            let Some(tail) = s.strip_prefix(prefix) else {
                return false;
            };
            (0..=tail.len())
                .filter(|&i| tail.is_char_boundary(i))
                .any(|i| segment_matches(rest, &tail[i..]))
        }
    }
}

/// Refuses patterns that cannot match a repository name.
fn check_pattern(p: &str) -> Result<(), String> {
    if p.is_empty() || p.starts_with('/') || p.ends_with('/') || p.contains("//") {
        return Err(format!(
            "repository pattern {p:?}: write segments separated by /, like team/* or prod/**"
        ));
    }
    if p.split('/').any(|s| s.contains("**") && s != "**") {
        return Err(format!(
            "repository pattern {p:?}: ** stands alone as a whole segment"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_repositories() {
        let table = [
            ("team/app", "team/app", true),
            ("team/app", "team/app2", false),
            ("team/*", "team/app", true),
            ("team/*", "team/a/b", false),
            ("team/**", "team/a/b", true),
            ("team/**", "team", true),
            ("**", "anything/at/all", true),
            ("**/app", "x/y/app", true),
            ("**/app", "x/y/app2", false),
            ("a*c/x", "abbc/x", true),
            ("a*c/x", "ab/x", false),
            ("*", "solo", true),
            ("*", "two/segs", false),
            ("t*/**/z", "team/q/r/z", true),
        ];
        for (p, n, want) in table {
            assert_eq!(repo_matches(p, n), want, "{p} vs {n}");
        }
        for bad in ["", "/a", "a/", "a//b", "a**"] {
            assert!(check_pattern(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn signature_artifacts_stay_readable() {
        let cfg = oci::Descriptor::of_bytes(oci::media::OCI_CONFIG, b"{}");
        let sig = oci::Descriptor::of_bytes(SIMPLE_SIGNING_MEDIA_TYPE, b"{}");
        let layer = oci::Descriptor::of_bytes(oci::media::OCI_LAYER_GZIP, b"x");
        let doc = |layers: Vec<oci::Descriptor>, subject: Option<oci::Descriptor>| {
            serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2, "mediaType": oci::media::OCI_MANIFEST,
                "config": cfg, "layers": layers, "subject": subject,
            }))
            .unwrap()
        };
        assert!(is_signature_artifact(&doc(vec![sig.clone()], None)));
        assert!(!is_signature_artifact(&doc(
            vec![sig.clone(), layer.clone()],
            None
        )));
        assert!(!is_signature_artifact(&doc(vec![], None)));
        assert!(is_signature_artifact(&doc(
            vec![layer.clone()],
            Some(layer.clone())
        )));
        assert!(!is_signature_artifact(b"{\"manifests\": []}"));
        let mut art = layer.clone();
        art.artifact_type = Some("application/vnd.dev.sigstore.bundle.v0.3+json".into());
        let index = |entries: Vec<oci::Descriptor>| {
            serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2, "mediaType": oci::media::OCI_INDEX, "manifests": entries,
            }))
            .unwrap()
        };
        assert!(is_signature_artifact(&index(vec![art.clone()])));
        assert!(
            !is_signature_artifact(&index(vec![art, layer])),
            "an image index"
        );
    }
}
