//! Renders a scan: the vulnerability report in the chosen format, and the secrets found.

use std::io::Write;

use scan::inventory::Inventory;
use scan::report::{self, Report};

/// Writes `report` as `format` (table, json, sarif, cyclonedx-vex); with secrets found,
/// a secrets section (table) or a `secrets` member (json).
pub fn write(
    format: &str,
    report: &Report<'_>,
    vulns: bool,
    inventory: &Inventory,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match format {
        "table" => {
            if vulns {
                report::table::write(report, out)?;
            }
            secrets_table(report, inventory, out)?;
        }
        "json" => {
            let mut value = report::json::to_value(report);
            if let Some(obj) = value.as_object_mut() {
                obj.insert("secrets".into(), secrets_json(report, inventory));
            }
            serde_json::to_writer_pretty(&mut *out, &value)?;
            writeln!(out)?;
        }
        "sarif" => {
            serde_json::to_writer_pretty(&mut *out, &report::sarif::to_value(report))?;
            writeln!(out)?;
        }
        "cyclonedx-vex" => {
            serde_json::to_writer_pretty(&mut *out, &report::vex::to_value(report))?;
            writeln!(out)?;
        }
        other => anyhow::bail!("unknown format {other:?}: use table, json, sarif or cyclonedx-vex"),
    }
    Ok(())
}

/// The layer's Dockerfile step, shortened, for a secret's row.
fn step(report: &Report<'_>, layer: usize) -> String {
    report
        .image
        .layers
        .get(layer)
        .and_then(|l| l.created_by.as_deref())
        .map(|s| report::short_step(s, 60))
        .unwrap_or_default()
}

fn secrets_table(report: &Report<'_>, inv: &Inventory, out: &mut dyn Write) -> anyhow::Result<()> {
    if inv.secrets.is_empty() {
        return Ok(());
    }
    writeln!(out, "\nSecrets ({})", inv.secrets.len())?;
    let mut tw = tabwriter::TabWriter::new(&mut *out).padding(3);
    writeln!(tw, "RULE\tSEVERITY\tPATH\tLINE\tLAYER\tSTEP\tMATCH")?;
    for s in &inv.secrets {
        let path = if s.deleted {
            format!("/{} (deleted in a later layer)", s.path)
        } else {
            format!("/{}", s.path)
        };
        writeln!(
            tw,
            "{}\t{}\t{}\t{}\t{}\t{}\t{}",
            s.finding.rule_id,
            s.finding.severity,
            path,
            s.finding.line,
            s.layer,
            step(report, s.layer),
            report::truncate(&s.finding.redacted, 60)
        )?;
    }
    tw.flush()?;
    Ok(())
}

fn secrets_json(report: &Report<'_>, inv: &Inventory) -> serde_json::Value {
    inv.secrets
        .iter()
        .map(|s| {
            let layer = report.image.layers.get(s.layer);
            serde_json::json!({
                "ruleId": s.finding.rule_id,
                "title": s.finding.title,
                "severity": s.finding.severity,
                "path": format!("/{}", s.path),
                "line": s.finding.line,
                "match": s.finding.redacted,
                "deleted": s.deleted,
                "layer": {
                    "index": s.layer,
                    "digest": layer.map(|l| l.digest.as_str()),
                    "diffID": layer.map(|l| l.diff_id.as_str()),
                    "createdBy": layer.and_then(|l| l.created_by.as_deref()),
                },
            })
        })
        .collect()
}
