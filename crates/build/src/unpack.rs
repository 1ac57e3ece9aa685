//! The compressions ADD undoes before it extracts a local tar archive, as Docker does:
//! gzip, bzip2, xz and zstd, told by their magic bytes (never by the file's name), or
//! none.
//!
//! zstd follows current Docker (moby's pkg/archive detects it since 23.0, and BuildKit's
//! ADD uses that code); Docker 20.10 copied a `.tar.zst` as is.

use std::io::{self, Read};

const GZIP: &[u8] = &[0x1f, 0x8b, 0x08];
const BZIP2: &[u8] = b"BZh";
const XZ: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];
const ZSTD: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// A zstd frame, or a skippable frame (magic 0x184D2A50..=0x184D2A5F, little endian),
/// which moby's detection accepts too.
fn is_zstd(head: &[u8]) -> bool {
    head.starts_with(ZSTD)
        || (head.len() >= 4 && head[1..4] == [0x2a, 0x4d, 0x18] && head[0] & 0xf0 == 0x50)
}

/// What `r` decompresses to, for ADD: gzip, bzip2, xz and zstd are undone, anything else
/// is passed through unchanged.
pub fn decompress(mut r: impl Read + Send + 'static) -> io::Result<Box<dyn Read + Send>> {
    // The longest magic number is xz's six bytes.
    let mut head = Vec::with_capacity(XZ.len());
    (&mut r).take(XZ.len() as u64).read_to_end(&mut head)?;
    let whole: Box<dyn Read + Send> = Box::new(io::Cursor::new(head.clone()).chain(r));
    wrap(&head, whole)
}

fn wrap(head: &[u8], r: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    Ok(if head.starts_with(GZIP) {
        Box::new(flate2::read::MultiGzDecoder::new(r))
    } else if head.starts_with(BZIP2) {
        Box::new(bzip2::read::MultiBzDecoder::new(r))
    } else if head.starts_with(XZ) {
        Box::new(liblzma::read::XzDecoder::new_multi_decoder(r))
    } else if is_zstd(head) {
        Box::new(zstd::stream::read::Decoder::new(r)?)
    } else {
        r
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn add_undoes_gzip_bzip2_xz_and_zstd() {
        let data = b"hello, archive".repeat(50);
        let gz = {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            w.write_all(&data).unwrap();
            w.finish().unwrap()
        };
        let bz = {
            let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            w.write_all(&data).unwrap();
            w.finish().unwrap()
        };
        let xz = {
            let mut w = liblzma::write::XzEncoder::new(Vec::new(), 1);
            w.write_all(&data).unwrap();
            w.finish().unwrap()
        };
        let zst = zstd::encode_all(&data[..], 1).unwrap();
        for (name, packed, want) in [
            ("gzip", gz, data.clone()),
            ("bzip2", bz, data.clone()),
            ("xz", xz, data.clone()),
            ("plain", data.clone(), data.clone()),
            ("zstd", zst, data.clone()),
            ("short", b"ab".to_vec(), b"ab".to_vec()),
        ] {
            let mut out = Vec::new();
            decompress(io::Cursor::new(packed))
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, want, "{name}");
        }
    }
}
