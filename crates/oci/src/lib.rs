//! The OCI image model: digests, descriptors, media types, manifests and indexes, image
//! configs, platforms and image references normalised as Docker does.
//!
//! Everything here is pure: no I/O. Other crates move bytes; this crate says what they mean.
//!
//! ```
//! use oci::Digest;
//! let d = Digest::sha256_of(b"");
//! assert_eq!(d.short(), "e3b0c44298fc");
//! ```

mod descriptor;
mod digest;
mod error;
pub mod manifest;
pub mod media;
mod platform;

pub use descriptor::Descriptor;
pub use digest::{Algorithm, Digest, Digester};
pub use error::OciError;
pub use manifest::{AnyManifest, Index, Manifest};
pub use platform::Platform;
