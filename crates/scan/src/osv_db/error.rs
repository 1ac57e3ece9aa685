//! What can go wrong opening, importing into and reading the vulnerability database.
//!
//! Every import error leaves the database as it was (the import is one transaction), and
//! its message says so; each names the file and, inside a zip, the entry.

use std::fmt;
use std::path::PathBuf;

/// Where a record came from: a file, and the entry inside it when the file is a zip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file given to (or found by) the import.
    pub path: PathBuf,
    /// The entry's name inside the zip, when the file is a zip.
    pub entry: Option<String>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.entry {
            Some(entry) => write!(f, "{} (zip entry {entry})", self.path.display()),
            None => write!(f, "{}", self.path.display()),
        }
    }
}

/// An error from the vulnerability database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A scan opened a database that does not exist yet.
    #[error(
        "no vulnerability database at {}: run `strata scan db import FILE` or `strata scan db update`",
        path.display()
    )]
    Missing {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// SQLite refused something (open, query, commit: `what` says which).
    #[error("vulnerability database {}: {what}: {source}", path.display())]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// SQLite's complaint.
        #[source]
        source: rusqlite::Error,
    },
    /// The file is a SQLite database, but not one this version of strata wrote.
    #[error(
        "{} is not a vulnerability database this strata can read (schema version {found}, \
         expected {expected}): move it away and run `strata scan db update` or import again",
        path.display()
    )]
    Schema {
        /// The database file.
        path: PathBuf,
        /// Its `user_version` (0: not a strata database at all).
        found: i64,
        /// The version this code writes.
        expected: i64,
    },
    /// An input file (or a zip entry's data) could not be read.
    #[error("cannot read {location}: {source}; nothing was imported")]
    Read {
        /// The file (and entry).
        location: Location,
        /// The operating system's or the zip reader's complaint.
        #[source]
        source: std::io::Error,
    },
    /// A zip file is not a readable archive: truncated (an interrupted download) or corrupt.
    #[error(
        "{}: not a readable zip archive ({source}): it may be truncated or corrupt, download \
         it again; nothing was imported",
        location
    )]
    Zip {
        /// The zip (and the entry, when one entry's header is bad).
        location: Location,
        /// The zip reader's complaint.
        #[source]
        source: zip::result::ZipError,
    },
    /// A record is not valid OSV: not JSON, no `id`, no `modified`, a field of the wrong
    /// type for the OSV schema.
    #[error(
        "{location}: not a valid OSV record: {reason}; fix or remove it and import again \
         (nothing was imported)"
    )]
    Record {
        /// The file (and entry).
        location: Location,
        /// What is wrong, with the field's path in the record where known.
        reason: String,
    },
    /// A record is larger than [`MAX_RECORD_BYTES`](super::MAX_RECORD_BYTES).
    #[error(
        "{location}: {size} bytes, more than the {limit} bytes an OSV record may have here; \
         nothing was imported"
    )]
    TooLarge {
        /// The file (and entry).
        location: Location,
        /// Its size.
        size: u64,
        /// The bound.
        limit: u64,
    },
    /// The input is neither a zip, a JSON record nor a directory.
    #[error(
        "{}: not an OSV input: `strata scan db import` takes a .zip of OSV records (osv.dev's \
         all.zip), a .json record, or a directory of them",
        path.display()
    )]
    Unsupported {
        /// The input.
        path: PathBuf,
    },
    /// A directory holds no `.json` or `.zip` file.
    #[error("{}: no .json or .zip files in it; nothing was imported", path.display())]
    NothingToImport {
        /// The directory.
        path: PathBuf,
    },
    /// A record stored in the database no longer parses (the file was damaged or edited).
    #[error(
        "vulnerability database {}: stored record {id} cannot be read ({reason}): the database \
         is damaged, move it away and import again",
        path.display()
    )]
    Stored {
        /// The database file.
        path: PathBuf,
        /// The record's id.
        id: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A lookup matched records only through affected entries whose ecosystem the OSV
    /// types (`osv` 0.3) cannot represent (`openEuler:24.03-LTS`): they are stored, but
    /// an `osv::schema::Vulnerability` cannot carry the entries that matched.
    #[error(
        "ecosystem {ecosystem:?} is not one the osv crate can represent: its records are \
         stored, but cannot be returned as osv::schema::Vulnerability"
    )]
    UnknownEcosystem {
        /// The ecosystem as asked.
        ecosystem: String,
    },
}
