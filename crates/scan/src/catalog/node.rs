//! Node packages installed in `node_modules`: each package's own `package.json`.
//!
//! A `package.json` counts when it is a package's top-level manifest: its directory is
//! `node_modules/<name>` or `node_modules/@scope/<name>`. Manifests deeper inside a
//! package (test fixtures, `lib/package.json` markers for `"type": "module"`, bundlers'
//! subpath helpers like `rxjs/ajax/package.json`) are not packages. This is what Trivy
//! reads for images; lock files are read by [`super::node_lock`], a separate cataloger,
//! so the two are never both counted unless the integrator chooses to.
//!
//! [`NodeScope::Everywhere`] also lists a `package.json` outside any `node_modules` that
//! has a name and a version, as Trivy does (its `IsPackageRoot` passes such paths
//! through): an application's own manifest, and Debian's Node packages, which live in
//! `/usr/share/nodejs/<name>/` without a `node_modules`. The default,
//! [`NodeScope::NodeModules`], lists installed packages only.
//!
//! The manifest is parsed with serde_json straight from the reader, at most
//! [`MAX_PACKAGE_JSON_BYTES`] of it.

use std::io::{BufRead, BufReader, Read};

use serde::Deserialize;
use serde_json::Value;

use super::{CatalogError, Cataloger, FileMeta, Reading};
use crate::package::{Found, PackageKind};

/// The largest `package.json` read. Manifests are a few KB; old npm versions copied the
/// README into them (hundreds of KB). A larger one is not read, and a note says so.
pub const MAX_PACKAGE_JSON_BYTES: u64 = 16 << 20;

/// Reads installed Node packages' `package.json` (`PackageKind::Npm`).
#[derive(Debug, Default, Clone, Copy)]
pub struct NodeCataloger {
    /// Which manifests count.
    pub scope: NodeScope,
}

/// Which `package.json` files [`NodeCataloger`] reads.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum NodeScope {
    /// Only packages' top-level manifests inside `node_modules`.
    #[default]
    NodeModules,
    /// Those, and any `package.json` outside `node_modules` with a name and a version
    /// (without one it is not a package, and is passed over without a note).
    Everywhere,
}

/// The fields of a manifest that matter here; the rest is skipped by serde.
#[derive(Deserialize)]
struct Manifest {
    name: Option<Value>,
    version: Option<Value>,
    license: Option<Value>,
    /// The pre-2015 form: `"licenses": [{"type": "MIT"}]`.
    licenses: Option<Value>,
}

impl Cataloger for NodeCataloger {
    fn kind(&self) -> PackageKind {
        PackageKind::Npm
    }

    fn wants(&self, file: &FileMeta) -> bool {
        is_installed_manifest(&file.path)
            || (self.scope == NodeScope::Everywhere && is_outside_manifest(&file.path))
    }

    fn read(&self, file: &FileMeta, content: &mut dyn Read) -> Result<Reading, CatalogError> {
        let reading = self.read_manifest(file, content)?;
        // Outside node_modules a manifest is a package only when it names one: the rest
        // (workspace roots, tools' configuration) is not worth a note.
        if is_outside_manifest(&file.path) {
            return Ok(Reading {
                notes: Vec::new(),
                ..reading
            });
        }
        Ok(reading)
    }
}

