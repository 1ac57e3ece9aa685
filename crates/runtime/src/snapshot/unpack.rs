//! Unpacking one layer into a snapshot directory: its regular entries applied, its
//! whiteouts turned into overlay form.
//!
//! A snapshot holds only its own layer, so it is an overlay lower directory as is: a
//! `.wh.NAME` entry becomes a character device 0/0 named `NAME`, and a `.wh..wh..opq`
//! marker becomes the `trusted.overlay.opaque=y` attribute on its directory. The layer's
//! regular entries are applied by [`layer::apply_layer`] (safe, never outside the root);
//! the whiteout names are collected from the same decompressed stream by a second tar
//! reader on another thread, so the layer is read and decompressed once.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use oci::Digest;
use rustix::fs::{self as rfs, FileType, Mode, XattrFlags};

use crate::{RuntimeError, inroot};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";
const WHITEOUT_META: &[u8] = b".wh..wh.";

/// Unpacks the compressed layer `compressed` into `fs_dir` (made here), whiteouts in
/// overlay form, and checks that it decompresses to `diff_id`. `blob` is the layer's digest
/// and `what` the path of its blob, to name them in errors. The stream is read and decompressed once: the regular entries are applied by
/// [`layer::apply_layer`] while a second tar reader on another thread collects the
/// whiteout names from the same decompressed bytes.
pub(super) fn unpack(
    fs_dir: &Path,
    compressed: impl Read + Send + 'static,
    diff_id: &Digest,
    blob: &Digest,
    what: &Path,
) -> Result<(), RuntimeError> {
    fs::create_dir_all(fs_dir).map_err(|e| RuntimeError::io("create", fs_dir, e))?;
    let layer_err = |source| RuntimeError::Layer {
        diff_id: diff_id.to_string(),
        source,
    };
    let decompressed = layer::decompress_auto(compressed).map_err(layer_err)?;
    let (tx, rx) = sync_channel::<Vec<u8>>(16);
    let scanner = std::thread::spawn(move || scan_whiteouts(rx));
    let mut hashed = layer::HashingReader::new(Tee {
        inner: decompressed,
        tx: Some(tx),
    });
    let applied = layer::apply_layer(fs_dir, &mut hashed, &layer::ApplyOptions::default())
        .map_err(layer_err)
        .and_then(|_| {
            io::copy(&mut hashed, &mut io::sink())
                .map_err(|e| RuntimeError::io("read the end of layer", what, e))
        });
    let actual = hashed.digest();
    drop(hashed); // closes the channel: the scanner sees the end of the stream
    let scanned = scanner.join();
    applied?;
    if &actual != diff_id {
        return Err(RuntimeError::BadImage {
            image: blob.to_string(),
            detail: format!("layer {blob} has diffID {actual}, the config says {diff_id}"),
        });
    }
    let whiteouts = match scanned {
        Ok(Ok(w)) => w,
        Ok(Err(e)) => return Err(RuntimeError::io("scan whiteouts of", what, e)),
        Err(_) => {
            return Err(RuntimeError::io(
                "scan whiteouts of",
                what,
                io::Error::other("scanner thread panicked"),
            ));
        }
    };
    for name in whiteouts {
        to_overlay_whiteout(fs_dir, &name)?;
    }
    Ok(())
}

/// Passes bytes through and sends a copy to the whiteout scanner (until it hangs up).
struct Tee<R> {
    inner: R,
    tx: Option<SyncSender<Vec<u8>>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0
            && let Some(tx) = &self.tx
            && tx.send(buf[..n].to_vec()).is_err()
        {
            self.tx = None;
        }
        Ok(n)
    }
}

