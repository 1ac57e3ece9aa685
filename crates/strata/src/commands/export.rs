//! `strata export [-o FILE] CONTAINER`: the container's files as a tar archive, as
//! `docker export` writes it (to a file through a temporary name, or to stdout).

use anyhow::Context as _;

use super::{Ctx, util};
use crate::cli::ExportArgs;

/// Writes the archive.
pub fn run(ctx: &Ctx, args: ExportArgs) -> anyhow::Result<()> {
    util::check_archive_output(args.output.as_deref(), "failed to export container")?;
    let store = ctx.store()?;
    let c = runtime::container::load(&ctx.root, &args.container)?;
    match &args.output {
        // The tar writer buffers and flushes on its own.
        None => c.export(&store, util::stdout_file()?)?,
        Some(path) => {
            // Written beside the file and renamed over it once whole, as Docker's client
            // does: an interrupted export leaves no half archive under the name.
            let dir = path
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::Builder::new()
                .prefix(".strata_temp_")
                .tempfile_in(dir)
                .with_context(|| format!("creating a file in {}", dir.display()))?;
            c.export(&store, tmp.as_file_mut())?;
            tmp.persist(path)
                .with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(())
}
