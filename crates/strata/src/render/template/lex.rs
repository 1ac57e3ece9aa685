//! Go text/template's lexer: the text is cut into literal text and actions (`{{ }}`, with
//! `{{- ` / ` -}}` trimming the whitespace beside them and `{{/* */}}` comments dropped),
//! and an action's inside into tokens.

use super::TemplateError;

/// A piece of the template: literal text, or the inside of an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// Text printed as is.
    Text(String),
    /// The tokens of one action.
    Action(Vec<Token>),
}

/// A token inside an action.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// A name: a function or a keyword (`if`, `range`, `end`, …, `true`, `nil`).
    Ident(String),
    /// `.` alone.
    Dot,
    /// `.A.B`: a field chain (on dot, or after a variable or a parenthesis).
    Field(Vec<String>),
    /// `.A.B` right after `)`: fields of the parenthesized value.
    Chain(Vec<String>),
    /// `$x` (`$` alone is the template's data), maybe followed by fields.
    Var(String, Vec<String>),
    /// A string constant, unquoted.
    Str(String),
    /// A number constant.
    Number(String),
    /// `|`.
    Pipe,
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// `:=`.
    Declare,
    /// `=`.
    Assign,
    /// `,`.
    Comma,
}

/// Cuts `text` into text and actions.
pub fn pieces(text: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = text;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut lit = &rest[..start];
        if trim_next {
            lit = lit.trim_start();
        }
        let after = &rest[start + 2..];
        let mut inner_start = 0;
        // "{{- " trims: the dash must be followed by a space, else it is a number.
        if after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n") {
            lit = lit.trim_end();
            inner_start = 1;
        }
        let (inner, end) = action_end(after, inner_start)?;
        let mut inner = inner;
        trim_next = false;
        if inner.ends_with(" -") || inner.ends_with("\t-") || inner.ends_with("\n-") {
            trim_next = true;
            inner = &inner[..inner.len() - 1];
        }
        if !lit.is_empty() {
            out.push(Piece::Text(lit.to_string()));
        }
        let trimmed = inner.trim();
        if trimmed.starts_with("/*") {
            if !trimmed.ends_with("*/") {
                return Err(TemplateError::Parse("unclosed comment".into()));
            }
        } else {
            out.push(Piece::Action(tokens(trimmed)?));
        }
        rest = &after[end + 2..];
    }
    let lit = if trim_next { rest.trim_start() } else { rest };
    if !lit.is_empty() {
        out.push(Piece::Text(lit.to_string()));
    }
    Ok(out)
}

/// The inside of the action that starts `after` (just past `{{`) and the offset of its
/// `}}`: a `}}` inside a quoted string or a comment does not end it.
fn action_end(after: &str, from: usize) -> Result<(&str, usize), TemplateError> {
    let b = after.as_bytes();
    let mut i = from;
    let mut quote: Option<u8> = None;
    let comment = after[from..].trim_start().starts_with("/*");
    while i < b.len() {
        match quote {
            Some(q) => {
                if b[i] == b'\\' && q != b'`' {
                    i += 1;
                } else if b[i] == q {
                    quote = None;
                }
            }
            None => {
                if b[i..].starts_with(b"}}") {
                    return Ok((&after[from..i], i));
                }
                if !comment && (b[i] == b'"' || b[i] == b'`' || b[i] == b'\'') {
                    quote = Some(b[i]);
                }
            }
        }
        i += 1;
    }
    Err(TemplateError::Parse("unclosed action".into()))
}

