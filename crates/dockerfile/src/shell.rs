//! Shell-word expansion as BuildKit's `shell.Lex` does it: quotes, the escape token,
//! `$A`, `${A}`, `${A:-x}`, `${A-x}`, `${A:+x}`, `${A+x}`, `${A?m}`, `${A:?m}`,
//! `${A#p}`, `${A##p}`, `${A%p}`, `${A%%p}`, `${A/p/r}`, `${A//p/r}`, and word splitting.
//!
//! Unix semantics: variable names are case-sensitive.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::quote::go_quote;

/// Where expansion reads variables from.
pub trait EnvGetter {
    /// The value of `key`, or `None` when it is not set.
    fn get(&self, key: &str) -> Option<String>;
}

impl EnvGetter for HashMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        HashMap::get(self, key).cloned()
    }
}

impl EnvGetter for BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<String> {
        BTreeMap::get(self, key).cloned()
    }
}

/// An environment built from `KEY=VALUE` entries; a later duplicate key wins and an entry
/// without `=` defines the key with an empty value (BuildKit's `EnvsFromSlice`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvList {
    map: HashMap<String, String>,
    keys: Vec<String>,
}

impl EnvList {
    /// Builds the environment from `KEY=VALUE` strings.
    pub fn from_pairs<S: AsRef<str>>(pairs: &[S]) -> Self {
        let mut env = EnvList::default();
        for p in pairs {
            let (k, v) = p.as_ref().split_once('=').unwrap_or((p.as_ref(), ""));
            env.set(k, v);
        }
        env
    }

    /// Sets `key` to `value`, keeping first-seen key order.
    pub fn set(&mut self, key: &str, value: &str) {
        if self
            .map
            .insert(key.to_string(), value.to_string())
            .is_none()
        {
            self.keys.push(key.to_string());
        }
    }

    /// The keys in the order they were first defined.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }
}

impl EnvGetter for EnvList {
    fn get(&self, key: &str) -> Option<String> {
        self.map.get(key).cloned()
    }
}

struct NoEnv;

impl EnvGetter for NoEnv {
    fn get(&self, _: &str) -> Option<String> {
        None
    }
}

/// An empty environment (every variable unset).
pub fn empty_env() -> impl EnvGetter {
    NoEnv
}

/// An expansion failure, e.g. an unterminated quote or `${A:?msg}` with `A` empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {}: {message}", go_quote(.source_word))]
pub struct ShellError {
    /// The word being expanded.
    pub source_word: String,
    /// What went wrong, as BuildKit words it.
    pub message: String,
}

/// The full result of one expansion.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessWordResult {
    /// The expanded word (`ProcessWord`).
    pub result: String,
    /// The expanded word split on unquoted whitespace (`ProcessWords`).
    pub words: Vec<String>,
    /// Variable names referenced and set.
    pub matched: BTreeSet<String>,
    /// Variable names referenced but unset.
    pub unmatched: BTreeSet<String>,
}

/// The shell lexer; options mirror BuildKit's `Lex` fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lex {
    escape: char,
    /// Keep quote characters in the output.
    pub raw_quotes: bool,
    /// Keep escape tokens in the output.
    pub raw_escapes: bool,
    /// Treat quotes as ordinary characters.
    pub skip_process_quotes: bool,
    /// Leave references to unset variables as written.
    pub skip_unset_env: bool,
}

impl Lex {
    /// A lexer using `escape` (`\` or `` ` ``) as escape token.
    pub fn new(escape: char) -> Self {
        Lex {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_process_quotes: false,
            skip_unset_env: false,
        }
    }

    /// Expands `word` into one string (BuildKit `ProcessWord`).
    pub fn process_word(&self, word: &str, env: &dyn EnvGetter) -> Result<String, ShellError> {
        Ok(self.process(word, env)?.result)
    }

    /// Expands `word` and splits it into words (BuildKit `ProcessWords`).
    pub fn process_words(
        &self,
        word: &str,
        env: &dyn EnvGetter,
    ) -> Result<Vec<String>, ShellError> {
        Ok(self.process(word, env)?.words)
    }

    /// Expands `word`, also reporting matched and unmatched variable names
    /// (BuildKit `ProcessWordWithMatches`).
    pub fn process_word_with_matches(
        &self,
        word: &str,
        env: &dyn EnvGetter,
    ) -> Result<ProcessWordResult, ShellError> {
        self.process(word, env)
    }

