//! The image history BuildKit writes (Dockerfile frontend): each instruction's
//! `created_by` text, formatted with Go's `fmt` verbs as BuildKit does, so that
//! `docker history` of a strata-built image reads as Docker's.
//!
//! Pure functions; the builder decides which instruction gets which text.

use std::time::Duration;

/// The `comment` of every history entry the Dockerfile frontend writes.
pub const COMMENT: &str = "buildkit.dockerfile.v0";

/// The suffix BuildKit gives the steps that run in its solver (RUN, COPY, ADD).
const SOLVED: &str = " # buildkit";

/// `RUN`: the stage's build args as `|N k=v ...` (when there are any), then the argv
/// joined with spaces.
pub fn run(build_args: &[(String, String)], argv: &[String]) -> String {
    let mut parts = Vec::new();
    if !build_args.is_empty() {
        parts.push(format!("|{}", build_args.len()));
        parts.extend(build_args.iter().map(|(k, v)| format!("{k}={v}")));
    }
    parts.extend(argv.iter().cloned());
    format!("RUN {}{SOLVED}", parts.join(" "))
}

/// `COPY`/`ADD`: the keyword, the expanded sources and the destination; flags are left
/// out, as BuildKit does.
pub fn copy(keyword: &str, sources: &[String], dest: &str) -> String {
    let mut s = keyword.to_string();
    for src in sources {
        s.push(' ');
        s.push_str(src);
    }
    format!("{s} {dest}{SOLVED}")
}

/// Go's `%q` of a `[]string`: `["a" "b"]` (CMD, ENTRYPOINT).
pub fn quoted(argv: &[String]) -> String {
    let items: Vec<String> = argv.iter().map(|a| go_quote(a)).collect();
    format!("[{}]", items.join(" "))
}

/// Go's `%v` of a `[]string`: `[a b]` (SHELL, VOLUME).
pub fn plain(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// Go's `%v` of the port set of one EXPOSE: `map[53/udp:{} 80/tcp:{}]`, keys sorted and
/// deduplicated as Go prints a map.
pub fn expose(ports: &[String]) -> String {
    let set: std::collections::BTreeSet<&String> = ports.iter().collect();
    let items: Vec<String> = set.iter().map(|p| format!("{p}:{{}}")).collect();
    format!("map[{}]", items.join(" "))
}

/// Go's `%q` of BuildKit's health config pointer:
/// `&{["CMD-SHELL" "true"] "5s" "0s" "0s" '\x00'}` (test, interval, timeout, start
/// period, retries as a quoted rune).
pub fn healthcheck(
    test: &[String],
    interval: Option<Duration>,
    timeout: Option<Duration>,
    start_period: Option<Duration>,
    retries: Option<u32>,
) -> String {
    let d = |d: Option<Duration>| go_quote(&oci::go_duration::format(d.unwrap_or_default()));
    format!(
        "&{{{} {} {} {} {}}}",
        quoted(test),
        d(interval),
        d(timeout),
        d(start_period),
        go_quote_rune(retries.unwrap_or(0))
    )
}

/// Go's `strconv.Quote` for the characters Dockerfiles carry.
fn go_quote(s: &str) -> String {
    let mut out = String::from('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => push_escaped(&mut out, c),
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.QuoteRune` of an int (how `%q` prints Retries).
fn go_quote_rune(n: u32) -> String {
    let mut out = String::from('\'');
    match char::from_u32(n) {
        Some('\'') => out.push_str("\\'"),
        Some('\\') => out.push_str("\\\\"),
        Some(c) => push_escaped(&mut out, c),
        None => out.push('\u{FFFD}'),
    }
    out.push('\'');
    out
}

/// One character as Go quotes it: its C escape, `\xNN` below space and for DEL, `\u`
/// for other control characters, itself otherwise.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\x07' => out.push_str("\\a"),
        '\x08' => out.push_str("\\b"),
        '\x0c' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\x0b' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\x7f' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    /// Every expectation is what Docker 20.10's BuildKit wrote in `docker history`.
    #[test]
    fn created_by_matches_buildkit() {
        let args = vec![
            ("b".to_string(), "envb".to_string()),
            ("a".to_string(), "1".to_string()),
            ("c".to_string(), String::new()),
        ];
        assert_eq!(
            run(&args, &v(&["/bin/sh", "-c", "echo x"])),
            "RUN |3 b=envb a=1 c= /bin/sh -c echo x # buildkit"
        );
        assert_eq!(
            run(&[], &v(&["/bin/sh", "-c", "echo run > /run.txt"])),
            "RUN /bin/sh -c echo run > /run.txt # buildkit"
        );
        assert_eq!(copy("COPY", &v(&["hi"]), "/hi"), "COPY hi /hi # buildkit");
        assert_eq!(
            copy("ADD", &v(&["a", "b"]), "/d/"),
            "ADD a b /d/ # buildkit"
        );
        assert_eq!(quoted(&v(&["cat", "/hi"])), r#"["cat" "/hi"]"#);
        assert_eq!(
            quoted(&v(&["/bin/sh", "-c", r#"echo "q" 'x'"#])),
            r#"["/bin/sh" "-c" "echo \"q\" 'x'"]"#
        );
        assert_eq!(plain(&v(&["/bin/sh", "-c"])), "[/bin/sh -c]");
        assert_eq!(
            expose(&v(&["90/tcp", "80/tcp", "80/tcp", "8000/tcp", "8001/tcp"])),
            "map[80/tcp:{} 8000/tcp:{} 8001/tcp:{} 90/tcp:{}]"
        );
        assert_eq!(
            healthcheck(
                &v(&["CMD", "echo", "a\tb"]),
                Some(Duration::from_secs(90)),
                Some(Duration::from_millis(1500)),
                None,
                Some(10)
            ),
            r#"&{["CMD" "echo" "a\tb"] "1m30s" "1.5s" "0s" '\n'}"#
        );
        assert_eq!(
            healthcheck(&v(&["NONE"]), None, None, None, None),
            r#"&{["NONE"] "0s" "0s" "0s" '\x00'}"#
        );
        assert_eq!(
            healthcheck(
                &v(&["CMD-SHELL", "echo hc"]),
                Some(Duration::from_secs(5)),
                None,
                None,
                None
            ),
            r#"&{["CMD-SHELL" "echo hc"] "5s" "0s" "0s" '\x00'}"#
        );
    }
}
