//! The offline vulnerability database: OSV records (osv.dev's schema) in a SQLite file
//! (`<store root>/scan/osv.db`), indexed by (ecosystem, package name).
//!
//! [`Db::import`] takes osv.dev's per-ecosystem `all.zip`, single `.json` records or a
//! directory of both, in one transaction: any bad input leaves the database as it was.
//! [`Db::records_for`] returns every live record naming a package, for the matcher to
//! judge its ranges; [`Db::status`] and [`Db::data_date`] say what is there and how old.
//! Downloading is the CLI's job: [`ecosystem_zip_url`] says where osv.dev keeps each zip.
//!
//! Which records a lookup returns is [`ecosystem_matches`]'s rule; what an import refuses
//! and what it keeps is described in `record.rs`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use osv::schema::Vulnerability;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

mod error;
mod import;
mod names;
mod record;
mod schema;
mod status;

pub use error::{DbError, Location};
pub use import::{Counts, ImportReport};
pub use names::{
    DEFAULT_URL, SCANNED_ECOSYSTEMS, ecosystem_base, ecosystem_matches, ecosystem_zip_url,
    matching_affected, normalize_name,
};
pub use status::{EcosystemStatus, Status};

/// The largest record (a `.json` file or a zip entry, uncompressed) an import reads: one
/// record is in memory at a time, and this bounds it. osv.dev's largest records (Linux
/// kernel ones with long version lists) are a few MiB.
pub const MAX_RECORD_BYTES: u64 = 64 << 20;

