//! What a repository lists: its tags, the catalog of repositories, and referrers.

use oci::{Descriptor, Digest};

use super::Registry;
use crate::error::{RepoError, StorageError};
use crate::layout::{referrers_dir, repo_key, tag_key};
use crate::storage;

impl Registry {
    /// The digest tag `tag` of `name` holds, or `None` when there is no such tag.
    pub(super) async fn tag_target(
        &self,
        name: &str,
        tag: &str,
    ) -> Result<Option<Digest>, RepoError> {
        match storage::read_small(&*self.storage, &tag_key(name, tag)?, 1024).await {
            Ok(b) => String::from_utf8_lossy(&b)
                .trim()
                .parse::<Digest>()
                .map(Some)
                .map_err(|e| RepoError::CorruptTag {
                    name: name.to_string(),
                    tag: tag.to_string(),
                    reason: e.to_string(),
                }),
            Err(StorageError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether repository `name` exists (anything was ever pushed to it).
    pub async fn repository_exists(&self, name: &str) -> Result<bool, RepoError> {
        let k = repo_key(name, "_manifests")?;
        Ok(!self.storage.list(&k).await?.is_empty()
            || !self
                .storage
                .list(&repo_key(name, "_layers")?)
                .await?
                .is_empty())
    }

    /// The tags of `name`, sorted.
    pub async fn tags(&self, name: &str) -> Result<Vec<String>, RepoError> {
        let k = repo_key(name, "_manifests/tags")?;
        Ok(self.storage.list(&k).await?)
    }

    /// Every repository name with manifests, sorted.
    pub async fn catalog(&self) -> Result<Vec<String>, RepoError> {
        Ok(crate::layout::repositories_with(&*self.storage)
            .await?
            .into_iter()
            .filter(|(_, own)| own.iter().any(|c| c == "_manifests"))
            .map(|(name, _)| name)
            .collect())
    }

    /// The descriptors of manifests in `name` whose subject is `subject`, optionally only
    /// those of `artifact_type`.
    pub async fn referrers(
        &self,
        name: &str,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Descriptor>, RepoError> {
        let dir = referrers_dir(name, subject)?;
        let mut out = Vec::new();
        for entry in self.storage.list(&dir).await? {
            let k = dir.join(&entry)?;
            let b = match storage::read_small(&*self.storage, &k, 1024 * 1024).await {
                Ok(b) => b,
                Err(StorageError::NotFound { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let Ok(desc) = serde_json::from_slice::<Descriptor>(&b) else {
                continue;
            };
            if artifact_type.is_none_or(|t| desc.artifact_type.as_deref() == Some(t)) {
                out.push(desc);
            }
        }
        Ok(out)
    }
}
