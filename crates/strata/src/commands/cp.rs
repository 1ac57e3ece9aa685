//! `strata cp` / `strata container cp`: files between a container and the host, as
//! `docker cp` copies them (the rules and the copying are `runtime::copy`'s).

use runtime::copy::{self, CopyError, CopyIn, CopyOut, CpOptions, paths};

use super::{Ctx, Plain};
use crate::cli::CpArgs;

/// Copies SRC to DEST; one of them names a container.
pub fn run(ctx: &Ctx, args: CpArgs) -> anyhow::Result<()> {
    let (src_container, src) = paths::split_cp_arg(&args.source);
    let (dst_container, dst) = paths::split_cp_arg(&args.destination);
    let opts = CpOptions {
        archive: args.archive,
        follow_link: args.follow_link,
    };
    let done = match (src_container, dst_container) {
        (Some(_), Some(_)) => {
            return Err(Plain::error("copying between containers is not supported"));
        }
        (None, None) => return Err(Plain::error("must specify at least one container source")),
        (Some(c), None) => {
            let store = ctx.store()?;
            if dst == "-" {
                let mut out = super::util::stdout_file()?;
                copy::copy_from_container(&store, c, src, CopyOut::Stream(&mut out), opts)
            } else {
                copy::copy_from_container(&store, c, src, CopyOut::Path(dst), opts)
            }
        }
        (None, Some(c)) => {
            let store = ctx.store()?;
            if src == "-" {
                let mut input = std::io::stdin();
                copy::copy_to_container(&store, CopyIn::Stream(&mut input), c, dst, opts)
            } else {
                copy::copy_to_container(&store, CopyIn::Path(src), c, dst, opts)
            }
        }
    };
    done.map_err(|e| match e {
        // Docker's client prints these as they are (its 404 text carries its own `Error: `).
        CopyError::NotFound { .. } => Plain::error(format!("Error: {e}")),
        CopyError::Client(_) | CopyError::Daemon(_) => Plain::error(e.to_string()),
        e => anyhow::Error::new(e),
    })
}