/// The tokens of one action's inside.
pub fn tokens(src: &str) -> Result<Vec<Token>, TemplateError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let word_char = |c: char| c.is_alphanumeric() || c == '_';
    // `.A.B` right after position `i`: the field names.
    let fields = |i: &mut usize| -> Result<Vec<String>, TemplateError> {
        let mut names = Vec::new();
        while *i < chars.len() && chars[*i] == '.' {
            let start = *i + 1;
            let mut j = start;
            while j < chars.len() && word_char(chars[j]) {
                j += 1;
            }
            if j == start {
                break;
            }
            names.push(chars[start..j].iter().collect());
            *i = j;
        }
        if !names.is_empty() && *i < chars.len() && chars[*i] == '.' {
            return Err(TemplateError::Parse(format!("bad character in {src:?}")));
        }
        Ok(names)
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '|' => {
                out.push(Token::Pipe);
                i += 1;
            }
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
                let f = fields(&mut i)?;
                if !f.is_empty() {
                    out.push(Token::Chain(f));
                }
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            ':' if chars.get(i + 1) == Some(&'=') => {
                out.push(Token::Declare);
                i += 2;
            }
            '=' => {
                out.push(Token::Assign);
                i += 1;
            }
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err(TemplateError::Parse(format!(
                            "unterminated quoted string in {src:?}"
                        )));
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' => {
                            let e = chars.get(i).copied().unwrap_or('\\');
                            i += 1;
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                'r' => '\r',
                                '0' => '\0',
                                other => other,
                            });
                        }
                        c => s.push(c),
                    }
                }
                out.push(Token::Str(s));
            }
            '`' => {
                let start = i + 1;
                let len = chars[start..]
                    .iter()
                    .position(|&c| c == '`')
                    .ok_or_else(|| {
                        TemplateError::Parse(format!("unterminated raw quoted string in {src:?}"))
                    })?;
                out.push(Token::Str(chars[start..start + len].iter().collect()));
                i = start + len + 1;
            }
            '\'' => {
                // A character constant is its code point, as in Go.
                let c = *chars.get(i + 1).ok_or_else(|| {
                    TemplateError::Parse(format!("unterminated character constant in {src:?}"))
                })?;
                if chars.get(i + 2) != Some(&'\'') {
                    return Err(TemplateError::Parse(format!(
                        "malformed character constant in {src:?}"
                    )));
                }
                out.push(Token::Number((c as u32).to_string()));
                i += 3;
            }
            '.' => {
                if chars.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
                    let start = i;
                    i += 1;
                    while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                        i += 1;
                    }
                    out.push(Token::Number(chars[start..i].iter().collect()));
                    continue;
                }
                let f = fields(&mut i)?;
                if f.is_empty() {
                    i += 1;
                    out.push(Token::Dot);
                } else {
                    out.push(Token::Field(f));
                }
            }
            '$' => {
                let start = i;
                i += 1;
                while i < chars.len() && word_char(chars[i]) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                let f = fields(&mut i)?;
                out.push(Token::Var(name, f));
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+')
                    && chars
                        .get(i + 1)
                        .is_some_and(|d| d.is_ascii_digit() || *d == '.')) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || chars[i] == '.'
                        || chars[i] == '_'
                        || ((chars[i] == '-' || chars[i] == '+')
                            && matches!(chars[i - 1], 'e' | 'E' | 'p' | 'P')))
                {
                    i += 1;
                }
                out.push(Token::Number(chars[start..i].iter().collect()));
            }
            c if word_char(c) => {
                let start = i;
                while i < chars.len() && word_char(chars[i]) {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            }
            other => {
                return Err(TemplateError::Parse(format!(
                    "unexpected {other:?} in {src:?}"
                )));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_text_actions_trims_and_comments() {
        let p = pieces("a  {{- .X -}}  b{{/* note */}}c{{- /* x */ -}} d{{\"}}\"}}").unwrap();
        assert_eq!(
            p,
            vec![
                Piece::Text("a".into()),
                Piece::Action(vec![Token::Field(vec!["X".into()])]),
                Piece::Text("b".into()),
                Piece::Text("c".into()),
                Piece::Text("d".into()),
                Piece::Action(vec![Token::Str("}}".into())]),
            ]
        );
        // "{{-3}}" is the number -3, not a trim.
        assert_eq!(
            pieces("{{-3}}").unwrap(),
            vec![Piece::Action(vec![Token::Number("-3".into())])]
        );
    }

    #[test]
    fn tokenizes_actions() {
        assert_eq!(
            tokens(r#"$i, $v := index $.A "k" | printf "%d" (len .B).C 'a' `r` (.D) .E"#).unwrap(),
            vec![
                Token::Var("$i".into(), vec![]),
                Token::Comma,
                Token::Var("$v".into(), vec![]),
                Token::Declare,
                Token::Ident("index".into()),
                Token::Var("$".into(), vec!["A".into()]),
                Token::Str("k".into()),
                Token::Pipe,
                Token::Ident("printf".into()),
                Token::Str("%d".into()),
                Token::Open,
                Token::Ident("len".into()),
                Token::Field(vec!["B".into()]),
                Token::Close,
                Token::Chain(vec!["C".into()]),
                Token::Number("97".into()),
                Token::Str("r".into()),
                Token::Open,
                Token::Field(vec!["D".into()]),
                Token::Close,
                Token::Field(vec!["E".into()]),
            ]
        );
        assert!(tokens("\"open").is_err());
        assert!(tokens(".Ta-g").is_err());
    }
}
