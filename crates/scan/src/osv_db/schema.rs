//! The database's tables and every SQL statement the module runs, in one place.
//!
//! - `records`: one row per OSV id, the record as compact JSON (see [`super::record`]),
//!   its timestamps normalised to `YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ` (fixed width, so SQL
//!   string order is time order), and `partial` = 1 when some affected entry names an
//!   ecosystem the `osv` crate cannot represent (those entries are dropped when read).
//! - `affected`: the lookup index, one row per distinct (ecosystem, package name) a
//!   record's `affected[]` names; `base` is the ecosystem before any `:` suffix and
//!   `name` is normalised ([`super::names::normalize_name`]). Its primary key
//!   (base, name, …) is the lookup's index.
//! - `aliases`: a record's `aliases[]`, indexed both ways.
//! - `imports`: per base ecosystem, when it was last imported and from what.

use std::path::Path;

use rusqlite::Connection;

use super::DbError;

/// The schema this code writes and reads (`PRAGMA user_version`).
pub const VERSION: i64 = 1;

const CREATE: &str = "
CREATE TABLE records (
    rowid     INTEGER PRIMARY KEY,
    id        TEXT NOT NULL UNIQUE,
    modified  TEXT NOT NULL,
    published TEXT,
    withdrawn TEXT,
    partial   INTEGER NOT NULL,
    json      BLOB NOT NULL
);
CREATE TABLE affected (
    base      TEXT NOT NULL,
    name      TEXT NOT NULL,
    ecosystem TEXT NOT NULL,
    record    INTEGER NOT NULL REFERENCES records(rowid),
    PRIMARY KEY (base, name, ecosystem, record)
) WITHOUT ROWID;
CREATE INDEX affected_by_record ON affected(record);
CREATE TABLE aliases (
    record INTEGER NOT NULL REFERENCES records(rowid),
    alias  TEXT NOT NULL,
    PRIMARY KEY (record, alias)
) WITHOUT ROWID;
CREATE INDEX aliases_by_alias ON aliases(alias);
CREATE TABLE imports (
    base        TEXT PRIMARY KEY,
    imported_at TEXT NOT NULL,
    source      TEXT NOT NULL
);
";

/// A record's id and `modified`, to decide between adding, replacing and keeping.
pub const FIND_RECORD: &str = "SELECT rowid, modified FROM records WHERE id = ?1";
/// A new record.
pub const INSERT_RECORD: &str =
    "INSERT INTO records (id, modified, published, withdrawn, partial, json)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
/// A newer version of a stored record.
pub const UPDATE_RECORD: &str =
    "UPDATE records SET modified = ?2, published = ?3, withdrawn = ?4, partial = ?5, json = ?6
     WHERE rowid = ?1";
/// Drop a replaced record's index rows.
pub const DELETE_AFFECTED: &str = "DELETE FROM affected WHERE record = ?1";
/// Drop a replaced record's aliases.
pub const DELETE_ALIASES: &str = "DELETE FROM aliases WHERE record = ?1";
/// One index row.
pub const INSERT_AFFECTED: &str =
    "INSERT OR IGNORE INTO affected (base, name, ecosystem, record) VALUES (?1, ?2, ?3, ?4)";
/// One alias.
pub const INSERT_ALIAS: &str = "INSERT OR IGNORE INTO aliases (record, alias) VALUES (?1, ?2)";
/// Note an import of a base ecosystem.
pub const UPSERT_IMPORT: &str =
    "INSERT INTO imports (base, imported_at, source) VALUES (?1, ?2, ?3)
     ON CONFLICT (base) DO UPDATE SET imported_at = excluded.imported_at, source = excluded.source";

