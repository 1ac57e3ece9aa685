//! `-o FILE` for reports (`sbom`, `scan`): written beside the file and renamed over it once
//! whole, so an interrupted run leaves no half document under the name; stdout without it.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context as _;

/// Runs `write` into `path` (through a temporary file in its directory), or into `out`.
pub fn write_to(
    path: Option<&Path>,
    out: &mut dyn Write,
    write: impl FnOnce(&mut dyn Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let Some(path) = path else {
        write(out)?;
        return Ok(out.flush()?);
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".strata_temp_")
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    let mut w = BufWriter::new(tmp);
    write(&mut w)?;
    let tmp = w
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
