//! Scanning images: the pieces the SBOM and vulnerability matching are built from.
//!
//! [`version`] orders package versions the way each ecosystem's own tools do, so an OSV
//! range (`introduced`/`fixed`) is judged exactly as the package manager would judge it.

pub mod version;
