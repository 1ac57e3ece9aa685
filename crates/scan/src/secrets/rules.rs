//! The built-in single-line rules: one regex each, with the keywords that must be on a line
//! before the regex runs (as Trivy and gitleaks do: most lines hold none, so most lines
//! cost one Aho-Corasick pass) and an allow check for known non-secrets.
//!
//! Private keys (which span lines) and GCP service-account files (which need two lines of
//! one file) are not here: see [`super::multiline`].

use regex::bytes::Regex;

use super::decode;

/// How bad a leaked secret of a rule's kind is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth a look (a token that may be short-lived, a password in a URL).
    Low,
    /// A credential with limited reach.
    Medium,
    /// A credential or key that grants access.
    High,
    /// A long-lived credential to a cloud account or a package registry.
    Critical,
}

impl Severity {
    /// `LOW`, `MEDIUM`, `HIGH`, `CRITICAL`, as Trivy spells them.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "LOW",
            Severity::Medium => "MEDIUM",
            Severity::High => "HIGH",
            Severity::Critical => "CRITICAL",
        }
    }
}

/// A check run on a regex match, rejecting what looks like a secret but is known not to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Allow {
    /// Every match is a finding.
    Nothing,
    /// AWS's documentation keys end in `EXAMPLE` (`AKIAIOSFODNN7EXAMPLE`,
    /// `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY`): published, never valid, and in every
    /// SDK's docs; gitleaks allows them the same way.
    AwsExample,
    /// A JWT's header must decode to a JSON object naming `alg`, else it is base64 that
    /// happens to start with `eyJ`.
    JwtHeader,
    /// A docker `auth` value must decode to `user:password` with a password.
    DockerAuth,
    /// Placeholders (`$PASS`, `{password}`, `<pass>`, `%s`, `****`, `password`, `secret`)
    /// and the same word as the user are documentation, not credentials.
    UrlPlaceholder,
    /// The storage emulator's well-known account (`AccountName=devstoreaccount1`, whose
    /// key Microsoft publishes) is not a secret.
    AzureEmulator,
}

/// One single-line rule.
#[derive(Debug)]
pub struct Rule {
    /// The id (`aws-access-key-id`), gitleaks'/Trivy's where they have one.
    pub id: &'static str,
    /// For humans (`AWS Access Key ID`).
    pub title: &'static str,
    /// How bad.
    pub severity: Severity,
    /// At least one of these (ASCII case-insensitive) must be on a line for the regex to run.
    pub keywords: &'static [&'static str],
    /// Only files whose path (relative to the root) matches, when set.
    pub(crate) path: Option<Regex>,
    /// The pattern; its group named `secret` is what is masked.
    pub(crate) regex: Regex,
    pub(crate) allow: Allow,
}

impl Rule {
    /// Whether this rule looks at a file with this path.
    pub(crate) fn applies_to(&self, path: &str) -> bool {
        self.path
            .as_ref()
            .is_none_or(|p| p.is_match(path.as_bytes()))
    }

    /// Whether a match's secret (with the whole match and the line, for context) is a real
    /// finding.
    pub(crate) fn accepts(&self, line: &[u8], whole: &[u8], secret: &[u8]) -> bool {
        match self.allow {
            Allow::Nothing => true,
            Allow::AwsExample => !secret.ends_with(b"EXAMPLE") && !secret.ends_with(b"EXAMPLEKEY"),
            Allow::JwtHeader => jwt_header_names_alg(secret),
            Allow::DockerAuth => decode::standard(secret)
                .and_then(|d| d.iter().position(|&b| b == b':').map(|i| d.len() > i + 1))
                .unwrap_or(false),
            Allow::UrlPlaceholder => !url_password_is_placeholder(whole, secret),
            Allow::AzureEmulator => !contains_ci(line, b"AccountName=devstoreaccount1"),
        }
    }
}

fn contains_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

fn jwt_header_names_alg(token: &[u8]) -> bool {
    let header = token.split(|&b| b == b'.').next().unwrap_or_default();
    decode::url_safe(header).is_some_and(|h| h.starts_with(b"{") && contains_ci(&h, b"\"alg\""))
}

