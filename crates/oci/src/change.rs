//! `--change` lines, as `docker commit --change` and `docker import --change` take them:
//! one Dockerfile instruction each, applied to a [`ContainerConfig`].
//!
//! Allowed instructions are those of [`CHANGE_INSTRUCTIONS`]. As in a Dockerfile, `CMD`,
//! `ENTRYPOINT` and `VOLUME` take the exec form (`["a","b"]`) or the shell form; the shell
//! form of `CMD`/`ENTRYPOINT` runs through the config's `Shell` (default `/bin/sh -c`).
//! `ENV`, `LABEL`, `EXPOSE`, `USER`, `VOLUME`, `WORKDIR` and `STOPSIGNAL` have quotes removed
//! and `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alt}` expanded from the config's
//! `Env`, as Docker does.
//!
//! ```
//! use oci::ContainerConfig;
//! use oci::change::apply_changes;
//! let mut c = ContainerConfig::default();
//! apply_changes(&mut c, &["ENV APP=/srv", "WORKDIR $APP", "CMD python app.py"]).unwrap();
//! assert_eq!(c.working_dir.as_deref(), Some("/srv"));
//! assert_eq!(c.cmd.unwrap(), ["/bin/sh", "-c", "python app.py"]);
//! ```

use serde_json::Map;

use crate::OciError;
use crate::config::ContainerConfig;

/// The instructions a `--change` line may use, as Docker allows them.
pub const CHANGE_INSTRUCTIONS: &[&str] = &[
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
];

/// Dockerfile instructions that exist but are not allowed as a change.
const OTHER_INSTRUCTIONS: &[&str] = &[
    "ADD",
    "ARG",
    "COPY",
    "FROM",
    "HEALTHCHECK",
    "MAINTAINER",
    "RUN",
    "SHELL",
];

const SIGNALS: &[&str] = &[
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM", "WINCH", "XCPU", "XFSZ", "RTMIN", "RTMAX",
];

/// Applies one `--change` line. On its own, an `ENTRYPOINT` clears `Cmd` (Docker does so
/// unless a `CMD` came earlier in the same set of changes); use [`apply_changes`] for
/// several lines.
pub fn apply_change(cfg: &mut ContainerConfig, line: &str) -> Result<(), OciError> {
    let mut cmd_set = false;
    apply(cfg, line, &mut cmd_set)
}

/// Applies `--change` lines in order, as Docker does for one `commit` or `import`. Nothing
/// is changed when any line is invalid.
pub fn apply_changes<S: AsRef<str>>(
    cfg: &mut ContainerConfig,
    lines: &[S],
) -> Result<(), OciError> {
    let mut work = cfg.clone();
    let mut cmd_set = false;
    for line in lines {
        apply(&mut work, line.as_ref(), &mut cmd_set)?;
    }
    *cfg = work;
    Ok(())
}

