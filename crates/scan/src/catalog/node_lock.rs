//! npm lock files (`package-lock.json`, `npm-shrinkwrap.json`) outside `node_modules`.
//!
//! **Not in [`super::all`]** by design: for images, Trivy reads the installed packages'
//! `package.json` ([`super::node::NodeCataloger`]) and reads lock files only when scanning
//! a filesystem or repository. A lock file next to an installed `node_modules` lists the
//! same packages again, so listing both would count each twice. A caller scanning a source
//! tree (no `node_modules`) adds this cataloger itself.
//!
//! What is listed: lockfileVersion 2 and 3's `packages` map (every entry but the root `""`
//! and `link: true` symlink entries, whose target is an entry of its own), or version 1's
//! nested `dependencies`. Development dependencies (`dev: true`) are left out, as Trivy
//! does by default. `node_modules/.package-lock.json` (npm's hidden lock file) is inside
//! `node_modules` and not read: the installed manifests say the same.
//!
//! A lock file is written by npm, so one that is not the expected JSON is
//! [`CatalogError::Malformed`]. At most [`MAX_LOCK_BYTES`] are read.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};

use serde::Deserialize;
use serde_json::Value;

use super::node::license_name;
use super::{CatalogError, Cataloger, FileMeta, Reading};
use crate::package::{Found, PackageKind};

/// The largest lock file read (big monorepos reach tens of MB). A larger one is a note.
pub const MAX_LOCK_BYTES: u64 = 128 << 20;

/// Reads npm lock files (`PackageKind::Npm`); see the module documentation for why it is
/// not among [`super::all`].
#[derive(Debug, Default, Clone, Copy)]
pub struct NpmLockCataloger;

#[derive(Deserialize)]
struct Lock {
    #[serde(rename = "lockfileVersion")]
    lockfile_version: Option<u64>,
    packages: Option<BTreeMap<String, Entry>>,
    dependencies: Option<BTreeMap<String, V1Dependency>>,
}

#[derive(Deserialize)]
struct Entry {
    name: Option<String>,
    version: Option<String>,
    #[serde(default)]
    dev: bool,
    #[serde(default)]
    link: bool,
    license: Option<Value>,
}

#[derive(Deserialize)]
struct V1Dependency {
    version: Option<String>,
    #[serde(default)]
    dev: bool,
    dependencies: Option<BTreeMap<String, V1Dependency>>,
}

impl Cataloger for NpmLockCataloger {
    fn kind(&self) -> PackageKind {
        PackageKind::Npm
    }

    fn wants(&self, file: &FileMeta) -> bool {
        let base = file.path.rsplit('/').next().unwrap_or("");
        (base == "package-lock.json" || base == "npm-shrinkwrap.json")
            && !file.path.split('/').any(|c| c == "node_modules")
    }

    fn read(&self, file: &FileMeta, content: &mut dyn Read) -> Result<Reading, CatalogError> {
        let mut reading = Reading::default();
        if file.size > MAX_LOCK_BYTES {
            reading.notes.push(format!(
                "{}: {} bytes, larger than the {MAX_LOCK_BYTES} bytes a lock file is read to; not listed",
                file.path, file.size
            ));
            return Ok(reading);
        }
        let lock: Lock = serde_json::from_reader(BufReader::new(content.take(MAX_LOCK_BYTES)))
            .map_err(|e| {
                if e.is_io() {
                    CatalogError::Io {
                        path: file.path.clone(),
                        source: e.into(),
                    }
                } else {
                    CatalogError::Malformed {
                        path: file.path.clone(),
                        line: e.line(),
                        reason: format!(
                            "not an npm lock file ({e}); expected a JSON object with `packages` or `dependencies`"
                        ),
                    }
                }
            })?;
        reading.packages = lock_packages(lock).map_err(|reason| CatalogError::Malformed {
            path: file.path.clone(),
            line: 0,
            reason,
        })?;
        Ok(reading)
    }
}

