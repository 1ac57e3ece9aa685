//! The functions a template can call: Go's builtins (`and`, `or` are evaluated lazily by
//! the executor) and Docker's additions (`json`, `split`, `join`, `title`, `lower`,
//! `upper`, `pad`, `truncate`).

use std::cmp::Ordering;

use serde_json::Value;

use super::TemplateError;
use super::print::{self, sprint_v, type_name};

/// Every function name, for the parser.
pub const NAMES: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "eq", "ne", "lt", "le", "gt", "ge", "print",
    "printf", "println", "html", "urlquery", "json", "split", "join", "title", "lower", "upper",
    "pad", "truncate",
];

fn exec(msg: String) -> TemplateError {
    TemplateError::Exec(msg)
}

/// Calls `name` with evaluated `args` (a piped value last).
pub fn call(name: &str, args: Vec<Value>) -> Result<Value, TemplateError> {
    let want = |n: usize| -> Result<(), TemplateError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(exec(format!(
                "wrong number of args for {name}: want {n} got {}",
                args.len()
            )))
        }
    };
    let at_least = |n: usize| -> Result<(), TemplateError> {
        if args.len() >= n {
            Ok(())
        } else {
            Err(exec(format!(
                "wrong number of args for {name}: want at least {n} got {}",
                args.len()
            )))
        }
    };
    let s = sprint_v;
    let int = |v: &Value| -> Result<i64, TemplateError> {
        v.as_i64()
            .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(|| exec(format!("{name}: expected an integer; found {}", s(v))))
    };
    Ok(match name {
        "not" => {
            want(1)?;
            Value::Bool(!super::exec::truth(&args[0]))
        }
        "len" => {
            want(1)?;
            Value::from(match &args[0] {
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::String(t) => t.len(),
                other => return Err(exec(format!("len of type {}", type_name(other)))),
            })
        }
        "index" => {
            at_least(1)?;
            let mut v = args[0].clone();
            for k in &args[1..] {
                v = match (&v, k) {
                    (Value::Object(o), Value::String(key)) => {
                        o.get(key).cloned().unwrap_or(Value::Null)
                    }
                    (Value::Array(a), k) => {
                        let i = int(k)?;
                        usize::try_from(i)
                            .ok()
                            .and_then(|i| a.get(i))
                            .cloned()
                            .ok_or_else(|| {
                                exec(format!("error calling index: index out of range: {i}"))
                            })?
                    }
                    (Value::String(t), k) => {
                        let i = int(k)?;
                        let b = usize::try_from(i)
                            .ok()
                            .and_then(|i| t.as_bytes().get(i))
                            .ok_or_else(|| {
                                exec(format!("error calling index: index out of range: {i}"))
                            })?;
                        Value::from(*b)
                    }
                    (Value::Null, _) => {
                        return Err(exec("error calling index: index of untyped nil".into()));
                    }
                    (other, k) => {
                        return Err(exec(format!(
                            "error calling index: cannot index {} with {}",
                            type_name(other),
                            type_name(k)
                        )));
                    }
                };
            }
            v
        }
        "slice" => {
            at_least(1)?;
            if args.len() > 4 {
                return Err(exec("too many slice indexes".into()));
            }
            let idx = args[1..].iter().map(int).collect::<Result<Vec<_>, _>>()?;
            let len = match &args[0] {
                Value::Array(a) => a.len(),
                Value::String(t) => t.len(),
                other => {
                    return Err(exec(format!(
                        "can't slice item of type {}",
                        type_name(other)
                    )));
                }
            };
            let lo = idx.first().copied().unwrap_or(0);
            let hi = idx.get(1).copied().unwrap_or(len as i64);
            if lo < 0 || hi < lo || hi as usize > len {
                return Err(exec(format!(
                    "error calling slice: index out of range: {lo}:{hi}"
                )));
            }
            let (lo, hi) = (lo as usize, hi as usize);
            match &args[0] {
                Value::Array(a) => Value::Array(a[lo..hi].to_vec()),
                Value::String(t) => Value::String(
                    t.get(lo..hi)
                        .ok_or_else(|| exec("slice splits a character".into()))?
                        .to_string(),
                ),
                _ => unreachable!("checked above"),
            }
        }
        "eq" => {
            at_least(2)?;
            let mut any = false;
            for b in &args[1..] {
                any |= compare(&args[0], b)? == Some(Ordering::Equal);
            }
            Value::Bool(any)
        }
        "ne" => {
            want(2)?;
            Value::Bool(compare(&args[0], &args[1])? != Some(Ordering::Equal))
        }
        "lt" | "le" | "gt" | "ge" => {
            want(2)?;
            let o = compare(&args[0], &args[1])?
                .filter(|_| !args[0].is_boolean() && !args[0].is_null())
                .ok_or_else(|| {
                    exec(format!("error calling {name}: invalid type for comparison"))
                })?;
            Value::Bool(match name {
                "lt" => o == Ordering::Less,
                "le" => o != Ordering::Greater,
                "gt" => o == Ordering::Greater,
                _ => o != Ordering::Less,
            })
        }
        "print" => Value::String(print::sprint(&args)),
        "println" => Value::String(print::sprintln(&args)),
        "printf" => {
            at_least(1)?;
            let Value::String(f) = &args[0] else {
                return Err(exec("printf: the format must be a string".into()));
            };
            Value::String(print::sprintf(f, &args[1..]))
        }
        "html" => Value::String(
            print::sprint(&args)
                .replace('&', "&amp;")
                .replace('\'', "&#39;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&#34;")
                .replace('\0', "\u{fffd}"),
        ),
        "urlquery" => Value::String(
            print::sprint(&args)
                .bytes()
                .map(|b| match b {
                    b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    b' ' => "+".into(),
                    b => format!("%{b:02X}"),
                })
                .collect(),
        ),
        // Docker's: a JSON encoder without HTML escaping, no trailing newline.
        "json" => {
            want(1)?;
            Value::String(serde_json::to_string(&args[0]).unwrap_or_default())
        }
        "lower" => {
            want(1)?;
            Value::String(s(&args[0]).to_lowercase())
        }
        "upper" => {
            want(1)?;
            Value::String(s(&args[0]).to_uppercase())
        }
        "title" => {
            want(1)?;
            let text = s(&args[0]);
            let mut out = String::new();
            let mut start = true;
            for c in text.chars() {
                if start {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                // strings.Title: a letter after a non-letter starts a word.
                start = !(c.is_alphanumeric() || c == '_' || c == '\'');
            }
            Value::String(out)
        }
        "join" => {
            want(2)?;
            let items: Vec<String> = match &args[0] {
                Value::Array(a) => a.iter().map(s).collect(),
                Value::Null => Vec::new(),
                other => {
                    return Err(exec(format!(
                        "join: expected a list; found {}",
                        type_name(other)
                    )));
                }
            };
            Value::String(items.join(&s(&args[1])))
        }
        "split" => {
            want(2)?;
            let text = s(&args[0]);
            let sep = s(&args[1]);
            // strings.Split with an empty separator splits into characters.
            let parts: Vec<Value> = if sep.is_empty() {
                text.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                text.split(sep.as_str())
                    .map(|p| Value::String(p.into()))
                    .collect()
            };
            Value::Array(parts)
        }
        "truncate" => {
            want(2)?;
            let n = usize::try_from(int(&args[1])?).unwrap_or(0);
            Value::String(s(&args[0]).chars().take(n).collect())
        }
        "pad" => {
            want(3)?;
            let l = usize::try_from(int(&args[1])?).unwrap_or(0);
            let r = usize::try_from(int(&args[2])?).unwrap_or(0);
            Value::String(format!("{}{}{}", " ".repeat(l), s(&args[0]), " ".repeat(r)))
        }
        other => {
            return Err(TemplateError::Parse(format!(
                "function {other:?} not defined"
            )));
        }
    })
}

/// Go's comparison of basic values: numbers by value, strings, bools (equality only), nil
/// with nil; `None` when they differ but have no order. Collections are not comparable.
fn compare(a: &Value, b: &Value) -> Result<Option<Ordering>, TemplateError> {
    Ok(match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x
                .as_f64()
                .zip(y.as_f64())
                .and_then(|(x, y)| x.partial_cmp(&y)),
        },
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => (x == y).then_some(Ordering::Equal),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Array(_) | Value::Object(_), _) | (_, Value::Array(_) | Value::Object(_)) => {
            return Err(exec(format!(
                "error calling eq: non-comparable type {}",
                sprint_v(if a.is_array() || a.is_object() { a } else { b })
            )));
        }
        (Value::Null, _) | (_, Value::Null) => None,
        _ => {
            return Err(exec(
                "error calling eq: incompatible types for comparison".into(),
            ));
        }
    })
}

/// Go's `json.Marshal`: serde_json's output with HTML-significant characters escaped (they
/// only occur inside strings, so replacing them keeps the JSON valid). Docker's listing
/// rows marshal themselves this way, so `{{json .}}` of a row is escaped.
pub fn go_json(v: &Value) -> String {
    let text = serde_json::to_string(v).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}
