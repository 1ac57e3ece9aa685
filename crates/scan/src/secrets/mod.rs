//! Secrets in files: private keys, cloud access keys, tokens, by a rule set with ids.
//!
//! A file is read line by line, streaming, with bounded memory: at most [`MAX_FILE`] bytes
//! of it, lines cut at [`MAX_LINE`] bytes (the rest of a longer line, minified JavaScript
//! for instance, is not looked at), and a file with a NUL byte in its first [`BINARY_PROBE`]
//! bytes is binary and skipped. Each line first meets one Aho-Corasick pass over every
//! rule's keywords; only the rules whose keyword is on the line run their regex, so a
//! typical file costs one pass.
//!
//! Rule ids follow gitleaks' and Trivy's where they have the same rule (see [`rules`]);
//! what is never read follows Trivy's built-in allow list, in part (see [`skip`]).

mod decode;
mod multiline;
pub mod rules;
mod skip;

use std::io::{BufRead, BufReader, Read};

use aho_corasick::AhoCorasick;

use crate::catalog::FileMeta;
use multiline::{Patterns, Tracker, Which};
pub use rules::Severity;

/// The most of one file read: past it, secrets are not looked for (config and key files
/// are far smaller; the bound keeps a huge log from costing a scan's time).
pub const MAX_FILE: u64 = 16 << 20;
/// The longest line looked at; the rest of a longer line is skipped.
pub const MAX_LINE: usize = 64 << 10;
/// How many leading bytes are checked for a NUL (as git and Trivy tell binary files).
pub const BINARY_PROBE: usize = 8 << 10;
/// Shown text is cut to this many characters either side of the secret.
const CONTEXT: usize = 60;

/// File name endings that are never text (Trivy skips the same kind of list): offered no
/// read at all, so a scan does not pay even the binary probe for them.
const BINARY_EXTENSIONS: &[&str] = &[
    ".png", ".jpg", ".jpeg", ".gif", ".ico", ".webp", ".bmp", ".tif", ".tiff", ".pdf", ".doc",
    ".docx", ".xls", ".xlsx", ".gz", ".tgz", ".bz2", ".xz", ".zst", ".zip", ".jar", ".war", ".whl",
    ".deb", ".rpm", ".apk", ".tar", ".7z", ".so", ".a", ".o", ".pyc", ".pyo", ".class", ".woff",
    ".woff2", ".ttf", ".otf", ".mo", ".db", ".sqlite", ".bin", ".iso", ".mp3", ".mp4",
];

/// One secret found in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The rule's id (`aws-access-key-id`, `private-key`).
    pub rule_id: String,
    /// What the rule finds, for humans (`AWS Access Key ID`).
    pub title: String,
    /// `CRITICAL`, `HIGH`, `MEDIUM` or `LOW`.
    pub severity: String,
    /// The 1-based line the match starts on.
    pub line: usize,
    /// The matched line with the secret itself masked.
    pub redacted: String,
}

/// What a keyword found on a line asks to run.
#[derive(Debug, Clone, Copy)]
enum Target {
    Rule(usize),
    Multiline,
}

/// A rule's id, title and severity, for listing the rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    /// The id findings carry.
    pub id: &'static str,
    /// For humans.
    pub title: &'static str,
    /// How bad a finding is.
    pub severity: Severity,
}

/// Finds secrets in files by a rule set.
#[derive(Debug)]
pub struct Scanner {
    rules: Vec<rules::Rule>,
    skips: Vec<skip::Skip>,
    patterns: Patterns,
    keywords: AhoCorasick,
    targets: Vec<Target>,
}

impl Default for Scanner {
    fn default() -> Self {
        Scanner::builtin()
    }
}

const PRIVATE_KEY: RuleInfo = RuleInfo {
    id: "private-key",
    title: "Private Key",
    severity: Severity::High,
};
const GCP_SERVICE_ACCOUNT: RuleInfo = RuleInfo {
    id: "gcp-service-account",
    title: "GCP Service Account Key",
    severity: Severity::Critical,
};

