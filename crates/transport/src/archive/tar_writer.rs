//! Writing a tar archive as a stream of entries, to a temporary file renamed into place at
//! the end or to any `Write` sink (stdout).
//!
//! Entries are appended one at a time from async blob streams without buffering a blob: the
//! header (whose size is known from the descriptor) goes first, then the bytes as they
//! arrive, hashed on the way. A blob that ends short, runs long, fails, or hashes wrong is
//! cut off again (the file is truncated back to where its header began); on a sink that
//! cannot be rewound the writer is poisoned instead and refuses further entries.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use oci::Digest;
use tempfile::TempPath;
use tokio::io::AsyncReadExt;

use crate::{BlobStream, TransportError};

/// Where the archive's bytes go.
enum Sink {
    /// A temporary file beside the target, renamed onto it by `finish`.
    File {
        w: BufWriter<File>,
        tmp: TempPath,
        target: PathBuf,
    },
    /// A stream written sequentially (stdout).
    Stream(BufWriter<Box<dyn Write + Send>>),
    /// After `finish`.
    Done,
}

/// A tar archive being written.
pub(crate) struct TarWriter {
    sink: Sink,
    /// What errors call the archive (its path, or "output stream").
    name: String,
    /// Bytes written so far (the next header's offset).
    pos: u64,
    /// Entry names already written.
    names: HashSet<String>,
    /// Set when a failed entry could not be taken back.
    poisoned: Option<String>,
}

impl TarWriter {
    /// Starts an archive that `finish` will rename onto `target`. The temporary file lives in
    /// the same directory (so the rename is atomic) and is removed if the writer is dropped.
    /// A `target` that exists and is no regular file or directory (`/dev/null`, a FIFO,
    /// `/dev/stdout`) is written in place: renaming onto it would replace the device.
    pub(crate) fn create(target: &Path) -> Result<TarWriter, TransportError> {
        if let Ok(meta) = std::fs::metadata(target)
            && !meta.is_file()
            && !meta.is_dir()
        {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(target)
                .map_err(|source| TransportError::Io {
                    path: target.to_path_buf(),
                    source,
                })?;
            let mut w = TarWriter::to_writer(Box::new(file));
            w.name = target.display().to_string();
            return Ok(w);
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file_name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "archive".into());
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{file_name}."))
            .suffix(".tmp")
            .tempfile_in(&dir)
            .map_err(|source| TransportError::Io {
                path: dir.clone(),
                source,
            })?;
        let (file, tmp) = tmp.into_parts();
        Ok(TarWriter {
            sink: Sink::File {
                w: BufWriter::with_capacity(256 * 1024, file),
                tmp,
                target: target.to_path_buf(),
            },
            name: target.display().to_string(),
            pos: 0,
            names: HashSet::new(),
            poisoned: None,
        })
    }

    /// Starts an archive written straight to `sink`.
    pub(crate) fn to_writer(sink: Box<dyn Write + Send>) -> TarWriter {
        TarWriter {
            sink: Sink::Stream(BufWriter::with_capacity(256 * 1024, sink)),
            name: "archive output stream".into(),
            pos: 0,
            names: HashSet::new(),
            poisoned: None,
        }
    }

    /// What errors call the archive.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Whether `finish` has run.
    pub(crate) fn is_finished(&self) -> bool {
        matches!(self.sink, Sink::Done)
    }

    /// Whether an entry of this name was written.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Appends an entry holding `data`. Does nothing if the name was written before.
    pub(crate) fn append_bytes(&mut self, name: &str, data: &[u8]) -> Result<(), TransportError> {
        if self.names.contains(name) {
            return Ok(());
        }
        self.check_usable()?;
        let start = self.pos;
        let result = self
            .write_header(name, data.len() as u64)
            .and_then(|()| self.write(data))
            .and_then(|()| self.pad(data.len() as u64));
        match result {
            Ok(()) => {
                self.names.insert(name.to_string());
                Ok(())
            }
            Err(source) => {
                let err = self.io_error(source);
                self.rollback(start, &err);
                Err(err)
            }
        }
    }

