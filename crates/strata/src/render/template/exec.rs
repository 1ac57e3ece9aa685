//! Go text/template's evaluator on `serde_json::Value`s: dot, variables (`$` is the data,
//! scopes end with their block), fields (a missing map key is `<no value>` or an error, as
//! [`Missing`] says), pipelines, `if`/`with`/`range` with Go's truth, `break`/`continue`.

use serde_json::Value;

use super::parse::{BlockKind, Cmd, Node, Operand, Pipeline};
use super::{GoKind, Missing, TemplateError, funcs, print};

/// How a list of nodes ended.
enum Flow {
    Normal,
    Break,
    Continue,
}

/// The evaluation state of one execution.
pub struct State<'a> {
    out: String,
    vars: Vec<(String, Value)>,
    missing: Missing,
    nil_kinds: super::NilKinds,
    /// The Go type Docker's formatter runs the template on (`*formatter.imageContext`),
    /// named when the row has no such field.
    struct_name: Option<&'static str>,
    root: &'a Value,
    mode: Mode,
}

/// Which of Docker's two inspect passes runs (see [`super::Template::go_renamed`]).
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// On Docker's Go struct: (JSON key, Go field name) pairs that differ; the Go name
    /// reads the JSON key, and naming the JSON key fails the pass
    /// ([`TemplateError::TypedFallback`]).
    Typed(super::GoRenamed),
    /// On the raw decoded JSON: objects are maps, so `json` sorts their keys.
    Raw,
}

/// Runs `nodes` on `data`.
pub fn execute(
    nodes: &[Node],
    data: &Value,
    missing: Missing,
    nil_kinds: super::NilKinds,
    struct_name: Option<&'static str>,
    mode: Mode,
) -> Result<String, TemplateError> {
    let mut s = State {
        out: String::new(),
        vars: vec![("$".into(), data.clone())],
        missing,
        nil_kinds,
        struct_name,
        root: data,
        mode,
    };
    s.walk(nodes, data)?;
    Ok(s.out)
}

/// `v` with every object's keys sorted, as Go marshals a map.
fn sorted_keys(v: &Value) -> Value {
    match v {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), sorted_keys(&o[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted_keys).collect()),
        other => other.clone(),
    }
}

