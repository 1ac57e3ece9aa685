//! A small subset of Go's text/template, enough for Docker's `--format`: `{{.Field}}`,
//! `{{.A.B}}`, `{{.}}`, `{{json .}}`, `{{json .Field}}`, pipes (`{{.X | lower}}`) and Docker's
//! helper functions (`json`, `join`, `lower`, `upper`, `title`, `truncate`, `split`, `index`,
//! `len`, `pad`). Rows are `serde_json::Value`s.
//!
//! Control actions (`range`, `if`, `with`) are not supported and are refused by name.

use std::fmt::Write as _;

use serde_json::Value;

/// A format string that failed to parse or execute.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template text is malformed.
    #[error("template parsing error: {0}")]
    Parse(String),
    /// The template refers to something the row does not have.
    #[error("template: {0}")]
    Exec(String),
}

/// How a missing map key is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// An error naming the field (Docker's table contexts are Go structs).
    Error,
    /// Prints `<no value>` (Docker's `inspect -f` runs on decoded JSON maps).
    NoValue,
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Field(Vec<String>),
    Str(String),
    Int(i64),
}

#[derive(Debug, Clone, PartialEq)]
struct Command {
    func: Option<String>,
    args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action(Vec<Command>),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
    missing: Missing,
}

const FUNCS: &[&str] = &[
    "json", "join", "lower", "upper", "title", "truncate", "split", "index", "len", "pad",
    "println", "print",
];

impl Template {
    /// Parses `text`; `\t` and `\n` written as two characters are turned into a tab and a
    /// newline first, as Docker does.
    pub fn parse(text: &str, missing: Missing) -> Result<Template, TemplateError> {
        let text = text.replace("\\t", "\t").replace("\\n", "\n");
        let mut nodes = Vec::new();
        let mut rest = text.as_str();
        let mut trim_next = false;
        while let Some(start) = rest.find("{{") {
            let mut lit = &rest[..start];
            if trim_next {
                lit = lit.trim_start();
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| TemplateError::Parse(format!("unclosed action in {text:?}")))?;
            let mut inner = &after[..end];
            if let Some(s) = inner.strip_prefix('-') {
                lit = lit.trim_end();
                inner = s;
            }
            trim_next = false;
            if let Some(s) = inner.strip_suffix('-') {
                trim_next = true;
                inner = s;
            }
            if !lit.is_empty() {
                nodes.push(Node::Text(lit.to_string()));
            }
            nodes.push(Node::Action(parse_pipeline(inner.trim())?));
            rest = &after[end + 2..];
        }
        let lit = if trim_next { rest.trim_start() } else { rest };
        if !lit.is_empty() {
            nodes.push(Node::Text(lit.to_string()));
        }
        Ok(Template { nodes, missing })
    }

