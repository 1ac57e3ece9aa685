//! Downloading osv.dev's per-ecosystem `all.zip` archives for `strata scan db update`:
//! streamed to files in a directory the caller then imports in one transaction, so a failed
//! or partial download never reaches the database.

use std::path::{Path, PathBuf};

use futures::StreamExt as _;
use tokio::io::AsyncWriteExt as _;
use transport::error_chain;

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The request failed or the server answered with an error.
    #[error("downloading {url}: {detail}")]
    Http {
        /// What was asked for.
        url: String,
        /// What went wrong.
        detail: String,
    },
    /// Writing the download failed.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// Downloads `url` into `dest`, streaming; returns the bytes written.
pub async fn download(client: &reqwest::Client, url: &str, dest: &Path) -> Result<u64, FetchError> {
    let http = |detail: String| FetchError::Http {
        url: url.to_string(),
        detail,
    };
    let write = |source| FetchError::Write {
        path: dest.to_path_buf(),
        source,
    };
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| http(error_chain(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(http(format!("the server answered {status}")));
    }
    let mut file = tokio::fs::File::create(dest).await.map_err(write)?;
    let mut body = resp.bytes_stream();
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk =
            chunk.map_err(|e| http(format!("the transfer broke off: {}", error_chain(&e))))?;
        file.write_all(&chunk).await.map_err(write)?;
        written += chunk.len() as u64;
    }
    file.flush().await.map_err(write)?;
    file.sync_all().await.map_err(write)?;
    Ok(written)
}
