//! The context's metadata cache: content digests of host files, remembered by path,
//! size, mtime and inode so that an unchanged file is not read again (within a build, and
//! between builds).
//!
//! Between builds the table of one context root is kept in a file of its own, in a compact
//! binary form: a cached build reads only the digests of its own context (a table of every
//! context ever built, as JSON, cost more to parse than the rest of a cached build), and
//! writes nothing when it read no file.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use oci::Digest;

use crate::BuildError;
use crate::context::{StatKey, stat_key};

/// The first bytes of a saved table; a file without them (or of another version) is
/// ignored, and its files are hashed again.
const MAGIC: &[u8] = b"strata-context-hashes 1\n";

/// Digests of host files by path (its bytes: hashing a `Path` goes component by component,
/// which showed in cached builds), with the identity they were read at.
#[derive(Debug, Default, Clone)]
pub struct FileHashes {
    /// The digest as its 64 hex digits: made a `Digest` when used, not for every entry of
    /// a loaded table.
    map: HashMap<Vec<u8>, (StatKey, [u8; 64])>,
    /// Files actually read (for tests and progress).
    pub reads: u64,
}

impl FileHashes {
    /// The sha256 of the file at `path`.
    pub fn digest(&mut self, path: &Path) -> Result<Digest, BuildError> {
        let meta = fs::metadata(path).map_err(|e| BuildError::io("read", path, e))?;
        self.digest_as(path, stat_key(&meta))
    }

    /// The sha256 of the file at `path`, whose identity a walk found to be `key`: read
    /// only when the table has no digest for that identity.
    pub fn digest_as(&mut self, path: &Path, key: StatKey) -> Result<Digest, BuildError> {
        let name = path.as_os_str().as_bytes();
        if let Some((k, hex)) = self.map.get(name)
            && *k == key
            && let Some(d) = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| Digest::new(oci::Algorithm::Sha256, h).ok())
        {
            return Ok(d);
        }
        let mut f = fs::File::open(path).map_err(|e| BuildError::io("open", path, e))?;
        let mut h = oci::Algorithm::Sha256.digester();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| BuildError::io("read", path, e))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let d = h.finish();
        self.reads += 1;
        let mut hex = [0u8; 64];
        hex.copy_from_slice(d.hex().as_bytes());
        self.map.insert(name.to_vec(), (key, hex));
        Ok(d)
    }

    /// Adds what `other` learnt (a table filled elsewhere).
    pub fn merge(&mut self, other: FileHashes) {
        self.map.extend(other.map);
        self.reads += other.reads;
    }

    /// Loads the digests remembered for files below `root` from `path` (an empty table
    /// when missing, unreadable or not in this format).
    pub fn load(path: &Path, root: &Path) -> FileHashes {
        let mut t = FileHashes::default();
        if let Ok(bytes) = fs::read(path) {
            t.decode(&bytes, root);
        }
        t
    }

    /// Saves the entries below `root` to `path` (temp file + rename), names relative to
    /// `root`.
    pub fn save(&self, path: &Path, root: &Path) -> Result<(), BuildError> {
        crate::cache::write_atomic(path, &self.encode(root))
    }

    fn encode(&self, root: &Path) -> Vec<u8> {
        let mut prefix = root.as_os_str().as_bytes().to_vec();
        prefix.push(b'/');
        let mut out = MAGIC.to_vec();
        for (name, ((size, mtime, nsec, ino), d)) in &self.map {
            let Some(rel) = name.strip_prefix(prefix.as_slice()) else {
                continue;
            };
            let Ok(len) = u16::try_from(rel.len()) else {
                continue;
            };
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(rel);
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&mtime.to_le_bytes());
            out.extend_from_slice(&nsec.to_le_bytes());
            out.extend_from_slice(&ino.to_le_bytes());
            out.extend_from_slice(d);
        }
        out
    }

    /// Reads records until the data ends; a truncated or malformed record ends the table
    /// there (what came before stays usable).
    fn decode(&mut self, bytes: &[u8], root: &Path) {
        let Some(mut rest) = bytes.strip_prefix(MAGIC) else {
            return;
        };
        let mut prefix = root.as_os_str().as_bytes().to_vec();
        prefix.push(b'/');
        fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
            let (a, b) = (rest.get(..n)?, rest.get(n..)?);
            *rest = b;
            Some(a)
        }
        // A record is about 110 bytes: no rehash while the table fills.
        self.map.reserve(rest.len() / 100);
        let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
        while !rest.is_empty() {
            let rec = (|| {
                let len = u16::from_le_bytes(take(&mut rest, 2)?.try_into().ok()?) as usize;
                let rel = take(&mut rest, len)?;
                let size = u64_of(take(&mut rest, 8)?);
                let mtime = u64_of(take(&mut rest, 8)?) as i64;
                let nsec = u64_of(take(&mut rest, 8)?) as i64;
                let ino = u64_of(take(&mut rest, 8)?);
                let d: [u8; 64] = take(&mut rest, 64)?.try_into().ok()?;
                let mut name = Vec::with_capacity(prefix.len() + rel.len());
                name.extend_from_slice(&prefix);
                name.extend_from_slice(rel);
                Some((name, ((size, mtime, nsec, ino), d)))
            })();
            match rec {
                Some((name, v)) => {
                    self.map.insert(name, v);
                }
                None => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table saved and loaded again serves every digest without reading a file; entries
    /// of another root are not saved with it; a truncated file keeps its whole records.
    #[test]
    fn saved_table_round_trips_per_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ctx");
        let other = dir.path().join("other");
        for d in [&root, &other] {
            fs::create_dir_all(d).unwrap();
        }
        fs::write(root.join("a"), "a").unwrap();
        fs::write(root.join("b"), "b").unwrap();
        fs::write(other.join("c"), "c").unwrap();
        let mut t = FileHashes::default();
        let da = t.digest(&root.join("a")).unwrap();
        let db = t.digest(&root.join("b")).unwrap();
        t.digest(&other.join("c")).unwrap();
        assert_eq!(t.reads, 3);
        assert_eq!(da, Digest::sha256_of(b"a"));
        let file = dir.path().join("table.bin");
        t.save(&file, &root).unwrap();

        let mut back = FileHashes::load(&file, &root);
        assert_eq!(
            back.map.len(),
            2,
            "only the entries below the root are kept"
        );
        assert_eq!(back.digest(&root.join("a")).unwrap(), da);
        assert_eq!(back.digest(&root.join("b")).unwrap(), db);
        assert_eq!(back.reads, 0, "remembered digests are not read again");

        // A changed file is read again.
        fs::write(root.join("a"), "changed!").unwrap();
        assert_eq!(
            back.digest(&root.join("a")).unwrap(),
            Digest::sha256_of(b"changed!")
        );
        assert_eq!(back.reads, 1);

        // Truncated in the middle of its last record: the first record still loads.
        let bytes = fs::read(&file).unwrap();
        fs::write(&file, &bytes[..bytes.len() - 10]).unwrap();
        assert_eq!(FileHashes::load(&file, &root).map.len(), 1);
        // Another format: nothing.
        fs::write(&file, b"{}").unwrap();
        assert!(FileHashes::load(&file, &root).map.is_empty());
    }
}
