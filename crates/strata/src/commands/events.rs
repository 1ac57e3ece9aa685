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
use crate::render::{Missing, Template};

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

/// The fields of Docker's `events.Message`.
const MESSAGE_FIELDS: &[&str] = &[
    "Status", "ID", "From", "Type", "Action", "Actor", "Scope", "Time", "TimeNano",
];

/// `ev` as Docker's `events.Message` struct, by Go field names (what templates name);
/// `{{json .}}` prints the JSON form instead (see [`is_json_of_dot`]).
fn go_struct(ev: &Event) -> serde_json::Value {
    serde_json::json!({
        "Status": ev.status,
        "ID": ev.id,
        "From": ev.from,
        "Type": ev.kind,
        "Action": ev.action,
        "Actor": ev.actor,
        "Scope": ev.scope,
        "Time": ev.time,
        "TimeNano": ev.time_nano,
    })
}

/// Whether the format is `{{json .}}` (spacing aside): Docker marshals the struct with
/// its JSON tags, lower-case and `omitempty`, unlike the fields templates name.
fn is_json_of_dot(format: &str) -> bool {
    let compact: String = format.chars().filter(|c| !c.is_whitespace()).collect();
    matches!(compact.as_str(), "{{json.}}" | "{{-json.-}}")
}

fn now_nano() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A `--since`/`--until` value as Docker's client sends it (`GetTimestamp`): Unix seconds
/// as given, a duration as whole seconds, a date as `seconds.nanoseconds`.
fn wire(value: &str, nanos: i64) -> String {
    let (secs, frac) = (
        nanos.div_euclid(1_000_000_000),
        nanos.rem_euclid(1_000_000_000),
    );
    if value != "0" && oci::go_duration::parse(value).is_ok() {
        secs.to_string()
    } else if !value.contains('-') {
        value.to_string()
    } else {
        format!("{secs}.{frac:09}")
    }
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
    if let (Some(s), Some(u)) = (since, until)
        && u < s
    {
        return Err(daemon(format!(
            "`since` time ({}) cannot be after `until` time ({})",
            wire(args.since.as_deref().unwrap_or(""), s),
            wire(args.until.as_deref().unwrap_or(""), u)
        )));
    }
    let format = args.format.as_deref().unwrap_or("");
    let json = is_json_of_dot(format);
    let template = if format.is_empty() || json {
        None
    } else {
        // `events.Message` is a struct but `Actor.Attributes` a map, where a missing key
        // prints `<no value>`: lenient, unless a top-level field is not the struct's (Go's
        // error then, at the first event).
        let strict = Template::parse(format, Missing::Error)?.on_struct("events.Message");
        let known = strict
            .fields()
            .iter()
            .all(|f| MESSAGE_FIELDS.contains(&f.as_str()));
        Some(if known {
            Template::parse(format, Missing::NoValue)?
        } else {
            strict
        })
    };
    let print = |out: &mut dyn Write, ev: &Event| -> anyhow::Result<()> {
        match &template {
            Some(t) => writeln!(out, "{}", t.execute(&go_struct(ev))?)?,
            None if json => writeln!(out, "{}", serde_json::to_string(ev)?)?,
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
