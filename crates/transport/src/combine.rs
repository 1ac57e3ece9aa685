//! The documents of multi-platform images made from other images: a new index out of images
//! and indexes (`imagetools create`, as buildx's `Combine` does), an index narrowed to some
//! platforms (`-p`), and Docker's manifest list of `manifest push`. Pure functions: the
//! callers fetch and push.
//!
//! Attestation manifests (BuildKit's `unknown/unknown` entries annotated
//! `vnd.docker.reference.type: attestation-manifest`) are never matched as a platform; they
//! stay in a narrowed index exactly when the image they describe does.

use std::collections::{BTreeMap, HashMap, HashSet};

use oci::{AnyManifest, Descriptor, Digest, Platform, media};
use serde::Serialize;

/// The annotation naming what kind of reference an index entry is.
pub const REFERENCE_TYPE: &str = "vnd.docker.reference.type";
/// The annotation naming the digest of the image an attestation manifest describes.
pub const REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
/// [`REFERENCE_TYPE`]'s value for attestation manifests.
pub const ATTESTATION_MANIFEST: &str = "attestation-manifest";

/// Why a new index cannot be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CombineError {
    /// An `--annotation` that does not parse (buildx's messages).
    #[error("{0}")]
    Annotation(String),
    /// A source document that does not parse.
    #[error("source {digest}: {detail}")]
    Source {
        /// The source's digest.
        digest: Digest,
        /// What is wrong.
        detail: String,
    },
    /// `-p` left nothing.
    #[error("none of the manifests match the provided platforms")]
    NoMatch,
}

/// What an `--annotation` annotates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnnotationTarget {
    /// `index:`: the new index itself.
    Index,
    /// `manifest-descriptor[PLATFORM]:`: the index's entries (those of PLATFORM, or all).
    ManifestDescriptor(Option<Platform>),
    /// Another type (`manifest`, `index-descriptor`, none), which `create` refuses.
    Other(String),
}

/// One parsed `--annotation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// Where it goes.
    pub target: AnnotationTarget,
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// Parses `[TYPE[PLATFORM],…:]KEY=VALUE` as buildx does (one annotation per listed type).
pub fn parse_annotation(s: &str) -> Result<Vec<Annotation>, CombineError> {
    let (k, value) = s.split_once('=').ok_or_else(|| {
        CombineError::Annotation(format!("invalid annotation {s:?}, expected key=value"))
    })?;
    let Some((types, key)) = k.split_once(':') else {
        return Ok(vec![Annotation {
            target: AnnotationTarget::Other(String::new()),
            key: k.to_string(),
            value: value.to_string(),
        }]);
    };
    let mut out = Vec::new();
    for tp in types.split(',') {
        let (typ, platform) = match tp.split_once('[') {
            Some((t, rest)) => match rest.strip_suffix(']') {
                Some(p) if !p.is_empty() => (t, Some(p)),
                _ => (tp, Some("")),
            },
            None => (tp, None),
        };
        let valid_type = !typ.is_empty() && typ.chars().all(|c| c.is_ascii_lowercase() || c == '-');
        let valid_platform = platform.is_none_or(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '/' | '-'))
        });
        if !valid_type || !valid_platform {
            return Err(CombineError::Annotation(format!(
                "invalid annotation type {tp:?}, expected type and optional platform in square brackets"
            )));
        }
        let platform = platform
            .map(|p| {
                p.parse::<Platform>()
                    .map(|p| p.normalize())
                    .map_err(|e| CombineError::Annotation(format!("invalid platform {p:?}: {e}")))
            })
            .transpose()?;
        let target = match typ {
            "index" => AnnotationTarget::Index,
            "manifest-descriptor" => AnnotationTarget::ManifestDescriptor(platform),
            "manifest" | "index-descriptor" => AnnotationTarget::Other(typ.to_string()),
            other => {
                return Err(CombineError::Annotation(format!(
                    "unknown annotation type {other:?}"
                )));
            }
        };
        out.push(Annotation {
            target,
            key: key.to_string(),
            value: value.to_string(),
        });
    }
    Ok(out)
}

/// One source of a new index: an image manifest (its descriptor carrying the platform read
/// from its config) or an index, with its exact bytes.
#[derive(Debug, Clone)]
pub struct Part {
    /// Its descriptor.
    pub desc: Descriptor,
    /// Its bytes (an index's are read for its entries).
    pub bytes: Vec<u8>,
}

/// A new index and where each of its entries comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combined {
    /// The index's exact bytes.
    pub bytes: Vec<u8>,
    /// Its descriptor.
    pub desc: Descriptor,
    /// Its entries, each with the position of the [`Part`] it comes from.
    pub entries: Vec<(Descriptor, usize)>,
}

/// The index of `parts` (buildx's `Combine`): one source index with no annotation is kept
/// byte for byte; otherwise the entries of every part (an index's entries, or the image
/// itself), the same digest once, go into a Docker manifest list when every entry is a
/// Docker manifest and an OCI index otherwise (annotations only on an OCI index). Then
/// `platforms` (none: all) narrows it with [`filter_platforms`].
pub fn combine(
    parts: &[Part],
    annotations: &[Annotation],
    platforms: &[Platform],
) -> Result<Combined, CombineError> {
    let combined = combine_all(parts, annotations)?;
    filter_platforms(combined, platforms)
}

