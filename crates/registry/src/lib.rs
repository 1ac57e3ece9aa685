//! An OCI distribution-spec v1.1 registry server.
//!
//! [`Server::bind`] serves the `/v2/` API with axum, over HTTP or HTTPS ([`tls`]). Content
//! lives in a [`storage::Storage`] backend laid out like CNCF distribution's: blobs are
//! content-addressed and shared by every repository, and each repository holds links to the
//! blobs and manifests pushed or mounted into it, plus its tags and a referrers index. The
//! filesystem backend is the default; the object-storage backend lets several servers share
//! one bucket and nothing else.
//!
//! Around the content: [`auth`] (anonymous, htpasswd basic auth, or bearer tokens from the
//! built-in token endpoint with per-repository permissions), [`gc`] (online garbage
//! collection that needs no lock between replicas), [`proxy`] (pull-through cache of an
//! upstream registry), [`metrics`] (Prometheus) and [`config`] (the TOML/YAML file).

pub mod api;
pub mod auth;
pub mod cache;
pub mod config;
pub mod error;
pub mod gc;
pub mod health;
mod hold;
mod layout;
pub mod metrics;
pub mod names;
pub mod proxy;
pub mod repo;
pub mod serve;
pub mod server;
pub mod signed;
pub mod storage;
pub mod tls;

pub use error::{ApiError, Code, RepoError, ServerError, StorageError};
pub use server::{Auth, Config, Server};
