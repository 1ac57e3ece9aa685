//! Blobs: `GET`/`HEAD` (with `Range`) and `DELETE` of `/v2/<name>/blobs/<digest>`.

use axum::body::Body;
use axum::http::request::Parts;
use axum::http::{StatusCode, header};

use super::App;
use super::response::{ApiResult, builder, finish, header_str};
use crate::error::{ApiError, Code};
use crate::repo::parse_digest;

/// What a `Range` header asks of a blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeSpec {
    /// No header, or one not interpreted (several ranges, another unit): the whole blob.
    Whole,
    /// Bytes `.0..=.1`.
    Part(u64, u64),
    /// Nothing of the blob matches: 416.
    Unsatisfiable,
}

/// Parses a `Range: bytes=...` header against a blob of `size`.
fn parse_range(h: Option<&str>, size: u64) -> RangeSpec {
    match parse_range_inner(h, size) {
        Ok(None) => RangeSpec::Whole,
        Ok(Some((a, b))) => RangeSpec::Part(a, b),
        Err(()) => RangeSpec::Unsatisfiable,
    }
}

fn parse_range_inner(h: Option<&str>, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = h.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let (start, end) = if a.is_empty() {
        // A suffix: the last N bytes.
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || size == 0 {
            return Err(());
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let Ok(start) = a.parse::<u64>() else {
            return Ok(None);
        };
        let end = if b.is_empty() {
            size.saturating_sub(1)
        } else {
            match b.parse::<u64>() {
                Ok(e) => e.min(size.saturating_sub(1)),
                Err(_) => return Ok(None),
            }
        };
        if start >= size || end < start {
            return Err(());
        }
        (start, end)
    };
    Ok(Some((start, end)))
}

pub(super) async fn blob_get(
    app: &App,
    name: &str,
    digest: &str,
    req: &Parts,
    head: bool,
) -> ApiResult {
    if let Some(p) = &app.proxy
        && let Some(r) = p.blob(name, digest, head).await?
    {
        return Ok(r);
    }
    let d = parse_digest(digest)?;
    let Some(size) = app.registry.blob_size(name, &d).await? else {
        return Err(ApiError::new(
            Code::BlobUnknown,
            format!("blob {d} is not in {name}"),
        ));
    };
    let b = builder(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header("Docker-Content-Digest", d.to_string())
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::ETAG, format!("\"{d}\""));
    let range = match parse_range(header_str(&req.headers, "range"), size) {
        RangeSpec::Whole => None,
        RangeSpec::Part(a, b) => Some((a, b)),
        RangeSpec::Unsatisfiable => {
            let r = builder(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(header::CONTENT_RANGE, format!("bytes */{size}"));
            return Ok(finish(r, Body::empty()));
        }
    };
    match range {
        None => {
            let b = b.header(header::CONTENT_LENGTH, size);
            if head {
                return Ok(finish(b, Body::empty()));
            }
            let s = app.registry.blob_read(&d, None).await?;
            Ok(finish(b, Body::from_stream(s)))
        }
        Some((start, end)) => {
            let len = end - start + 1;
            let b = b
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_LENGTH, len)
                .header(header::CONTENT_RANGE, format!("bytes {start}-{end}/{size}"));
            if head {
                return Ok(finish(b, Body::empty()));
            }
            let s = app.registry.blob_read(&d, Some(start..end + 1)).await?;
            Ok(finish(b, Body::from_stream(s)))
        }
    }
}

pub(super) async fn blob_delete(app: &App, name: &str, digest: &str) -> ApiResult {
    let d = parse_digest(digest)?;
    if !app.registry.blob_delete(name, &d).await? {
        return Err(ApiError::new(
            Code::BlobUnknown,
            format!("blob {d} is not in {name}"),
        ));
    }
    Ok(finish(
        builder(StatusCode::ACCEPTED).header(header::CONTENT_LENGTH, 0),
        Body::empty(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        use RangeSpec::*;
        let cases: &[(Option<&str>, u64, RangeSpec)] = &[
            (None, 10, Whole),
            (Some("bytes=0-4"), 10, Part(0, 4)),
            (Some("bytes=5-"), 10, Part(5, 9)),
            (Some("bytes=5-100"), 10, Part(5, 9)),
            (Some("bytes=-3"), 10, Part(7, 9)),
            (Some("bytes=-30"), 10, Part(0, 9)),
            (Some("bytes=10-"), 10, Unsatisfiable),
            (Some("bytes=4-2"), 10, Unsatisfiable),
            (Some("bytes=-0"), 10, Unsatisfiable),
            (Some("bytes=0-1,3-4"), 10, Whole),
            (Some("items=0-1"), 10, Whole),
            (Some("bytes=x-1"), 10, Whole),
        ];
        for (h, size, want) in cases {
            assert_eq!(parse_range(*h, *size), *want, "{h:?}");
        }
    }
}
