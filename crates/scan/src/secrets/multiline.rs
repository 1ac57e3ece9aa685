//! Rules that need more than one line: PEM private keys (a `BEGIN` line, a base64 body,
//! an `END` line) and GCP service-account key files (a `"type": "service_account"` line and
//! a `"private_key"` line in one JSON file).

use regex::bytes::Regex;

/// A key body shorter than this is a stub in documentation, not a key (the smallest real
/// key, an Ed25519 PKCS#8 one, has 64 base64 characters; gitleaks asks the same).
const MIN_BODY: usize = 64;
/// Lines a PEM block may span before it is given up on (a 16384-bit RSA key has ~230).
const MAX_LINES: usize = 2000;

/// The PEM tracker's regexes, compiled once per [`super::Scanner`].
#[derive(Debug)]
pub(crate) struct Patterns {
    begin: Regex,
    end: Regex,
    gcp_type: Regex,
    gcp_key: Regex,
}

impl Patterns {
    pub(crate) fn new() -> Patterns {
        let re = |s: &str| Regex::new(s).expect("built-in multi-line regex compiles");
        Patterns {
            begin: re(r"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"),
            end: re(r"-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----"),
            gcp_type: re(r#""type"\s*:\s*"service_account""#),
            gcp_key: re(r#""private_key"\s*:\s*"-----BEGIN"#),
        }
    }
}

/// A PEM block being read: where it began and how much body it has.
#[derive(Debug)]
struct Pending {
    line: usize,
    begin: Vec<u8>,
    body: usize,
    lines: usize,
}

/// A multi-line rule's finding: the line it starts on and the text shown for it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Hit {
    pub(crate) rule: Which,
    pub(crate) line: usize,
    pub(crate) redacted: String,
}

/// Which multi-line rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    PrivateKey,
    GcpServiceAccount,
}

/// One file's multi-line state.
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    pending: Option<Pending>,
    gcp_type_line: Option<(usize, String)>,
    gcp_key: bool,
}

fn is_body_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}

impl Tracker {
    /// Whether a block is open, so the next line must be fed whatever its keywords.
    pub(crate) fn open(&self) -> bool {
        self.pending.is_some()
    }

    /// Feeds one line (without its newline). `keyword` says whether the prefilter saw a
    /// multi-line rule's keyword on it; a line in an open block is fed regardless.
    pub(crate) fn feed(
        &mut self,
        p: &Patterns,
        number: usize,
        line: &[u8],
        keyword: bool,
    ) -> Option<Hit> {
        if let Some(pending) = &mut self.pending {
            let text = line.trim_ascii();
            pending.lines += 1;
            if p.end.is_match(text) {
                let done = self.pending.take().expect("pending checked above");
                return (done.body >= MIN_BODY).then(|| key_hit(done.line, &done.begin));
            }
            if text.iter().all(|&b| is_body_char(b)) {
                pending.body += text.len();
            } else if !(pending.body == 0 && text.contains(&b':')) || pending.lines > MAX_LINES {
                // Not a PEM body line (nor an RFC 1421 header before it): code or prose that
                // mentions a key header.
                self.pending = None;
            }
            return None;
        }
        if !keyword {
            return None;
        }
        if p.gcp_type.is_match(line) && self.gcp_type_line.is_none() {
            self.gcp_type_line = Some((number, super::shorten(&String::from_utf8_lossy(line))));
        }
        if p.gcp_key.is_match(line) {
            self.gcp_key = true;
        }
        let begin = p.begin.find(line)?;
        let rest = &line[begin.end()..];
        let label = begin.as_bytes().to_vec();
        if let Some(end) = p.end.find(rest) {
            // A whole key on one line: JSON (`\n` escapes) or a one-line env value.
            let body = rest[..end.start()]
                .split(|&b| b == b'\\')
                .map(|part| part.strip_prefix(b"n").unwrap_or(part))
                .flat_map(|part| part.iter())
                .filter(|&&b| is_body_char(b))
                .count();
            return (body >= MIN_BODY).then(|| key_hit(number, &label));
        }
        if rest.trim_ascii().is_empty() {
            self.pending = Some(Pending {
                line: number,
                begin: label,
                body: 0,
                lines: 0,
            });
        }
        None
    }

    /// What the whole file shows once read: a service-account key file.
    pub(crate) fn finish(self) -> Option<Hit> {
        match (self.gcp_type_line, self.gcp_key) {
            (Some((line, text)), true) => Some(Hit {
                rule: Which::GcpServiceAccount,
                line,
                // The key is on another line: the type line is shown, the key masked.
                redacted: format!("{text} … \"private_key\": \"****\""),
            }),
            _ => None,
        }
    }
}

fn key_hit(line: usize, begin: &[u8]) -> Hit {
    Hit {
        rule: Which::PrivateKey,
        line,
        redacted: format!("{}****", String::from_utf8_lossy(begin)),
    }
}
