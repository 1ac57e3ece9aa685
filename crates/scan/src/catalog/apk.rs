//! Alpine packages from apk's database, `lib/apk/db/installed`.
//!
//! The file (apk-tools' `apk_db_index_read`/`apk_pkg_write_index_entry`) is one block per
//! installed package, blocks separated by blank lines, each line `X:value` with a one-letter
//! key: `P` name, `V` version, `A` architecture, `o` origin (the source package, built at
//! the same version), `L` licence; the package's files follow (`F:`, `R:`, `a:`, `Z:`
//! ...), which are skipped. Read line by line, each line bounded ([`super::lines`]).
//! A line that is not `X:value`, a block without `P:` or `V:`, or a version neither
//! apk-tools 2 nor 3 accepts is [`CatalogError::Malformed`] naming the line.

use std::io::Read;

use super::lines::{Lines, malformed};
use super::{CatalogError, Cataloger, FileMeta, Reading};
use crate::package::{Found, PackageKind};
use crate::version::{apk, apk3};

/// apk's database of installed packages.
pub const INSTALLED: &str = "lib/apk/db/installed";

/// The apk cataloger.
#[derive(Debug, Clone, Copy, Default)]
pub struct Apk;

impl Cataloger for Apk {
    fn kind(&self) -> PackageKind {
        PackageKind::Apk
    }

    fn wants(&self, file: &FileMeta) -> bool {
        file.path == INSTALLED
    }

    fn read(&self, file: &FileMeta, content: &mut dyn Read) -> Result<Reading, CatalogError> {
        Ok(Reading {
            packages: read_installed(&file.path, content)?,
            notes: Vec::new(),
        })
    }
}

/// One block as read so far, with the line numbers errors need.
#[derive(Default)]
struct Block {
    first_line: usize,
    name: Option<String>,
    version: Option<(usize, String)>,
    arch: Option<String>,
    origin: Option<String>,
    license: Option<String>,
}

/// The packages of an apk `installed` database, in file order.
pub fn read_installed(path: &str, content: &mut dyn Read) -> Result<Vec<Found>, CatalogError> {
    let mut lines = Lines::new(path, content);
    let mut packages = Vec::new();
    let mut block: Option<Block> = None;
    let mut last_line = 0;
    while let Some((number, line)) = lines.next_line()? {
        last_line = number;
        if line.is_empty() {
            if let Some(done) = block.take() {
                packages.push(finish(path, done, number - 1)?);
            }
            continue;
        }
        let bytes = line.as_bytes();
        if bytes.len() < 2 || bytes[1] != b':' || !bytes[0].is_ascii_alphanumeric() {
            return Err(malformed(
                path,
                number,
                format!(
                    "expected a `X:value` line (a one-letter key, a colon) or a blank line \
                     between packages, found {:?}",
                    line.chars().take(80).collect::<String>()
                ),
            ));
        }
        let current = block.get_or_insert_with(|| Block {
            first_line: number,
            ..Block::default()
        });
        let value = &line[2..];
        match bytes[0] {
            b'P' => current.name = Some(value.to_owned()),
            b'V' => current.version = Some((number, value.to_owned())),
            b'A' => current.arch = Some(value.to_owned()),
            b'o' => current.origin = Some(value.to_owned()),
            b'L' => current.license = Some(value.to_owned()),
            _ => {}
        }
    }
    if let Some(done) = block.take() {
        packages.push(finish(path, done, last_line)?);
    }
    Ok(packages)
}

/// Checks a finished block (lines `first_line..=last`) and makes its package.
fn finish(path: &str, block: Block, last: usize) -> Result<Found, CatalogError> {
    let first = block.first_line;
    let Some(name) = block.name.filter(|n| !n.is_empty()) else {
        return Err(malformed(
            path,
            first,
            format!("the package at lines {first}-{last} has no `P:` (name) line"),
        ));
    };
    let Some((line, version)) = block.version else {
        return Err(malformed(
            path,
            first,
            format!("package {name:?} (lines {first}-{last}) has no `V:` (version) line"),
        ));
    };
    // Alpine 3.23 moved to apk-tools 3, whose version syntax is a little wider: a version
    // either accepts is one apk installed.
    if let Err(e) = apk::validate(&version)
        && apk3::validate(&version).is_err()
    {
        return Err(malformed(path, line, format!("package {name:?}: {e}")));
    }
    let source = block
        .origin
        .filter(|o| !o.is_empty() && *o != name)
        .map(|o| (o, version.clone()));
    Ok(Found {
        name,
        version,
        source,
        arch: block.arch.filter(|a| !a.is_empty()),
        licenses: block
            .license
            .filter(|l| !l.is_empty())
            .into_iter()
            .collect(),
        qualifiers: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wants_the_installed_db_only() {
        let meta = |p: &str| FileMeta {
            path: p.to_owned(),
            mode: 0o644,
            size: 10,
        };
        assert!(Apk.wants(&meta("lib/apk/db/installed")));
        assert!(!Apk.wants(&meta("lib/apk/db/installed.old")));
        assert!(!Apk.wants(&meta("usr/lib/apk/db/installed")));
        assert!(!Apk.wants(&meta("lib/apk/db/triggers")));
    }
}