fn parse_index(part: &Part) -> Result<oci::Index, CombineError> {
    match AnyManifest::parse(Some(&part.desc.media_type), &part.bytes) {
        Ok(AnyManifest::Index(i)) => Ok(i),
        Ok(AnyManifest::Manifest(_)) => Err(CombineError::Source {
            digest: part.desc.digest.clone(),
            detail: "not an index".into(),
        }),
        Err(e) => Err(CombineError::Source {
            digest: part.desc.digest.clone(),
            detail: e.to_string(),
        }),
    }
}

fn combine_all(parts: &[Part], annotations: &[Annotation]) -> Result<Combined, CombineError> {
    if let [part] = parts
        && annotations.is_empty()
        && media::is_index(&part.desc.media_type)
    {
        let index = parse_index(part)?;
        return Ok(Combined {
            bytes: part.bytes.clone(),
            desc: plain(&part.desc),
            entries: index.manifests.into_iter().map(|d| (d, 0)).collect(),
        });
    }
    let mut entries: Vec<(Descriptor, usize)> = Vec::new();
    let mut at: HashMap<Digest, usize> = HashMap::new();
    let mut add = |d: Descriptor, part: usize| match at.get(&d.digest) {
        Some(&i) => {
            let old = &mut entries[i];
            if old.0.media_type.is_empty() {
                old.0.media_type = d.media_type;
            }
            if d.platform.is_some() {
                old.0.platform = d.platform;
            }
            old.0.annotations.extend(d.annotations);
            old.1 = part;
        }
        None => {
            at.insert(d.digest.clone(), entries.len());
            entries.push((d, part));
        }
    };
    for (i, part) in parts.iter().enumerate() {
        if media::is_index(&part.desc.media_type) {
            for d in parse_index(part)?.manifests {
                add(d, i);
            }
        } else {
            add(part.desc.clone(), i);
        }
    }
    let docker = entries
        .iter()
        .all(|(d, _)| d.media_type.starts_with("application/vnd.docker."));
    let media_type = if docker {
        media::DOCKER_MANIFEST_LIST
    } else {
        media::OCI_INDEX
    };
    let mut index_annotations = BTreeMap::new();
    if !docker {
        for a in annotations {
            match &a.target {
                AnnotationTarget::Index => {
                    index_annotations.insert(a.key.clone(), a.value.clone());
                }
                AnnotationTarget::ManifestDescriptor(p) => {
                    for (d, _) in &mut entries {
                        let hit = match (p, &d.platform) {
                            (None, _) => true,
                            (Some(p), Some(dp)) => p.matches(dp),
                            (Some(_), None) => false,
                        };
                        if hit {
                            d.annotations.insert(a.key.clone(), a.value.clone());
                        }
                    }
                }
                AnnotationTarget::Other(t) if t == "index-descriptor" => {
                    return Err(CombineError::Annotation(format!(
                        "{t:?} annotations are invalid while creating an image"
                    )));
                }
                AnnotationTarget::Other(t) => {
                    return Err(CombineError::Annotation(format!(
                        "{t:?} annotations are not supported yet"
                    )));
                }
            }
        }
    }
    let descs: Vec<&Descriptor> = entries.iter().map(|(d, _)| d).collect();
    let bytes = index_json(media_type, &descs, &index_annotations);
    Ok(Combined {
        desc: Descriptor::of_bytes(media_type, &bytes),
        bytes,
        entries,
    })
}

/// A descriptor with only media type, digest and size.
fn plain(d: &Descriptor) -> Descriptor {
    Descriptor::new(d.media_type.clone(), d.digest.clone(), d.size)
}

/// Whether an entry is an attestation manifest (by its annotation).
pub fn is_attestation(d: &Descriptor) -> bool {
    d.annotations.get(REFERENCE_TYPE).map(String::as_str) == Some(ATTESTATION_MANIFEST)
}