/// The lookup for a query with a suffix (`Debian:12`): ?1 base, ?2 normalised name, ?3
/// the exact ecosystem: entries of that ecosystem or of the bare base, the rule of
/// [`super::names::ecosystem_matches`]. Withdrawn records are never returned; the caller
/// sorts by id.
///
/// Why this shape (measured with `sqlite3_stmt_status(SQLITE_STMTSTATUS_REPREPARE)`, a
/// fifth of a lookup's time when it went wrong; the `no_reprepare` test keeps it so): a
/// JOIN of `affected` and `records`, or a `?3 IS NULL` test, makes SQLite plan with the
/// bound values, so every new binding re-prepares the statement; `rowid IN (SELECT …)`
/// on the `affected` primary key does not. And two statements rather than one with
/// `?3 IS NULL` for the query without a suffix, for the same reason.
pub const LOOKUP_RELEASE: &str =
    "SELECT id, partial, json FROM records WHERE withdrawn IS NULL AND rowid IN
     (SELECT record FROM affected WHERE base = ?1 AND name = ?2 AND ecosystem IN (?1, ?3))";
/// The lookup for a query without a suffix (`PyPI`, `Red Hat`): every ecosystem with
/// that base.
pub const LOOKUP_ANY: &str =
    "SELECT id, partial, json FROM records WHERE withdrawn IS NULL AND rowid IN
     (SELECT record FROM affected WHERE base = ?1 AND name = ?2)";
/// One record by id.
pub const BY_ID: &str = "SELECT id, partial, json FROM records WHERE id = ?1";
/// Per base ecosystem: live and withdrawn record counts, the newest `modified`.
pub const STATUS: &str = "SELECT a.base,
            COUNT(DISTINCT CASE WHEN r.withdrawn IS NULL THEN r.rowid END),
            COUNT(DISTINCT CASE WHEN r.withdrawn IS NOT NULL THEN r.rowid END),
            MAX(r.modified)
     FROM affected a JOIN records r ON r.rowid = a.record
     GROUP BY a.base ORDER BY a.base";
/// Every import note.
pub const IMPORTS: &str = "SELECT base, imported_at, source FROM imports ORDER BY base";
/// All records, withdrawn or not (status's total).
pub const COUNT_RECORDS: &str = "SELECT COUNT(*) FROM records";
/// The newest `modified` of the records naming a package (how fresh the data is; the
/// largest of `STATUS`'s per-ecosystem maxima, without its counting).
pub const NEWEST_RECORD: &str =
    "SELECT MAX(modified) FROM records WHERE rowid IN (SELECT record FROM affected)";
/// The newest import (the data's date).
pub const NEWEST_IMPORT: &str = "SELECT MAX(imported_at) FROM imports";

/// Creates the tables in a new (empty) database, or checks an existing one is ours.
pub fn ensure(conn: &mut Connection, path: &Path) -> Result<(), DbError> {
    let sqlite = |what| {
        move |source| DbError::Sqlite {
            path: path.to_owned(),
            what,
            source,
        }
    };
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sqlite("reading the schema version"))?;
    match version {
        VERSION => Ok(()),
        0 => {
            let tables: i64 = conn
                .query_row("SELECT COUNT(*) FROM sqlite_master", [], |row| row.get(0))
                .map_err(sqlite("reading the schema"))?;
            if tables != 0 {
                // Some other SQLite file: never write our tables into it.
                return Err(DbError::Schema {
                    path: path.to_owned(),
                    found: 0,
                    expected: VERSION,
                });
            }
            let tx = conn.transaction().map_err(sqlite("creating the tables"))?;
            tx.execute_batch(CREATE)
                .map_err(sqlite("creating the tables"))?;
            tx.pragma_update(None, "user_version", VERSION)
                .map_err(sqlite("setting the schema version"))?;
            tx.commit().map_err(sqlite("creating the tables"))
        }
        found => Err(DbError::Schema {
            path: path.to_owned(),
            found,
            expected: VERSION,
        }),
    }
}

/// Checks a database opened read-only is ours (it cannot create the tables).
pub fn check(conn: &Connection, path: &Path) -> Result<(), DbError> {
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|source| DbError::Sqlite {
            path: path.to_owned(),
            what: "reading the schema version",
            source,
        })?;
    if found == VERSION {
        Ok(())
    } else {
        Err(DbError::Schema {
            path: path.to_owned(),
            found,
            expected: VERSION,
        })
    }
}
