//! Base64 decoding of candidate secrets, for the allow checks that look inside a value.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// Longest value decoded: a check looks at the start only, and candidates are short.
const MAX: usize = 4096;

/// Decodes standard base64 (with padding), `None` when it is not.
pub(crate) fn standard(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() > MAX {
        return None;
    }
    STANDARD.decode(text).ok()
}

/// Decodes URL-safe base64 without padding (JWT segments), `None` when it is not.
pub(crate) fn url_safe(text: &[u8]) -> Option<Vec<u8>> {
    if text.len() > MAX {
        return None;
    }
    let trimmed = text
        .strip_suffix(b"==")
        .or(text.strip_suffix(b"="))
        .unwrap_or(text);
    URL_SAFE_NO_PAD.decode(trimmed).ok()
}
