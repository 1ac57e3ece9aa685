//! store (being written)

mod error;
pub use error::StoreError;
