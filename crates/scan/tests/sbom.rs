//! The SBOM writers' output checked by the real validators: spdx-tools' `pyspdxtools -i`
//! for SPDX 2.3 and cyclonedx-python-lib's strict JSON-schema validator for CycloneDX 1.5
//! and 1.6, on hand-made inventories with every package kind, valid and invalid licences
//! and odd names; and read back: every package's purl exactly once, where it was found,
//! and the same bytes for the same input.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use scan::inventory::{ImageInfo, Inventory, LayerInfo};
use scan::package::{Distro, Found, Package, PackageKind};
use scan::sbom::{Document, Format, SpecVersion};
use serde_json::Value;

const PYENV: &str = "/var/cache/strata-peers/pyenv";
const CREATED: &str = "2026-12-07T08:00:00Z";

fn package(
    kind: PackageKind,
    name: &str,
    version: &str,
    licenses: &[&str],
    layer: usize,
    purl: &str,
) -> Package {
    Package {
        found: Found {
            name: name.into(),
            version: version.into(),
            licenses: licenses.iter().map(|l| l.to_string()).collect(),
            ..Found::default()
        },
        kind,
        path: format!("path/of/{}", kind.label()),
        layer,
        purl: purl.into(),
    }
}

fn image() -> ImageInfo {
    ImageInfo {
        name: "localhost:5000/team/app:1.0".into(),
        digest: Some(format!("sha256:{}", "ab".repeat(32))),
        config_digest: Some(format!("sha256:{}", "cd".repeat(32))),
        platform: Some("linux/amd64".into()),
        layers: (0..3)
            .map(|i| LayerInfo {
                digest: format!("sha256:{}", format!("{i}e").repeat(32)),
                diff_id: format!("sha256:{}", format!("{i}f").repeat(32)),
                created_by: (i > 0).then(|| format!("RUN step {i} && echo \"quoted\"")),
            })
            .collect(),
    }
}

/// Every kind, licences valid, aliased, compound, free text and none, names with
/// characters ids may not hold, and two copies of one package at different paths.
fn inventory() -> Inventory {
    use PackageKind::*;
    let mut deb = package(
        Deb,
        "libc6",
        "2.36-9+deb12u4",
        &["GPL-2+", "LGPL-2.1", "public-domain"],
        0,
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12",
    );
    deb.found.source = Some(("glibc".into(), "2.36-9+deb12u4".into()));
    deb.found.arch = Some("amd64".into());
    deb.path = "var/lib/dpkg/status".into();
    let mut copy = package(
        Npm,
        "left-pad",
        "1.3.0",
        &["WTFPL"],
        2,
        "pkg:npm/left-pad@1.3.0",
    );
    copy.path = "app/node_modules/a/node_modules/left-pad/package.json".into();
    let mut packages = vec![
        deb,
        package(
            Apk,
            "musl",
            "1.2.4-r2",
            &["MIT"],
            0,
            "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1",
        ),
        package(
            Rpm,
            "bash",
            "5.1.8-6.el9",
            &["GPLv3+"],
            0,
            "pkg:rpm/redhat/bash@5.1.8-6.el9?arch=x86_64",
        ),
        package(
            Python,
            "zope.interface",
            "6.0",
            &["ZPL 2.1"],
            1,
            "pkg:pypi/zope.interface@6.0",
        ),
        package(
            Python,
            "Odd_Name-π",
            "1.0.post1",
            &["MIT OR Apache-2.0", "BSD License"],
            1,
            "pkg:pypi/odd-name-%CF%80@1.0.post1",
        ),
        package(
            Npm,
            "@scope/pkg with space",
            "2.0.0-beta.1",
            &["(MIT AND ISC)"],
            2,
            "pkg:npm/%40scope/pkg%20with%20space@2.0.0-beta.1",
        ),
        package(
            Npm,
            "left-pad",
            "1.3.0",
            &["WTFPL"],
            2,
            "pkg:npm/left-pad@1.3.0",
        ),
        copy,
        package(
            Go,
            "github.com/x/y",
            "v0.0.0-20240101000000-abcdef123456",
            &[],
            2,
            "pkg:golang/github.com/x/y@v0.0.0-20240101000000-abcdef123456",
        ),
        package(
            Cargo,
            "serde",
            "1.0.200",
            &["MIT OR Apache-2.0"],
            2,
            "pkg:cargo/serde@1.0.200",
        ),
        package(
            Maven,
            "org.apache.commons:commons-lang3",
            "3.14.0",
            &[
                "Apache-2.0 WITH LLVM-exception",
                "Custom \"license\" <text>\n2nd line",
            ],
            2,
            "pkg:maven/org.apache.commons/commons-lang3@3.14.0",
        ),
    ];
    // A layer index past the image's layers (a directory scan has one) is still written.
    packages.push(package(
        Python,
        "no-layer",
        "0",
        &[""],
        7,
        "pkg:pypi/no-layer@0",
    ));
    Inventory {
        distro: Some(Distro {
            id: "debian".into(),
            version_id: "12".into(),
            codename: Some("bookworm".into()),
            pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
        }),
        packages,
        ..Inventory::default()
    }
}

