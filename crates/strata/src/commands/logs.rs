//! `strata logs`: a container's `json-file` log, stdout to stdout and stderr to stderr;
//! `-f` follows it until the container stops.

use std::io::Write;

use chrono::{DateTime, Utc};
use runtime::logs::LogEntry;

use super::{Ctx, container, util};
use crate::cli::LogsArgs;

/// Prints the log (from another process than the container's monitor: no daemon).
pub fn run(ctx: &Ctx, args: LogsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let (c, rt) = container::load(ctx, &args.container)?;
    let now = util::now();
    let since = args
        .since
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()?;
    let until = args
        .until
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()?;
    let tail = match args.tail.as_str() {
        "all" | "" => None,
        n => Some(
            n.parse::<i64>()
                .map_err(|_| anyhow::anyhow!("invalid value for \"tail\": {n}"))?,
        ),
    };
    if !c.record.options.log_config.readable() {
        anyhow::bail!("configured logging driver does not support reading");
    }
    let path = c.dir.log();
    // The rotated files first, oldest first, then the current one.
    let mut entries = Vec::new();
    for older in runtime::logs::older_files(&path) {
        entries.extend(runtime::logs::read_from(&older, 0)?.0);
    }
    let mut inode = inode_of(&path);
    let (current, mut offset) = runtime::logs::read_from(&path, 0)?;
    entries.extend(current);
    let mut entries: Vec<LogEntry> = entries
        .into_iter()
        .filter(|e| keep(e, since, until))
        .collect();
    if let Some(n) = tail.filter(|n| *n >= 0) {
        let n = n as usize;
        if entries.len() > n {
            entries.drain(..entries.len() - n);
        }
    }
    let mut err = std::io::stderr();
    print(&entries, args.timestamps, out, &mut err)?;
    if !args.follow {
        return Ok(());
    }
    loop {
        out.flush()?;
        // Whether it still runs is read before the log, so nothing written before it
        // stopped is missed.
        let running = runtime::container::still_running(&ctx.root, &c.record.id, &rt)?;
        // Rotated meanwhile (maybe more than once): the rest of the file we were reading,
        // wherever it moved, then each newer one, then the current one from its start.
        let now = inode_of(&path);
        let mut more = Vec::new();
        if now != inode {
            let older = runtime::logs::older_files(&path);
            let ours = older.iter().position(|p| inode_of(p) == inode);
            if let Some(i) = ours {
                more.extend(runtime::logs::read_from(&older[i], offset)?.0);
                for newer in &older[i + 1..] {
                    more.extend(runtime::logs::read_from(newer, 0)?.0);
                }
            }
            inode = now;
            offset = 0;
        }
        let (current, next) = runtime::logs::read_from(&path, offset)?;
        more.extend(current);
        offset = next;
        let more: Vec<LogEntry> = more.into_iter().filter(|e| keep(e, since, until)).collect();
        print(&more, args.timestamps, out, &mut err)?;
        if !running {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The inode of the log file, to notice a rotation (`None` while there is no file).
fn inode_of(path: &std::path::Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| m.ino())
}

fn keep(e: &LogEntry, since: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> bool {
    let t = util::parse_time(Some(&e.time));
    match t {
        Some(t) => since.is_none_or(|s| t >= s) && until.is_none_or(|u| t < u),
        None => true,
    }
}

fn print(
    entries: &[LogEntry],
    timestamps: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<()> {
    for e in entries {
        let w: &mut dyn Write = if e.stream == "stderr" { err } else { out };
        if timestamps {
            write!(w, "{} ", e.time)?;
        }
        w.write_all(e.log.as_bytes())?;
    }
    Ok(())
}

/// `--since`/`--until`: RFC 3339, a Unix timestamp (`1700000000[.5]`) or a duration before
/// `now` (`10s`, `5m`, `1h30m`).
pub fn parse_time(s: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    if let Some(t) = util::parse_time(Some(s)) {
        return Ok(t);
    }
    if let Ok(secs) = s.parse::<f64>() {
        let nanos = (secs * 1e9) as i64;
        return Ok(DateTime::from_timestamp_nanos(nanos));
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut chars = s.chars().peekable();
    let bad = || anyhow::anyhow!("invalid time value {s:?}: use RFC 3339, a Unix time or 10m");
    while let Some(ch) = chars.next() {
        if ch.is_ascii_digit() || ch == '.' {
            num.push(ch);
            continue;
        }
        let unit = match (ch, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                0.001
            }
            ('h', _) => 3600.0,
            ('m', _) => 60.0,
            ('s', _) => 1.0,
            _ => return Err(bad()),
        };
        total += num.parse::<f64>().map_err(|_| bad())? * unit;
        num.clear();
    }
    if !num.is_empty() || s.is_empty() {
        return Err(bad());
    }
    Ok(now - chrono::Duration::milliseconds((total * 1000.0) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_like_docker() {
        let now: DateTime<Utc> = "2024-01-01T01:00:00Z".parse().unwrap();
        for (s, want) in [
            ("2024-01-01T00:00:00Z", Some("2024-01-01T00:00:00+00:00")),
            ("10m", Some("2024-01-01T00:50:00+00:00")),
            ("1h30m", Some("2023-12-31T23:30:00+00:00")),
            ("1704067200", Some("2024-01-01T00:00:00+00:00")),
            ("x", None),
            ("10", Some("1970-01-01T00:00:10+00:00")),
        ] {
            assert_eq!(
                parse_time(s, now).ok().map(|t| t.to_rfc3339()),
                want.map(str::to_string),
                "{s}"
            );
        }
    }
}
