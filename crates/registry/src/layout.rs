//! The key layout: the one place that knows where every blob, link, tag, referrer, upload
//! and garbage-collection record lives in a [`Storage`].
//!
//! Like CNCF distribution's, so a reader of one understands the other:
//!
//! ```text
//! blobs/<alg>/<hex[..2]>/<hex>                           content, shared by all repositories
//! repositories/<name>/_layers/<alg>/<hex>                 the repository may serve this blob
//! repositories/<name>/_manifests/revisions/<alg>/<hex>    a manifest; holds its media type
//! repositories/<name>/_manifests/tags/<tag>               holds a manifest digest
//! repositories/<name>/_referrers/<alg>/<hex>/<alg>-<hex>  a referrer's descriptor (JSON)
//! repositories/<name>/_uploads/<id>/data                  an upload in progress
//! gc/runs/<run>                                           a running collector (crate::gc)
//! gc/holds/<run>-<n>                                      digests a collector is judging
//! ```
//!
//! The functions that take a repository name or tag check it, so a key made here never
//! escapes its repository.

use oci::Digest;

use crate::error::{RepoError, StorageError};
use crate::names;
use crate::storage::{Key, Storage};

/// The directory of every repository.
pub(crate) const REPOSITORIES: &str = "repositories";

/// The directory of every blob.
pub(crate) const BLOBS: &str = "blobs";

/// Where running collectors announce themselves.
pub(crate) const GC_RUNS: &str = "gc/runs";

/// Where collectors write their holds.
pub(crate) const GC_HOLDS: &str = "gc/holds";

fn key(s: String) -> Result<Key, RepoError> {
    Ok(Key::new(s)?)
}

/// The content of blob `d`, shared by every repository.
pub(crate) fn blob_key(d: &Digest) -> Result<Key, RepoError> {
    key(format!(
        "{BLOBS}/{}/{}/{}",
        d.algorithm().name(),
        &d.hex()[..2],
        d.hex()
    ))
}

/// Refuses a repository name the spec does not allow.
pub(crate) fn check_name(name: &str) -> Result<(), RepoError> {
    if names::valid_name(name) {
        Ok(())
    } else {
        Err(RepoError::NameInvalid {
            name: name.to_string(),
        })
    }
}

/// `rest` under repository `name` (checked).
pub(crate) fn repo_key(name: &str, rest: &str) -> Result<Key, RepoError> {
    check_name(name)?;
    key(format!("{REPOSITORIES}/{name}/{rest}"))
}

/// `rest` under repository `name`, for a name read back from storage (not checked again).
pub(crate) fn repo_dir(name: &str, rest: &str) -> Result<Key, StorageError> {
    Key::new(format!("{REPOSITORIES}/{name}/{rest}"))
}

/// The link that lets repository `name` serve blob `d`.
pub(crate) fn layer_link(name: &str, d: &Digest) -> Result<Key, RepoError> {
    repo_key(
        name,
        &format!("_layers/{}/{}", d.algorithm().name(), d.hex()),
    )
}

/// The revision link of manifest `d` in `name` (it holds the manifest's media type).
pub(crate) fn revision_link(name: &str, d: &Digest) -> Result<Key, RepoError> {
    repo_key(
        name,
        &format!("_manifests/revisions/{}/{}", d.algorithm().name(), d.hex()),
    )
}

/// Tag `tag` of `name` (it holds a manifest digest); an invalid tag is refused.
pub(crate) fn tag_key(name: &str, tag: &str) -> Result<Key, RepoError> {
    if !names::valid_tag(tag) {
        return Err(RepoError::TagInvalid {
            tag: tag.to_string(),
        });
    }
    repo_key(name, &format!("_manifests/tags/{tag}"))
}

/// The directory of the referrers of `subject` in `name`.
pub(crate) fn referrers_dir(name: &str, subject: &Digest) -> Result<Key, RepoError> {
    repo_key(
        name,
        &format!(
            "_referrers/{}/{}",
            subject.algorithm().name(),
            subject.hex()
        ),
    )
}

/// The entry recording manifest `d` as a referrer of `subject` in `name`.
pub(crate) fn referrer_entry(name: &str, subject: &Digest, d: &Digest) -> Result<Key, RepoError> {
    Ok(referrers_dir(name, subject)?.join(&format!("{}-{}", d.algorithm().name(), d.hex()))?)
}

/// The data of upload `id` in `name`; an id this registry could not have made is
/// [`RepoError::UploadUnknown`].
pub(crate) fn upload_key(name: &str, id: &str) -> Result<Key, RepoError> {
    if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(RepoError::UploadUnknown { id: id.to_string() });
    }
    repo_key(name, &format!("_uploads/{id}/data"))
}

/// The directory of upload `id` in `name` (removed whole when the upload ends).
pub(crate) fn upload_dir(name: &str, id: &str) -> Result<Key, RepoError> {
    upload_key(name, id)?;
    repo_key(name, &format!("_uploads/{id}"))
}

/// Every repository: a prefix under `repositories/` with a `_`-named child.
pub(crate) async fn repositories(storage: &dyn Storage) -> Result<Vec<String>, StorageError> {
    Ok(repositories_with(storage)
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// Every repository, sorted, with its `_`-named children (`_manifests`, `_layers`,
/// `_uploads`): the one walk of `repositories/` (the catalog lists those with manifests;
/// GC visits them all).
pub(crate) async fn repositories_with(
    storage: &dyn Storage,
) -> Result<Vec<(String, Vec<String>)>, StorageError> {
    let mut out = Vec::new();
    let mut stack = vec![String::new()];
    while let Some(prefix) = stack.pop() {
        let dir = Key::new(if prefix.is_empty() {
            REPOSITORIES.to_string()
        } else {
            format!("{REPOSITORIES}/{prefix}")
        })?;
        let mut own = Vec::new();
        for child in storage.list(&dir).await? {
            if child.starts_with('_') {
                own.push(child);
            } else {
                stack.push(if prefix.is_empty() {
                    child
                } else {
                    format!("{prefix}/{child}")
                });
            }
        }
        if !own.is_empty() && !prefix.is_empty() {
            out.push((prefix, own));
        }
    }
    out.sort();
    Ok(out)
}

/// The digests named `dir/<alg>/<hex>` (layer links, revision links).
pub(crate) async fn digests_under(
    storage: &dyn Storage,
    dir: &Key,
) -> Result<Vec<Digest>, StorageError> {
    let mut out = Vec::new();
    for alg in storage.list(dir).await? {
        for hex in storage.list(&dir.join(&alg)?).await? {
            if let Ok(d) = format!("{alg}:{hex}").parse::<Digest>() {
                out.push(d);
            }
        }
    }
    Ok(out)
}

/// Every blob, as `blobs/<alg>/<xx>/<hex>`.
pub(crate) async fn all_blobs(storage: &dyn Storage) -> Result<Vec<Digest>, StorageError> {
    let root = Key::new(BLOBS)?;
    let mut out = Vec::new();
    for alg in storage.list(&root).await? {
        let a = root.join(&alg)?;
        for xx in storage.list(&a).await? {
            for hex in storage.list(&a.join(&xx)?).await? {
                if let Ok(d) = format!("{alg}:{hex}").parse::<Digest>()
                    && d.hex().starts_with(&xx)
                {
                    out.push(d);
                }
            }
        }
    }
    Ok(out)
}
