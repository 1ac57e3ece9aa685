//! What the database holds, per ecosystem, and how old it is (`strata scan db status`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Db, DbError, schema};

/// One base ecosystem's part of the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EcosystemStatus {
    /// The base ecosystem (`Debian`, `PyPI`, `Red Hat`).
    pub ecosystem: String,
    /// Live records naming a package of it (a record naming several ecosystems counts
    /// in each).
    pub records: usize,
    /// Withdrawn records naming a package of it (kept, never returned by lookups).
    pub withdrawn: usize,
    /// The newest `modified` among those records: how fresh the source's data was.
    pub newest_modified: Option<DateTime<Utc>>,
    /// When an import last brought records of it (RFC 3339 UTC in the database).
    pub imported_at: Option<DateTime<Utc>>,
    /// What that import read: the file path or URL its caller gave.
    pub source: Option<String>,
}

/// The whole database's status.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// Stored records, withdrawn ones included, each once.
    pub records: usize,
    /// Per base ecosystem, by name.
    pub ecosystems: Vec<EcosystemStatus>,
}

/// Parses a timestamp as stored (RFC 3339).
pub(super) fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

impl Db {
    /// Per base ecosystem: record counts, the newest `modified`, when and from what it was
    /// imported.
    pub fn status(&self) -> Result<Status, DbError> {
        let sqlite = |source| DbError::Sqlite {
            path: self.path.clone(),
            what: "reading the status",
            source,
        };
        let mut by_base: BTreeMap<String, EcosystemStatus> = BTreeMap::new();
        let mut statement = self.conn.prepare_cached(schema::STATUS).map_err(sqlite)?;
        let mut rows = statement.query([]).map_err(sqlite)?;
        while let Some(row) = rows.next().map_err(sqlite)? {
            let ecosystem: String = row.get(0).map_err(sqlite)?;
            let newest: Option<String> = row.get(3).map_err(sqlite)?;
            by_base.insert(
                ecosystem.clone(),
                EcosystemStatus {
                    ecosystem,
                    records: row.get::<_, i64>(1).map_err(sqlite)? as usize,
                    withdrawn: row.get::<_, i64>(2).map_err(sqlite)? as usize,
                    newest_modified: newest.as_deref().and_then(parse_time),
                    ..EcosystemStatus::default()
                },
            );
        }
        let mut statement = self.conn.prepare_cached(schema::IMPORTS).map_err(sqlite)?;
        let mut rows = statement.query([]).map_err(sqlite)?;
        while let Some(row) = rows.next().map_err(sqlite)? {
            let ecosystem: String = row.get(0).map_err(sqlite)?;
            let imported_at: String = row.get(1).map_err(sqlite)?;
            let entry = by_base
                .entry(ecosystem.clone())
                .or_insert_with(|| EcosystemStatus {
                    ecosystem,
                    ..EcosystemStatus::default()
                });
            entry.imported_at = parse_time(&imported_at);
            entry.source = Some(row.get(2).map_err(sqlite)?);
        }
        let records: i64 = self
            .conn
            .query_row(schema::COUNT_RECORDS, [], |row| row.get(0))
            .map_err(sqlite)?;
        Ok(Status {
            records: records as usize,
            ecosystems: by_base.into_values().collect(),
        })
    }
}