/// Narrows an index to `platforms` as buildx's `-p` does: an entry is kept when it has no
/// platform or matches one of them, an attestation manifest when the image it refers to is
/// kept. `unknown/unknown` matches no platform. With no platform, or when everything is
/// kept, the index is unchanged (its bytes too).
pub fn filter_platforms(
    combined: Combined,
    platforms: &[Platform],
) -> Result<Combined, CombineError> {
    if platforms.is_empty() {
        return Ok(combined);
    }
    let matches = |p: &Option<Platform>| match p {
        None => true,
        Some(p) => !p.is_unknown() && platforms.iter().any(|want| want.matches(p)),
    };
    let by_digest: HashMap<&Digest, &Descriptor> = combined
        .entries
        .iter()
        .map(|(d, _)| (&d.digest, d))
        .collect();
    let mut references: HashSet<Digest> = HashSet::new();
    for (d, _) in &combined.entries {
        if !is_attestation(d) {
            continue;
        }
        let subject = d
            .annotations
            .get(REFERENCE_DIGEST)
            .and_then(|s| s.parse::<Digest>().ok())
            .and_then(|s| by_digest.get(&s));
        if subject.is_some_and(|s| matches(&s.platform)) {
            references.insert(d.digest.clone());
        }
    }
    let kept: Vec<(Descriptor, usize)> = combined
        .entries
        .iter()
        .filter(|(d, _)| {
            references.contains(&d.digest) || (!is_attestation(d) && matches(&d.platform))
        })
        .cloned()
        .collect();
    if kept.is_empty() {
        return Err(CombineError::NoMatch);
    }
    if kept.len() == combined.entries.len() {
        return Ok(combined);
    }
    let index: oci::Index =
        serde_json::from_slice(&combined.bytes).map_err(|e| CombineError::Source {
            digest: combined.desc.digest.clone(),
            detail: e.to_string(),
        })?;
    let media_type = index
        .media_type
        .clone()
        .unwrap_or_else(|| combined.desc.media_type.clone());
    let descs: Vec<&Descriptor> = kept.iter().map(|(d, _)| d).collect();
    let bytes = index_json(&media_type, &descs, &index.annotations);
    Ok(Combined {
        desc: Descriptor::of_bytes(media_type, &bytes),
        bytes,
        entries: kept,
    })
}

/// A platform in Go's field order (containerd's `ocispec.Platform`).
#[derive(Serialize)]
struct PlatformJson<'a> {
    architecture: &'a str,
    os: &'a str,
    #[serde(rename = "os.version", skip_serializing_if = "Option::is_none")]
    os_version: Option<&'a str>,
    #[serde(rename = "os.features", skip_serializing_if = "<[String]>::is_empty")]
    os_features: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
}

impl<'a> PlatformJson<'a> {
    fn of(p: &'a Platform) -> PlatformJson<'a> {
        PlatformJson {
            architecture: &p.architecture,
            os: &p.os,
            os_version: p.os_version.as_deref(),
            os_features: &p.os_features,
            variant: p.variant.as_deref(),
        }
    }
}

/// An OCI descriptor in Go's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OciDescriptorJson<'a> {
    media_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    artifact_type: Option<&'a str>,
    digest: String,
    size: u64,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    urls: &'a [String],
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    platform: Option<PlatformJson<'a>>,
}

/// An index as buildx writes it: Go's field order, two-space indent.
fn index_json(
    media_type: &str,
    descs: &[&Descriptor],
    annotations: &BTreeMap<String, String>,
) -> Vec<u8> {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct IndexJson<'a> {
        schema_version: u32,
        media_type: &'a str,
        manifests: Vec<OciDescriptorJson<'a>>,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        annotations: &'a BTreeMap<String, String>,
    }
    let manifests = descs
        .iter()
        .map(|d| OciDescriptorJson {
            media_type: &d.media_type,
            artifact_type: d.artifact_type.as_deref(),
            digest: d.digest.to_string(),
            size: d.size,
            urls: &d.urls,
            annotations: &d.annotations,
            platform: d.platform.as_ref().map(PlatformJson::of),
        })
        .collect();
    go_indent(
        &IndexJson {
            schema_version: 2,
            media_type,
            manifests,
            annotations,
        },
        b"  ",
    )
}

/// Docker's manifest list of `docker manifest push` (distribution's `manifestlist`, indented
/// with three spaces as `FromDescriptors` writes it): every entry with its platform.
pub fn docker_manifest_list(entries: &[Descriptor]) -> (Vec<u8>, Descriptor) {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Entry<'a> {
        media_type: &'a str,
        size: u64,
        digest: String,
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        urls: &'a [String],
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        annotations: &'a BTreeMap<String, String>,
        platform: PlatformJson<'a>,
    }
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct List<'a> {
        schema_version: u32,
        media_type: &'a str,
        manifests: Vec<Entry<'a>>,
    }
    let none = Platform::default();
    let list = List {
        schema_version: 2,
        media_type: media::DOCKER_MANIFEST_LIST,
        manifests: entries
            .iter()
            .map(|d| Entry {
                media_type: &d.media_type,
                size: d.size,
                digest: d.digest.to_string(),
                urls: &d.urls,
                annotations: &d.annotations,
                platform: PlatformJson::of(d.platform.as_ref().unwrap_or(&none)),
            })
            .collect(),
    };
    let bytes = go_indent(&list, b"   ");
    let desc = Descriptor::of_bytes(media::DOCKER_MANIFEST_LIST, &bytes);
    (bytes, desc)
}

/// JSON as Go's `json.MarshalIndent(v, "", indent)` writes it.
fn go_indent<T: Serialize>(v: &T, indent: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(indent);
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    // Serialising these plain structs of strings and numbers cannot fail.
    v.serialize(&mut ser).expect("serialising JSON into memory");
    buf
}

#[cfg(test)]
#[path = "combine_tests.rs"]
mod tests;
