//! Debian packages from dpkg's database: `var/lib/dpkg/status`, and the per-package files
//! of `var/lib/dpkg/status.d/` that distroless images carry instead.
//!
//! Both are deb822: stanzas of `Field: value` lines (field names case-insensitive),
//! continuation lines starting with a space or tab, stanzas separated by blank lines.
//! A package counts when its `Status:` (`want flag state`) says its files are on disk:
//! every state but `not-installed` and `config-files`. So `deinstall ok installed`
//! (selected for removal, not yet removed) counts, and so do the unfinished states
//! (`unpacked`, `half-configured`, `triggers-pending`, ..., `half-installed`): their
//! files, vulnerable or not, are in the image. A stanza with no `Status:` (status.d's
//! files) counts. `Source: name (version)` gives the source package, the version
//! defaulting to the binary's. dpkg's status holds no licences.
//!
//! The file is read line by line (each line bounded, see [`super::lines`]). What is not
//! deb822 (and, as for dpkg, a last line without its newline: a truncated file), a stanza
//! without `Package:`, or a counted one without a valid `Version:`, is
//! [`CatalogError::Malformed`] naming the line: a corrupt database must not read as fewer
//! packages.

use std::io::Read;

use super::lines::{Lines, malformed};
use super::{CatalogError, Cataloger, FileMeta, Reading};
use crate::package::{Found, PackageKind};
use crate::version::dpkg;

/// dpkg's status database.
pub const STATUS: &str = "var/lib/dpkg/status";
/// The directory of distroless images' per-package status files.
pub const STATUS_D: &str = "var/lib/dpkg/status.d/";

/// The dpkg cataloger.
#[derive(Debug, Clone, Copy, Default)]
pub struct Dpkg;

impl Cataloger for Dpkg {
    fn kind(&self) -> PackageKind {
        PackageKind::Deb
    }

    /// `var/lib/dpkg/status` and the files directly in `status.d/`, except the
    /// `*.md5sums` lists distroless puts beside them.
    fn wants(&self, file: &FileMeta) -> bool {
        let path = file.path.as_str();
        path == STATUS
            || path.strip_prefix(STATUS_D).is_some_and(|name| {
                !name.is_empty() && !name.contains('/') && !name.ends_with(".md5sums")
            })
    }

    fn read(&self, file: &FileMeta, content: &mut dyn Read) -> Result<Reading, CatalogError> {
        Ok(Reading {
            packages: read_status(&file.path, content)?,
            notes: Vec::new(),
        })
    }
}

/// One stanza as read so far: the fields a package needs, with their line numbers.
#[derive(Default)]
struct Stanza {
    first_line: usize,
    package: Option<String>,
    version: Option<(usize, String)>,
    arch: Option<String>,
    status: Option<String>,
    source: Option<(usize, String)>,
}

