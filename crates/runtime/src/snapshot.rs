//! Layer snapshots: each layer unpacked once, by chain ID, and shared read-only as an
//! overlay lower directory by every container that needs it.
//!
//! ```text
//! <store>/snapshots/
//!   <chainID hex>/fs       the layer's own files, whiteouts in overlay form
//!   <chainID hex>/ready    written last, before the directory is renamed into place
//!   empty/                 the lower directory of an image with no layers
//!   locks/<hex>.lock       held exclusively by the one process unpacking that snapshot
//!   tmp/<hex>.<pid>.<n>/   a snapshot being unpacked (removed if left by a crash)
//! ```
//!
//! The paths come from [`store::Layout`]; the staging names (`<hex>.<pid>.<n>`) are
//! this module's own.
//!
//! A snapshot holds only its own layer, so it is an overlay lower directory as is: a
//! `.wh.NAME` entry becomes a character device 0/0 named `NAME`, and a `.wh..wh..opq`
//! marker becomes the `trusted.overlay.opaque=y` attribute on its directory. The layer's
//! regular entries are applied by [`layer::apply_layer`] (safe, never outside the root);
//! the whiteout names are collected from the same decompressed stream by a second tar
//! reader on another thread, so the blob is read and decompressed once.

use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use oci::{Digest, Manifest};
use rustix::fs::{self as rfs, FileType, Mode, XattrFlags};
use store::{ImageInfo, SnapshotDir, Store};

use crate::{RuntimeError, inroot};

const WHITEOUT_PREFIX: &[u8] = b".wh.";
const WHITEOUT_OPAQUE: &[u8] = b".wh..wh..opq";
const WHITEOUT_META: &[u8] = b".wh..wh.";

/// The chain IDs of a stack of layers, base first (OCI image spec): the first is the
/// first diffID; each next is `sha256(previous + " " + diffID)`.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    oci::chain_ids(diff_ids)
}

/// Makes sure every layer of `image` is unpacked and returns the overlay lower
/// directories, top layer first.
pub fn prepare(store: &Store, image: &ImageInfo) -> Result<Vec<PathBuf>, RuntimeError> {
    let name = image
        .tags
        .first()
        .cloned()
        .unwrap_or_else(|| image.id.to_string());
    let bad = |detail: String| RuntimeError::BadImage {
        image: name.clone(),
        detail,
    };
    let config = oci::ImageConfig::from_slice(&store.image_config(image)?)
        .map_err(|e| bad(e.to_string()))?;
    let manifest = Manifest::from_slice(&store.manifest_bytes(&image.manifest)?)
        .map_err(|e| bad(e.to_string()))?;
    let diff_ids = &config.rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(bad(format!(
            "the config lists {} layers, the manifest {}",
            diff_ids.len(),
            manifest.layers.len()
        )));
    }
    prepare_layers(store, diff_ids, &manifest.layers)
}

/// [`prepare`] for a stack of layers that is not (yet) a stored image, such as a build
/// stage: `diff_ids` and `layers` (the blobs) base first, as many of each.
pub fn prepare_layers(
    store: &Store,
    diff_ids: &[Digest],
    layers: &[oci::Descriptor],
) -> Result<Vec<PathBuf>, RuntimeError> {
    let layout = store.layout();
    for p in [layout.snapshot_locks_dir(), layout.snapshot_staging_dir()] {
        fs::create_dir_all(&p).map_err(|e| RuntimeError::io("create", &p, e))?;
    }
    if diff_ids.is_empty() {
        let empty = layout.empty_snapshot();
        fs::create_dir_all(&empty).map_err(|e| RuntimeError::io("create", &empty, e))?;
        return Ok(vec![empty]);
    }
    let chains = chain_ids(diff_ids);
    let mut lowers = Vec::with_capacity(chains.len());
    for ((chain, diff_id), desc) in chains.iter().zip(diff_ids).zip(layers) {
        ensure(store, chain, diff_id, &desc.digest)?;
        lowers.push(layout.snapshot(chain).fs());
    }
    lowers.reverse();
    Ok(lowers)
}

