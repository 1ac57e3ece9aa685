//! Paths never read for secrets: the subset of Trivy's built-in allow rules
//! (`pkg/fanal/secret/builtin-allow-rules.go`) that names where distributions and language
//! images keep their own files, which hold documentation and test vectors, not a user's
//! secrets.
//!
//! Not taken from Trivy: its `tests` rule (any path with `/test`, `-test`, `_test`,
//! `.test`) and `examples` rule (any path with `example`), which would also skip an
//! application's own `tests/.env` or `deploy-test/credentials` in an image; the rules'
//! own allow checks ([`super::rules`]) handle documented example keys instead.

use regex::Regex;

/// One skipped path family and why.
#[derive(Debug)]
pub(crate) struct Skip {
    /// Trivy's id for the same rule.
    pub(crate) id: &'static str,
    pub(crate) path: Regex,
}

/// The skipped paths (relative to the root, no leading `/`), Trivy's ids.
pub(crate) fn builtin() -> Vec<Skip> {
    [
        // Distribution files: docs, headers, libraries and their test data.
        ("usr-dirs", r"^usr/(?:share|include|lib)/"),
        ("vendor", r"/vendor/"),
        ("locale-dir", r"/locales?/"),
        ("markdown", r"\.md$"),
        // Language images' own installations.
        ("node.js", r"^opt/yarn-v[\d.]+/"),
        ("golang", r"^usr/local/go/"),
        ("python", r"^usr/local/lib/python[\d.]+/"),
        ("rubygems", r"^usr/lib/gems/"),
        ("wordpress", r"^usr/src/wordpress/"),
        ("anaconda-log", r"^var/log/anaconda/"),
    ]
    .into_iter()
    .map(|(id, re)| Skip {
        id,
        path: Regex::new(re).expect("built-in skip regex compiles"),
    })
    .collect()
}
