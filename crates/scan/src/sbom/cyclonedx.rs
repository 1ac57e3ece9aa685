//! CycloneDX 1.5/1.6 JSON: the image as `metadata.component` (type `container`), the
//! operating system (type `operating-system`) and every package (type `library`) as
//! components with their purl, licences and where they were found (`strata:*`
//! properties, as Trivy's `aquasecurity:trivy:*`), and the image depending on all of them.

use std::io::Write;

use serde::Serialize;

use super::license::{License, judge};
use super::{
    Document, SbomError, SpecVersion, TOOL_VERSION, check_created, document_uuid, image_purl,
    layer_of, package_keys,
};
use crate::package::{Package, PackageKind};

const IMAGE_REF: &str = "strata:image";
const OS_REF: &str = "strata:operating-system";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Bom<'a> {
    #[serde(rename = "$schema")]
    schema: String,
    bom_format: &'static str,
    spec_version: &'static str,
    serial_number: String,
    version: u32,
    metadata: Metadata<'a>,
    components: Vec<Component>,
    dependencies: Vec<Dependency>,
}

#[derive(Serialize)]
struct Metadata<'a> {
    timestamp: &'a str,
    tools: Tools,
    component: Component,
}

#[derive(Serialize)]
struct Tools {
    components: Vec<Component>,
}

#[derive(Serialize, Default)]
struct Component {
    #[serde(rename = "bom-ref", skip_serializing_if = "Option::is_none")]
    bom_ref: Option<String>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    purl: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    licenses: Vec<LicenseChoice>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    properties: Vec<Property>,
}

/// One entry of `licenses`: a license (by SPDX id or by name) or one expression.
#[derive(Serialize)]
#[serde(untagged)]
enum LicenseChoice {
    License { license: LicenseEntry },
    Expression { expression: String },
}

#[derive(Serialize)]
#[serde(untagged)]
enum LicenseEntry {
    Id { id: String },
    Name { name: String },
}

#[derive(Serialize)]
struct Property {
    name: &'static str,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Dependency {
    #[serde(rename = "ref")]
    reference: String,
    depends_on: Vec<String>,
}

/// The `licenses` array: the schema allows either license entries or one expression, so
/// a package whose licences are all SPDX becomes one expression (or one id), and one with
/// any free text lists each licence (ids where they are single ids, names otherwise).
fn licenses(declared: &[String]) -> Vec<LicenseChoice> {
    let judged: Vec<License> = declared
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| judge(l))
        .collect();
    if judged.is_empty() {
        return Vec::new();
    }
    let all_spdx = judged.iter().all(|l| matches!(l, License::Spdx { .. }));
    if all_spdx {
        if let [
            License::Spdx {
                expression,
                simple: true,
            },
        ] = &judged[..]
        {
            return vec![LicenseChoice::License {
                license: LicenseEntry::Id {
                    id: expression.clone(),
                },
            }];
        }
        let parts: Vec<String> = judged
            .iter()
            .map(|l| match l {
                License::Spdx { expression, simple } if *simple || judged.len() == 1 => {
                    expression.clone()
                }
                License::Spdx { expression, .. } => format!("({expression})"),
                License::Text(_) => unreachable!("all are SPDX"),
            })
            .collect();
        return vec![LicenseChoice::Expression {
            expression: parts.join(" AND "),
        }];
    }
    judged
        .into_iter()
        .map(|l| LicenseChoice::License {
            license: match l {
                License::Spdx {
                    expression,
                    simple: true,
                } => LicenseEntry::Id { id: expression },
                License::Spdx {
                    expression: text, ..
                }
                | License::Text(text) => LicenseEntry::Name { name: text },
            },
        })
        .collect()
}

/// Maven names are `group:artifact`; CycloneDX has a field for the group.
fn group_and_name(p: &Package) -> (Option<String>, String) {
    match (p.kind, p.found.name.split_once(':')) {
        (PackageKind::Maven, Some((group, artifact))) => {
            (Some(group.to_owned()), artifact.to_owned())
        }
        _ => (None, p.found.name.clone()),
    }
}

