//! Docker's human units: sizes as go-units `HumanSizeWithPrecision(size, 3)` and ages as
//! `HumanDuration`, so tables read exactly like Docker's.

use chrono::{DateTime, Utc};

const DECIMAL_ABBRS: [&str; 9] = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

/// A size in decimal units with 3 significant digits: `7.33MB`, `512B`, `1.2GB`, `0B`.
pub fn human_size(bytes: u64) -> String {
    human_size_precision(bytes, 3)
}

/// go-units `HumanSize` (4 significant digits): what Docker's prune commands print as
/// the space they reclaimed.
pub fn reclaimed_size(bytes: u64) -> String {
    human_size_precision(bytes, 4)
}

/// go-units `HumanSizeWithPrecision`: decimal units with `precision` significant digits
/// (`HumanSize` is precision 4).
pub fn human_size_precision(bytes: u64, precision: usize) -> String {
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1000.0 && i < DECIMAL_ABBRS.len() - 1 {
        size /= 1000.0;
        i += 1;
    }
    format!("{}{}", go_g(size, precision.max(1)), DECIMAL_ABBRS[i])
}

const BINARY_ABBRS: [&str; 9] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];

/// go-units `BytesSize`: binary units with 4 significant digits (`1.5MiB`, `7.637GiB`,
/// `0B`), as `stats` shows memory.
pub fn bytes_size(bytes: u64) -> String {
    let mut size = bytes as f64;
    let mut i = 0;
    while size >= 1024.0 && i < BINARY_ABBRS.len() - 1 {
        size /= 1024.0;
        i += 1;
    }
    format!("{}{}", go_g(size, 4), BINARY_ABBRS[i])
}

/// Go's `%.*g` for a non-negative finite value: shortest of fixed or exponent form with
/// `precision` significant digits, trailing zeros removed (Go prints `1e+03`, not `1000`).
fn go_g(value: f64, precision: usize) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    // Rounding to `precision` digits first tells the exponent Go decides on.
    let sci = format!("{:.*e}", precision - 1, value);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= precision as i32 {
        let mantissa = trim_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    let decimals = (precision as i32 - 1 - exp).max(0) as usize;
    trim_zeros(&format!("{value:.decimals$}")).to_string()
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// go-units `HumanDuration` of a number of seconds: "Less than a second", "About a minute",
/// "2 hours", "3 weeks", "4 months", "2 years".
pub fn human_duration(seconds: i64) -> String {
    let secs = seconds.max(0);
    if secs < 1 {
        return "Less than a second".into();
    }
    if secs == 1 {
        return "1 second".into();
    }
    if secs < 60 {
        return format!("{secs} seconds");
    }
    let minutes = secs / 60;
    if minutes == 1 {
        return "About a minute".into();
    }
    if minutes < 60 {
        return format!("{minutes} minutes");
    }
    // Go rounds hours: int(d.Hours() + 0.5).
    let hours = (secs as f64 / 3600.0 + 0.5) as i64;
    if hours == 1 {
        return "About an hour".into();
    }
    if hours < 48 {
        return format!("{hours} hours");
    }
    if hours < 24 * 7 * 2 {
        return format!("{} days", hours / 24);
    }
    if hours < 24 * 30 * 2 {
        return format!("{} weeks", hours / 24 / 7);
    }
    if hours < 24 * 365 * 2 {
        return format!("{} months", hours / 24 / 30);
    }
    format!("{} years", secs / 3600 / 24 / 365)
}

/// Docker's CREATED column: `"<HumanDuration> ago"`, or `N/A` without a time.
pub fn created_since(created: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match created {
        Some(t) => format!("{} ago", human_duration((now - t).num_seconds())),
        None => "N/A".into(),
    }
}

/// A timestamp the way Docker's `CreatedAt` fields print it (`2024-01-02 03:04:05 +0000 UTC`).
pub fn go_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S %z UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_docker() {
        for (bytes, want) in [
            (0, "0B"),
            (1, "1B"),
            (512, "512B"),
            (999, "999B"),
            (1000, "1kB"),
            (1024, "1.02kB"),
            (7_330_000, "7.33MB"),
            (7_334_999, "7.33MB"),
            (77_800_000, "77.8MB"),
            (1_200_000_000, "1.2GB"),
            (123_456_789, "123MB"),
            (999_600, "1e+03kB"),
            (5_000_000_000_000, "5TB"),
        ] {
            assert_eq!(human_size(bytes), want, "{bytes}");
        }
        for (bytes, want) in [
            (7_334_999, "7.335MB"),
            (999_960, "1000kB"),
            (999_999, "1000kB"),
            (9_999_999, "10MB"),
        ] {
            assert_eq!(human_size_precision(bytes, 4), want, "{bytes}");
        }
    }

    #[test]
    fn binary_sizes_read_like_docker() {
        for (bytes, want) in [
            (0, "0B"),
            (1023, "1023B"),
            (1024, "1KiB"),
            (1536, "1.5KiB"),
            (1_048_576 * 64, "64MiB"),
            (8_200_000_000, "7.637GiB"),
            (123_456_789, "117.7MiB"),
        ] {
            assert_eq!(bytes_size(bytes), want, "{bytes}");
        }
    }

    #[test]
    fn durations_read_like_docker() {
        const H: i64 = 3600;
        const D: i64 = 24 * H;
        for (secs, want) in [
            (-5, "Less than a second"),
            (0, "Less than a second"),
            (1, "1 second"),
            (59, "59 seconds"),
            (60, "About a minute"),
            (119, "About a minute"),
            (120, "2 minutes"),
            (59 * 60 + 59, "59 minutes"),
            (H, "About an hour"),
            (H + 29 * 60, "About an hour"),
            (H + 31 * 60, "2 hours"),
            (47 * H, "47 hours"),
            (48 * H, "2 days"),
            (13 * D, "13 days"),
            (14 * D, "2 weeks"),
            (59 * D, "8 weeks"),
            (60 * D, "2 months"),
            (729 * D, "24 months"),
            (730 * D, "2 years"),
            (3650 * D, "10 years"),
        ] {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn created_since_adds_ago() {
        let now = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let then = DateTime::from_timestamp(1_700_000_000 - 7200, 0).unwrap();
        assert_eq!(created_since(Some(then), now), "2 hours ago");
        assert_eq!(created_since(None, now), "N/A");
        assert_eq!(go_time(then), "2023-11-14 20:13:20 +0000 UTC");
    }
}
