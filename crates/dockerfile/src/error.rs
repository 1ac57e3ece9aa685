//! The one error type of the crate: what went wrong, where, and how to fix it.

use std::fmt;

/// A Dockerfile that cannot be parsed or typed. Displays as
/// `Dockerfile:3:1: unknown instruction: RUNN (did you mean RUN?)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file name (`Dockerfile` unless the caller named it).
    pub file: String,
    /// The 1-based line of the instruction at fault.
    pub line: usize,
    /// The 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when we can tell (`did you mean RUN?`).
    pub hint: Option<String>,
}

impl ParseError {
    /// An error at `file:line:column`.
    pub fn new(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        ParseError {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ParseError {}

/// Levenshtein distance, for "did you mean" suggestions.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest candidate within distance 2 (or a third of the word), if any.
pub(crate) fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let w = word.to_ascii_lowercase();
    let limit = (w.len() / 3).max(2);
    candidates
        .iter()
        .map(|c| (edit_distance(&w, &c.to_ascii_lowercase()), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = ["RUN", "COPY", "ENTRYPOINT", "WORKDIR"];
        for (word, want) in [
            ("RUNN", Some("RUN")),
            ("copy", Some("COPY")),
            ("ENTRYPIONT", Some("ENTRYPOINT")),
            ("WORKDRI", Some("WORKDIR")),
            ("BANANA", None),
        ] {
            assert_eq!(suggest(word, &names), want, "{word}");
        }
    }
}
