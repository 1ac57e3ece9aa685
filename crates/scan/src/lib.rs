//! Scanning images: what packages an image carries (an SBOM), which of them are vulnerable
//! by an offline OSV database, and which secrets its layers hold.
//!
//! [`version`] orders package versions the way each ecosystem's own tools do, so an OSV
//! range (`introduced`/`fixed`) is judged exactly as the package manager would judge it.
//! [`catalog`] reads package databases and metadata files; [`walk`] streams an image's
//! layers through them, never unpacking to disk, and says which layer brought each package.

pub mod catalog;
pub mod fetch;
pub mod image;
pub mod inventory;
pub mod matching;
pub mod osv_db;
pub mod package;
pub mod purl;
pub mod report;
pub mod sbom;
pub mod secrets;
pub mod version;
pub mod walk;