/// Words that documentation writes where a password goes, compared after
/// [`normalise`] (so `p%40ssw0rd` and `pa/ssword` are `password`).
const PLACEHOLDERS: &[&str] = &[
    "password", "passwd", "pass", "pwd", "secret", "changeme", "example", "dummy", "xxx", "test",
    "user", "foo", "bar", "baz", "token", "apikey", "key", "none", "null", "redacted", "hidden",
    "hunter", "qwerty", "letmein", "abc", "xyz",
];

/// Hosts reserved for documentation (RFC 2606 and 6761) and made-up ones.
const DOC_HOSTS: &[&str] = &[
    "example.com",
    "example.org",
    "example.net",
    ".example",
    ".test",
    ".invalid",
    "localhost",
    ".local",
    ".faketld",
];

/// A shorter password is documentation's `a:b@`, `abc:xyz@`, `jschmoe:xyzzy@`; real
/// secrets in URLs are longer (the bound costs recall on 5-character passwords, on
/// purpose).
const MIN_URL_PASSWORD: usize = 6;

/// Percent-decodes, lowercases, maps digits and symbols written for letters (`p@55w0rd`)
/// and drops the rest of the punctuation.
fn normalise(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied().and_then(hex),
            bytes.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                decoded.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded)
        .chars()
        .filter_map(|c| match c.to_ascii_lowercase() {
            '@' | '4' => Some('a'),
            '0' => Some('o'),
            '1' | '!' => Some('i'),
            '3' => Some('e'),
            '5' | '$' => Some('s'),
            '7' => Some('t'),
            c if c.is_ascii_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

fn url_password_is_placeholder(whole: &[u8], password: &[u8]) -> bool {
    let Ok(pw) = std::str::from_utf8(password) else {
        return true;
    };
    let text = String::from_utf8_lossy(whole).to_ascii_lowercase();
    let (userinfo, host) = text
        .split_once("://")
        .and_then(|(_, rest)| rest.rsplit_once('@'))
        .unwrap_or_default();
    let user = userinfo.split(':').next().unwrap_or_default();
    let plain = normalise(pw);
    // Templating and masking: `$PASS`, `${X}`, `{pw}`, `<pass>`, `%s`, `****`, `...`.
    pw.starts_with(['$', '{', '<', '%', '*', '[', '(', ':'])
        || pw
            .chars()
            .all(|c| matches!(c, '*' | 'x' | 'X' | '.' | '-' | '_'))
        || plain.len() < MIN_URL_PASSWORD
        || plain == normalise(user)
        || PLACEHOLDERS.iter().any(|w| plain.contains(w))
        || DOC_HOSTS.iter().any(|h| {
            host == h.trim_start_matches('.') || host.ends_with(h) || host.starts_with("example.")
        })
}

fn rule(
    id: &'static str,
    title: &'static str,
    severity: Severity,
    keywords: &'static [&'static str],
    regex: &str,
    allow: Allow,
) -> Rule {
    Rule {
        id,
        title,
        severity,
        keywords,
        path: None,
        regex: Regex::new(regex).expect("built-in rule regex compiles"),
        allow,
    }
}

/// The built-in single-line rules. Every regex has a `secret` group; boundaries on both
/// sides keep a token from matching inside a longer run of the same alphabet (base64 blobs
/// in certificates and test data hold `AKIA…`-like runs).
pub(crate) fn builtin() -> Vec<Rule> {
    use Severity::*;
    let mut rules = vec![
        rule(
            "aws-access-key-id",
            "AWS Access Key ID",
            Critical,
            &["AKIA", "ASIA", "ABIA", "ACCA", "A3T"],
            r"(?:^|[^A-Za-z0-9/+])(?P<secret>(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16})(?:$|[^A-Za-z0-9/+=])",
            Allow::AwsExample,
        ),
        rule(
            "aws-secret-access-key",
            "AWS Secret Access Key",
            Critical,
            &["secret"],
            r#"(?i)aws[_.-]?secret[_.-]?(?:access[_.-]?)?key["']?\s*(?::|=>|=)\s*["']?(?P<secret>[A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+=])"#,
            Allow::AwsExample,
        ),
        rule(
            "github-pat",
            "GitHub Personal Access Token",
            Critical,
            &["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"],
            r"(?:^|[^A-Za-z0-9_])(?P<secret>gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59})(?:$|[^A-Za-z0-9_])",
            Allow::Nothing,
        ),
        rule(
            "gitlab-pat",
            "GitLab Personal Access Token",
            Critical,
            &["glpat-"],
            r"(?:^|[^A-Za-z0-9_-])(?P<secret>glpat-[A-Za-z0-9_-]{20})(?:$|[^A-Za-z0-9_-])",
            Allow::Nothing,
        ),
        rule(
            "slack-token",
            "Slack Token",
            High,
            &["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"],
            r"(?:^|[^A-Za-z0-9-])(?P<secret>xox[baprs]-[0-9]{8,14}-[0-9A-Za-z-]{8,})",
            Allow::Nothing,
        ),
        rule(
            "slack-webhook",
            "Slack Webhook URL",
            Medium,
            &["hooks.slack.com"],
            r"hooks\.slack\.com/(?:services|workflows)/(?P<secret>T[A-Z0-9]{6,}/[AB][A-Z0-9]{6,}/[A-Za-z0-9]{20,})",
            Allow::Nothing,
        ),
        rule(
            "google-api-key",
            "Google API Key",
            High,
            &["AIza"],
            r"(?:^|[^A-Za-z0-9_-])(?P<secret>AIza[0-9A-Za-z_-]{35})(?:$|[^A-Za-z0-9_-])",
            Allow::Nothing,
        ),
        rule(
            "stripe-secret-key",
            "Stripe Secret Key",
            Critical,
            &["sk_live_", "rk_live_", "sk_test_", "rk_test_"],
            r"(?:^|[^A-Za-z0-9_])(?P<secret>[sr]k_(?:live|test)_[0-9A-Za-z]{24,99})(?:$|[^A-Za-z0-9_])",
            Allow::Nothing,
        ),
        rule(
            "npm-token",
            "npm Access Token",
            Critical,
            &["npm_"],
            r"(?:^|[^A-Za-z0-9_])(?P<secret>npm_[A-Za-z0-9]{36})(?:$|[^A-Za-z0-9_])",
            Allow::Nothing,
        ),
        rule(
            "pypi-token",
            "PyPI Upload Token",
            Critical,
            &["pypi-AgEIcHlwaS5vcmc"],
            r"(?P<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})",
            Allow::Nothing,
        ),
        rule(
            "jwt",
            "JSON Web Token",
            Medium,
            &["eyJ"],
            r"(?:^|[^A-Za-z0-9_-])(?P<secret>eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})",
            Allow::JwtHeader,
        ),
        rule(
            "azure-storage-key",
            "Azure Storage Account Key",
            Critical,
            &["AccountKey="],
            r"(?i)AccountKey=(?P<secret>[A-Za-z0-9+/]{86}==)",
            Allow::AzureEmulator,
        ),
        rule(
            "generic-password-in-url",
            "Password in URL",
            Medium,
            &["://"],
            r#"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^:/\s@'"<>{}$%]{1,64}:(?P<secret>[^@/\s'"<>]{1,128})@[A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9]"#,
            Allow::UrlPlaceholder,
        ),
    ];
    let mut docker = rule(
        "docker-config-auth",
        "Docker Registry Credentials",
        High,
        &["\"auth\""],
        r#""auth"\s*:\s*"(?P<secret>[A-Za-z0-9+/]{8,}={0,2})""#,
        Allow::DockerAuth,
    );
    docker.path = Some(
        Regex::new(r"(?:^|/)(?:\.docker/config\.json|containers/auth\.json)$")
            .expect("built-in path regex compiles"),
    );
    rules.push(docker);
    rules
}
