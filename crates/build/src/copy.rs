//! COPY and ADD without a container: the sources become a list of layer entries (Docker's
//! destination rules applied), whose content digest goes into the cache key, and which
//! are written straight into a layer tar.
//!
//! Destination rules (as Docker's): a relative destination is below WORKDIR; copying a
//! directory copies its contents; a destination ending in `/`, or several sources, make the
//! destination a directory; ADD extracts a local tar archive (plain, gzip or zstd) into the
//! destination directory. Files are owned by `--chown` (numeric) or root, with their mode
//! or `--chmod`; times are the sources' mtimes, clamped to `SOURCE_DATE_EPOCH`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use oci::Digest;

use crate::BuildError;
use crate::context::{StatKey, Tree, stat_key};
pub use crate::hashes::FileHashes;

/// What a layer entry holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file read from the host, with its identity when it was found (so that
    /// a remembered digest is found without a second `stat`).
    File(PathBuf, StatKey),
    /// A symlink with this target.
    Symlink(String),
    /// A file whose bytes are given (COPY heredocs).
    Inline(Vec<u8>),
    /// A local tar archive (ADD) whose members are extracted below the entry's name.
    Archive(PathBuf),
}

/// One entry of a COPY/ADD layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The path in the image, relative to `/`, without a trailing slash.
    pub name: String,
    /// What it is.
    pub kind: Kind,
    /// Permission bits (and setuid/setgid/sticky).
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Modification time, seconds since the epoch (already clamped).
    pub mtime: i64,
}

/// How to copy.
#[derive(Debug, Clone, Default)]
pub struct CopyOptions {
    /// `--chown` as numeric ids.
    pub chown: Option<(u64, u64)>,
    /// `--chmod`.
    pub chmod: Option<u32>,
    /// ADD: extract local tar archives.
    pub unpack: bool,
    /// `COPY --parents`: keep each source's path below the destination.
    pub parents: bool,
    /// `SOURCE_DATE_EPOCH`: clamp every mtime to it.
    pub epoch: Option<i64>,
    /// What the layers below already hold at the destination (symlinks followed).
    pub existing: Existing,
}

/// What is at a COPY destination before the copy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Existing {
    /// Nothing.
    #[default]
    Nothing,
    /// A directory: sources go into it, trailing slash or not.
    Dir,
    /// A file or anything else: a file source replaces it, a directory cannot go there.
    Other,
}

/// Parses `--chown=uid[:gid]` (numbers, or `root`). Names would need the image's
/// `/etc/passwd`, which COPY does not read.
pub fn parse_chown(s: &str) -> Result<(u64, u64), String> {
    let id = |p: &str| match p {
        "root" => Ok(0),
        p => p.parse::<u64>().map_err(|_| {
            format!("--chown={s}: use numeric ids (uid[:gid]); user names are not resolved")
        }),
    };
    match s.split_once(':') {
        Some((u, g)) => Ok((id(u)?, id(g)?)),
        None => {
            let u = id(s)?;
            Ok((u, u))
        }
    }
}

/// Parses `--chmod=0755` (octal).
pub fn parse_chmod(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s, 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("--chmod={s}: expected an octal mode such as 0644"))
}

/// Cleans an absolute image path into entry form: `/a/./b/../c/` → `a/c`.
pub fn clean_dest(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}/{b}"),
    }
}

/// Whether `path` is a tar archive ADD extracts (after gzip/bzip2/xz decompression, if
/// any: see [`crate::unpack`]).
pub fn is_archive(path: &Path) -> bool {
    let Ok(f) = fs::File::open(path) else {
        return false;
    };
    let Ok(mut r) = crate::unpack::decompress(f) else {
        return false;
    };
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match r.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    n == 512 && &head[257..262] == b"ustar"
}

