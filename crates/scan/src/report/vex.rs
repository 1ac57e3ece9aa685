//! A CycloneDX 1.5 VEX document: the vulnerable packages as components (bom-ref = purl,
//! made unique with `#<index>` when two packages share one), and one `vulnerabilities[]`
//! entry per id whose `affects[].ref` names each affected component, with the rating,
//! the advisory, the fix as a recommendation and `analysis.state: exploitable` (matched by
//! version, not analysed further).
//!
//! Components carry the layer that brought them in as properties (`strata:layer:index`,
//! `strata:layer:digest`, `strata:layer:created_by`). The serial number is derived from
//! the document's content (a name-based UUID over SHA-256), so one scan gives one
//! document.

use std::collections::HashMap;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::Report;
use crate::matching::severity::CvssVersion;
use crate::matching::{Finding, Severity};

/// CycloneDX's rating method for a CVSS version.
fn method(version: Option<CvssVersion>) -> &'static str {
    match version {
        Some(CvssVersion::V2) => "CVSSv2",
        Some(CvssVersion::V30) => "CVSSv3",
        Some(CvssVersion::V31) => "CVSSv31",
        Some(CvssVersion::V4) => "CVSSv4",
        None => "other",
    }
}

/// CycloneDX's severity word.
fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "critical",
        Severity::High => "high",
        Severity::Medium => "medium",
        Severity::Low => "low",
        Severity::Unknown => "unknown",
    }
}

/// The database an id comes from, by its prefix (`GHSA`, `CVE`, `DSA`, ...).
fn source(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

/// The report as a CycloneDX 1.5 VEX document.
pub fn to_value(report: &Report<'_>) -> Value {
    let findings = &report.findings.vulnerabilities;
    // Components: each vulnerable package once, in first-finding order.
    let mut refs: HashMap<usize, String> = HashMap::new();
    let mut used: HashMap<String, usize> = HashMap::new();
    let mut components = Vec::new();
    for f in findings {
        if refs.contains_key(&f.package) {
            continue;
        }
        let p = report.package(f);
        let base = if p.purl.is_empty() {
            format!("package-{}", f.package)
        } else {
            p.purl.clone()
        };
        let bom_ref = if used.contains_key(&base) {
            format!("{base}#{}", f.package)
        } else {
            base.clone()
        };
        used.insert(base, f.package);
        let layer = report.layer(f);
        let mut properties =
            vec![json!({"name": "strata:layer:index", "value": f.layer.to_string()})];
        if let Some(l) = layer.filter(|l| !l.digest.is_empty()) {
            properties.push(json!({"name": "strata:layer:digest", "value": l.digest}));
        }
        if let Some(step) = report.step(f) {
            properties.push(json!({"name": "strata:layer:created_by", "value": step}));
        }
        let mut component = json!({
            "type": "library",
            "bom-ref": bom_ref,
            "name": p.found.name,
            "version": p.found.version,
            "properties": properties,
        });
        if !p.purl.is_empty() {
            component["purl"] = json!(p.purl);
        }
        components.push(component);
        refs.insert(f.package, bom_ref);
    }
    // Vulnerabilities: one per id, in first-finding (most severe) order.
    let mut order: Vec<&str> = Vec::new();
    let mut by_id: HashMap<&str, Vec<&Finding>> = HashMap::new();
    for f in findings {
        by_id.entry(&f.id).or_insert_with(|| {
            order.push(&f.id);
            Vec::new()
        });
        by_id.get_mut(f.id.as_str()).expect("inserted").push(f);
    }
    let vulnerabilities: Vec<Value> = order
        .iter()
        .map(|id| vulnerability(report, &by_id[id], &refs))
        .collect();
    let mut doc = json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "tools": {"components": [{
                "type": "application",
                "name": "strata",
                "version": env!("CARGO_PKG_VERSION"),
            }]},
            "component": {
                "type": "container",
                "bom-ref": "image",
                "name": report.image.name,
            },
        },
        "components": components,
        "vulnerabilities": vulnerabilities,
    });
    if let Some(digest) = &report.image.digest {
        doc["metadata"]["component"]["version"] = json!(digest);
    }
    let serial = serial_number(&doc);
    doc.as_object_mut()
        .expect("an object")
        .insert("serialNumber".into(), json!(serial));
    doc
}

fn vulnerability(report: &Report<'_>, group: &[&Finding], refs: &HashMap<usize, String>) -> Value {
    let first = group[0];
    let mut rating = json!({
        "source": {"name": source(&first.id)},
        "severity": severity(first.rating.severity),
        "method": method(first.rating.cvss),
    });
    if let Some(score) = first.rating.score {
        rating["score"] = json!(score);
    }
    if let Some(vector) = &first.rating.vector {
        rating["vector"] = json!(vector);
    }
    let affects: Vec<Value> = group
        .iter()
        .map(|f| {
            json!({
                "ref": refs[&f.package],
                "versions": [{"version": report.package(f).found.version, "status": "affected"}],
            })
        })
        .collect();
    let mut v = json!({
        "bom-ref": format!("vuln:{}", first.id),
        "id": first.id,
        "source": {"name": source(&first.id)},
        "ratings": [rating],
        "analysis": {"state": "exploitable"},
        "affects": affects,
    });
    if !first.aliases.is_empty() {
        v["references"] = json!(
            first
                .aliases
                .iter()
                .map(|a| json!({"id": a, "source": {"name": source(a)}}))
                .collect::<Vec<_>>()
        );
    }
    if let Some(summary) = &first.summary {
        v["description"] = json!(summary);
    }
    if let Some(url) = &first.url {
        v["advisories"] = json!([{"url": url}]);
    }
    let fixes: Vec<String> = group
        .iter()
        .filter_map(|f| f.fixed.as_ref().map(|fx| format!("{} {fx}", f.name)))
        .collect();
    if !fixes.is_empty() {
        v["recommendation"] = json!(format!("Upgrade to {}", fixes.join(", ")));
    }
    v
}

/// A name-based UUID (version 5 layout, SHA-256 instead of SHA-1) over the document.
fn serial_number(doc: &Value) -> String {
    let digest = Sha256::digest(doc.to_string().as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}
