//! Reading a tar archive in place: one scan of its headers, then positioned reads of entries.
//!
//! Archives hold whole images (gigabytes), so they are never extracted: [`TarIndex::open`]
//! walks the headers once (seeking over file data), records where each regular file's bytes
//! start, and later reads are `pread`s at those offsets. Concurrent readers of different
//! entries therefore share one file descriptor without sharing a file offset.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use tokio_util::io::StreamReader;

use crate::{BlobStream, TransportError};

/// How many symlinks a lookup follows before giving up (as Linux's `MAXSYMLINKS`).
const MAX_LINK_HOPS: usize = 40;

/// Bytes per read when streaming an entry.
const CHUNK: usize = 256 * 1024;

/// Where an entry's bytes are, or what it links to.
#[derive(Debug, Clone)]
enum Entry {
    /// A regular file: its data starts at `offset` and is `size` bytes long.
    File { offset: u64, size: u64 },
    /// A symbolic link; `target` is already resolved against the link's directory.
    Symlink { target: String },
    /// A hard link; tar names the target from the archive's root.
    Hardlink { target: String },
}

/// A regular file inside an archive: the span of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TarEntry {
    /// Offset of the first data byte from the start of the archive.
    pub offset: u64,
    /// Length of the data.
    pub size: u64,
}

/// The table of contents of a tar archive opened for reading in place.
///
/// Paths are normalised (`./a/b` and `a//b` are `a/b`); symlinks and hard links between
/// entries are followed on lookup, staying inside the archive.
#[derive(Debug)]
pub struct TarIndex {
    file: Arc<File>,
    name: String,
    entries: HashMap<String, Entry>,
}

impl TarIndex {
    /// Scans `file` (positioned anywhere; it is rewound) and indexes its entries. Errors name
    /// the archive as "tar archive"; use [`TarIndex::open_named`] to name it.
    pub fn open(file: File) -> Result<TarIndex, TransportError> {
        TarIndex::open_named(file, "tar archive")
    }

    /// Opens the archive at `path`, naming it by its path in errors.
    pub fn open_path(path: &Path) -> Result<TarIndex, TransportError> {
        let file = File::open(path).map_err(|source| TransportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        TarIndex::open_named(file, path.display().to_string())
    }

    /// Scans `file` and indexes its entries; `name` (usually the archive's path) is what
    /// errors call it.
    pub fn open_named(mut file: File, name: impl Into<String>) -> Result<TarIndex, TransportError> {
        let name = name.into();
        let invalid = |detail: String| TransportError::Invalid {
            what: name.clone(),
            detail,
        };
        let len = file
            .metadata()
            .map_err(|e| invalid(format!("cannot stat: {e}")))?
            .len();
        file.seek(SeekFrom::Start(0))
            .map_err(|e| invalid(format!("cannot seek: {e}")))?;
        let mut entries = HashMap::new();
        {
            let mut archive = tar::Archive::new(&file);
            let iter = archive
                .entries_with_seek()
                .map_err(|e| invalid(format!("not a tar archive: {e}")))?;
            let mut last = String::from("(start of archive)");
            for entry in iter {
                let entry = entry.map_err(|e| {
                    invalid(format!(
                        "corrupt or truncated tar after entry {last:?}: {e}"
                    ))
                })?;
                let path = entry
                    .path()
                    .map_err(|e| invalid(format!("entry after {last:?} has a bad path: {e}")))?;
                let path = normalise(&path.to_string_lossy());
                last.clone_from(&path);
                let kind = entry.header().entry_type();
                let value = if kind.is_file() || kind == tar::EntryType::Continuous {
                    let offset = entry.raw_file_position();
                    let size = entry.size();
                    if offset.saturating_add(size) > len {
                        return Err(invalid(format!(
                            "entry {path:?} is truncated: it needs {size} bytes at offset \
                             {offset}, the archive is {len} bytes long"
                        )));
                    }
                    Entry::File { offset, size }
                } else if kind.is_symlink() || kind.is_hard_link() {
                    let target = entry
                        .link_name()
                        .map_err(|e| invalid(format!("entry {path:?} has a bad link name: {e}")))?
                        .map(|t| t.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if kind.is_symlink() {
                        Entry::Symlink {
                            target: resolve_relative(&path, &target),
                        }
                    } else {
                        Entry::Hardlink {
                            target: normalise(&target),
                        }
                    }
                } else {
                    continue;
                };
                entries.insert(path, value);
            }
        }
        Ok(TarIndex {
            file: Arc::new(file),
            name,
            entries,
        })
    }

    /// What errors call this archive (its path, usually).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The regular files' paths (links not included), in no particular order.
    pub fn files(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(|(_, e)| matches!(e, Entry::File { .. }))
            .map(|(p, _)| p.as_str())
    }

    /// Whether `path` names a regular file, directly or through links.
    pub fn contains(&self, path: &str) -> bool {
        matches!(self.get(path), Ok(Some(_)))
    }

    /// The regular file at `path`, following links. `Ok(None)` when there is no such entry;
    /// an error for a link loop or a link to a non-file.
    pub fn get(&self, path: &str) -> Result<Option<TarEntry>, TransportError> {
        let mut current = normalise(path);
        for _ in 0..MAX_LINK_HOPS {
            match self.entries.get(&current) {
                None => return Ok(None),
                Some(Entry::File { offset, size }) => {
                    return Ok(Some(TarEntry {
                        offset: *offset,
                        size: *size,
                    }));
                }
                Some(Entry::Symlink { target }) | Some(Entry::Hardlink { target }) => {
                    if target.is_empty() || target.starts_with("../") || target == ".." {
                        return Err(self.invalid(format!(
                            "entry {path:?} links outside the archive ({target:?})"
                        )));
                    }
                    current.clone_from(target);
                }
            }
        }
        Err(self.invalid(format!("entry {path:?}: too many levels of links")))
    }

    /// The regular file at `path`, or `NotFound` naming it and the archive.
    pub fn require(&self, path: &str) -> Result<TarEntry, TransportError> {
        self.get(path)?.ok_or_else(|| TransportError::NotFound {
            what: format!("{path} in {}", self.name),
        })
    }

    /// Reads a whole entry into memory, refusing entries above `limit` bytes (for JSON
    /// metadata; blobs are streamed with [`TarIndex::stream`]).
    pub fn read_small(&self, path: &str, limit: u64) -> Result<Vec<u8>, TransportError> {
        let entry = self.require(path)?;
        if entry.size > limit {
            return Err(self.invalid(format!(
                "entry {path:?} is {} bytes, more than the {limit} allowed for metadata",
                entry.size
            )));
        }
        let mut buf = Vec::with_capacity(entry.size as usize);
        self.reader(entry, 0)
            .read_to_end(&mut buf)
            .map_err(|e| self.invalid(format!("cannot read entry {path:?}: {e}")))?;
        Ok(buf)
    }

    /// A blocking reader of `entry`'s bytes from `offset` on.
    pub fn reader(&self, entry: TarEntry, offset: u64) -> EntryReader {
        EntryReader {
            file: Arc::clone(&self.file),
            pos: entry.offset + offset.min(entry.size),
            end: entry.offset + entry.size,
        }
    }

    /// The first bytes of an entry (up to `n`), to sniff its format.
    pub fn head(&self, entry: TarEntry, n: usize) -> Result<Vec<u8>, TransportError> {
        let mut buf = Vec::with_capacity(n);
        self.reader(entry, 0)
            .take(n as u64)
            .read_to_end(&mut buf)
            .map_err(|e| self.invalid(format!("cannot read: {e}")))?;
        Ok(buf)
    }

    /// `entry`'s bytes from `offset` on, as an async stream fed by a blocking thread.
    pub fn stream(&self, entry: TarEntry, offset: u64) -> BlobStream {
        let mut reader = self.reader(entry, offset);
        let (tx, mut rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
        tokio::task::spawn_blocking(move || {
            loop {
                let mut buf = vec![0u8; CHUNK];
                match reader.read(&mut buf) {
                    Ok(0) => return,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                            return; // the reader was dropped
                        }
                    }
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e));
                        return;
                    }
                }
            }
        });
        let chunks = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
        Box::pin(StreamReader::new(chunks))
    }

    fn invalid(&self, detail: String) -> TransportError {
        TransportError::Invalid {
            what: self.name.clone(),
            detail,
        }
    }
}

