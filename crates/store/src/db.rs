//! Every SQL statement of the store: schema, migrations and queries.
//!
//! Digests are stored as their string form (`sha256:<hex>`). Writers run in `BEGIN
//! IMMEDIATE` transactions so two processes never interleave a read-modify-write; readers
//! see a consistent WAL snapshot.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::StoreError;

/// The schema version this code writes (`PRAGMA user_version`).
pub(crate) const SCHEMA_VERSION: i64 = 5;

/// Migrations: entry `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("schema.sql"),
    include_str!("schema_2.sql"),
    include_str!("schema_3.sql"),
    include_str!("schema_4.sql"),
    include_str!("schema_5.sql"),
];

pub(crate) fn err(context: &str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError::db(context, e)
}

/// Opens (creating if needed) the database and brings its schema up to date.
pub(crate) fn open(path: &Path) -> Result<Connection, StoreError> {
    let ctx = format!("cannot open {}", path.display());
    let mut conn = Connection::open(path).map_err(|e| StoreError::db(ctx.clone(), e))?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(|e| StoreError::db(ctx.clone(), e))?;
    // Switching to WAL needs a moment of exclusivity; the busy handler covers it, and the
    // retry covers the first open of a fresh store by two processes at once.
    let mut tries = 0;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)) {
            Ok(_) => break,
            Err(e)
                if tries < 50
                    && matches!(
                        e.sqlite_error_code(),
                        Some(
                            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                        )
                    ) =>
            {
                tries += 1;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(StoreError::db(ctx, e)),
        }
    }
    // NORMAL in WAL mode: a commit is atomic and survives a process crash (the invariant
    // strata needs); only a power loss may drop the last few commits. That is safe here
    // because rows only ever refer to blobs that were fsynced before the row was written:
    // a lost row leaves an orphan blob for GC, never a row without its content. FULL would
    // fsync the WAL on every commit, several times per `run`.
    conn.execute_batch("PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;")
        .map_err(|e| StoreError::db(ctx.clone(), e))?;
    // Every command is a short process: by default the last connection to close
    // checkpoints the WAL into the database and deletes it (two fsyncs), and the next
    // command makes a new one (two more). Leave the WAL in place instead; writers
    // checkpoint it as it grows (SQLite's automatic checkpoint), and the size limit
    // truncates it back after each one.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )
    .map_err(|e| StoreError::db(ctx.clone(), e))?;
    conn.execute_batch("PRAGMA journal_size_limit = 4194304;")
        .map_err(|e| StoreError::db(ctx.clone(), e))?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let ctx = "cannot migrate the schema";
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err(ctx))?;
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err(ctx))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Invalid {
            what: "metadata database".into(),
            detail: format!(
                "schema version {version} is newer than this strata understands \
                 ({SCHEMA_VERSION}); upgrade strata"
            ),
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql).map_err(err(ctx))?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(err(ctx))?;
    }
    tx.commit().map_err(err(ctx))
}

/// Runs `f` in a `BEGIN IMMEDIATE` transaction and commits it.
pub(crate) fn write<T>(
    conn: &mut Connection,
    context: &str,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err(context))?;
    let out = f(&tx)?;
    tx.commit().map_err(err(context))?;
    Ok(out)
}

/// Runs `f` in a deferred (read) transaction, so it sees one snapshot.
pub(crate) fn read<T>(
    conn: &mut Connection,
    context: &str,
    f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Deferred)
        .map_err(err(context))?;
    let out = f(&tx)?;
    tx.commit().map_err(err(context))?;
    Ok(out)
}

/// A blob row: size and media type.
pub(crate) fn blob(conn: &Connection, digest: &str) -> Result<Option<(u64, String)>, StoreError> {
    conn.query_row(
        "SELECT size, media_type FROM blobs WHERE digest = ?1",
        [digest],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
    )
    .optional()
    .map_err(err("cannot look up a blob"))
}

/// Records a committed blob; an existing row is kept.
pub(crate) fn insert_blob(
    tx: &Transaction<'_>,
    digest: &str,
    size: u64,
    media_type: &str,
    now: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR IGNORE INTO blobs (digest, size, media_type, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![digest, size as i64, media_type, now],
    )
    .map_err(err("cannot record a blob"))?;
    Ok(())
}

/// Records edges `parent → child` (the parent's row must exist).
pub(crate) fn insert_edges(
    tx: &Transaction<'_>,
    parent: &str,
    children: &[String],
) -> Result<(), StoreError> {
    let mut st = tx
        .prepare_cached("INSERT OR IGNORE INTO edges (parent, child) VALUES (?1, ?2)")
        .map_err(err("cannot record references"))?;
    for c in children {
        st.execute(params![parent, c])
            .map_err(err("cannot record references"))?;
    }
    Ok(())
}

