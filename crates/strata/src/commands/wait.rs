//! `strata wait`: blocks until containers stop, then prints their exit codes.

use std::io::Write;

use super::{Ctx, container};
use crate::cli::ContainersArgs;

/// Prints each container's exit code once it has exited (a never-started one's at once).
pub fn run(ctx: &Ctx, args: ContainersArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    for name in &args.containers {
        let result = (|| -> anyhow::Result<i32> {
            let (c, rt) = container::load(ctx, name)?;
            Ok(c.wait_exit_code(&ctx.root, &rt)?)
        })();
        match result {
            Ok(code) => {
                writeln!(out, "{code}")?;
                out.flush()?;
            }
            Err(e) => errors.push(e),
        }
    }
    super::report_errors(errors)
}