/// The entries copying `sources` (as written, resolved in `tree`) and the inline files to
/// `dest` (absolute, expanded) make.
///
/// As BuildKit in Docker 20.10 does, the sources are copied one after the other, each onto
/// what the previous ones left: the destination is a directory when it ends with `/` or
/// already is one (in the image, or made by an earlier source); otherwise a file source
/// becomes (or replaces) the destination file, and a directory source onto a file fails.
/// A symlink given as a source is followed (its file, or its directory's contents); links
/// inside a copied directory stay links.
pub fn entries(
    tree: &Tree,
    sources: &[String],
    inline: &[(String, Vec<u8>)],
    dest: &str,
    opts: &CopyOptions,
) -> Result<Vec<Entry>, BuildError> {
    let mut resolved = Vec::new();
    for s in sources {
        resolved.extend(tree.resolve(s)?);
    }
    let explicit_dir = dest.ends_with('/');
    let dest = clean_dest(dest);
    let mut at_dest = if dest.is_empty() {
        Existing::Dir
    } else {
        opts.existing
    };
    let clamp = |t: i64| opts.epoch.map_or(t, |e| t.min(e));
    let created = opts.epoch.unwrap_or(0);
    let (uid, gid) = opts.chown.unwrap_or((0, 0));
    let mode_of = |m: u32| opts.chmod.unwrap_or(m & 0o7777);
    // Keyed by the name with NUL for `/`: NUL sorts before any byte a name holds, so the
    // keys sort component by component (as `a/b` before `a-b`), with one string a key
    // rather than a vector of them (a 2,000-file COPY made 2,000 vectors on every build).
    let mut out: BTreeMap<String, Entry> = BTreeMap::new();
    fn put(out: &mut BTreeMap<String, Entry>, e: Entry) {
        let key = e.name.replace('/', "\0");
        // What replaces a path replaces what an earlier source put below it. The paths
        // below `key` sort right after it, so they are one range (a scan of every key
        // made a 2,000-file COPY quadratic).
        if !matches!(e.kind, Kind::Dir | Kind::Archive(_)) {
            let prefix = format!("{key}\0");
            let below: Vec<String> = out
                .range(key.clone()..)
                .map(|(k, _)| k)
                .skip_while(|k| **k == key)
                .take_while(|k| k.starts_with(&prefix))
                .cloned()
                .collect();
            for k in below {
                out.remove(&k);
            }
        }
        out.insert(key, e);
    }
    for rel in &resolved {
        let real = tree.follow(rel)?;
        let found = tree.walk(&real)?;
        let top = &found[0];
        let base = rel.rsplit('/').next().unwrap_or(rel);
        let into_dir = explicit_dir || at_dest == Existing::Dir || opts.parents;
        let dest = if opts.parents && !top.meta.is_dir() {
            join(&dest, rel.rsplit_once('/').map_or("", |(p, _)| p))
        } else if opts.parents {
            join(&dest, rel)
        } else {
            dest.clone()
        };
        if top.meta.is_dir() {
            if !into_dir && at_dest == Existing::Other {
                return Err(BuildError::NotADirectory { dest });
            }
            for f in &found {
                let name = join(&dest, &f.rel);
                if name.is_empty() {
                    continue;
                }
                // An existing directory keeps its own attributes; a new one is made 0755
                // (the source directory's own mode is not copied, nor is --chmod applied
                // to it, in Docker 20.10).
                if f.rel.is_empty() && !opts.parents {
                    if at_dest != Existing::Dir {
                        put(
                            &mut out,
                            Entry {
                                name,
                                kind: Kind::Dir,
                                mode: 0o755,
                                uid,
                                gid,
                                mtime: clamp(f.meta.mtime()),
                            },
                        );
                    }
                    continue;
                }
                put(
                    &mut out,
                    entry(
                        name,
                        f,
                        uid,
                        gid,
                        mode_of(f.meta.mode()),
                        clamp(f.meta.mtime()),
                    ),
                );
            }
            if !opts.parents {
                at_dest = Existing::Dir;
            }
        } else if opts.unpack && top.meta.is_file() && is_archive(&top.path) {
            put(
                &mut out,
                Entry {
                    name: dest.clone(),
                    kind: Kind::Archive(top.path.clone()),
                    mode: 0o755,
                    uid,
                    gid,
                    mtime: created,
                },
            );
            at_dest = Existing::Dir;
        } else {
            let name = if into_dir || dest.is_empty() {
                join(&dest, base)
            } else {
                at_dest = Existing::Other;
                dest.clone()
            };
            put(
                &mut out,
                entry(
                    name,
                    top,
                    uid,
                    gid,
                    mode_of(top.meta.mode()),
                    clamp(top.meta.mtime()),
                ),
            );
        }
    }
    for (name, data) in inline {
        let into_dir = explicit_dir || at_dest == Existing::Dir;
        let name = if into_dir || dest.is_empty() {
            join(&dest, name)
        } else {
            at_dest = Existing::Other;
            dest.clone()
        };
        put(
            &mut out,
            Entry {
                name,
                kind: Kind::Inline(data.clone()),
                mode: opts.chmod.unwrap_or(0o644),
                uid,
                gid,
                mtime: created,
            },
        );
    }
    // Nothing to copy (wildcards that matched nothing) makes no destination either.
    if explicit_dir
        && !out.is_empty()
        && !dest.is_empty()
        && opts.existing != Existing::Dir
        && !out.contains_key(&dest.replace('/', "\0"))
    {
        put(
            &mut out,
            Entry {
                name: dest.clone(),
                kind: Kind::Dir,
                mode: 0o755,
                uid,
                gid,
                mtime: created,
            },
        );
    }
    Ok(out.into_values().collect())
}