    /// Runs the template on one row.
    pub fn execute(&self, row: &Value) -> Result<String, TemplateError> {
        let mut out = String::new();
        for node in &self.nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Action(cmds) => {
                    let v = self.eval_pipeline(cmds, row)?;
                    out.push_str(&go_print(&v));
                }
            }
        }
        Ok(out)
    }

    /// Every top-level field the template names (`.Repository` → `Repository`), in order.
    pub fn fields(&self) -> Vec<String> {
        let mut fields = Vec::new();
        for node in &self.nodes {
            if let Node::Action(cmds) = node {
                for cmd in cmds {
                    for arg in &cmd.args {
                        if let Arg::Field(path) = arg
                            && let Some(first) = path.first()
                            && !fields.contains(first)
                        {
                            fields.push(first.clone());
                        }
                    }
                }
            }
        }
        fields
    }

    fn eval_pipeline(&self, cmds: &[Command], row: &Value) -> Result<Value, TemplateError> {
        let mut piped: Option<Value> = None;
        for cmd in cmds {
            let mut args = cmd
                .args
                .iter()
                .map(|a| self.eval_arg(a, row))
                .collect::<Result<Vec<_>, _>>()?;
            args.extend(piped.take());
            piped = Some(match &cmd.func {
                None => {
                    if args.len() != 1 {
                        return Err(TemplateError::Exec(
                            "can't give argument to non-function".into(),
                        ));
                    }
                    args.remove(0)
                }
                Some(f) => call(f, args)?,
            });
        }
        Ok(piped.unwrap_or(Value::Null))
    }

    fn eval_arg(&self, arg: &Arg, row: &Value) -> Result<Value, TemplateError> {
        match arg {
            Arg::Str(s) => Ok(Value::String(s.clone())),
            Arg::Int(i) => Ok(Value::from(*i)),
            Arg::Field(path) => {
                let mut v = row;
                for (i, name) in path.iter().enumerate() {
                    match v {
                        Value::Object(map) => match map.get(name) {
                            Some(next) => v = next,
                            None if self.missing == Missing::NoValue => return Ok(Value::Null),
                            None => {
                                let mut msg = format!(
                                    "can't evaluate field {name} (the fields are: {})",
                                    map.keys().cloned().collect::<Vec<_>>().join(", ")
                                );
                                if i > 0 {
                                    msg = format!("at <.{}>: {msg}", path[..=i].join("."));
                                }
                                return Err(TemplateError::Exec(msg));
                            }
                        },
                        Value::Null if self.missing == Missing::NoValue => return Ok(Value::Null),
                        other => {
                            return Err(TemplateError::Exec(format!(
                                "can't evaluate field {name} in {}",
                                type_name(other)
                            )));
                        }
                    }
                }
                Ok(v.clone())
            }
        }
    }
}

fn parse_pipeline(src: &str) -> Result<Vec<Command>, TemplateError> {
    if src.is_empty() {
        return Err(TemplateError::Parse("missing value for command".into()));
    }
    let tokens = tokenize(src)?;
    let mut cmds = Vec::new();
    for part in tokens.split(|t| t == "|") {
        if part.is_empty() {
            return Err(TemplateError::Parse(format!("missing command in {src:?}")));
        }
        let (func, args) = match part[0].as_str() {
            t if t.starts_with('.') || t.starts_with('"') || t.parse::<i64>().is_ok() => {
                (None, part)
            }
            name => {
                if [
                    "range", "if", "with", "end", "else", "define", "template", "block",
                ]
                .contains(&name)
                {
                    return Err(TemplateError::Parse(format!(
                        "{name:?} actions are not supported by strata's --format"
                    )));
                }
                if !FUNCS.contains(&name) {
                    return Err(TemplateError::Parse(format!(
                        "function {name:?} not defined"
                    )));
                }
                (Some(name.to_string()), &part[1..])
            }
        };
        let args = args
            .iter()
            .map(|t| parse_arg(t))
            .collect::<Result<_, _>>()?;
        cmds.push(Command { func, args });
    }
    Ok(cmds)
}

fn tokenize(src: &str) -> Result<Vec<String>, TemplateError> {
    let mut tokens = Vec::new();
    let mut chars = src.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '|' {
            chars.next();
            tokens.push("|".to_string());
        } else if c == '"' {
            let mut tok = String::from('"');
            chars.next();
            let mut closed = false;
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some('n') => tok.push('\n'),
                        Some('t') => tok.push('\t'),
                        Some(other) => tok.push(other),
                        None => break,
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => tok.push(c),
                }
            }
            if !closed {
                return Err(TemplateError::Parse(format!(
                    "unterminated quoted string in {src:?}"
                )));
            }
            tokens.push(tok);
        } else {
            let mut tok = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || c == '|' || c == '"' {
                    break;
                }
                tok.push(c);
                chars.next();
            }
            tokens.push(tok);
        }
    }
    Ok(tokens)
}

