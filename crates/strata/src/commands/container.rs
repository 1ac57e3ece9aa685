//! What the container commands share: finding a container and its runtime, Docker's
//! STATUS wording; and `container prune`'s question and report. The lifecycle itself
//! (settling, observing, waiting, removing) is the runtime's ([`runtime::container`]).

use std::io::Write;

use chrono::{DateTime, Utc};
use runtime::{ContainerState, OciRuntime, RuntimeError, Status};

use super::{Ctx, util};
use crate::cli::ForceArgs;
use crate::render::units::human_duration;

/// The OCI runtime for new containers: `--runtime`, else found by cgroup layout.
pub fn new_runtime(ctx: &Ctx) -> Result<OciRuntime, RuntimeError> {
    OciRuntime::detect(ctx.runtime.as_deref(), &ctx.root)
}

/// Container `name` (ID, ID prefix or name) and its runtime.
pub fn load(ctx: &Ctx, name: &str) -> anyhow::Result<(runtime::Container, OciRuntime)> {
    let c = runtime::container::load(&ctx.root, name)?;
    let rt = c.oci_runtime(&ctx.root)?;
    Ok((c, rt))
}

/// Docker's lower-case state name (`created`, `running`, `exited`).
pub fn state_name(s: &ContainerState) -> &'static str {
    if s.restarting {
        return "restarting";
    }
    match s.status {
        Status::Created => "created",
        Status::Running if s.paused => "paused",
        Status::Running => "running",
        Status::Exited => "exited",
    }
}

/// Docker's STATUS column: `Created`, `Up 3 seconds`, `Up 3 seconds (healthy)`,
/// `Exited (0) 2 seconds ago`. `health`: the container's health record, if it has a check.
pub fn status_text(
    s: &ContainerState,
    health: Option<&runtime::health::Health>,
    now: DateTime<Utc>,
) -> String {
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
        Status::Running if s.paused => format!("Up {} (Paused)", since(&s.started_at)),
        Status::Running => match health {
            Some(h) if h.status == "starting" => {
                format!("Up {} (health: starting)", since(&s.started_at))
            }
            Some(h) => format!("Up {} ({})", since(&s.started_at), h.status),
            None => format!("Up {}", since(&s.started_at)),
        },
        Status::Exited => format!(
            "Exited ({}) {} ago",
            s.exit_code.unwrap_or(0),
            since(&s.finished_at)
        ),
    }
}

/// Asks Docker's prune question (`warning`, then on its own line "Are you sure you want
/// to continue?") on the terminal; true when the answer is yes.
pub fn confirm(out: &mut dyn Write, warning: &str) -> anyhow::Result<bool> {
    super::util::ask_yes_no(
        out,
        &format!("{warning}\nAre you sure you want to continue?"),
    )
}

/// `container prune`: removes every container that is not running (not its anonymous
/// volumes); prints their IDs and the space their writable layers held.
pub fn prune(ctx: &Ctx, args: ForceArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if !args.force && !confirm(out, "WARNING! This will remove all stopped containers.")? {
        return Ok(());
    }
    let reclaimed = prune_section(&ctx.store()?, &|_| true, out)?;
    super::util::print_reclaimed(out, reclaimed)
}

/// Removes the stopped containers `allowed` lets go (not their volumes), and prints Docker's "Deleted Containers:" section (nothing when none went); returns the
/// bytes their writable layers held.
pub fn prune_section(
    store: &store::Store,
    allowed: &dyn Fn(&runtime::container::Container) -> bool,
    out: &mut dyn Write,
) -> anyhow::Result<u64> {
    let pruned = runtime::container::prune_matching(store, allowed)?;
    let reclaimed: u64 = pruned.iter().map(|p| p.size).sum();
    if !pruned.is_empty() {
        writeln!(out, "Deleted Containers:")?;
        for p in &pruned {
            writeln!(out, "{}", p.id)?;
        }
        writeln!(out)?;
    }
    Ok(reclaimed)
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
            (
                ContainerState {
                    paused: true,
                    ..state(Status::Running, None)
                },
                "Up About a minute (Paused)",
            ),
        ] {
            assert_eq!(status_text(&s, None, now), want);
        }
        let mut h = runtime::health::Health::starting();
        let up = state(Status::Running, None);
        assert_eq!(
            status_text(&up, Some(&h), now),
            "Up About a minute (health: starting)"
        );
        h.status = "unhealthy".into();
        assert_eq!(
            status_text(&up, Some(&h), now),
            "Up About a minute (unhealthy)"
        );
        let paused = ContainerState {
            paused: true,
            ..state(Status::Running, None)
        };
        assert_eq!(state_name(&paused), "paused");
    }
}
