//! RPM header blobs, as rpm's databases store them (rpm's `lib/header.c`, `headerImport`):
//! the on-disk header without its 8-byte magic: a big-endian `u32` index entry count, a
//! `u32` data size, the index entries (16 bytes each: `u32` tag, type, offset into the data
//! store, count), then the data store. Only the tags a package list needs are read; every
//! entry is bounds-checked so a corrupt blob is an error, never a panic or a wild read.

/// The tags read here (rpm's `rpmtag.h`).
pub mod tag {
    /// `RPMTAG_NAME`.
    pub const NAME: u32 = 1000;
    /// `RPMTAG_VERSION`.
    pub const VERSION: u32 = 1001;
    /// `RPMTAG_RELEASE`.
    pub const RELEASE: u32 = 1002;
    /// `RPMTAG_EPOCH`.
    pub const EPOCH: u32 = 1003;
    /// `RPMTAG_LICENSE`.
    pub const LICENSE: u32 = 1014;
    /// `RPMTAG_ARCH`.
    pub const ARCH: u32 = 1022;
    /// `RPMTAG_SOURCERPM`.
    pub const SOURCERPM: u32 = 1044;
    /// `RPMTAG_MODULARITYLABEL`: the module stream a RHEL/Fedora modular package is from.
    pub const MODULARITYLABEL: u32 = 5096;
}

/// rpm's type codes for the entry types read here.
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// rpm's own limits (`hdrchkTags`, `hdrchkData`): more entries or data than this is not a
/// header rpm wrote.
const MAX_ENTRIES: usize = 0x0000_ffff;
const MAX_DATA: usize = 0x0fff_ffff;

/// Why a blob is not a header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The blob is shorter or longer than its counts say, or exceeds rpm's limits.
    #[error("the header's size is wrong: {0}")]
    Size(String),
    /// An entry points outside the data store or its value is not what the type says.
    #[error("entry for tag {tag} is corrupt: {reason}")]
    Entry {
        /// The tag.
        tag: u32,
        /// What is wrong.
        reason: &'static str,
    },
}

