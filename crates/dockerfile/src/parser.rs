//! The line parser: directives, comments, continuations, heredoc bodies, flags.
//! It mirrors BuildKit's `parser.Parse` so that the corpus dumps compare byte for byte.

use crate::ast::{Directive, Dockerfile, Node, Warning};
use crate::error::ParseError;
use crate::heredoc::heredocs_from_line;
use crate::line_parsers::{is_re_ws, parse_args};

/// Parses Dockerfile text; errors name the file `Dockerfile`.
pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
    parse_named("Dockerfile", text)
}

/// Parses Dockerfile text; `file` is the name used in error messages.
pub fn parse_named(file: &str, text: &str) -> Result<Dockerfile, ParseError> {
    Parser::new(file).run(text)
}

/// State of the directive parser: directives are recognised only in the leading comment
/// lines; the first other line ends the search (BuildKit `DirectiveParser`).
struct Directives {
    done: bool,
    seen: Vec<Directive>,
}

impl Directives {
    /// Returns the directive on this line, if any.
    fn parse_line(&mut self, line: &str, lineno: usize) -> Result<Option<Directive>, String> {
        if self.done {
            return Ok(None);
        }
        let Some(rest) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(None);
        };
        let rest = rest.trim_start();
        // ^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$
        let name_len = rest
            .char_indices()
            .take_while(|(i, c)| {
                if *i == 0 {
                    c.is_ascii_alphabetic()
                } else {
                    c.is_ascii_alphanumeric()
                }
            })
            .count();
        let go_ws = |c: char| matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ');
        let after = rest[name_len..].trim_start_matches(go_ws);
        // `(.+?)` needs one character, so a blank value keeps its first blank.
        let value = after.strip_prefix('=').map(|v| {
            let t = v.trim_start_matches(go_ws).trim_end_matches(go_ws);
            if t.is_empty() {
                v.get(..1).unwrap_or("")
            } else {
                t
            }
        });
        let (Some(value), true) = (value, name_len > 0) else {
            self.done = true;
            return Ok(None);
        };
        if value.is_empty() || value.contains('\n') {
            self.done = true;
            return Ok(None);
        }
        let name = rest[..name_len].to_ascii_lowercase();
        if !matches!(name.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(None);
        }
        if self.seen.iter().any(|d| d.name == name) {
            return Err(format!("only one {name} parser directive can be used"));
        }
        let d = Directive {
            name,
            value: value.to_string(),
            line: lineno,
        };
        self.seen.push(d.clone());
        Ok(Some(d))
    }
}

struct Parser {
    file: String,
    escape: char,
    directives: Directives,
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

impl Parser {
    fn new(file: &str) -> Self {
        Parser {
            file: file.to_string(),
            escape: '\\',
            directives: Directives {
                done: false,
                seen: Vec::new(),
            },
        }
    }

    fn err(&self, line: usize, message: impl Into<String>) -> ParseError {
        ParseError::new(&self.file, line.max(1), 1, message)
    }

    /// Trims the newline (and leading whitespace for a first line), looks for a directive,
    /// and blanks comment lines. Returns the line and whether it was a directive.
    fn process_line<'a>(
        &mut self,
        raw: &'a str,
        strip_left: bool,
        lineno: usize,
    ) -> Result<(&'a str, bool), ParseError> {
        let mut t = trim_newline(raw);
        if strip_left {
            t = t.trim_start();
        }
        let mut directive_ok = false;
        match self.directives.parse_line(t, lineno) {
            Err(e) => return Err(self.err(lineno, e)),
            Ok(Some(d)) => {
                directive_ok = true;
                if d.name == "escape" {
                    match d.value.as_str() {
                        "`" => self.escape = '`',
                        "\\" => self.escape = '\\',
                        v => {
                            return Err(self.err(
                                lineno,
                                format!("invalid escape token '{v}' does not match ` or \\"),
                            ));
                        }
                    }
                }
            }
            Ok(None) => {}
        }
        Ok((if is_comment(t) { "" } else { t }, directive_ok))
    }

