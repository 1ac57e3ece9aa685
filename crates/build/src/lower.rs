//! What the layers below a COPY/ADD already hold, as far as COPY needs it: which paths are
//! directories (with their mode, owner and time) and which are symlinks.
//!
//! A COPY layer must carry every parent directory of what it adds, with the attributes the
//! lower layers give it: a layer unpacked on its own (a snapshot used as an overlay lower)
//! would otherwise make the parent `root:root 0755` and hide the real one. And a
//! destination below a symlink (`/lib` → `usr/lib`) is resolved through it, as Docker
//! does, rather than replacing the link with a directory.

use std::collections::{BTreeMap, HashMap};

use oci::{Descriptor, Digest};
use serde::{Deserialize, Serialize};
use store::Store;

use crate::BuildError;
use crate::cache::write_atomic;
use crate::copy::{Entry, Kind, clean_dest};

/// One path in the lower layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Node {
    /// A directory: mode, uid, gid, mtime.
    Dir(u32, u64, u64, i64),
    /// A symlink and its target.
    Symlink(String),
    /// Anything else.
    Other,
    /// A whiteout of the path (and everything below it).
    Whiteout,
    /// An opaque directory marker: the lower content of the directory is gone.
    Opaque,
}

/// The merged view of a stack of layers.
#[derive(Debug, Clone, Default)]
pub struct Lower {
    nodes: BTreeMap<String, Node>,
}

