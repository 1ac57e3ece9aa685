//! The scan reports, made from a scan of packages against the hand-written OSV records in
//! `tests/fixtures/match/`. SARIF is validated against the official SARIF 2.1.0 JSON schema
//! (as `@microsoft/jest-sarif` ships it) with Python's `jsonschema`, the VEX document with
//! cyclonedx-python-lib's strict CycloneDX 1.5 JSON validator; each validator is first
//! shown a broken document it must refuse, so a validator that accepts anything fails.
//! `scripts/install-peers.sh` installs both (install_match_oracles,
//! install_cyclonedx_validator).

mod match_fixtures;

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use match_fixtures::records;
use scan::inventory::{ImageInfo, LayerInfo};
use scan::matching::{self, Findings, MatchOptions};
use scan::package::{Distro, Found, Package, PackageKind};
use scan::report::{self, Report};
use serde_json::Value;

const MATCH_PYTHON: &str = "/var/cache/strata-peers/py-match/bin/python";
const CYCLONEDX_PYTHON: &str = "/var/cache/strata-peers/pyenv/bin/python";
const SARIF_SCHEMA: &str = "/var/cache/strata-peers/node/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json";

fn pkg(
    kind: PackageKind,
    name: &str,
    version: &str,
    source: Option<(&str, &str)>,
    layer: usize,
    path: &str,
) -> Package {
    Package {
        found: Found {
            name: name.into(),
            version: version.into(),
            source: source.map(|(n, v)| (n.into(), v.into())),
            ..Found::default()
        },
        kind,
        path: path.into(),
        layer,
        purl: format!(
            "pkg:{}/{}@{version}",
            kind.purl_type(),
            name.replace('@', "%40")
        ),
    }
}

struct Scan {
    image: ImageInfo,
    distro: Distro,
    packages: Vec<Package>,
    findings: Findings,
}

impl Scan {
    fn report(&self) -> Report<'_> {
        Report {
            image: &self.image,
            distro: Some(&self.distro),
            packages: &self.packages,
            findings: &self.findings,
            data_date: Some("2099-01-02T03:04:05Z"),
        }
    }
}

/// A Debian image: base layer with openssl, a pip layer with Django, an npm layer with
/// lodash twice (two node_modules), and a package on no ecosystem (not judged).
fn scan() -> Scan {
    let image = ImageInfo {
        name: "example.org/app:1".into(),
        digest: Some("sha256:aaaa".into()),
        config_digest: Some("sha256:cccc".into()),
        platform: Some("linux/amd64".into()),
        layers: vec![
            LayerInfo {
                digest: "sha256:1111".into(),
                diff_id: "sha256:d111".into(),
                created_by: Some("# debian.sh --arch 'amd64' out/ 'bookworm' '@1700000000'".into()),
            },
            LayerInfo {
                digest: "sha256:2222".into(),
                diff_id: "sha256:d222".into(),
                created_by: Some("RUN /bin/sh -c pip install django==4.2.7 # buildkit".into()),
            },
            LayerInfo {
                digest: "sha256:3333".into(),
                diff_id: "sha256:d333".into(),
                created_by: None,
            },
        ],
    };
    let distro = Distro {
        id: "debian".into(),
        version_id: "12".into(),
        codename: Some("bookworm".into()),
        pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
    };
    let packages = vec![
        pkg(
            PackageKind::Deb,
            "libssl3",
            "3.0.11-1~deb12u1",
            Some(("openssl", "3.0.11-1~deb12u1")),
            0,
            "var/lib/dpkg/status",
        ),
        pkg(
            PackageKind::Python,
            "Django",
            "4.2.7",
            None,
            1,
            "usr/lib/python3/dist-packages/Django-4.2.7.dist-info/METADATA",
        ),
        pkg(
            PackageKind::Npm,
            "lodash",
            "4.17.20",
            None,
            2,
            "app/node_modules/lodash/package.json",
        ),
        pkg(
            PackageKind::Npm,
            "lodash",
            "4.17.20",
            None,
            2,
            "app/other/node_modules/lodash/package.json",
        ),
        pkg(
            PackageKind::Go,
            "example.com/tool",
            "(devel)",
            None,
            2,
            "usr/local/bin/tool",
        ),
        pkg(
            PackageKind::Python,
            "six",
            "1.16.0",
            None,
            1,
            "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
        ),
    ];
    let findings = matching::scan(
        &packages,
        Some(&distro),
        &records(),
        &MatchOptions::default(),
    )
    .unwrap();
    Scan {
        image,
        distro,
        packages,
        findings,
    }
}

fn temp_file(name: &str, content: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("strata-report-{}-{name}", std::process::id()));
    std::fs::write(&path, content).unwrap();
    path
}

