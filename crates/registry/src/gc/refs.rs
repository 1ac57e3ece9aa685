//! What a manifest refers to, as the mark phase reads it: parsed when it parses, and every
//! `digest` in its JSON either way.

use std::collections::BTreeSet;

use oci::{AnyManifest, Digest};

/// The digests a manifest or index refers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    /// Blobs: the config and layers of an image manifest, plus any other `digest` the JSON
    /// holds (kept conservatively).
    pub blobs: BTreeSet<Digest>,
    /// Manifests: the entries of an index or manifest list.
    pub manifests: BTreeSet<Digest>,
    /// The `subject` (referrers API), when any.
    pub subject: Option<Digest>,
}

/// The digests `bytes` (a manifest of `media_type`) refers to. Pure. Bytes that do not
/// parse as a manifest or index still yield every `digest` / `blobSum` string found in
/// their JSON, so GC never frees something a manifest it does not understand names.
pub fn references(media_type: Option<&str>, bytes: &[u8]) -> References {
    let mut refs = References::default();
    if let Ok(parsed) = AnyManifest::parse(media_type, bytes) {
        match parsed {
            AnyManifest::Manifest(m) => {
                refs.blobs.insert(m.config.digest.clone());
                refs.blobs.extend(m.layers.iter().map(|l| l.digest.clone()));
                refs.subject = m.subject.map(|s| s.digest);
            }
            AnyManifest::Index(i) => {
                refs.manifests
                    .extend(i.manifests.iter().map(|d| d.digest.clone()));
                refs.subject = i.subject.map(|s| s.digest);
            }
        }
    }
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) {
        let mut found = Vec::new();
        json_digests(&v, &mut found);
        for d in found {
            if !refs.manifests.contains(&d) && refs.subject.as_ref() != Some(&d) {
                refs.blobs.insert(d);
            }
        }
    }
    refs
}

fn json_digests(v: &serde_json::Value, out: &mut Vec<Digest>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if k == "annotations" {
                    continue;
                }
                match v {
                    serde_json::Value::String(s) if k == "digest" || k == "blobSum" => {
                        if let Ok(d) = s.parse::<Digest>() {
                            out.push(d);
                        }
                    }
                    _ => json_digests(v, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|v| json_digests(v, out)),
        _ => {}
    }
}