/// The nodes of one layer in tar order, read once and remembered under
/// [`store::Layout::build_cache_layer_nodes`] for later builds.
fn layer_nodes(store: &Store, layer: &Descriptor) -> Result<Vec<(String, Node)>, BuildError> {
    let memo = store.layout().build_cache_layer_nodes(&layer.digest);
    if let Ok(bytes) = std::fs::read(&memo)
        && let Ok(v) = serde_json::from_slice(&bytes)
    {
        return Ok(v);
    }
    let path = store.blob_path(&layer.digest);
    let err = |e: std::io::Error| BuildError::io("read the layer", &path, e);
    let f = store.open_blob(&layer.digest)?;
    let r = layer::decompress_auto(f)?;
    let mut a = tar::Archive::new(r);
    let mut out = Vec::new();
    for e in a.entries().map_err(err)? {
        let e = e.map_err(err)?;
        let name = clean_dest(&e.path().map_err(err)?.to_string_lossy());
        let h = e.header();
        let (parent, base) = match name.rsplit_once('/') {
            Some((p, b)) => (p.to_string(), b),
            None => (String::new(), name.as_str()),
        };
        let node = if base == ".wh..wh..opq" {
            out.push((parent, Node::Opaque));
            continue;
        } else if let Some(gone) = base.strip_prefix(".wh.") {
            let p = if parent.is_empty() {
                gone.to_string()
            } else {
                format!("{parent}/{gone}")
            };
            out.push((p, Node::Whiteout));
            continue;
        } else if h.entry_type().is_dir() {
            Node::Dir(
                h.mode().unwrap_or(0o755),
                h.uid().unwrap_or(0),
                h.gid().unwrap_or(0),
                h.mtime().unwrap_or(0) as i64,
            )
        } else if h.entry_type().is_symlink() {
            Node::Symlink(
                e.link_name()
                    .map_err(err)?
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
        } else {
            Node::Other
        };
        out.push((name, node));
    }
    let _ = write_atomic(&memo, &serde_json::to_vec(&out).unwrap_or_default());
    Ok(out)
}

impl Lower {
    /// The merged view of `layers` (base first).
    pub fn of(
        store: &Store,
        layers: &[Descriptor],
        memo: &mut HashMap<Digest, Vec<(String, Node)>>,
    ) -> Result<Lower, BuildError> {
        let mut lower = Lower::default();
        for l in layers {
            if !memo.contains_key(&l.digest) {
                memo.insert(l.digest.clone(), layer_nodes(store, l)?);
            }
            for (name, node) in &memo[&l.digest] {
                match node {
                    Node::Whiteout => {
                        lower.remove_below(name);
                        lower.nodes.remove(name);
                    }
                    Node::Opaque => lower.remove_below(name),
                    n => {
                        lower.nodes.insert(name.clone(), n.clone());
                    }
                }
            }
        }
        Ok(lower)
    }

    /// A view holding exactly `nodes` (paths relative to `/`, no trailing slash).
    pub fn from_nodes(nodes: impl IntoIterator<Item = (String, Node)>) -> Lower {
        Lower {
            nodes: nodes.into_iter().collect(),
        }
    }

    /// What the lower layers hold at `path` (relative, clean), symlinks not followed.
    pub fn get(&self, path: &str) -> Option<&Node> {
        self.nodes.get(path)
    }

    fn remove_below(&mut self, dir: &str) {
        let prefix = format!("{dir}/");
        let gone: Vec<String> = self
            .nodes
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.nodes.remove(&k);
        }
    }

    /// `path` with every symlinked parent resolved (the last component is kept as is).
    pub fn resolve_parents(&self, path: &str) -> String {
        let mut done: Vec<String> = Vec::new();
        let mut todo: Vec<String> = path.split('/').rev().map(str::to_string).collect();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            if c.is_empty() || c == "." {
                continue;
            }
            if c == ".." {
                done.pop();
                continue;
            }
            let candidate = if done.is_empty() {
                c.clone()
            } else {
                format!("{}/{c}", done.join("/"))
            };
            match self.nodes.get(&candidate) {
                Some(Node::Symlink(target)) if !todo.is_empty() && hops < 40 => {
                    hops += 1;
                    if target.starts_with('/') {
                        done.clear();
                    }
                    todo.extend(target.split('/').rev().map(str::to_string));
                }
                _ => done.push(c),
            }
        }
        done.join("/")
    }

    /// Rewrites `entries` for these lower layers: names resolved through symlinked
    /// parents, and every missing parent directory added (with the lower's attributes when
    /// it exists there, else 0755 owned by `owner` at `mtime`: Docker gives the directories
    /// a `COPY --chown` creates to that owner). Sorted parents first.
    pub fn complete(&self, entries: Vec<Entry>, mtime: i64, owner: (u64, u64)) -> Vec<Entry> {
        let mut out: BTreeMap<Vec<String>, Entry> = BTreeMap::new();
        let key = |n: &str| n.split('/').map(str::to_string).collect::<Vec<_>>();
        for mut e in entries {
            e.name = self.resolve_parents(&e.name);
            // An archive extracted into an existing directory leaves that directory as it is.
            if let (Kind::Archive(_), Some(Node::Dir(m, u, g, t))) =
                (&e.kind, self.nodes.get(&e.name))
            {
                (e.mode, e.uid, e.gid, e.mtime) = (*m, *u, *g, *t);
            }
            out.insert(key(&e.name), e);
        }
        let names: Vec<String> = out.values().map(|e| e.name.clone()).collect();
        for n in names {
            let parts: Vec<&str> = n.split('/').collect();
            for i in 1..parts.len() {
                let p = parts[..i].join("/");
                out.entry(key(&p)).or_insert_with(|| {
                    let (mode, uid, gid, t) = match self.nodes.get(&p) {
                        Some(Node::Dir(m, u, g, t)) => (*m, *u, *g, *t),
                        _ => (0o755, owner.0, owner.1, mtime),
                    };
                    Entry {
                        name: p,
                        kind: Kind::Dir,
                        mode,
                        uid,
                        gid,
                        mtime: t,
                    }
                });
            }
        }
        out.into_values().collect()
    }
}

/// The content of the regular file `path` (relative, cleaned) in the stack `layers`: the
/// topmost layer that has it wins; a whiteout of it or of a parent hides it.
pub fn read_file(
    store: &Store,
    layers: &[Descriptor],
    path: &str,
) -> Result<Option<Vec<u8>>, BuildError> {
    use std::io::Read;
    for l in layers.iter().rev() {
        let blob = store.blob_path(&l.digest);
        let err = |e: std::io::Error| BuildError::io("read the layer", &blob, e);
        let f = store.open_blob(&l.digest)?;
        let mut a = tar::Archive::new(layer::decompress_auto(f)?);
        let mut hidden = false;
        for e in a.entries().map_err(err)? {
            let mut e = e.map_err(err)?;
            let name = clean_dest(&e.path().map_err(err)?.to_string_lossy());
            if name == path && e.header().entry_type().is_file() {
                let mut data = Vec::new();
                e.read_to_end(&mut data).map_err(err)?;
                return Ok(Some(data));
            }
            let (parent, base) = name.rsplit_once('/').unwrap_or(("", name.as_str()));
            if let Some(gone) = base.strip_prefix(".wh.") {
                let gone = if parent.is_empty() {
                    gone.to_string()
                } else {
                    format!("{parent}/{gone}")
                };
                if path == gone || path.starts_with(&format!("{gone}/")) {
                    hidden = true;
                }
            }
        }
        if hidden {
            return Ok(None);
        }
    }
    Ok(None)
}