/// Runs a Python oracle on `doc`; returns (accepted, its output).
fn python(python: &str, install: &str, script: &str, doc: &Value, name: &str) -> (bool, String) {
    assert!(
        Path::new(python).exists(),
        "{python} is missing: run scripts/install-peers.sh ({install})"
    );
    let path = temp_file(name, &serde_json::to_string_pretty(doc).unwrap());
    let mut child = Command::new(python)
        .arg("-")
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    std::fs::remove_file(&path).ok();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Validates with jsonschema against the official SARIF 2.1.0 schema (draft-04).
fn sarif_valid(doc: &Value, name: &str) -> (bool, String) {
    assert!(
        Path::new(SARIF_SCHEMA).exists(),
        "{SARIF_SCHEMA} is missing: run scripts/install-peers.sh (install_match_oracles)"
    );
    let script = format!(
        r#"
import json, sys, jsonschema
schema = json.load(open({SARIF_SCHEMA:?}))
doc = json.load(open(sys.argv[1]))
errors = list(jsonschema.Draft4Validator(schema).iter_errors(doc))
for e in errors[:10]:
    print(list(e.absolute_path), e.message)
sys.exit(1 if errors else 0)
"#
    );
    python(MATCH_PYTHON, "install_match_oracles", &script, doc, name)
}

/// Validates with cyclonedx-python-lib's strict JSON validator for CycloneDX 1.5.
fn cyclonedx_valid(doc: &Value, name: &str) -> (bool, String) {
    let script = r#"
import sys
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())
if error is not None:
    print(error)
    sys.exit(1)
"#;
    python(
        CYCLONEDX_PYTHON,
        "install_cyclonedx_validator",
        script,
        doc,
        name,
    )
}

#[test]
fn the_scan_finds_what_the_reports_show() {
    let s = scan();
    let ids: Vec<(&str, usize)> = s
        .findings
        .vulnerabilities
        .iter()
        .map(|f| (f.id.as_str(), f.package))
        .collect();
    // In Trivy's order, by package name: Django (MEDIUM), libssl3 (openssl, HIGH by
    // Debian's urgency), lodash (CRITICAL) in two node_modules.
    assert_eq!(
        ids,
        [
            ("GHSA-0000-0000-0006", 1),
            ("DEBIAN-CVE-2099-0001", 0),
            ("GHSA-0000-0000-0009", 2),
            ("GHSA-0000-0000-0009", 3)
        ]
    );
    assert_eq!(s.findings.not_judged.len(), 1);
    assert_eq!(s.findings.judged, 5);
}

#[test]
fn table_has_trivys_columns_and_the_layer_step() {
    let s = scan();
    let mut out = Vec::new();
    report::table::write(&s.report(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "example.org/app:1 (Debian GNU/Linux 12 (bookworm))"
    );
    assert_eq!(
        lines[2],
        "Total: 4 (UNKNOWN: 0, LOW: 0, MEDIUM: 1, HIGH: 1, CRITICAL: 2)"
    );
    let header = lines[4];
    let columns: Vec<&str> = header
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        columns,
        [
            "Library",
            "Vulnerability",
            "Severity",
            "Installed Version",
            "Fixed Version",
            "Title",
            "Layer"
        ]
    );
    // Columns are aligned: each row's Severity starts where the header's does.
    let at = header.find("Severity").unwrap();
    for row in &lines[5..9] {
        let sev = ["CRITICAL", "HIGH", "MEDIUM"]
            .iter()
            .find_map(|s| row.find(s))
            .unwrap();
        assert_eq!(sev, at, "{row}");
    }
    // The Django row names the pip step; Library shows the installed binary package.
    let django = lines.iter().find(|l| l.starts_with("Django ")).unwrap();
    assert!(
        django.contains("#1 RUN pip install django==4.2.7"),
        "{django}"
    );
    assert!(django.contains("4.2.8"), "{django}");
    let openssl = lines.iter().find(|l| l.starts_with("libssl3 ")).unwrap();
    assert!(
        openssl.contains("3.0.11-1~deb12u2") && openssl.contains("#0 # debian.sh"),
        "{openssl}"
    );
    assert!(text.contains("Vulnerability data: 2099-01-02T03:04:05Z"));
    assert!(
        text.contains("Not judged: 1\n  example.com/tool (devel): Go module example.com/tool"),
        "{text}"
    );
}