    fn process(&self, word: &str, env: &dyn EnvGetter) -> Result<ProcessWordResult, ShellError> {
        let mut sw = ShellWord {
            lex: self,
            chars: word.chars().collect(),
            pos: 0,
            env,
            raw_escapes: self.raw_escapes,
            words_buf: String::new(),
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
        };
        match sw.process_stop_on(None, self.raw_escapes) {
            Ok((result, words)) => Ok(ProcessWordResult {
                result,
                words,
                matched: sw.matched,
                unmatched: sw.unmatched,
            }),
            Err(message) => Err(ShellError {
                source_word: word.to_string(),
                message,
            }),
        }
    }
}

struct ShellWord<'a> {
    lex: &'a Lex,
    chars: Vec<char>,
    pos: usize,
    env: &'a dyn EnvGetter,
    raw_escapes: bool,
    /// Shared between nested `process_stop_on` calls, as upstream's `wordsBuffer` is.
    words_buf: String,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
}

/// Word accumulator; the buffer itself lives in `ShellWord::words_buf`.
#[derive(Default)]
struct Words {
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, buf: &mut String, ch: char) {
        if ch.is_whitespace() && self.in_word {
            if !buf.is_empty() {
                self.words.push(std::mem::take(buf));
                self.in_word = false;
            }
        } else if !ch.is_whitespace() {
            self.add_raw_char(buf, ch);
        }
    }
    fn add_raw_char(&mut self, buf: &mut String, ch: char) {
        buf.push(ch);
        self.in_word = true;
    }
    fn add_string(&mut self, buf: &mut String, s: &str) {
        for ch in s.chars() {
            self.add_char(buf, ch);
        }
    }
    fn add_raw_string(&mut self, buf: &mut String, s: &str) {
        buf.push_str(s);
        self.in_word = true;
    }
    fn finish(mut self, buf: &mut String) -> Vec<String> {
        if !buf.is_empty() {
            self.words.push(std::mem::take(buf));
        }
        self.words
    }
}

type Res<T> = Result<T, String>;