/// A header's index, borrowed from the blob.
#[derive(Debug, Clone, Copy)]
pub struct Header<'a> {
    index: &'a [u8],
    data: &'a [u8],
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl<'a> Header<'a> {
    /// Checks the blob's framing: the counts within rpm's limits and matching its length.
    pub fn parse(blob: &'a [u8]) -> Result<Self, HeaderError> {
        if blob.len() < 8 {
            return Err(HeaderError::Size(format!(
                "{} bytes, less than the 8-byte preamble",
                blob.len()
            )));
        }
        let entries = be32(blob, 0) as usize;
        let data = be32(blob, 4) as usize;
        if entries == 0 || entries > MAX_ENTRIES || data > MAX_DATA {
            return Err(HeaderError::Size(format!(
                "{entries} entries and {data} bytes of data are outside rpm's limits"
            )));
        }
        let index_end = 8 + entries * 16;
        if blob.len() != index_end + data {
            return Err(HeaderError::Size(format!(
                "{entries} entries and {data} bytes of data make {} bytes, the blob has {}",
                index_end + data,
                blob.len()
            )));
        }
        Ok(Header {
            index: &blob[8..index_end],
            data: &blob[index_end..],
        })
    }

    /// The entry for `tag`: its type, offset and count.
    fn entry(&self, tag: u32) -> Option<(u32, usize, usize)> {
        self.index.chunks_exact(16).find_map(|e| {
            (be32(e, 0) == tag).then(|| (be32(e, 4), be32(e, 8) as usize, be32(e, 12) as usize))
        })
    }

    /// A string tag's value (for an i18n string or array, the first: the untranslated one);
    /// `None` when the header has no such tag.
    pub fn string(&self, tag: u32) -> Result<Option<&'a str>, HeaderError> {
        let Some((ty, offset, count)) = self.entry(tag) else {
            return Ok(None);
        };
        let bad = |reason| HeaderError::Entry { tag, reason };
        match ty {
            TYPE_STRING if count == 1 => {}
            TYPE_STRING => return Err(bad("a string with a count other than 1")),
            TYPE_I18NSTRING | TYPE_STRING_ARRAY if count >= 1 => {}
            _ => return Err(bad("not a string")),
        }
        let rest = self.data.get(offset..).ok_or(bad("offset past the data"))?;
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(bad("string not terminated within the data"))?;
        std::str::from_utf8(&rest[..end])
            .map(Some)
            .map_err(|_| bad("string not UTF-8"))
    }

    /// An int32 tag's first value; `None` when the header has no such tag.
    pub fn int32(&self, tag: u32) -> Result<Option<u32>, HeaderError> {
        let Some((ty, offset, count)) = self.entry(tag) else {
            return Ok(None);
        };
        let bad = |reason| HeaderError::Entry { tag, reason };
        if ty != TYPE_INT32 || count == 0 {
            return Err(bad("not an int32"));
        }
        if offset % 4 != 0 {
            return Err(bad("int32 not aligned"));
        }
        let bytes = self
            .data
            .get(offset..offset + 4)
            .ok_or(bad("offset past the data"))?;
        Ok(Some(be32(bytes, 0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob from (tag, type, count, data) entries laid out in order.
    fn blob(entries: &[(u32, u32, u32, &[u8])]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, ty, count, bytes) in entries {
            if *ty == TYPE_INT32 {
                while data.len() % 4 != 0 {
                    data.push(0);
                }
            }
            for v in [*tag, *ty, data.len() as u32, *count] {
                index.extend_from_slice(&v.to_be_bytes());
            }
            data.extend_from_slice(bytes);
        }
        let mut out = Vec::new();
        out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        out.extend(index);
        out.extend(data);
        out
    }

    #[test]
    fn reads_strings_and_ints() {
        let b = blob(&[
            (tag::NAME, TYPE_STRING, 1, b"bash\0"),
            (tag::EPOCH, TYPE_INT32, 1, &2u32.to_be_bytes()),
            (tag::LICENSE, TYPE_I18NSTRING, 1, b"GPL-3.0-or-later\0"),
        ]);
        let h = Header::parse(&b).unwrap();
        assert_eq!(h.string(tag::NAME), Ok(Some("bash")));
        assert_eq!(h.int32(tag::EPOCH), Ok(Some(2)));
        assert_eq!(h.string(tag::LICENSE), Ok(Some("GPL-3.0-or-later")));
        assert_eq!(h.string(tag::ARCH), Ok(None));
        assert_eq!(h.int32(tag::ARCH), Ok(None));
    }

    #[test]
    fn refuses_bad_framing() {
        let good = blob(&[(tag::NAME, TYPE_STRING, 1, b"x\0")]);
        assert!(Header::parse(&good).is_ok());
        for bad in [
            &good[..good.len() - 1],
            &good[..7],
            &[0, 0, 0, 0, 0, 0, 0, 0][..],
            &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0][..],
        ] {
            assert!(
                matches!(Header::parse(bad), Err(HeaderError::Size(_))),
                "{bad:?}"
            );
        }
        let mut longer = good.clone();
        longer.push(0);
        assert!(Header::parse(&longer).is_err());
    }

    #[test]
    fn refuses_bad_entries() {
        // Not terminated.
        let b = blob(&[(tag::NAME, TYPE_STRING, 1, b"bash")]);
        assert!(Header::parse(&b).unwrap().string(tag::NAME).is_err());
        // Wrong type.
        let b = blob(&[(tag::NAME, TYPE_INT32, 1, &[0, 0, 0, 1])]);
        let h = Header::parse(&b).unwrap();
        assert!(h.string(tag::NAME).is_err());
        let b = blob(&[(tag::EPOCH, TYPE_STRING, 1, b"1\0")]);
        assert!(Header::parse(&b).unwrap().int32(tag::EPOCH).is_err());
        // Offset past the data.
        let mut b = blob(&[(tag::NAME, TYPE_STRING, 1, b"bash\0")]);
        b[8 + 8..8 + 12].copy_from_slice(&100u32.to_be_bytes());
        assert!(Header::parse(&b).unwrap().string(tag::NAME).is_err());
        // Not UTF-8.
        let b = blob(&[(tag::NAME, TYPE_STRING, 1, b"\xff\0")]);
        assert!(Header::parse(&b).unwrap().string(tag::NAME).is_err());
    }
}
