//! Image configs are fetched and checked before a copy writes anything: a config that is not
//! JSON, or not shaped as an image config, fails the copy with nothing recorded (Docker and
//! containerd refuse such an image too, but only after storing it).

use bytes::Bytes;
use oci::{Descriptor, Digest, ImageConfig, media};
use tokio::io::AsyncReadExt;

use super::Ctx;
use crate::{ImageSource, TransportError};

/// The largest config read (containerd's limit for manifests and configs read into memory).
pub(crate) const MAX_CONFIG_SIZE: u64 = 4 << 20;

/// Whether blobs of this media type are image configs strata checks.
pub(crate) fn is_image_config(media_type: &str) -> bool {
    media_type == media::OCI_CONFIG || media_type == media::DOCKER_CONFIG
}

/// Fetches the config `d` of manifest `manifest`, checks its size, digest and shape, and
/// returns its bytes.
pub(crate) async fn fetch<S: ImageSource>(
    ctx: &Ctx<'_>,
    src: &S,
    d: &Descriptor,
    manifest: &Digest,
) -> Result<Bytes, TransportError> {
    let what = || format!("config {} of manifest {manifest}", d.digest);
    if d.size > MAX_CONFIG_SIZE {
        return Err(TransportError::Invalid {
            what: what(),
            detail: format!("{} bytes is over the {MAX_CONFIG_SIZE}-byte limit", d.size),
        });
    }
    let bytes = ctx
        .retry(true, || async {
            let mut reader = src.blob(d, 0).await?;
            let mut buf = Vec::with_capacity(d.size as usize);
            (&mut reader)
                .take(d.size + 1)
                .read_to_end(&mut buf)
                .await
                .map_err(|source| super::source_error(what(), source))?;
            Ok(buf)
        })
        .await?;
    check(d, &bytes, &what())?;
    Ok(Bytes::from(bytes))
}

/// Checks fetched config bytes against their descriptor and their media type.
fn check(d: &Descriptor, bytes: &[u8], what: &str) -> Result<(), TransportError> {
    if bytes.len() as u64 != d.size {
        return Err(TransportError::SizeMismatch {
            what: what.to_string(),
            expected: d.size,
            actual: bytes.len() as u64,
        });
    }
    let actual = Digest::of(d.digest.algorithm(), bytes);
    if actual != d.digest {
        return Err(TransportError::DigestMismatch {
            what: what.to_string(),
            expected: d.digest.clone(),
            actual,
        });
    }
    ImageConfig::from_slice(bytes).map_err(|e| {
        let source = std::error::Error::source(&e)
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        TransportError::Invalid {
            what: what.to_string(),
            detail: format!(
                "not an image config as its media type {} says ({e}{source})",
                d.media_type
            ),
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_that_are_not_image_configs_are_refused() {
        for (body, ok) in [
            (&br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#[..], true),
            (b"{}", true),
            (b"not json at all", false),
            (b"\x1b[31m\x00\xff binary", false),
            (b"[1,2,3]", false),
            (br#""a string""#, false),
            (br#"{"rootfs":"layers"}"#, false),
            (br#"{"config":{"Env":"PATH=/bin"}}"#, false),
        ] {
            let d = Descriptor::of_bytes(media::OCI_CONFIG, body);
            let r = check(&d, body, "config");
            assert_eq!(r.is_ok(), ok, "{:?}: {r:?}", String::from_utf8_lossy(body));
            if let Err(e) = r {
                let msg = e.to_string();
                assert!(!msg.contains('\x1b') && !msg.contains('\0'), "{msg:?}");
            }
        }
    }

    #[test]
    fn a_config_of_the_wrong_size_or_digest_is_refused() {
        let body = br#"{"os":"linux"}"#;
        let d = Descriptor::of_bytes(media::OCI_CONFIG, body);
        assert!(matches!(
            check(&d, b"{}", "c"),
            Err(TransportError::SizeMismatch { .. })
        ));
        let same_len = br#"{"os":"linuy"}"#;
        assert!(matches!(
            check(&d, same_len, "c"),
            Err(TransportError::DigestMismatch { .. })
        ));
    }
}