/// How long a connection waits for another's write lock (an import running elsewhere)
/// before giving up with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An open vulnerability database: one SQLite connection, `Send` but not `Sync`; threads
/// that look up in parallel open one each (readers never block each other or an import).
pub struct Db {
    conn: Connection,
    path: PathBuf,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Memory-maps the file for reads (a lookup touches a few pages per record; through the
/// page cache each is a `pread` and a copy) and gives the page cache room for an
/// import's index pages. Both are per connection, and bounds, not allocations.
fn tune(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "mmap_size", 1i64 << 30)?;
    // After a checkpoint, cut the WAL back: an import of a whole ecosystem writes
    // hundreds of MiB to it, which would otherwise stay on disk.
    conn.pragma_update(None, "journal_size_limit", 64i64 << 20)?;
    conn.pragma_update(None, "cache_size", -32_768)
}

impl Db {
    /// Opens the database for reading and importing, creating the file (and its parent
    /// directory) with the tables on first use. WAL journal, so scans read while an
    /// import writes.
    pub fn open(path: &Path) -> Result<Db, DbError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| DbError::Read {
                location: Location {
                    path: parent.to_owned(),
                    entry: None,
                },
                source,
            })?;
        }
        let sqlite = |what| {
            move |source| DbError::Sqlite {
                path: path.to_owned(),
                what,
                source,
            }
        };
        let mut conn = Connection::open(path).map_err(sqlite("opening"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite("setting the busy timeout"))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite("switching to the WAL journal"))?;
        // WAL with NORMAL sync is durable at checkpoints and never corrupt: a crash may
        // lose the last import, which `update` repeats.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sqlite("setting synchronous"))?;
        tune(&conn).map_err(sqlite("setting the cache"))?;
        schema::ensure(&mut conn, path)?;
        Ok(Db {
            conn,
            path: path.to_owned(),
        })
    }

    /// Opens an existing database read-only, for scans; a missing file is
    /// [`DbError::Missing`], which tells the user how to make one. (SQLite's WAL mode
    /// needs the `-shm` file beside the database: the directory must be writable, or the
    /// file already there.)
    pub fn open_read_only(path: &Path) -> Result<Db, DbError> {
        if !path.exists() {
            return Err(DbError::Missing {
                path: path.to_owned(),
            });
        }
        let sqlite = |what| {
            move |source| DbError::Sqlite {
                path: path.to_owned(),
                what,
                source,
            }
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(sqlite("opening read-only"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite("setting the busy timeout"))?;
        tune(&conn).map_err(sqlite("setting the cache"))?;
        schema::check(&conn, path)?;
        Ok(Db {
            conn,
            path: path.to_owned(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every live (not withdrawn) record with an affected entry for package `name` in
    /// `ecosystem`, ordered by id.
    ///
    /// `ecosystem` is as OSV writes it: `Debian:12`, `Alpine:v3.20`, `PyPI`, `npm`, `Go`,
    /// `crates.io`, `Maven`, `Red Hat`, `Ubuntu:22.04:LTS`; which record ecosystems it
    /// matches is [`ecosystem_matches`]'s rule (`Debian:12` finds `Debian:12` and bare
    /// `Debian` entries; `Red Hat` finds every `Red Hat:…`). `name` is normalised as
    /// [`normalize_name`] says (PyPI: PEP 503). A record is returned whole when any of its
    /// entries matches; the matcher picks the entries (with [`matching_affected`]) and
    /// judges their ranges. Statements are prepared once per connection (cached).
    ///
    /// When a record matched only through entries the osv crate cannot represent (see
    /// `record.rs`), the lookup is [`DbError::UnknownEcosystem`] rather than a record
    /// without the entry that matched.
    pub fn records_for(&self, ecosystem: &str, name: &str) -> Result<Vec<Vulnerability>, DbError> {
        let base = ecosystem_base(ecosystem);
        let name = normalize_name(ecosystem, name);
        let sqlite = |source| DbError::Sqlite {
            path: self.path.clone(),
            what: "looking up",
            source,
        };
        let (mut statement, mut rows);
        if base.len() == ecosystem.len() {
            statement = self
                .conn
                .prepare_cached(schema::LOOKUP_ANY)
                .map_err(sqlite)?;
            rows = statement.query(params![base, name]).map_err(sqlite)?;
        } else {
            statement = self
                .conn
                .prepare_cached(schema::LOOKUP_RELEASE)
                .map_err(sqlite)?;
            rows = statement
                .query(params![base, name, ecosystem])
                .map_err(sqlite)?;
        }
        let mut found = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite)? {
            let (vulnerability, partial) = self.decode_row(row)?;
            // A partial record lost the entries the osv crate cannot hold; when the ones
            // this lookup matched were among them, returning it would hide the match.
            if partial && matching_affected(&vulnerability, ecosystem, &name).is_empty() {
                return Err(DbError::UnknownEcosystem {
                    ecosystem: ecosystem.to_owned(),
                });
            }
            found.push(vulnerability);
        }
        found.sort_unstable_by(|a: &Vulnerability, b| a.id.cmp(&b.id));
        Ok(found)
    }

    /// One record by its OSV id, withdrawn or not (`None` when it is not stored).
    pub fn record(&self, id: &str) -> Result<Option<Vulnerability>, DbError> {
        let sqlite = |source| DbError::Sqlite {
            path: self.path.clone(),
            what: "reading a record",
            source,
        };
        let mut statement = self.conn.prepare_cached(schema::BY_ID).map_err(sqlite)?;
        let mut rows = statement.query(params![id]).map_err(sqlite)?;
        match rows.next().map_err(sqlite)? {
            Some(row) => Ok(Some(self.decode_row(row)?.0)),
            None => Ok(None),
        }
    }

    /// Decodes an `(id, partial, json)` row; says whether the record is partial.
    fn decode_row(&self, row: &rusqlite::Row<'_>) -> Result<(Vulnerability, bool), DbError> {
        let sqlite = |source| DbError::Sqlite {
            path: self.path.clone(),
            what: "reading a record",
            source,
        };
        let partial: bool = row.get(1).map_err(sqlite)?;
        let json = row
            .get_ref(2)
            .and_then(|v| Ok(v.as_blob()?))
            .map_err(sqlite)?;
        let vulnerability = record::decode(json, partial).map_err(|reason| DbError::Stored {
            path: self.path.clone(),
            id: row.get::<_, String>(0).unwrap_or_default(),
            reason,
        })?;
        Ok((vulnerability, partial))
    }

    /// The newest `modified` among the records that name a package: how fresh the data
    /// is (what `status` reports per ecosystem, as one number, without the counting).
    pub fn newest_modified(&self) -> Result<Option<DateTime<Utc>>, DbError> {
        let newest: Option<String> = self
            .conn
            .query_row(schema::NEWEST_RECORD, [], |row| row.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(|source| DbError::Sqlite {
                path: self.path.clone(),
                what: "reading the newest record's date",
                source,
            })?;
        Ok(newest.as_deref().and_then(status::parse_time))
    }

    /// The data's date: when the newest import ran (`None` for an empty database).
    pub fn data_date(&self) -> Result<Option<DateTime<Utc>>, DbError> {
        let newest: Option<String> = self
            .conn
            .query_row(schema::NEWEST_IMPORT, [], |row| row.get(0))
            .optional()
            .map(Option::flatten)
            .map_err(|source| DbError::Sqlite {
                path: self.path.clone(),
                what: "reading the import dates",
                source,
            })?;
        Ok(newest.as_deref().and_then(status::parse_time))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::StatementStatus;

    /// The lookups stay prepared: a statement SQLite re-prepares on each new binding
    /// (see `schema::LOOKUP_RELEASE`) costs a fifth of a lookup.
    #[test]
    fn no_reprepare() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("osv.db")).unwrap();
        for n in 0..50 {
            let name = format!("package-{n}");
            db.records_for("Debian:12", &name).unwrap();
            db.records_for("PyPI", &name).unwrap();
        }
        for sql in [schema::LOOKUP_RELEASE, schema::LOOKUP_ANY] {
            let statement = db.conn.prepare_cached(sql).unwrap();
            assert_eq!(statement.get_status(StatementStatus::Run), 50, "{sql}");
            assert_eq!(statement.get_status(StatementStatus::RePrepare), 0, "{sql}");
        }
    }
}
