-- Schema version 3: the build cache. One row per build step key: the record the builder
-- wrote (opaque to the store) and the layer it keeps. While the row lives, its layer is a
-- GC root; `builder prune` deletes rows and then collects what only they kept.
CREATE TABLE build_cache (
    key         TEXT PRIMARY KEY,
    layer       TEXT REFERENCES blobs(digest) ON DELETE CASCADE,
    record      BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    last_used   INTEGER NOT NULL
);
CREATE INDEX build_cache_layer ON build_cache(layer);
