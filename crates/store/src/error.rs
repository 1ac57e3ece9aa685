//! The error type of the `store` crate.

/// Errors from the local store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Placeholder until the store lands.
    #[error("store error: {0}")]
    Other(String),
}
