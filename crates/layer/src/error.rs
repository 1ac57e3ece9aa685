//! The error type of the `layer` crate.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong while compressing, applying or creating a layer.
///
/// Variants name the tar entry or file they concern; the underlying cause is chained as
/// `source`, not repeated in the message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// A file-system operation on `path` failed (for entries: the path inside the root).
    #[error("cannot {op} {}", path.display())]
    Io {
        /// What was being done (`create`, `remove`, `chown`, ...).
        op: &'static str,
        /// The file concerned; for an entry, its path relative to the layer root.
        path: PathBuf,
        /// The error from the kernel.
        #[source]
        source: io::Error,
    },
    /// Reading or writing a layer stream (tar, gzip, zstd) failed.
    #[error("layer stream: cannot {context}")]
    Stream {
        /// What was being done when the stream failed.
        context: String,
        /// The I/O or format error.
        #[source]
        source: io::Error,
    },
    /// A tar entry would reach outside the root, or names something it must not touch.
    #[error("tar entry {entry:?} is unsafe: {reason}")]
    UnsafePath {
        /// The entry's name as written in the tar.
        entry: String,
        /// Why it was refused.
        reason: String,
    },
    /// A tar entry is malformed or of a kind that cannot be applied.
    #[error("tar entry {entry:?} is invalid: {reason}")]
    InvalidEntry {
        /// The entry's name as written in the tar.
        entry: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An entry would replace a directory with a non-directory (or the reverse) where
    /// [`crate::ApplyOptions::no_overwrite_dir_non_dir`] forbids it.
    #[error(
        "tar entry {entry:?} would replace {} at {}",
        if *existing_dir { "a directory with a non-directory" } else { "a non-directory with a directory" },
        path.display()
    )]
    Overwrite {
        /// The entry's name as written in the tar.
        entry: String,
        /// Its path relative to the root.
        path: PathBuf,
        /// Whether what is there is a directory (the entry is not one).
        existing_dir: bool,
    },
    /// A compression name or media type is not one this crate knows.
    #[error("unknown layer compression {0:?} (expected gzip, zstd or none)")]
    UnknownCompression(String),
}

impl LayerError {
    /// Builds an [`LayerError::Io`] for `path`.
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> LayerError {
        LayerError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    /// Builds a [`LayerError::Stream`].
    pub(crate) fn stream(context: impl Into<String>, source: io::Error) -> LayerError {
        LayerError::Stream {
            context: context.into(),
            source,
        }
    }

    /// Whether the layer itself is at fault (hostile or malformed), rather than the system.
    pub fn is_bad_layer(&self) -> bool {
        matches!(
            self,
            LayerError::UnsafePath { .. } | LayerError::InvalidEntry { .. }
        )
    }
}