fn apply(cfg: &mut ContainerConfig, line: &str, cmd_set: &mut bool) -> Result<(), OciError> {
    let err = |reason: String| OciError::InvalidChange {
        line: line.to_string(),
        reason,
    };
    let joined = line.replace("\\\r\n", "").replace("\\\n", "");
    let text = joined.trim();
    if text.is_empty() || text.starts_with('#') {
        return Ok(());
    }
    let (keyword, rest) = match text.split_once(char::is_whitespace) {
        Some((k, r)) => (k, r.trim()),
        None => (text, ""),
    };
    let keyword = keyword.to_ascii_uppercase();
    let needs_args = || {
        if rest.is_empty() {
            Err(err(format!("{keyword} requires at least one argument")))
        } else {
            Ok(())
        }
    };
    match keyword.as_str() {
        "CMD" | "ENTRYPOINT" => {
            let argv = match exec_form(rest) {
                Some(argv) => argv,
                None => {
                    needs_args()?;
                    let mut argv = cfg
                        .shell
                        .clone()
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()]);
                    argv.push(rest.to_string());
                    argv
                }
            };
            // Docker resets ArgsEscaped (a Windows-only flag) whenever CMD or ENTRYPOINT
            // changes on Linux.
            cfg.args_escaped = None;
            if keyword == "CMD" {
                cfg.cmd = Some(argv);
                *cmd_set = true;
            } else {
                cfg.entrypoint = Some(argv);
                if !*cmd_set {
                    cfg.cmd = None;
                }
            }
        }
        "ENV" | "LABEL" => {
            needs_args()?;
            let pairs = name_values(&keyword, rest).map_err(err)?;
            let env = cfg.env.clone();
            for (k, v) in pairs {
                let k = expand(&k, &env).map_err(err)?;
                let v = expand(&v, &env).map_err(err)?;
                if k.is_empty() {
                    return Err(err(format!("{keyword} names cannot be empty")));
                }
                if keyword == "ENV" {
                    cfg.env_set(&k, &v);
                } else {
                    cfg.labels.insert(k, v);
                }
            }
        }
        "EXPOSE" => {
            needs_args()?;
            for word in words(rest) {
                let spec = expand(&word, &cfg.env).map_err(err)?;
                for port in port_spec(&spec).map_err(err)? {
                    cfg.exposed_ports.insert(port, Map::new());
                }
            }
        }
        "ONBUILD" => {
            needs_args()?;
            let inner = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            match inner.as_str() {
                "ONBUILD" => {
                    return Err(err(
                        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into()
                    ));
                }
                "FROM" | "MAINTAINER" => {
                    return Err(err(format!("{inner} isn't allowed as an ONBUILD trigger")));
                }
                i if CHANGE_INSTRUCTIONS.contains(&i) || OTHER_INSTRUCTIONS.contains(&i) => {}
                _ => return Err(err(format!("unknown instruction {inner:?} in ONBUILD"))),
            }
            cfg.on_build.push(rest.to_string());
        }
        "STOPSIGNAL" => {
            let w = single_word(&keyword, rest, &cfg.env).map_err(err)?;
            if !is_signal(&w) {
                return Err(err(format!(
                    "invalid signal {w:?} (use a name such as SIGTERM or a number)"
                )));
            }
            cfg.stop_signal = Some(w);
        }
        "USER" => {
            let w = single_word(&keyword, rest, &cfg.env).map_err(err)?;
            cfg.user = Some(w);
        }
        "VOLUME" => {
            needs_args()?;
            let raw = exec_form(rest).unwrap_or_else(|| words(rest));
            if raw.is_empty() {
                return Err(err("VOLUME requires at least one argument".into()));
            }
            for w in raw {
                let path = expand(&w, &cfg.env).map_err(err)?;
                if path.trim().is_empty() {
                    return Err(err("VOLUME specified can not be an empty string".into()));
                }
                cfg.volumes.insert(path, Map::new());
            }
        }
        "WORKDIR" => {
            needs_args()?;
            let dir = expand(rest, &cfg.env).map_err(err)?;
            if dir.is_empty() {
                return Err(err("WORKDIR cannot be empty".into()));
            }
            let joined = if dir.starts_with('/') {
                dir
            } else {
                format!("{}/{dir}", cfg.working_dir.as_deref().unwrap_or("/"))
            };
            cfg.working_dir = Some(clean_path(&joined));
        }
        other => {
            let allowed = CHANGE_INSTRUCTIONS.join(", ");
            let reason = if OTHER_INSTRUCTIONS.contains(&other) {
                format!("{other} is not a valid change command (allowed: {allowed})")
            } else {
                format!("unknown instruction {other:?} (allowed: {allowed})")
            };
            return Err(err(reason));
        }
    }
    Ok(())
}

/// The exec (JSON array of strings) form, if `rest` is one.
fn exec_form(rest: &str) -> Option<Vec<String>> {
    if !rest.starts_with('[') || !rest.ends_with(']') {
        return None;
    }
    serde_json::from_str(rest).ok()
}

fn single_word(keyword: &str, rest: &str, env: &[String]) -> Result<String, String> {
    let w = words(rest);
    if w.len() != 1 {
        return Err(format!("{keyword} requires exactly one argument"));
    }
    expand(&w[0], env)
}

