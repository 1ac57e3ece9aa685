-- Schema version 4: snapshots (layers unpacked once, by chain ID) are records. A row is
-- written by the runtime just before the snapshot's directory is renamed into place; the
-- snapshot GC marks from the chains of stored images, images in use, leased layers and
-- build-cache layers, and removes the rest with their rows.
CREATE TABLE snapshots (
    chain       TEXT PRIMARY KEY,
    parent      TEXT,
    diff_id     TEXT NOT NULL,
    layer       TEXT,
    created_at  INTEGER NOT NULL
);
