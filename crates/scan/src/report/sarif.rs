//! SARIF 2.1.0 (OASIS), as code-scanning dashboards (GitHub's among them) read it: one
//! rule per vulnerability id, one result per vulnerable package, located at the file the
//! package was read from (`physicalLocation`) and at the package itself by purl
//! (`logicalLocations[].fullyQualifiedName`, kind `package`).
//!
//! Levels: CRITICAL and HIGH are `error`, MEDIUM `warning`, LOW and UNKNOWN `note`. Each rule
//! carries GitHub's `security-severity` property: the CVSS score, or where there is none
//! the midpoint Trivy uses for the rating (9.5, 8.0, 5.5, 2.0, 0.0).

use serde_json::{Value, json};

use super::{Report, short_step};
use crate::matching::{Finding, Severity};

/// The schema URI written in `$schema`.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// The SARIF level of a rating.
pub fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Unknown => "note",
    }
}

/// GitHub's `security-severity` for a finding: its CVSS score, else its rating's midpoint.
fn security_severity(f: &Finding) -> String {
    let score = f.rating.score.unwrap_or(match f.rating.severity {
        Severity::Critical => 9.5,
        Severity::High => 8.0,
        Severity::Medium => 5.5,
        Severity::Low => 2.0,
        Severity::Unknown => 0.0,
    });
    format!("{score:.1}")
}

/// The report as a SARIF 2.1.0 log.
pub fn to_value(report: &Report<'_>) -> Value {
    let mut rule_ids: Vec<&str> = Vec::new();
    let mut rules: Vec<Value> = Vec::new();
    let mut results: Vec<Value> = Vec::new();
    for f in &report.findings.vulnerabilities {
        let package = report.package(f);
        let rule_index = match rule_ids.iter().position(|id| *id == f.id) {
            Some(i) => i,
            None => {
                rule_ids.push(&f.id);
                rules.push(rule(f));
                rule_ids.len() - 1
            }
        };
        let step = report.step(f);
        let mut message = format!(
            "Package: {}\nInstalled Version: {}\nVulnerability: {}\nSeverity: {}\nFixed Version: {}\nLayer: #{}",
            package.found.name,
            package.found.version,
            f.id,
            f.rating.severity,
            f.fixed.as_deref().unwrap_or("(none)"),
            f.layer,
        );
        if let Some(step) = step {
            message.push_str(&format!(" {}", short_step(step, 200)));
        }
        if let Some(url) = &f.url {
            message.push_str(&format!("\nLink: {url}"));
        }
        let uri = if package.path.is_empty() {
            &package.purl
        } else {
            &package.path
        };
        let layer = report.layer(f);
        results.push(json!({
            "ruleId": f.id,
            "ruleIndex": rule_index,
            "level": level(f.rating.severity),
            "message": {"text": message},
            "locations": [{
                "physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [{
                    "name": package.found.name,
                    "fullyQualifiedName": package.purl,
                    "kind": "package",
                }],
            }],
            "properties": {
                "purl": package.purl,
                "installedVersion": package.found.version,
                "fixedVersion": f.fixed,
                "layerIndex": f.layer,
                "layerDigest": layer.map(|l| l.digest.as_str()),
                "createdBy": step,
            },
        }));
    }
    json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "strata",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
            "properties": {
                "image": report.image.name,
                "imageDigest": report.image.digest,
                "dataDate": report.data_date,
            },
        }],
    })
}

/// The rule for a vulnerability id, from its first (most severe) finding.
fn rule(f: &Finding) -> Value {
    let title = f.summary.clone().unwrap_or_else(|| f.id.clone());
    let mut help = format!("Vulnerability {}\nSeverity: {}", f.id, f.rating.severity);
    if let Some(vector) = &f.rating.vector {
        help.push_str(&format!("\nCVSS: {vector}"));
    }
    if let Some(url) = &f.url {
        help.push_str(&format!("\n{url}"));
    }
    let mut rule = json!({
        "id": f.id,
        "shortDescription": {"text": title},
        "fullDescription": {"text": title},
        "help": {"text": help},
        "defaultConfiguration": {"level": level(f.rating.severity)},
        "properties": {
            "security-severity": security_severity(f),
            "precision": "very-high",
            "tags": ["vulnerability", "security", f.rating.severity.as_str()],
            "aliases": f.aliases,
        },
    });
    if let Some(url) = &f.url {
        rule["helpUri"] = json!(url);
    }
    rule
}
