//! What a scan finds: packages, where each came from, and the operating system.

use crate::version::Ecosystem;

/// The kind of package, which says which cataloger found it and how its purl is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PackageKind {
    /// A Debian or Ubuntu package from dpkg's database (`pkg:deb`).
    Deb,
    /// An Alpine package from apk's database (`pkg:apk`).
    Apk,
    /// An RPM package from rpm's database (`pkg:rpm`).
    Rpm,
    /// A Python distribution (`*.dist-info`, `*.egg-info`) (`pkg:pypi`).
    Python,
    /// A Node package (`node_modules/**/package.json`, lock files) (`pkg:npm`).
    Npm,
    /// A Go module compiled into a binary, or the binary's main module (`pkg:golang`).
    Go,
    /// A Rust crate compiled into a binary with cargo-auditable data (`pkg:cargo`).
    Cargo,
    /// A Java artifact (`META-INF/maven/**/pom.properties` in a jar) (`pkg:maven`).
    Maven,
}

impl PackageKind {
    /// The purl type (`deb`, `pypi`, `golang`, ...).
    pub fn purl_type(self) -> &'static str {
        match self {
            PackageKind::Deb => "deb",
            PackageKind::Apk => "apk",
            PackageKind::Rpm => "rpm",
            PackageKind::Python => "pypi",
            PackageKind::Npm => "npm",
            PackageKind::Go => "golang",
            PackageKind::Cargo => "cargo",
            PackageKind::Maven => "maven",
        }
    }

    /// The version order this kind's versions follow, given the operating system for OS
    /// packages (`None` for an OS package kind whose distribution is not known).
    pub fn ecosystem(self) -> Ecosystem {
        match self {
            PackageKind::Deb => Ecosystem::Debian,
            PackageKind::Apk => Ecosystem::Alpine,
            PackageKind::Rpm => Ecosystem::RedHat,
            PackageKind::Python => Ecosystem::PyPI,
            PackageKind::Npm => Ecosystem::Npm,
            PackageKind::Go => Ecosystem::Go,
            PackageKind::Cargo => Ecosystem::CratesIo,
            PackageKind::Maven => Ecosystem::Maven,
        }
    }

    /// A short name for tables and notes (`deb`, `python`, `go-module`, ...).
    pub fn label(self) -> &'static str {
        match self {
            PackageKind::Deb => "deb",
            PackageKind::Apk => "apk",
            PackageKind::Rpm => "rpm",
            PackageKind::Python => "python",
            PackageKind::Npm => "npm",
            PackageKind::Go => "go-module",
            PackageKind::Cargo => "rust-crate",
            PackageKind::Maven => "java-archive",
        }
    }
}

/// One package as a cataloger read it from one file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Found {
    /// The package's name as its ecosystem spells it. For Maven, `group:artifact`; for
    /// Go, the module path; for npm, the scoped name (`@scope/name`).
    pub name: String,
    /// The version as the package manager recorded it (for dpkg with its epoch: `1:2.3-4`).
    pub version: String,
    /// The source package (dpkg's `Source:`, rpm's `SOURCERPM` name, apk's `o:` origin):
    /// its name and version, when it differs from the binary package's.
    pub source: Option<(String, String)>,
    /// Architecture (`amd64`, `x86_64`, `noarch`), for OS packages.
    pub arch: Option<String>,
    /// Licences as declared (SPDX expressions or free text).
    pub licenses: Vec<String>,
    /// Extra purl qualifiers the cataloger knows (`epoch` for rpm, `type=jar`), in order.
    pub qualifiers: Vec<(String, String)>,
}

/// A package in an image: what was found, what it is, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// What the cataloger read.
    pub found: Found,
    /// Which cataloger, which purl type.
    pub kind: PackageKind,
    /// The file it was read from, relative to the root (`var/lib/dpkg/status`,
    /// `usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA`).
    pub path: String,
    /// The index (from 0, base first) of the layer that brought the package in: the first
    /// layer from which on the file held this package at this version.
    pub layer: usize,
    /// The package URL.
    pub purl: String,
}

/// The operating system an image is, from `etc/os-release` (or `usr/lib/os-release`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Distro {
    /// `ID` (`debian`, `alpine`, `ubuntu`, `rhel`).
    pub id: String,
    /// `VERSION_ID` (`12`, `3.20.1`), empty when the release does not say (Debian sid).
    pub version_id: String,
    /// `VERSION_CODENAME` (`bookworm`), when given.
    pub codename: Option<String>,
    /// `PRETTY_NAME`, for humans.
    pub pretty_name: String,
}

impl Distro {
    /// The purl `distro` qualifier (`debian-12`, `alpine-3.20.1`).
    pub fn purl_qualifier(&self) -> String {
        if self.version_id.is_empty() {
            self.id.clone()
        } else {
            format!("{}-{}", self.id, self.version_id)
        }
    }
}
