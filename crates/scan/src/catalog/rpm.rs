//! RPM packages from rpm's database.
//!
//! rpm 4.16 and later (as RHEL, Rocky and Alma 9 and Fedora 33 on ship it) keeps it in
//! sqlite, `rpmdb.sqlite` in `var/lib/rpm/` or `usr/lib/sysimage/rpm/`: table
//! `Packages(hnum, blob)`, each blob an rpm header ([`super::rpm_header`]). sqlite reads
//! files, not streams, so the cataloger copies the content into a private temporary file
//! (in `TMPDIR`; at most the size the layer's tar declares for it: disk, not memory, holds
//! the copy, and the copy is removed when read) and opens that read-only. `gpg-pubkey`
//! entries are the keys rpm imported, not packages, and are left out.
//!
//! The older BerkeleyDB `Packages` (RHEL 8 and before, CentOS, Amazon Linux 2) and SUSE's
//! NDB `Packages.db` have no maintained Rust reader: those files give a note saying so and
//! what to do, and no packages (never a silent empty list).

use std::io::{Read, Seek, SeekFrom, Write};

use rusqlite::{Connection, OpenFlags};

use super::rpm_header::{Header, tag};
use super::{CatalogError, Cataloger, FileMeta, Reading};
use crate::package::{Found, PackageKind};

/// Where rpm keeps its sqlite database.
pub const SQLITE_PATHS: [&str; 2] = [
    "var/lib/rpm/rpmdb.sqlite",
    "usr/lib/sysimage/rpm/rpmdb.sqlite",
];

/// Where rpm keeps its BerkeleyDB (`Packages`) and NDB (`Packages.db`) databases.
pub const UNSUPPORTED_PATHS: [&str; 4] = [
    "var/lib/rpm/Packages",
    "usr/lib/sysimage/rpm/Packages",
    "var/lib/rpm/Packages.db",
    "usr/lib/sysimage/rpm/Packages.db",
];

/// sqlite's write-ahead logs beside the databases: a non-empty one holds changes not yet
/// in the database file, which only a note can tell.
pub const WAL_PATHS: [&str; 2] = [
    "var/lib/rpm/rpmdb.sqlite-wal",
    "usr/lib/sysimage/rpm/rpmdb.sqlite-wal",
];

/// The rpm cataloger.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rpm;

impl Cataloger for Rpm {
    fn kind(&self) -> PackageKind {
        PackageKind::Rpm
    }

    fn wants(&self, file: &FileMeta) -> bool {
        let path = file.path.as_str();
        SQLITE_PATHS.contains(&path)
            || UNSUPPORTED_PATHS.contains(&path)
            || (file.size > 0 && WAL_PATHS.contains(&path))
    }

    fn read(&self, file: &FileMeta, content: &mut dyn Read) -> Result<Reading, CatalogError> {
        if WAL_PATHS.contains(&file.path.as_str()) {
            return Ok(Reading {
                packages: Vec::new(),
                notes: vec![format!(
                    "{}: rpm's database has {} bytes of changes not yet written into \
                     rpmdb.sqlite (rpm was stopped before it checkpointed); packages those \
                     changes installed or removed are not seen. Running any rpm query in the \
                     image (`rpm -qa`) as its last step writes them in",
                    file.path, file.size
                )],
            });
        }
        if UNSUPPORTED_PATHS.contains(&file.path.as_str()) {
            return Ok(Reading {
                packages: Vec::new(),
                notes: vec![unsupported_note(&file.path)],
            });
        }
        Ok(Reading {
            packages: read_sqlite(file, content)?,
            notes: Vec::new(),
        })
    }
}

/// The note for a database format strata cannot read.
fn unsupported_note(path: &str) -> String {
    let format = if path.ends_with(".db") {
        "NDB"
    } else {
        "BerkeleyDB"
    };
    format!(
        "rpm's {format} database ({path}) is not supported: strata reads rpm's sqlite database \
         (rpm 4.16 and later: RHEL/Rocky/Alma 9, Fedora 33+), so this image's rpm packages are \
         not listed and not scanned. To list them, convert the database in a derived image \
         (`RUN rpmdb --rebuilddb --define '_db_backend sqlite'`, where the image's rpm has the \
         sqlite backend), or attach an SBOM made inside the image and use `--from-attestation`"
    )
}

