-- Schema version 1 (PRAGMA user_version = 1).
CREATE TABLE blobs (
    id          INTEGER PRIMARY KEY,
    digest      TEXT NOT NULL UNIQUE,
    size        INTEGER NOT NULL,
    media_type  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE edges (
    parent  TEXT NOT NULL REFERENCES blobs(digest) ON DELETE CASCADE,
    child   TEXT NOT NULL,
    PRIMARY KEY (parent, child)
) WITHOUT ROWID;
CREATE TABLE images (
    digest      TEXT PRIMARY KEY REFERENCES blobs(digest),
    media_type  TEXT NOT NULL,
    size        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE TABLE tags (
    name    TEXT PRIMARY KEY,
    image   TEXT NOT NULL REFERENCES images(digest)
);
CREATE TABLE repo_digests (
    repo    TEXT NOT NULL,
    digest  TEXT NOT NULL,
    image   TEXT NOT NULL REFERENCES images(digest),
    PRIMARY KEY (repo, digest)
);
CREATE TABLE image_users (
    image   TEXT NOT NULL,
    user    TEXT NOT NULL,
    PRIMARY KEY (image, user)
);
CREATE TABLE leases (
    id          TEXT PRIMARY KEY,
    pid         INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE TABLE lease_blobs (
    lease   TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
    digest  TEXT NOT NULL,
    PRIMARY KEY (lease, digest)
);
CREATE INDEX edges_child ON edges(child);
CREATE INDEX tags_image ON tags(image);
CREATE INDEX repo_digests_image ON repo_digests(image);