/// BuildKit's `parseWords`: splits on white space outside quotes, keeping quotes and
/// escapes for [`expand`] to remove.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in s.chars() {
        if escaped {
            word.push(c);
            escaped = false;
            continue;
        }
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                }
                word.push(c);
            }
            None if c.is_whitespace() => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                } else if c == '\\' {
                    escaped = true;
                }
                word.push(c);
            }
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// `ENV`/`LABEL` arguments: `k=v k2="v 2"`, or the legacy `k value with spaces`.
fn name_values(keyword: &str, rest: &str) -> Result<Vec<(String, String)>, String> {
    let ws = words(rest);
    if !ws[0].contains('=') {
        let Some((k, v)) = rest.split_once(char::is_whitespace) else {
            return Err(format!("{keyword} must have two arguments"));
        };
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    ws.into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None => Err(format!(
                "Syntax error - can't find = in {w:?}. Must be of the form: name=value"
            )),
        })
        .collect()
}

fn env_lookup<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter().rev().find_map(|e| match e.split_once('=') {
        Some((k, v)) if k == name => Some(v),
        _ => None,
    })
}

/// Removes quotes and escapes and expands variables from `env`, as the Dockerfile shell
/// lexer does for one word.
fn expand(word: &str, env: &[String]) -> Result<String, String> {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                if let Some(c) = chars.get(i + 1) {
                    out.push(*c);
                }
                i += 2;
            }
            '\'' => {
                i += 1;
                while i < chars.len() && chars[i] != '\'' {
                    out.push(chars[i]);
                    i += 1;
                }
                if i == chars.len() {
                    return Err(format!(
                        "unexpected end of statement while looking for matching ' in {word:?}"
                    ));
                }
                i += 1;
            }
            '"' => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(format!(
                                "unexpected end of statement while looking for matching \" in {word:?}"
                            ));
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some('\\') if matches!(chars.get(i + 1), Some('"' | '\\' | '$')) => {
                            out.push(chars[i + 1]);
                            i += 2;
                        }
                        Some('$') => i = variable(&chars, i, env, &mut out)?,
                        Some(c) => {
                            out.push(*c);
                            i += 1;
                        }
                    }
                }
            }
            '$' => i = variable(&chars, i, env, &mut out)?,
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Expands the variable at `chars[i] == '$'`; returns the index after it.
fn variable(chars: &[char], i: usize, env: &[String], out: &mut String) -> Result<usize, String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut j = i + 1;
    if chars.get(j) == Some(&'{') {
        j += 1;
        let start = j;
        while j < chars.len() && is_name(chars[j]) {
            j += 1;
        }
        let name: String = chars[start..j].iter().collect();
        if name.is_empty() {
            return Err("bad substitution: missing variable name after ${".into());
        }
        let value = env_lookup(env, &name);
        match chars.get(j) {
            Some('}') => {
                out.push_str(value.unwrap_or(""));
                Ok(j + 1)
            }
            Some(':') if matches!(chars.get(j + 1), Some('-' | '+')) => {
                let op = chars[j + 1];
                let start = j + 2;
                let Some(len) = chars[start..].iter().position(|c| *c == '}') else {
                    return Err(format!("missing '}}' after ${{{name}"));
                };
                let word: String = chars[start..start + len].iter().collect();
                let set = value.is_some_and(|v| !v.is_empty());
                match (op, set) {
                    ('-', true) => out.push_str(value.unwrap_or("")),
                    ('-', false) | ('+', true) => out.push_str(&expand(&word, env)?),
                    _ => {}
                }
                Ok(start + len + 1)
            }
            _ => Err(format!("unsupported modifier in ${{{name}...}}")),
        }
    } else {
        let start = j;
        while j < chars.len() && is_name(chars[j]) {
            j += 1;
        }
        if start == j {
            out.push('$');
            return Ok(j);
        }
        let name: String = chars[start..j].iter().collect();
        out.push_str(env_lookup(env, &name).unwrap_or(""));
        Ok(j)
    }
}

