//! Local volumes as the store's records: one row per volume (its name, creation time,
//! labels, whether a container made it). The runtime owns the volume's directory
//! ([`crate::Layout::volume`]) and writes the row once the directory exists
//! ([`Store::create_volume`]), and forgets it before removing the directory.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, Row, params};

use crate::db::{self, err};
use crate::{Store, StoreError};

/// A local volume's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRecord {
    /// Its name.
    pub name: String,
    /// When it was made, RFC 3339 (as `volume inspect` prints it).
    pub created: String,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// Made for a container (`-v /path`, an image `VOLUME`) rather than by name.
    pub anonymous: bool,
}

fn from_row(r: &Row<'_>) -> rusqlite::Result<(String, String, String, bool)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
}

fn record(
    (name, created, labels, anonymous): (String, String, String, bool),
) -> Result<VolumeRecord, StoreError> {
    let labels = serde_json::from_str(&labels).map_err(|e| StoreError::Invalid {
        what: format!("the labels of volume {name}"),
        detail: e.to_string(),
    })?;
    Ok(VolumeRecord {
        name,
        created,
        labels,
        anonymous,
    })
}

impl Store {
    /// Records volume `v` unless a volume of that name is recorded already; returns the
    /// recorded one (so of two processes creating one name, both get the same volume).
    pub fn create_volume(&self, v: &VolumeRecord) -> Result<VolumeRecord, StoreError> {
        let ctx = "cannot record a volume";
        let labels = serde_json::to_string(&v.labels).map_err(|e| StoreError::Invalid {
            what: format!("the labels of volume {}", v.name),
            detail: e.to_string(),
        })?;
        let row = db::write(&mut self.conn(), ctx, |tx| {
            tx.execute(
                "INSERT OR IGNORE INTO volumes (name, created, labels, anonymous)
                 VALUES (?1, ?2, ?3, ?4)",
                params![v.name, v.created, labels, v.anonymous],
            )
            .map_err(err(ctx))?;
            tx.query_row(
                "SELECT name, created, labels, anonymous FROM volumes WHERE name = ?1",
                [&v.name],
                from_row,
            )
            .map_err(err(ctx))
        })?;
        record(row)
    }

    /// Volume `name`'s record, if there is one.
    pub fn volume(&self, name: &str) -> Result<Option<VolumeRecord>, StoreError> {
        let ctx = "cannot read a volume";
        let row = db::read(&mut self.conn(), ctx, |tx| {
            tx.query_row(
                "SELECT name, created, labels, anonymous FROM volumes WHERE name = ?1",
                [name],
                from_row,
            )
            .optional()
            .map_err(err(ctx))
        })?;
        row.map(record).transpose()
    }

    /// Every volume's record, by name.
    pub fn volume_records(&self) -> Result<Vec<VolumeRecord>, StoreError> {
        let ctx = "cannot list volumes";
        let rows: Vec<_> = db::read(&mut self.conn(), ctx, |tx| {
            let mut st = tx
                .prepare_cached(
                    "SELECT name, created, labels, anonymous FROM volumes ORDER BY name",
                )
                .map_err(err(ctx))?;
            st.query_map([], from_row)
                .map_err(err(ctx))?
                .collect::<Result<_, _>>()
                .map_err(err(ctx))
        })?;
        rows.into_iter().map(record).collect()
    }

    /// Deletes volume `name`'s record; whether there was one.
    pub fn forget_volume(&self, name: &str) -> Result<bool, StoreError> {
        let ctx = "cannot forget a volume";
        db::write(&mut self.conn(), ctx, |tx| {
            tx.execute("DELETE FROM volumes WHERE name = ?1", [name])
                .map(|n| n > 0)
                .map_err(err(ctx))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_volume_is_recorded_once_and_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let v = VolumeRecord {
            name: "data".into(),
            created: "2026-12-06T23:00:00Z".into(),
            labels: [("a".to_string(), "b".to_string())].into(),
            anonymous: false,
        };
        assert_eq!(store.create_volume(&v).unwrap(), v);
        // A second create of the name returns the first record, not its own.
        let other = VolumeRecord {
            created: "2027-01-01T00:00:00Z".into(),
            labels: BTreeMap::new(),
            ..v.clone()
        };
        assert_eq!(store.create_volume(&other).unwrap(), v);
        assert_eq!(store.volume("data").unwrap(), Some(v.clone()));
        assert_eq!(store.volume_records().unwrap(), vec![v]);
        assert!(store.forget_volume("data").unwrap());
        assert!(!store.forget_volume("data").unwrap());
        assert_eq!(store.volume("data").unwrap(), None);
    }
}
