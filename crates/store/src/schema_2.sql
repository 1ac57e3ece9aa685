-- Schema version 2: the size of a layer once unpacked (Docker's image and history SIZE),
-- measured as the layer entered the store. Layers stored before have no row: their
-- compressed size stands in.
CREATE TABLE layer_sizes (
    digest    TEXT PRIMARY KEY REFERENCES blobs(digest) ON DELETE CASCADE,
    unpacked  INTEGER NOT NULL
);
