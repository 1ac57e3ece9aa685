//! Importing OSV records: zips, single records and directories, in one transaction.
//!
//! Zip entries are read one at a time from the file (a zip's directory is at its end, so
//! it is read from disk, never whole into memory); each record is bounded by
//! [`MAX_RECORD_BYTES`]. A record with the same id as a stored one replaces it only when
//! its `modified` is newer; an older or equal one leaves the stored one.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use chrono::{SecondsFormat, Utc};
use rusqlite::{OptionalExtension, Transaction, params};

use super::record::{self, Parsed};
use super::{Db, DbError, Location, MAX_RECORD_BYTES, schema};

/// How many records an import added, replaced (a newer `modified`) and left as they were
/// (the stored one as new or newer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Records whose id was not stored.
    pub added: usize,
    /// Stored records replaced by a newer `modified`.
    pub replaced: usize,
    /// Records whose stored version has the same or a newer `modified`.
    pub unchanged: usize,
}

impl Counts {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Added => self.added += 1,
            Outcome::Replaced => self.replaced += 1,
            Outcome::Unchanged => self.unchanged += 1,
        }
    }
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Files read (`.json` records and zips).
    pub files: usize,
    /// Zip entries that are not `*.json` (directories, anything else), skipped.
    pub skipped_entries: usize,
    /// Every record once.
    pub total: Counts,
    /// Per base ecosystem (`Debian`, `PyPI`): a record counts under each base its
    /// affected entries name (so the sum may exceed `total`); a record naming no package
    /// counts in `total` only.
    pub by_ecosystem: BTreeMap<String, Counts>,
}

#[derive(Debug, Clone, Copy)]
enum Outcome {
    Added,
    Replaced,
    Unchanged,
}

/// What one input file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Zip,
    Json,
}

impl Db {
    /// Imports `input` (see [`Db::import_from`]), noting the path as its source.
    pub fn import(&mut self, input: &Path) -> Result<ImportReport, DbError> {
        self.import_from(input, &input.display().to_string())
    }

    /// Imports `input`: a zip of OSV records (osv.dev's `all.zip`: each `*.json` entry one
    /// record), a single `.json` record, or a directory (recursively: its `*.json` and
    /// `*.zip` files, in name order; symlinked directories are not followed). A file given
    /// directly is told by content (a zip starts with `PK`), so a download's temp file
    /// needs no extension. `source` (a path or the URL it was fetched from) is what
    /// [`Db::status`] reports for each base ecosystem the input holds, with the time.
    ///
    /// One transaction: on any error (unreadable or truncated zip, a record that is not
    /// valid OSV, see `record.rs`) nothing is written and the error names the file and
    /// the zip entry.
    pub fn import_from(&mut self, input: &Path, source: &str) -> Result<ImportReport, DbError> {
        let files = inputs(input)?;
        let path = self.path.clone();
        let sqlite = |what| {
            let path = path.clone();
            move |source| DbError::Sqlite { path, what, source }
        };
        let tx = self
            .conn
            .transaction()
            .map_err(sqlite("starting the import"))?;
        let mut importer = Importer {
            tx: &tx,
            db: &self.path,
            report: ImportReport::default(),
            bases: BTreeSet::new(),
            buffer: Vec::new(),
        };
        for (file, kind) in &files {
            match kind {
                Kind::Zip => importer.zip(file)?,
                Kind::Json => importer.json(file)?,
            }
            importer.report.files += 1;
        }
        let now = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
        {
            let mut upsert = tx
                .prepare_cached(schema::UPSERT_IMPORT)
                .map_err(sqlite("noting the import"))?;
            for base in &importer.bases {
                upsert
                    .execute(params![base, now, source])
                    .map_err(sqlite("noting the import"))?;
            }
        }
        let report = std::mem::take(&mut importer.report);
        tx.commit().map_err(sqlite("committing the import"))?;
        Ok(report)
    }
}

