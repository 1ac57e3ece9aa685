//! Streaming compression and decompression of layers, hashing while they stream.
//!
//! A layer has two digests: the *diffID* over the uncompressed tar (it goes into the image
//! config) and the distribution *digest* over the compressed blob (it goes into the
//! manifest). [`LayerWriter`] computes both in the single pass that compresses.

use std::io::{self, BufReader, Cursor, Read, Write};

use oci::Digest;

use crate::hashing::HashingWriter;
use crate::{Compression, LayerError};

/// Size of the buffers used to move layer bytes.
pub const BUFFER_SIZE: usize = 256 * 1024;

/// The digests and sizes of a layer, from one pass over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDigests {
    /// Digest of the uncompressed tar (the image config's `rootfs.diff_ids` entry).
    pub diff_id: Digest,
    /// Digest of the blob as written (the manifest's layer descriptor digest).
    pub digest: Digest,
    /// Size of the blob as written, in bytes.
    pub size: u64,
    /// Size of the uncompressed tar, in bytes.
    pub uncompressed_size: u64,
    /// The size of the layer unpacked, as Docker reports it (see [`crate::measure`]);
    /// `None` when the bytes written were not a well-formed tar.
    pub unpacked_size: Option<u64>,
}

/// Wraps `r` in a decoder for `compression`. Gzip streams of several members (pigz) and
/// zstd streams of several frames are read to their end.
pub fn decompress(
    r: impl Read + Send + 'static,
    compression: Compression,
) -> Result<Box<dyn Read + Send>, LayerError> {
    Ok(match compression {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(
            BufReader::with_capacity(BUFFER_SIZE, r),
        )),
        Compression::Zstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(BUFFER_SIZE, r))
                .map_err(|e| LayerError::stream("start a zstd decoder", e))?,
        ),
    })
}

