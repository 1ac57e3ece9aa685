//! Recompressing layers during a copy, and rewriting the manifests that name them.
//!
//! A layer is downloaded (verified) into an unnamed temp file, recompressed into another on a
//! blocking thread, and uploaded from there: never held in memory. The diffID does not change
//! (same tar), so configs are kept; manifests get the new layer descriptors and a new digest,
//! and an index that names a rewritten manifest is rewritten too.

use std::collections::HashMap;
use std::io::{Seek, SeekFrom};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use layer::Compression;
use oci::{Descriptor, Digest};
use serde_json::Value;

use super::verify::{Failure, FailureSlot, Verifier};
use super::{Ctx, Outcome};
use crate::{ImageDestination, ImageSource, ProgressEvent, TransportError};

/// Whether a layer of this media type may be recompressed: foreign / non-distributable
/// layers are referenced by digest elsewhere and are left alone.
pub(super) fn recompressible(media_type: &str) -> bool {
    !media_type.contains("foreign") && !media_type.contains("nondistributable")
}

fn tmp_err(e: std::io::Error) -> TransportError {
    TransportError::Io {
        path: std::env::temp_dir(),
        source: e,
    }
}

fn join_err(e: tokio::task::JoinError) -> TransportError {
    TransportError::Stream {
        what: "recompressing a layer".into(),
        source: std::io::Error::other(e),
    }
}

/// Downloads `d` verified into an unnamed temp file, rewound.
async fn download<S: ImageSource>(
    ctx: &Ctx<'_>,
    src: &S,
    d: &Descriptor,
) -> Result<std::fs::File, TransportError> {
    ctx.emit(ProgressEvent::BlobStarted {
        digest: d.digest.clone(),
        size: d.size,
        media_type: d.media_type.clone(),
        offset: 0,
    });
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(join_err)?
        .map_err(tmp_err)?;
    let stream = src.blob(d, 0).await?;
    let slot: FailureSlot = Arc::new(Mutex::new(None));
    let what = format!("blob {}", d.digest);
    let mut verified = Verifier::new(
        stream,
        d,
        what.clone(),
        0,
        0,
        true,
        ctx.progress.clone(),
        slot.clone(),
    );
    let mut out = tokio::fs::File::from_std(file);
    let copied = tokio::io::copy(&mut verified, &mut out).await;
    let failure = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    match (copied, failure) {
        (_, Some(Failure::Content(e))) => return Err(e),
        (Err(_), Some(Failure::Source(source))) => {
            return Err(TransportError::Stream { what, source });
        }
        (Err(e), _) => return Err(tmp_err(e)),
        (Ok(_), _) => {}
    }
    let mut file = out.into_std().await;
    tokio::task::spawn_blocking(move || {
        file.seek(SeekFrom::Start(0))?;
        Ok(file)
    })
    .await
    .map_err(join_err)?
    .map_err(tmp_err)
}

/// The descriptor of the recompressed layer: the same family of media type (Docker or
/// OCI), the same annotations, no urls.
fn new_descriptor(old: &Descriptor, to: Compression, digests: &layer::LayerDigests) -> Descriptor {
    let media_type = if old.media_type.starts_with("application/vnd.docker.") {
        to.docker_media_type()
    } else {
        to.oci_media_type()
    };
    let mut d = Descriptor::new(media_type, digests.digest.clone(), digests.size);
    d.annotations = old.annotations.clone();
    d
}

/// Copies layer `d` recompressed from `from` to `to`.
pub(super) async fn copy_recompressed<S: ImageSource, D: ImageDestination>(
    ctx: &Ctx<'_>,
    src: &S,
    dst: &D,
    d: &Descriptor,
    from: Compression,
    to: Compression,
) -> Result<Outcome, TransportError> {
    let input = ctx.retry(true, || download(ctx, src, d)).await?;
    let what = format!("recompressing layer {} from {from} to {to}", d.digest);
    let (output, digests) = tokio::task::spawn_blocking(move || {
        let mut out = tempfile::tempfile().map_err(tmp_err)?;
        let digests = {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut out);
            let digests = layer::recompress(input, from, to, &mut w).map_err(|e| {
                TransportError::Invalid {
                    what,
                    detail: e.to_string(),
                }
            })?;
            std::io::Write::flush(&mut w).map_err(tmp_err)?;
            digests
        };
        Ok::<_, TransportError>((out, digests))
    })
    .await
    .map_err(join_err)??;
    let new = new_descriptor(d, to, &digests);
    let mut outcome = Outcome {
        digest: d.digest.clone(),
        transferred: false,
        bytes: 0,
        replaced_by: Some(new.clone()),
    };
    if !ctx.retry(false, || dst.has_blob(&new)).await? {
        ctx.retry(true, || upload(dst, &new, &output)).await?;
        outcome.transferred = true;
        outcome.bytes = new.size;
    }
    ctx.emit(ProgressEvent::BlobDone {
        digest: d.digest.clone(),
    });
    Ok(outcome)
}