#[test]
fn json_report_has_the_documented_shape() {
    let s = scan();
    let doc = report::json::to_value(&s.report());
    assert_eq!(doc["schema"], "strata-scan/1");
    assert_eq!(doc["image"]["digest"], "sha256:aaaa");
    assert_eq!(doc["os"]["version_id"], "12");
    assert_eq!(doc["data_date"], "2099-01-02T03:04:05Z");
    assert_eq!(doc["packages"]["total"], 6);
    assert_eq!(doc["packages"]["judged"], 5);
    assert_eq!(doc["packages"]["not_judged"][0]["name"], "example.com/tool");
    let vulns = doc["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 4);
    let openssl = vulns
        .iter()
        .find(|v| v["id"] == "DEBIAN-CVE-2099-0001")
        .unwrap();
    assert_eq!(openssl["package"]["name"], "libssl3");
    assert_eq!(openssl["judged_as"]["name"], "openssl");
    assert_eq!(openssl["ecosystem"], "Debian:12");
    assert_eq!(openssl["fixed_version"], "3.0.11-1~deb12u2");
    assert_eq!(openssl["severity"], "HIGH");
    assert_eq!(openssl["severity_source"], "ecosystem_specific.urgency");
    assert_eq!(openssl["layer"]["digest"], "sha256:1111");
    let lodash = vulns
        .iter()
        .find(|v| v["id"] == "GHSA-0000-0000-0009")
        .unwrap();
    assert_eq!(lodash["score"], 9.8);
    assert_eq!(lodash["layer"]["created_by"], Value::Null);
}

#[test]
fn sarif_validates_against_the_official_schema() {
    // A broken log first: the validator must refuse a result without a message.
    let broken = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"ruleId": "a"}]}]});
    let (ok, _) = sarif_valid(&broken, "broken.sarif");
    assert!(
        !ok,
        "the SARIF validator accepted a result without a message"
    );

    let s = scan();
    let doc = report::sarif::to_value(&s.report());
    let (ok, output) = sarif_valid(&doc, "report.sarif");
    assert!(ok, "SARIF invalid:\n{output}\n{doc:#}");

    let run = &doc["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let rule_ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    // One rule per id (lodash's appears once for two packages).
    assert_eq!(
        rule_ids,
        [
            "GHSA-0000-0000-0006",
            "DEBIAN-CVE-2099-0001",
            "GHSA-0000-0000-0009"
        ]
    );
    assert_eq!(rules[2]["properties"]["security-severity"], "9.8");
    // No CVSS for the Debian and GHSA-…-0006 records: HIGH's and MEDIUM's midpoints.
    assert_eq!(rules[1]["properties"]["security-severity"], "8.0");
    assert_eq!(rules[0]["properties"]["security-severity"], "5.5");
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    for r in results {
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(r["ruleId"], rules[index]["id"]);
        let purl = r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
            .as_str()
            .unwrap();
        assert!(s.packages.iter().any(|p| p.purl == purl), "{purl}");
    }
    assert_eq!(results[0]["level"], "warning");
    assert_eq!(results[3]["level"], "error");
    assert_eq!(
        results[3]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "app/other/node_modules/lodash/package.json"
    );
}

#[test]
fn vex_validates_as_cyclonedx_1_5() {
    let broken = serde_json::json!({"bomFormat": "CycloneDX", "specVersion": "1.5", "vulnerabilities": [{"ratings": [{"severity": "dire"}]}]});
    let (ok, _) = cyclonedx_valid(&broken, "broken.cdx.json");
    assert!(!ok, "the CycloneDX validator accepted severity \"dire\"");

    let s = scan();
    let doc = report::vex::to_value(&s.report());
    let (ok, output) = cyclonedx_valid(&doc, "report.cdx.json");
    assert!(ok, "CycloneDX invalid:\n{output}\n{doc:#}");

    let refs: HashSet<&str> = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["bom-ref"].as_str().unwrap())
        .collect();
    // The two lodash copies share a purl but get distinct bom-refs.
    assert_eq!(refs.len(), 4);
    let vulns = doc["vulnerabilities"].as_array().unwrap();
    assert_eq!(vulns.len(), 3);
    for v in vulns {
        assert_eq!(v["analysis"]["state"], "exploitable");
        for a in v["affects"].as_array().unwrap() {
            assert!(refs.contains(a["ref"].as_str().unwrap()), "{a}");
        }
    }
    let lodash = vulns
        .iter()
        .find(|v| v["id"] == "GHSA-0000-0000-0009")
        .unwrap();
    assert_eq!(lodash["affects"].as_array().unwrap().len(), 2);
    assert_eq!(lodash["ratings"][0]["method"], "CVSSv31");
    assert_eq!(lodash["ratings"][0]["severity"], "critical");
    assert_eq!(lodash["ratings"][0]["score"], 9.8);
    let django_component = doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Django")
        .unwrap();
    let props = django_component["properties"].as_array().unwrap();
    assert!(props.iter().any(|p| p["name"] == "strata:layer:created_by"
        && p["value"] == "RUN /bin/sh -c pip install django==4.2.7 # buildkit"));
    // The same scan gives the same serial number.
    assert_eq!(
        report::vex::to_value(&s.report())["serialNumber"],
        doc["serialNumber"]
    );
}

/// Packages not judged for one reason share a line.
#[test]
fn table_groups_not_judged_packages_by_reason() {
    let mut s = scan();
    s.packages = (0..7)
        .map(|i| {
            pkg(
                PackageKind::Deb,
                &format!("p{i}"),
                "1.0-1",
                None,
                0,
                "var/lib/dpkg/status",
            )
        })
        .collect();
    s.findings = matching::scan(&s.packages, None, &records(), &MatchOptions::default()).unwrap();
    let mut out = Vec::new();
    report::table::write(&s.report(), &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("Not judged: 7\n  7 packages (p0 1.0-1, p1 1.0-1, p2 1.0-1, p3 1.0-1, p4 1.0-1, …): deb package: the image's operating system is unknown"),
        "{text}"
    );
}
