//! OSV records held in memory, indexed by the package each `affected[]` entry names: an
//! [`Advisories`] source for records read from files without a database, and for tests.

use std::collections::HashMap;

use osv::schema::Vulnerability;

use super::{Advisories, SourceError, ecosystem, ecosystem_string};

/// Records indexed by (ecosystem as OSV writes it, name; PyPI names PEP 503-normalized).
#[derive(Debug, Default)]
pub struct MemoryIndex {
    records: Vec<Vulnerability>,
    by_package: HashMap<(String, String), Vec<usize>>,
}

impl MemoryIndex {
    /// Indexes `records` (withdrawn ones too: matching skips them).
    pub fn new(records: Vec<Vulnerability>) -> MemoryIndex {
        let mut by_package: HashMap<(String, String), Vec<usize>> = HashMap::new();
        for (i, record) in records.iter().enumerate() {
            for entry in record.affected.iter().flatten() {
                let Some(package) = &entry.package else {
                    continue;
                };
                let Some(eco) = ecosystem_string(&package.ecosystem) else {
                    continue;
                };
                let key = key(eco, &package.name);
                let list = by_package.entry(key).or_default();
                // One record lists a package once even with several entries for it.
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
        }
        MemoryIndex {
            records,
            by_package,
        }
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

fn key(ecosystem: String, name: &str) -> (String, String) {
    let name = if ecosystem == "PyPI" {
        ecosystem::pep503(name)
    } else {
        name.to_owned()
    };
    (ecosystem, name)
}

impl Advisories for MemoryIndex {
    fn records_for(&self, ecosystem: &str, name: &str) -> Result<Vec<Vulnerability>, SourceError> {
        let found = self.by_package.get(&key(ecosystem.to_owned(), name));
        Ok(found
            .into_iter()
            .flatten()
            .map(|&i| self.records[i].clone())
            .collect())
    }
}
