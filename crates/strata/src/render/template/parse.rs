//! Go text/template's parser: pieces from the lexer into a tree of text, actions and the
//! control structures `if` / `else if` / `else`, `range` (with `$i, $v :=`, `break`,
//! `continue`), `with` / `else with`.

use super::TemplateError;
use super::lex::{Piece, Token};

/// A node of the tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Text printed as is.
    Text(String),
    /// `{{pipeline}}`: printed unless it declares or assigns variables.
    Action(Pipeline),
    /// `{{if}}`, `{{with}}` or `{{range}}`, with its `{{else}}` part.
    Block {
        /// Which one.
        kind: BlockKind,
        /// The condition or collection.
        pipe: Pipeline,
        /// What runs when it holds (or for each element).
        list: Vec<Node>,
        /// What runs otherwise (`else`, `else if` as a nested block).
        else_list: Vec<Node>,
    },
    /// `{{break}}` in a range.
    Break,
    /// `{{continue}}` in a range.
    Continue,
}

/// The control structures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// `if`.
    If,
    /// `with`: dot becomes the value.
    With,
    /// `range`: once per element.
    Range,
}

/// `$x := cmd | cmd`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pipeline {
    /// Variables declared or assigned (`$i, $v :=` in a range).
    pub vars: Vec<String>,
    /// `=` rather than `:=`.
    pub assign: bool,
    /// The commands; each one's value is the last argument of the next.
    pub cmds: Vec<Cmd>,
}

/// One command: a function with arguments, or a single operand.
#[derive(Debug, Clone, PartialEq)]
pub struct Cmd {
    /// The operands; a function name first when it is a call.
    pub args: Vec<Operand>,
}

/// An operand.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// `.`.
    Dot,
    /// `.A.B` on dot.
    Field(Vec<String>),
    /// `$x.A.B`.
    Var(String, Vec<String>),
    /// A function name.
    Func(String),
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `nil`.
    Nil,
    /// `(pipeline).A.B`.
    Sub(Box<Pipeline>, Vec<String>),
}

/// Parses lexed pieces; `is_func` says which names are functions.
pub fn parse(
    pieces: Vec<Piece>,
    is_func: &dyn Fn(&str) -> bool,
) -> Result<Vec<Node>, TemplateError> {
    let mut p = Parser {
        pieces: pieces.into_iter(),
        is_func,
        range_depth: 0,
    };
    let (list, end) = p.list()?;
    match end {
        Ending::Eof => Ok(list),
        Ending::End => Err(TemplateError::Parse("unexpected {{end}}".into())),
        Ending::Else(_) => Err(TemplateError::Parse("unexpected {{else}}".into())),
    }
}

/// What ended a list.
enum Ending {
    Eof,
    End,
    /// `{{else}}` (empty) or `{{else if …}}` / `{{else with …}}` (the rest of the tokens).
    Else(Vec<Token>),
}

struct Parser<'a> {
    pieces: std::vec::IntoIter<Piece>,
    is_func: &'a dyn Fn(&str) -> bool,
    range_depth: usize,
}