impl NodeCataloger {
    fn read_manifest(
        &self,
        file: &FileMeta,
        content: &mut dyn Read,
    ) -> Result<Reading, CatalogError> {
        let mut reading = Reading::default();
        if file.size > MAX_PACKAGE_JSON_BYTES {
            reading.notes.push(format!(
                "{}: {} bytes, larger than the {MAX_PACKAGE_JSON_BYTES} bytes a package.json is read to; not listed",
                file.path, file.size
            ));
            return Ok(reading);
        }
        // serde_json reads byte by byte: buffer it.
        let mut bounded = BufReader::new(content.take(MAX_PACKAGE_JSON_BYTES));
        // Some published manifests start with a UTF-8 byte-order mark, which Node's own
        // loader skips and serde_json refuses.
        if bounded
            .fill_buf()
            .map_err(|source| CatalogError::Io {
                path: file.path.clone(),
                source,
            })?
            .starts_with(b"\xef\xbb\xbf")
        {
            bounded.consume(3);
        }
        let manifest: Manifest = match serde_json::from_reader(&mut bounded) {
            Ok(m) => m,
            Err(e) if e.is_io() => {
                return Err(CatalogError::Io {
                    path: file.path.clone(),
                    source: e.into(),
                });
            }
            Err(e) => {
                reading.notes.push(format!(
                    "{}: not a JSON object with string fields ({e}); not listed",
                    file.path
                ));
                return Ok(reading);
            }
        };
        match manifest_package(&manifest) {
            Ok(found) => reading.packages.push(found),
            Err(why) => reading.notes.push(format!("{}: {why}", file.path)),
        }
        Ok(reading)
    }
}

/// Whether `path` is a `package.json` with no `node_modules` on its way.
pub fn is_outside_manifest(path: &str) -> bool {
    (path == "package.json" || path.ends_with("/package.json"))
        && !path.split('/').any(|c| c == "node_modules")
}

/// Whether `path` is a package's top-level manifest: `…node_modules/<name>/package.json`
/// or `…node_modules/@scope/<name>/package.json`.
pub fn is_installed_manifest(path: &str) -> bool {
    let Some(dir) = path.strip_suffix("/package.json") else {
        return false;
    };
    let mut parts = dir.rsplit('/');
    let (Some(name), Some(parent)) = (parts.next(), parts.next()) else {
        return false;
    };
    if name.is_empty() || name.starts_with('@') || name == "node_modules" {
        return false;
    }
    if parent == "node_modules" {
        return true;
    }
    parent.len() > 1 && parent.starts_with('@') && parts.next() == Some("node_modules")
}

fn manifest_package(m: &Manifest) -> Result<Found, String> {
    let name = match &m.name {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None => {
            return Err("a package.json without a `name`; not listed".into());
        }
        Some(other) => return Err(format!("`name` is not a string ({other}); not listed")),
    };
    let version = match &m.version {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None => {
            return Err(format!(
                "{name}: a package.json without a `version`; not listed"
            ));
        }
        Some(other) => {
            return Err(format!(
                "{name}: `version` is not a string ({other}); not listed"
            ));
        }
    };
    let mut licenses = Vec::new();
    match &m.license {
        Some(value) => licenses.extend(license_name(value)),
        None => {
            if let Some(Value::Array(items)) = &m.licenses {
                licenses.extend(items.iter().filter_map(license_name));
            }
        }
    }
    Ok(Found {
        name,
        version,
        licenses,
        ..Found::default()
    })
}

