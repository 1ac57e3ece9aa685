//! Which journal events `strata events` shows: Docker's event filters (`-f key=value`)
//! and its `--since`/`--until` timestamps, with the rules of Docker's daemon
//! (`daemon/events/filter.go`, `api/types/time`).

use std::collections::BTreeMap;

use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone};

use crate::events::Event;

/// The filter keys Docker's `events` accepts.
const KEYS: &[&str] = &[
    "container",
    "daemon",
    "event",
    "image",
    "label",
    "network",
    "node",
    "plugin",
    "scope",
    "type",
    "volume",
    "config",
    "secret",
    "service",
];

/// A parsed `--filter` set: values of one key are alternatives, keys all apply (labels
/// all apply too, as Docker's `MatchKVList`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    by_key: BTreeMap<String, Vec<String>>,
}

impl EventFilter {
    /// Parses `key=value` strings; the error is Docker's wording.
    pub fn parse(filters: &[String]) -> Result<EventFilter, String> {
        let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in filters {
            let Some((k, v)) = f.split_once('=') else {
                return Err(format!("bad format of filter (expected name=value)\n{f}"));
            };
            // Docker 20.10's daemon does not validate event filter keys: one it does not
            // know filters nothing.
            let k = k.trim().to_ascii_lowercase();
            if !KEYS.contains(&k.as_str()) {
                continue;
            }
            by_key.entry(k).or_default().push(v.trim().to_string());
        }
        Ok(EventFilter { by_key })
    }

    fn exact(&self, key: &str, source: &str) -> bool {
        self.by_key
            .get(key)
            .is_none_or(|vs| vs.iter().any(|v| v == source))
    }

    fn fuzzy(&self, key: &str, source: &str) -> bool {
        self.by_key
            .get(key)
            .is_none_or(|vs| vs.iter().any(|v| source.starts_with(v.as_str())))
    }

    fn fuzzy_name(&self, key: &str, ev: &Event) -> bool {
        let name = ev
            .actor
            .attributes
            .get("name")
            .map(String::as_str)
            .unwrap_or("");
        self.fuzzy(key, &ev.actor.id) || (!name.is_empty() && self.fuzzy(key, name))
    }

    fn event(&self, ev: &Event) -> bool {
        // `exec_start` matches `exec_start: sh -c ...` (Docker's #25798).
        let fuzzy = self.by_key.get("event").is_some_and(|vs| {
            vs.iter()
                .any(|v| matches!(v.as_str(), "health_status" | "exec_create" | "exec_start"))
        });
        if fuzzy {
            self.fuzzy("event", &ev.action)
        } else {
            self.exact("event", &ev.action)
        }
    }

    fn image(&self, ev: &Event) -> bool {
        let attr = if ev.kind == "image" { "name" } else { "image" };
        let name = ev
            .actor
            .attributes
            .get(attr)
            .map(String::as_str)
            .unwrap_or("");
        [
            &ev.actor.id[..],
            name,
            strip_tag(&ev.actor.id),
            strip_tag(name),
        ]
        .iter()
        .any(|s| self.exact("image", s))
    }

    fn labels(&self, attrs: &BTreeMap<String, String>) -> bool {
        self.by_key.get("label").is_none_or(|vs| {
            vs.iter().all(|v| match v.split_once('=') {
                Some((k, want)) => attrs.get(k).is_some_and(|have| have == want),
                None => attrs.contains_key(v.as_str()),
            })
        })
    }

    /// Whether `ev` passes every filter.
    pub fn matches(&self, ev: &Event) -> bool {
        self.event(ev)
            && self.exact("type", &ev.kind)
            && self.exact("scope", &ev.scope)
            && self.fuzzy_name("container", ev)
            && self.fuzzy_name("volume", ev)
            && self.fuzzy_name("network", ev)
            && self.image(ev)
            && self.labels(&ev.actor.attributes)
            && ["daemon", "node", "plugin", "config", "secret", "service"]
                .iter()
                .all(|k| !self.by_key.contains_key(*k))
    }
}

/// `busybox:latest` → `busybox` (a registry port's colon kept), as Docker's `stripTag`.
fn strip_tag(image: &str) -> &str {
    let name = image.split('@').next().unwrap_or(image);
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => &name[..i],
        _ => name,
    }
}

/// A `--since`/`--until` value as nanoseconds since the epoch, as Docker's
/// `GetTimestamp`: a Go duration before `now_nano` (whole seconds), an RFC 3339 time or
/// date (local time without a zone), or Unix seconds with an optional fraction.
pub fn parse_timestamp(value: &str, now_nano: i64) -> Result<i64, String> {
    if value != "0"
        && let Ok(d) = oci::go_duration::parse(value)
    {
        let t = now_nano as i128 - d as i128;
        return Ok((t.div_euclid(1_000_000_000) * 1_000_000_000) as i64);
    }
    let bad = || format!("failed to parse value as time or duration: {value:?}");
    if value.contains('-') {
        return parse_date_time(value).ok_or_else(|| {
            format!("parsing time {value:?}: cannot parse {value:?} as a timestamp")
        });
    }
    let (secs, frac) = value.split_once('.').unwrap_or((value, ""));
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 {
        return Err(bad());
    }
    let nanos: i64 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<9}").parse().map_err(|_| bad())?
    };
    Ok(secs * 1_000_000_000 + nanos)
}