    /// Appends an entry of exactly `size` bytes read from `stream`, checking they hash to
    /// `digest`. Runs on a blocking thread; `handle` drives the async stream. Does nothing
    /// (and does not read the stream) if the name was written before.
    pub(crate) fn append_stream(
        &mut self,
        name: &str,
        size: u64,
        digest: &Digest,
        stream: BlobStream,
        handle: &tokio::runtime::Handle,
    ) -> Result<(), TransportError> {
        if self.names.contains(name) {
            return Ok(());
        }
        self.check_usable()?;
        let start = self.pos;
        let what = format!("blob {digest} for {}", self.name);
        let mut reader = BlockingReader { stream, handle };
        let result = self.copy_entry(name, size, digest, &mut reader, &what);
        match result {
            Ok(()) => {
                self.names.insert(name.to_string());
                Ok(())
            }
            Err(err) => {
                self.rollback(start, &err);
                Err(err)
            }
        }
    }

    fn copy_entry(
        &mut self,
        name: &str,
        size: u64,
        digest: &Digest,
        reader: &mut impl Read,
        what: &str,
    ) -> Result<(), TransportError> {
        self.write_header(name, size)
            .map_err(|e| self.io_error(e))?;
        let mut hasher = digest.algorithm().digester();
        let mut buf = vec![0u8; 256 * 1024];
        let mut done = 0u64;
        while done < size {
            let want = buf
                .len()
                .min(usize::try_from(size - done).unwrap_or(usize::MAX));
            let n = reader
                .read(&mut buf[..want])
                .map_err(|source| TransportError::Stream {
                    what: what.to_string(),
                    source,
                })?;
            if n == 0 {
                return Err(TransportError::SizeMismatch {
                    what: what.to_string(),
                    expected: size,
                    actual: done,
                });
            }
            hasher.update(&buf[..n]);
            self.write(&buf[..n]).map_err(|e| self.io_error(e))?;
            done += n as u64;
        }
        // The stream must end where the descriptor says.
        let extra = reader
            .read(&mut buf[..1])
            .map_err(|source| TransportError::Stream {
                what: what.to_string(),
                source,
            })?;
        if extra > 0 {
            return Err(TransportError::SizeMismatch {
                what: what.to_string(),
                expected: size,
                actual: size + 1,
            });
        }
        let actual = hasher.finish();
        if actual != *digest {
            return Err(TransportError::DigestMismatch {
                what: what.to_string(),
                expected: digest.clone(),
                actual,
            });
        }
        self.pad(size).map_err(|e| self.io_error(e))
    }

