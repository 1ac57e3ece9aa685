//! Streams an image's layers, base first, through the catalogers and the secret scanner,
//! never unpacking to disk: each layer is read once as a tar stream.
//!
//! What the final filesystem holds is worked out as the layers go by: a file a later layer
//! deletes (a whiteout, an opaque directory) or replaces takes its packages with it, and a
//! package is attributed to the first layer from which on its file recorded it at that
//! version (a `dpkg` status rewritten by every `apt-get install` keeps the base image's
//! packages in the base layer). Secrets are different: a file deleted later is still in the
//! image's blobs, so its secrets are kept and marked deleted.

use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::catalog::os_release::{self, PATHS as OS_RELEASE};
use crate::catalog::{CatalogError, Cataloger, FileMeta};
use crate::inventory::{Inventory, Note, SecretHit};
use crate::package::{Found, Package};
use crate::secrets::Scanner;

/// The most of one file held in memory when more than one reader wants it (a cataloger and
/// the secret scanner): files above it go to the catalogers only.
pub const SHARED_READ_LIMIT: u64 = 64 << 20;

/// Why a walk stopped.
#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    /// A cataloger found a file it reads malformed.
    #[error("layer {layer}: {source}")]
    Catalog {
        /// The layer (index from 0).
        layer: usize,
        /// What the cataloger said.
        source: CatalogError,
    },
    /// The layer's tar stream could not be read.
    #[error("layer {layer}: reading the tar stream: {source}")]
    Tar {
        /// The layer (index from 0).
        layer: usize,
        /// The cause.
        source: io::Error,
    },
    /// A directory being scanned could not be read.
    #[error("{}: {source}", path.display())]
    Dir {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
}

/// What one cataloger read from one file, as of the latest layer that held the file.
#[derive(Debug)]
struct Tracked {
    cataloger: usize,
    /// The layer this copy of the file was read from.
    read_in: usize,
    /// Each package with the first layer from which on the file recorded it.
    packages: Vec<(Found, usize)>,
}

/// The walk's state between layers.
pub struct Walker<'a> {
    catalogers: &'a [Box<dyn Cataloger>],
    secrets: Option<&'a Scanner>,
    /// Every file a cataloger read, by path, as the filesystem stands after the layers seen.
    files: BTreeMap<String, Vec<Tracked>>,
    /// `os-release` texts by path, as the filesystem stands.
    os_release: BTreeMap<String, String>,
    /// Secrets by path, each with the layer it was found in; deletion marks them.
    secrets_found: BTreeMap<String, Vec<SecretHit>>,
    notes: Vec<Note>,
    /// What the files the current layer replaces recorded, by path and cataloger, so a
    /// package they still record keeps its first layer.
    earlier: BTreeMap<(String, usize), Vec<(Found, usize)>>,
    /// The index of the next layer.
    layer: usize,
}

impl<'a> Walker<'a> {
    /// A walk with these catalogers, looking for secrets when `secrets` is given.
    pub fn new(catalogers: &'a [Box<dyn Cataloger>], secrets: Option<&'a Scanner>) -> Self {
        Walker {
            catalogers,
            secrets,
            files: BTreeMap::new(),
            os_release: BTreeMap::new(),
            secrets_found: BTreeMap::new(),
            notes: Vec::new(),
            earlier: BTreeMap::new(),
            layer: 0,
        }
    }

    /// Reads the next layer (base first) from its uncompressed tar stream.
    pub fn layer(&mut self, tar: impl Read) -> Result<(), WalkError> {
        let layer = self.layer;
        let tar_err = |source| WalkError::Tar { layer, source };
        let mut archive = tar::Archive::new(tar);
        for entry in archive.entries().map_err(tar_err)? {
            let mut entry = entry.map_err(tar_err)?;
            let raw = entry
                .path()
                .map_err(tar_err)?
                .to_string_lossy()
                .into_owned();
            let path = normalise(&raw);
            if path.is_empty() {
                continue;
            }
            let (dir, name) = split(&path);
            if name == ".wh..wh..opq" {
                self.delete_under(dir);
                continue;
            }
            if let Some(hidden) = name.strip_prefix(".wh.") {
                let target = join(dir, hidden);
                self.delete(&target);
                self.delete_under(&target);
                continue;
            }
            // Whatever this entry is, it replaces what an earlier layer had at its path.
            self.replace(&path);
            let header = entry.header();
            if header.entry_type() != tar::EntryType::Regular {
                if header.entry_type() != tar::EntryType::Directory {
                    // A file or link where a directory was: the directory is gone.
                    self.delete_under(&path);
                }
                continue;
            }
            let file = FileMeta {
                path,
                mode: header.mode().map_err(tar_err)?,
                size: header.size().map_err(tar_err)?,
            };
            self.file(&file, &mut entry)?;
        }
        self.earlier.clear();
        self.layer += 1;
        Ok(())
    }

