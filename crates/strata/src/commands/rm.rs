//! `strata rm`: removes containers (`-f` kills a running one first, `-v` removes its
//! anonymous volumes).

use std::io::Write;
use std::time::Duration;

use runtime::Status;

use super::{Ctx, container};
use crate::cli::RmArgs;

/// Removes each container, printing its name as given.
pub fn run(ctx: &Ctx, args: RmArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = ctx.store()?;
    super::each_named(&args.containers, out, |name| {
        let (c, rt) = container::load(ctx, name)?;
        let id = c.record.id.clone();
        let c = if args.force && c.observed(&rt)?.status == Status::Running {
            // Let its monitor see the exit and unmount, then remove what is left.
            let killed = c.kill(&rt, "KILL");
            // It may have exited between the look and the kill (the runtime then says the
            // container does not exist): its monitor is recording the exit, which is the
            // state `-f` wants. Only a container still running after that is an error.
            let waited =
                runtime::container::wait_recorded(&ctx.root, &id, &rt, Duration::from_secs(30));
            if let Err(e) = killed {
                waited.map_err(|_| e)?;
            } else {
                waited?;
            }
            match runtime::container::load(&ctx.root, &id) {
                Ok(c) => c,
                // Its monitor removed it (`--rm`).
                Err(runtime::RuntimeError::NoSuchContainer(_)) => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        } else {
            let mut c = c;
            c.settle(&rt)?;
            if c.observed(&rt)?.restarting {
                if !args.force {
                    anyhow::bail!(
                        "You cannot remove a restarting container {id}. Stop the container \
                         before attempting removal or force remove"
                    );
                }
                if c.cancel_restart()? {
                    // Its monitor had just started it again: as `-f` does to a running one.
                    let _ = c.kill(&rt, "KILL");
                    runtime::container::wait_recorded(
                        &ctx.root,
                        &id,
                        &rt,
                        Duration::from_secs(30),
                    )?;
                    c = runtime::container::load(&ctx.root, &id)?;
                }
            }
            c
        };
        let result = if args.volumes {
            c.remove_with_volumes(&store, &rt, args.force)
                .map_err(Into::into)
        } else {
            c.remove(&store, &rt, args.force).map_err(Into::into)
        };
        match result {
            // Removed meanwhile by its own monitor (`--rm`).
            Err(_) if !store.layout().container(&id).exists() => Ok(()),
            other => other,
        }
    })
}