/// The packages of a deb822 status file whose files are on disk, in file order.
pub fn read_status(path: &str, content: &mut dyn Read) -> Result<Vec<Found>, CatalogError> {
    let mut lines = Lines::new(path, content);
    let mut packages = Vec::new();
    let mut stanza: Option<Stanza> = None;
    let mut last_line = 0;
    while let Some((number, line)) = lines.next_line()? {
        last_line = number;
        if line.trim().is_empty() {
            if let Some(done) = stanza.take() {
                finish(path, done, number - 1, &mut packages)?;
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            // A continuation of the previous field (descriptions, conffiles): only valid
            // inside a stanza; none of the fields read here continue.
            if stanza.is_none() {
                return Err(malformed(
                    path,
                    number,
                    "a continuation line (starting with a space or tab) outside a package entry"
                        .to_owned(),
                ));
            }
            continue;
        }
        let Some((name, value)) = field(&line) else {
            return Err(malformed(
                path,
                number,
                format!(
                    "expected `Field: value`, a continuation line starting with a space, or a \
                     blank line between packages, found {:?}",
                    truncate(&line)
                ),
            ));
        };
        let current = stanza.get_or_insert_with(|| Stanza {
            first_line: number,
            ..Stanza::default()
        });
        let value = value.to_owned();
        if name.eq_ignore_ascii_case("Package") {
            current.package = Some(value);
        } else if name.eq_ignore_ascii_case("Version") {
            current.version = Some((number, value));
        } else if name.eq_ignore_ascii_case("Architecture") {
            current.arch = Some(value);
        } else if name.eq_ignore_ascii_case("Status") {
            current.status = Some(value);
        } else if name.eq_ignore_ascii_case("Source") {
            current.source = Some((number, value));
        }
    }
    if lines.ended_mid_line() {
        // dpkg writes every line whole; as dpkg does, take a missing final newline for
        // a truncated file rather than guess the last value was complete.
        return Err(malformed(
            path,
            last_line,
            "the file ends in the middle of a line (no final newline): it is truncated".to_owned(),
        ));
    }
    if let Some(done) = stanza.take() {
        finish(path, done, last_line, &mut packages)?;
    }
    Ok(packages)
}

/// A deb822 field line's name and value (trimmed); `None` when the line is not one.
/// Field names are printable ASCII without spaces or `:`, not starting with `#` or `-`.
fn field(line: &str) -> Option<(&str, &str)> {
    let (name, value) = line.split_once(':')?;
    let valid = !name.is_empty()
        && !name.starts_with(['#', '-'])
        && name.bytes().all(|b| b.is_ascii_graphic());
    valid.then(|| (name, value.trim()))
}

/// Whether a `Status:` value (`want flag state`) says the package's files are on disk
/// (all or some of them): any state but `not-installed` and `config-files`, the two that
/// leave only configuration files, or nothing.
fn on_disk(status: &str) -> bool {
    match status.split_ascii_whitespace().nth(2) {
        None | Some("not-installed" | "config-files") => false,
        Some(_) => true,
    }
}

/// Checks a finished stanza (lines `first_line..=last`) and adds its package if installed.
fn finish(
    path: &str,
    stanza: Stanza,
    last: usize,
    packages: &mut Vec<Found>,
) -> Result<(), CatalogError> {
    let first = stanza.first_line;
    let Some(name) = stanza.package.filter(|p| !p.is_empty()) else {
        return Err(malformed(
            path,
            first,
            format!("the entry at lines {first}-{last} has no `Package:` field"),
        ));
    };
    if !stanza.status.as_deref().is_none_or(on_disk) {
        return Ok(());
    }
    let Some((version_line, version)) = stanza.version else {
        return Err(malformed(
            path,
            first,
            format!(
                "package {name:?} (lines {first}-{last}) is installed but has no `Version:` field"
            ),
        ));
    };
    if let Err(e) = dpkg::parse(&version) {
        return Err(malformed(
            path,
            version_line,
            format!("package {name:?}: {e}"),
        ));
    }
    let source = match stanza.source {
        None => None,
        Some((line, value)) => {
            let (src_name, src_version) = parse_source(&value).ok_or_else(|| {
                malformed(
                    path,
                    line,
                    format!("`Source: {value}` is not `name` or `name (version)`"),
                )
            })?;
            let src_version = src_version.unwrap_or(&version);
            if let Err(e) = dpkg::parse(src_version) {
                return Err(malformed(
                    path,
                    line,
                    format!("package {name:?}'s source: {e}"),
                ));
            }
            (src_name != name || src_version != version)
                .then(|| (src_name.to_owned(), src_version.to_owned()))
        }
    };
    packages.push(Found {
        name,
        version,
        source,
        arch: stanza.arch.filter(|a| !a.is_empty()),
        ..Found::default()
    });
    Ok(())
}

/// `name` or `name (version)`.
fn parse_source(value: &str) -> Option<(&str, Option<&str>)> {
    match value.split_once('(') {
        None => {
            (!value.is_empty() && !value.contains(char::is_whitespace)).then_some((value, None))
        }
        Some((name, rest)) => {
            let name = name.trim_end();
            let version = rest.strip_suffix(')')?.trim();
            let ok = !name.is_empty() && !name.contains(char::is_whitespace) && !version.is_empty();
            ok.then_some((name, Some(version)))
        }
    }
}

/// The start of a line, for an error message.
fn truncate(line: &str) -> String {
    line.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(path: &str) -> FileMeta {
        FileMeta {
            path: path.to_owned(),
            mode: 0o644,
            size: 0,
        }
    }

    #[test]
    fn wants_status_and_status_d_files_only() {
        let yes = [
            "var/lib/dpkg/status",
            "var/lib/dpkg/status.d/base",
            "var/lib/dpkg/status.d/libc6",
        ];
        let no = [
            "var/lib/dpkg/status-old",
            "var/lib/dpkg/status.d/libc6.md5sums",
            "var/lib/dpkg/status.d/",
            "var/lib/dpkg/status.d/sub/x",
            "usr/var/lib/dpkg/status",
            "var/lib/dpkg/available",
        ];
        for p in yes {
            assert!(Dpkg.wants(&meta(p)), "{p}");
        }
        for p in no {
            assert!(!Dpkg.wants(&meta(p)), "{p}");
        }
    }

    #[test]
    fn status_words() {
        assert!(on_disk("install ok installed"));
        assert!(on_disk("hold ok installed"));
        assert!(on_disk("deinstall ok installed"));
        assert!(on_disk("install ok unpacked"));
        assert!(on_disk("install ok triggers-pending"));
        assert!(on_disk("install reinstreq half-installed"));
        assert!(!on_disk("deinstall ok config-files"));
        assert!(!on_disk("purge ok not-installed"));
        assert!(!on_disk("install ok not-installed"));
        assert!(!on_disk(""));
    }

    #[test]
    fn source_forms() {
        assert_eq!(parse_source("glibc"), Some(("glibc", None)));
        assert_eq!(
            parse_source("glibc (2.36-9)"),
            Some(("glibc", Some("2.36-9")))
        );
        assert_eq!(
            parse_source("glibc(2.36-9)"),
            Some(("glibc", Some("2.36-9")))
        );
        assert_eq!(parse_source("glibc (2.36-9"), None);
        assert_eq!(parse_source("glibc ()"), None);
        assert_eq!(parse_source("two words"), None);
        assert_eq!(parse_source(""), None);
    }
}
