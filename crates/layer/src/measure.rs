//! A tar stream checked and measured as it passes: [`MeasuringReader`] parses each header
//! inline (no buffering of the stream, no second read), fails the read that ends the
//! stream mid-archive or hits a malformed header as Go's `archive/tar` does, and adds up
//! the size the layer has once unpacked, as Docker reports it.
//!
//! Docker's image and history `SIZE` is `directory.Size` of the unpacked layer: every
//! non-directory's `lstat` size, each inode once. From the tar that is the bytes of regular
//! files plus the length of each symlink's target; directories, hardlinks (the inode was
//! counted with its first name), devices and FIFOs add nothing.

use std::io::{self, Read};

const BLOCK: usize = 512;
/// The largest PAX or GNU long-name/long-link body kept to read the link target from.
const MAX_META: u64 = 1 << 20;
/// How much may follow the end-of-archive blocks. Writers pad the archive to their record
/// size (GNU tar: 10 KiB by default); more is not padding, and an endless stream of zeros
/// (`/dev/zero`) must fail rather than be read for ever.
pub const MAX_TRAILING: u64 = 1 << 20;

/// Why a stream is not a tar archive, worded as Go's `archive/tar` (Docker prints it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TarFormatError {
    /// The stream ended inside a header or an entry's data.
    #[error("unexpected EOF")]
    UnexpectedEof,
    /// A header block whose checksum or fields are wrong.
    #[error("archive/tar: invalid tar header")]
    InvalidHeader,
    /// More than [`MAX_TRAILING`] bytes after the end-of-archive blocks.
    #[error("more than 1 MiB of data after the end of the tar archive: not a tar archive")]
    TrailingData,
}

impl TarFormatError {
    /// The [`TarFormatError`] inside an I/O error a [`MeasuringReader`] returned, if any.
    pub fn of(e: &io::Error) -> Option<&TarFormatError> {
        e.get_ref().and_then(|inner| inner.downcast_ref())
    }

    fn into_io(self) -> io::Error {
        let kind = match self {
            TarFormatError::UnexpectedEof => io::ErrorKind::UnexpectedEof,
            TarFormatError::InvalidHeader | TarFormatError::TrailingData => {
                io::ErrorKind::InvalidData
            }
        };
        io::Error::new(kind, self)
    }
}

/// Where the parser is in the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Collecting a header block (`filled` bytes of it so far).
    Header,
    /// Inside an entry's data and padding (`left` bytes to go).
    Data,
    /// After the end-of-archive blocks: the rest passes unparsed, as Go stops reading.
    Done,
}

/// The tar parser behind [`MeasuringReader`], for writers too ([`crate::LayerWriter`]
/// measures what it compresses): feed it the stream's bytes in order.
#[derive(Debug, Clone)]
pub struct TarMeter {
    part: Part,
    block: [u8; BLOCK],
    filled: usize,
    /// Data and padding bytes of the current entry still to pass.
    left: u64,
    /// One zero block was seen: the next must be zero too (end of archive).
    zero_seen: bool,
    /// Bytes seen after the end-of-archive blocks.
    trailing: u64,
    /// The body of a PAX or GNU long-link entry being kept, and its type.
    meta: Option<(u8, Vec<u8>)>,
    /// A link target (or PAX size) that applies to the next real entry.
    next_link_len: Option<u64>,
    next_size: Option<u64>,
    unpacked: u64,
    entries: u64,
}

impl Default for TarMeter {
    fn default() -> TarMeter {
        TarMeter {
            part: Part::Header,
            block: [0; BLOCK],
            filled: 0,
            left: 0,
            zero_seen: false,
            trailing: 0,
            meta: None,
            next_link_len: None,
            next_size: None,
            unpacked: 0,
            entries: 0,
        }
    }
}

/// Passes a tar stream through unchanged, checking its structure and measuring it.
pub struct MeasuringReader<R> {
    inner: R,
    meter: TarMeter,
}

impl<R: Read> MeasuringReader<R> {
    /// Wraps a decompressed tar stream.
    pub fn new(inner: R) -> MeasuringReader<R> {
        MeasuringReader {
            inner,
            meter: TarMeter::default(),
        }
    }

    /// The unpacked size of the entries read so far (all of them once the stream ended).
    pub fn unpacked_size(&self) -> u64 {
        self.meter.unpacked
    }

    /// The number of file entries read so far.
    pub fn entries(&self) -> u64 {
        self.meter.entries
    }
}

impl TarMeter {
    /// The unpacked size of the entries seen so far.
    pub fn unpacked_size(&self) -> u64 {
        self.unpacked
    }

