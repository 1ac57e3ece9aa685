//! SPDX 2.3 JSON: a document describing one package for the image (purpose `CONTAINER`),
//! which contains the operating system (purpose `OPERATING-SYSTEM`) and every package
//! found, each with its purl, declared licence and where it was found (`sourceInfo`).

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use super::license::{License, judge};
use super::{
    Document, SbomError, TOOL_VERSION, check_created, document_uuid, image_purl, layer_of,
    package_keys, slug,
};
use crate::package::Package;

const NOASSERTION: &str = "NOASSERTION";
const IMAGE_ID: &str = "SPDXRef-Image";
const OS_ID: &str = "SPDXRef-OperatingSystem";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxDocument<'a> {
    spdx_version: &'static str,
    data_license: &'static str,
    #[serde(rename = "SPDXID")]
    spdx_id: &'static str,
    name: String,
    document_namespace: String,
    creation_info: CreationInfo<'a>,
    packages: Vec<SpdxPackage>,
    relationships: Vec<Relationship>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    has_extracted_licensing_infos: Vec<ExtractedLicense>,
}

#[derive(Serialize)]
struct CreationInfo<'a> {
    creators: Vec<String>,
    created: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SpdxPackage {
    name: String,
    #[serde(rename = "SPDXID")]
    spdx_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<String>,
    download_location: &'static str,
    files_analyzed: bool,
    license_concluded: &'static str,
    license_declared: String,
    copyright_text: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
    primary_package_purpose: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: String,
    relationship_type: &'static str,
    related_spdx_element: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExtractedLicense {
    license_id: String,
    extracted_text: String,
    name: String,
}

/// Free-text licences seen so far, each given one `LicenseRef-` id.
#[derive(Default)]
struct LicenseRefs(BTreeMap<String, String>);

impl LicenseRefs {
    fn id(&mut self, text: &str) -> String {
        let next = self.0.len();
        self.0
            .entry(text.to_owned())
            .or_insert_with(|| format!("LicenseRef-{}-{next}", slug(text, 40)))
            .clone()
    }

    fn into_infos(self) -> Vec<ExtractedLicense> {
        let mut infos: Vec<ExtractedLicense> = self
            .0
            .into_iter()
            .map(|(text, id)| ExtractedLicense {
                license_id: id,
                extracted_text: text.clone(),
                name: text,
            })
            .collect();
        infos.sort_by(|a, b| a.license_id.cmp(&b.license_id));
        infos
    }
}

/// The declared licence expression of a package: its licences joined by `AND`, free
/// text as `LicenseRef-`s; `NOASSERTION` when none is declared.
fn declared(licenses: &[String], refs: &mut LicenseRefs) -> String {
    let parts: Vec<String> = licenses
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match judge(l) {
            License::Spdx { expression, simple } if simple || licenses.len() == 1 => expression,
            License::Spdx { expression, .. } => format!("({expression})"),
            License::Text(text) => refs.id(&text),
        })
        .collect();
    if parts.is_empty() {
        NOASSERTION.to_owned()
    } else {
        parts.join(" AND ")
    }
}

/// SPDX ids allow letters, digits, `.` and `-`; the key is hashed in so ids stay unique.
fn spdx_id(p: &Package, key: &str) -> String {
    let name = slug(&p.found.name, 60);
    let h = hex::encode(super::hash(&[key]));
    format!("SPDXRef-Package-{}-{name}-{}", p.kind.purl_type(), &h[..16])
}

/// Where a package was found, for `sourceInfo`.
fn source_info(doc: &Document, p: &Package) -> String {
    let mut s = format!("found in layer {}", p.layer);
    if let Some(layer) = layer_of(doc, p)
        && !layer.digest.is_empty()
    {
        s.push_str(&format!(" (digest {}", layer.digest));
        if !layer.diff_id.is_empty() {
            s.push_str(&format!(", diffID {}", layer.diff_id));
        }
        s.push(')');
    }
    s.push_str(&format!(" at {}", p.path));
    if let Some((name, version)) = &p.found.source {
        s.push_str(&format!("; built from source package {name} {version}"));
    }
    s
}

