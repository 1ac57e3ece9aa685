//! Entry metadata from the tar header and its PAX records.

use std::io::{self, Read};

use super::lossy;

/// Metadata of an entry, from its header and PAX records.
pub(super) struct Meta {
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) mtime: i64,
    pub(super) mtime_nanos: u32,
    pub(super) xattrs: Vec<(String, Vec<u8>)>,
    /// Bytes of content the entry carries (after PAX `size`; for sparse files, the
    /// expanded size).
    pub(super) size: u64,
}

/// Reads mode, owner, mtime and xattrs from the header, overridden by PAX records.
pub(super) fn read_meta<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Meta> {
    let header = entry.header();
    let old = header.as_old();
    let mut meta = Meta {
        mode: field(header.mode().map(u64::from), &old.mode)? as u32,
        uid: field(header.uid(), &old.uid)? as u32,
        gid: field(header.gid(), &old.gid)? as u32,
        mtime: field(header.mtime(), &old.mtime)? as i64,
        mtime_nanos: 0,
        xattrs: Vec::new(),
        size: entry.size(),
    };
    if let Some(pax) = entry.pax_extensions()? {
        for record in pax {
            let record = record?;
            let key = record.key_bytes();
            let value = record.value_bytes();
            let number = || -> io::Result<u32> {
                std::str::from_utf8(value)
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| io::Error::other(format!("bad number {:?}", lossy(value))))
            };
            match key {
                b"uid" => meta.uid = number()?,
                b"gid" => meta.gid = number()?,
                b"mtime" => (meta.mtime, meta.mtime_nanos) = parse_pax_time(value)?,
                _ => {
                    if let Some(name) = key.strip_prefix(b"SCHILY.xattr.") {
                        let name = std::str::from_utf8(name)
                            .map_err(|_| io::Error::other("xattr name is not UTF-8"))?;
                        meta.xattrs.push((name.to_string(), value.to_vec()));
                    }
                }
            }
        }
    }
    Ok(meta)
}

/// A numeric header field read as GNU tar and Go's archive/tar read it: an empty field (all
/// NUL or spaces, as some writers leave the ones they do not set) is 0, not an error.
fn field(parsed: io::Result<u64>, raw: &[u8]) -> io::Result<u64> {
    match parsed {
        Err(_) if raw.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
        other => other,
    }
}

/// Parses a PAX time (`1700000000`, `1700000000.5`, `-1.25`) into seconds and nanoseconds.
fn parse_pax_time(value: &[u8]) -> io::Result<(i64, u32)> {
    let bad = || io::Error::other(format!("bad PAX time {:?}", lossy(value)));
    let s = std::str::from_utf8(value).map_err(|_| bad())?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = secs.parse().map_err(|_| bad())?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let mut digits: String = frac.chars().take(9).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    let nanos: u32 = digits.parse().map_err(|_| bad())?;
    if secs < 0 && nanos > 0 {
        // -1.25 means 1.25 s before the epoch: -2 s + 0.75 s.
        return Ok((secs - 1, 1_000_000_000 - nanos));
    }
    Ok((secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pax_times() {
        for (input, want) in [
            ("1700000000", Some((1_700_000_000, 0))),
            ("1700000000.5", Some((1_700_000_000, 500_000_000))),
            ("1.123456789123", Some((1, 123_456_789))),
            ("-1.25", Some((-2, 750_000_000))),
            ("0", Some((0, 0))),
            ("x", None),
            ("1.x", None),
            ("", None),
        ] {
            assert_eq!(parse_pax_time(input.as_bytes()).ok(), want, "{input}");
        }
    }
}
