//! Matching packages against OSV records: which are vulnerable, how badly, fixed where.
//!
//! Each package is looked up under its OSV ecosystem and name ([`ecosystem`]), its version
//! checked by the ecosystem's order (a version the order refuses is *not judged*, never
//! "not affected"), and every record the database returns for it is evaluated with OSV's
//! algorithm ([`range`]) and rated ([`severity`]). Withdrawn records are ignored; records
//! that alias each other are one finding per package ([`group`]).

use std::collections::{HashMap, HashSet};

use osv::schema::{Affected, Vulnerability};

use crate::package::{Distro, Package};

pub mod ecosystem;
pub mod group;
pub mod index;
pub mod range;
pub mod severity;

pub use ecosystem::{Lookup, Order};
pub use index::MemoryIndex;
pub use severity::{Rating, Severity};

/// The error type an [`Advisories`] source returns.
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// A source of OSV records (the offline database; a list in tests).
pub trait Advisories {
    /// The records with an `affected[]` entry for package `name` in `ecosystem`, both
    /// spelled as OSV records spell them (see [`Lookup`]). Returning extra records is
    /// harmless: matching checks each entry's package itself.
    fn records_for(&self, ecosystem: &str, name: &str) -> Result<Vec<Vulnerability>, SourceError>;
}

/// A list of records is a (linear-scan) source, for tests and small imports.
impl Advisories for [Vulnerability] {
    fn records_for(&self, ecosystem: &str, name: &str) -> Result<Vec<Vulnerability>, SourceError> {
        Ok(self
            .iter()
            .filter(|r| {
                r.affected
                    .iter()
                    .flatten()
                    .any(|a| entry_is(a, ecosystem, name))
            })
            .cloned()
            .collect())
    }
}

impl Advisories for Vec<Vulnerability> {
    fn records_for(&self, ecosystem: &str, name: &str) -> Result<Vec<Vulnerability>, SourceError> {
        self.as_slice().records_for(ecosystem, name)
    }
}

/// Whether an `affected[]` entry names package `name` in `ecosystem` (PyPI names compared
/// PEP 503-normalized, as the schema says they are written).
pub fn entry_is(affected: &Affected, ecosystem: &str, name: &str) -> bool {
    let Some(package) = &affected.package else {
        return false;
    };
    if ecosystem_string(&package.ecosystem).as_deref() != Some(ecosystem) {
        return false;
    }
    if ecosystem == "PyPI" {
        ecosystem::pep503(&package.name) == ecosystem::pep503(name)
    } else {
        package.name == name
    }
}

/// An ecosystem as OSV records write it (`Debian:12`, `Ubuntu:22.04:LTS`): the osv crate
/// parses the string into variants, writing it back gives OSV's spelling.
pub fn ecosystem_string(ecosystem: &osv::schema::Ecosystem) -> Option<String> {
    serde_json::to_value(ecosystem)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// What to report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchOptions {
    /// Only these ratings (`--severity`); `None` for all.
    pub severities: Option<Vec<Severity>>,
    /// Leave out vulnerabilities no fixed version is known for (`--ignore-unfixed`).
    pub ignore_unfixed: bool,
}

/// One vulnerable package.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Index of the package in the scanned list.
    pub package: usize,
    /// The record's id (`CVE-2023-4863`, `GHSA-…`, `DSA-5496-1`).
    pub id: String,
    /// The record's aliases (other databases' ids).
    pub aliases: Vec<String>,
    /// The record's summary, else the first line of its details.
    pub summary: Option<String>,
    /// The version judged (the source version for OS packages with a source).
    pub installed: String,
    /// The smallest fixed version above the installed one, when known.
    pub fixed: Option<String>,
    /// How severe.
    pub rating: Rating,
    /// The layer (index from 0) that brought the package in.
    pub layer: usize,
    /// The package's purl.
    pub purl: String,
    /// The OSV ecosystem and name it was looked up under.
    pub ecosystem: String,
    /// The looked-up name (the source package for OS packages).
    pub name: String,
    /// The record's advisory URL (its first `ADVISORY` reference, else first reference).
    pub url: Option<String>,
}

/// A package, or a package against one record, that could not be judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotJudged {
    /// Index of the package in the scanned list.
    pub package: usize,
    /// The record whose ranges could not be evaluated, when it is one record and not the
    /// package as a whole.
    pub record: Option<String>,
    /// Why.
    pub reason: String,
}

/// What matching found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    /// Vulnerable packages in Trivy's order: by package name and installed version, then
    /// most severe first, then id.
    pub vulnerabilities: Vec<Finding>,
    /// Packages (or package-record pairs) that could not be judged.
    pub not_judged: Vec<NotJudged>,
    /// How many packages were looked up and judged (those not wholly unjudged).
    pub judged: usize,
}

/// Matching failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum MatchError {
    /// The advisory source failed.
    #[error("reading the vulnerability database for {ecosystem} package {name:?}: {source}")]
    Database {
        /// The ecosystem looked up.
        ecosystem: String,
        /// The name looked up.
        name: String,
        /// The source's error.
        source: SourceError,
    },
}