impl ShellWord<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Res<(String, Vec<String>)> {
        let mut result = String::new();
        self.words_buf.clear();
        let mut words = Words::default();
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let out = self.stop_on_inner(stop, &mut result, &mut words);
        self.raw_escapes = saved;
        out?;
        let mut buf = std::mem::take(&mut self.words_buf);
        let w = words.finish(&mut buf);
        self.words_buf = buf;
        Ok((result, w))
    }

    fn stop_on_inner(
        &mut self,
        stop: Option<char>,
        result: &mut String,
        words: &mut Words,
    ) -> Res<()> {
        while let Some(ch) = self.peek() {
            if stop == Some(ch) {
                self.next();
                return Ok(());
            }
            let quotes = !self.lex.skip_process_quotes;
            let special = match ch {
                '$' => Some(self.process_dollar()?),
                '<' => Some(self.process_possible_heredoc()),
                '\'' if quotes => Some(self.process_single_quote()?),
                '"' if quotes => Some(self.process_double_quote()?),
                _ => None,
            };
            if let Some(tmp) = special {
                result.push_str(&tmp);
                let mut buf = std::mem::take(&mut self.words_buf);
                if ch == '$' {
                    words.add_string(&mut buf, &tmp);
                } else {
                    words.add_raw_string(&mut buf, &tmp);
                }
                self.words_buf = buf;
                continue;
            }
            let mut ch = ch;
            self.next();
            let mut buf = std::mem::take(&mut self.words_buf);
            if ch == self.lex.escape {
                if self.raw_escapes {
                    words.add_raw_char(&mut buf, ch);
                    result.push(ch);
                }
                match self.next() {
                    None => {
                        self.words_buf = buf;
                        break;
                    }
                    Some(c) => ch = c,
                }
                words.add_raw_char(&mut buf, ch);
            } else {
                words.add_char(&mut buf, ch);
            }
            self.words_buf = buf;
            result.push(ch);
        }
        if let Some(s) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {s}"
            ));
        }
        Ok(())
    }

    fn process_single_quote(&mut self) -> Res<String> {
        let mut result = String::new();
        let open = self.next();
        if self.lex.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    );
                }
                Some('\'') => {
                    if self.lex.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Res<String> {
        let mut result = String::new();
        let open = self.next();
        if self.lex.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    );
                }
                Some('"') => {
                    self.next();
                    if self.lex.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let v = self.process_dollar()?;
                    result.push_str(&v);
                }
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == self.lex.escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == self.lex.escape => {
                                self.next();
                                ch = c;
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn process_dollar(&mut self) -> Res<String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lex.skip_unset_env => format!("${name}"),
                None => String::new(),
            });
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            _ => {}
        }
        let name = self.process_name();
        let first = self.next();
        let mut chs = first.map_or('\u{FFFD}'.to_string(), |c| c.to_string());
        match first {
            Some('}') => Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lex.skip_unset_env => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(c @ (':' | '+' | '-' | '?' | '#' | '%')) => {
                let mut ch = Some(c);
                let null_is_unset = c == ':';
                if null_is_unset {
                    ch = self.next();
                    chs.push(ch.unwrap_or('\u{FFFD}'));
                }
                let raw = matches!(ch, Some('#' | '%'));
                if null_is_unset && raw {
                    return Err(format!("unsupported modifier ({chs}) in substitution"));
                }
                let word = match self.process_stop_on(Some('}'), raw) {
                    Ok((w, _)) => w,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '}'".into());
                        }
                        return Err(e);
                    }
                };
                let value = self.get_env(&name);
                if self.lex.skip_unset_env && value.is_none() {
                    return Ok(format!("${{{name}{chs}{word}}}"));
                }
                let set = value.is_some();
                let value = value.unwrap_or_default();
                let unset_like = !set || (null_is_unset && value.is_empty());
                match ch {
                    Some('-') => Ok(if unset_like { word } else { value }),
                    Some('+') => Ok(if unset_like { String::new() } else { word }),
                    Some('?') => {
                        if !set {
                            let m = if word.is_empty() {
                                "is not allowed to be unset".into()
                            } else {
                                word
                            };
                            return Err(format!("{name}: {m}"));
                        }
                        if null_is_unset && value.is_empty() {
                            let m = if word.is_empty() {
                                "is not allowed to be empty".into()
                            } else {
                                word
                            };
                            return Err(format!("{name}: {m}"));
                        }
                        Ok(value)
                    }
                    Some(m @ ('%' | '#')) => {
                        let (greedy, pat) = match word.strip_prefix(m) {
                            Some(rest) => (true, rest.to_string()),
                            None => (false, word),
                        };
                        if m == '%' {
                            trim_suffix(&pat, &value, greedy)
                        } else {
                            trim_prefix(&pat, &value, greedy)
                        }
                    }
                    _ => Err(format!("unsupported modifier ({chs}) in substitution")),
                }
            }
            Some('/') => {
                let replace_all = self.peek() == Some('/');
                if replace_all {
                    self.next();
                }
                let pattern = match self.process_stop_on(Some('/'), true) {
                    Ok((w, _)) => w,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '/' in ${}".into());
                        }
                        return Err(e);
                    }
                };
                let replacement = match self.process_stop_on(Some('}'), true) {
                    Ok((w, _)) => w,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '}'".into());
                        }
                        return Err(e);
                    }
                };
                let value = self.get_env(&name);
                if self.lex.skip_unset_env && value.is_none() {
                    return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
                }
                let value = value.unwrap_or_default();
                let re = shell_pattern_regex(&pattern, true, false)
                    .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
                if replace_all {
                    Ok(re.replace_all(&value, replacement.as_str()).into_owned())
                } else if let Some(m) = re.find(&value) {
                    Ok(format!(
                        "{}{}{}",
                        &value[..m.start()],
                        replacement,
                        &value[m.end()..]
                    ))
                } else {
                    Ok(value)
                }
            }
            _ => Err(format!("unsupported modifier ({chs}) in substitution")),
        }
    }

    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_numeric() {
                while let Some(d) = self.peek().filter(|c| c.is_numeric()) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphabetic() && !ch.is_numeric() && ch != '_' {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }

    fn process_possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.next();
        let mut out = String::from("<<");
        while let Some(c) = self.peek().filter(|c| matches!(c, '\t' | '\r' | ' ')) {
            out.push(c);
            self.next();
        }
        out
    }

    fn get_env(&mut self, name: &str) -> Option<String> {
        match self.env.get(name) {
            Some(v) => {
                self.matched.insert(name.to_string());
                Some(v)
            }
            None => {
                self.unmatched.insert(name.to_string());
                None
            }
        }
    }
}

