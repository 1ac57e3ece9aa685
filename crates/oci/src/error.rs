//! The error type of the `oci` crate.

/// Errors from parsing or validating OCI data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// A digest string is malformed or uses an unknown algorithm.
    #[error("invalid digest {input:?}: {reason}")]
    InvalidDigest {
        /// What was given.
        input: String,
        /// Why it is refused.
        reason: String,
    },
    /// An image reference does not parse.
    #[error("invalid reference format {input:?}: {reason}")]
    InvalidReference {
        /// What was given.
        input: String,
        /// Why it is refused.
        reason: String,
    },
    /// An image reference breaks Docker's reference grammar; `source` says which rule.
    #[error("invalid image reference {input:?}")]
    Reference {
        /// What was given.
        input: String,
        /// The rule broken, with Go's message.
        #[source]
        source: crate::reference::ReferenceError,
    },
    /// A `--change` line (`docker commit/import --change`) cannot be applied.
    #[error("invalid change {line:?}: {reason}")]
    InvalidChange {
        /// The line as given.
        line: String,
        /// Why it is refused, and what is allowed.
        reason: String,
    },
    /// A platform string does not parse.
    #[error("invalid platform {input:?}: {reason}")]
    InvalidPlatform {
        /// What was given.
        input: String,
        /// Why it is refused.
        reason: String,
    },
    /// JSON that does not have the expected shape.
    #[error("malformed {what}")]
    InvalidJson {
        /// What was being parsed.
        what: &'static str,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// Content of a kind or version strata does not handle.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

impl OciError {
    /// For a reference error, which rule was broken.
    pub fn reference_kind(&self) -> Option<&crate::reference::ReferenceErrorKind> {
        match self {
            OciError::Reference { source, .. } => Some(&source.kind),
            _ => None,
        }
    }
}
