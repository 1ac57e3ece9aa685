//! The build context read in place: `.dockerignore`, resolving COPY/ADD sources (globs,
//! paths that climb out refused), and walking what a source copies.
//!
//! A [`Tree`] is any directory sources are read from: the context (with its ignore
//! patterns) or an earlier stage's unpacked root filesystem (`COPY --from`, no patterns).

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use dockerfile::ignore::{
    PatternMatcher, filepath_match, ignore_file_candidates, read_ignore_file,
};

use crate::BuildError;

/// A directory COPY/ADD read from.
#[derive(Debug, Clone)]
pub struct Tree {
    root: PathBuf,
    patterns: Vec<String>,
    matcher: Option<PatternMatcher>,
}

/// One file-system object a source copies, found by [`Tree::walk`].
#[derive(Debug, Clone)]
pub struct Found {
    /// Where it is on the host.
    pub path: PathBuf,
    /// Its name relative to the source it was found under (`""` for the source itself).
    pub rel: String,
    /// Its metadata (not following a symlink).
    pub meta: fs::Metadata,
}

/// From how many entries a walked directory is split between two threads.
const PARALLEL_FROM: usize = 16;

fn has_meta(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

impl Tree {
    /// The build context at `dir`, with the ignore file that applies to `dockerfile`
    /// (`<Dockerfile>.dockerignore` next to it, else `.dockerignore` in the context).
    pub fn context(dir: &Path, dockerfile: Option<&Path>) -> Result<Tree, BuildError> {
        let root =
            fs::canonicalize(dir).map_err(|e| BuildError::io("open the build context", dir, e))?;
        let mut patterns = None;
        let candidates = match dockerfile {
            Some(f) => ignore_file_candidates(f),
            None => vec![PathBuf::from(".dockerignore")],
        };
        for c in candidates {
            let p = if c.is_absolute() { c } else { root.join(c) };
            match fs::read_to_string(&p) {
                Ok(text) => {
                    patterns = Some(read_ignore_file(&text));
                    break;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(BuildError::io("read", p, e)),
            }
        }
        Tree::with_patterns(&root, &patterns.unwrap_or_default())
    }

    /// A tree at `root` excluding what `patterns` (`.dockerignore` syntax) match.
    pub fn with_patterns<S: AsRef<str>>(root: &Path, patterns: &[S]) -> Result<Tree, BuildError> {
        let root = fs::canonicalize(root).map_err(|e| BuildError::io("open", root, e))?;
        let patterns: Vec<String> = patterns.iter().map(|p| p.as_ref().to_string()).collect();
        let matcher = if patterns.is_empty() {
            None
        } else {
            Some(PatternMatcher::new(&patterns).map_err(|e| BuildError::Ignore(e.to_string()))?)
        };
        Ok(Tree {
            root,
            patterns,
            matcher,
        })
    }

    /// This tree, also excluding what `extra` matches (`COPY --exclude`).
    pub fn excluding(&self, extra: &[String]) -> Result<Tree, BuildError> {
        if extra.is_empty() {
            return Ok(self.clone());
        }
        let mut patterns = self.patterns.clone();
        patterns.extend(extra.iter().cloned());
        Tree::with_patterns(&self.root, &patterns)
    }

    /// The tree's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Whether `rel` (slash-separated, relative to the root) is excluded.
    pub fn excluded(&self, rel: &str) -> bool {
        !rel.is_empty()
            && self
                .matcher
                .as_ref()
                .is_some_and(|m| m.matches_or_parent_matches(rel))
    }

    /// Resolves the source `src` as written in COPY/ADD to paths relative to the root, as
    /// BuildKit does: the path is cleaned as if the root were `/` (`..` never climbs above
    /// it), globs are matched entry by entry, excluded paths are skipped; a symlinked
    /// directory leading out is [`BuildError::OutsideContext`]. A plain path that is not
    /// there is [`BuildError::SourceNotFound`]; a glob that matches nothing is no source.
    pub fn resolve(&self, src: &str) -> Result<Vec<String>, BuildError> {
        let outside = || BuildError::OutsideContext {
            path: src.to_string(),
            context: self.root.clone(),
        };
        let mut parts: Vec<&str> = Vec::new();
        for c in src.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    // `filepath.Join("/", src)`: above the root is the root.
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        let mut candidates = vec![String::new()];
        for part in &parts {
            let mut next = Vec::new();
            for base in &candidates {
                let join = |name: &str| {
                    if base.is_empty() {
                        name.to_string()
                    } else {
                        format!("{base}/{name}")
                    }
                };
                if has_meta(part) {
                    let dir = self.root.join(base);
                    let Ok(rd) = fs::read_dir(&dir) else { continue };
                    let mut names: Vec<String> = rd
                        .filter_map(|e| e.ok())
                        .filter_map(|e| e.file_name().into_string().ok())
                        .filter(|n| filepath_match(part, n).unwrap_or(false))
                        .collect();
                    names.sort();
                    next.extend(names.iter().map(|n| join(n)));
                } else {
                    next.push(join(part));
                }
            }
            candidates = next;
        }
        let mut out = Vec::new();
        for rel in candidates {
            let path = self.root.join(&rel);
            if fs::symlink_metadata(&path).is_err()
                || (self.excluded(&rel) && !self.reincluded_below(&path, &rel)?)
            {
                continue;
            }
            // A symlinked directory on the way must not lead out of the tree.
            if let Some(parent) = path.parent().filter(|_| !rel.is_empty()) {
                let real =
                    fs::canonicalize(parent).map_err(|e| BuildError::io("resolve", parent, e))?;
                if !real.starts_with(&self.root) {
                    return Err(outside());
                }
            }
            // A symlinked source must lead somewhere (it is followed when copied).
            self.follow(&rel)?;
            out.push(rel);
        }
        // BuildKit copies with AllowEmptyWildcard: a pattern may match nothing.
        if out.is_empty() && !parts.iter().any(|p| has_meta(p)) {
            return Err(BuildError::SourceNotFound {
                path: src.to_string(),
                context: self.root.clone(),
            });
        }
        Ok(out)
    }

    /// Whether the ignore patterns have `!` exceptions, which can re-include paths below
    /// an excluded directory.
    fn may_reinclude(&self) -> bool {
        self.matcher.as_ref().is_some_and(|m| m.exclusions())
    }

    /// Whether the excluded `rel` (at `path`) is a directory with re-included paths below.
    fn reincluded_below(&self, path: &Path, rel: &str) -> Result<bool, BuildError> {
        if !self.may_reinclude() || !fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
            return Ok(false);
        }
        let mut below = Vec::new();
        self.walk_dir(path, rel, "", &mut below)?;
        Ok(!below.is_empty())
    }

    /// The resolved source `rel` with every symlink on it followed, its last component too,
    /// inside the tree: an absolute target starts at the root and `..` stops there, as
    /// BuildKit scopes a source path to the context. A dangling or looping link is a
    /// source not found, as in Docker (`"/d/a.txt" not found`).
    pub fn follow(&self, rel: &str) -> Result<String, BuildError> {
        let missing = |path: String| BuildError::SourceNotFound {
            path,
            context: self.root.clone(),
        };
        let mut done: Vec<String> = Vec::new();
        let mut todo: Vec<String> = rel.split('/').rev().map(str::to_string).collect();
        let mut hops = 0;
        while let Some(c) = todo.pop() {
            match c.as_str() {
                "" | "." => continue,
                ".." => {
                    done.pop();
                    continue;
                }
                _ => done.push(c),
            }
            let path = self.root.join(done.join("/"));
            if !fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                continue;
            }
            hops += 1;
            if hops > 40 {
                return Err(missing(rel.to_string()));
            }
            let target = fs::read_link(&path).map_err(|e| BuildError::io("read", &path, e))?;
            let target = target.to_string_lossy().into_owned();
            done.pop();
            if target.starts_with('/') {
                done.clear();
            }
            todo.extend(target.split('/').rev().map(str::to_string));
        }
        let real = done.join("/");
        if fs::symlink_metadata(self.root.join(&real)).is_err() {
            return Err(missing(format!("/{real}")));
        }
        Ok(real)
    }

    /// Everything the resolved source `rel` copies: itself, and for a directory every
    /// entry below it (depth first, names sorted bytewise, excluded entries skipped).
    /// Symlinks are not followed.
    pub fn walk(&self, rel: &str) -> Result<Vec<Found>, BuildError> {
        let path = self.root.join(rel);
        let meta = fs::symlink_metadata(&path).map_err(|e| BuildError::io("read", &path, e))?;
        let mut out = vec![Found {
            path: path.clone(),
            rel: String::new(),
            meta: meta.clone(),
        }];
        if meta.is_dir() {
            // The stats are most of a cached build: the top directory's second half is
            // walked on another thread, and the halves joined in order.
            let mut entries = self.entries(&path)?;
            if entries.len() >= PARALLEL_FROM {
                let second = entries.split_off(entries.len() / 2);
                let mut rest = Vec::new();
                std::thread::scope(|s| {
                    let other = s.spawn(|| {
                        let mut out = Vec::new();
                        self.walk_entries(&path, rel, "", second, &mut out)
                            .map(|()| out)
                    });
                    let mine = self.walk_entries(&path, rel, "", entries, &mut out);
                    let theirs = other
                        .join()
                        .unwrap_or_else(|p| std::panic::resume_unwind(p));
                    mine.and(theirs).map(|o| rest = o)
                })?;
                out.extend(rest);
            } else {
                self.walk_entries(&path, rel, "", entries, &mut out)?;
            }
        }
        Ok(out)
    }

    /// The entries of directory `dir`, sorted by name. Entries, not names: an entry's
    /// metadata is a stat relative to the directory already open, not a lookup of the
    /// whole path again for each file.
    fn entries(&self, dir: &Path) -> Result<Vec<fs::DirEntry>, BuildError> {
        let mut entries: Vec<fs::DirEntry> = fs::read_dir(dir)
            .map_err(|e| BuildError::io("read directory", dir, e))?
            .collect::<Result<_, _>>()
            .map_err(|e| BuildError::io("read directory", dir, e))?;
        entries.sort_by_key(|e| e.file_name());
        Ok(entries)
    }

    fn walk_dir(
        &self,
        dir: &Path,
        ctx_rel: &str,
        rel: &str,
        out: &mut Vec<Found>,
    ) -> Result<(), BuildError> {
        let entries = self.entries(dir)?;
        self.walk_entries(dir, ctx_rel, rel, entries, out)
    }

    /// [`Tree::walk_dir`] of `entries`, some entries of `dir`, in order.
    fn walk_entries(
        &self,
        dir: &Path,
        ctx_rel: &str,
        rel: &str,
        entries: Vec<fs::DirEntry>,
        out: &mut Vec<Found>,
    ) -> Result<(), BuildError> {
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            let child_ctx = if ctx_rel.is_empty() {
                name.clone()
            } else {
                format!("{ctx_rel}/{name}")
            };
            let child_rel = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let path = dir.join(&name);
            if self.excluded(&child_ctx) {
                // An excluded directory still brings what a `!` exception re-includes
                // below it, and itself as their parent, as Docker sends it.
                if self.may_reinclude() && fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) {
                    let mut below = Vec::new();
                    self.walk_dir(&path, &child_ctx, &child_rel, &mut below)?;
                    if !below.is_empty() {
                        let meta = fs::symlink_metadata(&path)
                            .map_err(|e| BuildError::io("read", &path, e))?;
                        out.push(Found {
                            path: path.clone(),
                            rel: child_rel.clone(),
                            meta,
                        });
                        out.extend(below);
                    }
                }
                continue;
            }
            let meta = entry
                .metadata()
                .map_err(|e| BuildError::io("read", &path, e))?;
            let is_dir = meta.is_dir();
            out.push(Found {
                path: path.clone(),
                rel: child_rel.clone(),
                meta,
            });
            if is_dir {
                self.walk_dir(&path, &child_ctx, &child_rel, out)?;
            }
        }
        Ok(())
    }
}