/// Removes the snapshots no stored image nor container needs (their chain IDs are not in
/// any such image's layer stack), and unpacks left by crashed processes. Returns the chain
/// IDs removed (hex). Each snapshot is removed under its lock, so an unpack in progress is
/// not disturbed.
pub fn prune(store: &Store) -> Result<Vec<String>, RuntimeError> {
    let mut needed = std::collections::HashSet::new();
    // Containers' images count even once deleted (`rmi -f`): a container runs on them.
    for info in store.images()?.into_iter().chain(store.images_in_use()?) {
        let Ok(bytes) = store.image_config(&info) else {
            continue;
        };
        if let Ok(cfg) = oci::ImageConfig::from_slice(&bytes) {
            needed.extend(
                chain_ids(&cfg.rootfs.diff_ids)
                    .iter()
                    .map(|c| c.hex().to_string()),
            );
        }
    }
    let layout = store.layout();
    let dir = layout.snapshots_dir();
    let mut removed = Vec::new();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(RuntimeError::io("list", &dir, e)),
    };
    for e in entries {
        let e = e.map_err(|e| RuntimeError::io("list", &dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let is_chain = name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_chain || needed.contains(&name) {
            continue;
        }
        let lock_path = layout.snapshot_lock_named(&name);
        let lock =
            File::create(&lock_path).map_err(|e| RuntimeError::io("create", &lock_path, e))?;
        lock.lock()
            .map_err(|e| RuntimeError::io("lock", &lock_path, e))?;
        let snapshot = SnapshotDir::at(e.path());
        // The ready marker goes first: a reader never sees a half-removed snapshot as ready.
        let _ = fs::remove_file(snapshot.ready());
        let path = snapshot.path();
        fs::remove_dir_all(path).map_err(|e| RuntimeError::io("remove", path, e))?;
        // The lock file stays: another process may be waiting on it.
        removed.push(name);
    }
    // Unpacks of processes that are gone: `tmp/<hex>.<pid>.<n>`.
    if let Ok(tmps) = fs::read_dir(layout.snapshot_staging_dir()) {
        for t in tmps.flatten() {
            let name = t.file_name().to_string_lossy().into_owned();
            let pid = name.split('.').nth(1).and_then(|p| p.parse::<u32>().ok());
            if pid.is_some_and(|p| !Path::new(&format!("/proc/{p}")).exists()) {
                let _ = fs::remove_dir_all(t.path());
            }
        }
    }
    removed.sort();
    Ok(removed)
}

/// Unpacks the layer blob `blob` as snapshot `chain` unless it is there already.
fn ensure(
    store: &Store,
    chain: &Digest,
    diff_id: &Digest,
    blob: &Digest,
) -> Result<(), RuntimeError> {
    let layout = store.layout();
    let target = layout.snapshot(chain);
    if target.ready().exists() {
        return Ok(());
    }
    let lock_path = layout.snapshot_lock(chain);
    let lock = File::create(&lock_path).map_err(|e| RuntimeError::io("create", &lock_path, e))?;
    lock.lock()
        .map_err(|e| RuntimeError::io("lock", &lock_path, e))?;
    if target.ready().exists() {
        return Ok(());
    }
    let target = target.path();
    if target.exists() {
        // No ready marker: the remains of a prune that crashed mid-way. Start again.
        fs::remove_dir_all(target).map_err(|e| RuntimeError::io("remove", target, e))?;
    }
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = SnapshotDir::at(layout.snapshot_staging_dir().join(format!(
        "{}.{}.{}",
        chain.hex(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )));
    let result = unpack(store, &tmp, diff_id, blob).and_then(|()| {
        let ready = tmp.ready();
        fs::write(&ready, diff_id.to_string()).map_err(|e| RuntimeError::io("write", &ready, e))?;
        fs::rename(tmp.path(), target).map_err(|e| RuntimeError::io("rename into place", target, e))
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(tmp.path());
    }
    result
}

fn unpack(
    store: &Store,
    tmp: &SnapshotDir,
    diff_id: &Digest,
    blob: &Digest,
) -> Result<(), RuntimeError> {
    let fs_dir = tmp.fs();
    fs::create_dir_all(&fs_dir).map_err(|e| RuntimeError::io("create", &fs_dir, e))?;
    let layer_err = |source| RuntimeError::Layer {
        diff_id: diff_id.to_string(),
        source,
    };
    let file = store.open_blob(blob)?;
    let decompressed = layer::decompress_auto(file).map_err(layer_err)?;
    let (tx, rx) = sync_channel::<Vec<u8>>(16);
    let scanner = std::thread::spawn(move || scan_whiteouts(rx));
    let mut hashed = layer::HashingReader::new(Tee {
        inner: decompressed,
        tx: Some(tx),
    });
    let applied = layer::apply_layer(&fs_dir, &mut hashed, &layer::ApplyOptions::default())
        .map_err(layer_err)
        .and_then(|_| {
            io::copy(&mut hashed, &mut io::sink())
                .map_err(|e| RuntimeError::io("read the end of layer", &store.blob_path(blob), e))
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
        Ok(Err(e)) => {
            return Err(RuntimeError::io(
                "scan whiteouts of",
                &store.blob_path(blob),
                e,
            ));
        }
        Err(_) => {
            return Err(RuntimeError::io(
                "scan whiteouts of",
                &store.blob_path(blob),
                io::Error::other("scanner thread panicked"),
            ));
        }
    };
    for name in whiteouts {
        to_overlay_whiteout(&fs_dir, &name)?;
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

    fn d(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .unwrap()
    }

    #[test]
    fn chain_ids_follow_the_image_spec() {
        let (a, b, c) = (d('a'), d('b'), d('c'));
        let ab = Digest::sha256_of(format!("{a} {b}").as_bytes());
        let abc = Digest::sha256_of(format!("{ab} {c}").as_bytes());
        for (input, want) in [
            (vec![], vec![]),
            (vec![a.clone()], vec![a.clone()]),
            (vec![a.clone(), b.clone()], vec![a.clone(), ab.clone()]),
            (
                vec![a.clone(), b.clone(), c.clone()],
                vec![a.clone(), ab.clone(), abc],
            ),
        ] {
            assert_eq!(chain_ids(&input), want);
        }
        // A known value: sha256("sha256:aaa… sha256:bbb…").
        assert_eq!(
            ab.hex(),
            "ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c"
        );
    }

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
