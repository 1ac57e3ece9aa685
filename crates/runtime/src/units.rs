//! Docker's `go-units` readings of sizes, shared by the CLI's flags and the daemon-side
//! options the runtime checks.

/// Docker's `units.RAMInBytes`: `512`, `64k`, `64m`, `1g`, `1.5g` (binary multiples up to
/// `p`), with an optional `b`; `None` for anything else or a negative size. The CLI's
/// size flags and the log driver's `max-size` read sizes with it.
pub fn ram_in_bytes(s: &str) -> Option<i64> {
    let lower = s.trim().to_ascii_lowercase();
    let t = lower.strip_suffix('b').unwrap_or(&lower);
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let mult: i64 = match c {
                'k' => 1 << 10,
                'm' => 1 << 20,
                'g' => 1 << 30,
                't' => 1 << 40,
                'p' => 1 << 50,
                _ => return None,
            };
            (&t[..i], mult)
        }
        _ => (t, 1),
    };
    let n: f64 = num.parse().ok()?;
    if n.is_nan() || n < 0.0 || n.is_infinite() {
        return None;
    }
    Some((n * mult as f64) as i64)
}