/// A file's identity for the remembered-hash table: size, mtime (s, ns) and inode.
pub type StatKey = (u64, i64, i64, u64);

/// The [`StatKey`] of `meta`.
pub(crate) fn stat_key(meta: &fs::Metadata) -> StatKey {
    (meta.size(), meta.mtime(), meta.mtime_nsec(), meta.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[&str], ignore: &[&str]) -> (tempfile::TempDir, Tree) {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            let p = dir.path().join(f);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            if f.ends_with('/') {
                fs::create_dir_all(&p).unwrap();
            } else {
                fs::write(&p, f).unwrap();
            }
        }
        let t = Tree::with_patterns(dir.path(), ignore).unwrap();
        (dir, t)
    }

    #[test]
    fn resolves_sources() {
        let (_d, t) = tree(
            &[
                "a.txt",
                "b.txt",
                "c.md",
                "src/x.rs",
                "src/y.rs",
                "secret.key",
            ],
            &["*.key"],
        );
        for (src, want) in [
            ("a.txt", vec!["a.txt"]),
            ("./a.txt", vec!["a.txt"]),
            ("/a.txt", vec!["a.txt"]),
            ("*.txt", vec!["a.txt", "b.txt"]),
            ("src/*.rs", vec!["src/x.rs", "src/y.rs"]),
            ("src/../c.md", vec!["c.md"]),
            (".", vec![""]),
            // Cleaned as BuildKit cleans them: `..` stops at the root.
            ("../a.txt", vec!["a.txt"]),
            ("src/../../c.md", vec!["c.md"]),
            // A wildcard may match nothing (BuildKit's AllowEmptyWildcard).
            ("*.nope", vec![]),
            ("src/*.none", vec![]),
        ] {
            assert_eq!(t.resolve(src).unwrap(), want, "{src}");
        }
        for src in ["missing", "/../etc/passwd", "secret.key"] {
            assert!(
                matches!(t.resolve(src), Err(BuildError::SourceNotFound { .. })),
                "{src}"
            );
        }
    }

    #[test]
    fn follows_symlinked_sources_inside_the_tree() {
        let (d, t) = tree(&["a.txt", "dir/x", "dir/sub/y"], &[]);
        let link = |name: &str, target: &str| {
            std::os::unix::fs::symlink(target, d.path().join(name)).unwrap()
        };
        link("l", "a.txt");
        link("ldir", "dir");
        link("abs", "/dir/sub");
        link("up", "../../a.txt");
        link("chain", "l");
        link("dangling", "nope");
        link("dir/sub/back", "../x");
        for (rel, want) in [
            ("l", "a.txt"),
            ("ldir", "dir"),
            ("abs", "dir/sub"),
            ("up", "a.txt"),
            ("chain", "a.txt"),
            ("ldir/sub/back", "dir/x"),
            ("a.txt", "a.txt"),
        ] {
            assert_eq!(t.follow(rel).unwrap(), want, "{rel}");
        }
        link("loop", "loop");
        for rel in ["dangling", "loop"] {
            assert!(
                matches!(t.follow(rel), Err(BuildError::SourceNotFound { .. })),
                "{rel}"
            );
            assert!(t.resolve(rel).is_err(), "{rel}");
        }
    }

    #[test]
    fn walks_without_excluded() {
        let (_d, t) = tree(
            &["app/a", "app/b/c", "app/b/skip.log", "app/node_modules/x"],
            &["**/*.log", "app/node_modules"],
        );
        let got: Vec<String> = t.walk("app").unwrap().into_iter().map(|f| f.rel).collect();
        assert_eq!(got, ["", "a", "b", "b/c"]);
    }

    #[test]
    fn exceptions_reinclude_below_an_excluded_dir() {
        let (_d, t) = tree(
            &["dir/drop.txt", "dir/keep.txt", "dir/sub/keep.txt", "top"],
            &["dir", "!dir/keep.txt"],
        );
        let got: Vec<String> = t.walk("").unwrap().into_iter().map(|f| f.rel).collect();
        assert_eq!(got, ["", "dir", "dir/keep.txt", "top"]);
        assert_eq!(t.resolve("dir").unwrap(), ["dir"]);
        let got: Vec<String> = t.walk("dir").unwrap().into_iter().map(|f| f.rel).collect();
        assert_eq!(got, ["", "keep.txt"]);
    }
}