fn properties(doc: &Document, p: &Package) -> Vec<Property> {
    let mut props = vec![Property {
        name: "strata:package:type",
        value: p.kind.label().to_owned(),
    }];
    if let Some(layer) = layer_of(doc, p) {
        if !layer.digest.is_empty() {
            props.push(Property {
                name: "strata:layer:digest",
                value: layer.digest.clone(),
            });
        }
        if !layer.diff_id.is_empty() {
            props.push(Property {
                name: "strata:layer:diffID",
                value: layer.diff_id.clone(),
            });
        }
        if let Some(step) = &layer.created_by {
            props.push(Property {
                name: "strata:layer:step",
                value: step.clone(),
            });
        }
    }
    props.push(Property {
        name: "strata:layer:index",
        value: p.layer.to_string(),
    });
    props.push(Property {
        name: "strata:path",
        value: p.path.clone(),
    });
    if let Some((name, version)) = &p.found.source {
        props.push(Property {
            name: "strata:source:name",
            value: name.clone(),
        });
        props.push(Property {
            name: "strata:source:version",
            value: version.clone(),
        });
    }
    if let Some(arch) = &p.found.arch {
        props.push(Property {
            name: "strata:package:arch",
            value: arch.clone(),
        });
    }
    props
}

/// Writes the CycloneDX JSON document of the given version.
pub fn write(doc: &Document, spec: SpecVersion, out: &mut dyn Write) -> Result<(), SbomError> {
    check_created(doc.created)?;
    let image = doc.image;
    let inv = doc.inventory;
    let mut components = Vec::with_capacity(inv.packages.len() + 1);
    let mut refs = Vec::with_capacity(inv.packages.len() + 1);
    if let Some(distro) = &inv.distro {
        components.push(Component {
            bom_ref: Some(OS_REF.into()),
            kind: "operating-system",
            name: distro.id.clone(),
            version: (!distro.version_id.is_empty()).then(|| distro.version_id.clone()),
            properties: vec![Property {
                name: "strata:os:prettyName",
                value: distro.pretty_name.clone(),
            }],
            ..Component::default()
        });
        refs.push(OS_REF.to_owned());
    }
    for (p, key) in inv.packages.iter().zip(package_keys(&inv.packages)) {
        let (group, name) = group_and_name(p);
        components.push(Component {
            bom_ref: Some(key.clone()),
            kind: "library",
            group,
            name,
            version: Some(p.found.version.clone()),
            purl: Some(p.purl.clone()),
            licenses: licenses(&p.found.licenses),
            properties: properties(doc, p),
        });
        refs.push(key);
    }
    let mut image_props = Vec::new();
    for (name, value) in [
        ("strata:image:digest", &image.digest),
        ("strata:image:configDigest", &image.config_digest),
        ("strata:image:platform", &image.platform),
    ] {
        if let Some(v) = value {
            image_props.push(Property {
                name,
                value: v.clone(),
            });
        }
    }
    for layer in &image.layers {
        if !layer.diff_id.is_empty() {
            image_props.push(Property {
                name: "strata:image:diffID",
                value: layer.diff_id.clone(),
            });
        }
    }
    let bom = Bom {
        schema: format!(
            "http://cyclonedx.org/schema/bom-{}.schema.json",
            spec.as_str()
        ),
        bom_format: "CycloneDX",
        spec_version: spec.as_str(),
        serial_number: format!("urn:uuid:{}", document_uuid(doc, "cyclonedx")),
        version: 1,
        metadata: Metadata {
            timestamp: doc.created,
            tools: Tools {
                components: vec![Component {
                    kind: "application",
                    name: "strata".into(),
                    version: Some(TOOL_VERSION.into()),
                    ..Component::default()
                }],
            },
            component: Component {
                bom_ref: Some(IMAGE_REF.into()),
                kind: "container",
                name: image.name.clone(),
                version: image.digest.clone(),
                purl: image_purl(image),
                properties: image_props,
                ..Component::default()
            },
        },
        components,
        dependencies: vec![Dependency {
            reference: IMAGE_REF.into(),
            depends_on: refs,
        }],
    };
    serde_json::to_writer_pretty(&mut *out, &bom).map_err(|e| SbomError::json("CycloneDX", e))?;
    out.write_all(b"\n").map_err(|source| SbomError::Write {
        format: "CycloneDX",
        source,
    })
}