/// Reads the first bytes of `r` to detect its compression, and returns the compression
/// and a reader that still yields every byte of `r`.
pub fn sniff<R: Read>(mut r: R) -> Result<(Compression, impl Read), LayerError> {
    let mut prefix = [0u8; Compression::MAGIC_LEN];
    let mut filled = 0;
    // A network stream may hand over fewer bytes than the magic in its first read.
    while filled < prefix.len() {
        match r.read(&mut prefix[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(LayerError::stream("read the start of the layer", e)),
        }
    }
    let compression = Compression::detect(&prefix[..filled]);
    let prefix = Cursor::new(prefix).take(filled as u64);
    Ok((compression, prefix.chain(r)))
}

/// Like [`decompress`], detecting the compression from the stream's magic bytes.
pub fn decompress_auto(r: impl Read + Send + 'static) -> Result<Box<dyn Read + Send>, LayerError> {
    let (compression, r) = sniff(r)?;
    decompress(r, compression)
}

enum Encoder<W: Write> {
    None(HashingWriter<W>),
    Gzip(flate2::write::GzEncoder<HashingWriter<W>>),
    Zstd(zstd::stream::write::Encoder<'static, HashingWriter<W>>),
}

/// A writer that takes an uncompressed tar, compresses it into `W`, and digests both
/// sides as it goes. Call [`LayerWriter::finish`] to flush and get the [`LayerDigests`].
pub struct LayerWriter<W: Write> {
    encoder: Encoder<W>,
    diff_id: oci::Digester,
    uncompressed: u64,
    /// Measures the tar as it passes; `None` once it proved not to be one.
    meter: Option<crate::TarMeter>,
}

impl<W: Write> LayerWriter<W> {
    /// Starts a layer compressed with `compression` at `level` (gzip 0–9, default flate2's
    /// 6; zstd 1–22, default 3). Zstd uses one worker thread per core.
    pub fn new(out: W, compression: Compression, level: Option<i32>) -> Result<Self, LayerError> {
        let out = HashingWriter::new(out);
        let encoder = match compression {
            Compression::None => Encoder::None(out),
            Compression::Gzip => {
                let level = match level {
                    Some(l) => flate2::Compression::new(l.clamp(0, 9) as u32),
                    None => flate2::Compression::default(),
                };
                Encoder::Gzip(flate2::write::GzEncoder::new(out, level))
            }
            Compression::Zstd => {
                let level = level.unwrap_or(zstd::DEFAULT_COMPRESSION_LEVEL);
                let mut enc = zstd::stream::write::Encoder::new(out, level)
                    .map_err(|e| LayerError::stream("start a zstd encoder", e))?;
                let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
                if workers > 1 {
                    enc.multithread(workers as u32)
                        .map_err(|e| LayerError::stream("start zstd worker threads", e))?;
                }
                Encoder::Zstd(enc)
            }
        };
        Ok(LayerWriter {
            encoder,
            diff_id: oci::Algorithm::Sha256.digester(),
            uncompressed: 0,
            meter: Some(crate::TarMeter::default()),
        })
    }

    /// Finishes the compressed stream and returns the inner writer (flushed) and the digests.
    pub fn finish(self) -> Result<(W, LayerDigests), LayerError> {
        let out = match self.encoder {
            Encoder::None(w) => w,
            Encoder::Gzip(w) => w
                .finish()
                .map_err(|e| LayerError::stream("finish the gzip stream", e))?,
            Encoder::Zstd(w) => w
                .finish()
                .map_err(|e| LayerError::stream("finish the zstd stream", e))?,
        };
        let digest = out.digest();
        let size = out.byte_count();
        let mut out = out.into_inner();
        out.flush()
            .map_err(|e| LayerError::stream("flush the layer", e))?;
        Ok((
            out,
            LayerDigests {
                diff_id: self.diff_id.finish(),
                digest,
                size,
                uncompressed_size: self.uncompressed,
                unpacked_size: self
                    .meter
                    .filter(|m| m.finish().is_ok())
                    .map(|m| m.unpacked_size()),
            },
        ))
    }
}

impl<W: Write> Write for LayerWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.encoder {
            Encoder::None(w) => w.write(buf)?,
            Encoder::Gzip(w) => w.write(buf)?,
            Encoder::Zstd(w) => w.write(buf)?,
        };
        self.diff_id.update(&buf[..n]);
        self.uncompressed += n as u64;
        if let Some(m) = &mut self.meter
            && m.observe(&buf[..n]).is_err()
        {
            self.meter = None;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.encoder {
            Encoder::None(w) => w.flush(),
            Encoder::Gzip(w) => w.flush(),
            Encoder::Zstd(w) => w.flush(),
        }
    }
}

/// Copies `input` to `out` through a buffer of [`BUFFER_SIZE`].
pub(crate) fn copy_buffered(
    input: &mut impl Read,
    out: &mut impl Write,
    buf: &mut [u8],
) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        let n = match input.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buf[..n])?;
        total += n as u64;
    }
}

/// Compresses the uncompressed tar `input` into `out`, returning both digests and sizes
/// from one pass.
pub fn compress_layer(
    mut input: impl Read,
    out: impl Write,
    compression: Compression,
    level: Option<i32>,
) -> Result<LayerDigests, LayerError> {
    let mut w = LayerWriter::new(out, compression, level)?;
    let mut buf = vec![0u8; BUFFER_SIZE];
    copy_buffered(&mut input, &mut w, &mut buf)
        .map_err(|e| LayerError::stream(format!("compress the layer ({compression})"), e))?;
    Ok(w.finish()?.1)
}