fn parse_arg(tok: &str) -> Result<Arg, TemplateError> {
    if let Some(s) = tok.strip_prefix('"') {
        return Ok(Arg::Str(s.to_string()));
    }
    if tok == "." {
        return Ok(Arg::Field(Vec::new()));
    }
    if let Some(path) = tok.strip_prefix('.') {
        let parts: Vec<String> = path.split('.').map(str::to_string).collect();
        if parts
            .iter()
            .any(|p| p.is_empty() || !p.chars().all(|c| c.is_alphanumeric() || c == '_'))
        {
            return Err(TemplateError::Parse(format!("bad field name {tok:?}")));
        }
        return Ok(Arg::Field(parts));
    }
    if let Ok(i) = tok.parse() {
        return Ok(Arg::Int(i));
    }
    Err(TemplateError::Parse(format!(
        "unexpected {tok:?} (a function must come first in a command)"
    )))
}

fn call(func: &str, args: Vec<Value>) -> Result<Value, TemplateError> {
    let want = |n: usize| -> Result<(), TemplateError> {
        if args.len() == n {
            Ok(())
        } else {
            Err(TemplateError::Exec(format!(
                "wrong number of args for {func}: want {n} got {}",
                args.len()
            )))
        }
    };
    let s = |v: &Value| go_print(v);
    Ok(match func {
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
                start = !c.is_alphanumeric();
            }
            Value::String(out)
        }
        "join" => {
            want(2)?;
            let items: Vec<String> = match &args[0] {
                Value::Array(a) => a.iter().map(s).collect(),
                Value::Null => Vec::new(),
                other => vec![s(other)],
            };
            Value::String(items.join(&s(&args[1])))
        }
        "split" => {
            want(2)?;
            let sep = s(&args[1]);
            Value::Array(
                s(&args[0])
                    .split(sep.as_str())
                    .map(|p| Value::String(p.into()))
                    .collect(),
            )
        }
        "truncate" => {
            want(2)?;
            let n = args[1].as_u64().unwrap_or(0) as usize;
            Value::String(s(&args[0]).chars().take(n).collect())
        }
        "pad" => {
            want(3)?;
            let l = args[1].as_u64().unwrap_or(0) as usize;
            let r = args[2].as_u64().unwrap_or(0) as usize;
            Value::String(format!("{}{}{}", " ".repeat(l), s(&args[0]), " ".repeat(r)))
        }
        "len" => {
            want(1)?;
            Value::from(match &args[0] {
                Value::Array(a) => a.len(),
                Value::Object(o) => o.len(),
                Value::String(t) => t.len(),
                Value::Null => 0,
                other => {
                    return Err(TemplateError::Exec(format!("len of {}", type_name(other))));
                }
            })
        }
        "index" => {
            if args.len() != 2 {
                return Err(TemplateError::Exec(
                    "index takes a collection and a key".into(),
                ));
            }
            match (&args[0], &args[1]) {
                (Value::Object(o), k) => o.get(&s(k)).cloned().unwrap_or(Value::Null),
                (Value::Array(a), Value::Number(n)) => n
                    .as_u64()
                    .and_then(|i| a.get(i as usize))
                    .cloned()
                    .ok_or_else(|| TemplateError::Exec(format!("index {n} out of range")))?,
                (Value::Null, _) => Value::Null,
                (other, _) => {
                    return Err(TemplateError::Exec(format!(
                        "can't index item of type {}",
                        type_name(other)
                    )));
                }
            }
        }
        "print" => Value::String(args.iter().map(s).collect::<Vec<_>>().join(" ")),
        "println" => Value::String(args.iter().map(s).collect::<Vec<_>>().join(" ") + "\n"),
        other => {
            return Err(TemplateError::Parse(format!(
                "function {other:?} not defined"
            )));
        }
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nil",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

/// Prints a value the way Go's `{{.}}` does: strings bare, slices as `[a b]`, maps as
/// `map[k:v]` with sorted keys, nil as `<no value>`.
pub fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(go_print_inner).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            let mut out = String::from("map[");
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                let _ = write!(out, "{k}:{}", go_print_inner(&o[k]));
            }
            out.push(']');
            out
        }
    }
}

