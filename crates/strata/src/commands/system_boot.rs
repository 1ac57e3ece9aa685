//! `strata system boot`: what Docker's daemon does when it starts — the containers whose
//! restart policy says so are started again, each under a monitor of its own. Prints the
//! name of each container it starts; one that fails is reported and the others still
//! start.

use std::io::Write;

use super::{Ctx, monitor};

/// Starts every container that [`runtime::Container::restarts_at_boot`].
pub fn run(ctx: &Ctx, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let mut errors = Vec::new();
    for c in runtime::container::list(&ctx.root)? {
        let started = (|| -> anyhow::Result<bool> {
            let rt = c.oci_runtime(&ctx.root)?;
            if !c.restarts_at_boot(&rt)? {
                return Ok(false);
            }
            let mut c = c.clone();
            c.settle(&rt)?;
            monitor::start_detached(ctx, &store, &c, &rt)?;
            Ok(true)
        })();
        match started {
            Ok(true) => writeln!(out, "{}", c.record.name)?,
            Ok(false) => {}
            Err(e) => errors.push(e.context(format!("starting {}", c.record.name))),
        }
    }
    super::report_errors(errors)
}