/// A licence as a manifest spells it: an SPDX string, or `{"type": "MIT", "url": …}`.
pub(crate) fn license_name(value: &Value) -> Option<String> {
    let s = match value {
        Value::String(s) => s,
        Value::Object(o) => o.get("type")?.as_str()?,
        _ => return None,
    };
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_paths() {
        for (path, want) in [
            ("app/node_modules/lodash/package.json", true),
            ("node_modules/lodash/package.json", true),
            (
                "usr/lib/node_modules/npm/node_modules/@npmcli/arborist/package.json",
                true,
            ),
            ("a/node_modules/x/node_modules/y/package.json", true),
            ("a/node_modules/x/lib/package.json", false),
            ("a/node_modules/@scope/package.json", false),
            (
                "a/node_modules/x/test/fixtures/node_modules/package.json",
                false,
            ),
            ("a/@scope/x/package.json", false),
            ("app/package.json", false),
            ("package.json", false),
            ("a/node_modules/x/package.json.bak", false),
            ("a/node_modules//package.json", false),
        ] {
            assert_eq!(is_installed_manifest(path), want, "{path}");
        }
    }

    fn read(text: &str) -> Reading {
        let file = FileMeta {
            path: "node_modules/x/package.json".into(),
            mode: 0o644,
            size: text.len() as u64,
        };
        NodeCataloger::default()
            .read(&file, &mut text.as_bytes())
            .unwrap()
    }

    #[test]
    fn manifests() {
        type Want = Result<(&'static str, &'static str, &'static [&'static str]), &'static str>;
        let cases: &[(&str, Want)] = &[
            (
                r#"{"name":"@s/x","version":"1.0.0","license":"MIT","dependencies":{"a":"1"}}"#,
                Ok(("@s/x", "1.0.0", &["MIT"])),
            ),
            (
                r#"{"name":"x","version":"1.0.0","license":{"type":"ISC","url":"u"}}"#,
                Ok(("x", "1.0.0", &["ISC"])),
            ),
            (
                r#"{"name":"x","version":"1","licenses":[{"type":"MIT"},{"type":"GPL-2.0"}]}"#,
                Ok(("x", "1", &["MIT", "GPL-2.0"])),
            ),
            (
                r#"{"name":"x","version":"1","license":7}"#,
                Ok(("x", "1", &[])),
            ),
            (
                "\u{feff}{\"name\":\"bom\",\"version\":\"1\"}",
                Ok(("bom", "1", &[])),
            ),
            (r#"{"private":true}"#, Err("without a `name`")),
            (
                r#"{"name":"x"}"#,
                Err("x: a package.json without a `version`"),
            ),
            (
                r#"{"name":"x","version":1}"#,
                Err("`version` is not a string"),
            ),
            (
                r#"{"name":["x"],"version":"1"}"#,
                Err("`name` is not a string"),
            ),
            (r#"{"name":"x","version":"1""#, Err("not a JSON object")),
            (r#"[1,2]"#, Err("not a JSON object")),
            ("", Err("not a JSON object")),
        ];
        for (text, want) in cases {
            let r = read(text);
            match want {
                Ok((name, version, licenses)) => {
                    assert_eq!(r.packages.len(), 1, "{text}: {r:?}");
                    let p = &r.packages[0];
                    assert_eq!((p.name.as_str(), p.version.as_str()), (*name, *version));
                    assert_eq!(p.licenses, *licenses);
                }
                Err(note) => {
                    assert!(r.packages.is_empty(), "{text}");
                    assert!(r.notes[0].contains(note), "{text}: {:?}", r.notes);
                }
            }
        }
    }

    #[test]
    fn scopes() {
        let everywhere = NodeCataloger {
            scope: NodeScope::Everywhere,
        };
        for (path, installed, anywhere) in [
            ("app/node_modules/x/package.json", true, true),
            ("app/package.json", false, true),
            ("usr/share/nodejs/y/package.json", false, true),
            ("package.json", false, true),
            ("app/node_modules/x/lib/package.json", false, false),
            ("app/package.json.orig", false, false),
        ] {
            let file = FileMeta {
                path: path.into(),
                mode: 0o644,
                size: 10,
            };
            assert_eq!(NodeCataloger::default().wants(&file), installed, "{path}");
            assert_eq!(everywhere.wants(&file), anywhere, "{path}");
        }
        let file = FileMeta {
            path: "app/package.json".into(),
            mode: 0o644,
            size: 10,
        };
        // Outside node_modules: a named manifest is listed, anything else passed over.
        let r = everywhere
            .read(&file, &mut &br#"{"name":"app","version":"1.0.0"}"#[..])
            .unwrap();
        assert_eq!(r.packages[0].name, "app");
        for text in [&br#"{"private":true}"#[..], b"{not json"] {
            assert_eq!(
                everywhere.read(&file, &mut &text[..]).unwrap(),
                Reading::default()
            );
        }
    }

    #[test]
    fn too_large_is_a_note() {
        let file = FileMeta {
            path: "node_modules/x/package.json".into(),
            mode: 0o644,
            size: MAX_PACKAGE_JSON_BYTES + 1,
        };
        let r = NodeCataloger::default()
            .read(&file, &mut &b"{}"[..])
            .unwrap();
        assert!(r.packages.is_empty() && r.notes[0].contains("larger than"));
    }
}