/// The files an input names, each with its kind.
fn inputs(input: &Path) -> Result<Vec<(PathBuf, Kind)>, DbError> {
    let read_error = |path: &Path| {
        let path = path.to_owned();
        move |source| DbError::Read {
            location: Location { path, entry: None },
            source,
        }
    };
    let metadata = std::fs::metadata(input).map_err(read_error(input))?;
    if metadata.is_dir() {
        let mut files = Vec::new();
        walk(input, &mut files)?;
        if files.is_empty() {
            return Err(DbError::NothingToImport {
                path: input.to_owned(),
            });
        }
        return Ok(files);
    }
    let mut magic = [0u8; 2];
    let mut file = File::open(input).map_err(read_error(input))?;
    let read = file.read(&mut magic).map_err(read_error(input))?;
    let kind = if read == 2 && &magic == b"PK" {
        Kind::Zip
    } else if extension(input).is_some() || magic.first().is_some_and(|b| *b == b'{') {
        // A named .json/.zip is taken at its word: a broken one gets the parser's error.
        extension(input).unwrap_or(Kind::Json)
    } else {
        return Err(DbError::Unsupported {
            path: input.to_owned(),
        });
    };
    Ok(vec![(input.to_owned(), kind)])
}

/// The kind a file's extension says (`.json`, `.zip`, any case).
fn extension(path: &Path) -> Option<Kind> {
    let extension = path.extension()?.to_str()?;
    if extension.eq_ignore_ascii_case("json") {
        Some(Kind::Json)
    } else if extension.eq_ignore_ascii_case("zip") {
        Some(Kind::Zip)
    } else {
        None
    }
}

/// Collects a directory's `*.json` and `*.zip` files, recursively, in name order.
fn walk(dir: &Path, files: &mut Vec<(PathBuf, Kind)>) -> Result<(), DbError> {
    let read_error = |source| DbError::Read {
        location: Location {
            path: dir.to_owned(),
            entry: None,
        },
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(read_error)?
        .collect::<Result<_, _>>()
        .map_err(read_error)?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        let file_type = entry.file_type().map_err(read_error)?;
        if file_type.is_dir() {
            walk(&path, files)?;
        } else if let Some(kind) = extension(&path) {
            // A symlink to a file is followed; one to a directory is not (no loops).
            if file_type.is_file() || path.is_file() {
                files.push((path, kind));
            }
        }
    }
    Ok(())
}

/// One import's state: the transaction, the report, the bases seen.
struct Importer<'a> {
    tx: &'a Transaction<'a>,
    db: &'a Path,
    report: ImportReport,
    bases: BTreeSet<String>,
    /// The current record's bytes, reused from record to record.
    buffer: Vec<u8>,
}