fn go_print_inner(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        other => go_print(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row() -> Value {
        json!({
            "Repository": "alpine",
            "Tag": "3.19",
            "ID": "0123456789ab",
            "Size": "7.33MB",
            "Labels": {"b": "2", "a": "1"},
            "Env": ["A=1", "B=2"],
            "Config": {"Cmd": ["sh"], "Entrypoint": null, "User": ""},
            "Count": 3
        })
    }

    #[test]
    fn executes_docker_formats() {
        for (format, want) in [
            ("{{.Repository}}:{{.Tag}}", "alpine:3.19"),
            ("{{.ID}}\\t{{.Size}}", "0123456789ab\t7.33MB"),
            ("{{.ID}}\\n", "0123456789ab\n"),
            ("{{ .Tag }}", "3.19"),
            ("{{json .Tag}}", "\"3.19\""),
            ("{{json .Env}}", "[\"A=1\",\"B=2\"]"),
            ("{{.Env}}", "[A=1 B=2]"),
            ("{{.Labels}}", "map[a:1 b:2]"),
            ("{{index .Labels \"b\"}}", "2"),
            ("{{.Config.Cmd}}", "[sh]"),
            ("{{json .Config.Entrypoint}}", "null"),
            ("{{.Repository | upper}}", "ALPINE"),
            ("{{upper .Repository}}", "ALPINE"),
            ("{{join .Env \",\"}}", "A=1,B=2"),
            ("{{truncate .ID 4}}", "0123"),
            ("{{len .Env}}", "2"),
            ("{{.Count}}", "3"),
            ("x {{- \" y\" -}}  z", "x yz"),
            ("{{title \"hello world\"}}", "Hello World"),
            ("plain", "plain"),
        ] {
            let t = Template::parse(format, Missing::Error).unwrap();
            assert_eq!(t.execute(&row()).unwrap(), want, "{format}");
        }
    }

    #[test]
    fn json_of_dot_is_the_whole_row() {
        let t = Template::parse("{{json .}}", Missing::Error).unwrap();
        let out = t.execute(&json!({"B": "1", "A": 2})).unwrap();
        assert_eq!(out, r#"{"B":"1","A":2}"#);
    }

    #[test]
    fn unknown_fields_are_errors_that_name_them() {
        let t = Template::parse("{{.Nope}}", Missing::Error).unwrap();
        let err = t.execute(&row()).unwrap_err().to_string();
        assert!(err.contains("can't evaluate field Nope"), "{err}");
        let t = Template::parse("{{.Config.Nope}}", Missing::Error).unwrap();
        let err = t.execute(&row()).unwrap_err().to_string();
        assert!(err.contains("Config.Nope"), "{err}");
        let t = Template::parse("{{.Tag.Nope}}", Missing::Error).unwrap();
        assert!(t.execute(&row()).is_err());
    }

    #[test]
    fn missing_keys_print_no_value_for_inspect() {
        let t = Template::parse("{{.Nope}}|{{.Config.Nope.Deeper}}", Missing::NoValue).unwrap();
        assert_eq!(t.execute(&row()).unwrap(), "<no value>|<no value>");
    }

    #[test]
    fn refuses_malformed_templates() {
        for format in [
            "{{.Tag",
            "{{}}",
            "{{range .Env}}{{.}}{{end}}",
            "{{nofunc .Tag}}",
            "{{.Tag | }}",
            "{{\"open}}",
            "{{.Ta-g}}",
        ] {
            assert!(Template::parse(format, Missing::Error).is_err(), "{format}");
        }
    }

    #[test]
    fn lists_fields() {
        let t = Template::parse("{{.ID}} {{json .Size}} {{.Config.Cmd}}", Missing::Error).unwrap();
        assert_eq!(t.fields(), vec!["ID", "Size", "Config"]);
    }
}
