//! Moving images between places: the local store, registries, OCI layout directories, OCI
//! archives and docker-archives.
//!
//! Each place implements [`ImageSource`] (read) and/or [`ImageDestination`] (write). One
//! engine, [`copy`](crate::copy), walks manifests, picks platforms, skips what the destination
//! has, moves the rest in parallel, and verifies every digest and size. Pull, push, save, load
//! and `strata copy` are all calls to it.

mod error;
mod source;

pub use error::TransportError;
pub use source::{BlobStream, ImageDestination, ImageSource};
