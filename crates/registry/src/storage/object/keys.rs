//! Key names: how a registry key becomes an object path (the prefix, packed digests,
//! hashed long names with their records, the upload state's dot-directory) and back.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use super::{ObjectStorage, remote};
use crate::error::StorageError;
use crate::storage::Key;

/// The suffix of the dot-named directory holding an upload's state.
pub(super) const SIDECAR_SUFFIX: &str = ".upload";

impl ObjectStorage {
    /// The object path of `key`.
    pub(super) fn path(&self, key: &Key) -> Path {
        let comps: Vec<String> = key.components().map(encode_component).collect();
        Path::from_iter(
            self.prefix
                .iter()
                .map(String::as_str)
                .chain(comps.iter().map(String::as_str)),
        )
    }

    /// The directory holding the upload state of `key` (`None` for the root).
    pub(super) fn sidecar(&self, key: &Key) -> Option<Path> {
        let comps: Vec<String> = key.components().map(encode_component).collect();
        let (name, parent) = comps.split_last()?;
        let hidden = format!(".{name}{SIDECAR_SUFFIX}");
        Some(Path::from_iter(
            self.prefix
                .iter()
                .map(String::as_str)
                .chain(parent.iter().map(String::as_str))
                .chain(std::iter::once(hidden.as_str())),
        ))
    }

    pub(super) fn prefix_path(&self) -> Option<Path> {
        if self.prefix.is_empty() {
            None
        } else {
            Some(Path::from_iter(self.prefix.iter().map(String::as_str)))
        }
    }

    /// Writes the records of the hashed long components of `key` (see
    /// [`encode_component`]), so listings can name them.
    pub(super) async fn ensure_names(&self, key: &Key) -> Result<(), StorageError> {
        let mut parent = self.prefix_path().unwrap_or_default();
        for c in key.components() {
            let enc = encode_component(c);
            if is_hashed(&enc) {
                let record = parent.clone().join(name_record(&enc).as_str());
                self.store
                    .put(&record, PutPayload::from(Bytes::from(c.to_string())))
                    .await
                    .map_err(|e| remote("write name record", key, e))?;
            }
            parent = parent.join(enc.as_str());
        }
        Ok(())
    }
}

/// The registry names among listed names: dot-names are ours, except that an upload's
/// state directory stands for the upload's key. Sorted, without duplicates.
/// Also returns the hashed long names found, whose keys are looked up in their records.
pub(super) fn child_names<'a>(names: impl Iterator<Item = &'a str>) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut hashed = Vec::new();
    for n in names {
        let inner = match n.strip_prefix('.') {
            None => n,
            Some(hidden) => match hidden.strip_suffix(SIDECAR_SUFFIX) {
                Some(inner) => inner,
                None => continue,
            },
        };
        if is_hashed(inner) {
            hashed.push(inner.to_string());
        } else if let Some(name) = decode_component(inner) {
            out.push(name);
        }
    }
    out.sort();
    out.dedup();
    hashed.sort();
    hashed.dedup();
    (out, hashed)
}

/// Components longer than this (digests aside) are stored under a hash of themselves.
pub(super) const LONG_COMPONENT: usize = 64;