    /// Parses `bytes`, the next part of the stream.
    pub fn observe(&mut self, mut bytes: &[u8]) -> Result<(), TarFormatError> {
        while !bytes.is_empty() {
            match self.part {
                Part::Done => {
                    self.trailing += bytes.len() as u64;
                    if self.trailing > MAX_TRAILING {
                        return Err(TarFormatError::TrailingData);
                    }
                    return Ok(());
                }
                Part::Data => {
                    let n = (self.left.min(bytes.len() as u64)) as usize;
                    if let Some((_, body)) = &mut self.meta
                        && (body.len() as u64) < MAX_META
                    {
                        body.extend_from_slice(&bytes[..n]);
                    }
                    self.left -= n as u64;
                    bytes = &bytes[n..];
                    if self.left == 0 {
                        self.end_meta();
                        self.part = Part::Header;
                    }
                }
                Part::Header => {
                    let n = (BLOCK - self.filled).min(bytes.len());
                    self.block[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
                    self.filled += n;
                    bytes = &bytes[n..];
                    if self.filled == BLOCK {
                        self.filled = 0;
                        self.header()?;
                    }
                }
            }
        }
        Ok(())
    }

    /// One whole header block.
    fn header(&mut self) -> Result<(), TarFormatError> {
        let b = self.block;
        if b.iter().all(|&c| c == 0) {
            if self.zero_seen {
                self.part = Part::Done;
            }
            self.zero_seen = true;
            return Ok(());
        }
        if self.zero_seen || !checksum_ok(&b) {
            return Err(TarFormatError::InvalidHeader);
        }
        let size = match self.next_size.take() {
            Some(s) => s,
            None => octal(&b[124..136]).ok_or(TarFormatError::InvalidHeader)?,
        };
        let kind = b[156];
        match kind {
            b'x' | b'L' | b'K' => {
                self.meta = Some((kind, Vec::new()));
            }
            b'g' => {}
            _ => {
                self.entries += 1;
                let link_len = self
                    .next_link_len
                    .take()
                    .unwrap_or_else(|| cstr_len(&b[157..257]) as u64);
                self.unpacked += match kind {
                    b'0' | 0 | b'7' => size,
                    b'2' => link_len,
                    _ => 0,
                };
            }
        }
        // Only regular files (and the metadata entries) carry data in the stream.
        let data = match kind {
            b'1' | b'2' | b'3' | b'4' | b'5' | b'6' => 0,
            _ => size,
        };
        self.left = data.div_ceil(BLOCK as u64) * BLOCK as u64;
        self.part = Part::Data;
        if self.left == 0 {
            self.end_meta();
            self.part = Part::Header;
        }
        Ok(())
    }

    /// Takes what a finished PAX or GNU long-link body says about the next entry.
    fn end_meta(&mut self) {
        let Some((kind, body)) = self.meta.take() else {
            return;
        };
        match kind {
            b'K' => self.next_link_len = Some(cstr_len(&body) as u64),
            b'x' => {
                for (key, value) in pax_records(&body) {
                    match key {
                        "linkpath" => self.next_link_len = Some(value.len() as u64),
                        "size" => self.next_size = value.parse().ok(),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// The stream ended: fine at a header boundary (Go's reader takes a clean EOF there
    /// as the end, with or without the zero blocks), else the archive was cut short.
    pub fn finish(&self) -> Result<(), TarFormatError> {
        match self.part {
            Part::Done => Ok(()),
            Part::Header if self.filled == 0 => Ok(()),
            _ => Err(TarFormatError::UnexpectedEof),
        }
    }
}

impl<R: Read> Read for MeasuringReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.meter.finish().map_err(TarFormatError::into_io)?;
        }
        self.meter
            .observe(&buf[..n])
            .map_err(TarFormatError::into_io)?;
        Ok(n)
    }
}

/// The header checksum: the byte sum with the checksum field as spaces (unsigned, or
/// signed as some old writers computed it).
fn checksum_ok(b: &[u8; BLOCK]) -> bool {
    let Some(want) = octal(&b[148..156]) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &c) in b.iter().enumerate() {
        let c = if (148..156).contains(&i) { b' ' } else { c };
        unsigned += u64::from(c);
        signed += i64::from(c as i8);
    }
    want == unsigned || i64::try_from(want).is_ok_and(|w| w == signed)
}

/// A numeric header field: octal text (NUL- or space-terminated), or GNU base-256.
fn octal(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|&c| c & 0x80 != 0) {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &c in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(c))?;
        }
        return Some(v);
    }
    let text: Vec<u8> = field
        .iter()
        .copied()
        .take_while(|&c| c != 0)
        .filter(|&c| c != b' ')
        .collect();
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&text).ok()?, 8).ok()
}

/// The length of a NUL-terminated field.
fn cstr_len(field: &[u8]) -> usize {
    field.iter().position(|&c| c == 0).unwrap_or(field.len())
}

