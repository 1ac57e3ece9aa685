//! The `.dockerignore` matcher, as moby/patternmatcher: patterns are applied in order (a
//! later one wins), `!` re-includes, `**` crosses directories, `*` and `?` never match `/`,
//! `[...]` classes and `\` escapes follow Go's `filepath.Match`, and a pattern that matches
//! a parent directory matches everything below it.
//!
//! Paths are slash-separated and relative to the context root. Nothing here reads files:
//! [`read_ignore_file`] takes the file's text and [`ignore_file_candidates`] only names
//! which files to try.

use std::path::{Path, PathBuf};

pub use crate::glob::filepath_match;

/// A pattern list that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A pattern consisting of `!` alone.
    #[error("illegal exclusion pattern: \"!\"")]
    LoneExclamation,
    /// A malformed pattern (`[`, `[a-`, a trailing `\`).
    #[error("syntax error in pattern {0:?}")]
    BadPattern(String),
}

#[derive(Debug, Clone)]
enum Kind {
    Exact,
    Prefix(String),
    Suffix(String),
    Regex(regex::Regex),
}

/// One cleaned pattern.
#[derive(Debug, Clone)]
pub struct Pattern {
    cleaned: String,
    exclusion: bool,
    kind: Kind,
}

impl Pattern {
    /// The cleaned pattern text, without its `!`.
    pub fn as_str(&self) -> &str {
        &self.cleaned
    }

    /// Whether this is a `!` re-include.
    pub fn exclusion(&self) -> bool {
        self.exclusion
    }

    fn compile(cleaned: &str) -> Result<Kind, PatternError> {
        let bad = || PatternError::BadPattern(cleaned.to_string());
        let mut re = String::from("^");
        #[derive(PartialEq)]
        enum T {
            Exact,
            Prefix,
            Suffix,
            Regex,
        }
        let mut t = T::Exact;
        let chars: Vec<char> = cleaned.chars().collect();
        let mut i = 0;
        let mut idx = 0;
        let mut in_class = false;
        while i < chars.len() {
            let ch = chars[i];
            i += 1;
            match ch {
                '*' if chars.get(i) == Some(&'*') => {
                    i += 1;
                    if chars.get(i) == Some(&'/') {
                        i += 1;
                    }
                    if i == chars.len() {
                        if t == T::Exact {
                            t = T::Prefix;
                        } else {
                            re.push_str(".*");
                            t = T::Regex;
                        }
                    } else {
                        re.push_str("(.*/)?");
                        t = T::Regex;
                    }
                    if idx == 0 {
                        t = T::Suffix;
                    }
                }
                '*' => {
                    re.push_str("[^/]*");
                    t = T::Regex;
                }
                '?' => {
                    re.push_str("[^/]");
                    t = T::Regex;
                }
                '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                    re.push('\\');
                    re.push(ch);
                }
                '\\' => match chars.get(i) {
                    Some(&n) => {
                        i += 1;
                        push_go_escape(&mut re, n).map_err(|_| bad())?;
                        t = T::Regex;
                    }
                    None => re.push_str("\\\\"),
                },
                // Go's regexp reads `[` inside a class literally; Rust's would nest a class.
                '[' if in_class => re.push_str("\\["),
                '[' | ']' => {
                    in_class = ch == '[';
                    re.push(ch);
                    t = T::Regex;
                }
                // Class set operators in Rust's syntax (`&&`, `~~`), literal in Go's.
                '&' | '~' => push_escaped(&mut re, ch),
                _ => re.push(ch),
            }
            idx += 1;
        }
        Ok(match t {
            T::Exact => Kind::Exact,
            T::Prefix => Kind::Prefix(cleaned[..cleaned.len() - 2].to_string()),
            T::Suffix => Kind::Suffix(cleaned[2..].to_string()),
            T::Regex => {
                re.push('$');
                Kind::Regex(regex::Regex::new(&re).map_err(|_| bad())?)
            }
        })
    }

    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.cleaned,
            Kind::Prefix(p) => path.starts_with(p.as_str()),
            Kind::Suffix(s) => {
                path.ends_with(s.as_str()) || s.strip_prefix('/').is_some_and(|rest| path == rest)
            }
            Kind::Regex(re) => re.is_match(path),
        }
    }
}

/// Escapes one character for the regex, the way Go's `\x` escape reads it.
fn push_escaped(re: &mut String, c: char) {
    if !c.is_ascii_alphanumeric() {
        re.push_str(&regex::escape(&c.to_string()));
    }
}