/// Go's truth: false, 0, nil and empty strings, slices and maps are false.
pub fn truth(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

impl State<'_> {
    fn walk(&mut self, nodes: &[Node], dot: &Value) -> Result<Flow, TemplateError> {
        for node in nodes {
            match node {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipeline(p, dot)?;
                    if p.vars.is_empty() {
                        match self.typed_nil(p, &v) {
                            Some(shown) => self.out.push_str(&shown),
                            None => self.out.push_str(&print::go_print(&v)),
                        }
                    }
                }
                Node::Break => return Ok(Flow::Break),
                Node::Continue => return Ok(Flow::Continue),
                Node::Block {
                    kind,
                    pipe,
                    list,
                    else_list,
                } => {
                    let mark = self.vars.len();
                    let flow = self.block(*kind, pipe, list, else_list, dot);
                    self.vars.truncate(mark);
                    match flow? {
                        Flow::Normal => {}
                        other => return Ok(other),
                    }
                }
            }
        }
        Ok(Flow::Normal)
    }

    fn block(
        &mut self,
        kind: BlockKind,
        pipe: &Pipeline,
        list: &[Node],
        else_list: &[Node],
        dot: &Value,
    ) -> Result<Flow, TemplateError> {
        match kind {
            BlockKind::If => {
                let v = self.pipeline(pipe, dot)?;
                if truth(&v) {
                    self.walk(list, dot)
                } else {
                    self.walk(else_list, dot)
                }
            }
            BlockKind::With => {
                let v = self.pipeline(pipe, dot)?;
                if truth(&v) {
                    self.walk(list, &v)
                } else {
                    self.walk(else_list, dot)
                }
            }
            BlockKind::Range => {
                // The declarations take the key/index and the element, not the value.
                let decl = Pipeline {
                    vars: Vec::new(),
                    assign: false,
                    cmds: pipe.cmds.clone(),
                };
                let v = self.pipeline(&decl, dot)?;
                let items: Vec<(Value, Value)> = match &v {
                    Value::Array(a) => a
                        .iter()
                        .enumerate()
                        .map(|(i, x)| (Value::from(i), x.clone()))
                        .collect(),
                    // Go ranges over a map in sorted key order.
                    Value::Object(o) => {
                        let mut keys: Vec<&String> = o.keys().collect();
                        keys.sort();
                        keys.into_iter()
                            .map(|k| (Value::String(k.clone()), o[k].clone()))
                            .collect()
                    }
                    Value::Null => Vec::new(),
                    Value::Number(n) if n.as_i64().is_some() => (0..n.as_i64().unwrap_or(0))
                        .map(|i| (Value::from(i), Value::from(i)))
                        .collect(),
                    other => {
                        return Err(TemplateError::Exec(format!(
                            "range can't iterate over {}",
                            print::go_print(other)
                        )));
                    }
                };
                if items.is_empty() {
                    return self.walk(else_list, dot);
                }
                let mark = self.vars.len();
                for (key, elem) in items {
                    self.vars.truncate(mark);
                    match pipe.vars.as_slice() {
                        [v] => self.vars.push((v.clone(), elem.clone())),
                        [k, v] => {
                            self.vars.push((k.clone(), key));
                            self.vars.push((v.clone(), elem.clone()));
                        }
                        _ => {}
                    }
                    if let Flow::Break = self.walk(list, &elem)? {
                        break;
                    }
                }
                Ok(Flow::Normal)
            }
        }
    }

    /// How Docker prints `v` when it is a field of a typed struct: the pipeline is that
    /// one field, and its name is in the kinds table.
    fn typed_nil(&self, p: &Pipeline, v: &Value) -> Option<String> {
        if p.cmds.len() != 1 || p.cmds[0].args.len() != 1 {
            return None;
        }
        let name = match &p.cmds[0].args[0] {
            Operand::Field(path) | Operand::Var(_, path) | Operand::Sub(_, path) => path.last()?,
            _ => return None,
        };
        let kind = self.kind_of(name)?;
        Some(match (kind, v) {
            (GoKind::Slice, Value::Null) => "[]".into(),
            (GoKind::Map | GoKind::Set, Value::Null) => "map[]".into(),
            (GoKind::Pointer, Value::Null) => "<nil>".into(),
            (GoKind::String, Value::Null) => String::new(),
            (GoKind::Set, Value::Object(o)) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                let items: Vec<String> = keys.iter().map(|k| format!("{k}:{{}}")).collect();
                format!("map[{}]", items.join(" "))
            }
            _ => return None,
        })
    }

    fn kind_of(&self, name: &str) -> Option<GoKind> {
        self.nil_kinds
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, kind)| *kind)
    }

    fn pipeline(&mut self, p: &Pipeline, dot: &Value) -> Result<Value, TemplateError> {
        let mut piped: Option<Value> = None;
        for cmd in &p.cmds {
            piped = Some(self.cmd(cmd, dot, piped.take())?);
        }
        let v = piped.unwrap_or(Value::Null);
        for name in &p.vars {
            if p.assign {
                let slot = self
                    .vars
                    .iter_mut()
                    .rev()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| TemplateError::Exec(format!("undefined variable: {name}")))?;
                slot.1 = v.clone();
            } else {
                self.vars.push((name.clone(), v.clone()));
            }
        }
        Ok(v)
    }

    fn cmd(
        &mut self,
        cmd: &Cmd,
        dot: &Value,
        piped: Option<Value>,
    ) -> Result<Value, TemplateError> {
        if let Operand::Func(name) = &cmd.args[0] {
            return match name.as_str() {
                // `and`/`or` stop at the first argument that decides, as in Go 1.18+.
                "and" | "or" => {
                    let want = name == "or";
                    let mut last = Value::Null;
                    let n = cmd.args.len() - 1 + usize::from(piped.is_some());
                    if n == 0 {
                        return Err(TemplateError::Exec(format!(
                            "wrong number of args for {name}: want at least 1 got 0"
                        )));
                    }
                    for a in &cmd.args[1..] {
                        last = self.operand(a, dot)?;
                        if truth(&last) == want {
                            return Ok(last);
                        }
                    }
                    Ok(piped.unwrap_or(last))
                }
                _ => {
                    let mut args = cmd.args[1..]
                        .iter()
                        .map(|a| self.operand(a, dot))
                        .collect::<Result<Vec<_>, _>>()?;
                    args.extend(piped);
                    // A listing row (Docker's formatter context) marshals itself with Go's
                    // json.Marshal: `{{json .}}` of the row escapes <, > and &.
                    if name == "json"
                        && self.missing == Missing::Error
                        && args.len() == 1
                        && args[0] == *self.root
                    {
                        return Ok(Value::String(funcs::go_json(&args[0])));
                    }
                    if name == "json" && matches!(self.mode, Mode::Raw) {
                        args = args.iter().map(sorted_keys).collect();
                    }
                    funcs::call(name, args).map_err(|e| match e {
                        TemplateError::Exec(m) if !m.starts_with("executing ") => {
                            TemplateError::Exec(format!("executing \"\" at <{name}>: {m}"))
                        }
                        other => other,
                    })
                }
            };
        }
        if piped.is_some() {
            return Err(TemplateError::Exec(format!(
                "can't give argument to non-function {:?}",
                cmd.args[0]
            )));
        }
        self.operand(&cmd.args[0], dot)
    }

    fn operand(&mut self, op: &Operand, dot: &Value) -> Result<Value, TemplateError> {
        Ok(match op {
            Operand::Dot => dot.clone(),
            Operand::Field(path) => self.fields(dot, path)?,
            Operand::Var(name, path) => {
                let v = if name == "$" {
                    self.root.clone()
                } else {
                    self.vars
                        .iter()
                        .rev()
                        .find(|(n, _)| n == name)
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| {
                            TemplateError::Parse(format!("undefined variable {name:?}"))
                        })?
                };
                self.fields(&v, path)?
            }
            Operand::Str(s) => Value::String(s.clone()),
            Operand::Int(i) => Value::from(*i),
            Operand::Float(f) => {
                serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
            }
            Operand::Bool(b) => Value::Bool(*b),
            Operand::Nil => Value::Null,
            Operand::Func(f) => {
                return Err(TemplateError::Exec(format!("{f} is not a value")));
            }
            Operand::Sub(p, path) => {
                let v = self.pipeline(p, dot)?;
                self.fields(&v, path)?
            }
        })
    }

    fn fields(&self, start: &Value, path: &[String]) -> Result<Value, TemplateError> {
        // Go names the whole field chain in its messages: `at <.Config.Nope>`.
        let at = |msg: String| {
            TemplateError::Exec(format!("executing \"\" at <.{}>: {msg}", path.join(".")))
        };
        let mut v = start;
        for (i, name) in path.iter().enumerate() {
            // On the typed struct a renamed field answers to its Go name only.
            let mut key = name.as_str();
            if let (Mode::Typed(renamed), Value::Object(_)) = (self.mode, v) {
                if renamed.iter().any(|(json, _)| *json == key) {
                    return Err(TemplateError::TypedFallback);
                }
                if let Some((json, _)) = renamed.iter().find(|(_, go)| *go == key) {
                    key = json;
                }
            }
            match v {
                Value::Object(map) => match map.get(key) {
                    Some(next) => v = next,
                    None if self.missing == Missing::NoValue => return Ok(Value::Null),
                    // A struct field JSON left out (omitempty) is still a field: a string
                    // is "" (for `json` and `printf` too), the others nil.
                    None if i + 1 == path.len() && self.kind_of(name).is_some() => {
                        return Ok(match self.kind_of(name) {
                            Some(GoKind::String) => Value::String(String::new()),
                            _ => Value::Null,
                        });
                    }
                    None if self.missing == Missing::MapError => {
                        return Err(at(format!("map has no entry for key {name:?}")));
                    }
                    // The row stands for Docker's formatter struct: Go names its type.
                    None if i == 0 && std::ptr::eq(v, self.root) && self.struct_name.is_some() => {
                        return Err(at(format!(
                            "can't evaluate field {name} in type {}",
                            self.struct_name.unwrap_or_default()
                        )));
                    }
                    None => {
                        return Err(at(format!(
                            "can't evaluate field {name} (the fields are: {})",
                            map.keys().cloned().collect::<Vec<_>>().join(", ")
                        )));
                    }
                },
                // A field of nil is nil in a map of maps (Docker's decoded JSON).
                Value::Null if self.missing == Missing::NoValue => return Ok(Value::Null),
                Value::Null if self.missing == Missing::MapError => {
                    return Err(at(format!("nil pointer evaluating interface {{}}.{name}")));
                }
                other => {
                    return Err(at(format!(
                        "can't evaluate field {name} in type {}",
                        print::type_name(other)
                    )));
                }
            }
        }
        Ok(v.clone())
    }
}