/// Records an image (a top-level target); returns false if its blob is not stored.
pub(crate) fn insert_image(
    tx: &Transaction<'_>,
    digest: &str,
    media_type: &str,
    size: u64,
    now: i64,
) -> Result<bool, StoreError> {
    if blob(tx, digest)?.is_none() {
        return Ok(false);
    }
    tx.execute(
        "INSERT OR IGNORE INTO images (digest, media_type, size, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![digest, media_type, size as i64, now],
    )
    .map_err(err("cannot record an image"))?;
    Ok(true)
}

/// Points `name` at `image`; returns the previous target if it moved.
pub(crate) fn set_tag(
    tx: &Transaction<'_>,
    name: &str,
    image: &str,
) -> Result<Option<String>, StoreError> {
    let prev: Option<String> = tx
        .query_row("SELECT image FROM tags WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()
        .map_err(err("cannot read a tag"))?;
    tx.execute(
        "INSERT INTO tags (name, image) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET image = excluded.image",
        params![name, image],
    )
    .map_err(err("cannot write a tag"))?;
    Ok(prev.filter(|p| p != image))
}

/// Deletes a tag; returns whether it existed.
pub(crate) fn remove_tag(tx: &Transaction<'_>, name: &str) -> Result<bool, StoreError> {
    let n = tx
        .execute("DELETE FROM tags WHERE name = ?1", [name])
        .map_err(err("cannot delete a tag"))?;
    Ok(n > 0)
}

/// Every tag and its target, sorted by name.
pub(crate) fn tags(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    pairs(
        conn,
        "SELECT name, image FROM tags ORDER BY name",
        "cannot list tags",
    )
}

fn pairs(conn: &Connection, sql: &str, ctx: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(err(ctx))?;
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(err(ctx))?;
    rows.collect::<Result<_, _>>().map_err(err(ctx))
}

/// An image row.
pub(crate) struct ImageRow {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

/// Every image record, oldest first.
pub(crate) fn images(conn: &Connection) -> Result<Vec<ImageRow>, StoreError> {
    let ctx = "cannot list images";
    let mut st = conn
        .prepare_cached("SELECT digest, media_type, size FROM images ORDER BY created_at, digest")
        .map_err(err(ctx))?;
    let rows = st
        .query_map([], |r| {
            Ok(ImageRow {
                digest: r.get(0)?,
                media_type: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
            })
        })
        .map_err(err(ctx))?;
    rows.collect::<Result<_, _>>().map_err(err(ctx))
}

/// Every repo digest as (repo, digest, image).
pub(crate) fn repo_digests(conn: &Connection) -> Result<Vec<(String, String, String)>, StoreError> {
    let ctx = "cannot list repo digests";
    let mut st = conn
        .prepare_cached("SELECT repo, digest, image FROM repo_digests ORDER BY repo, digest")
        .map_err(err(ctx))?;
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(err(ctx))?;
    rows.collect::<Result<_, _>>().map_err(err(ctx))
}

/// Records `repo@digest` → image.
pub(crate) fn add_repo_digest(
    tx: &Transaction<'_>,
    repo: &str,
    digest: &str,
    image: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO repo_digests (repo, digest, image) VALUES (?1, ?2, ?3)
         ON CONFLICT(repo, digest) DO UPDATE SET image = excluded.image",
        params![repo, digest, image],
    )
    .map_err(err("cannot record a repo digest"))?;
    Ok(())
}

/// Deletes `repo@digest`.
pub(crate) fn remove_repo_digest(
    tx: &Transaction<'_>,
    repo: &str,
    digest: &str,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "DELETE FROM repo_digests WHERE repo = ?1 AND digest = ?2",
            params![repo, digest],
        )
        .map_err(err("cannot delete a repo digest"))?;
    Ok(n > 0)
}

/// Deletes an image record if no tag or repo digest refers to it any more (another process
/// may have tagged it meanwhile); returns whether it was deleted.
pub(crate) fn delete_image_if_unreferenced(
    tx: &Transaction<'_>,
    digest: &str,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "DELETE FROM images WHERE digest = ?1
             AND NOT EXISTS (SELECT 1 FROM tags WHERE image = ?1)
             AND NOT EXISTS (SELECT 1 FROM repo_digests WHERE image = ?1)",
            [digest],
        )
        .map_err(err("cannot delete an image"))?;
    Ok(n > 0)
}

/// Deletes a tag if it still points at `image`; returns whether it did.
pub(crate) fn remove_tag_of(
    tx: &Transaction<'_>,
    name: &str,
    image: &str,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "DELETE FROM tags WHERE name = ?1 AND image = ?2",
            params![name, image],
        )
        .map_err(err("cannot delete a tag"))?;
    Ok(n > 0)
}

