//! A client for OCI / Docker registries (the distribution API), and the registry
//! [`ImageSource`](crate::ImageSource) and [`ImageDestination`](crate::ImageDestination).
//!
//! [`RegistryClient`] owns everything per host: the HTTP connection pool, the scheme
//! (HTTPS, or plain HTTP for loopback and insecure registries when HTTPS fails, as Docker
//! does), the authentication challenge, and bearer tokens cached per scope set.
//! [`RegistrySource`] reads one image; [`RegistryDestination`] writes to one repository.
//!
//! ```no_run
//! # async fn f() -> Result<(), transport::TransportError> {
//! use transport::ImageSource;
//! use transport::registry::{RegistryClient, RegistryOptions, RegistrySource};
//!
//! let client = RegistryClient::new("localhost:5000", RegistryOptions::default())?;
//! let src = RegistrySource::new(client, "app", "v1");
//! let top = src.resolve().await?;
//! let bytes = src.manifest(&top).await?;
//! # Ok(()) }
//! ```

mod auth;
mod challenge;
mod client;
mod destination;
mod referrers;
mod source;
mod upload_watch;

pub use challenge::{Challenge, parse_challenges};
pub use client::{DEFAULT_IDLE_TIMEOUT, IDLE_TIMEOUT_ENV, RegistryClient, RegistryOptions};
pub use destination::RegistryDestination;
pub use source::RegistrySource;

/// The header in which registries report a manifest's or blob's digest.
pub(crate) const DIGEST_HEADER: &str = "docker-content-digest";

/// The largest manifest or index we read (Docker's and containerd's limit).
pub(crate) const MAX_MANIFEST_SIZE: usize = 4 << 20;

/// The repository path on the registry: Docker Hub's official images live under `library/`.
pub(crate) fn repository_path(host: &str, repo: &str) -> String {
    let repo = repo.trim_matches('/');
    let hub = matches!(
        host,
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    );
    if hub && !repo.contains('/') {
        format!("library/{repo}")
    } else {
        repo.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_paths() {
        for (host, repo, want) in [
            ("docker.io", "ubuntu", "library/ubuntu"),
            ("docker.io", "library/ubuntu", "library/ubuntu"),
            ("docker.io", "user/app", "user/app"),
            ("localhost:5000", "app", "app"),
            ("localhost:5000", "a/b/c", "a/b/c"),
        ] {
            assert_eq!(repository_path(host, repo), want, "{host} {repo}");
        }
    }
}
