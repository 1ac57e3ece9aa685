//! `strata pause` and `unpause`: freeze and thaw every process of running containers (the
//! OCI runtime's cgroup freezer), with Docker's output and messages.

use std::io::Write;

use runtime::Status;

use super::{Ctx, container};
use crate::cli::PauseArgs;

/// `pause`: each container named, printed as given once frozen.
pub fn pause(ctx: &Ctx, args: PauseArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    super::each_named(&args.containers, out, |name| {
        let (c, rt) = container::load(ctx, name)?;
        let s = c.observed(&rt)?;
        let id = &c.record.id;
        if s.status != Status::Running {
            anyhow::bail!("Container {id} is not running");
        }
        if s.paused {
            anyhow::bail!("Container {id} is already paused");
        }
        c.pause(&rt)?;
        Ok(())
    })
}

/// `unpause`: each container named, printed as given once thawed.
pub fn unpause(ctx: &Ctx, args: PauseArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    super::each_named(&args.containers, out, |name| {
        let (c, rt) = container::load(ctx, name)?;
        let s = c.observed(&rt)?;
        if !s.paused {
            anyhow::bail!("Container {} is not paused", c.record.id);
        }
        c.unpause(&rt)?;
        Ok(())
    })
}