impl Importer<'_> {
    fn json(&mut self, path: &Path) -> Result<(), DbError> {
        let location = Location {
            path: path.to_owned(),
            entry: None,
        };
        let read_error = |source| DbError::Read {
            location: location.clone(),
            source,
        };
        let file = File::open(path).map_err(read_error)?;
        let size = file.metadata().map_err(read_error)?.len();
        if size > MAX_RECORD_BYTES {
            return Err(DbError::TooLarge {
                location,
                size,
                limit: MAX_RECORD_BYTES,
            });
        }
        let mut buffer = std::mem::take(&mut self.buffer);
        buffer.clear();
        file.take(MAX_RECORD_BYTES)
            .read_to_end(&mut buffer)
            .map_err(read_error)?;
        let result = self.add(&location, &buffer);
        self.buffer = buffer;
        result
    }

    fn zip(&mut self, path: &Path) -> Result<(), DbError> {
        let whole = Location {
            path: path.to_owned(),
            entry: None,
        };
        let file = File::open(path).map_err(|source| DbError::Read {
            location: whole.clone(),
            source,
        })?;
        let mut archive =
            zip::ZipArchive::new(BufReader::new(file)).map_err(|source| DbError::Zip {
                location: whole.clone(),
                source,
            })?;
        for index in 0..archive.len() {
            let name = match archive.name_for_index(index) {
                Some(Ok(name)) => Some(name.into_owned()),
                Some(Err(source)) => {
                    let entry = Some(format!("#{index}"));
                    return Err(DbError::Zip {
                        location: Location {
                            path: path.to_owned(),
                            entry,
                        },
                        source,
                    });
                }
                None => None,
            };
            let entry_name = name.clone().unwrap_or_else(|| format!("#{index}"));
            let location = Location {
                path: path.to_owned(),
                entry: Some(entry_name),
            };
            let mut entry = archive.by_index(index).map_err(|source| DbError::Zip {
                location: location.clone(),
                source,
            })?;
            let is_json = name
                .as_deref()
                .is_some_and(|n| extension(Path::new(n)) == Some(Kind::Json));
            if entry.is_dir() || !is_json {
                self.report.skipped_entries += 1;
                continue;
            }
            if entry.size() > MAX_RECORD_BYTES {
                return Err(DbError::TooLarge {
                    location,
                    size: entry.size(),
                    limit: MAX_RECORD_BYTES,
                });
            }
            let mut buffer = std::mem::take(&mut self.buffer);
            buffer.clear();
            // The zip reader checks the entry's CRC at its end: a corrupt entry is an error.
            (&mut entry)
                .take(MAX_RECORD_BYTES + 1)
                .read_to_end(&mut buffer)
                .map_err(|source| DbError::Read {
                    location: location.clone(),
                    source,
                })?;
            if buffer.len() as u64 > MAX_RECORD_BYTES {
                return Err(DbError::TooLarge {
                    location,
                    size: buffer.len() as u64,
                    limit: MAX_RECORD_BYTES,
                });
            }
            drop(entry);
            let result = self.add(&location, &buffer);
            self.buffer = buffer;
            result?;
        }
        Ok(())
    }

    /// Validates one record and stores it (or not: see the module doc).
    fn add(&mut self, location: &Location, bytes: &[u8]) -> Result<(), DbError> {
        let parsed = record::parse(bytes).map_err(|reason| DbError::Record {
            location: location.clone(),
            reason,
        })?;
        let outcome = self.store(&parsed).map_err(|source| DbError::Sqlite {
            path: self.db.to_owned(),
            what: "storing a record",
            source,
        })?;
        self.report.total.count(outcome);
        let mut last_base = None;
        for (base, _, _) in &parsed.keys {
            // Keys are sorted by base: count each base once.
            if last_base == Some(base) {
                continue;
            }
            last_base = Some(base);
            self.report
                .by_ecosystem
                .entry(base.clone())
                .or_default()
                .count(outcome);
            if !self.bases.contains(base) {
                self.bases.insert(base.clone());
            }
        }
        Ok(())
    }

    fn store(&self, parsed: &Parsed) -> rusqlite::Result<Outcome> {
        let stored: Option<(i64, String)> = self
            .tx
            .prepare_cached(schema::FIND_RECORD)?
            .query_row(params![parsed.id], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?;
        let fields = (
            &parsed.modified,
            &parsed.published,
            &parsed.withdrawn,
            parsed.partial,
            &parsed.json,
        );
        let (rowid, outcome) = match stored {
            Some((_, modified)) if modified >= parsed.modified => return Ok(Outcome::Unchanged),
            Some((rowid, _)) => {
                self.tx
                    .prepare_cached(schema::UPDATE_RECORD)?
                    .execute(params![
                        rowid, fields.0, fields.1, fields.2, fields.3, fields.4
                    ])?;
                self.tx
                    .prepare_cached(schema::DELETE_AFFECTED)?
                    .execute(params![rowid])?;
                self.tx
                    .prepare_cached(schema::DELETE_ALIASES)?
                    .execute(params![rowid])?;
                (rowid, Outcome::Replaced)
            }
            None => {
                self.tx
                    .prepare_cached(schema::INSERT_RECORD)?
                    .execute(params![
                        parsed.id, fields.0, fields.1, fields.2, fields.3, fields.4
                    ])?;
                (self.tx.last_insert_rowid(), Outcome::Added)
            }
        };
        let mut affected = self.tx.prepare_cached(schema::INSERT_AFFECTED)?;
        for (base, name, ecosystem) in &parsed.keys {
            affected.execute(params![base, name, ecosystem, rowid])?;
        }
        let mut alias = self.tx.prepare_cached(schema::INSERT_ALIAS)?;
        for name in &parsed.aliases {
            alias.execute(params![rowid, name])?;
        }
        Ok(outcome)
    }
}