fn io_error(path: &str, source: std::io::Error) -> CatalogError {
    CatalogError::Io {
        path: path.to_owned(),
        source,
    }
}

fn malformed(path: &str, reason: String) -> CatalogError {
    CatalogError::Malformed {
        path: path.to_owned(),
        line: 0,
        reason,
    }
}

/// The packages of an rpm sqlite database whose content is `content` (at most
/// `file.size` bytes are copied).
pub fn read_sqlite(file: &FileMeta, content: &mut dyn Read) -> Result<Vec<Found>, CatalogError> {
    let path = file.path.as_str();
    let mut copy = tempfile::Builder::new()
        .prefix("strata-rpmdb-")
        .tempfile()
        .map_err(|e| io_error(path, e))?;
    let copied = std::io::copy(&mut content.take(file.size), copy.as_file_mut())
        .map_err(|e| io_error(path, e))?;
    if copied < 100 {
        return Err(malformed(
            path,
            format!("{copied} bytes is too short for an sqlite database"),
        ));
    }
    force_rollback_journal(copy.as_file_mut()).map_err(|e| io_error(path, e))?;
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let db = Connection::open_with_flags(copy.path(), flags)
        .map_err(|e| malformed(path, format!("not an sqlite database: {e}")))?;
    let sql_error = |e: rusqlite::Error| {
        malformed(
            path,
            format!("not an rpm database (table Packages(hnum, blob)): {e}"),
        )
    };
    let mut statement = db
        .prepare("SELECT hnum, blob FROM Packages ORDER BY hnum")
        .map_err(sql_error)?;
    let mut rows = statement.query([]).map_err(sql_error)?;
    let mut packages = Vec::new();
    while let Some(row) = rows.next().map_err(sql_error)? {
        let hnum: i64 = row.get(0).map_err(sql_error)?;
        let blob = row.get_ref(1).map_err(sql_error)?.as_blob().map_err(|e| {
            malformed(
                path,
                format!("package hnum {hnum}: the blob is not a blob: {e}"),
            )
        })?;
        let found =
            package(blob).map_err(|e| malformed(path, format!("package hnum {hnum}: {e}")))?;
        if let Some(found) = found {
            packages.push(found);
        }
    }
    Ok(packages)
}

/// Makes a WAL-mode database file (rpm sets `journal_mode=WAL`) a rollback-journal one, by
/// its header bytes 18 and 19 (sqlite's file format: 2 is WAL, 1 legacy): a read-only
/// connection to a WAL database needs a `-shm` file it may not create. The copy is ours,
/// and rpm checkpoints its WAL when it closes, so nothing is lost.
fn force_rollback_journal(file: &mut std::fs::File) -> std::io::Result<()> {
    let mut versions = [0u8; 2];
    file.seek(SeekFrom::Start(18))?;
    file.read_exact(&mut versions)?;
    if versions == [2, 2] {
        file.seek(SeekFrom::Start(18))?;
        file.write_all(&[1, 1])?;
    }
    file.flush()
}

