-- Schema version 5: local volumes are records. A row is written once the volume's
-- directory exists and deleted before the directory goes, so a row always names a
-- volume whose data is there.
CREATE TABLE volumes (
    name        TEXT PRIMARY KEY,
    created     TEXT NOT NULL,
    labels      TEXT NOT NULL,
    anonymous   INTEGER NOT NULL
);