/// Matches `packages` (on `distro`) against `db`.
pub fn scan(
    packages: &[Package],
    distro: Option<&Distro>,
    db: &dyn Advisories,
    opts: &MatchOptions,
) -> Result<Findings, MatchError> {
    let mut out = Findings::default();
    let mut cache: HashMap<(String, String), Vec<Vulnerability>> = HashMap::new();
    for (index, package) in packages.iter().enumerate() {
        let lookup = match ecosystem::lookup(package, distro) {
            Ok(l) => l,
            Err(reason) => {
                out.not_judged.push(NotJudged {
                    package: index,
                    record: None,
                    reason,
                });
                continue;
            }
        };
        if let Err(e) = lookup.order.validate(&lookup.version) {
            out.not_judged.push(NotJudged {
                package: index,
                record: None,
                reason: e.to_string(),
            });
            continue;
        }
        out.judged += 1;
        // Binary packages of one source (dozens for glibc or systemd) share one lookup.
        let key = (lookup.ecosystem.clone(), lookup.name.clone());
        if !cache.contains_key(&key) {
            let records = db
                .records_for(&lookup.ecosystem, &lookup.name)
                .map_err(|source| MatchError::Database {
                    ecosystem: lookup.ecosystem.clone(),
                    name: lookup.name.clone(),
                    source,
                })?;
            cache.insert(key.clone(), records);
        }
        let records = &cache[&key];
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for record in records {
            if record.withdrawn.is_some() || !seen.insert(record.id.clone()) {
                continue;
            }
            judge_record(
                index,
                package,
                &lookup,
                record,
                &mut found,
                &mut out.not_judged,
            );
        }
        out.vulnerabilities
            .extend(group::merge(found, lookup.order));
    }
    out.vulnerabilities.retain(|f| {
        opts.severities
            .as_ref()
            .is_none_or(|s| s.contains(&f.rating.severity))
            && !(opts.ignore_unfixed && f.fixed.is_none())
    });
    // Trivy's order (its types.BySeverity): package name, installed version, most severe
    // first, id, then the package's file.
    out.vulnerabilities.sort_by(|a, b| {
        let (pa, pb) = (&packages[a.package], &packages[b.package]);
        pa.found
            .name
            .cmp(&pb.found.name)
            .then_with(|| pa.found.version.cmp(&pb.found.version))
            .then_with(|| b.rating.severity.cmp(&a.rating.severity))
            .then_with(|| a.id.cmp(&b.id))
            .then_with(|| pa.path.cmp(&pb.path))
            .then_with(|| a.package.cmp(&b.package))
    });
    Ok(out)
}

/// Evaluates one record's entries for the package and records a finding or a problem.
fn judge_record(
    index: usize,
    package: &Package,
    lookup: &Lookup,
    record: &Vulnerability,
    found: &mut Vec<Finding>,
    not_judged: &mut Vec<NotJudged>,
) {
    let mut affected_by = None;
    let mut fixes: Vec<String> = Vec::new();
    let mut problem = None;
    for entry in record.affected.iter().flatten() {
        if !entry_is(entry, &lookup.ecosystem, &lookup.name) {
            continue;
        }
        match range::judge(entry, &lookup.version, lookup.order) {
            range::Verdict::Affected { fixed } => {
                affected_by.get_or_insert(entry);
                fixes.extend(fixed);
            }
            range::Verdict::NotAffected => {}
            range::Verdict::Unjudged(reason) => {
                problem.get_or_insert(reason);
            }
        }
    }
    if let Some(entry) = affected_by {
        let order = lookup.order;
        found.push(Finding {
            package: index,
            id: record.id.clone(),
            aliases: record.aliases.clone().unwrap_or_default(),
            summary: summary(record),
            installed: lookup.version.clone(),
            fixed: fixes.into_iter().min_by(|a, b| order.compare(a, b)),
            rating: severity::rate(record, Some(entry)),
            layer: package.layer,
            purl: package.purl.clone(),
            ecosystem: lookup.ecosystem.clone(),
            name: lookup.name.clone(),
            url: url(record),
        });
    } else if let Some(reason) = problem {
        not_judged.push(NotJudged {
            package: index,
            record: Some(record.id.clone()),
            reason,
        });
    }
}

fn summary(record: &Vulnerability) -> Option<String> {
    let text = record
        .summary
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            record
                .details
                .as_deref()
                .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
        })?;
    Some(text.trim().to_owned())
}

fn url(record: &Vulnerability) -> Option<String> {
    let refs = record.references.as_deref().unwrap_or_default();
    refs.iter()
        .find(|r| matches!(r.reference_type, osv::schema::ReferenceType::Advisory))
        .or_else(|| refs.first())
        .map(|r| r.url.clone())
}

/// The offline database is the matcher's source: one indexed lookup per (ecosystem, name).
impl Advisories for crate::osv_db::Db {
    fn records_for(&self, ecosystem: &str, name: &str) -> Result<Vec<Vulnerability>, SourceError> {
        crate::osv_db::Db::records_for(self, ecosystem, name)
            .map_err(|e| Box::new(e) as SourceError)
    }
}
