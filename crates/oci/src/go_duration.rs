//! Go's `time.Duration` as Docker reads and prints it: the image config's healthcheck
//! intervals, `HEALTHCHECK` and `--health-*` flags, `--since`/`--until`, prune filters, and
//! the messages that show a duration. One reading and one printing for every crate, so a
//! value Docker takes is taken the same way everywhere.

use std::time::Duration;

/// Why a text is not a Go duration, in Go's words (`time: invalid duration "x"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DurationError(String);

/// Nanoseconds per unit, as Go's `unitMap`.
fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Go's `time.ParseDuration`: `300ms`, `-1.5h`, `2h45m`, `0`; signed nanoseconds, at most
/// Go's `int64` range. Units are `ns`, `us` (or `µs`), `ms`, `s`, `m` and `h`.
pub fn parse(text: &str) -> Result<i64, DurationError> {
    let invalid = || DurationError(format!("time: invalid duration {}", quote(text)));
    let mut s = text;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        (neg, s) = (true, rest);
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    const LIMIT: u64 = 1 << 63;
    let mut total: u64 = 0;
    while !s.is_empty() {
        if !s.starts_with(|c: char| c == '.' || c.is_ascii_digit()) {
            return Err(invalid());
        }
        let int_len = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let mut whole: u64 = 0;
        for b in s[..int_len].bytes() {
            whole = whole
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(b - b'0')))
                .filter(|&v| v <= LIMIT)
                .ok_or_else(invalid)?;
        }
        s = &s[int_len..];
        // The fraction's digits past what fits are read and dropped, as Go does.
        let (mut frac, mut scale, mut frac_len) = (0u64, 1f64, 0);
        if let Some(rest) = s.strip_prefix('.') {
            frac_len = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let mut overflow = false;
            for b in rest[..frac_len].bytes() {
                if overflow {
                    continue;
                }
                match frac
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(b - b'0')))
                {
                    Some(v) if v <= LIMIT => {
                        frac = v;
                        scale *= 10.0;
                    }
                    _ => overflow = true,
                }
            }
            s = &rest[frac_len..];
        }
        if int_len == 0 && frac_len == 0 {
            return Err(invalid());
        }
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(DurationError(format!(
                "time: missing unit in duration {}",
                quote(text)
            )));
        }
        let unit = &s[..unit_len];
        s = &s[unit_len..];
        let per = unit_nanos(unit).ok_or_else(|| {
            DurationError(format!(
                "time: unknown unit {} in duration {}",
                quote(unit),
                quote(text)
            ))
        })?;
        let mut v = whole
            .checked_mul(per)
            .filter(|&v| v <= LIMIT)
            .ok_or_else(invalid)?;
        if frac > 0 {
            // Go adds the fraction in floating point, truncating.
            v += (frac as f64 * (per as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total = total
            .checked_add(v)
            .filter(|&t| t <= LIMIT)
            .ok_or_else(invalid)?;
    }
    if neg {
        return Ok((total as i64).wrapping_neg());
    }
    i64::try_from(total).map_err(|_| invalid())
}

/// [`parse`] for a value that cannot be negative; a negative one is refused in Go's words
/// for an invalid duration.
pub fn parse_unsigned(text: &str) -> Result<Duration, DurationError> {
    let ns = parse(text)?;
    u64::try_from(ns)
        .map(Duration::from_nanos)
        .map_err(|_| DurationError(format!("time: invalid duration {}", quote(text))))
}

/// Go's `time.Duration.String`: `0s`, `1.5s`, `1m30s`, `1h0m0s`, `100ms`, `2µs`, `5ns`.
pub fn format(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    if ns < 1_000 {
        return format!("{ns}ns");
    }
    if ns < 1_000_000 {
        return format!("{}µs", fraction(ns, 1_000, 3));
    }
    if ns < 1_000_000_000 {
        return format!("{}ms", fraction(ns, 1_000_000, 6));
    }
    let secs = ns / 1_000_000_000;
    let (h, m) = (secs / 3600, secs / 60 % 60);
    let s = fraction(
        secs % 60 * 1_000_000_000 + ns % 1_000_000_000,
        1_000_000_000,
        9,
    );
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, m) => format!("{m}m{s}s"),
        (h, m) => format!("{h}h{m}m{s}s"),
    }
}

/// `v / unit` with its decimals, trailing zeros dropped.
fn fraction(v: u128, unit: u128, digits: usize) -> String {
    let (int, rem) = (v / unit, v % unit);
    if rem == 0 {
        return int.to_string();
    }
    let dec = format!("{rem:0digits$}");
    format!("{int}.{}", dec.trim_end_matches('0'))
}

