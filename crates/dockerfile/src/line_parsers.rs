//! Per-instruction argument parsers: they turn the text after the keyword into the
//! argument chain of a [`Node`], as BuildKit's `line_parsers.go` dispatch table does.

use crate::ast::Node;

/// Why an argument list could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// `ENV`/`LABEL` in the legacy form without a value.
    #[error("{0} must have two arguments")]
    MissingValue(String),
    /// A `k=v` list with a word lacking `=`.
    #[error("Syntax error - can't find = in {0}. Must be of the form: name=value")]
    MissingEquals(String),
    /// A JSON array holding something other than strings.
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    NotStringArray,
}

/// Why [`parse_json_array`] rejected its input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonArrayError {
    /// The text does not start with `[`.
    #[error("not a JSON array")]
    NotArray,
    /// The text is not valid JSON.
    #[error("invalid JSON: {0}")]
    Syntax(String),
    /// An element is not a string.
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    NotStrings,
}

fn leaf(value: &str) -> Node {
    Node {
        value: value.to_string(),
        ..Node::default()
    }
}

/// Whitespace for `reWhitespace` (`[\t\v\f\r ]+`).
pub(crate) fn is_re_ws(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// Splits on runs of `[\t\v\f\r ]`, at most `n` parts (`None` = unlimited), like Go's
/// `regexp.Split`.
pub(crate) fn split_ws(s: &str, n: Option<usize>) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = s;
    loop {
        if n.is_some_and(|n| parts.len() + 1 >= n) {
            break;
        }
        let Some(start) = rest.find(is_re_ws) else {
            break;
        };
        let end = rest[start..]
            .find(|c| !is_re_ws(c))
            .map_or(rest.len(), |e| start + e);
        parts.push(rest[..start].to_string());
        rest = &rest[end..];
    }
    parts.push(rest.to_string());
    parts
}

/// Splits `rest` into words on unquoted whitespace, keeping quotes and escapes
/// (BuildKit `parseWords`).
pub fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut buf = String::new();
    let mut pos = 0;
    while pos <= chars.len() {
        let at_end = pos == chars.len();
        let mut ch = if at_end { '\0' } else { chars[pos] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if at_end {
            if blank_ok || !buf.is_empty() {
                words.push(std::mem::take(&mut buf));
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if blank_ok || !buf.is_empty() {
                    words.push(std::mem::take(&mut buf));
                }
                buf.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                if pos + 1 == chars.len() {
                    pos += 1;
                    continue;
                }
                buf.push(ch);
                pos += 1;
                ch = chars[pos];
            }
            buf.push(ch);
            pos += 1;
            continue;
        }
        // Phase::Quote
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            if pos + 1 == chars.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            buf.push(ch);
            ch = chars[pos];
        }
        buf.push(ch);
        pos += 1;
    }
    words
}

/// Parses an exec-form JSON array of strings (BuildKit `parseJSON`).
pub fn parse_json_array(rest: &str) -> Result<Vec<String>, JsonArrayError> {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Err(JsonArrayError::NotArray);
    }
    let values: Vec<serde_json::Value> =
        serde_json::from_str(rest).map_err(|e| JsonArrayError::Syntax(e.to_string()))?;
    values
        .into_iter()
        .map(|v| match v {
            serde_json::Value::String(s) => Ok(s),
            _ => Err(JsonArrayError::NotStrings),
        })
        .collect()
}

/// The parsed arguments of one instruction.
pub(crate) struct Parsed {
    pub next: Vec<Node>,
    pub json: bool,
}

fn plain(next: Vec<Node>) -> Result<Parsed, ArgsError> {
    Ok(Parsed { next, json: false })
}

/// Dispatches on the lower-cased keyword. Unknown keywords get one empty argument, as
/// BuildKit's `parseIgnore` does; they are rejected later by `instructions`.
pub(crate) fn parse_args(cmd: &str, rest: &str, escape: char) -> Result<Parsed, ArgsError> {
    match cmd {
        "add" | "copy" | "volume" => maybe_json_to_list(rest),
        "arg" => plain(parse_words(rest, escape).iter().map(|w| leaf(w)).collect()),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(rest),
        "env" => plain(name_val(rest, "ENV", escape)?),
        "label" => plain(name_val(rest, "LABEL", escape)?),
        "expose" | "from" => plain(whitespace_list(rest)),
        "healthcheck" => health(rest),
        "maintainer" | "stopsignal" | "user" | "workdir" => plain(if rest.is_empty() {
            vec![]
        } else {
            vec![leaf(rest)]
        }),
        _ => plain(vec![leaf("")]),
    }
}

fn whitespace_list(rest: &str) -> Vec<Node> {
    if rest.is_empty() {
        return vec![];
    }
    split_ws(rest, None).iter().map(|w| leaf(w)).collect()
}

fn maybe_json(rest: &str) -> Result<Parsed, ArgsError> {
    if rest.is_empty() {
        return plain(vec![]);
    }
    match parse_json_array(rest) {
        Ok(words) => Ok(Parsed {
            next: words.iter().map(|w| leaf(w)).collect(),
            json: true,
        }),
        Err(JsonArrayError::NotStrings) => Err(ArgsError::NotStringArray),
        Err(_) => plain(vec![leaf(rest)]),
    }
}

fn maybe_json_to_list(rest: &str) -> Result<Parsed, ArgsError> {
    match parse_json_array(rest) {
        Ok(words) => Ok(Parsed {
            next: words.iter().map(|w| leaf(w)).collect(),
            json: true,
        }),
        Err(JsonArrayError::NotStrings) => Err(ArgsError::NotStringArray),
        Err(_) => plain(whitespace_list(rest)),
    }
}

fn name_val(rest: &str, key: &str, escape: char) -> Result<Vec<Node>, ArgsError> {
    let words = parse_words(rest, escape);
    if words.is_empty() {
        return Ok(vec![]);
    }
    if !words[0].contains('=') {
        let parts = split_ws(rest, Some(2));
        if parts.len() < 2 {
            return Err(ArgsError::MissingValue(key.to_string()));
        }
        return Ok(vec![leaf(&parts[0]), leaf(&parts[1]), leaf("")]);
    }
    let mut out = Vec::new();
    for w in &words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(ArgsError::MissingEquals(crate::quote::go_quote(w)));
        };
        out.extend([leaf(k), leaf(v), leaf("=")]);
    }
    Ok(out)
}

fn health(rest: &str) -> Result<Parsed, ArgsError> {
    let b = rest.as_bytes();
    let sep = b
        .iter()
        .position(u8::is_ascii_whitespace)
        .unwrap_or(b.len());
    let sep = sep.min(b.iter().position(|c| *c == 0x0b).unwrap_or(b.len()));
    if sep == 0 {
        return plain(vec![]);
    }
    let next = b[sep..]
        .iter()
        .position(|c| !(c.is_ascii_whitespace() || *c == 0x0b))
        .map_or(b.len(), |p| sep + p);
    let typ = &rest[..sep];
    let cmd = maybe_json(&rest[next..])?;
    let mut nodes = vec![leaf(typ)];
    nodes.extend(cmd.next);
    Ok(Parsed {
        next: nodes,
        json: cmd.json,
    })
}
