//! Moving one blob: skipped when the destination has it, mounted when it can be, else
//! streamed from the source through the verifier (and the tee, for a layer a [`LayerTee`]
//! wants), resuming where the destination stands.
//!
//! [`LayerTee`]: super::LayerTee

use std::sync::{Arc, Mutex};

use oci::{Descriptor, Digest};

use super::verify::{Failure, FailureSlot, Verifier};
use super::{Ctx, recompress, source_error, tee};
use crate::{ImageDestination, ImageSource, ProgressEvent, TransportError};

/// What happened to one blob.
pub(super) struct Outcome {
    pub(super) digest: Digest,
    pub(super) transferred: bool,
    pub(super) bytes: u64,
    /// The recompressed blob written instead.
    pub(super) replaced_by: Option<Descriptor>,
}

pub(super) async fn copy_blob<S: ImageSource, D: ImageDestination>(
    ctx: &Ctx<'_>,
    src: &S,
    dst: &D,
    d: &Descriptor,
) -> Result<Outcome, TransportError> {
    if let Some(to) = ctx.opts.recompress
        && let Some(from) = layer::Compression::from_media_type(&d.media_type)
        && from != to
        && recompress::recompressible(&d.media_type)
    {
        return recompress::copy_recompressed(ctx, src, dst, d, from, to).await;
    }
    let skipped = Outcome {
        digest: d.digest.clone(),
        transferred: false,
        bytes: 0,
        replaced_by: None,
    };
    if ctx.retry(false, || dst.has_blob(d)).await? {
        ctx.emit(ProgressEvent::BlobSkipped {
            digest: d.digest.clone(),
            size: d.size,
            media_type: d.media_type.clone(),
        });
        return Ok(skipped);
    }
    if let Some(from) = &ctx.opts.mount_from {
        // A refused or failed mount is not an error: the blob is then uploaded.
        if let Ok(true) = dst.mount_blob(d, from).await {
            ctx.emit(ProgressEvent::BlobMounted {
                digest: d.digest.clone(),
                size: d.size,
                media_type: d.media_type.clone(),
                from: from.clone(),
            });
            return Ok(skipped);
        }
    }
    let bytes = ctx.retry(true, || transfer_once(ctx, src, dst, d)).await?;
    Ok(Outcome {
        digest: d.digest.clone(),
        transferred: true,
        bytes,
        replaced_by: None,
    })
}

/// One attempt at moving a blob: resume where the destination stands, verify on the way.
/// Returns the bytes moved.
async fn transfer_once<S: ImageSource, D: ImageDestination>(
    ctx: &Ctx<'_>,
    src: &S,
    dst: &D,
    d: &Descriptor,
) -> Result<u64, TransportError> {
    let offset = dst.resume_offset(d).await.min(d.size);
    ctx.emit(ProgressEvent::BlobStarted {
        digest: d.digest.clone(),
        size: d.size,
        media_type: d.media_type.clone(),
        offset,
    });
    let (stream, start, skip) = if let Some(bytes) = ctx.configs.get(&d.digest) {
        // Fetched and checked already: write what was checked.
        let bytes = bytes.slice(offset as usize..);
        (
            Box::pin(std::io::Cursor::new(bytes)) as crate::BlobStream,
            offset,
            0,
        )
    } else if offset > 0 && offset == d.size {
        // The destination holds it all already (it verifies the whole blob itself).
        (Box::pin(tokio::io::empty()) as crate::BlobStream, offset, 0)
    } else {
        match src.blob(d, offset).await {
            Ok(s) => (s, offset, 0),
            // The source cannot seek: read from the start and drop what the destination has.
            Err(TransportError::RangeUnsupported) if offset > 0 => {
                (src.blob(d, 0).await?, 0, offset)
            }
            Err(e) => return Err(e),
        }
    };
    let slot: FailureSlot = Arc::new(Mutex::new(None));
    let what = format!("blob {}", d.digest);
    let verified = Verifier::new(
        stream,
        d,
        what.clone(),
        start,
        skip,
        !dst.verifies_content(),
        ctx.progress.clone(),
        slot.clone(),
    );
    // The tee sees a layer only when it flows whole from its first byte.
    let consumer = match &ctx.opts.tee {
        Some(tee) if start + skip == 0 && !ctx.configs.contains_key(&d.digest) => tee.layer(d),
        _ => None,
    };
    let (teeing, stream): (_, crate::BlobStream) = match consumer {
        None => (None, Box::pin(verified)),
        Some(consumer) => match tee::Teeing::start(verified, consumer) {
            Ok((teeing, teed)) => (Some(teeing), Box::pin(teed)),
            Err(verified) => (None, Box::pin(verified)),
        },
    };
    let result = dst.put_blob(d, stream).await;
    let failure = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(teeing) = teeing {
        // The consumer keeps what it made only if the blob is verified and stored.
        teeing.finish(result.is_ok() && failure.is_none()).await;
    }
    match (result, failure) {
        // What the verifier saw explains the destination's error best.
        (_, Some(Failure::Content(e))) => Err(e),
        (Err(_), Some(Failure::Source(source))) => Err(source_error(what, source)),
        (Err(e), _) => Err(e),
        (Ok(()), _) => {
            ctx.emit(ProgressEvent::BlobDone {
                digest: d.digest.clone(),
            });
            Ok(d.size - offset)
        }
    }
}