    /// Reads a directory tree (a root filesystem) as one layer. Symbolic links are not
    /// followed; special files are skipped.
    pub fn directory(&mut self, root: &Path) -> Result<(), WalkError> {
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let dir_err = |source| WalkError::Dir {
                path: dir.clone(),
                source,
            };
            let mut entries = std::fs::read_dir(&dir)
                .map_err(dir_err)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(dir_err)?;
            entries.sort_by_key(|e| e.file_name());
            for entry in entries {
                let path = entry.path();
                let meta = std::fs::symlink_metadata(&path).map_err(|source| WalkError::Dir {
                    path: path.clone(),
                    source,
                })?;
                if meta.is_dir() {
                    stack.push(path);
                    continue;
                }
                if !meta.is_file() {
                    continue;
                }
                let rel = path.strip_prefix(root).unwrap_or(&path);
                let file = FileMeta {
                    path: normalise(&rel.to_string_lossy()),
                    mode: std::os::unix::fs::PermissionsExt::mode(&meta.permissions()),
                    size: meta.len(),
                };
                let mut content = std::fs::File::open(&path).map_err(|source| WalkError::Dir {
                    path: path.clone(),
                    source,
                })?;
                self.file(&file, &mut content).map_err(|e| match e {
                    WalkError::Tar { source, .. } => WalkError::Dir { path, source },
                    other => other,
                })?;
            }
        }
        self.layer += 1;
        Ok(())
    }

    /// Hands one regular file to whoever wants it.
    fn file(&mut self, file: &FileMeta, content: &mut dyn Read) -> Result<(), WalkError> {
        let layer = self.layer;
        let wanting: Vec<usize> = (0..self.catalogers.len())
            .filter(|&i| self.catalogers[i].wants(file))
            .collect();
        let os_release = os_release::is_os_release(&file.path) && file.size <= os_release::MAX_SIZE;
        let secrets = self.secrets.filter(|s| s.wants(file));
        let readers = wanting.len() + usize::from(os_release) + usize::from(secrets.is_some());
        if readers == 0 {
            return Ok(());
        }
        let io_err = |source| WalkError::Tar { layer, source };
        if readers == 1 {
            if let Some(&c) = wanting.first() {
                return self.catalog(c, file, content);
            }
            if os_release {
                let mut text = String::new();
                content.read_to_string(&mut text).map_err(io_err)?;
                self.os_release.insert(file.path.clone(), text);
                return Ok(());
            }
            if let Some(scanner) = secrets {
                let findings = scanner.scan(file, content).map_err(io_err)?;
                self.found_secrets(file, findings);
                return Ok(());
            }
        }
        // Several readers (or only the secret scanner): one copy for all, in memory up to
        // SHARED_READ_LIMIT, else in a temporary file (a large binary both the Go and the
        // Rust cataloger read); the secret scanner skips files over the limit.
        let secrets = secrets.filter(|_| file.size <= SHARED_READ_LIMIT);
        if file.size > SHARED_READ_LIMIT {
            let mut spool = tempfile::tempfile().map_err(io_err)?;
            io::copy(content, &mut spool).map_err(io_err)?;
            for c in wanting {
                spool.seek(SeekFrom::Start(0)).map_err(io_err)?;
                self.catalog(c, file, &mut spool)?;
            }
            return Ok(());
        }
        let mut bytes = Vec::with_capacity(file.size as usize);
        content.read_to_end(&mut bytes).map_err(io_err)?;
        for c in wanting {
            self.catalog(c, file, &mut bytes.as_slice())?;
        }
        if os_release {
            self.os_release.insert(
                file.path.clone(),
                String::from_utf8_lossy(&bytes).into_owned(),
            );
        }
        if let Some(scanner) = secrets {
            let findings = scanner.scan(file, &mut bytes.as_slice()).map_err(io_err)?;
            self.found_secrets(file, findings);
        }
        Ok(())
    }

    fn found_secrets(&mut self, file: &FileMeta, findings: Vec<crate::secrets::Finding>) {
        if findings.is_empty() {
            return;
        }
        let layer = self.layer;
        let hits = findings.into_iter().map(|finding| SecretHit {
            layer,
            path: file.path.clone(),
            deleted: false,
            finding,
        });
        self.secrets_found
            .entry(file.path.clone())
            .or_default()
            .extend(hits);
    }

    /// Runs cataloger `c` over a file, keeping each package's first layer when an earlier
    /// layer's copy of the file already recorded it at that version.
    fn catalog(
        &mut self,
        c: usize,
        file: &FileMeta,
        content: &mut dyn Read,
    ) -> Result<(), WalkError> {
        let layer = self.layer;
        let reading = self.catalogers[c]
            .read(file, content)
            .map_err(|source| WalkError::Catalog { layer, source })?;
        self.notes
            .extend(reading.notes.into_iter().map(|message| Note {
                layer,
                path: file.path.clone(),
                message,
            }));
        let earlier = self
            .earlier
            .remove(&(file.path.clone(), c))
            .unwrap_or_default();
        let packages = reading
            .packages
            .into_iter()
            .map(|found| {
                let first = earlier
                    .iter()
                    .find(|(f, _)| {
                        f.name == found.name && f.version == found.version && f.arch == found.arch
                    })
                    .map_or(layer, |(_, l)| *l);
                (found, first)
            })
            .collect();
        self.files
            .entry(file.path.clone())
            .or_default()
            .push(Tracked {
                cataloger: c,
                read_in: layer,
                packages,
            });
        Ok(())
    }
}