impl Scanner {
    /// The built-in rule set.
    pub fn builtin() -> Scanner {
        let rules = rules::builtin();
        let mut words = Vec::new();
        let mut targets = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            for word in rule.keywords {
                words.push(*word);
                targets.push(Target::Rule(i));
            }
        }
        for word in ["PRIVATE KEY", "service_account"] {
            words.push(word);
            targets.push(Target::Multiline);
        }
        let keywords = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(&words)
            .expect("built-in keywords build an automaton");
        Scanner {
            rules,
            skips: skip::builtin(),
            patterns: Patterns::new(),
            keywords,
            targets,
        }
    }

    /// Every rule's id, title and severity, single-line rules first.
    pub fn rules(&self) -> Vec<RuleInfo> {
        let mut all: Vec<RuleInfo> = self
            .rules
            .iter()
            .map(|r| RuleInfo {
                id: r.id,
                title: r.title,
                severity: r.severity,
            })
            .collect();
        all.push(PRIVATE_KEY);
        all.push(GCP_SERVICE_ACCOUNT);
        all
    }

    /// Why a path is never read (Trivy's allow-rule id, `binary-extension`, `empty` or
    /// `too-large`), or `None` when it is read.
    pub fn skip_reason(&self, file: &FileMeta) -> Option<&'static str> {
        if file.size == 0 {
            return Some("empty");
        }
        if file.size > MAX_FILE {
            return Some("too-large");
        }
        let lower = file.path.to_ascii_lowercase();
        if BINARY_EXTENSIONS.iter().any(|ext| lower.ends_with(ext)) {
            return Some("binary-extension");
        }
        self.skips
            .iter()
            .find(|s| s.path.is_match(&file.path))
            .map(|s| s.id)
    }

    /// Whether this file is worth reading (text-sized, not a known binary path).
    pub fn wants(&self, file: &FileMeta) -> bool {
        self.skip_reason(file).is_none()
    }

    /// The secrets in a file's content, in line order. Reads at most [`MAX_FILE`] bytes;
    /// a binary file (a NUL in the first [`BINARY_PROBE`] bytes) has none.
    pub fn scan(&self, file: &FileMeta, content: &mut dyn Read) -> std::io::Result<Vec<Finding>> {
        let mut limited = content.take(MAX_FILE);
        let mut head = Vec::with_capacity(BINARY_PROBE);
        (&mut limited)
            .take(BINARY_PROBE as u64)
            .read_to_end(&mut head)?;
        if head.contains(&0) {
            return Ok(Vec::new());
        }
        let mut reader =
            BufReader::with_capacity(64 << 10, std::io::Cursor::new(head).chain(limited));
        let rules: Vec<bool> = self
            .rules
            .iter()
            .map(|r| r.applies_to(&file.path))
            .collect();
        let mut tracker = Tracker::default();
        let mut findings = Vec::new();
        let mut line = Vec::new();
        let mut number = 0;
        let mut wanted = vec![false; self.rules.len()];
        while next_line(&mut reader, &mut line)? {
            number += 1;
            wanted.iter_mut().for_each(|w| *w = false);
            let mut multiline = false;
            for m in self.keywords.find_overlapping_iter(&line[..]) {
                match self.targets[m.pattern().as_usize()] {
                    Target::Rule(i) => wanted[i] = rules[i],
                    Target::Multiline => multiline = true,
                }
            }
            if (multiline || tracker.open())
                && let Some(hit) = tracker.feed(&self.patterns, number, &line, multiline)
            {
                findings.push(multi_finding(hit));
            }
            for (rule, _) in self.rules.iter().zip(&wanted).filter(|(_, w)| **w) {
                for caps in rule.regex.captures_iter(&line) {
                    let secret = caps.name("secret").expect("every rule has a secret group");
                    if rule.accepts(&line, &caps[0], secret.as_bytes()) {
                        findings.push(Finding {
                            rule_id: rule.id.to_owned(),
                            title: rule.title.to_owned(),
                            severity: rule.severity.as_str().to_owned(),
                            line: number,
                            redacted: redact(&line, secret.start(), secret.end()),
                        });
                    }
                }
            }
        }
        if let Some(hit) = tracker.finish() {
            findings.push(multi_finding(hit));
        }
        findings.sort_by_key(|f| f.line);
        Ok(findings)
    }
}

fn multi_finding(hit: multiline::Hit) -> Finding {
    let info = match hit.rule {
        Which::PrivateKey => PRIVATE_KEY,
        Which::GcpServiceAccount => GCP_SERVICE_ACCOUNT,
    };
    Finding {
        rule_id: info.id.to_owned(),
        title: info.title.to_owned(),
        severity: info.severity.as_str().to_owned(),
        line: hit.line,
        redacted: hit.redacted,
    }
}

/// Reads the next line into `line` (without `\n` or `\r\n`), keeping at most [`MAX_LINE`]
/// bytes of it; `false` at the end of the input.
fn next_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<bool> {
    line.clear();
    let mut any = false;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        any = true;
        let (chunk, used, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        reader.consume(used);
        if done {
            break;
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(any)
}

/// The line around the secret, with the secret replaced by `****`.
fn redact(line: &[u8], start: usize, end: usize) -> String {
    let before = String::from_utf8_lossy(&line[..start]);
    let after = String::from_utf8_lossy(&line[end..]);
    let before: String = {
        let chars: Vec<char> = before.chars().collect();
        chars[chars.len().saturating_sub(CONTEXT)..]
            .iter()
            .collect()
    };
    let after: String = after.chars().take(CONTEXT).collect();
    format!("{}****{}", before.trim_start(), after.trim_end())
}

/// A line cut for display.
pub(crate) fn shorten(text: &str) -> String {
    text.trim().chars().take(2 * CONTEXT).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_and_the_next_line_still_read() {
        let mut text = vec![b'a'; MAX_LINE + 10];
        text.extend_from_slice(b"\r\nsecond\n");
        let mut reader = BufReader::with_capacity(16, &text[..]);
        let mut line = Vec::new();
        assert!(next_line(&mut reader, &mut line).unwrap());
        assert_eq!(line.len(), MAX_LINE);
        assert!(next_line(&mut reader, &mut line).unwrap());
        assert_eq!(line, b"second");
        assert!(!next_line(&mut reader, &mut line).unwrap());
    }

    #[test]
    fn redaction_keeps_context_and_masks_the_secret() {
        assert_eq!(redact(b"  key = SECRET # note", 8, 14), "key = **** # note");
        let long = format!("{}X{}", "b".repeat(100), "a".repeat(100));
        let shown = redact(long.as_bytes(), 100, 101);
        assert_eq!(
            shown,
            format!("{}****{}", "b".repeat(CONTEXT), "a".repeat(CONTEXT))
        );
    }
}
