//! The error type of the `store` crate.

use std::path::PathBuf;

use oci::Digest;

/// Errors from the local store. Each variant says what was being done and where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An image, tag, blob or lease does not exist. `what` is the full message, such as
    /// "No such image: alpine:latest".
    #[error("{what}")]
    NotFound {
        /// What was looked for, phrased as the message to show.
        what: String,
    },
    /// Content did not hash to the digest it was stored under.
    #[error("content hashes to {actual}, expected {expected}")]
    DigestMismatch {
        /// The digest the descriptor promised.
        expected: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// Content had a different length than its descriptor promised.
    #[error("content of {digest} is {actual} bytes, expected {expected}")]
    SizeMismatch {
        /// The blob being written.
        digest: Digest,
        /// The size the descriptor promised.
        expected: u64,
        /// The number of bytes received.
        actual: u64,
    },
    /// The operation conflicts with the store's state (an image in use, in several
    /// repositories, ...). The message is Docker's wording.
    #[error("{message}")]
    Conflict {
        /// The full message, such as "conflict: unable to delete 3f57d9401f8d (must be
        /// forced) - image is referenced in multiple repositories".
        message: String,
    },
    /// A file-system operation failed.
    #[error("{op} {}", path.display())]
    Io {
        /// What was being done ("cannot read", "cannot rename into").
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A metadata database operation failed.
    #[error("metadata database: {context}")]
    Db {
        /// What was being done.
        context: String,
        /// The cause.
        source: rusqlite::Error,
    },
    /// Stored content or an argument is malformed.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// What was malformed ("manifest sha256:...", "image reference").
        what: String,
        /// Why.
        detail: String,
    },
}

impl StoreError {
    /// Whether this is a "does not exist" error (exit code / HTTP 404 in callers).
    pub fn is_not_found(&self) -> bool {
        matches!(self, StoreError::NotFound { .. })
    }

    /// Whether this is a conflict with the store's state (HTTP 409 in callers).
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }

    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn db(context: impl Into<String>, source: rusqlite::Error) -> Self {
        StoreError::Db {
            context: context.into(),
            source,
        }
    }

    pub(crate) fn not_found(what: impl Into<String>) -> Self {
        StoreError::NotFound { what: what.into() }
    }
}