/// Decompresses `input` (compressed with `from`) and compresses it again with `to`.
pub fn recompress(
    input: impl Read + Send + 'static,
    from: Compression,
    to: Compression,
    out: impl Write,
) -> Result<LayerDigests, LayerError> {
    compress_layer(decompress(input, from)?, out, to, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        // Compressible but not trivial: 1 MiB of a repeating, varying pattern.
        (0..1024 * 1024u32)
            .map(|i| ((i / 7) ^ (i % 13)) as u8)
            .collect()
    }

    #[test]
    fn round_trips_with_one_pass_digests() {
        let data = sample();
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            for level in [None, Some(1)] {
                let mut blob = Vec::new();
                let d = compress_layer(&data[..], &mut blob, c, level).unwrap();
                assert_eq!(d.diff_id, Digest::sha256_of(&data), "{c}");
                assert_eq!(d.digest, Digest::sha256_of(&blob), "{c}");
                assert_eq!(d.size, blob.len() as u64, "{c}");
                assert_eq!(d.uncompressed_size, data.len() as u64, "{c}");
                if c != Compression::None {
                    assert!(blob.len() < data.len() / 2, "{c} did not compress");
                }
                assert_eq!(Compression::detect(&blob), c);

                let mut back = Vec::new();
                decompress(io::Cursor::new(blob.clone()), c)
                    .unwrap()
                    .read_to_end(&mut back)
                    .unwrap();
                assert!(back == data, "{c} explicit round trip");
                let mut back = Vec::new();
                decompress_auto(io::Cursor::new(blob))
                    .unwrap()
                    .read_to_end(&mut back)
                    .unwrap();
                assert!(back == data, "{c} auto round trip");
            }
        }
    }

    #[test]
    fn recompress_keeps_diff_id() {
        let data = sample();
        let mut gz = Vec::new();
        let a = compress_layer(&data[..], &mut gz, Compression::Gzip, None).unwrap();
        let mut zst = Vec::new();
        let b = recompress(
            io::Cursor::new(gz),
            Compression::Gzip,
            Compression::Zstd,
            &mut zst,
        )
        .unwrap();
        assert_eq!(a.diff_id, b.diff_id);
        assert_eq!(b.digest, Digest::sha256_of(&zst));
        assert_ne!(a.digest, b.digest);
    }

    #[test]
    fn multi_member_gzip_is_read_to_the_end() {
        let mut blob = Vec::new();
        compress_layer(&b"hello "[..], &mut blob, Compression::Gzip, None).unwrap();
        compress_layer(&b"world"[..], &mut blob, Compression::Gzip, None).unwrap();
        let mut back = String::new();
        decompress_auto(io::Cursor::new(blob))
            .unwrap()
            .read_to_string(&mut back)
            .unwrap();
        assert_eq!(back, "hello world");
    }

    /// A reader that hands out one byte per read, like a slow network stream.
    struct Trickle(Vec<u8>, usize);
    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.1 >= self.0.len() || buf.is_empty() {
                return Ok(0);
            }
            buf[0] = self.0[self.1];
            self.1 += 1;
            Ok(1)
        }
    }

    #[test]
    fn sniff_survives_short_reads_and_short_input() {
        let mut blob = Vec::new();
        compress_layer(&b"abc"[..], &mut blob, Compression::Zstd, None).unwrap();
        let (c, mut r) = sniff(Trickle(blob, 0)).unwrap();
        assert_eq!(c, Compression::Zstd);
        let mut back = Vec::new();
        decompress(
            {
                let mut all = Vec::new();
                r.read_to_end(&mut all).unwrap();
                io::Cursor::new(all)
            },
            c,
        )
        .unwrap()
        .read_to_end(&mut back)
        .unwrap();
        assert_eq!(back, b"abc");

        let (c, mut r) = sniff(&b"ab"[..]).unwrap();
        assert_eq!(c, Compression::None);
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"ab");
    }

    #[test]
    fn corrupt_stream_is_an_error() {
        let mut blob = Vec::new();
        compress_layer(&sample()[..], &mut blob, Compression::Gzip, None).unwrap();
        blob.truncate(blob.len() / 2);
        let mut back = Vec::new();
        assert!(
            decompress_auto(io::Cursor::new(blob))
                .unwrap()
                .read_to_end(&mut back)
                .is_err()
        );
    }
}
