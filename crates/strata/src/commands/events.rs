//! `strata events`: the store's event journal ([`store::events`]) shown as Docker's
//! `docker events` shows its daemon's: past events between `--since` and `--until`, then,
//! unless `--until` has passed, new ones as other strata processes record them, until
//! the user interrupts (or `--until` comes).

use std::io::Write;
use std::time::Duration;

use clap::Args;
use store::events::{Event, Follower};
use store::events_query::{EventFilter, parse_timestamp};

use super::{Ctx, Plain};
use crate::render::Template;
use crate::render::template::{GoKind, Missing, NilKinds};

/// `strata events` / `strata system events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Filter output based on conditions provided (container, event, image, label, type,
    /// volume, network).
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// Format the output using the given Go template.
    #[arg(long)]
    pub format: Option<String>,
    /// Show all events created since timestamp.
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp.
    #[arg(long)]
    pub until: Option<String>,
}

/// How often a following `events` looks at the journal again.
const POLL: Duration = Duration::from_millis(100);

/// The JSON keys of Docker's `events.Message` whose Go field names differ.
const GO_NAMES: &[(&str, &str)] = &[
    ("status", "Status"),
    ("id", "ID"),
    ("from", "From"),
    ("scope", "Scope"),
    ("time", "Time"),
    ("timeNano", "TimeNano"),
];

/// The `omitempty` strings of `events.Message`: empty for volume and network events.
const OMITTED: NilKinds = &[
    ("Status", GoKind::String),
    ("ID", GoKind::String),
    ("From", GoKind::String),
];

fn now_nano() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Prints the events, following the journal unless `--until` has passed.
pub fn run(ctx: &Ctx, args: EventsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let daemon = |e: String| Plain::error(format!("Error response from daemon: {e}"));
    let filter = EventFilter::parse(&args.filter).map_err(daemon)?;
    let now = now_nano();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_timestamp(s, now))
        .transpose()
        .map_err(daemon)?;
    let until = args
        .until
        .as_deref()
        .map(|s| parse_timestamp(s, now))
        .transpose()
        .map_err(daemon)?;
    let template = match args.format.as_deref() {
        Some(f) if !f.is_empty() => Some(
            Template::parse(f, Missing::Error)?
                .go_renamed(GO_NAMES)
                .typed_nils(OMITTED)
                .on_struct("events.Message"),
        ),
        _ => None,
    };
    let print = |out: &mut dyn Write, ev: &Event| -> anyhow::Result<()> {
        match &template {
            Some(t) => writeln!(out, "{}", t.execute(&serde_json::to_value(ev)?)?)?,
            None => writeln!(out, "{}", ev.line())?,
        }
        Ok(())
    };
    let shown = |ev: &Event| {
        since.is_none_or(|s| ev.time_nano >= s)
            && until.is_none_or(|u| ev.time_nano <= u)
            && filter.matches(ev)
    };
    std::fs::create_dir_all(&ctx.root)?;
    let mut follower = Follower::new(&ctx.root);
    // Docker replays its buffer only when a bound is given; otherwise only new events.
    if since.is_some() || until.is_some() {
        for ev in follower.poll()? {
            if shown(&ev) {
                print(out, &ev)?;
            }
        }
    } else {
        follower.seek_end()?;
    }
    out.flush()?;
    loop {
        if until.is_some_and(|u| now_nano() > u) {
            // One last look: an event stamped before `until` may have landed meanwhile.
            for ev in follower.poll()? {
                if shown(&ev) {
                    print(out, &ev)?;
                }
            }
            return Ok(());
        }
        std::thread::sleep(POLL);
        for ev in follower.poll()? {
            if shown(&ev) {
                print(out, &ev)?;
            }
        }
        out.flush()?;
    }
}
