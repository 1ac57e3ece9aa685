//! Registry-side moves of whole manifests between repositories, as `manifest push` and
//! `imagetools create` need them: a manifest (or index) and everything it names is put into
//! another repository by digest, its blobs mounted across repositories when both are on one
//! registry, so no layer passes through this process.

use bytes::Bytes;
use oci::Descriptor;
use tokio::io::AsyncReadExt;

use crate::{
    CopyOptions, CopyReport, ImageSource, PlatformChoice, RegistryDestination, RegistrySource,
    TransportError, copy,
};

/// The largest config [`read_small_blob`] reads (containerd's limit for documents read into
/// memory).
pub const MAX_SMALL_BLOB: u64 = 4 << 20;

/// Puts the manifest or index `src` was opened for, and every blob and child manifest it
/// names, into `dst` under its digest (no tag). Every entry of an index is kept, attestation
/// manifests included, byte for byte.
///
/// `mount_from` is the source's repository when it lives on `dst`'s registry: each blob `dst`
/// lacks is then mounted from there (`POST …/blobs/uploads/?mount=…&from=…`). A refused mount,
/// or a source on another registry (`None`), streams the blob from source to destination
/// (never whole in memory or on disk).
pub async fn put_by_digest(
    src: &RegistrySource,
    dst: &RegistryDestination,
    mount_from: Option<&str>,
) -> Result<CopyReport, TransportError> {
    let opts = CopyOptions {
        platforms: PlatformChoice::All,
        tag: None,
        mount_from: mount_from.map(str::to_string),
        ..CopyOptions::default()
    };
    copy(src, dst, &opts).await
}

/// Reads a small blob (an image config) whole, checking its size against [`MAX_SMALL_BLOB`]
/// and the descriptor, and its digest.
pub async fn read_small_blob<S: ImageSource>(
    src: &S,
    d: &Descriptor,
) -> Result<Bytes, TransportError> {
    let what = || format!("blob {}", d.digest);
    if d.size > MAX_SMALL_BLOB {
        return Err(TransportError::Invalid {
            what: what(),
            detail: format!("{} bytes is over the {MAX_SMALL_BLOB}-byte limit", d.size),
        });
    }
    let mut reader = src.blob(d, 0).await?;
    let mut buf = Vec::with_capacity(d.size as usize);
    (&mut reader)
        .take(d.size + 1)
        .read_to_end(&mut buf)
        .await
        .map_err(|e| TransportError::Invalid {
            what: what(),
            detail: e.to_string(),
        })?;
    if buf.len() as u64 != d.size {
        return Err(TransportError::SizeMismatch {
            what: what(),
            expected: d.size,
            actual: buf.len() as u64,
        });
    }
    let actual = oci::Digest::of(d.digest.algorithm(), &buf);
    if actual != d.digest {
        return Err(TransportError::DigestMismatch {
            what: what(),
            expected: d.digest.clone(),
            actual,
        });
    }
    Ok(Bytes::from(buf))
}
