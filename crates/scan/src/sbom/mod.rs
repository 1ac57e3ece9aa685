//! SBOM writers: SPDX 2.3 JSON, CycloneDX 1.5/1.6 JSON and a table for humans, from what a
//! walk found ([`Inventory`]) and what is known of the image ([`ImageInfo`]).
//!
//! Output is reproducible: the creation time is the caller's, and the SPDX namespace and
//! the CycloneDX serial number are derived from the image's digest (or, for a directory,
//! from its name and packages), so the same image gives the same bytes.
//!
//! The structures are this crate's own `serde` types (no SBOM crate: the maintained ones
//! pin older spec versions or pull large dependency trees), written with `serde_json`
//! straight to the caller's writer.

pub mod cyclonedx;
pub mod license;
pub mod spdx;
pub mod table;

use std::io::Write;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::inventory::{ImageInfo, Inventory, LayerInfo};
use crate::package::Package;

/// The version strata's SBOMs name as their creator (`strata-<version>`).
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// What an SBOM describes, and when it was made.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    /// The image (or directory).
    pub image: &'a ImageInfo,
    /// What was found in it.
    pub inventory: &'a Inventory,
    /// The creation time, UTC, as `YYYY-MM-DDThh:mm:ssZ` (SPDX's form, which CycloneDX
    /// accepts too): given by the caller, so output is reproducible.
    pub created: &'a str,
}

/// A CycloneDX specification version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SpecVersion {
    /// CycloneDX 1.5.
    V1_5,
    /// CycloneDX 1.6 (the default).
    #[default]
    V1_6,
}

impl SpecVersion {
    /// `1.5` or `1.6`.
    pub fn as_str(self) -> &'static str {
        match self {
            SpecVersion::V1_5 => "1.5",
            SpecVersion::V1_6 => "1.6",
        }
    }
}

/// An output format of `strata sbom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// SPDX 2.3 JSON.
    SpdxJson,
    /// CycloneDX JSON of the given version.
    CycloneDxJson(SpecVersion),
    /// A table: name, version, type, layer.
    Table,
}

impl FromStr for Format {
    type Err = SbomError;

    /// `spdx-json`, `cyclonedx-json` (1.6), `cyclonedx-json@1.5`, `cyclonedx-json@1.6`,
    /// `table`.
    fn from_str(s: &str) -> Result<Format, SbomError> {
        Ok(match s {
            "spdx-json" => Format::SpdxJson,
            "cyclonedx-json" | "cyclonedx-json@1.6" => Format::CycloneDxJson(SpecVersion::V1_6),
            "cyclonedx-json@1.5" => Format::CycloneDxJson(SpecVersion::V1_5),
            "table" => Format::Table,
            other => return Err(SbomError::UnknownFormat(other.to_owned())),
        })
    }
}

impl Format {
    /// Writes `doc` in this format.
    pub fn write(self, doc: &Document, out: &mut dyn Write) -> Result<(), SbomError> {
        match self {
            Format::SpdxJson => spdx::write(doc, out),
            Format::CycloneDxJson(version) => cyclonedx::write(doc, version, out),
            Format::Table => table::write(doc, out),
        }
    }
}

/// Why an SBOM was not written.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    /// The format name is not one strata writes.
    #[error(
        "unknown SBOM format {0:?}: use spdx-json, cyclonedx-json, cyclonedx-json@1.5 or table"
    )]
    UnknownFormat(String),
    /// The creation time is not `YYYY-MM-DDThh:mm:ssZ`.
    #[error(
        "SBOM creation time {0:?} is not of the form 2024-01-31T12:00:00Z (UTC, whole seconds)"
    )]
    Created(String),
    /// Writing failed.
    #[error("writing the {format} SBOM: {source}")]
    Write {
        /// Which format.
        format: &'static str,
        /// The cause.
        source: std::io::Error,
    },
}

impl SbomError {
    fn json(format: &'static str, e: serde_json::Error) -> SbomError {
        SbomError::Write {
            format,
            source: e.into(),
        }
    }
}

/// Checks `created` is `YYYY-MM-DDThh:mm:ssZ`.
fn check_created(created: &str) -> Result<(), SbomError> {
    let shape = "dddd-dd-ddTdd:dd:ddZ";
    let ok = created.len() == shape.len()
        && created.bytes().zip(shape.bytes()).all(|(c, s)| match s {
            b'd' => c.is_ascii_digit(),
            _ => c == s,
        });
    if ok {
        Ok(())
    } else {
        Err(SbomError::Created(created.to_owned()))
    }
}

