//! Catalogers: each reads one kind of file (a package database, a package's metadata, a
//! binary's embedded build data) and says which packages it records.
//!
//! A cataloger never sees the filesystem: the walker ([`crate::walk`]) streams each layer's
//! tar, offers every regular file to every cataloger through [`Cataloger::wants`] (path,
//! mode, size only: cheap), and hands the chosen files' content to [`Cataloger::read`] as a
//! reader, once. What a later layer deletes or rewrites, the walker accounts for.

use std::io::Read;

// The OS package catalogers and what they share.
pub mod apk;
pub mod dpkg;
mod lines;
pub mod os_release;
pub mod rpm;
pub mod rpm_header;
// The language-package catalogers (installed packages and binaries' embedded data).
pub mod go_binary;
pub mod go_modinfo;
pub mod java;
pub mod java_manifest;
pub mod node;
pub mod node_lock;
pub mod python;
pub mod rust_binary;

use crate::package::{Found, PackageKind};

/// A regular file in a layer, as a cataloger is offered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMeta {
    /// The path relative to the root, without a leading `/` or `./`
    /// (`var/lib/dpkg/status`).
    pub path: String,
    /// The permission bits (`0o755`).
    pub mode: u32,
    /// The size in bytes.
    pub size: u64,
}

impl FileMeta {
    /// Whether any execute bit is set.
    pub fn executable(&self) -> bool {
        self.mode & 0o111 != 0
    }
}

/// What a cataloger read from one file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reading {
    /// The packages the file records, in the file's order.
    pub packages: Vec<Found>,
    /// Things the user should know that do not stop the scan ("rpm's BerkeleyDB database
    /// is not supported", "a package.json without a version"), in the cataloger's words.
    pub notes: Vec<String>,
}

/// A file the cataloger chose but cannot read as what it should be.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The content is malformed: `line` is 1-based when the format has lines.
    #[error("{path}: line {line}: {reason}")]
    Malformed {
        /// The file.
        path: String,
        /// Where (0 when the format has no lines).
        line: usize,
        /// What is wrong, and how to tell (the expected form).
        reason: String,
    },
    /// Reading the content failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// One kind of file a scan reads packages from.
pub trait Cataloger: Send + Sync {
    /// What the packages this cataloger finds are.
    fn kind(&self) -> PackageKind;

    /// Whether this file is one this cataloger reads; only the path, mode and size are
    /// known here, so the test must be cheap (it runs for every file of every layer).
    fn wants(&self, file: &FileMeta) -> bool;

    /// Reads the file's content. An `Err` means the file is not what it should be, and
    /// stops the scan with that error (a corrupt package database must not read as "no
    /// packages"); a cataloger for which a bad file is ordinary (a hand-written
    /// `package.json`) returns a note instead.
    fn read(&self, file: &FileMeta, content: &mut dyn Read) -> Result<Reading, CatalogError>;
}

/// Every cataloger strata has, in the order their packages are listed.
///
/// [`node_lock::NpmLockCataloger`] is left out on purpose: for images the installed
/// packages' manifests are read, as Trivy does, and a lock file would list them again.
pub fn all() -> Vec<Box<dyn Cataloger>> {
    vec![
        // OS packages.
        Box::new(dpkg::Dpkg),
        Box::new(apk::Apk),
        Box::new(rpm::Rpm),
        // Language packages.
        Box::new(python::PythonCataloger),
        Box::new(node::NodeCataloger::default()),
        Box::new(java::JavaCataloger),
        Box::new(go_binary::GoBinaryCataloger),
        Box::new(rust_binary::RustBinaryCataloger),
    ]
}
