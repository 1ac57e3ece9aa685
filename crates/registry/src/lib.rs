//! An OCI distribution-spec v1.1 registry server.
//!
//! [`Server::bind`] serves the `/v2/` API over HTTP with axum. Content lives in a
//! [`storage::Storage`] backend ([`storage::FsStorage`] by default) laid out like CNCF
//! distribution's: blobs are content-addressed and shared by every repository, and each
//! repository holds links to the blobs and manifests pushed or mounted into it, plus its
//! tags and a referrers index. Authentication is anonymous or htpasswd (bcrypt) basic auth.

pub mod api;
pub mod auth;
pub mod error;
pub mod names;
pub mod repo;
pub mod server;
pub mod storage;

pub use error::{ApiError, Code, ServerError, StorageError};
pub use server::{Auth, Config, Server};