fn parse_date_time(value: &str) -> Option<i64> {
    let nanos = |t: DateTime<chrono::FixedOffset>| t.timestamp_nanos_opt();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return nanos(t);
    }
    for f in ["%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%HZ"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, f) {
            return t.and_utc().timestamp_nanos_opt();
        }
    }
    for f in ["%Y-%m-%dT%H:%M%:z", "%Y-%m-%d%:z"] {
        if let Ok(t) = DateTime::parse_from_str(value, f) {
            return nanos(t);
        }
    }
    let local = |t: NaiveDateTime| {
        Local
            .from_local_datetime(&t)
            .earliest()
            .and_then(|t| t.timestamp_nanos_opt())
    };
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(value, f) {
            return local(t);
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        return local(d.and_hms_opt(0, 0, 0)?);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(kind: &str, action: &str, id: &str, attrs: &[(&str, &str)]) -> Event {
        Event::at(
            kind,
            action,
            id,
            attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            0,
        )
    }

    fn f(filters: &[&str]) -> EventFilter {
        EventFilter::parse(&filters.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn filters_match_as_dockers() {
        let create = ev(
            "container",
            "create",
            "abcdef",
            &[
                ("name", "web"),
                ("image", "busybox:latest"),
                ("team", "core"),
            ],
        );
        let exec = ev(
            "container",
            "exec_start: sh -c true",
            "abcdef",
            &[("name", "web"), ("image", "busybox:latest")],
        );
        let tag = ev("image", "tag", "sha256:1234", &[("name", "busybox:latest")]);
        let vol = ev("volume", "create", "data", &[("driver", "local")]);
        #[rustfmt::skip]
        let table: &[(&[&str], &Event, bool)] = &[
            (&[], &create, true),
            (&["container=web"], &create, true),
            (&["container=abc"], &create, true),       // ID prefix
            (&["container=we"], &create, true),        // name prefix (Docker's fuzzy match)
            (&["container=other"], &create, false),
            (&["container=web"], &tag, false),         // other types have no such actor
            (&["container=web", "container=x"], &create, true),
            (&["event=create"], &create, true),
            (&["event=start"], &create, false),
            (&["event=exec_start"], &exec, true),
            (&["event=create", "event=exec_start"], &exec, true),
            (&["type=image"], &tag, true),
            (&["type=image"], &create, false),
            (&["image=busybox"], &create, true),       // tag stripped
            (&["image=busybox:latest"], &tag, true),
            (&["image=sha256:1234"], &tag, true),
            (&["image=alpine"], &tag, false),
            (&["label=team=core"], &create, true),
            (&["label=team"], &create, true),
            (&["label=team=other"], &create, false),
            (&["label=team", "label=x"], &create, false), // all labels must match
            (&["volume=data"], &vol, true),
            (&["volume=data"], &create, false),
            (&["type=container", "event=create", "container=web"], &create, true),
        ];
        for (filters, event, want) in table {
            assert_eq!(
                f(filters).matches(event),
                *want,
                "{filters:?} {}",
                event.action
            );
        }
    }

    #[test]
    fn bad_filters_are_dockers_errors() {
        // Unknown keys are ignored, as Docker 20.10's daemon does.
        let ignored = EventFilter::parse(&["bogus=1".to_string()]).unwrap();
        assert_eq!(ignored, EventFilter::default());
        let e = EventFilter::parse(&["container".to_string()]).unwrap_err();
        assert!(
            e.starts_with("bad format of filter (expected name=value)"),
            "{e}"
        );
    }

    #[test]
    fn strip_tag_keeps_registry_ports() {
        assert_eq!(strip_tag("busybox:latest"), "busybox");
        assert_eq!(strip_tag("localhost:5000/bb"), "localhost:5000/bb");
        assert_eq!(strip_tag("localhost:5000/bb:1"), "localhost:5000/bb");
        assert_eq!(strip_tag("bb@sha256:00"), "bb");
    }

    #[test]
    fn timestamps_in_dockers_forms() {
        let now = 1_796_637_600_500_000_000; // 2026-12-07T10:00:00.5Z
        #[rustfmt::skip]
        let table: &[(&str, Result<i64, ()>)] = &[
            ("10m", Ok(1_796_637_000_000_000_000)),          // whole seconds, as Docker
            ("1796637600", Ok(1_796_637_600_000_000_000)),
            ("1796637600.25", Ok(1_796_637_600_250_000_000)),
            ("1796637600.000000001", Ok(1_796_637_600_000_000_001)),
            ("2026-12-07T10:00:00Z", Ok(1_796_637_600_000_000_000)),
            ("2026-12-07T10:00:00.123456789Z", Ok(1_796_637_600_123_456_789)),
            ("2026-12-07T11:00:00+01:00", Ok(1_796_637_600_000_000_000)),
            ("2026-12-07T10:00Z", Ok(1_796_637_600_000_000_000)),
            ("nonsense", Err(())),
            ("2026-13-07", Err(())),
            ("12.x", Err(())),
        ];
        for (s, want) in table {
            assert_eq!(parse_timestamp(s, now).map_err(|_| ()), *want, "{s}");
        }
        assert_eq!(
            parse_timestamp("nonsense", now).unwrap_err(),
            "failed to parse value as time or duration: \"nonsense\""
        );
    }
}