/// A blocking reader of one entry's bytes, by positioned reads (no shared file offset).
#[derive(Debug)]
pub struct EntryReader {
    file: Arc<File>,
    pos: u64,
    end: u64,
}

impl Read for EntryReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end - self.pos;
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            // The index checked the length at open time; the file shrank since.
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive ends inside an entry (truncated since it was opened?)",
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// Copies a non-seekable archive (stdin for `load`) into an anonymous temporary file, which
/// disappears when closed, and rewinds it for [`TarIndex::open`].
pub fn spool_to_tempfile(mut reader: impl Read) -> Result<File, TransportError> {
    let tmp_dir = std::env::temp_dir();
    let io_err = |source| TransportError::Io {
        path: tmp_dir.clone(),
        source,
    };
    let mut file = tempfile::tempfile().map_err(io_err)?;
    io::copy(&mut reader, &mut file).map_err(|source| TransportError::Stream {
        what: "spooling the archive to a temporary file".into(),
        source,
    })?;
    file.seek(SeekFrom::Start(0)).map_err(io_err)?;
    Ok(file)
}

/// `a/./b//c/` → `a/b/c`; `..` pops a component, and a leading `..` is kept (so links that
/// escape the archive are recognisable).
pub(crate) fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if matches!(parts.last(), Some(p) if *p != "..") {
                    parts.pop();
                } else {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// A symlink's target as a path from the archive root. Absolute targets count from the root.
fn resolve_relative(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return normalise(target);
    }
    let dir = link.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    normalise(&format!("{dir}/{target}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_paths() {
        for (input, want) in [
            ("a/b", "a/b"),
            ("./a/b", "a/b"),
            ("/a//b/", "a/b"),
            ("a/./b/../c", "a/c"),
            ("../x", "../x"),
            ("a/../../x", "../x"),
            ("", ""),
        ] {
            assert_eq!(normalise(input), want, "{input}");
        }
    }

    #[test]
    fn resolves_link_targets() {
        for (link, target, want) in [
            ("abc/layer.tar", "../def/layer.tar", "def/layer.tar"),
            ("abc/layer.tar", "/def/layer.tar", "def/layer.tar"),
            ("layer.tar", "other.tar", "other.tar"),
            ("a/b", "../../x", "../x"),
        ] {
            assert_eq!(resolve_relative(link, target), want, "{link} -> {target}");
        }
    }
}