fn lock_packages(lock: Lock) -> Result<Vec<Found>, String> {
    let version = lock.lockfile_version.unwrap_or(1);
    if let Some(packages) = lock.packages.filter(|_| version >= 2) {
        let mut out = Vec::new();
        for (key, entry) in packages {
            if key.is_empty() || entry.link || entry.dev {
                continue;
            }
            // The key is the install path; the package's name is what follows its last
            // `node_modules/`, unless the entry names itself (an alias `npm:real@1`).
            let Some(at) = key.rfind("node_modules/") else {
                // A workspace member's source directory (`packages/a`), not an install.
                continue;
            };
            let name = entry
                .name
                .clone()
                .unwrap_or_else(|| key[at + "node_modules/".len()..].to_owned());
            let version = entry
                .version
                .filter(|v| !v.is_empty())
                .ok_or_else(|| format!("`packages[\"{key}\"]` has no `version`"))?;
            out.push(Found {
                name,
                version,
                licenses: entry
                    .license
                    .as_ref()
                    .and_then(license_name)
                    .into_iter()
                    .collect(),
                ..Found::default()
            });
        }
        return Ok(out);
    }
    let mut out = Vec::new();
    if let Some(deps) = lock.dependencies {
        walk_v1(&deps, &mut out)?;
    } else if version == 1 {
        return Err("a version 1 lock file without `dependencies`".into());
    }
    Ok(out)
}

fn walk_v1(deps: &BTreeMap<String, V1Dependency>, out: &mut Vec<Found>) -> Result<(), String> {
    for (name, dep) in deps {
        if dep.dev {
            continue;
        }
        let version = dep
            .version
            .clone()
            .filter(|v| !v.is_empty())
            .ok_or_else(|| format!("`dependencies[\"{name}\"]` has no `version`"))?;
        out.push(Found {
            name: name.clone(),
            version,
            ..Found::default()
        });
        if let Some(nested) = &dep.dependencies {
            walk_v1(nested, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Reading, CatalogError> {
        let file = FileMeta {
            path: "app/package-lock.json".into(),
            mode: 0o644,
            size: text.len() as u64,
        };
        NpmLockCataloger.read(&file, &mut text.as_bytes())
    }

    fn names(r: &Reading) -> Vec<String> {
        r.packages
            .iter()
            .map(|p| format!("{}@{}", p.name, p.version))
            .collect()
    }

    #[test]
    fn wants_lock_files_outside_node_modules() {
        for (path, want) in [
            ("app/package-lock.json", true),
            ("npm-shrinkwrap.json", true),
            ("app/node_modules/.package-lock.json", false),
            ("app/node_modules/x/package-lock.json", false),
            ("app/package.json", false),
        ] {
            let file = FileMeta {
                path: path.into(),
                mode: 0o644,
                size: 1,
            };
            assert_eq!(NpmLockCataloger.wants(&file), want, "{path}");
        }
    }

    #[test]
    fn lock_versions() {
        let v3 = r#"{"name":"app","lockfileVersion":3,"packages":{
            "":{"name":"app","version":"1.0.0"},
            "node_modules/@s/a":{"version":"1.0.0","license":"MIT"},
            "node_modules/@s/a/node_modules/b":{"version":"2.0.0"},
            "node_modules/dev":{"version":"9.0.0","dev":true},
            "node_modules/linked":{"resolved":"packages/l","link":true},
            "packages/l":{"name":"l","version":"0.1.0"},
            "node_modules/alias":{"name":"real","version":"3.0.0"}}}"#;
        let r = read(v3).unwrap();
        assert_eq!(
            names(&r),
            ["@s/a@1.0.0", "b@2.0.0", "real@3.0.0"],
            "{:?}",
            r.packages
        );
        assert_eq!(r.packages[0].licenses, ["MIT"]);
        // Version 2 has both; `packages` wins.
        let v2 = r#"{"lockfileVersion":2,"packages":{"node_modules/a":{"version":"1.0.0"}},
            "dependencies":{"a":{"version":"0.0.0"}}}"#;
        assert_eq!(names(&read(v2).unwrap()), ["a@1.0.0"]);
        let v1 = r#"{"lockfileVersion":1,"dependencies":{
            "a":{"version":"1.0.0","dependencies":{"b":{"version":"2.0.0"}}},
            "d":{"version":"1.0.0","dev":true}}}"#;
        assert_eq!(names(&read(v1).unwrap()), ["a@1.0.0", "b@2.0.0"]);
    }

    #[test]
    fn malformed_lock_files() {
        for (text, want) in [
            (
                r#"{"lockfileVersion":3,"packages":{"node_modules/a":{}}}"#,
                "has no `version`",
            ),
            (r#"{"lockfileVersion":1}"#, "without `dependencies`"),
            (
                r#"{"lockfileVersion":3,"packages":["#,
                "not an npm lock file",
            ),
            (r#"{"lockfileVersion":"3"}"#, "not an npm lock file"),
            (r#"[]"#, "not an npm lock file"),
        ] {
            match read(text) {
                Err(CatalogError::Malformed { reason, .. }) => {
                    assert!(reason.contains(want), "{text}: {reason}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }
}
