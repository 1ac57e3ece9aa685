//! Blobs: their size, content, links into repositories, mounts and deletes.

use std::ops::Range;

use bytes::Bytes;
use oci::Digest;

use super::Registry;
use crate::error::{RepoError, StorageError};
use crate::hold;
use crate::layout::{blob_key, layer_link};
use crate::storage::{self, ByteStream};

impl Registry {
    /// The size of blob `d` in repository `name`, or `None` when the repository has no
    /// such blob.
    pub async fn blob_size(&self, name: &str, d: &Digest) -> Result<Option<u64>, RepoError> {
        if self.storage.stat(&layer_link(name, d)?).await?.is_none() {
            return Ok(None);
        }
        Ok(self.storage.stat(&blob_key(d)?).await?)
    }

    /// Reads blob `d` (or `range` of it) as a stream. Check it exists with
    /// [`Registry::blob_size`] first.
    pub async fn blob_read(
        &self,
        d: &Digest,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream<'static>, RepoError> {
        match self.storage.get(&blob_key(d)?, range).await {
            Ok(s) => Ok(s),
            Err(StorageError::NotFound { .. }) => Err(RepoError::BlobUnknown { digest: d.clone() }),
            Err(e) => Err(e.into()),
        }
    }

    /// Unlinks blob `d` from repository `name` (its bytes go when no repository links them,
    /// at garbage collection). Returns whether it was linked.
    pub async fn blob_delete(&self, name: &str, d: &Digest) -> Result<bool, RepoError> {
        Ok(self.storage.delete(&layer_link(name, d)?).await?)
    }

    /// Links blob `d`, which another repository `from` has, into `name`. Returns false (and
    /// links nothing) when `from` does not have it. With `from` `None`, any blob the
    /// registry holds may be mounted.
    pub async fn blob_mount(
        &self,
        name: &str,
        from: Option<&str>,
        d: &Digest,
    ) -> Result<bool, RepoError> {
        let present = match from {
            Some(from) => self.blob_size(from, d).await?.is_some(),
            None => self.storage.stat(&blob_key(d)?).await?.is_some(),
        };
        if !present {
            return Ok(false);
        }
        self.link_blob(name, d).await?;
        // A collector may have deleted the blob since it was checked (see crate::gc).
        Ok(self.storage.stat(&blob_key(d)?).await?.is_some())
    }

    /// Writes (or refreshes) the link of blob `d` in `name`, then waits out any garbage
    /// collector's hold on `d` and writes it again (see [`crate::gc`]).
    pub(super) async fn link_blob(&self, name: &str, d: &Digest) -> Result<(), RepoError> {
        let link = layer_link(name, d)?;
        for _ in 0..hold::HOLD_ATTEMPTS {
            storage::put_bytes(&*self.storage, &link, Bytes::from(d.to_string())).await?;
            let held = hold::holds_on(&*self.storage, &[d]).await?;
            if held.is_empty() {
                return Ok(());
            }
            hold::wait_released(&*self.storage, &held).await?;
        }
        Err(hold::busy("linking a blob"))
    }
}
