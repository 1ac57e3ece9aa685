//! `strata kill`: sends a signal (default SIGKILL) to running containers.

use std::io::Write;
use std::time::Duration;

use runtime::Status;

use super::{Ctx, container};
use crate::cli::KillArgs;

/// How long `kill` waits for a SIGKILLed container's exit to be recorded (Docker: 10 s,
/// then a direct kill and 2 s more; a loaded machine's monitor may need longer to unmount).
const KILL_WAIT: Duration = Duration::from_secs(30);

/// Signals each container, printing its name as given.
pub fn run(ctx: &Ctx, args: KillArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    super::each_named(&args.containers, out, |name| {
        let (mut c, rt) = container::load(ctx, name)?;
        let seen = c.observed(&rt)?;
        if seen.restarting {
            // Between two runs of a `--restart` policy: Docker's kill ends the restarts
            // (and kills the run its monitor was just starting, if it was).
            c.state = seen;
            if !c.cancel_restart()? {
                return Ok(());
            }
            let killed = c.kill_and_wait(&rt, args.signal.trim_start_matches("SIG"), KILL_WAIT);
            // That run may have ended by itself meanwhile: the kill still did its job.
            // (A container still running after the wait is an error of its own.)
            if killed.is_err() {
                runtime::container::wait_recorded(&ctx.root, &c.record.id, &rt, KILL_WAIT)?;
            }
            return Ok(());
        }
        if seen.status != Status::Running {
            anyhow::bail!(
                "cannot kill container: {name}: container {} is not running",
                c.record.id
            );
        }
        // Docker's kill with SIGKILL returns once the container is stopped.
        c.kill_and_wait(&rt, args.signal.trim_start_matches("SIG"), KILL_WAIT)?;
        Ok(())
    })
}