/// Every (image, user) pair.
pub(crate) fn image_users(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    pairs(
        conn,
        "SELECT image, user FROM image_users ORDER BY image, user",
        "cannot list image users",
    )
}

/// Records that `user` (a container) uses `image`.
pub(crate) fn add_image_user(
    tx: &Transaction<'_>,
    image: &str,
    user: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR IGNORE INTO image_users (image, user) VALUES (?1, ?2)",
        params![image, user],
    )
    .map_err(err("cannot record an image user"))?;
    Ok(())
}

/// Forgets every image use by `user`.
pub(crate) fn remove_image_user(tx: &Transaction<'_>, user: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM image_users WHERE user = ?1", [user])
        .map_err(err("cannot delete an image user"))?;
    Ok(())
}

/// Records the unpacked size of a committed layer blob (the last measure wins).
pub(crate) fn set_layer_size(
    tx: &Transaction<'_>,
    digest: &str,
    unpacked: u64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT OR REPLACE INTO layer_sizes (digest, unpacked) VALUES (?1, ?2)",
        params![digest, unpacked as i64],
    )
    .map_err(err("cannot record a layer size"))?;
    Ok(())
}

/// Every recorded (layer digest, unpacked size).
pub(crate) fn layer_sizes(
    conn: &Connection,
) -> Result<std::collections::HashMap<String, u64>, StoreError> {
    let ctx = "cannot list layer sizes";
    let mut st = conn
        .prepare_cached("SELECT digest, unpacked FROM layer_sizes")
        .map_err(err(ctx))?;
    let rows = st
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })
        .map_err(err(ctx))?;
    rows.collect::<Result<_, _>>().map_err(err(ctx))
}

/// Every blob row as (id, digest, size).
pub(crate) fn all_blobs(conn: &Connection) -> Result<Vec<(i64, String, u64)>, StoreError> {
    let ctx = "cannot list blobs";
    let mut st = conn
        .prepare_cached("SELECT id, digest, size FROM blobs")
        .map_err(err(ctx))?;
    let rows = st
        .query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })
        .map_err(err(ctx))?;
    rows.collect::<Result<_, _>>().map_err(err(ctx))
}

/// Every edge as (parent, child).
pub(crate) fn all_edges(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    pairs(
        conn,
        "SELECT parent, child FROM edges",
        "cannot list references",
    )
}

/// GC roots that need no liveness check: [`image_roots`] and the layers build-cache
/// records keep.
pub(crate) fn static_roots(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let mut roots = image_roots(conn)?;
    roots.extend(cache_layers(conn)?);
    Ok(roots)
}

/// The layers build-cache records keep.
pub(crate) fn cache_layers(conn: &Connection) -> Result<Vec<String>, StoreError> {
    column(
        conn,
        "SELECT layer FROM build_cache WHERE layer IS NOT NULL",
        "cannot list the build cache's layers",
    )
}

/// The registered snapshots.
pub(crate) fn snapshot_rows(
    conn: &Connection,
) -> Result<Vec<crate::snapshots::SnapshotRow>, StoreError> {
    let ctx = "cannot list snapshots";
    let mut st = conn
        .prepare_cached("SELECT chain, parent, layer FROM snapshots")
        .map_err(err(ctx))?;
    st.query_map([], |r| {
        Ok(crate::snapshots::SnapshotRow {
            chain: r.get(0)?,
            parent: r.get(1)?,
            layer: r.get(2)?,
        })
    })
    .map_err(err(ctx))?
    .collect::<Result<_, _>>()
    .map_err(err(ctx))
}

/// The roots images make: image targets, tag and repo-digest targets, images in use.
pub(crate) fn image_roots(conn: &Connection) -> Result<Vec<String>, StoreError> {
    column(
        conn,
        "SELECT digest FROM images UNION SELECT image FROM tags
         UNION SELECT image FROM repo_digests UNION SELECT image FROM image_users",
        "cannot list GC roots",
    )
}

/// How many build-cache records there are.
pub(crate) fn cache_record_count(conn: &Connection) -> Result<u64, StoreError> {
    conn.query_row("SELECT count(*) FROM build_cache", [], |r| {
        r.get::<_, i64>(0)
    })
    .map(|n| n as u64)
    .map_err(err("cannot count the build cache"))
}

/// The first column of every row `sql` selects.
fn column(conn: &Connection, sql: &str, ctx: &str) -> Result<Vec<String>, StoreError> {
    let mut st = conn.prepare_cached(sql).map_err(err(ctx))?;
    let rows = st.query_map([], |r| r.get(0)).map_err(err(ctx))?;
    rows.collect::<Result<_, _>>().map_err(err(ctx))
}

