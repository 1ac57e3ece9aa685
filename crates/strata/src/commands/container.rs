//! What the container commands share: finding a container and its runtime, Docker's
//! STATUS wording, waiting for a monitor to record an exit; and `container prune`.

use std::io::{BufRead, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};
use runtime::record::{ContainerState, Status};
use runtime::{Container, OciRuntime, RuntimeError};

use super::{Ctx, util};
use crate::cli::ForceArgs;
use crate::render::{human_size, units::human_duration};

/// How often state files are polled (`wait`, `logs -f`, `stop`).
pub const POLL: Duration = Duration::from_millis(20);

/// The OCI runtime for new containers: `--runtime`, else found by cgroup layout.
pub fn new_runtime(ctx: &Ctx) -> Result<OciRuntime, RuntimeError> {
    OciRuntime::detect(ctx.runtime.as_deref(), &ctx.root)
}

/// The OCI runtime container `c` was created with.
pub fn runtime_of(ctx: &Ctx, c: &Container) -> Result<OciRuntime, RuntimeError> {
    OciRuntime::detect(Some(&c.record.runtime), &ctx.root)
}

/// Container `name` (ID, ID prefix or name) and its runtime.
pub fn load(ctx: &Ctx, name: &str) -> anyhow::Result<(Container, OciRuntime)> {
    let c = runtime::container::load(&ctx.root, name)?;
    let rt = runtime_of(ctx, &c)?;
    Ok((c, rt))
}

/// Its state as other processes should see it (a dead monitor means exited).
pub fn observed(c: &Container, rt: &OciRuntime) -> Result<ContainerState, RuntimeError> {
    runtime::monitor::observed_state(c, rt)
}

/// A container whose state file says running but that no longer runs (its monitor was
/// killed, the host crashed) is settled: the runtime's record of it is deleted and its
/// observed state (exited) written, so it can be removed or started again.
pub fn settle(c: &mut Container, rt: &OciRuntime) -> Result<(), RuntimeError> {
    if c.state.status != Status::Running {
        return Ok(());
    }
    let seen = observed(c, rt)?;
    if seen.status == Status::Running {
        return Ok(());
    }
    match rt.delete(&c.record.id, &c.dir.runtime_log()) {
        Ok(()) | Err(RuntimeError::NoSuchContainer(_)) => {}
        Err(e) => return Err(e),
    }
    c.state = seen;
    runtime::record::write_state(&c.dir.state(), &c.state)
}

/// Docker's lower-case state name (`created`, `running`, `exited`).
pub fn state_name(s: &ContainerState) -> &'static str {
    if s.restarting {
        return "restarting";
    }
    match s.status {
        Status::Created => "created",
        Status::Running => "running",
        Status::Exited => "exited",
    }
}

/// Docker's STATUS column: `Created`, `Up 3 seconds`, `Exited (0) 2 seconds ago`.
pub fn status_text(s: &ContainerState, now: DateTime<Utc>) -> String {
    let since = |t: &Option<String>| {
        let secs = util::parse_time(t.as_deref())
            .map(|t| (now - t).num_seconds())
            .unwrap_or(0);
        human_duration(secs)
    };
    if s.restarting {
        return format!(
            "Restarting ({}) {} ago",
            s.exit_code.unwrap_or(0),
            since(&s.finished_at)
        );
    }
    match s.status {
        Status::Created => "Created".into(),
        Status::Running => format!("Up {}", since(&s.started_at)),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            s.exit_code.unwrap_or(0),
            since(&s.finished_at)
        ),
    }
}

/// Waits until the container's monitor has recorded its exit (or the container is gone,
/// as `--rm` makes it), for at most `limit`. Returns the exit code when it is known.
/// The waiting itself is the runtime's, which `kill` uses too.
pub fn wait_recorded(
    ctx: &Ctx,
    id: &str,
    rt: &OciRuntime,
    limit: Duration,
) -> anyhow::Result<Option<i32>> {
    let c = match runtime::container::load(&ctx.root, id) {
        Ok(c) => c,
        Err(RuntimeError::NoSuchContainer(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(runtime::monitor::wait_recorded(&c, rt, limit)?.and_then(|s| s.exit_code))
}

/// Removes `c` with its anonymous volumes (`--rm`, `rm -v`).
pub fn remove_with_volumes(
    ctx: &Ctx,
    store: &store::Store,
    rt: &OciRuntime,
    c: Container,
    force: bool,
) -> anyhow::Result<()> {
    let volumes = c.anonymous_volumes();
    c.remove(store, rt, force)?;
    for v in volumes {
        runtime::volumes::remove(&ctx.root, &v)?;
    }
    Ok(())
}

/// Asks Docker's prune question on the terminal; true when the answer is yes.
pub fn confirm(out: &mut dyn Write, warning: &str) -> anyhow::Result<bool> {
    write!(out, "{warning}\nAre you sure you want to continue? [y/N] ")?;
    out.flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

/// `container prune`: removes every container that is not running, with its anonymous
/// volumes; prints their IDs and the space their writable layers held.
pub fn prune(ctx: &Ctx, args: ForceArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if !args.force && !confirm(out, "WARNING! This will remove all stopped containers.")? {
        return Ok(());
    }
    let store = ctx.store()?;
    let mut removed = Vec::new();
    let mut reclaimed = 0;
    for mut c in runtime::container::list(&ctx.root)? {
        let rt = runtime_of(ctx, &c)?;
        // A create in progress, or a live build's RUN container between its steps.
        if runtime::container::owned_by_live_process(&c.dir.0)
            || observed(&c, &rt)?.status == Status::Running
        {
            continue;
        }
        settle(&mut c, &rt)?;
        let id = c.record.id.clone();
        let size = c.size_rw().unwrap_or(0);
        match remove_with_volumes(ctx, &store, &rt, c, false) {
            Ok(()) => {
                reclaimed += size;
                removed.push(id);
            }
            // Removed meanwhile by its own monitor (`--rm`) or another prune.
            Err(e) if !store.layout().container(&id).exists() => {
                tracing::debug!("container {id} went away during prune: {e:#}");
            }
            Err(e) => return Err(e),
        }
    }
    if !removed.is_empty() {
        writeln!(out, "Deleted Containers:")?;
        for id in &removed {
            writeln!(out, "{id}")?;
        }
        writeln!(out)?;
    }
    writeln!(out, "Total reclaimed space: {}", human_size(reclaimed))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(status: Status, code: Option<i32>) -> ContainerState {
        ContainerState {
            status,
            exit_code: code,
            started_at: Some("2024-01-01T00:00:00Z".into()),
            finished_at: Some("2024-01-01T00:01:00Z".into()),
            ..ContainerState::created()
        }
    }

    #[test]
    fn status_reads_like_docker() {
        let now: DateTime<Utc> = "2024-01-01T00:01:02Z".parse().unwrap();
        for (s, want) in [
            (state(Status::Created, None), "Created"),
            (state(Status::Running, None), "Up About a minute"),
            (state(Status::Exited, Some(3)), "Exited (3) 2 seconds ago"),
            (state(Status::Exited, Some(0)), "Exited (0) 2 seconds ago"),
        ] {
            assert_eq!(status_text(&s, now), want);
        }
    }
}
