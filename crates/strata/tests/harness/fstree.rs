//! The merged filesystem of an image, read from a docker-archive (`docker save`,
//! `strata save`) by applying its layers in order with OCI whiteouts, written here without
//! strata's own code so both engines' archives are judged by the same independent reader.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::io::{BufReader, Read};
use std::path::Path;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// One filesystem entry as the differential suites compare it: no times, no inode numbers.
#[derive(Clone, PartialEq, Eq)]
pub struct Node {
    /// `f` file, `d` directory, `l` symlink, `c`/`b` devices, `p` fifo.
    pub kind: char,
    /// Permission bits with setuid/setgid/sticky.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Size of a regular file.
    pub size: u64,
    /// Symlink target.
    pub link: String,
    /// sha256 of a regular file's content (first 12 hex digits).
    pub sha: String,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:04o} {}:{}",
            self.kind, self.mode, self.uid, self.gid
        )?;
        match self.kind {
            'f' => write!(f, " {}B {}", self.size, self.sha),
            'l' => write!(f, " -> {}", self.link),
            _ => Ok(()),
        }
    }
}

/// Path (no leading `/` or `./`, no trailing `/`) to entry.
pub type Tree = BTreeMap<String, Node>;

/// The merged tree of the image in a docker-archive at `archive` (its first image).
pub fn from_archive(archive: &Path) -> Tree {
    let manifest: Value = serde_json::from_slice(&member(archive, "manifest.json"))
        .unwrap_or_else(|e| panic!("{}: manifest.json: {e}", archive.display()));
    let layers: Vec<String> = manifest[0]["Layers"]
        .as_array()
        .unwrap_or_else(|| panic!("{}: no Layers in manifest.json", archive.display()))
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    let mut tree = Tree::new();
    for layer in layers {
        apply(&mut tree, &member(archive, &layer));
    }
    tree
}

/// The bytes of one member of a tar archive.
fn member(archive: &Path, name: &str) -> Vec<u8> {
    let f = fs::File::open(archive).unwrap_or_else(|e| panic!("{}: {e}", archive.display()));
    let mut a = tar::Archive::new(BufReader::new(f));
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if clean(&e.path().unwrap().to_string_lossy()) == clean(name) {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            return data;
        }
    }
    panic!("{}: no member {name}", archive.display())
}

/// A path without `./`, leading or trailing `/`.
fn clean(p: &str) -> String {
    p.trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

/// Applies one layer (plain, gzip or zstd tar) onto `tree`.
pub fn apply(tree: &mut Tree, layer: &[u8]) {
    let reader: Box<dyn Read + '_> = if layer.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(layer))
    } else if layer.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::new(layer).unwrap())
    } else {
        Box::new(layer)
    };
    let mut a = tar::Archive::new(reader);
    // Opaque directories are cleared of what lower layers put there before this layer's
    // own entries land; collect them first.
    let mut entries = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let path = clean(&e.path().unwrap().to_string_lossy());
        let h = e.header();
        let kind = match h.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => 'f',
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
            tar::EntryType::Link => 'h',
            tar::EntryType::Char => 'c',
            tar::EntryType::Block => 'b',
            tar::EntryType::Fifo => 'p',
            _ => continue,
        };
        let link = e
            .link_name()
            .unwrap()
            .map(|l| l.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut node = Node {
            kind,
            mode: h.mode().unwrap() & 0o7777,
            uid: h.uid().unwrap(),
            gid: h.gid().unwrap(),
            size: 0,
            link,
            sha: String::new(),
        };
        if kind == 'f' {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            node.size = data.len() as u64;
            node.sha = hex::encode(Sha256::digest(&data))[..12].to_string();
        }
        entries.push((path, node));
    }
    for (path, _) in &entries {
        if let Some(dir) = path.strip_suffix(".wh..wh..opq") {
            let dir = dir.trim_end_matches('/');
            let prefix = format!("{dir}/");
            tree.retain(|p, _| !(dir.is_empty() || p.starts_with(&prefix)));
        }
    }
    for (path, node) in entries {
        if path.is_empty() || path.ends_with(".wh..wh..opq") {
            continue;
        }
        let (parent, name) = match path.rsplit_once('/') {
            Some((p, n)) => (format!("{p}/"), n),
            None => (String::new(), path.as_str()),
        };
        if let Some(gone) = name.strip_prefix(".wh.") {
            let gone = format!("{parent}{gone}");
            let prefix = format!("{gone}/");
            tree.retain(|p, _| *p != gone && !p.starts_with(&prefix));
            continue;
        }
        if node.kind == 'h' {
            let target = clean(&node.link);
            let resolved = tree
                .get(&target)
                .cloned()
                .unwrap_or_else(|| panic!("hardlink {path} to missing {target}"));
            tree.insert(path, resolved);
            continue;
        }
        // A non-directory replacing a directory removes what was under it.
        if node.kind != 'd' {
            let prefix = format!("{path}/");
            tree.retain(|p, _| !p.starts_with(&prefix));
        }
        tree.insert(path, node);
    }
}

/// The differences between two trees, one line each (`-` only in `a`, `+` only in `b`,
/// `~` in both but different), after dropping the paths `ignore` accepts.
pub fn diff(a: &Tree, b: &Tree, ignore: impl Fn(&str) -> bool) -> Vec<String> {
    let mut out = Vec::new();
    for (p, n) in a {
        if ignore(p) {
            continue;
        }
        match b.get(p) {
            None => out.push(format!("- /{p}: {n:?}")),
            Some(m) if m != n => out.push(format!("~ /{p}: {n:?} | {m:?}")),
            Some(_) => {}
        }
    }
    for (p, m) in b {
        if !ignore(p) && !a.contains_key(p) {
            out.push(format!("+ /{p}: {m:?}"));
        }
    }
    out
}
