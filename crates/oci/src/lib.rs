//! The OCI image model: digests, descriptors, media types, manifests and indexes, image
//! configs, platforms and image references normalised as Docker does.
//!
//! Everything here is pure: no I/O. Other crates move bytes; this crate says what they mean.
//!
//! - [`Digest`] names content (`sha256:<hex>`); a [`Digester`] computes one while bytes
//!   stream past. A [`Descriptor`] is media type + digest + size (+ platform in an index).
//! - [`Manifest`] lists a config and layers; an [`Index`] lists manifests per [`Platform`];
//!   [`AnyManifest`] tells them apart. [`choose`] picks an index entry for a platform as
//!   containerd does (exact variant first, then `arm/v7` → `v6` → `v5`, …).
//! - [`ImageConfig`] is the config blob (Docker's superset of OCI's; unknown fields kept);
//!   [`change::apply_changes`] applies `docker commit/import --change` lines to its
//!   [`ContainerConfig`].
//! - [`Reference`] is an image reference normalised as Docker does; [`reference`] also has
//!   Go's `distribution/reference` functions, checked against its test corpus.
//! - [`go_duration`] reads and prints durations as Go's `time` package does (healthcheck
//!   intervals, `--since`, prune filters).
//!
//! ```
//! use oci::{Digest, Platform, Reference};
//! let d = Digest::sha256_of(b"");
//! assert_eq!(d.short(), "e3b0c44298fc");
//! let r = Reference::parse("ubuntu").unwrap().with_digest(d);
//! assert_eq!(r.familiar_name(), "ubuntu");
//! assert_eq!(r.registry_api_host(), "registry-1.docker.io");
//! let p: Platform = "linux/aarch64".parse().unwrap();
//! assert_eq!(p.to_string(), "linux/arm64");
//! ```

pub mod change;
pub mod config;
mod descriptor;
mod digest;
mod error;
pub mod go_duration;
pub mod manifest;
pub mod media;
pub mod platform;
pub mod reference;

pub use config::{ContainerConfig, ImageConfig, chain_ids};
pub use descriptor::Descriptor;
pub use digest::{Algorithm, Digest, Digester};
pub use error::OciError;
pub use manifest::{AnyManifest, Index, Manifest};
pub use platform::{Platform, choose};
pub use reference::Reference;