/// An escaped character in a pattern becomes `\c` in upstream's Go regexp, where letters
/// name classes (`\d` is an ASCII digit, `\b` a word boundary). Translate those to the same
/// meaning in Rust's syntax; escapes Go's regexp rejects make the pattern invalid.
fn push_go_escape(re: &mut String, c: char) -> Result<(), ()> {
    if !c.is_ascii_alphanumeric() {
        push_escaped(re, c);
        return Ok(());
    }
    let s = match c {
        'd' => "[0-9]",
        'D' => "[^0-9]",
        's' => "[\\t\\n\\f\\r ]",
        'S' => "[^\\t\\n\\f\\r ]",
        'w' => "[0-9A-Za-z_]",
        'W' => "[^0-9A-Za-z_]",
        'b' => "(?-u:\\b)",
        'B' => "(?-u:\\B)",
        'A' => "\\A",
        'z' => "\\z",
        'a' => "\\x07",
        'f' => "\\f",
        't' => "\\t",
        'n' => "\\n",
        'r' => "\\r",
        'v' => "\\v",
        'x' => "\\x",
        'p' => "\\p",
        'P' => "\\P",
        _ => return Err(()),
    };
    re.push_str(s);
    Ok(())
}

/// Per-pattern results for a directory, passed to the calls for its children
/// (patternmatcher's `MatchInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchInfo {
    parent_matched: Vec<bool>,
}

/// A compiled `.dockerignore` pattern list.
#[derive(Debug, Clone)]
pub struct PatternMatcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

impl PatternMatcher {
    /// Trims, cleans (`filepath.Clean`) and checks each pattern; empty ones are dropped.
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let mut out = Vec::new();
        let mut exclusions = false;
        for p in patterns {
            let p = p.as_ref().trim();
            if p.is_empty() {
                continue;
            }
            let mut p = clean(p);
            let mut exclusion = false;
            if let Some(rest) = p.strip_prefix('!') {
                if rest.is_empty() {
                    return Err(PatternError::LoneExclamation);
                }
                exclusion = true;
                exclusions = true;
                p = rest.to_string();
            }
            if filepath_match(&p, ".").is_err() {
                return Err(PatternError::BadPattern(p));
            }
            let kind = Pattern::compile(&p)?;
            out.push(Pattern {
                cleaned: p,
                exclusion,
                kind,
            });
        }
        Ok(PatternMatcher {
            patterns: out,
            exclusions,
        })
    }

    /// Whether any pattern is a `!` re-include.
    pub fn exclusions(&self) -> bool {
        self.exclusions
    }

    /// The patterns in order.
    pub fn patterns(&self) -> &[Pattern] {
        &self.patterns
    }

    /// Whether `file` is excluded: it or one of its parent directories matches, and no later
    /// `!` pattern re-includes it.
    pub fn matches_or_parent_matches(&self, file: &str) -> bool {
        let parent = dir(file);
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut m = p.matches(file);
            if !m && parent != "." {
                m = (0..parent_dirs.len()).any(|i| p.matches(&parent_dirs[..=i].join("/")));
            }
            if m {
                matched = !p.exclusion;
            }
        }
        matched
    }

    /// Like [`matches_or_parent_matches`](Self::matches_or_parent_matches), but reuses the
    /// results of the parent directory (`MatchInfo::default()` when there are none) and
    /// returns this path's results for its children. A `MatchInfo` from a matcher with a
    /// different pattern count is treated as no parent information.
    pub fn matches_using_parent_results(
        &self,
        file: &str,
        parent: &MatchInfo,
    ) -> (bool, MatchInfo) {
        let have_parent =
            parent.parent_matched.len() == self.patterns.len() && !self.patterns.is_empty();
        let mut info = MatchInfo {
            parent_matched: vec![false; self.patterns.len()],
        };
        let mut matched = false;
        for (i, p) in self.patterns.iter().enumerate() {
            let mut m = have_parent && parent.parent_matched[i];
            if !m {
                if p.exclusion != matched {
                    continue;
                }
                m = p.matches(file);
                if !m && !have_parent {
                    let pp = dir(file);
                    if pp != "." {
                        let dirs: Vec<&str> = pp.split('/').collect();
                        m = (0..dirs.len()).any(|j| p.matches(&dirs[..=j].join("/")));
                    }
                }
            }
            info.parent_matched[i] = m;
            if m {
                matched = !p.exclusion;
            }
        }
        (matched, info)
    }

    /// The deprecated single-parent check (`PatternMatcher.Matches`): only the parent
    /// prefix as deep as the pattern is tried. Kept for parity with Docker's classic
    /// builder.
    pub fn matches_legacy(&self, file: &str) -> bool {
        let parent = dir(file);
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut m = p.matches(file);
            let depth = p.cleaned.split('/').count();
            if !m && parent != "." && depth <= parent_dirs.len() {
                m = p.matches(&parent_dirs[..depth].join("/"));
            }
            if m {
                matched = !p.exclusion;
            }
        }
        matched
    }
}