impl Parser<'_> {
    fn list(&mut self) -> Result<(Vec<Node>, Ending), TemplateError> {
        let mut nodes = Vec::new();
        while let Some(piece) = self.pieces.next() {
            let toks = match piece {
                Piece::Text(t) => {
                    nodes.push(Node::Text(t));
                    continue;
                }
                Piece::Action(t) => t,
            };
            let keyword = match toks.first() {
                Some(Token::Ident(k)) => k.as_str(),
                None => return Err(TemplateError::Parse("missing value for command".into())),
                _ => "",
            };
            match keyword {
                "end" if toks.len() == 1 => return Ok((nodes, Ending::End)),
                "else" => return Ok((nodes, Ending::Else(toks[1..].to_vec()))),
                "if" => nodes.push(self.block(BlockKind::If, &toks[1..])?),
                "with" => nodes.push(self.block(BlockKind::With, &toks[1..])?),
                "range" => {
                    self.range_depth += 1;
                    let b = self.block(BlockKind::Range, &toks[1..]);
                    self.range_depth -= 1;
                    nodes.push(b?);
                }
                "break" | "continue" if toks.len() == 1 => {
                    if self.range_depth == 0 {
                        return Err(TemplateError::Parse(format!(
                            "{{{{{keyword}}}}} outside {{{{range}}}}"
                        )));
                    }
                    nodes.push(if keyword == "break" {
                        Node::Break
                    } else {
                        Node::Continue
                    });
                }
                "define" | "template" | "block" | "end" => {
                    return Err(TemplateError::Parse(format!(
                        "{keyword:?} actions are not supported by strata's --format"
                    )));
                }
                _ => nodes.push(Node::Action(self.pipeline(&toks, true)?)),
            }
        }
        Ok((nodes, Ending::Eof))
    }

    /// `if`/`with`/`range` after its keyword: up to its `{{end}}`, `else` chains included.
    fn block(&mut self, kind: BlockKind, toks: &[Token]) -> Result<Node, TemplateError> {
        let pipe = self.pipeline(toks, kind == BlockKind::Range)?;
        if pipe.cmds.is_empty() {
            return Err(TemplateError::Parse(format!("missing value for {kind:?}")));
        }
        let (list, end) = self.list()?;
        let else_list = match end {
            Ending::Eof => return Err(TemplateError::Parse("unexpected EOF".into())),
            Ending::End => Vec::new(),
            Ending::Else(rest) if rest.is_empty() => {
                let (l, end) = self.list()?;
                if !matches!(end, Ending::End) {
                    return Err(TemplateError::Parse("expected {{end}}".into()));
                }
                l
            }
            // `{{else if x}}` is `{{else}}{{if x}}…{{end}}{{end}}` sharing the last end.
            Ending::Else(rest) => match rest.first() {
                Some(Token::Ident(k)) if k == "if" && kind != BlockKind::Range => {
                    vec![self.block(BlockKind::If, &rest[1..])?]
                }
                Some(Token::Ident(k)) if k == "with" && kind != BlockKind::Range => {
                    vec![self.block(BlockKind::With, &rest[1..])?]
                }
                _ => {
                    return Err(TemplateError::Parse(
                        "unexpected tokens after {{else".into(),
                    ));
                }
            },
        };
        Ok(Node::Block {
            kind,
            pipe,
            list,
            else_list,
        })
    }

    /// A pipeline, with its declarations; `multi` allows `$i, $v :=` (range).
    fn pipeline(&self, toks: &[Token], multi: bool) -> Result<Pipeline, TemplateError> {
        let mut p = Pipeline::default();
        let mut rest = toks;
        // Declarations: `$x :=`, `$x =`, `$i, $v :=`.
        let decl_end = toks
            .iter()
            .position(|t| matches!(t, Token::Declare | Token::Assign))
            .filter(|&n| {
                toks[..n]
                    .iter()
                    .all(|t| matches!(t, Token::Var(_, f) if f.is_empty()) || *t == Token::Comma)
            });
        if let Some(n) = decl_end {
            for t in &toks[..n] {
                if let Token::Var(name, _) = t {
                    p.vars.push(name.clone());
                }
            }
            if p.vars.is_empty() || p.vars.len() > 2 || (p.vars.len() == 2 && !multi) {
                return Err(TemplateError::Parse("too many declarations".into()));
            }
            p.assign = toks[n] == Token::Assign;
            rest = &toks[n + 1..];
        }
        for part in split_pipes(rest)? {
            p.cmds.push(self.cmd(part)?);
        }
        if decl_end.is_some() && p.cmds.is_empty() {
            return Err(TemplateError::Parse("missing value for declaration".into()));
        }
        Ok(p)
    }

    fn cmd(&self, toks: &[Token]) -> Result<Cmd, TemplateError> {
        let mut args = Vec::new();
        let mut i = 0;
        while i < toks.len() {
            let op = match &toks[i] {
                Token::Dot => Operand::Dot,
                Token::Field(f) => Operand::Field(f.clone()),
                Token::Var(n, f) => Operand::Var(n.clone(), f.clone()),
                Token::Str(s) => Operand::Str(s.clone()),
                Token::Number(n) => number(n)?,
                Token::Ident(name) => match name.as_str() {
                    "true" => Operand::Bool(true),
                    "false" => Operand::Bool(false),
                    "nil" => Operand::Nil,
                    f if (self.is_func)(f) => Operand::Func(f.to_string()),
                    f => {
                        return Err(TemplateError::Parse(format!("function {f:?} not defined")));
                    }
                },
                Token::Open => {
                    let close = matching_close(toks, i)?;
                    let inner = self.pipeline(&toks[i + 1..close], false)?;
                    i = close;
                    let fields = match toks.get(i + 1) {
                        Some(Token::Chain(f)) => {
                            i += 1;
                            f.clone()
                        }
                        _ => Vec::new(),
                    };
                    Operand::Sub(Box::new(inner), fields)
                }
                other => {
                    return Err(TemplateError::Parse(format!(
                        "unexpected {other:?} in operand"
                    )));
                }
            };
            if matches!(op, Operand::Func(_)) && i > 0 {
                // A function name as an argument is a call with no arguments in Go only
                // for niladic functions; the ones here all take arguments.
                return Err(TemplateError::Parse(format!(
                    "{op:?} used as an argument: wrap the call in parentheses"
                )));
            }
            args.push(op);
            i += 1;
        }
        if args.is_empty() {
            return Err(TemplateError::Parse("missing value for command".into()));
        }
        if args.len() > 1 && !matches!(args[0], Operand::Func(_)) {
            return Err(TemplateError::Parse(format!(
                "can't give argument to non-function {:?}",
                args[0]
            )));
        }
        Ok(Cmd { args })
    }
}

