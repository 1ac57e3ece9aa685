//! Deterministic layer tars of a directory tree (the `import` and `commit` path).
//!
//! Entries come depth first, each directory's children sorted by the bytes of their
//! names, parents before children; directories are named `dir/`; names are relative with
//! no leading `./`. Owner ids, mode and mtime come from disk (mtime clamped to
//! `SOURCE_DATE_EPOCH` when given); user and group names, atime and ctime are left out.
//! A file seen again through another hard link becomes a link entry. Extended attributes
//! go into PAX `SCHILY.xattr.*` records, names and link targets over 100 bytes into PAX
//! `path` / `linkpath`. The same tree always gives the same bytes.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use tar::{EntryType, Header};

use crate::codec::{BUFFER_SIZE, LayerDigests, LayerWriter};
use crate::{Compression, LayerError};

/// How to create a layer.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct CreateOptions {
    /// Clamp every mtime to at most this many seconds since the epoch
    /// (`SOURCE_DATE_EPOCH`, for reproducible builds).
    pub source_date_epoch: Option<i64>,
}

impl CreateOptions {
    /// Options with mtimes clamped to `epoch`.
    pub fn with_source_date_epoch(epoch: i64) -> CreateOptions {
        CreateOptions {
            source_date_epoch: Some(epoch),
        }
    }
}

/// Writes an uncompressed, deterministic tar of everything below `dir` (not `dir` itself)
/// to `out`.
pub fn create_layer(dir: &Path, out: impl Write, opts: &CreateOptions) -> Result<(), LayerError> {
    let mut creator = Creator {
        builder: tar::Builder::new(BufWriter::with_capacity(BUFFER_SIZE, out)),
        links: HashMap::new(),
        opts,
    };
    creator.walk(dir, &[])?;
    let mut out = creator
        .builder
        .into_inner()
        .map_err(|e| LayerError::stream("finish the tar", e))?;
    out.flush()
        .map_err(|e| LayerError::stream("flush the tar", e))?;
    Ok(())
}

/// Writes an uncompressed tar of `path` itself (a file, link or directory, with everything
/// below a directory) to `out`, its entry named `name` and the entries below it
/// `name/...`: `docker cp`'s archive of one resource (`name` may be `.`, which gives
/// `./` and `./child`, or `/` for a directory: `/` and `/child`). Same entry format and
/// order as [`create_layer`].
pub fn create_tree(path: &Path, name: &[u8], out: impl Write) -> Result<(), LayerError> {
    let opts = CreateOptions::default();
    let mut creator = Creator {
        builder: tar::Builder::new(BufWriter::with_capacity(BUFFER_SIZE, out)),
        links: HashMap::new(),
        opts: &opts,
    };
    let meta = fs::symlink_metadata(path).map_err(|e| LayerError::io("inspect", path, e))?;
    // The root directory as `/` (Docker's name for it), its children `/child`.
    let own = if name == b"/" && meta.is_dir() {
        &b""[..]
    } else {
        name
    };
    creator.add(path, own, &meta)?;
    if meta.is_dir() {
        creator.walk(path, name)?;
    }
    let mut out = creator
        .builder
        .into_inner()
        .map_err(|e| LayerError::stream("finish the tar", e))?;
    out.flush()
        .map_err(|e| LayerError::stream("flush the tar", e))?;
    Ok(())
}

/// Creates the layer of `dir` and compresses it into `out` in one pass, returning its
/// diffID, digest and sizes.
pub fn create_compressed_layer(
    dir: &Path,
    out: impl Write,
    compression: Compression,
    opts: &CreateOptions,
) -> Result<LayerDigests, LayerError> {
    let mut w = LayerWriter::new(out, compression, None)?;
    create_layer(dir, &mut w, opts)?;
    Ok(w.finish()?.1)
}

struct Creator<'a, W: Write> {
    builder: tar::Builder<W>,
    /// (device, inode) of files with several links → the name they were first written as.
    links: HashMap<(u64, u64), Vec<u8>>,
    opts: &'a CreateOptions,
}

