//! An in-memory [`SignatureRepo`] for the trust crate's tests: manifests by digest and
//! tag, blobs by digest, and, when asked, a referrers API over the stored manifests'
//! `subject`s (without it, it stands for an OCI layout or a registry lacking the API).

use std::collections::HashMap;
use std::sync::Mutex;

use oci::{Descriptor, Digest};
use trust::TrustError;
use trust::repo::SignatureRepo;

/// A repository in memory: manifests by digest and tag, blobs by digest.
#[derive(Default)]
pub struct MemRepo {
    /// Whether `referrers` answers (a registry with the referrers API).
    pub referrers_api: bool,
    pub manifests: Mutex<HashMap<String, (Descriptor, Vec<u8>)>>,
    pub blobs: Mutex<HashMap<Digest, Vec<u8>>>,
    pub puts: Mutex<usize>,
}

impl MemRepo {
    /// Stores a manifest (and under `tag`).
    pub fn add_manifest(&self, media_type: &str, bytes: &[u8], tag: Option<&str>) -> Descriptor {
        let d = Descriptor::of_bytes(media_type, bytes);
        let mut m = self.manifests.lock().unwrap();
        m.insert(d.digest.to_string(), (d.clone(), bytes.to_vec()));
        if let Some(t) = tag {
            m.insert(t.to_string(), (d.clone(), bytes.to_vec()));
        }
        d
    }
}

impl MemRepo {
    /// Everything a manifest names must be stored first, as a registry demands: an
    /// index's manifests, an image manifest's config and layers.
    fn check_named(&self, d: &Descriptor, bytes: &[u8]) {
        let named: Vec<Descriptor> = if oci::media::is_index(&d.media_type) {
            oci::Index::from_slice(bytes).unwrap().manifests
        } else {
            let m = oci::Manifest::from_slice(bytes).unwrap();
            m.layers.into_iter().chain([m.config]).collect()
        };
        for n in named {
            let have = self.blobs.lock().unwrap().contains_key(&n.digest)
                || self
                    .manifests
                    .lock()
                    .unwrap()
                    .contains_key(&n.digest.to_string());
            assert!(have, "{} missing", n.digest);
        }
    }
}

impl SignatureRepo for MemRepo {
    async fn resolve(&self, reference: &str) -> Result<Option<Descriptor>, TrustError> {
        Ok(self
            .manifests
            .lock()
            .unwrap()
            .get(reference)
            .map(|(d, _)| d.clone()))
    }
    async fn manifest(&self, d: &Descriptor) -> Result<Vec<u8>, TrustError> {
        Ok(self.manifests.lock().unwrap()[&d.digest.to_string()]
            .1
            .clone())
    }
    async fn blob(&self, d: &Descriptor) -> Result<Vec<u8>, TrustError> {
        Ok(self.blobs.lock().unwrap()[&d.digest].clone())
    }
    async fn put_blob(&self, d: &Descriptor, bytes: Vec<u8>) -> Result<(), TrustError> {
        assert!(d.digest.verify(&bytes));
        self.blobs.lock().unwrap().insert(d.digest.clone(), bytes);
        Ok(())
    }
    async fn put_manifest(
        &self,
        d: &Descriptor,
        bytes: Vec<u8>,
        tag: &str,
    ) -> Result<(), TrustError> {
        *self.puts.lock().unwrap() += 1;
        self.check_named(d, &bytes);
        self.add_manifest(&d.media_type, &bytes, Some(tag));
        Ok(())
    }
    async fn put_manifest_untagged(
        &self,
        d: &Descriptor,
        bytes: Vec<u8>,
    ) -> Result<(), TrustError> {
        self.check_named(d, &bytes);
        self.add_manifest(&d.media_type, &bytes, None);
        Ok(())
    }
    async fn referrers(
        &self,
        subject: &Descriptor,
        artifact_type: Option<&str>,
    ) -> Result<Option<Vec<Descriptor>>, TrustError> {
        if !self.referrers_api {
            return Ok(None);
        }
        let m = self.manifests.lock().unwrap();
        let mut out: Vec<Descriptor> = Vec::new();
        for (key, (d, bytes)) in m.iter() {
            let Ok(parsed) = oci::Manifest::from_slice(bytes) else {
                continue;
            };
            let names_subject = parsed
                .subject
                .as_ref()
                .is_some_and(|s| s.digest == subject.digest);
            let of_type = artifact_type.is_none_or(|t| parsed.artifact_type.as_deref() == Some(t));
            if key.starts_with("sha256:") && names_subject && of_type {
                let mut d = d.clone();
                d.artifact_type = parsed.artifact_type.clone();
                d.annotations = parsed.annotations.clone();
                out.push(d);
            }
        }
        out.sort_by_key(|a| a.digest.to_string());
        Ok(Some(out))
    }
}

/// Runs a future to completion.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

/// A small image manifest, distinct for each `n`.
pub fn image_manifest(n: u8) -> Vec<u8> {
    let cfg = Descriptor::of_bytes(oci::media::OCI_CONFIG, &[n]);
    serde_json::to_vec(&serde_json::json!({"schemaVersion":2,"mediaType":oci::media::OCI_MANIFEST,"config":cfg,"layers":[]})).unwrap()
}
