//! `strata kill`: sends a signal (default SIGKILL) to running containers.

use std::io::Write;
use std::time::Duration;

use runtime::record::Status;

use super::{Ctx, container};
use crate::cli::KillArgs;

/// How long `kill` waits for a SIGKILLed container's exit to be recorded (Docker: 10 s,
/// then a direct kill and 2 s more; a loaded machine's monitor may need longer to unmount).
const KILL_WAIT: Duration = Duration::from_secs(30);

/// Signals each container, printing its name as given.
pub fn run(ctx: &Ctx, args: KillArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    super::each_named(&args.containers, out, |name| {
        let (mut c, rt) = container::load(ctx, name)?;
        let seen = container::observed(&c, &rt)?;
        if seen.restarting {
            // Between two runs of a `--restart` policy: Docker's kill ends the restarts.
            c.state = seen;
            c.cancel_restart()?;
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