impl<W: Write> Creator<'_, W> {
    fn walk(&mut self, dir: &Path, rel: &[u8]) -> Result<(), LayerError> {
        let mut names: Vec<OsString> = fs::read_dir(dir)
            .map_err(|e| LayerError::io("read directory", dir, e))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(|e| LayerError::io("read directory", dir, e))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let path = dir.join(&name);
            let mut child = rel.to_vec();
            // (`create_tree`'s root `/` is the one `rel` that ends with a slash.)
            if !child.is_empty() && !child.ends_with(b"/") {
                child.push(b'/');
            }
            child.extend_from_slice(name.as_bytes());
            let meta =
                fs::symlink_metadata(&path).map_err(|e| LayerError::io("inspect", &path, e))?;
            self.add(&path, &child, &meta)?;
            if meta.is_dir() {
                self.walk(&path, &child)?;
            }
        }
        Ok(())
    }

    fn add(&mut self, path: &Path, rel: &[u8], meta: &Metadata) -> Result<(), LayerError> {
        let ft = meta.file_type();
        let mut header = Header::new_ustar();
        let mut name = rel.to_vec();
        let mut link: Option<Vec<u8>> = None;
        let mut size = 0;
        let kind = if ft.is_dir() {
            name.push(b'/');
            EntryType::Directory
        } else if ft.is_symlink() {
            let target =
                fs::read_link(path).map_err(|e| LayerError::io("read symlink", path, e))?;
            link = Some(target.as_os_str().as_bytes().to_vec());
            EntryType::Symlink
        } else if let Some(first) = self.seen_link(meta, rel) {
            link = Some(first);
            EntryType::Link
        } else if ft.is_file() {
            size = meta.len();
            EntryType::Regular
        } else if ft.is_fifo() {
            EntryType::Fifo
        } else if ft.is_char_device() || ft.is_block_device() {
            let rdev = meta.rdev() as rustix::fs::Dev;
            header
                .set_device_major(rustix::fs::major(rdev))
                .and_then(|()| header.set_device_minor(rustix::fs::minor(rdev)))
                .map_err(|e| LayerError::io("record device numbers of", path, e))?;
            if ft.is_char_device() {
                EntryType::Char
            } else {
                EntryType::Block
            }
        } else {
            // Sockets cannot be archived; Docker leaves them out too.
            return Ok(());
        };

        let mut mtime = meta.mtime();
        if let Some(epoch) = self.opts.source_date_epoch {
            mtime = mtime.min(epoch);
        }
        header.set_entry_type(kind);
        header.set_mode(meta.mode() & 0o7777);
        header.set_uid(meta.uid().into());
        header.set_gid(meta.gid().into());
        header.set_mtime(mtime.max(0) as u64);
        header.set_size(size);

        let mut pax: Vec<(String, Vec<u8>)> = Vec::new();
        let old = header.as_old_mut();
        if name.len() > old.name.len() {
            pax.push(("path".into(), name.clone()));
        }
        copy_truncated(&mut old.name, &name);
        if let Some(link) = &link {
            if link.len() > old.linkname.len() {
                pax.push(("linkpath".into(), link.clone()));
            }
            copy_truncated(&mut old.linkname, link);
        }
        if kind != EntryType::Link {
            for (key, value) in
                read_xattrs(path).map_err(|e| LayerError::io("read xattrs of", path, e))?
            {
                pax.push((format!("SCHILY.xattr.{key}"), value));
            }
        }
        header.set_cksum();

        let write_err =
            |e| LayerError::stream(format!("write entry {}", String::from_utf8_lossy(rel)), e);
        if !pax.is_empty() {
            let (pax_header, records) = pax_entry(rel, &pax);
            self.builder
                .append(&pax_header, &records[..])
                .map_err(write_err)?;
        }
        if kind == EntryType::Regular {
            let file = File::open(path).map_err(|e| LayerError::io("open", path, e))?;
            let data = Exact {
                inner: BufReader::with_capacity(BUFFER_SIZE, file),
                left: size,
            };
            self.builder.append(&header, data).map_err(write_err)?;
        } else {
            self.builder
                .append(&header, io::empty())
                .map_err(write_err)?;
        }
        Ok(())
    }

    /// For a non-directory with several links: the name it was first archived under, or
    /// `None` (and remember `rel`) if this is the first time it is seen.
    ///
    /// An overlay whiteout (character device 0/0) is never a link: overlayfs makes every
    /// whiteout of an upper directory a hard link of one shared inode, yet each stands for
    /// its own deletion and must stay its own entry (a link entry would name a path that
    /// the whiteout conversion renames, and the layer could not be applied).
    fn seen_link(&mut self, meta: &Metadata, rel: &[u8]) -> Option<Vec<u8>> {
        if meta.nlink() < 2 || meta.is_dir() || is_whiteout(meta) {
            return None;
        }
        let key = (meta.dev(), meta.ino());
        if let Some(first) = self.links.get(&key) {
            return Some(first.clone());
        }
        self.links.insert(key, rel.to_vec());
        None
    }
}

