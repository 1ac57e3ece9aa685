//! The compressions ADD undoes before it extracts a local tar archive, as Docker does:
//! gzip, bzip2 and xz, told by their magic bytes (never by the file's name), or none.
//!
//! zstd is left packed: Docker 20.10 copies a `.tar.zst` as is, and the Dockerfile
//! reference lists only "identity, gzip, bzip2 or xz".

use std::io::{self, Read};

const GZIP: &[u8] = &[0x1f, 0x8b, 0x08];
const BZIP2: &[u8] = b"BZh";
const XZ: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

/// What `r` decompresses to, for ADD: gzip, bzip2 and xz are undone, anything else is
/// passed through unchanged.
pub fn decompress(mut r: impl Read + Send + 'static) -> io::Result<Box<dyn Read + Send>> {
    // The longest magic number is xz's six bytes.
    let mut head = Vec::with_capacity(XZ.len());
    (&mut r).take(XZ.len() as u64).read_to_end(&mut head)?;
    let whole: Box<dyn Read + Send> = Box::new(io::Cursor::new(head.clone()).chain(r));
    Ok(wrap(&head, whole))
}

fn wrap(head: &[u8], r: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
    if head.starts_with(GZIP) {
        Box::new(flate2::read::MultiGzDecoder::new(r))
    } else if head.starts_with(BZIP2) {
        Box::new(bzip2::read::MultiBzDecoder::new(r))
    } else if head.starts_with(XZ) {
        Box::new(liblzma::read::XzDecoder::new_multi_decoder(r))
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn add_undoes_gzip_bzip2_xz_but_not_zstd() {
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
            ("zstd stays packed", zst.clone(), zst),
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