/// Every lease as (id, pid, expires_at).
pub(crate) fn leases(conn: &Connection) -> Result<Vec<(String, i64, i64)>, StoreError> {
    let ctx = "cannot list leases";
    let mut st = conn
        .prepare_cached("SELECT id, pid, expires_at FROM leases")
        .map_err(err(ctx))?;
    let rows = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map_err(err(ctx))?;
    rows.collect::<Result<_, _>>().map_err(err(ctx))
}

/// The digests a lease holds.
pub(crate) fn lease_blobs(conn: &Connection, lease: &str) -> Result<Vec<String>, StoreError> {
    let ctx = "cannot list leased blobs";
    let mut st = conn
        .prepare_cached("SELECT digest FROM lease_blobs WHERE lease = ?1")
        .map_err(err(ctx))?;
    let rows = st.query_map([lease], |r| r.get(0)).map_err(err(ctx))?;
    rows.collect::<Result<_, _>>().map_err(err(ctx))
}

/// Creates a lease.
pub(crate) fn create_lease(
    tx: &Transaction<'_>,
    id: &str,
    pid: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO leases (id, pid, expires_at) VALUES (?1, ?2, ?3)",
        params![id, pid, expires_at],
    )
    .map_err(err("cannot create a lease"))?;
    Ok(())
}

/// Adds a digest to a lease and extends its expiry; false if the lease is gone.
pub(crate) fn lease_add(
    tx: &Transaction<'_>,
    id: &str,
    digest: &str,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let n = tx
        .execute(
            "UPDATE leases SET expires_at = ?2 WHERE id = ?1",
            params![id, expires_at],
        )
        .map_err(err("cannot extend a lease"))?;
    if n == 0 {
        return Ok(false);
    }
    tx.execute(
        "INSERT OR IGNORE INTO lease_blobs (lease, digest) VALUES (?1, ?2)",
        params![id, digest],
    )
    .map_err(err("cannot add to a lease"))?;
    Ok(true)
}

/// Deletes a lease and its blobs.
pub(crate) fn delete_lease(tx: &Transaction<'_>, id: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM leases WHERE id = ?1", [id])
        .map_err(err("cannot delete a lease"))?;
    Ok(())
}

/// Deletes blob rows by id (their outgoing edges go with them).
pub(crate) fn delete_blobs(tx: &Transaction<'_>, ids: &[i64]) -> Result<(), StoreError> {
    let mut st = tx
        .prepare_cached("DELETE FROM blobs WHERE id = ?1")
        .map_err(err("cannot delete blob rows"))?;
    for id in ids {
        st.execute([id]).map_err(err("cannot delete blob rows"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Closing the last connection leaves the WAL in place (no checkpoint, no fsyncs),
    /// and what was committed is there at the next open.
    #[test]
    fn closing_keeps_the_wal_and_its_commits() {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::Layout::new(dir.path()).db_file();
        let conn = open(&path).unwrap();
        conn.execute(
            "INSERT INTO leases (id, pid, expires_at) VALUES ('l', 1, 2)",
            [],
        )
        .unwrap();
        drop(conn);
        let wal = dir.path().join("metadata.db-wal");
        let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "the WAL was checkpointed and removed on close");
        let conn = open(&path).unwrap();
        let n: i64 = conn
            .query_row("SELECT count(*) FROM leases", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn migrates_once_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let path = crate::Layout::new(dir.path()).db_file();
        let conn = open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(conn);
        // Reopening does not re-run migrations (CREATE TABLE would fail).
        let conn = open(&path).unwrap();
        conn.execute_batch("PRAGMA user_version = 99").unwrap();
        drop(conn);
        match open(&path) {
            Err(StoreError::Invalid { detail, .. }) => assert!(detail.contains("99"), "{detail}"),
            other => panic!("want Invalid, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn foreign_keys_guard_rows() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = open(&crate::Layout::new(dir.path()).db_file()).unwrap();
        // A tag must name a recorded image; an image a recorded blob.
        let r = write(&mut conn, "test", |tx| set_tag(tx, "x:1", "sha256:00"));
        assert!(r.is_err());
        let r = write(&mut conn, "test", |tx| {
            insert_image(tx, "sha256:00", "m", 1, 0)
        });
        assert!(!r.unwrap());
        // Deleting a blob drops its outgoing edges.
        write(&mut conn, "test", |tx| {
            insert_blob(tx, "sha256:aa", 1, "m", 0)?;
            insert_edges(tx, "sha256:aa", &["sha256:bb".into()])?;
            let id: i64 = tx
                .query_row("SELECT id FROM blobs", [], |r| r.get(0))
                .unwrap();
            delete_blobs(tx, &[id])
        })
        .unwrap();
        assert!(all_edges(&conn).unwrap().is_empty());
    }
}