/// Whether `meta` is an overlay whiteout: a character device with device number 0/0.
fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

/// A PAX extended header (`x`) for the entry `rel`, named `PaxHeaders.0/<base>` as Go's
/// archive/tar does (some readers dislike an empty name), and its records.
fn pax_entry(rel: &[u8], records: &[(String, Vec<u8>)]) -> (Header, Vec<u8>) {
    let mut data = Vec::new();
    for (key, value) in records {
        // "<len> <key>=<value>\n", where <len> counts its own digits.
        let rest = 3 + key.len() + value.len();
        let mut len = rest + 1;
        while len.to_string().len() + rest != len {
            len += 1;
        }
        data.extend_from_slice(format!("{len} {key}=").as_bytes());
        data.extend_from_slice(value);
        data.push(b'\n');
    }
    let base = rel.rsplit(|&b| b == b'/').next().unwrap_or(rel);
    let mut name = b"PaxHeaders.0/".to_vec();
    name.extend_from_slice(base);
    let mut header = Header::new_ustar();
    header.set_entry_type(EntryType::XHeader);
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_size(data.len() as u64);
    copy_truncated(&mut header.as_old_mut().name, &name);
    header.set_cksum();
    (header, data)
}

fn copy_truncated(slot: &mut [u8], value: &[u8]) {
    let n = value.len().min(slot.len());
    slot[..n].copy_from_slice(&value[..n]);
}

/// xattrs that are overlayfs's own bookkeeping on an upper or lower directory (`origin`,
/// `impure`, `opaque`, ...), never image content. Docker leaves them out of layers too; their
/// values are binary file handles, which some tar readers cannot parse back.
const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";

/// The extended attributes of `path` (not following a symlink), sorted by name, without
/// overlayfs's own.
fn read_xattrs(path: &Path) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut names = vec![0u8; 1024];
    let len = loop {
        match rustix::fs::llistxattr(path, &mut names[..]) {
            Ok(n) => break n,
            Err(rustix::io::Errno::RANGE) => {
                let need = rustix::fs::llistxattr(path, &mut [0u8; 0][..])?;
                names.resize(need.max(names.len() * 2), 0);
            }
            Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        }
    };
    let mut out = Vec::new();
    for key in names[..len].split(|&b| b == 0).filter(|k| !k.is_empty()) {
        let Ok(key) = std::str::from_utf8(key) else {
            continue;
        };
        if key.starts_with(OVERLAY_XATTR_PREFIX) {
            continue;
        }
        let mut value = vec![0u8; 256];
        let n = loop {
            match rustix::fs::lgetxattr(path, key, &mut value[..]) {
                Ok(n) => break n,
                Err(rustix::io::Errno::RANGE) => {
                    let need = rustix::fs::lgetxattr(path, key, &mut [0u8; 0][..])?;
                    value.resize(need.max(value.len() * 2), 0);
                }
                // Removed between list and get.
                Err(rustix::io::Errno::NODATA) => break usize::MAX,
                Err(e) => return Err(e.into()),
            }
        };
        if n != usize::MAX {
            value.truncate(n);
            out.push((key.to_string(), value));
        }
    }
    out.sort();
    Ok(out)
}