fn entry(
    name: String,
    f: &crate::context::Found,
    uid: u64,
    gid: u64,
    mode: u32,
    mtime: i64,
) -> Entry {
    let kind = if f.meta.is_dir() {
        Kind::Dir
    } else if f.meta.file_type().is_symlink() {
        Kind::Symlink(
            fs::read_link(&f.path)
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
    } else {
        Kind::File(f.path.clone(), stat_key(&f.meta))
    };
    Entry {
        name,
        kind,
        mode,
        uid,
        gid,
        mtime,
    }
}

/// The content digest of `entries`: names, kinds, modes, owners, link targets and file
/// data (times are left out, so a touched but unchanged file keeps the key).
/// Also returns each entry's own digest by name, to tell which file changed.
pub fn content_digest(
    entries: &[Entry],
    hashes: &mut FileHashes,
) -> Result<(Digest, BTreeMap<String, String>), BuildError> {
    let mut h = oci::Algorithm::Sha256.digester();
    let mut each = BTreeMap::new();
    let mut line = Vec::with_capacity(256);
    for e in entries {
        let (kind, data) = match &e.kind {
            Kind::Dir => ("dir", String::new()),
            Kind::File(p, stat) => ("file", hashes.digest_as(p, *stat)?.to_string()),
            Kind::Symlink(t) => ("symlink", t.clone()),
            Kind::Inline(d) => ("inline", Digest::sha256_of(d).to_string()),
            Kind::Archive(p) => ("archive", hashes.digest(p)?.to_string()),
        };
        // One buffer for every line (the same bytes as a JSON array of the fields).
        line.clear();
        let _ = serde_json::to_writer(&mut line, &(&e.name, kind, e.mode, e.uid, e.gid, &data));
        h.update(&line);
        h.update(b"\n");
        // What tells a change of this entry, without hashing each line a second time.
        each.insert(
            e.name.clone(),
            format!("{kind} {:o} {}:{} {data}", e.mode, e.uid, e.gid),
        );
    }
    Ok((h.finish(), each))
}

fn header(e: &Entry, kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(e.mode);
    h.set_uid(e.uid);
    h.set_gid(e.gid);
    h.set_mtime(e.mtime.max(0) as u64);
    h.set_size(size);
    h
}

/// Writes `entries` as an uncompressed layer tar to `out`.
pub fn write_tar(entries: &[Entry], out: impl Write, epoch: Option<i64>) -> Result<(), BuildError> {
    let tar_err = |e: io::Error| BuildError::io("write the layer for", PathBuf::from("COPY"), e);
    let mut b = tar::Builder::new(out);
    b.mode(tar::HeaderMode::Complete);
    for e in entries {
        match &e.kind {
            Kind::Dir => {
                let mut h = header(e, tar::EntryType::Directory, 0);
                b.append_data(&mut h, format!("{}/", e.name), io::empty())
                    .map_err(tar_err)?;
            }
            Kind::File(p, _) => {
                let f = fs::File::open(p).map_err(|err| BuildError::io("open", p, err))?;
                let len = f
                    .metadata()
                    .map_err(|err| BuildError::io("read", p, err))?
                    .len();
                let mut h = header(e, tar::EntryType::Regular, len);
                b.append_data(&mut h, &e.name, f.take(len))
                    .map_err(|err| BuildError::io("copy", p, err))?;
            }
            Kind::Symlink(t) => {
                let mut h = header(e, tar::EntryType::Symlink, 0);
                b.append_link(&mut h, &e.name, t).map_err(tar_err)?;
            }
            Kind::Inline(d) => {
                let mut h = header(e, tar::EntryType::Regular, d.len() as u64);
                b.append_data(&mut h, &e.name, &d[..]).map_err(tar_err)?;
            }
            Kind::Archive(p) => {
                let mut h = header(e, tar::EntryType::Directory, 0);
                if !e.name.is_empty() {
                    b.append_data(&mut h, format!("{}/", e.name), io::empty())
                        .map_err(tar_err)?;
                }
                extract_into(&mut b, p, &e.name, epoch)?;
            }
        }
    }
    b.into_inner().map_err(tar_err)?.flush().map_err(tar_err)?;
    Ok(())
}

/// Re-emits the members of the archive at `path` below `dest`, refusing names that climb
/// out of it.
fn extract_into<W: Write>(
    b: &mut tar::Builder<W>,
    path: &Path,
    dest: &str,
    epoch: Option<i64>,
) -> Result<(), BuildError> {
    let err = |e: io::Error| BuildError::io("extract", path, e);
    let f = fs::File::open(path).map_err(err)?;
    let r = crate::unpack::decompress(f).map_err(err)?;
    let mut a = tar::Archive::new(r);
    for member in a.entries().map_err(err)? {
        let mut m = member.map_err(err)?;
        let raw = m.path().map_err(err)?.to_string_lossy().into_owned();
        if raw.split('/').any(|c| c == "..") {
            return Err(BuildError::io(
                "extract",
                path,
                io::Error::other(format!("member {raw:?} climbs out of the destination")),
            ));
        }
        let rel = clean_dest(&raw);
        if rel.is_empty() {
            continue;
        }
        let name = join(dest, &rel);
        let mut h = m.header().clone();
        // Some writers leave owner fields blank; they mean root.
        h.set_uid(h.uid().unwrap_or(0));
        h.set_gid(h.gid().unwrap_or(0));
        if let (Some(e), Ok(t)) = (epoch, h.mtime()) {
            h.set_mtime(t.min(e.max(0) as u64));
        }
        let kind = h.entry_type();
        if kind.is_symlink() {
            let target = m
                .link_name()
                .map_err(err)?
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            b.append_link(&mut h, &name, target).map_err(err)?;
        } else if kind.is_hard_link() {
            let target = m
                .link_name()
                .map_err(err)?
                .map(|t| t.to_string_lossy().into_owned())
                .unwrap_or_default();
            b.append_link(&mut h, &name, join(dest, &clean_dest(&target)))
                .map_err(err)?;
        } else if kind.is_dir() {
            b.append_data(&mut h, format!("{name}/"), io::empty())
                .map_err(err)?;
        } else {
            b.append_data(&mut h, &name, &mut m).map_err(err)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A later source that puts a file where an earlier one put a directory replaces the
    /// directory and everything below it, and nothing beside it (siblings whose names
    /// start with the same characters stay).
    #[test]
    fn a_file_replaces_a_directory_and_only_what_is_below_it() {
        let dir = tempfile::tempdir().unwrap();
        for (p, data) in [
            ("a/sub/x", "x"),
            ("a/sub/deep/y", "y"),
            ("a/sub-/q", "q"),
            ("a/sub2/r", "r"),
            ("b/sub", "file"),
        ] {
            let p = dir.path().join(p);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, data).unwrap();
        }
        let tree = Tree::with_patterns(dir.path(), &[] as &[&str]).unwrap();
        let sources = ["a".to_string(), "b".to_string()];
        let entries = entries(&tree, &sources, &[], "/t/", &CopyOptions::default()).unwrap();
        let names: Vec<(&str, bool)> = entries
            .iter()
            .map(|e| (e.name.as_str(), matches!(e.kind, Kind::Dir)))
            .collect();
        assert_eq!(
            names,
            [
                ("t", true),
                ("t/sub", false),
                ("t/sub-", true),
                ("t/sub-/q", false),
                ("t/sub2", true),
                ("t/sub2/r", false),
            ]
        );
    }
}
