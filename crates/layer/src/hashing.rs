//! Readers and writers that count and digest the bytes passing through them.

use std::io::{self, Read, Write};

use oci::{Algorithm, Digest, Digester};

/// A reader that digests (sha256) and counts every byte read through it.
pub struct HashingReader<R> {
    inner: R,
    digester: Digester,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`, hashing with sha256.
    pub fn new(inner: R) -> HashingReader<R> {
        HashingReader::with_algorithm(inner, Algorithm::Sha256)
    }

    /// Wraps `inner`, hashing with `algorithm`.
    pub fn with_algorithm(inner: R, algorithm: Algorithm) -> HashingReader<R> {
        HashingReader {
            inner,
            digester: algorithm.digester(),
            bytes: 0,
        }
    }

    /// The digest of the bytes read so far.
    pub fn digest(&self) -> Digest {
        self.digester.clone().finish()
    }

    /// How many bytes have been read so far (not `bytes()`: that is `Read::bytes`).
    pub fn byte_count(&self) -> u64 {
        self.bytes
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digester.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// A writer that digests (sha256) and counts every byte written through it.
pub struct HashingWriter<W> {
    inner: W,
    digester: Digester,
    bytes: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`, hashing with sha256.
    pub fn new(inner: W) -> HashingWriter<W> {
        HashingWriter::with_algorithm(inner, Algorithm::Sha256)
    }

    /// Wraps `inner`, hashing with `algorithm`.
    pub fn with_algorithm(inner: W, algorithm: Algorithm) -> HashingWriter<W> {
        HashingWriter {
            inner,
            digester: algorithm.digester(),
            bytes: 0,
        }
    }

    /// The digest of the bytes written so far.
    pub fn digest(&self) -> Digest {
        self.digester.clone().finish()
    }

    /// How many bytes have been written so far.
    pub fn byte_count(&self) -> u64 {
        self.bytes
    }

    /// A reference to the wrapped writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The wrapped writer (not flushed).
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Hash only what the inner writer accepted, so a short write is not counted twice.
        let n = self.inner.write(buf)?;
        self.digester.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_and_writer_agree_with_one_shot_digest() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let want = Digest::sha256_of(&data);

        let mut r = HashingReader::new(&data[..]);
        let mut sink = Vec::new();
        io::copy(&mut r, &mut sink).unwrap();
        assert_eq!(r.digest(), want);
        assert_eq!(r.byte_count(), data.len() as u64);

        let mut w = HashingWriter::new(Vec::new());
        for chunk in data.chunks(7777) {
            w.write_all(chunk).unwrap();
        }
        assert_eq!(w.digest(), want);
        assert_eq!(w.byte_count(), data.len() as u64);
        assert_eq!(w.into_inner(), data);
    }

    #[test]
    fn empty_stream_digest() {
        let r = HashingReader::new(io::empty());
        assert_eq!(
            r.digest().to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