/// Writes the SPDX 2.3 JSON document.
pub fn write(doc: &Document, out: &mut dyn Write) -> Result<(), SbomError> {
    check_created(doc.created)?;
    let image = doc.image;
    let inv = doc.inventory;
    let mut refs = LicenseRefs::default();
    let mut packages = Vec::with_capacity(inv.packages.len() + 2);
    let mut relationships = vec![Relationship {
        spdx_element_id: "SPDXRef-DOCUMENT".into(),
        relationship_type: "DESCRIBES",
        related_spdx_element: IMAGE_ID.into(),
    }];
    packages.push(SpdxPackage {
        name: image.name.clone(),
        spdx_id: IMAGE_ID.into(),
        version_info: image.digest.clone(),
        download_location: NOASSERTION,
        files_analyzed: false,
        license_concluded: NOASSERTION,
        license_declared: NOASSERTION.into(),
        copyright_text: NOASSERTION,
        source_info: image.platform.as_ref().map(|p| format!("platform {p}")),
        external_refs: image_purl(image)
            .map(|purl| ExternalRef {
                reference_category: "PACKAGE-MANAGER",
                reference_type: "purl",
                reference_locator: purl,
            })
            .into_iter()
            .collect(),
        primary_package_purpose: "CONTAINER",
    });
    if let Some(distro) = &inv.distro {
        packages.push(SpdxPackage {
            name: distro.id.clone(),
            spdx_id: OS_ID.into(),
            version_info: (!distro.version_id.is_empty()).then(|| distro.version_id.clone()),
            download_location: NOASSERTION,
            files_analyzed: false,
            license_concluded: NOASSERTION,
            license_declared: NOASSERTION.into(),
            copyright_text: NOASSERTION,
            source_info: Some(format!("{} (etc/os-release)", distro.pretty_name)),
            external_refs: Vec::new(),
            primary_package_purpose: "OPERATING-SYSTEM",
        });
        relationships.push(Relationship {
            spdx_element_id: IMAGE_ID.into(),
            relationship_type: "CONTAINS",
            related_spdx_element: OS_ID.into(),
        });
    }
    for (p, key) in inv.packages.iter().zip(package_keys(&inv.packages)) {
        let id = spdx_id(p, &key);
        relationships.push(Relationship {
            spdx_element_id: IMAGE_ID.into(),
            relationship_type: "CONTAINS",
            related_spdx_element: id.clone(),
        });
        packages.push(SpdxPackage {
            name: p.found.name.clone(),
            spdx_id: id,
            version_info: Some(p.found.version.clone()),
            download_location: NOASSERTION,
            files_analyzed: false,
            license_concluded: NOASSERTION,
            license_declared: declared(&p.found.licenses, &mut refs),
            copyright_text: NOASSERTION,
            source_info: Some(source_info(doc, p)),
            external_refs: vec![ExternalRef {
                reference_category: "PACKAGE-MANAGER",
                reference_type: "purl",
                reference_locator: p.purl.clone(),
            }],
            primary_package_purpose: "LIBRARY",
        });
    }
    let name = slug(&image.name, 80);
    let document = SpdxDocument {
        spdx_version: "SPDX-2.3",
        data_license: "CC0-1.0",
        spdx_id: "SPDXRef-DOCUMENT",
        name: image.name.clone(),
        // SPDX's advice for tools without a domain of their own.
        document_namespace: format!(
            "https://spdx.org/spdxdocs/strata-{name}-{}",
            document_uuid(doc, "spdx")
        ),
        creation_info: CreationInfo {
            creators: vec![format!("Tool: strata-{TOOL_VERSION}")],
            created: doc.created,
        },
        packages,
        relationships,
        has_extracted_licensing_infos: refs.into_infos(),
    };
    serde_json::to_writer_pretty(&mut *out, &document).map_err(|e| SbomError::json("SPDX", e))?;
    out.write_all(b"\n").map_err(|source| SbomError::Write {
        format: "SPDX",
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_licences_join_with_and_and_free_text_gets_a_ref() {
        let mut refs = LicenseRefs::default();
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(declared(&l(&[]), &mut refs), "NOASSERTION");
        assert_eq!(
            declared(&l(&["MIT OR Apache-2.0"]), &mut refs),
            "MIT OR Apache-2.0"
        );
        assert_eq!(
            declared(&l(&["GPL-2+", "MIT OR Apache-2.0"]), &mut refs),
            "GPL-2.0-or-later AND (MIT OR Apache-2.0)"
        );
        assert_eq!(
            declared(&l(&["public domain", "MIT"]), &mut refs),
            "LicenseRef-public-domain-0 AND MIT"
        );
        assert_eq!(
            declared(&l(&["public domain"]), &mut refs),
            "LicenseRef-public-domain-0"
        );
        assert_eq!(
            declared(&l(&["(c) Foo, Inc."]), &mut refs),
            "LicenseRef-c-Foo-Inc-1"
        );
        assert_eq!(refs.into_infos().len(), 2);
    }
}