/// Uploads the recompressed blob from its temp file (still verified: a safety net).
async fn upload<D: ImageDestination>(
    dst: &D,
    new: &Descriptor,
    file: &std::fs::File,
) -> Result<(), TransportError> {
    let mut f = file.try_clone().map_err(tmp_err)?;
    let f = tokio::task::spawn_blocking(move || {
        f.seek(SeekFrom::Start(0))?;
        Ok(f)
    })
    .await
    .map_err(join_err)?
    .map_err(tmp_err)?;
    let reader = tokio::io::BufReader::with_capacity(1 << 20, tokio::fs::File::from_std(f));
    let slot: FailureSlot = Arc::new(Mutex::new(None));
    let what = format!("recompressed blob {}", new.digest);
    let verified = Verifier::new(reader, new, what.clone(), 0, 0, true, None, slot.clone());
    let result = dst.put_blob(new, Box::pin(verified)).await;
    match (
        result,
        slot.lock().unwrap_or_else(|p| p.into_inner()).take(),
    ) {
        (_, Some(Failure::Content(e))) => Err(e),
        (Err(_), Some(Failure::Source(source))) => Err(TransportError::Stream { what, source }),
        (r, _) => r,
    }
}

/// Rewrites a manifest's layers, or an index's entries, that `replaced` maps to new
/// descriptors. Returns the input unchanged when nothing it names was replaced.
pub(super) fn rewrite(
    desc: &Descriptor,
    bytes: &Bytes,
    replaced: &HashMap<Digest, Descriptor>,
) -> Result<(Descriptor, Bytes), TransportError> {
    let invalid = |detail: String| TransportError::Invalid {
        what: format!("manifest {}", desc.digest),
        detail,
    };
    let mut v: Value = serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
    let mut changed = false;
    for (key, whole) in [("layers", true), ("manifests", false)] {
        let Some(list) = v.get_mut(key).and_then(Value::as_array_mut) else {
            continue;
        };
        for item in list {
            let Some(obj) = item.as_object_mut() else {
                continue;
            };
            let Some(new) = obj
                .get("digest")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<Digest>().ok())
                .and_then(|d| replaced.get(&d))
            else {
                continue;
            };
            obj.insert("digest".into(), Value::String(new.digest.to_string()));
            obj.insert("size".into(), Value::from(new.size));
            if whole {
                obj.insert("mediaType".into(), Value::String(new.media_type.clone()));
                obj.remove("urls");
            }
            changed = true;
        }
    }
    if !changed {
        return Ok((desc.clone(), bytes.clone()));
    }
    let out = serde_json::to_vec(&v).map_err(|e| invalid(e.to_string()))?;
    let mut new = desc.clone();
    new.digest = Digest::sha256_of(&out);
    new.size = out.len() as u64;
    Ok((new, Bytes::from(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_replaced_layers() {
        let a = Digest::sha256_of(b"a");
        let b = Digest::sha256_of(b"b");
        let c = Digest::sha256_of(b"c");
        let cfg = Digest::sha256_of(b"{}");
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cfg}","size":2}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{a}","size":1,"urls":["http://x"]}},{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{b}","size":1}}],"annotations":{{"k":"v"}}}}"#
        );
        let bytes = Bytes::from(m);
        let desc = Descriptor::of_bytes(oci::media::OCI_MANIFEST, &bytes);
        let same = rewrite(&desc, &bytes, &HashMap::new()).unwrap();
        assert_eq!(same.1, bytes);
        assert_eq!(same.0, desc);

        let new = Descriptor::new(oci::media::OCI_LAYER_ZSTD, c.clone(), 7);
        let map = HashMap::from([(a.clone(), new)]);
        let (d2, b2) = rewrite(&desc, &bytes, &map).unwrap();
        assert_ne!(d2.digest, desc.digest);
        assert!(d2.digest.verify(&b2));
        let m2 = oci::Manifest::from_slice(&b2).unwrap();
        assert_eq!(m2.layers[0].digest, c);
        assert_eq!(m2.layers[0].size, 7);
        assert_eq!(m2.layers[0].media_type, oci::media::OCI_LAYER_ZSTD);
        assert!(m2.layers[0].urls.is_empty());
        assert_eq!(m2.layers[1].digest, b);
        assert_eq!(m2.config.digest, cfg);
        assert_eq!(m2.annotations.get("k").map(String::as_str), Some("v"));
    }
}