/// The `time` package's own quoting for its messages (not `strconv.Quote`): `"` and `\`
/// escaped, every byte of a control or non-ASCII character as `\xNN`.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c.is_ascii() && !c.is_ascii_control() {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        } else {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases from Go's `time` package tests, plus the failures Docker users meet.
    #[test]
    fn parses_as_go_does() {
        #[rustfmt::skip]
        let table: &[(&str, Result<i64, &str>)] = &[
            ("0", Ok(0)),
            ("5s", Ok(5_000_000_000)),
            ("30s", Ok(30_000_000_000)),
            ("1478s", Ok(1_478_000_000_000)),
            ("-5s", Ok(-5_000_000_000)),
            ("+5s", Ok(5_000_000_000)),
            ("-0", Ok(0)),
            ("+0", Ok(0)),
            ("5.0s", Ok(5_000_000_000)),
            ("5.6s", Ok(5_600_000_000)),
            ("5.s", Ok(5_000_000_000)),
            (".5s", Ok(500_000_000)),
            ("1.004s", Ok(1_004_000_000)),
            ("1.0040s", Ok(1_004_000_000)),
            ("100.00100s", Ok(100_001_000_000)),
            ("10ns", Ok(10)),
            ("11us", Ok(11_000)),
            ("12µs", Ok(12_000)),
            ("12μs", Ok(12_000)),
            ("13ms", Ok(13_000_000)),
            ("14s", Ok(14_000_000_000)),
            ("15m", Ok(900_000_000_000)),
            ("16h", Ok(57_600_000_000_000)),
            ("3h30m", Ok(12_600_000_000_000)),
            ("10.5s4m", Ok(250_500_000_000)),
            ("-2m3.4s", Ok(-123_400_000_000)),
            ("1h2m3s4ms5us6ns", Ok(3_723_004_005_006)),
            ("39h9m14.425s", Ok(140_954_425_000_000)),
            ("52763797000ns", Ok(52_763_797_000)),
            ("0.3333333333333333333h", Ok(1_200_000_000_000)),
            ("9007199254740993ns", Ok(9_007_199_254_740_993)),
            ("9223372036854775807ns", Ok(i64::MAX)),
            ("-9223372036854775808ns", Ok(i64::MIN)),
            ("0.100000000000000000000h", Ok(360_000_000_000)),
            ("", Err(r#"time: invalid duration """#)),
            ("3", Err(r#"time: missing unit in duration "3""#)),
            ("-", Err(r#"time: invalid duration "-""#)),
            ("s", Err(r#"time: invalid duration "s""#)),
            (".", Err(r#"time: invalid duration ".""#)),
            ("-.", Err(r#"time: invalid duration "-.""#)),
            (".s", Err(r#"time: invalid duration ".s""#)),
            ("+.s", Err(r#"time: invalid duration "+.s""#)),
            ("1d", Err(r#"time: unknown unit "d" in duration "1d""#)),
            ("\"s", Err(r#"time: invalid duration "\"s""#)),
            ("1é", Err(r#"time: unknown unit "\xc3\xa9" in duration "1\xc3\xa9""#)),
            ("9223372036854775808ns", Err(r#"time: invalid duration "9223372036854775808ns""#)),
            ("9223372036854775.808us", Err(r#"time: invalid duration "9223372036854775.808us""#)),
            ("-9223372036854775809ns", Err(r#"time: invalid duration "-9223372036854775809ns""#)),
        ];
        for (text, want) in table {
            let got = parse(text).map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_string), "{text:?}");
        }
    }

    #[test]
    fn unsigned_refuses_negative_values() {
        assert_eq!(parse_unsigned("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_unsigned("-0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_unsigned("-1s").unwrap_err().to_string(),
            r#"time: invalid duration "-1s""#
        );
    }

    #[test]
    fn prints_as_go_does() {
        for (d, s) in [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(5), "5ns"),
            (Duration::from_micros(2), "2µs"),
            (Duration::from_nanos(1_500), "1.5µs"),
            (Duration::from_millis(100), "100ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(30), "30s"),
            (Duration::from_secs(90), "1m30s"),
            (Duration::from_secs(3600), "1h0m0s"),
            (Duration::from_millis(3_723_250), "1h2m3.25s"),
            (Duration::from_nanos(1_000_000_001), "1.000000001s"),
        ] {
            assert_eq!(format(d), s);
        }
    }

    #[test]
    fn printing_reads_back() {
        for ns in [1, 999, 1_500, 2_000_001, 61_000_000_000, 3_723_004_005_006] {
            let d = Duration::from_nanos(ns);
            assert_eq!(parse(&format(d)), Ok(ns as i64), "{ns}");
        }
    }
}