/// `80`, `80/tcp`, `53/udp`, `8000-8002/tcp` → `["80/tcp"]`, … (ranges expanded).
fn port_spec(spec: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = match spec.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!(
            "invalid proto {proto:?} in {spec:?} (tcp, udp or sctp)"
        ));
    }
    if ports.contains(':') {
        return Err(format!(
            "invalid port {spec:?}: EXPOSE takes container ports only, not ip:host:container"
        ));
    }
    let num = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| format!("invalid port {s:?} in {spec:?} (0-65535)"))
    };
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let p = num(ports)?;
            (p, p)
        }
    };
    if hi < lo {
        return Err(format!("invalid port range {ports:?} in {spec:?}"));
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

/// Whether Docker accepts `s` as a stop signal (moby's `signal.ParseSignal`, used by both
/// `STOPSIGNAL` in a Dockerfile and `--change`): any non-zero integer that fits in 64 bits,
/// since Docker does not bound numbers, or a name from Linux's table with or without `SIG`,
/// in any case, `RTMIN+1`..`RTMIN+15` and `RTMAX-14`..`RTMAX-1` included.
pub fn is_signal(s: &str) -> bool {
    if let Ok(n) = s.parse::<i64>() {
        return n != 0;
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNALS.contains(&name) {
        return true;
    }
    // Only the offsets Go's table lists: a leading zero or sign is not a table entry.
    let offset = |rest: &str, max: u32| {
        !rest.starts_with(['0', '+', '-'])
            && rest.parse::<u32>().is_ok_and(|n| (1..=max).contains(&n))
    };
    if let Some(r) = name.strip_prefix("RTMIN+") {
        return offset(r, 15);
    }
    if let Some(r) = name.strip_prefix("RTMAX-") {
        return offset(r, 14);
    }
    false
}

/// A lexical `path.Clean` for an absolute path.
fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(lines: &[&str]) -> ContainerConfig {
        let mut c = ContainerConfig::default();
        apply_changes(&mut c, lines).unwrap_or_else(|e| panic!("{lines:?}: {e}"));
        c
    }

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn cmd_and_entrypoint() {
        for (lines, entrypoint, cmd) in [
            (&["CMD [\"a\",\"b c\"]"][..], None, Some(v(&["a", "b c"]))),
            (
                &["CMD echo hi"][..],
                None,
                Some(v(&["/bin/sh", "-c", "echo hi"])),
            ),
            (&["cmd []"][..], None, Some(vec![])),
            (
                &["CMD [not json"][..],
                None,
                Some(v(&["/bin/sh", "-c", "[not json"])),
            ),
            (&["ENTRYPOINT [\"/e\"]"][..], Some(v(&["/e"])), None),
            (
                &["CMD [\"x\"]", "ENTRYPOINT /e $HOME"][..],
                Some(v(&["/bin/sh", "-c", "/e $HOME"])),
                Some(v(&["x"])),
            ),
            (
                &["ENTRYPOINT [\"/e\"]", "CMD [\"x\"]"][..],
                Some(v(&["/e"])),
                Some(v(&["x"])),
            ),
        ] {
            let mut c = ContainerConfig {
                cmd: Some(v(&["old"])),
                ..ContainerConfig::default()
            };
            apply_changes(&mut c, lines).unwrap();
            assert_eq!(c.entrypoint, entrypoint, "{lines:?}");
            assert_eq!(c.cmd, cmd, "{lines:?}");
        }
        let mut c = ContainerConfig {
            shell: Some(v(&["/bin/bash", "-lc"])),
            ..ContainerConfig::default()
        };
        apply_change(&mut c, "CMD make").unwrap();
        assert_eq!(c.cmd, Some(v(&["/bin/bash", "-lc", "make"])));
    }

    #[test]
    fn env_and_label() {
        let c = cfg(&[
            "ENV A=1 B=\"two words\" C=x\\ y",
            "ENV LEGACY value with spaces",
            "ENV D=$A-${B} E=${NOPE:-dflt} F=${A:+set} G='$A'",
            "ENV A=3",
            "LABEL version=\"1.0\" \"com.example.k\"=v maintainer='Ann <a@b>'",
            "LABEL old style label",
        ]);
        assert_eq!(
            c.env,
            v(&[
                "A=3",
                "B=two words",
                "C=x y",
                "LEGACY=value with spaces",
                "D=1-two words",
                "E=dflt",
                "F=set",
                "G=$A",
            ])
        );
        assert_eq!(c.labels["version"], "1.0");
        assert_eq!(c.labels["com.example.k"], "v");
        assert_eq!(c.labels["maintainer"], "Ann <a@b>");
        assert_eq!(c.labels["old"], "style label");
    }

    #[test]
    fn expose_volume_user_workdir_signal_onbuild() {
        let c = cfg(&[
            "EXPOSE 80 443/udp 8000-8002/tcp",
            "VOLUME [\"/a\", \"/b c\"]",
            "VOLUME /d /e",
            "USER app:app",
            "WORKDIR /srv",
            "WORKDIR app/../web",
            "WORKDIR ./x",
            "STOPSIGNAL SIGQUIT",
            "ONBUILD RUN make",
        ]);
        assert_eq!(
            c.exposed_ports.keys().collect::<Vec<_>>(),
            ["443/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert_eq!(
            c.volumes.keys().collect::<Vec<_>>(),
            ["/a", "/b c", "/d", "/e"]
        );
        assert_eq!(c.user.as_deref(), Some("app:app"));
        assert_eq!(c.working_dir.as_deref(), Some("/srv/web/x"));
        assert_eq!(c.stop_signal.as_deref(), Some("SIGQUIT"));
        assert_eq!(c.on_build, ["RUN make"]);
        assert_eq!(cfg(&["WORKDIR rel"]).working_dir.as_deref(), Some("/rel"));
        assert_eq!(cfg(&["STOPSIGNAL 9"]).stop_signal.as_deref(), Some("9"));
        assert_eq!(cfg(&["  ", "# comment"]), ContainerConfig::default());
    }

    #[test]
    fn refuses_bad_changes() {
        for (line, needle) in [
            (
                "RUN make",
                "RUN is not a valid change command (allowed: CMD, ENTRYPOINT",
            ),
            (
                "FOO bar",
                "unknown instruction \"FOO\" (allowed: CMD, ENTRYPOINT, ENV",
            ),
            ("FROM x", "not a valid change command"),
            ("ENV", "requires at least one argument"),
            ("ENV onlykey", "must have two arguments"),
            ("ENV a=1 b", "can't find = in \"b\""),
            ("ENV a=\"unterminated", "matching \""),
            ("EXPOSE 80/xyz", "invalid proto"),
            ("EXPOSE 70000", "invalid port"),
            ("EXPOSE 0.0.0.0:80:80", "container ports only"),
            ("EXPOSE 90-80", "invalid port range"),
            ("USER a b", "exactly one argument"),
            ("STOPSIGNAL SIGNOPE", "invalid signal"),
            ("ONBUILD ONBUILD RUN x", "isn't allowed"),
            ("ONBUILD FROM x", "isn't allowed as an ONBUILD trigger"),
            ("VOLUME [\"\"]", "empty string"),
            ("CMD", "requires at least one argument"),
        ] {
            let mut c = ContainerConfig::default();
            let e = apply_change(&mut c, line).unwrap_err().to_string();
            assert!(e.contains(needle), "{line}: {e}");
            assert!(
                e.contains(&format!("{line:?}")),
                "{line}: error names the line: {e}"
            );
        }
        // A bad line leaves the config untouched.
        let mut c = ContainerConfig::default();
        assert!(apply_changes(&mut c, &["ENV A=1", "RUN x"]).is_err());
        assert!(c.env.is_empty());
    }

    #[test]
    fn is_signal_matches_docker_parse_signal() {
        // Judged by `STOPSIGNAL x` under Docker 20.10's BuildKit.
        for ok in [
            "SIGTERM",
            "sigkill",
            "TERM",
            "9",
            "100",
            "1000",
            "-3",
            "+5",
            "rtmin+3",
            "SIGRTMAX-2",
            "RTMIN+15",
            "RTMAX-14",
            "RTMIN",
            "SIGRTMAX",
        ] {
            assert!(is_signal(ok), "{ok} is accepted by Docker");
        }
        for bad in [
            "BOGUS",
            "0",
            "-0",
            "",
            "RTMIN+20",
            "RTMAX-15",
            "RTMIN+0",
            "RTMIN+03",
            "SIGSIGTERM",
            "99999999999999999999",
        ] {
            assert!(!is_signal(bad), "{bad} is refused by Docker");
        }
    }
}