/// The `LEN key=value\n` records of a PAX body.
fn pax_records(body: &[u8]) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = body;
    while let Some(sp) = rest.iter().position(|&c| c == b' ') {
        let Some(len) = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|l| l.parse::<usize>().ok())
        else {
            break;
        };
        if len <= sp || len > rest.len() {
            break;
        }
        let record = &rest[sp + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Ok(text) = std::str::from_utf8(record)
            && let Some((k, v)) = text.split_once('=')
        {
            out.push((k, v));
        }
        rest = &rest[len..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: tar::EntryType, path: &str, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_path(path).unwrap();
        h.set_size(size);
        h.set_mode(0o644);
        h
    }

    /// A tar of a directory, a 4-byte file, a hardlink to it, a symlink, a long-target
    /// symlink (GNU long link), a FIFO and a 3-byte file in PAX form.
    fn sample() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = header(tar::EntryType::Directory, "d/", 0);
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
        let mut h = header(tar::EntryType::Regular, "d/f", 4);
        h.set_cksum();
        b.append(&h, &b"abcd"[..]).unwrap();
        let mut h = header(tar::EntryType::Link, "d/hard", 0);
        b.append_link(&mut h, "d/hard", "d/f").unwrap();
        let mut h = header(tar::EntryType::Symlink, "d/s", 0);
        b.append_link(&mut h, "d/s", "f").unwrap();
        let long = "x".repeat(150);
        let mut h = header(tar::EntryType::Symlink, "d/long", 0);
        b.append_link(&mut h, "d/long", &long).unwrap();
        let mut h = header(tar::EntryType::Fifo, "d/p", 0);
        h.set_cksum();
        b.append(&h, &[][..]).unwrap();
        b.append_pax_extensions([("comment", &b"hi"[..])]).unwrap();
        let mut h = header(tar::EntryType::Regular, "d/g", 3);
        h.set_cksum();
        b.append(&h, &b"xyz"[..]).unwrap();
        b.into_inner().unwrap()
    }

    fn measure(bytes: &[u8], chunk: usize) -> Result<(u64, Vec<u8>), io::Error> {
        // A reader handing out `chunk` bytes at a time, so headers straddle reads.
        struct Chunks<'a>(&'a [u8], usize);
        impl Read for Chunks<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.1.min(buf.len()).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut r = MeasuringReader::new(Chunks(bytes, chunk));
        let mut out = Vec::new();
        r.read_to_end(&mut out)?;
        Ok((r.unpacked_size(), out))
    }

    #[test]
    fn unpacked_size_counts_files_and_symlink_targets_once() {
        let tar = sample();
        for chunk in [1, 7, 512, 100_000] {
            let (size, out) = measure(&tar, chunk).unwrap();
            // 4 (d/f) + 3 (d/g) + 1 (d/s → f) + 150 (d/long); dir, hardlink, FIFO: 0.
            assert_eq!(size, 4 + 3 + 1 + 150, "chunk {chunk}");
            assert_eq!(out, tar, "the stream passes unchanged");
        }
    }

    #[test]
    fn garbage_and_truncated_streams_fail_like_go() {
        let err = |bytes: &[u8]| {
            let e = measure(bytes, 4096).unwrap_err();
            TarFormatError::of(&e).cloned()
        };
        assert_eq!(err(b"junk\n"), Some(TarFormatError::UnexpectedEof));
        assert_eq!(err(&[b'j'; 1024]), Some(TarFormatError::InvalidHeader));
        let tar = sample();
        // Cut inside the data of d/f (its header is the second block).
        assert_eq!(err(&tar[..1024 + 2]), Some(TarFormatError::UnexpectedEof));
        // A zero block followed by a header.
        let mut bad = vec![0u8; BLOCK];
        bad.extend_from_slice(&tar[..BLOCK]);
        assert_eq!(err(&bad), Some(TarFormatError::InvalidHeader));
    }

    #[test]
    fn layer_writer_reports_the_unpacked_size() {
        let mut blob = Vec::new();
        let d = crate::compress_layer(&sample()[..], &mut blob, crate::Compression::Gzip, None)
            .unwrap();
        assert_eq!(d.unpacked_size, Some(158));
        let d = crate::compress_layer(&b"junk\n"[..], &mut blob, crate::Compression::None, None)
            .unwrap();
        assert_eq!(d.unpacked_size, None, "not a tar: no size");
    }

    #[test]
    fn clean_ends_are_accepted() {
        assert_eq!(measure(b"", 10).unwrap().0, 0);
        let tar = sample();
        // Without the end-of-archive blocks, at a header boundary.
        let body = tar.len() - 1024;
        assert_eq!(measure(&tar[..body], 100).unwrap().0, 158);
        // Anything after the end-of-archive blocks is not parsed, up to a bound.
        let mut trailing = tar.clone();
        trailing.extend_from_slice(b"junk");
        assert_eq!(measure(&trailing, 100).unwrap().0, 158);
        trailing.resize(tar.len() + MAX_TRAILING as usize, 0);
        assert_eq!(measure(&trailing, 4096).unwrap().0, 158);
    }

    /// Regression (issue 10): `import /dev/zero` read on for ever; more than
    /// [`MAX_TRAILING`] bytes after the end of the archive fail.
    #[test]
    fn endless_data_after_the_end_fails() {
        let mut zeros = vec![0u8; 1024 + MAX_TRAILING as usize + 1];
        let e = measure(&zeros, 4096).unwrap_err();
        assert_eq!(
            TarFormatError::of(&e),
            Some(&TarFormatError::TrailingData),
            "{e}"
        );
        let tar = sample();
        zeros.splice(..0, tar);
        let e = measure(&zeros, 4096).unwrap_err();
        assert_eq!(
            TarFormatError::of(&e),
            Some(&TarFormatError::TrailingData),
            "{e}"
        );
    }
}
