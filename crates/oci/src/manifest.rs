//! Image manifests and indexes (OCI and Docker schema2 share one shape each).
//!
//! These types are for reading and for writing manifests strata makes itself. A manifest
//! that came from elsewhere is kept and served as its original bytes, never re-serialised:
//! its digest is over those bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Descriptor, OciError, media};

/// An image manifest: one config and an ordered list of layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// The manifest's own media type (optional in OCI, required by Docker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type, for OCI artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The image config.
    pub config: Descriptor,
    /// Layers, base first.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (referrers API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An image index (OCI) or manifest list (Docker): manifests for several platforms.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Index {
    /// Always 2.
    pub schema_version: u32,
    /// The index's own media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The artifact type, for OCI artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The entries.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
    /// The manifest this one refers to (referrers API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Free-form annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A parsed manifest or index, whichever the bytes hold.
#[derive(Debug, Clone, PartialEq, Eq)]
// Short-lived parse results; boxing would cost every caller a deref for no real gain.
#[allow(clippy::large_enum_variant)]
pub enum AnyManifest {
    /// A single-image manifest.
    Manifest(Manifest),
    /// An index or manifest list.
    Index(Index),
}

impl Manifest {
    /// Parses manifest bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Manifest, OciError> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| OciError::InvalidJson {
            what: "image manifest",
            source: e,
        })?;
        if m.schema_version != 2 {
            return Err(OciError::Unsupported(format!(
                "manifest schemaVersion {} (only 2 is supported)",
                m.schema_version
            )));
        }
        Ok(m)
    }

    /// Serialises a manifest strata makes (2-space-free compact JSON).
    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("manifest serialises")
    }

    /// The media type to label these bytes with: the declared one, else inferred from the
    /// config's media type.
    pub fn effective_media_type(&self) -> &str {
        match &self.media_type {
            Some(mt) => mt,
            None if self.config.media_type == media::DOCKER_CONFIG => media::DOCKER_MANIFEST,
            None => media::OCI_MANIFEST,
        }
    }
}

impl Index {
    /// Parses index bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Index, OciError> {
        let i: Index = serde_json::from_slice(bytes).map_err(|e| OciError::InvalidJson {
            what: "image index",
            source: e,
        })?;
        if i.schema_version != 2 {
            return Err(OciError::Unsupported(format!(
                "index schemaVersion {} (only 2 is supported)",
                i.schema_version
            )));
        }
        Ok(i)
    }

    /// Serialises an index strata makes.
    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("index serialises")
    }
}

impl AnyManifest {
    /// Parses bytes as an index or a manifest. `media_type` (from a descriptor or a
    /// `Content-Type` header) decides when given; otherwise the JSON's own `mediaType`, then
    /// its shape (`manifests` vs `config`).
    pub fn parse(media_type: Option<&str>, bytes: &[u8]) -> Result<AnyManifest, OciError> {
        let declared = media_type.filter(|mt| media::is_index(mt) || media::is_manifest(mt));
        let is_index = match declared {
            Some(mt) => media::is_index(mt),
            None => {
                #[derive(Deserialize)]
                #[serde(rename_all = "camelCase")]
                struct Probe {
                    media_type: Option<String>,
                    manifests: Option<serde_json::Value>,
                }
                let p: Probe =
                    serde_json::from_slice(bytes).map_err(|e| OciError::InvalidJson {
                        what: "manifest",
                        source: e,
                    })?;
                match p.media_type.as_deref() {
                    Some(mt) if media::is_index(mt) => true,
                    Some(mt) if media::is_manifest(mt) => false,
                    _ => p.manifests.is_some(),
                }
            }
        };
        if is_index {
            Index::from_slice(bytes).map(AnyManifest::Index)
        } else {
            Manifest::from_slice(bytes).map(AnyManifest::Manifest)
        }
    }

    /// Every descriptor this manifest refers to directly (config and layers, or entries,
    /// plus the subject): the edges GC follows.
    pub fn children(&self) -> Vec<&Descriptor> {
        match self {
            AnyManifest::Manifest(m) => std::iter::once(&m.config)
                .chain(m.layers.iter())
                .chain(m.subject.iter())
                .collect(),
            AnyManifest::Index(i) => i.manifests.iter().chain(i.subject.iter()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_index_from_manifest() {
        let cfg = r#"{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0}"#;
        let m = format!(r#"{{"schemaVersion":2,"config":{cfg},"layers":[]}}"#);
        let i = r#"{"schemaVersion":2,"manifests":[]}"#;
        for (mt, bytes, index) in [
            (None, m.as_str(), false),
            (None, i, true),
            (Some(media::OCI_INDEX), i, true),
            (Some(media::DOCKER_MANIFEST), m.as_str(), false),
            (Some("application/octet-stream"), i, true),
        ] {
            let parsed = AnyManifest::parse(mt, bytes.as_bytes()).unwrap();
            assert_eq!(
                matches!(parsed, AnyManifest::Index(_)),
                index,
                "{mt:?} {bytes}"
            );
        }
        assert!(AnyManifest::parse(None, b"{\"schemaVersion\":1}").is_err());
        assert!(AnyManifest::parse(None, b"not json").is_err());
    }
}
