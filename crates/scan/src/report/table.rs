//! The table for people, with Trivy's columns (Library, Vulnerability, Severity, Installed
//! Version, Fixed Version, Title) plus the layer and Dockerfile step that brought the
//! package in, aligned with `tabwriter`.
//!
//! Above it, Trivy's heading: the target and `Total: N (UNKNOWN: …, CRITICAL: …)`; below
//! it, the data's date and each package that could not be judged, with the reason.

use std::io::{self, Write};

use tabwriter::TabWriter;

use super::{Report, short_step, truncate};
use crate::matching::Severity;
use crate::package::Package;

/// Widest Title cell (Trivy cuts titles too), in characters.
const TITLE_WIDTH: usize = 60;
/// Widest Layer cell, in characters.
const STEP_WIDTH: usize = 40;
/// Packages named on a not-judged line shared by several.
const NAMES_SHOWN: usize = 5;

/// Writes the report as a table.
pub fn write(report: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    let target = match report.distro {
        Some(d) if !d.pretty_name.is_empty() => {
            format!("{} ({})", report.image.name, d.pretty_name)
        }
        _ => report.image.name.clone(),
    };
    writeln!(out, "{target}")?;
    writeln!(out, "{}", "=".repeat(target.chars().count()))?;
    let vulns = &report.findings.vulnerabilities;
    let counts: Vec<String> = Severity::ALL
        .iter()
        .rev()
        .map(|s| {
            format!(
                "{s}: {}",
                vulns.iter().filter(|f| f.rating.severity == *s).count()
            )
        })
        .collect();
    writeln!(out, "Total: {} ({})", vulns.len(), counts.join(", "))?;
    writeln!(out)?;
    if !vulns.is_empty() {
        let mut tw = TabWriter::new(Vec::new()).padding(2);
        writeln!(
            tw,
            "Library\tVulnerability\tSeverity\tInstalled Version\tFixed Version\tTitle\tLayer"
        )?;
        for f in vulns {
            let package = report.package(f);
            let layer = match report.step(f) {
                Some(step) => format!("#{} {}", f.layer, short_step(step, STEP_WIDTH)),
                None => format!("#{}", f.layer),
            };
            let title = f.summary.as_deref().unwrap_or("");
            // A tab or newline in data would break the columns.
            let cell = |s: &str| s.replace(['\t', '\n', '\r'], " ");
            writeln!(
                tw,
                "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                cell(&package.found.name),
                cell(&f.id),
                f.rating.severity,
                cell(&package.found.version),
                cell(f.fixed.as_deref().unwrap_or("")),
                cell(&truncate(title, TITLE_WIDTH)),
                cell(&layer),
            )?;
        }
        let table = tw
            .into_inner()
            .map_err(|e| io::Error::new(e.error().kind(), e.error().to_string()))?;
        out.write_all(&table)?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "Vulnerability data: {}",
        report.data_date.unwrap_or("date unknown")
    )?;
    let not_judged = &report.findings.not_judged;
    if !not_judged.is_empty() {
        writeln!(out, "Not judged: {}", not_judged.len())?;
        // One line per reason: an image of an unknown distribution has hundreds of packages
        // with the same one.
        let mut reasons: Vec<(&str, Vec<String>)> = Vec::new();
        for n in not_judged {
            let p = &report.packages[n.package];
            let what = match &n.record {
                Some(id) => format!("{} ({id})", name_version(p)),
                None => name_version(p),
            };
            match reasons.iter_mut().find(|(r, _)| *r == n.reason) {
                Some((_, names)) => names.push(what),
                None => reasons.push((&n.reason, vec![what])),
            }
        }
        for (reason, names) in reasons {
            if names.len() == 1 {
                writeln!(out, "  {}: {reason}", names[0])?;
            } else {
                let shown: Vec<&str> = names.iter().take(NAMES_SHOWN).map(String::as_str).collect();
                let more = if names.len() > NAMES_SHOWN {
                    ", …"
                } else {
                    ""
                };
                writeln!(
                    out,
                    "  {} packages ({}{more}): {reason}",
                    names.len(),
                    shown.join(", ")
                )?;
            }
        }
    }
    Ok(())
}

/// `name version`, or the name alone for a package without a version.
fn name_version(p: &Package) -> String {
    if p.found.version.is_empty() {
        p.found.name.clone()
    } else {
        format!("{} {}", p.found.name, p.found.version)
    }
}