/// The id of `name` in a `/etc/passwd` or `/etc/group` text (numbers pass through).
pub fn lookup_id(table: Option<&[u8]>, name: &str) -> Option<u64> {
    if let Ok(n) = name.parse() {
        return Some(n);
    }
    let text = String::from_utf8_lossy(table?);
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next() == Some(name)).then(|| f.nth(1)?.parse().ok())?
    })
}

/// The uid and primary gid of user `name` (or uid) in a `/etc/passwd` text.
pub fn passwd_entry(passwd: Option<&[u8]>, name: &str) -> Option<(u64, u64)> {
    let text = String::from_utf8_lossy(passwd.unwrap_or_default());
    let found = text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        let matches = f.first() == Some(&name) || f.get(2) == Some(&name);
        matches.then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
    });
    // A uid with no passwd entry stands for itself, in group 0 (as BuildKit reads it).
    found.or_else(|| name.parse().ok().map(|u| (u, 0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lower(nodes: &[(&str, Node)]) -> Lower {
        Lower {
            nodes: nodes
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    #[test]
    fn looks_up_ids() {
        let passwd = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
        for (name, want) in [
            ("root", Some(0)),
            ("app", Some(1000)),
            ("42", Some(42)),
            ("nobody", None),
        ] {
            assert_eq!(lookup_id(Some(passwd), name), want, "{name}");
        }
        assert_eq!(lookup_id(None, "app"), None);
        for (name, want) in [
            ("app", Some((1000, 1001))),
            ("1000", Some((1000, 1001))),
            ("7", Some((7, 0))),
            ("nobody", None),
        ] {
            assert_eq!(passwd_entry(Some(passwd), name), want, "{name}");
        }
    }

    #[test]
    fn resolves_symlinked_parents() {
        let l = lower(&[
            ("lib", Node::Symlink("usr/lib".into())),
            ("usr", Node::Dir(0o755, 0, 0, 0)),
            ("usr/lib", Node::Dir(0o755, 0, 0, 0)),
            ("abs", Node::Symlink("/opt/x".into())),
            ("loop", Node::Symlink("loop".into())),
        ]);
        for (path, want) in [
            ("lib/x.so", "usr/lib/x.so"),
            ("lib", "lib"),
            ("abs/y", "opt/x/y"),
            ("etc/conf", "etc/conf"),
            ("a/../lib/z", "usr/lib/z"),
        ] {
            assert_eq!(l.resolve_parents(path), want, "{path}");
        }
        // A symlink loop ends instead of spinning.
        let _ = l.resolve_parents("loop/x");
    }

    #[test]
    fn archive_into_existing_dir_keeps_its_attributes() {
        let l = lower(&[("etc", Node::Dir(0o750, 0, 0, 5))]);
        let e = Entry {
            name: "etc".into(),
            kind: Kind::Archive("/x.tar".into()),
            mode: 0o755,
            uid: 1000,
            gid: 1000,
            mtime: 1,
        };
        let got = l.complete(vec![e], 9, (0, 0));
        assert_eq!((got[0].mode, got[0].uid, got[0].mtime), (0o750, 0, 5));
    }

    #[test]
    fn adds_parents_with_lower_attributes() {
        let l = lower(&[
            ("home", Node::Dir(0o755, 0, 0, 5)),
            ("home/app", Node::Dir(0o700, 1000, 1000, 7)),
        ]);
        let e = Entry {
            name: "home/app/new/f".into(),
            kind: Kind::Inline(b"x".to_vec()),
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 1,
        };
        let got: Vec<(String, u32, u64)> = l
            .complete(vec![e], 9, (7, 8))
            .into_iter()
            .map(|e| (e.name, e.mode, e.uid))
            .collect();
        assert_eq!(
            got,
            [
                ("home".to_string(), 0o755, 0),
                ("home/app".into(), 0o700, 1000),
                // Made by the copy: the --chown owner's.
                ("home/app/new".into(), 0o755, 7),
                ("home/app/new/f".into(), 0o644, 0),
            ]
        );
    }
}