/// A SHA-256 of the parts, separated so `("ab","c")` and `("a","bc")` differ.
fn hash(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// What identifies the document's subject: the manifest digest, else the config digest,
/// else (a directory) the name and every package's purl and path.
fn subject_key(doc: &Document) -> String {
    if let Some(d) = doc
        .image
        .digest
        .as_ref()
        .or(doc.image.config_digest.as_ref())
    {
        return d.clone();
    }
    let mut parts = vec![doc.image.name.clone()];
    for p in &doc.inventory.packages {
        parts.push(format!("{}\n{}", p.purl, p.path));
    }
    hex::encode(hash(&parts.iter().map(String::as_str).collect::<Vec<_>>()))
}

/// A name-based UUID (RFC 9562 version 5 layout, SHA-256 instead of SHA-1) of the subject
/// and a salt, so each format's id differs but is stable.
pub fn document_uuid(doc: &Document, salt: &str) -> String {
    let mut b = hash(&[salt, &subject_key(doc)]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(&b[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Ids for packages, unique within a document and stable: the purl, and where two
/// packages share one (two copies at different paths) a short hash of the path after it.
fn package_keys(packages: &[Package]) -> Vec<String> {
    let mut seen = std::collections::HashMap::<&str, usize>::new();
    for p in packages {
        *seen.entry(p.purl.as_str()).or_default() += 1;
    }
    let mut used = std::collections::HashSet::new();
    packages
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut key = if seen[p.purl.as_str()] == 1 {
                p.purl.clone()
            } else {
                format!("{}#{}", p.purl, &hex::encode(hash(&[&p.path]))[..12])
            };
            if !used.insert(key.clone()) {
                // The same purl at the same path twice: the inventory's index tells apart.
                key = format!("{key}-{i}");
                used.insert(key.clone());
            }
            key
        })
        .collect()
}

/// The layer a package came from, when the image lists it.
fn layer_of<'a>(doc: &'a Document, p: &Package) -> Option<&'a LayerInfo> {
    doc.image.layers.get(p.layer)
}

/// `pkg:oci/NAME@DIGEST?arch=…&repository_url=…` for an image with a manifest digest.
fn image_purl(image: &ImageInfo) -> Option<String> {
    let digest = image.digest.as_ref()?;
    let repo = image.name.split('@').next().unwrap_or_default();
    // Drop a tag (a `:` after the last `/`), keep a registry's port.
    let repo = match repo.rfind(':') {
        Some(i) if !repo[i..].contains('/') => &repo[..i],
        _ => repo,
    };
    let name = repo.rsplit('/').next().unwrap_or(repo).to_ascii_lowercase();
    if name.is_empty() || repo.starts_with('/') || repo.contains("://") {
        return None;
    }
    let mut purl = format!("pkg:oci/{}@{}", encode(&name), encode(digest));
    let mut q = Vec::new();
    if let Some(arch) = image.platform.as_deref().and_then(|p| p.split('/').nth(1)) {
        q.push(format!("arch={}", encode(arch)));
    }
    q.push(format!("repository_url={}", encode(repo)));
    purl.push('?');
    purl.push_str(&q.join("&"));
    Some(purl)
}

/// Letters, digits and `.` of `text`, other runs as one `-`, no `-` or `.` at either end,
/// at most `max` characters: what SPDX ids (`[A-Za-z0-9.-]+`) may hold. Empty text gives
/// `x`.
pub(crate) fn slug(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '.' {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        if out.len() >= max {
            break;
        }
    }
    let out = out.trim_matches(['-', '.']);
    if out.is_empty() {
        "x".to_owned()
    } else {
        out.to_owned()
    }
}

/// Percent-encodes what a purl component may not hold literally.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_must_be_utc_whole_seconds() {
        assert!(check_created("2026-12-07T08:00:00Z").is_ok());
        for bad in [
            "2026-12-07",
            "2026-12-07T08:00:00+01:00",
            "2026-12-07T08:00:00.5Z",
            "",
        ] {
            assert!(check_created(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn image_purls_drop_the_tag_and_keep_the_repository() {
        let image = |name: &str, digest: Option<&str>| ImageInfo {
            name: name.into(),
            digest: digest.map(str::to_owned),
            platform: Some("linux/amd64".into()),
            ..ImageInfo::default()
        };
        let cases = [
            (
                "localhost:5000/team/app:1.0",
                Some("sha256:ab"),
                Some(
                    "pkg:oci/app@sha256%3Aab?arch=amd64&repository_url=localhost%3A5000%2Fteam%2Fapp",
                ),
            ),
            (
                "debian",
                Some("sha256:cd"),
                Some("pkg:oci/debian@sha256%3Acd?arch=amd64&repository_url=debian"),
            ),
            ("/srv/rootfs", Some("sha256:cd"), None),
            ("debian:12", None, None),
        ];
        for (name, digest, want) in cases {
            assert_eq!(image_purl(&image(name, digest)).as_deref(), want, "{name}");
        }
    }

    #[test]
    fn uuids_are_version_5_shaped_and_differ_by_salt() {
        let image = ImageInfo {
            digest: Some("sha256:00".into()),
            ..ImageInfo::default()
        };
        let inventory = Inventory::default();
        let doc = Document {
            image: &image,
            inventory: &inventory,
            created: "2026-01-01T00:00:00Z",
        };
        let a = document_uuid(&doc, "spdx");
        let re = regex::Regex::new(
            r"^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
        )
        .unwrap();
        assert!(re.is_match(&a), "{a}");
        assert_ne!(a, document_uuid(&doc, "cyclonedx"));
        assert_eq!(a, document_uuid(&doc, "spdx"));
    }
}