/// patternmatcher's package-level `Matches`: cleans `file`, never excludes `.`.
pub fn matches(file: &str, patterns: &[&str]) -> Result<bool, PatternError> {
    let pm = PatternMatcher::new(patterns)?;
    let file = clean(file);
    if file == "." {
        return Ok(false);
    }
    Ok(pm.matches_legacy(&file))
}

/// patternmatcher's package-level `MatchesOrParentMatches`.
pub fn matches_or_parent_matches(file: &str, patterns: &[&str]) -> Result<bool, PatternError> {
    let pm = PatternMatcher::new(patterns)?;
    let file = clean(file);
    if file == "." {
        return Ok(false);
    }
    Ok(pm.matches_or_parent_matches(&file))
}

/// Reads `.dockerignore` text into patterns: a BOM is dropped, lines starting with `#` are
/// comments, lines are trimmed and cleaned, a leading `/` is stripped, `!` is kept.
pub fn read_ignore_file(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut p = line.trim();
        if p.is_empty() {
            continue;
        }
        let invert = p.starts_with('!');
        if invert {
            p = p[1..].trim();
        }
        let mut pat = String::new();
        if !p.is_empty() {
            pat = clean(p);
            if pat.len() > 1 && pat.starts_with('/') {
                pat.remove(0);
            }
        }
        if invert {
            pat.insert(0, '!');
        }
        out.push(pat);
    }
    out
}

/// Which ignore files apply to a build with Dockerfile `dockerfile`, in the order to try
/// them: `<name>.dockerignore` next to the Dockerfile wins, then `.dockerignore` at the
/// context root (returned as the relative path `.dockerignore`).
pub fn ignore_file_candidates(dockerfile: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(name) = dockerfile.file_name() {
        let mut n = name.to_os_string();
        n.push(".dockerignore");
        out.push(dockerfile.with_file_name(n));
    }
    out.push(PathBuf::from(".dockerignore"));
    out
}

/// Go's `path.Clean`: the shortest equivalent slash path.
pub fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            s => parts.push(s),
        }
    }
    let body = parts.join("/");
    match (rooted, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".into(),
        (false, false) => body,
    }
}

/// Go's `filepath.Dir` for slash paths.
fn dir(path: &str) -> String {
    match path.rfind('/') {
        Some(i) => clean(&path[..=i]),
        None => ".".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_like_go() {
        for (input, want) in [
            ("", "."),
            ("a/b/../c", "a/c"),
            ("./a//b/", "a/b"),
            ("/../a", "/a"),
            ("../../a", "../../a"),
            ("a/..", "."),
            ("/", "/"),
        ] {
            assert_eq!(clean(input), want, "{input}");
        }
    }

    #[test]
    fn escapes_follow_gos_regexp() {
        for (pattern, path, want) in [
            (r"a\.b", "a.b", true),
            (r"a\.b", "axb", false),
            (r"file\d", "file7", true),
            (r"file\d", "filed", false),
            (r"x\&y", "x&y", true),
            ("[[]x", "[x", true),
        ] {
            let pm = PatternMatcher::new(&[pattern]).unwrap();
            assert_eq!(pm.matches_or_parent_matches(path), want, "{pattern} {path}");
        }
        assert!(PatternMatcher::new(&[r"a\q"]).is_err());
    }

    #[test]
    fn parent_directory_rules() {
        let pm = PatternMatcher::new(&["build", "!build/keep.txt", "*.log"]).unwrap();
        for (path, want) in [
            ("build", true),
            ("build/out/a.o", true),
            ("build/keep.txt", false),
            ("src/main.rs", false),
            ("debug.log", true),
            ("logs/debug.log", false),
        ] {
            assert_eq!(pm.matches_or_parent_matches(path), want, "{path}");
        }
        assert!(pm.exclusions());
    }

    #[test]
    fn ignore_file_names_next_to_dockerfile_win() {
        for (dockerfile, want) in [
            (
                "Dockerfile",
                vec!["Dockerfile.dockerignore", ".dockerignore"],
            ),
            (
                "docker/app.Dockerfile",
                vec!["docker/app.Dockerfile.dockerignore", ".dockerignore"],
            ),
        ] {
            let got: Vec<PathBuf> = ignore_file_candidates(Path::new(dockerfile));
            let want: Vec<PathBuf> = want.into_iter().map(PathBuf::from).collect();
            assert_eq!(got, want, "{dockerfile}");
        }
    }
}