fn render(format: Format, image: &ImageInfo, inventory: &Inventory) -> Vec<u8> {
    let mut out = Vec::new();
    format
        .write(
            &Document {
                image,
                inventory,
                created: CREATED,
            },
            &mut out,
        )
        .expect("writing to memory");
    out
}

fn tool(name: &str, function: &str) -> String {
    let path = format!("{PYENV}/bin/{name}");
    assert!(
        Path::new(&path).exists(),
        "{path} is missing: run scripts/install-peers.sh (its {function} function)"
    );
    path
}

/// Runs pyspdxtools on the document; `Err` with its output when it finds it invalid.
fn pyspdxtools(json: &[u8]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sbom.spdx.json");
    std::fs::write(&file, json).unwrap();
    let out = Command::new(tool("pyspdxtools", "install_spdx_tools"))
        .arg("-i")
        .arg(&file)
        .output()
        .expect("pyspdxtools runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // pyspdxtools prints the validation messages and exits non-zero on any.
    if out.status.success() && !text.contains("validation") && !text.contains("rror") {
        Ok(())
    } else {
        Err(text)
    }
}

/// cyclonedx-python-lib's strict validator; `Err` with its message when invalid.
fn cyclonedx_validate(json: &[u8], version: &str) -> Result<(), String> {
    let python = tool("python", "install_cyclonedx_validator");
    let script = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
version = {"1.5": SchemaVersion.V1_5, "1.6": SchemaVersion.V1_6}[sys.argv[1]]
error = JsonStrictValidator(version).validate_str(sys.stdin.read())
if error is not None:
    print(error)
    sys.exit(1)
"#;
    let mut child = Command::new(python)
        .args(["-c", script, version])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the venv's python runs");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(json).unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn count_by_purl<'a>(purls: impl Iterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for p in purls {
        *counts.entry(p.to_owned()).or_default() += 1;
    }
    counts
}

fn expected_purls(inventory: &Inventory) -> BTreeMap<String, usize> {
    count_by_purl(inventory.packages.iter().map(|p| p.purl.as_str()))
}

#[test]
fn spdx_validates_with_pyspdxtools_and_reads_back() {
    let (image, inventory) = (image(), inventory());
    let json = render(Format::SpdxJson, &image, &inventory);
    pyspdxtools(&json).unwrap_or_else(|e| {
        panic!(
            "pyspdxtools rejects our SPDX:\n{e}\n{}",
            String::from_utf8_lossy(&json)
        )
    });
    let doc: Value = serde_json::from_slice(&json).unwrap();
    let packages = doc["packages"].as_array().unwrap();
    let purls = packages
        .iter()
        .flat_map(|p| p["externalRefs"].as_array().into_iter().flatten())
        .filter(|r| r["referenceType"] == "purl")
        .map(|r| r["referenceLocator"].as_str().unwrap())
        .filter(|p| !p.starts_with("pkg:oci/"));
    assert_eq!(count_by_purl(purls), expected_purls(&inventory));
    // The image package is described, contains everything else, and is a container.
    let image_pkg = packages
        .iter()
        .find(|p| p["primaryPackagePurpose"] == "CONTAINER")
        .unwrap();
    let image_id = image_pkg["SPDXID"].as_str().unwrap();
    let rels = doc["relationships"].as_array().unwrap();
    assert!(rels.iter().any(|r| r["spdxElementId"] == "SPDXRef-DOCUMENT"
        && r["relationshipType"] == "DESCRIBES"
        && r["relatedSpdxElement"] == image_id));
    let contained: Vec<&str> = rels
        .iter()
        .filter(|r| r["relationshipType"] == "CONTAINS" && r["spdxElementId"] == image_id)
        .map(|r| r["relatedSpdxElement"].as_str().unwrap())
        .collect();
    assert_eq!(
        contained.len(),
        inventory.packages.len() + 1,
        "every package and the OS"
    );
    // Where each package came from: the layer's digest and the path.
    let libc = packages.iter().find(|p| p["name"] == "libc6").unwrap();
    let source = libc["sourceInfo"].as_str().unwrap();
    assert!(
        source.contains(&image.layers[0].digest) && source.contains("var/lib/dpkg/status"),
        "{source}"
    );
    assert_eq!(
        libc["licenseDeclared"]
            .as_str()
            .unwrap()
            .split(" AND ")
            .count(),
        3
    );
    assert!(
        libc["licenseDeclared"]
            .as_str()
            .unwrap()
            .starts_with("GPL-2.0-or-later AND LGPL-2.1-only AND LicenseRef-")
    );
    assert_eq!(doc["creationInfo"]["created"], CREATED);
}

#[test]
fn cyclonedx_1_5_and_1_6_validate_strictly_and_read_back() {
    let (image, inventory) = (image(), inventory());
    for (spec, version) in [(SpecVersion::V1_5, "1.5"), (SpecVersion::V1_6, "1.6")] {
        let json = render(Format::CycloneDxJson(spec), &image, &inventory);
        cyclonedx_validate(&json, version).unwrap_or_else(|e| {
            panic!(
                "CycloneDX {version} rejected:\n{e}\n{}",
                String::from_utf8_lossy(&json)
            )
        });
        let bom: Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(bom["specVersion"], version);
        let components = bom["components"].as_array().unwrap();
        let purls = components.iter().filter_map(|c| c["purl"].as_str());
        assert_eq!(count_by_purl(purls), expected_purls(&inventory));
        assert_eq!(bom["metadata"]["component"]["type"], "container");
        assert!(
            components
                .iter()
                .any(|c| c["type"] == "operating-system" && c["name"] == "debian")
        );
        // The image depends on every component, each by a bom-ref that exists.
        let refs: Vec<&str> = components
            .iter()
            .map(|c| c["bom-ref"].as_str().unwrap())
            .collect();
        let deps = &bom["dependencies"][0];
        assert_eq!(deps["ref"], bom["metadata"]["component"]["bom-ref"]);
        let depends: Vec<&str> = deps["dependsOn"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        assert_eq!(depends, refs);
        // Layer and path properties, as Trivy's.
        let musl = components.iter().find(|c| c["name"] == "musl").unwrap();
        let prop = |name: &str| {
            musl["properties"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name)
                .map(|p| p["value"].clone())
        };
        assert_eq!(
            prop("strata:layer:digest").unwrap(),
            image.layers[0].digest.as_str()
        );
        assert_eq!(
            prop("strata:layer:diffID").unwrap(),
            image.layers[0].diff_id.as_str()
        );
        assert_eq!(prop("strata:path").unwrap(), "path/of/apk");
        let maven = components
            .iter()
            .find(|c| c["name"] == "commons-lang3")
            .unwrap();
        assert_eq!(maven["group"], "org.apache.commons");
        assert_eq!(bom["metadata"]["timestamp"], CREATED);
    }
}

/// A mistake, and how to make it in a good document.
type Break = (&'static str, fn(&mut Value));

#[test]
fn the_validators_reject_each_kind_of_broken_document() {
    // The validators must be able to say no, else the tests above prove nothing: each
    // mistake a writer could make, alone, is rejected.
    let (image, inventory) = (image(), inventory());
    let spdx: Value =
        serde_json::from_slice(&render(Format::SpdxJson, &image, &inventory)).unwrap();
    let spdx_breaks: [Break; 4] = [
        ("an id not on the license list", |d| {
            d["packages"][4]["licenseDeclared"] = "FooBar-1.0".into()
        }),
        ("an undefined LicenseRef", |d| {
            d["packages"][4]["licenseDeclared"] = "LicenseRef-undefined".into()
        }),
        ("a dangling relationship", |d| {
            d["relationships"][1]["relatedSpdxElement"] = "SPDXRef-nothing".into()
        }),
        ("a package without SPDXID", |d| {
            d["packages"][3].as_object_mut().unwrap().remove("SPDXID");
        }),
    ];
    for (what, edit) in spdx_breaks {
        let mut doc = spdx.clone();
        edit(&mut doc);
        assert!(
            pyspdxtools(&serde_json::to_vec(&doc).unwrap()).is_err(),
            "pyspdxtools accepted {what}"
        );
    }
    let bom: Value = serde_json::from_slice(&render(
        Format::CycloneDxJson(SpecVersion::V1_6),
        &image,
        &inventory,
    ))
    .unwrap();
    let cdx_breaks: [Break; 3] = [
        ("a licence id not on SPDX's list", |d| {
            d["components"][1]["licenses"] =
                serde_json::json!([{"license": {"id": "Not-An-SPDX-Id"}}])
        }),
        ("a serial number that is no UUID URN", |d| {
            d["serialNumber"] = "urn:uuid:strata".into()
        }),
        ("an unknown component type", |d| {
            d["components"][1]["type"] = "package".into()
        }),
    ];
    for (what, edit) in cdx_breaks {
        let mut doc = bom.clone();
        edit(&mut doc);
        assert!(
            cyclonedx_validate(&serde_json::to_vec(&doc).unwrap(), "1.6").is_err(),
            "CycloneDX accepted {what}"
        );
    }
}

#[test]
fn output_is_reproducible_and_ids_follow_the_image_digest() {
    let (image, inventory) = (image(), inventory());
    for format in [
        Format::SpdxJson,
        Format::CycloneDxJson(SpecVersion::V1_6),
        Format::Table,
    ] {
        assert_eq!(
            render(format, &image, &inventory),
            render(format, &image, &inventory)
        );
    }
    let mut other = image.clone();
    other.digest = Some(format!("sha256:{}", "99".repeat(32)));
    let id = |f: Format, img: &ImageInfo, key: &str| -> String {
        let v: Value = serde_json::from_slice(&render(f, img, &inventory)).unwrap();
        v[key].as_str().unwrap().to_owned()
    };
    let cdx = Format::CycloneDxJson(SpecVersion::V1_6);
    assert_ne!(
        id(Format::SpdxJson, &image, "documentNamespace"),
        id(Format::SpdxJson, &other, "documentNamespace")
    );
    assert_ne!(
        id(cdx, &image, "serialNumber"),
        id(cdx, &other, "serialNumber")
    );
}

#[test]
fn a_directory_without_digests_still_validates() {
    let image = ImageInfo {
        name: "/srv/rootfs dir".into(),
        layers: vec![LayerInfo::default()],
        ..ImageInfo::default()
    };
    let inventory = Inventory {
        packages: inventory().packages.into_iter().take(3).collect(),
        ..Inventory::default()
    };
    pyspdxtools(&render(Format::SpdxJson, &image, &inventory)).unwrap_or_else(|e| panic!("{e}"));
    cyclonedx_validate(
        &render(Format::CycloneDxJson(SpecVersion::V1_5), &image, &inventory),
        "1.5",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let empty = Inventory::default();
    pyspdxtools(&render(Format::SpdxJson, &image, &empty)).unwrap_or_else(|e| panic!("{e}"));
    cyclonedx_validate(
        &render(Format::CycloneDxJson(SpecVersion::V1_6), &image, &empty),
        "1.6",
    )
    .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_table_lists_every_package_with_its_layer() {
    let (image, inventory) = (image(), inventory());
    let text = String::from_utf8(render(Format::Table, &image, &inventory)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].contains("Debian GNU/Linux 12"), "{text}");
    assert!(
        lines[1].starts_with("NAME") && lines[1].contains("LAYER"),
        "{text}"
    );
    assert_eq!(lines.len(), 2 + inventory.packages.len() + 1, "{text}");
    let libc = lines.iter().find(|l| l.starts_with("libc6 ")).unwrap();
    assert!(
        libc.contains("2.36-9+deb12u4")
            && libc.contains("deb")
            && libc.contains("0 (0e0e0e0e0e0e)"),
        "{libc}"
    );
    // The Maven package's custom licence has a newline; names never break rows.
    assert!(lines.iter().all(|l| !l.is_empty()));
    assert!(matches!("nonsense".parse::<Format>(), Err(e) if e.to_string().contains("spdx-json")));
}

#[test]
fn every_licence_id_strata_writes_is_on_both_validators_lists() {
    // Each id alone, and each exception after a GPL: spdx-tools checks both against its
    // license list, CycloneDX's schema checks `license.id` against its SPDX enum.
    let mut packages: Vec<Package> = scan::sbom::license::known_ids()
        .iter()
        .map(|id| {
            package(
                PackageKind::Npm,
                id,
                "1",
                &[id],
                0,
                &format!("pkg:npm/{}@1", id.to_lowercase()),
            )
        })
        .collect();
    for exception in scan::sbom::license::known_exceptions() {
        let expr = format!("GPL-2.0-or-later WITH {exception}");
        packages.push(package(
            PackageKind::Npm,
            exception,
            "1",
            &[&expr],
            0,
            &format!("pkg:npm/{}@1", exception.to_lowercase()),
        ));
    }
    let inventory = Inventory {
        packages,
        ..Inventory::default()
    };
    let image = image();
    let spdx = render(Format::SpdxJson, &image, &inventory);
    pyspdxtools(&spdx).unwrap_or_else(|e| panic!("{e}"));
    let doc: Value = serde_json::from_slice(&spdx).unwrap();
    assert!(
        doc.get("hasExtractedLicensingInfos").is_none(),
        "every id is written as an id"
    );
    for version in [SpecVersion::V1_5, SpecVersion::V1_6] {
        cyclonedx_validate(
            &render(Format::CycloneDxJson(version), &image, &inventory),
            version.as_str(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }
}
