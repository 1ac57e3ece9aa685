//! A table for humans: one row per package, Name, Version, Type, Layer (its index and its
//! digest, shortened), sorted by name then version, columns padded to their widest cell.

use std::io::Write;

use super::{Document, SbomError, layer_of};

/// Digest characters shown after `sha256:`, as `docker images` shows IDs.
const SHORT_DIGEST: usize = 12;

/// One row's cells.
fn row(doc: &Document, p: &crate::package::Package) -> [String; 4] {
    let layer = match layer_of(doc, p).map(|l| {
        if l.digest.is_empty() {
            &l.diff_id
        } else {
            &l.digest
        }
    }) {
        Some(d) if !d.is_empty() => {
            let hex = d.split_once(':').map_or(d.as_str(), |(_, h)| h);
            format!("{} ({})", p.layer, &hex[..hex.len().min(SHORT_DIGEST)])
        }
        _ => p.layer.to_string(),
    };
    // Control characters would break the table's lines.
    let clean = |s: &str| {
        s.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect::<String>()
    };
    [
        clean(&p.found.name),
        clean(&p.found.version),
        p.kind.label().to_owned(),
        layer,
    ]
}

/// Writes the table.
pub fn write(doc: &Document, out: &mut dyn Write) -> Result<(), SbomError> {
    let io = |source| SbomError::Write {
        format: "table",
        source,
    };
    let mut rows: Vec<[String; 4]> = doc.inventory.packages.iter().map(|p| row(doc, p)).collect();
    rows.sort();
    let header = ["NAME", "VERSION", "TYPE", "LAYER"].map(str::to_owned);
    let mut widths = header.each_ref().map(|h| h.chars().count());
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    if let Some(distro) = &doc.inventory.distro {
        writeln!(
            out,
            "{}: {} ({})",
            doc.image.name,
            distro.pretty_name,
            distro.purl_qualifier()
        )
        .map_err(io)?;
    }
    for r in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = r
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end()).map_err(io)?;
    }
    writeln!(out, "{} packages", rows.len()).map_err(io)
}