    /// Strips a trailing escape token (and blanks after it) that continues the line.
    /// Returns the line and whether the logical line ends here.
    fn trim_continuation<'a>(&self, line: &'a str) -> (&'a str, bool) {
        let t = line.trim_end_matches([' ', '\t']);
        let Some(before) = t.strip_suffix(self.escape) else {
            return (line, true);
        };
        if before.is_empty() || !before.ends_with(self.escape) {
            (before, false)
        } else {
            (line, true)
        }
    }

    fn run(mut self, text: &str) -> Result<Dockerfile, ParseError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut lines = text.split_inclusive('\n');
        let mut current = 0usize;
        let mut root = Node::default();
        let mut have_child = false;
        let mut warnings = Vec::new();
        let mut comments: Vec<String> = Vec::new();

        while let Some(raw) = lines.next() {
            if is_comment(raw) {
                let c = raw
                    .char_indices()
                    .nth(1)
                    .map_or("", |(i, _)| &raw[i..])
                    .trim();
                if c.is_empty() {
                    comments.clear();
                } else {
                    comments.push(c.to_string());
                }
            }
            let column = raw.chars().count() - raw.trim_start().chars().count() + 1;
            let (line, directive_ok) = self.process_line(raw, true, current + 1)?;
            if directive_ok {
                comments.pop();
            }
            current += 1;
            let start = current;
            let (first, mut end_of_line) = self.trim_continuation(line);
            if end_of_line && first.is_empty() {
                continue;
            }
            let mut buf = first.to_string();
            let mut has_empty_continuation = false;
            while !end_of_line {
                let Some(raw) = lines.next() else { break };
                let (l, _) = self.process_line(raw, false, current + 1)?;
                current += 1;
                if is_comment(raw) {
                    continue;
                }
                if l.trim_start().is_empty() {
                    has_empty_continuation = true;
                    continue;
                }
                let (l, eol) = self.trim_continuation(l);
                end_of_line = eol;
                buf.push_str(l);
            }
            if has_empty_continuation {
                warnings.push(Warning {
                    short: format!("Empty continuation line found in: {buf}"),
                    detail: vec![
                        "Empty continuation lines will become errors in a future release".into(),
                    ],
                    url: "https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/".into(),
                    start_line: current,
                    end_line: current,
                });
            }
            let mut child = node_from_line(&buf, self.escape, std::mem::take(&mut comments))
                .map_err(|e| self.err(start, e))?;
            child.column = column;
            if child.can_contain_heredoc() && buf.contains("<<") {
                let docs = heredocs_from_line(&buf).map_err(|e| self.err(start, e.to_string()))?;
                for mut doc in docs {
                    let mut content = String::new();
                    let mut terminated = false;
                    for raw in lines.by_ref() {
                        current += 1;
                        let mut candidate = trim_newline(raw);
                        if doc.chomp {
                            candidate = candidate.trim_start_matches('\t');
                        }
                        if candidate == doc.name {
                            terminated = true;
                            break;
                        }
                        content.push_str(raw);
                    }
                    if !terminated {
                        return Err(self
                            .err(start, "unterminated heredoc")
                            .with_hint(format!("add a line `{}` to end the heredoc", doc.name)));
                    }
                    doc.content = content;
                    child.heredocs.push(doc);
                }
            }
            child.start_line = start;
            child.end_line = current;
            if !have_child {
                root.start_line = start;
                have_child = true;
            }
            root.end_line = current;
            root.children.push(child);
        }
        if !have_child {
            return Err(self
                .err(current, "file with no instructions")
                .with_hint("a Dockerfile needs at least a FROM instruction"));
        }
        Ok(Dockerfile {
            file: self.file,
            ast: root,
            escape_token: self.escape,
            warnings,
            directives: self.directives.seen,
        })
    }
}

/// Splits a logical line into keyword, flags and the rest, then parses the arguments.
pub(crate) fn node_from_line(
    line: &str,
    escape: char,
    comments: Vec<String>,
) -> Result<Node, String> {
    let (cmd, flags, rest) = split_command(line, escape);
    let lower = cmd.to_ascii_lowercase();
    let (next, json) = if lower == "onbuild" {
        if rest.is_empty() {
            (vec![], false)
        } else {
            let child = node_from_line(&rest, escape, Vec::new())?;
            let holder = Node {
                children: vec![child],
                ..Node::default()
            };
            (vec![holder], false)
        }
    } else {
        let p = parse_args(&lower, &rest, escape).map_err(|e| e.to_string())?;
        (p.next, p.json)
    };
    Ok(Node {
        value: cmd,
        next,
        json,
        original: line.to_string(),
        flags,
        prev_comment: comments,
        ..Node::default()
    })
}

/// Keyword, builder flags, and the trimmed rest (BuildKit `splitCommand`).
fn split_command(line: &str, escape: char) -> (String, Vec<String>, String) {
    let trimmed = line.trim();
    let split = trimmed.find(is_re_ws);
    let Some(i) = split else {
        return (trimmed.to_string(), Vec::new(), String::new());
    };
    let cmd = &trimmed[..i];
    let after = trimmed[i..].trim_start_matches(is_re_ws);
    let (rest, flags) = extract_builder_flags(after, escape);
    (cmd.to_string(), flags, rest.trim().to_string())
}

/// Collects leading `--flag` words; `--` alone ends them (BuildKit `extractBuilderFlags`).
/// Works on bytes, keeping UTF-8 sequences intact.
pub(crate) fn extract_builder_flags(line: &str, escape: char) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let b = line.as_bytes();
    let esc = escape as u32 as u8;
    let is_space = |c: u8| c.is_ascii_whitespace() || c == 0x0b;
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut word: Vec<u8> = Vec::new();
    let mut quote = 0u8;
    let mut blank_ok = false;
    let mut pos = 0;
    let to_s = |w: &[u8]| String::from_utf8_lossy(w).into_owned();
    while pos <= b.len() {
        let at_end = pos == b.len();
        let mut ch = if at_end { 0 } else { b[pos] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if is_space(ch) {
                pos += 1;
                continue;
            }
            if ch != b'-' || pos + 1 == b.len() || b[pos + 1] != b'-' {
                return (line[pos..].to_string(), words);
            }
            phase = Phase::Word;
        }
        if at_end {
            if word != b"--" && (blank_ok || !word.is_empty()) {
                words.push(to_s(&word));
            }
            break;
        }
        if phase == Phase::Word {
            if is_space(ch) {
                phase = Phase::Spaces;
                if word == b"--" {
                    return (line[pos..].to_string(), words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(to_s(&word));
                }
                word.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == b'\'' || ch == b'"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            if ch == esc {
                if pos + 1 == b.len() {
                    pos += 1;
                    continue;
                }
                pos += 1;
                ch = b[pos];
            }
            word.push(ch);
            pos += 1;
            continue;
        }
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        if ch == esc {
            if pos + 1 == b.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            ch = b[pos];
        }
        word.push(ch);
        pos += 1;
    }
    (String::new(), words)
}
