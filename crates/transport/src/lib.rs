//! Moving images between places: the local store, registries, OCI layout directories, OCI
//! archives and docker-archives.
//!
//! Each place implements [`ImageSource`] (read) and/or [`ImageDestination`] (write). One
//! engine, [`copy()`], walks manifests, picks platforms, skips what the destination
//! has, moves the rest in parallel, and verifies every digest and size. Pull, push, save, load
//! and `strata copy` are all calls to it.

mod address;
mod archive;
pub mod combine;
mod copy;
pub mod credentials;
mod error;
pub mod graft;
mod layout;
mod local;
mod progress;
pub mod registry;
mod retry;
mod source;

pub use address::ImageAddress;
pub use archive::{
    ArchiveImage, DockerArchiveDestination, DockerArchiveSource, EntryReader,
    OciArchiveDestination, OciArchiveSource, TarEntry, TarIndex, WithoutCommit, spool_to_tempfile,
};
pub use copy::{
    CopyOptions, CopyReport, FeedReader, LayerConsumer, LayerFeed, LayerTee, PlatformChoice,
    Verdict, copy,
};
pub use credentials::{
    CredentialStore, Credentials, erase_credentials, login, lookup_credentials, store_credentials,
};
pub use error::{TransportError, error_chain};
pub use layout::REF_NAME_ANNOTATION;
pub use layout::{LayoutDestination, LayoutSource, OciLayout};
pub use local::{StoreDestination, StoreSource};
pub use progress::ProgressEvent;
pub use registry::{
    DEFAULT_IDLE_TIMEOUT, IDLE_TIMEOUT_ENV, RegistryClient, RegistryDestination, RegistryOptions,
    RegistrySource,
};
pub use source::{BlobStream, ImageDestination, ImageSource};