/// The package one header describes; `None` for the `gpg-pubkey` pseudo-packages rpm
/// records imported keys as.
pub fn package(blob: &[u8]) -> Result<Option<Found>, String> {
    let header = Header::parse(blob).map_err(|e| e.to_string())?;
    let string = |t| header.string(t).map_err(|e| e.to_string());
    let name = string(tag::NAME)?.ok_or("no NAME tag")?;
    if name == "gpg-pubkey" {
        return Ok(None);
    }
    let version = string(tag::VERSION)?.ok_or("no VERSION tag")?;
    let release = string(tag::RELEASE)?.ok_or("no RELEASE tag")?;
    let epoch = header.int32(tag::EPOCH).map_err(|e| e.to_string())?;
    let evr = |v: &str, r: &str| match epoch {
        Some(e) => format!("{e}:{v}-{r}"),
        None => format!("{v}-{r}"),
    };
    let full = evr(version, release);
    let source = match string(tag::SOURCERPM)? {
        None | Some("") | Some("(none)") => None,
        Some(srpm) => {
            let (src_name, src_version, src_release) = split_source_rpm(srpm)
                .ok_or_else(|| format!("SOURCERPM {srpm:?} is not name-version-release.src.rpm"))?;
            // A source rpm has no epoch of its own in the name; it is the binary's.
            let src = evr(src_version, src_release);
            (src_name != name || src != full).then(|| (src_name.to_owned(), src))
        }
    };
    Ok(Some(Found {
        name: name.to_owned(),
        version: full,
        source,
        arch: string(tag::ARCH)?
            .filter(|a| !a.is_empty())
            .map(str::to_owned),
        licenses: string(tag::LICENSE)?
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .into_iter()
            .collect(),
        // The one purl qualifier an rpm needs beyond the common fields (Trivy writes it).
        qualifiers: string(tag::MODULARITYLABEL)?
            .filter(|l| !l.is_empty())
            .map(|l| ("modularitylabel".to_owned(), l.to_owned()))
            .into_iter()
            .collect(),
    }))
}

/// `name-version-release.src.rpm` (or `.nosrc.rpm`) → its three parts.
fn split_source_rpm(srpm: &str) -> Option<(&str, &str, &str)> {
    let stem = srpm
        .strip_suffix(".src.rpm")
        .or_else(|| srpm.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    (!name.is_empty() && !version.is_empty() && !release.is_empty())
        .then_some((name, version, release))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_rpm_names() {
        assert_eq!(
            split_source_rpm("openssl-1.1.1k-7.el8_6.src.rpm"),
            Some(("openssl", "1.1.1k", "7.el8_6"))
        );
        assert_eq!(
            split_source_rpm("python-pip-21.2.3-7.el9.src.rpm"),
            Some(("python-pip", "21.2.3", "7.el9"))
        );
        assert_eq!(
            split_source_rpm("foo-1-2.nosrc.rpm"),
            Some(("foo", "1", "2"))
        );
        assert_eq!(split_source_rpm("foo-1.src.rpm"), None);
        assert_eq!(split_source_rpm("foo-1-2.rpm"), None);
        assert_eq!(split_source_rpm("-1-2.src.rpm"), None);
    }

    #[test]
    fn wants_its_paths_only() {
        let meta = |p: &str| FileMeta {
            path: p.to_owned(),
            mode: 0o644,
            size: 1,
        };
        for p in SQLITE_PATHS
            .iter()
            .chain(&UNSUPPORTED_PATHS)
            .chain(&WAL_PATHS)
        {
            assert!(Rpm.wants(&meta(p)), "{p}");
        }
        let empty_wal = FileMeta {
            size: 0,
            ..meta(WAL_PATHS[0])
        };
        assert!(!Rpm.wants(&empty_wal), "an empty WAL holds nothing");
        for p in [
            "var/lib/rpm/rpmdb.sqlite-shm",
            "var/lib/rpm/rpmdb.sqlite-journal",
            "var/lib/rpm/Index.db",
            "var/lib/rpm/Name",
            "x/var/lib/rpm/rpmdb.sqlite",
        ] {
            assert!(!Rpm.wants(&meta(p)), "{p}");
        }
    }

    #[test]
    fn berkeleydb_is_a_note_not_an_empty_list() {
        let meta = FileMeta {
            path: "var/lib/rpm/Packages".into(),
            mode: 0o644,
            size: 3,
        };
        let reading = Rpm.read(&meta, &mut &b"abc"[..]).unwrap();
        assert!(reading.packages.is_empty());
        assert_eq!(reading.notes.len(), 1);
        assert!(
            reading.notes[0]
                .starts_with("rpm's BerkeleyDB database (var/lib/rpm/Packages) is not supported: "),
            "{}",
            reading.notes[0]
        );
    }
}