    /// Ends the archive (two zero blocks), flushes, and for a file sink fsyncs it, renames it
    /// onto the target and fsyncs the directory.
    pub(crate) fn finish(&mut self) -> Result<(), TransportError> {
        self.check_usable()?;
        self.write(&[0u8; 1024]).map_err(|e| self.io_error(e))?;
        match std::mem::replace(&mut self.sink, Sink::Done) {
            Sink::File { w, tmp, target } => {
                let file = w.into_inner().map_err(|e| TransportError::Io {
                    path: target.clone(),
                    source: e.into_error(),
                })?;
                let io_err = |source| TransportError::Io {
                    path: target.clone(),
                    source,
                };
                file.sync_all().map_err(io_err)?;
                drop(file);
                tmp.persist(&target).map_err(|e| io_err(e.error))?;
                if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
                    // Make the rename itself durable.
                    File::open(dir)
                        .and_then(|d| d.sync_all())
                        .map_err(|source| TransportError::Io {
                            path: dir.to_path_buf(),
                            source,
                        })?;
                }
                Ok(())
            }
            Sink::Stream(mut w) => w.flush().map_err(|e| self.io_error(e)),
            Sink::Done => Ok(()),
        }
    }

    fn check_usable(&self) -> Result<(), TransportError> {
        if let Some(why) = &self.poisoned {
            return Err(TransportError::Invalid {
                what: self.name.clone(),
                detail: format!("cannot write more: an earlier entry failed ({why})"),
            });
        }
        if matches!(self.sink, Sink::Done) {
            return Err(TransportError::Invalid {
                what: self.name.clone(),
                detail: "the archive is already committed".into(),
            });
        }
        Ok(())
    }

    /// Takes back a failed entry: truncates a file to `start`, or poisons a stream.
    fn rollback(&mut self, start: u64, err: &TransportError) {
        let ok = match &mut self.sink {
            Sink::File { w, .. } => w
                .flush()
                .and_then(|()| w.get_ref().set_len(start))
                .and_then(|()| w.get_mut().seek(SeekFrom::Start(start)))
                .is_ok(),
            Sink::Stream(_) | Sink::Done => false,
        };
        if ok {
            self.pos = start;
        } else {
            self.poisoned = Some(err.to_string());
        }
    }

    fn io_error(&self, source: io::Error) -> TransportError {
        match &self.sink {
            Sink::File { target, .. } => TransportError::Io {
                path: target.clone(),
                source,
            },
            _ => TransportError::Stream {
                what: format!("writing {}", self.name),
                source,
            },
        }
    }

    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Sink::File { w, .. } => w.write_all(data)?,
            Sink::Stream(w) => w.write_all(data)?,
            Sink::Done => return Err(io::Error::other("archive already finished")),
        }
        self.pos += data.len() as u64;
        Ok(())
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rem = (size % 512) as usize;
        if rem != 0 {
            self.write(&[0u8; 512][..512 - rem])?;
        }
        Ok(())
    }

    /// A ustar header for a regular file, preceded by a PAX `path` record when the name does
    /// not fit ustar's name and prefix fields.
    fn write_header(&mut self, name: &str, size: u64) -> io::Result<()> {
        let mut header = tar::Header::new_ustar();
        if header.set_path(name).is_err() {
            let record = pax_record("path", name);
            let mut pax = tar::Header::new_ustar();
            let short: String = format!("PaxHeaders/{name}").chars().take(99).collect();
            // The pax header's own name is informational; keep it within 100 bytes.
            pax.set_path(short.trim_end_matches('/'))
                .or_else(|_| pax.set_path("PaxHeader"))?;
            pax.set_entry_type(tar::EntryType::XHeader);
            pax.set_size(record.len() as u64);
            fill_common(&mut pax);
            self.write(pax.as_bytes())?;
            self.write(&record)?;
            self.pad(record.len() as u64)?;
            let truncated: String = name.chars().take(100).collect();
            header = tar::Header::new_ustar();
            let mut cut = truncated.as_str();
            while header.set_path(cut).is_err() && !cut.is_empty() {
                let mut end = cut.len() - 1;
                while !cut.is_char_boundary(end) {
                    end -= 1;
                }
                cut = &cut[..end];
            }
        }
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(size);
        fill_common(&mut header);
        self.write(header.as_bytes())
    }
}

/// Fixed metadata, so archives of the same content are byte-identical.
fn fill_common(h: &mut tar::Header) {
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_cksum();
}

/// One PAX extended-header record, `"<len> <key>=<value>\n"`, whose length counts itself.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}").into_bytes()
}

/// An async blob stream read from a blocking thread.
struct BlockingReader<'a> {
    stream: BlobStream,
    handle: &'a tokio::runtime::Handle,
}

impl Read for BlockingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.handle.block_on(self.stream.read(buf))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records_count_their_own_length() {
        for (key, value) in [
            ("path", "a"),
            ("path", &"x".repeat(200)),
            ("path", &"y".repeat(93)),
        ] {
            let r = pax_record(key, value);
            let s = String::from_utf8(r.clone()).unwrap();
            let (len, _) = s.split_once(' ').unwrap();
            assert_eq!(len.parse::<usize>().unwrap(), r.len(), "{s}");
        }
    }
}
