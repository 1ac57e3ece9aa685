//! Helpers shared by the integration tests: a tree with every kind of entry, and a
//! description of a tree that two copies must agree on.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown, symlink};
use std::path::Path;

use oci::Digest;
use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, XattrFlags};

pub const LONG: &str = "a-directory-name-that-is-quite-long-on-purpose/and-a-file-name-that-pushes-the-whole-path-beyond-one-hundred-bytes.txt";

pub fn set_mtime(p: &Path, secs: i64) {
    let t = Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let ts = Timestamps {
        last_access: t,
        last_modification: t,
    };
    rustix::fs::utimensat(CWD, p, &ts, AtFlags::SYMLINK_NOFOLLOW).unwrap();
}

/// A tree with every kind of entry and interesting metadata.
pub fn build_tree(src: &Path) {
    fs::create_dir_all(src.join("d/sub")).unwrap();
    fs::write(src.join("d/f"), "hello world\n").unwrap();
    fs::write(src.join("d/sub/big"), vec![7u8; 300_000]).unwrap();
    fs::write(src.join("empty"), "").unwrap();
    fs::hard_link(src.join("d/f"), src.join("hard")).unwrap();
    symlink("f", src.join("d/rel-link")).unwrap();
    symlink("/etc/passwd", src.join("abs-link")).unwrap();
    rustix::fs::mknodat(
        CWD,
        src.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
    rustix::fs::mknodat(
        CWD,
        src.join("null"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::from_raw_mode(0o666),
        rustix::fs::makedev(1, 3),
    )
    .unwrap();
    fs::create_dir(src.join("sticky")).unwrap();
    fs::create_dir_all(src.join(LONG).parent().unwrap()).unwrap();
    fs::write(src.join(LONG), "long").unwrap();
    symlink(LONG, src.join("link-to-long")).unwrap();

    rustix::fs::lsetxattr(
        src.join("d/f"),
        "user.test",
        b"value\0bin",
        XattrFlags::empty(),
    )
    .unwrap();
    rustix::fs::lsetxattr(src.join("d"), "user.dir", b"dirattr", XattrFlags::empty()).unwrap();

    lchown(src.join("d/f"), Some(1234), Some(5678)).unwrap();
    lchown(src.join("d"), Some(1000), Some(1001)).unwrap();
    lchown(src.join("abs-link"), Some(42), Some(43)).unwrap();
    lchown(src.join("null"), Some(7), Some(8)).unwrap();
    fs::set_permissions(src.join("d/f"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::set_permissions(src.join("sticky"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::set_permissions(src.join("d"), fs::Permissions::from_mode(0o2750)).unwrap();
    fs::set_permissions(src.join("empty"), fs::Permissions::from_mode(0o400)).unwrap();
    // Capabilities are cleared by chown, so after it.
    rustix::fs::lsetxattr(src.join("d/sub/big"), "user.x", b"1", XattrFlags::empty()).unwrap();

    // Times last, children before parents.
    let mut all = Vec::new();
    walk(src, src, &mut all);
    all.sort_by(|a, b| b.cmp(a));
    for (i, rel) in all.iter().enumerate() {
        set_mtime(&src.join(rel), 1_600_000_000 + i as i64 * 1000);
    }
}

pub fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        out.push(p.strip_prefix(root).unwrap().to_string_lossy().into_owned());
        if fs::symlink_metadata(&p).unwrap().is_dir() {
            walk(root, &p, out);
        }
    }
}

pub fn xattrs(p: &Path) -> Vec<(String, Vec<u8>)> {
    let mut names = vec![0u8; 4096];
    let n = rustix::fs::llistxattr(p, &mut names[..]).unwrap();
    let mut out = Vec::new();
    for k in names[..n].split(|&b| b == 0).filter(|k| !k.is_empty()) {
        let k = String::from_utf8(k.to_vec()).unwrap();
        let mut v = vec![0u8; 4096];
        let n = rustix::fs::lgetxattr(p, k.as_str(), &mut v[..]).unwrap();
        v.truncate(n);
        out.push((k, v));
    }
    out.sort();
    out
}

/// Every path with its kind, mode, owner, mtime, content, link target, xattrs and which
/// other path shares its inode.
pub fn describe(root: &Path) -> BTreeMap<String, String> {
    let mut all = Vec::new();
    walk(root, root, &mut all);
    all.sort();
    let mut first_by_inode: HashMap<u64, String> = HashMap::new();
    let mut out = BTreeMap::new();
    for rel in all {
        let p = root.join(&rel);
        let m = fs::symlink_metadata(&p).unwrap();
        let extra = if m.is_file() {
            format!("sha={}", Digest::sha256_of(&fs::read(&p).unwrap()))
        } else if m.is_symlink() {
            format!("-> {}", fs::read_link(&p).unwrap().display())
        } else {
            format!("rdev={}", m.rdev())
        };
        let link = if !m.is_dir() && m.nlink() > 1 {
            first_by_inode.entry(m.ino()).or_insert(rel.clone()).clone()
        } else {
            String::new()
        };
        out.insert(
            rel.clone(),
            format!(
                "mode={:o} uid={} gid={} mtime={} size={} {extra} link={link} xattrs={:?}",
                m.mode(),
                m.uid(),
                m.gid(),
                m.mtime(),
                if m.is_dir() { 0 } else { m.size() },
                xattrs(&p)
            ),
        );
    }
    out
}