/// Reads the chunks a [`Tee`] sends.
struct ChannelReader {
    rx: Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(c) => {
                    self.chunk = c;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The names of the whiteout entries of a tar stream, as written.
fn scan_whiteouts(rx: Receiver<Vec<u8>>) -> io::Result<Vec<Vec<u8>>> {
    let mut archive = tar::Archive::new(ChannelReader {
        rx,
        chunk: Vec::new(),
        pos: 0,
    });
    let mut out = Vec::new();
    for entry in archive.entries()? {
        let entry = entry?;
        let path = entry.path_bytes();
        let trimmed = path.strip_suffix(b"/").unwrap_or(&path);
        let base = trimmed.rsplit(|&b| b == b'/').next().unwrap_or(trimmed);
        if base.starts_with(WHITEOUT_PREFIX) {
            out.push(trimmed.to_vec());
        }
    }
    Ok(out)
}

/// Records the whiteout entry `name` in overlay form inside `root`.
fn to_overlay_whiteout(root: &Path, name: &[u8]) -> Result<(), RuntimeError> {
    let parts: Vec<&[u8]> = name
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect();
    let Some((base, parents)) = parts.split_last() else {
        return Ok(());
    };
    // AUFS metadata (`.wh..wh.plnk`, …) other than the opaque marker means nothing here;
    // apply_layer has refused names with `..` already.
    let in_meta = parents
        .first()
        .is_some_and(|p| p.starts_with(WHITEOUT_META));
    if in_meta || (base.starts_with(WHITEOUT_META) && *base != WHITEOUT_OPAQUE) {
        return Ok(());
    }
    let joined = parents.join(&b'/');
    let Ok(parent_path) = std::str::from_utf8(&joined) else {
        return Err(RuntimeError::io(
            "create whiteout parent",
            &root.join(OsStr::from_bytes(&joined)),
            io::Error::other("non-UTF-8 directory names are not supported for whiteouts"),
        ));
    };
    let dir = inroot::mkdir_all(root, parent_path, None)?;
    let where_ = root.join(parent_path);
    if *base == WHITEOUT_OPAQUE {
        return rfs::fsetxattr(&dir, "trusted.overlay.opaque", b"y", XattrFlags::empty())
            .map_err(|e| RuntimeError::io("mark opaque", &where_, e.into()));
    }
    let victim = OsStr::from_bytes(&base[WHITEOUT_PREFIX.len()..]);
    match rfs::statat(&dir, victim, rfs::AtFlags::SYMLINK_NOFOLLOW) {
        // The layer itself put a file there after whiting the old one out: it stays.
        Ok(_) => Ok(()),
        Err(rustix::io::Errno::NOENT) => {
            rfs::mknodat(&dir, victim, FileType::CharacterDevice, Mode::empty(), 0)
                .map_err(|e| RuntimeError::io("create whiteout", &where_.join(victim), e.into()))
        }
        Err(e) => Err(RuntimeError::io("stat", &where_.join(victim), e.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileTypeExt;

    fn tar_with(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            match data {
                Some(bytes) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(bytes.len() as u64);
                    h.set_mode(0o644);
                    b.append_data(&mut h, name, *bytes).unwrap();
                }
                None => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    h.set_mode(0o755);
                    b.append_data(&mut h, name, &[][..]).unwrap();
                }
            }
        }
        b.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_are_collected_from_the_stream() {
        let tar = tar_with(&[
            ("etc/", None),
            ("etc/.wh.motd", Some(b"")),
            ("var/lib/.wh..wh..opq", Some(b"")),
            ("a/b", Some(b"data")),
            (".wh..wh.plnk/1", Some(b"")),
        ]);
        let (tx, rx) = sync_channel(4);
        let scanner = std::thread::spawn(move || scan_whiteouts(rx));
        let mut tee = Tee {
            inner: &tar[..],
            tx: Some(tx),
        };
        let mut copy = Vec::new();
        tee.read_to_end(&mut copy).unwrap();
        drop(tee);
        assert_eq!(copy, tar);
        let got = scanner.join().unwrap().unwrap();
        assert_eq!(
            got,
            vec![b"etc/.wh.motd".to_vec(), b"var/lib/.wh..wh..opq".to_vec()]
        );
    }

    /// Needs root: `trusted.*` xattrs and device nodes.
    #[test]
    fn whiteouts_take_overlay_form() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::create_dir_all(root.join("keep")).unwrap();
        fs::write(root.join("keep/present"), "x").unwrap();
        to_overlay_whiteout(root, b"etc/.wh.motd").unwrap();
        to_overlay_whiteout(root, b"var/lib/.wh..wh..opq").unwrap();
        to_overlay_whiteout(root, b"keep/.wh.present").unwrap();
        to_overlay_whiteout(root, b".wh..wh.plnk").unwrap();
        let md = fs::symlink_metadata(root.join("etc/motd")).unwrap();
        assert!(md.file_type().is_char_device());
        use std::os::unix::fs::MetadataExt;
        assert_eq!(md.rdev(), 0);
        let mut buf = [0u8; 4];
        let n = rfs::getxattr(root.join("var/lib"), "trusted.overlay.opaque", &mut buf[..])
            .expect("opaque xattr (needs root)");
        assert_eq!(&buf[..n], b"y");
        assert!(
            fs::symlink_metadata(root.join("keep/present"))
                .unwrap()
                .is_file()
        );
        assert!(!root.join(".wh..wh.plnk").exists());
    }
}