/// Reads exactly `left` bytes of `inner`: a file that shrank while being archived is an
/// error, not a corrupt tar; bytes it grew by are not read.
struct Exact<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while it was being archived",
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `create_tree` names the resource itself and everything below it from `name`.
    #[test]
    fn trees_are_named_from_their_top() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("d");
        fs::create_dir_all(d.join("s")).unwrap();
        fs::write(d.join("s/f"), "x").unwrap();
        std::os::unix::fs::symlink("s", d.join("l")).unwrap();
        let names = |path: &Path, name: &str| -> Vec<String> {
            let mut out = Vec::new();
            create_tree(path, name.as_bytes(), &mut out).unwrap();
            let mut a = tar::Archive::new(&out[..]);
            a.entries()
                .unwrap()
                .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
                .collect()
        };
        for (path, name, want) in [
            (d.clone(), "d", &["d/", "d/l", "d/s/", "d/s/f"][..]),
            (d.clone(), "new", &["new/", "new/l", "new/s/", "new/s/f"]),
            (d.clone(), ".", &["./", "./l", "./s/", "./s/f"]),
            (d.clone(), "/", &["/", "/l", "/s/", "/s/f"]),
            (d.join("s/f"), "g", &["g"]),
            (d.join("l"), "l", &["l"]),
        ] {
            assert_eq!(names(&path, name), want, "{} as {name}", path.display());
        }
    }

    /// Needs root (mknod). Overlayfs links every whiteout of an upper directory to one
    /// inode; each must still be its own character-device entry, never a hard link.
    #[test]
    fn hardlinked_whiteouts_stay_separate_entries() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir(root.join("d")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("a"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::empty(),
            0,
        )
        .expect("mknod (needs root)");
        fs::hard_link(root.join("a"), root.join("b")).unwrap();
        fs::hard_link(root.join("a"), root.join("d/c")).unwrap();
        fs::write(root.join("f"), "x").unwrap();
        fs::hard_link(root.join("f"), root.join("g")).unwrap();
        let mut tar_bytes = Vec::new();
        create_layer(root, &mut tar_bytes, &CreateOptions::default()).unwrap();
        let got: Vec<(String, EntryType)> = tar::Archive::new(&tar_bytes[..])
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
                (name, e.header().entry_type())
            })
            .collect();
        assert_eq!(
            got,
            [
                ("a".to_string(), EntryType::Char),
                ("b".into(), EntryType::Char),
                ("d/".into(), EntryType::Directory),
                ("d/c".into(), EntryType::Char),
                ("f".into(), EntryType::Regular),
                // Real hard links are still links.
                ("g".into(), EntryType::Link),
            ]
        );
    }

    #[test]
    fn pax_records_count_their_own_length() {
        for (key, value_len) in [
            ("path", 1usize),
            ("path", 3),
            ("path", 4),
            ("path", 90),
            ("SCHILY.xattr.user.k", 985),
            ("x", 9_990),
        ] {
            let value = vec![b'v'; value_len];
            let (_, data) = pax_entry(b"a/b", &[(key.to_string(), value.clone())]);
            let space = data.iter().position(|&b| b == b' ').unwrap();
            let len: usize = std::str::from_utf8(&data[..space])
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(len, data.len(), "{key} {value_len}");
            let parsed: Vec<_> = tar::PaxExtensions::new(&data)
                .map(|r| r.unwrap().value_bytes().to_vec())
                .collect();
            assert_eq!(parsed, vec![value]);
        }
    }
}
