//! strata's own JSON report.
//!
//! ```text
//! {
//!   "schema": "strata-scan/1",
//!   "image": {"name", "digest", "config_digest", "platform"},   (absent fields: null)
//!   "os": {"id", "version_id", "pretty_name"} | null,
//!   "data_date": RFC 3339 | null,                 when the vulnerability data was updated
//!   "packages": {"total": N, "judged": N,
//!                "not_judged": [{"name", "version", "purl", "record": id | null, "reason"}]},
//!   "vulnerabilities": [{
//!     "id", "aliases": [..], "title": summary | null, "url": advisory | null,
//!     "package": {"name", "version", "purl", "path"},   the package as installed
//!     "ecosystem", "judged_as": {"name", "version"},    what OSV data was matched (source)
//!     "fixed_version": v | null,
//!     "severity": "HIGH", "score": 7.5 | null, "vector": CVSS | null, "severity_source",
//!     "layer": {"index", "digest", "diff_id", "created_by": step | null}
//!   }]                                             most severe first
//! }
//! ```

use serde_json::{Value, json};

use super::Report;

/// The schema name and version in every JSON report.
pub const SCHEMA: &str = "strata-scan/1";

/// The report as JSON.
pub fn to_value(report: &Report<'_>) -> Value {
    let image = report.image;
    let findings = report.findings;
    let not_judged: Vec<Value> = findings
        .not_judged
        .iter()
        .map(|n| {
            let p = &report.packages[n.package];
            json!({
                "name": p.found.name,
                "version": p.found.version,
                "purl": p.purl,
                "record": n.record,
                "reason": n.reason,
            })
        })
        .collect();
    let vulnerabilities: Vec<Value> = findings
        .vulnerabilities
        .iter()
        .map(|f| {
            let p = report.package(f);
            let layer = report.layer(f);
            json!({
                "id": f.id,
                "aliases": f.aliases,
                "title": f.summary,
                "url": f.url,
                "package": {
                    "name": p.found.name,
                    "version": p.found.version,
                    "purl": p.purl,
                    "path": p.path,
                },
                "ecosystem": f.ecosystem,
                "judged_as": {"name": f.name, "version": f.installed},
                "fixed_version": f.fixed,
                "severity": f.rating.severity.as_str(),
                "score": f.rating.score,
                "vector": f.rating.vector,
                "severity_source": f.rating.source,
                "layer": {
                    "index": f.layer,
                    "digest": layer.map(|l| l.digest.as_str()),
                    "diff_id": layer.map(|l| l.diff_id.as_str()),
                    "created_by": report.step(f),
                },
            })
        })
        .collect();
    json!({
        "schema": SCHEMA,
        "image": {
            "name": image.name,
            "digest": image.digest,
            "config_digest": image.config_digest,
            "platform": image.platform,
        },
        "os": report.distro.map(|d| json!({
            "id": d.id,
            "version_id": d.version_id,
            "pretty_name": d.pretty_name,
        })),
        "data_date": report.data_date,
        "packages": {
            "total": report.packages.len(),
            "judged": findings.judged,
            "not_judged": not_judged,
        },
        "vulnerabilities": vulnerabilities,
    })
}