/// Whether an object-path component is a hashed long name (`!!<hash>`).
pub(super) fn is_hashed(c: &str) -> bool {
    c.len() == 34 && c.starts_with("!!") && c[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// The record naming a hashed long component, beside it: `.!!<hash>.name`.
pub(super) fn name_record(hashed: &str) -> String {
    format!(".{hashed}{NAME_SUFFIX}")
}

/// The suffix of a long name's record.
pub(super) const NAME_SUFFIX: &str = ".name";

/// The object-path form of a key component. Digests (64 or 128 lowercase hex digits,
/// optionally after a short `alg-` prefix and before a short `.suffix`) are stored as
/// `![alg]-<base64url>[.suffix]`, a third
/// shorter: registry keys hold up to three of them, and some S3-compatible servers limit
/// keys to far less than S3's 1024 bytes (s3s-fs names a metadata file after the base64 of
/// the key, so about 164 bytes). Other components longer than 64 bytes (long tags or
/// repository names) are stored as `!!<hash>`, with a record `.!!<hash>.name` beside them
/// holding the name for listings. `!` (safe in S3 keys) never occurs in a [`Key`], so
/// these forms are unambiguous.
pub(super) fn encode_component(c: &str) -> String {
    // A digest may carry a suffix (cosign's `sha256-<hex>.sig` tags): base64url has no `.`.
    let (body, suffix) = c.find('.').map_or((c, ""), |i| c.split_at(i));
    let (alg, hex) = match body.split_once('-') {
        Some((alg, hex))
            if (1..=16).contains(&alg.len())
                && alg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()) =>
        {
            (alg, hex)
        }
        _ => ("", body),
    };
    let is_digest = matches!(hex.len(), 64 | 128)
        && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    match (is_digest, hex::decode(hex)) {
        (true, Ok(raw)) if suffix.len() <= 16 => {
            format!("!{alg}-{}{suffix}", URL_SAFE_NO_PAD.encode(raw))
        }
        _ if c.len() > LONG_COMPONENT => {
            format!("!!{}", &oci::Digest::sha256_of(c.as_bytes()).hex()[..32])
        }
        _ => c.to_string(),
    }
}

/// The key component an object-path component stands for, or `None` for names that are
/// not ours.
pub(super) fn decode_component(c: &str) -> Option<String> {
    let Some(packed) = c.strip_prefix('!') else {
        return valid_name(c).then(|| c.to_string());
    };
    let (alg, rest) = packed.split_once('-')?;
    let (b64, suffix) = rest.find('.').map_or((rest, ""), |i| rest.split_at(i));
    let raw = URL_SAFE_NO_PAD.decode(b64).ok()?;
    let hex = hex::encode(raw);
    let name = if alg.is_empty() {
        format!("{hex}{suffix}")
    } else {
        format!("{alg}-{hex}{suffix}")
    };
    // Only the canonical form of a digest component decodes.
    (valid_name(&name) && encode_component(&name) == c).then_some(name)
}

pub(super) fn valid_name(c: &str) -> bool {
    !c.is_empty() && !c.contains('/') && Key::new(c).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_components_are_packed() {
        let h64 = "a80ce29b2438e8a20c65460237ecac9c45472748cdcb59993744b500074f6a99";
        let h128 = format!("{h64}{h64}");
        let b64 = URL_SAFE_NO_PAD.encode(hex::decode(h64).unwrap());
        let b128 = URL_SAFE_NO_PAD.encode(hex::decode(&h128).unwrap());
        // (component, object-path form)
        let cases: Vec<(String, String)> = vec![
            ("blobs".into(), "blobs".into()),
            ("sha256".into(), "sha256".into()),
            ("ab".into(), "ab".into()),
            ("link".into(), "link".into()),
            (h64.into(), format!("!-{b64}")),
            (h128.clone(), format!("!-{b128}")),
            (format!("sha256-{h64}"), format!("!sha256-{b64}")),
            (format!("sha512-{h128}"), format!("!sha512-{b128}")),
            // Not digests: kept as they are.
            (format!("sha256-{h64}.sig"), format!("!sha256-{b64}.sig")),
            (format!("sha256-{h64}.att"), format!("!sha256-{b64}.att")),
            (format!("{h64}.x.y"), format!("!-{b64}.x.y")),
            (format!("sha256-{h64}."), format!("!sha256-{b64}.")),
            (h64.to_uppercase(), h64.to_uppercase()),
            (h64[..63].to_string(), h64[..63].to_string()),
            (
                format!("{}-{}", &h64[..31], &h64[..32]),
                format!("{}-{}", &h64[..31], &h64[..32]),
            ),
        ];
        // Not digests, and longer than 64 bytes: hashed.
        for c in [
            format!("{h64}0"),
            format!("Sha256-{h64}"),
            format!("a-b-{h64}"),
            format!("-{h64}"),
            format!("sha256-{h64}.{}", "s".repeat(17)),
        ] {
            assert!(is_hashed(&encode_component(&c)), "{c}");
        }
        // Long names (a 128-character tag) are hashed, short ones kept.
        let long = format!("A_{}", "x".repeat(126));
        let enc = encode_component(&long);
        assert!(is_hashed(&enc), "{enc}");
        assert_eq!(enc, encode_component(&long), "stable");
        assert_ne!(enc, encode_component(&format!("B_{}", "x".repeat(126))));
        assert_eq!(decode_component(&enc), None, "needs its record");
        let edge = "y".repeat(64);
        assert_eq!(encode_component(&edge), edge);
        assert!(is_hashed(&encode_component(&"y".repeat(65))));
        for (c, packed) in &cases {
            assert_eq!(&encode_component(c), packed, "{c}");
            assert_eq!(
                decode_component(packed).as_deref(),
                Some(c.as_str()),
                "{packed}"
            );
            assert!(!packed.starts_with('!') || packed.len() < c.len());
        }
        // Names that are not ours are not listed.
        for bad in [
            "!",
            "!-",
            "!-!!",
            "!x",
            &format!("!-{b64}A"),
            "a b",
            ".x",
            "",
        ] {
            assert_eq!(decode_component(bad), None, "{bad}");
        }
    }

    #[test]
    fn listed_names_hide_our_objects() {
        let cases: &[(&[&str], &[&str])] = &[
            (&[], &[]),
            (&["b", "a"], &["a", "b"]),
            (&["data", ".data.upload"], &["data"]),
            (&[".data.upload"], &["data"]),
            (&[".tmp", ".x", ".upload", "..upload"], &[]),
            (&["state", "tail-1"], &["state", "tail-1"]),
            (&["!-AAAA", ".!-AAAA.upload", "!nope"], &[]),
        ];
        for (names, want) in cases {
            let (got, hashed) = child_names(names.iter().copied());
            assert_eq!(got, want.to_vec(), "{names:?}");
            assert!(hashed.is_empty());
        }
        let h = "!!0123456789abcdef0123456789abcdef";
        let (got, hashed) =
            child_names([h, ".!!0123456789abcdef0123456789abcdef.upload", "a"].into_iter());
        assert_eq!(got, vec!["a"]);
        assert_eq!(hashed, vec![h]);
        assert_eq!(name_record(h), ".!!0123456789abcdef0123456789abcdef.name");
    }
}