impl Walker<'_> {
    /// A whiteout: the path is gone, with its packages; its secrets stay, marked deleted.
    fn delete(&mut self, path: &str) {
        self.files.remove(path);
        self.os_release.remove(path);
        self.mark_deleted(path);
    }

    /// Everything below `dir` that earlier layers put there is gone (an opaque directory,
    /// a whiteout of a directory, a directory replaced by a file).
    fn delete_under(&mut self, dir: &str) {
        let under = |map| keys_under(map, dir);
        let layer = self.layer;
        // Files this layer already put under the directory (before its opaque marker) stay.
        let current = |t: &Vec<Tracked>| t.iter().any(|t| t.read_in == layer);
        for path in under(&self.files) {
            if !self.files.get(&path).is_some_and(current) {
                self.files.remove(&path);
            }
        }
        for path in keys_under(&self.os_release, dir) {
            self.os_release.remove(&path);
        }
        for path in keys_under(&self.secrets_found, dir) {
            self.mark_deleted(&path);
        }
    }

    /// A later layer's entry at the path: what the old file recorded is kept aside for
    /// this layer's reading of the new one.
    fn replace(&mut self, path: &str) {
        if let Some(tracked) = self.files.remove(path) {
            for t in tracked {
                self.earlier
                    .insert((path.to_string(), t.cataloger), t.packages);
            }
        }
        self.os_release.remove(path);
        self.mark_deleted(path);
    }

    fn mark_deleted(&mut self, path: &str) {
        let layer = self.layer;
        if let Some(hits) = self.secrets_found.get_mut(path) {
            for hit in hits.iter_mut().filter(|h| h.layer < layer) {
                hit.deleted = true;
            }
        }
    }

    /// What the image holds: packages of the final filesystem, by cataloger, then path,
    /// then file order; secrets of every layer, by path then layer.
    pub fn finish(self) -> Inventory {
        let distro = OS_RELEASE
            .iter()
            .find_map(|p| self.os_release.get(*p))
            .map(|text| os_release::parse(text))
            .filter(|d| !d.id.is_empty());
        let mut packages = Vec::new();
        for c in 0..self.catalogers.len() {
            let kind = self.catalogers[c].kind();
            for (path, tracked) in &self.files {
                for t in tracked.iter().filter(|t| t.cataloger == c) {
                    for (found, layer) in &t.packages {
                        packages.push(Package {
                            purl: crate::purl::purl(kind, found, distro.as_ref()),
                            found: found.clone(),
                            kind,
                            path: path.clone(),
                            layer: *layer,
                        });
                    }
                }
            }
        }
        Inventory {
            distro,
            packages,
            notes: self.notes,
            secrets: self.secrets_found.into_values().flatten().collect(),
        }
    }
}

/// A tar path as a root-relative path: no leading `./` or `/`, no trailing `/`.
fn normalise(raw: &str) -> String {
    let mut p = raw;
    loop {
        if let Some(rest) = p.strip_prefix("./") {
            p = rest;
        } else if let Some(rest) = p.strip_prefix('/') {
            p = rest;
        } else {
            break;
        }
    }
    let p = p.trim_end_matches('/');
    if p == "." {
        String::new()
    } else {
        p.to_string()
    }
}

/// The keys of `map` below directory `dir`.
fn keys_under<V>(map: &BTreeMap<String, V>, dir: &str) -> Vec<String> {
    let prefix = format!("{dir}/");
    map.range(prefix.clone()..)
        .map(|(k, _)| k)
        .take_while(|k| k.starts_with(&prefix))
        .cloned()
        .collect()
}

/// `("a/b", "c")` for `a/b/c`; `("", "c")` for `c`.
fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

/// `dir/name`, or `name` at the root.
fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_paths_normalise_to_root_relative() {
        for (raw, want) in [
            ("./etc/os-release", "etc/os-release"),
            ("/usr/lib/", "usr/lib"),
            ("././a", "a"),
            ("./", ""),
            (".", ""),
            ("a/b", "a/b"),
        ] {
            assert_eq!(normalise(raw), want, "{raw}");
        }
        assert_eq!(split("a/b/c"), ("a/b", "c"));
        assert_eq!(split("c"), ("", "c"));
        assert_eq!(join("", "c"), "c");
        assert_eq!(join("a/b", "c"), "a/b/c");
    }
}