/// Converts a shell wildcard pattern (`?`, `*`, `\` escapes; no bracket expressions) to a
/// regular expression, as BuildKit's `convertShellPatternToRegex`.
fn shell_pattern_regex(
    pattern: &str,
    greedy: bool,
    anchored: bool,
) -> Result<regex::Regex, String> {
    let mut out = String::with_capacity(pattern.len() + 4);
    if anchored {
        out.push('^');
    }
    let star = if greedy { ".*" } else { ".*?" };
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let mut tok = chars[i];
        i += 1;
        match tok {
            '*' => {
                out.push_str(star);
                continue;
            }
            '?' => {
                out.push('.');
                continue;
            }
            '\\' => {
                // `}` and `/` are escaped inside `${}` but the escape is not part of the pattern.
                if matches!(chars.get(i), Some('}' | '/')) {
                    continue;
                }
                out.push('\\');
                // text/scanner returns EOF (-1) past the end; that is an invalid escape too.
                tok = match chars.get(i) {
                    Some(&c) => c,
                    None => return Err("invalid escape '\\\u{FFFD}'".to_string()),
                };
                i += 1;
                if !matches!(tok, '*' | '?' | '\\') {
                    return Err(format!("invalid escape '\\{tok}'"));
                }
            }
            '[' | ']' | '{' | '}' | '.' | '+' | '(' | ')' | '|' | '^' | '$' => out.push('\\'),
            _ => {}
        }
        out.push(tok);
    }
    regex::Regex::new(&out).map_err(|e| e.to_string())
}

fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Res<String> {
    let re = shell_pattern_regex(pattern, greedy, true)
        .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
    Ok(match re.find(value) {
        Some(m) => value[m.end()..].to_string(),
        None => value.to_string(),
    })
}

/// Reverses a pattern but keeps each `\x` escape pair in order (`a\*c` -> `c\*a`).
fn reverse_pattern(pattern: &str) -> String {
    let p: Vec<char> = pattern.chars().collect();
    let mut out = vec!['\0'; p.len()];
    let last = p.len().saturating_sub(1);
    let mut i = 0;
    while i < p.len() {
        let out_idx = last - i;
        if p[i] == '\\' && i != last {
            out[out_idx - 1] = p[i];
            out[out_idx] = p[i + 1];
            i += 2;
        } else {
            out[out_idx] = p[i];
            i += 1;
        }
    }
    out.into_iter().collect()
}

fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Res<String> {
    let rp = reverse_pattern(pattern);
    let rv: String = value.chars().rev().collect();
    let s = trim_prefix(&rp, &rv, greedy)?;
    Ok(s.chars().rev().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_with_either_escape_token() {
        let env = EnvList::from_pairs(&["A=1", "B=x y"]);
        for (escape, input, want) in [
            ('\\', r"$A\$A", "1$A"),
            ('`', r"$A`$A", "1$A"),
            ('`', r"C:\dir\$A", r"C:\dir\1"),
            ('\\', r#""${B}"'$B'"#, "x y$B"),
            ('\\', "${A:+set}${C:-unset}", "setunset"),
            ('\\', "${B// /_}", "x_y"),
        ] {
            assert_eq!(
                Lex::new(escape).process_word(input, &env).unwrap(),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn splits_words_and_keeps_unset_when_asked() {
        let env = EnvList::from_pairs(&["B=x y"]);
        let lex = Lex::new('\\');
        assert_eq!(
            lex.process_words("a $B 'c d'", &env).unwrap(),
            ["a", "x", "y", "c d"]
        );
        let mut keep = Lex::new('\\');
        keep.skip_unset_env = true;
        assert_eq!(
            keep.process_word("$NOPE ${NOPE:-d}", &env).unwrap(),
            "$NOPE ${NOPE:-d}"
        );
    }

    #[test]
    fn errors_name_the_word() {
        let err = Lex::new('\\')
            .process_word("${A:?must be set}", &empty_env())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "failed to process \"${A:?must be set}\": A: must be set"
        );
    }
}