/// Splits at top-level `|`.
fn split_pipes(toks: &[Token]) -> Result<Vec<&[Token]>, TemplateError> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        match t {
            Token::Open => depth += 1,
            Token::Close => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| TemplateError::Parse("unexpected right paren".into()))?;
            }
            Token::Pipe if depth == 0 => {
                if i == start {
                    return Err(TemplateError::Parse("missing command before |".into()));
                }
                parts.push(&toks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < toks.len() {
        parts.push(&toks[start..]);
    } else if !toks.is_empty() {
        return Err(TemplateError::Parse("missing command after |".into()));
    }
    Ok(parts)
}

fn matching_close(toks: &[Token], open: usize) -> Result<usize, TemplateError> {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(open) {
        match t {
            Token::Open => depth += 1,
            Token::Close => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i);
                }
            }
            _ => {}
        }
    }
    Err(TemplateError::Parse("unclosed left paren".into()))
}

fn number(n: &str) -> Result<Operand, TemplateError> {
    let bad = || TemplateError::Parse(format!("bad number syntax: {n:?}"));
    let clean = n.replace('_', "");
    let (neg, digits) = match clean.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, clean.strip_prefix('+').unwrap_or(&clean)),
    };
    let radix = |p: &str, r: u32| i64::from_str_radix(p, r).map_err(|_| bad());
    let int = if let Some(h) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
        Some(radix(h, 16)?)
    } else if let Some(o) = digits.strip_prefix("0o").or(digits.strip_prefix("0O")) {
        Some(radix(o, 8)?)
    } else if let Some(b) = digits.strip_prefix("0b").or(digits.strip_prefix("0B")) {
        Some(radix(b, 2)?)
    } else if digits.len() > 1
        && digits.starts_with('0')
        && digits.bytes().all(|c| c.is_ascii_digit())
    {
        Some(radix(&digits[1..], 8)?)
    } else {
        digits.parse::<i64>().ok()
    };
    match int {
        Some(i) => Ok(Operand::Int(if neg { -i } else { i })),
        None => clean.parse::<f64>().map(Operand::Float).map_err(|_| bad()),
    }
}
