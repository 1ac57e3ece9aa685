//! Java archives (`*.jar`, `*.war`, `*.ear`, `*.par`): the Maven coordinates inside.
//!
//! A zip's directory is at its end, so the archive is copied into memory, up to
//! [`MAX_ARCHIVE_BYTES`] (a larger one gets a note), and read with the `zip` crate.
//!
//! What is listed follows Trivy's offline jar parser (`pkg/dependency/parser/java/jar`):
//! every `pom.properties` in the archive with a `groupId`, `artifactId` and `version`
//! (shaded jars carry several), as `group:artifact`; and, when none of them is the
//! archive's own artifact (the file name `artifact-version.jar` says which), the
//! coordinates `META-INF/MANIFEST.MF`'s main section gives. One departure: when the file
//! name carries no version (`guava.jar`, as Debian installs jars, or `app.jar`), Trivy
//! falls back to the manifest even beside the jar's own `pom.properties`, and lists
//! junk like `com.google:Guava: Google Core Libraries for Java`; here any
//! `pom.properties` then counts as the archive's own, so the manifest is read only for
//! archives with none. The manifest's coordinates are: group from
//! `Implementation-Vendor-Id`, `Bundle-SymbolicName` up to its last dot,
//! `Implementation-Vendor` or `Specification-Vendor`; artifact from
//! `Implementation-Title`, `Specification-Title` or `Bundle-Name`; version from
//! `Implementation-Version`, `Specification-Version` or `Bundle-Version`), when all three
//! are there. Archives inside the archive (`WEB-INF/lib/*.jar` in a war) are read the same
//! way, one level deep, each up to [`MAX_NESTED_BYTES`].
//!
//! A file that is not a zip, or a damaged entry, gets a note: a `.jar` that is not one is
//! not worth stopping a scan for.

use std::io::{Cursor, Read};

use zip::ZipArchive;

use super::java_manifest::{Manifest, jar_file_name};
use super::{CatalogError, Cataloger, FileMeta, Reading};
use crate::package::{Found, PackageKind};

/// The largest archive copied into memory.
pub const MAX_ARCHIVE_BYTES: u64 = 256 << 20;
/// The largest nested archive read (uncompressed).
pub const MAX_NESTED_BYTES: u64 = 64 << 20;
/// The largest `pom.properties` or `MANIFEST.MF` read (uncompressed): they are a few KB.
const MAX_TEXT_BYTES: u64 = 1 << 20;

/// Reads Maven coordinates from Java archives (`PackageKind::Maven`).
#[derive(Debug, Default, Clone, Copy)]
pub struct JavaCataloger;

impl Cataloger for JavaCataloger {
    fn kind(&self) -> PackageKind {
        PackageKind::Maven
    }

    fn wants(&self, file: &FileMeta) -> bool {
        is_archive(&file.path)
    }

    fn read(&self, file: &FileMeta, content: &mut dyn Read) -> Result<Reading, CatalogError> {
        let mut reading = Reading::default();
        if file.size > MAX_ARCHIVE_BYTES {
            reading.notes.push(format!(
                "{}: {} bytes, more than the {MAX_ARCHIVE_BYTES} a Java archive is read to; not listed",
                file.path, file.size
            ));
            return Ok(reading);
        }
        let mut data = Vec::with_capacity(usize::try_from(file.size).unwrap_or(0));
        content
            .take(MAX_ARCHIVE_BYTES)
            .read_to_end(&mut data)
            .map_err(|source| CatalogError::Io {
                path: file.path.clone(),
                source,
            })?;
        let archive = read_archive(&data, &file.path, true);
        reading.packages = archive.packages();
        reading.notes = archive.notes;
        Ok(reading)
    }
}

/// Whether `path` names a Java archive Trivy reads.
pub fn is_archive(path: &str) -> bool {
    [".jar", ".war", ".ear", ".par"]
        .iter()
        .any(|ext| path.len() > ext.len() && path.ends_with(ext))
}

/// What one archive (and its nested archives) says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Archive {
    /// The packages from `pom.properties` files, in the archive's order.
    pub from_pom: Vec<Found>,
    /// The package from `MANIFEST.MF`, when no `pom.properties` is the archive's own.
    pub from_manifest: Option<Found>,
    /// The `META-INF/MANIFEST.MF` main section, when there is one.
    pub manifest: Option<Manifest>,
    /// The nested archives', each with its entry name.
    pub nested: Vec<(String, Archive)>,
    /// What could not be read.
    pub notes: Vec<String>,
}

impl Archive {
    /// All packages, this archive's then the nested ones', each `name@version` once.
    pub fn packages(&self) -> Vec<Found> {
        let mut out: Vec<Found> = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut Vec<Found>) {
        let own = self.from_pom.iter().chain(self.from_manifest.as_ref());
        for f in own {
            if !out
                .iter()
                .any(|o| o.name == f.name && o.version == f.version)
            {
                out.push(f.clone());
            }
        }
        for (_, inner) in &self.nested {
            inner.collect(out);
        }
    }
}

/// Reads an archive held in memory; `path` names it in notes and its file name says
/// which artifact it is; `nested` says whether archives inside are read.
pub fn read_archive(data: &[u8], path: &str, nested: bool) -> Archive {
    let mut out = Archive::default();
    let mut zip = match ZipArchive::new(Cursor::new(data)) {
        Ok(z) => z,
        Err(e) => {
            out.notes.push(format!(
                "{path}: not a readable zip archive ({e}); not listed"
            ));
            return out;
        }
    };
    let own = jar_file_name(path.rsplit('/').next().unwrap_or(path));
    let mut own_found = false;
    let mut manifest = None;
    // Pick the entries by name from the central directory first: opening each of a jar's
    // thousands of classes would parse its local header for nothing.
    let chosen: Vec<(usize, String)> = zip
        .file_names_raw()
        .enumerate()
        .map(|(i, raw)| (i, String::from_utf8_lossy(raw).into_owned()))
        .filter(|(_, name)| {
            let base = name.rsplit('/').next().unwrap_or(name);
            base == "pom.properties"
                || name == "META-INF/MANIFEST.MF"
                || (nested && is_archive(base))
        })
        .collect();
    for (i, name) in chosen {
        let mut entry = match zip.by_index(i) {
            Ok(e) => e,
            Err(e) => {
                out.notes
                    .push(format!("{path}!{name}: cannot be read ({e}); skipped"));
                continue;
            }
        };
        let is_pom = name == "pom.properties" || name.ends_with("/pom.properties");
        let is_manifest = name == "META-INF/MANIFEST.MF";
        let is_inner = !is_pom && !is_manifest;
        let limit = if is_inner {
            MAX_NESTED_BYTES
        } else {
            MAX_TEXT_BYTES
        };
        if entry.size() > limit {
            out.notes.push(format!(
                "{path}!{name}: {} bytes uncompressed, more than the {limit} read; skipped",
                entry.size()
            ));
            continue;
        }
        let mut bytes = Vec::new();
        if let Err(e) = (&mut entry).take(limit).read_to_end(&mut bytes) {
            out.notes.push(format!(
                "{path}!{name}: cannot be decompressed ({e}); skipped"
            ));
            continue;
        }
        let text = || String::from_utf8_lossy(&bytes).into_owned();
        if is_pom {
            if let Some(p) = pom_properties(&text()) {
                // Without a version in the file name, which pom.properties is the
                // archive's own cannot be told: any counts (see the module docs).
                own_found |= own
                    .as_ref()
                    .is_none_or(|(artifact, version)| *artifact == p.1 && *version == p.2);
                out.from_pom.push(Found {
                    name: format!("{}:{}", p.0, p.1),
                    version: p.2,
                    ..Found::default()
                });
            }
        } else if is_manifest {
            manifest = Some(Manifest::parse(&text()));
        } else {
            let inner = read_archive(&bytes, &format!("{path}!{name}"), false);
            out.notes.extend(inner.notes.iter().cloned());
            out.nested.push((name, inner));
        }
    }
    if !own_found {
        out.from_manifest = manifest
            .as_ref()
            .and_then(Manifest::coordinates)
            .map(|(g, a, v)| Found {
                name: format!("{g}:{a}"),
                version: v,
                ..Found::default()
            });
    }
    out.manifest = manifest;
    out
}

/// `groupId`, `artifactId` and `version` from a `pom.properties`, when all three are
/// there and non-empty.
pub fn pom_properties(text: &str) -> Option<(String, String, String)> {
    let (mut g, mut a, mut v) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let slot = match key.trim() {
            "groupId" => &mut g,
            "artifactId" => &mut a,
            "version" => &mut v,
            _ => continue,
        };
        *slot = Some(value.trim().to_owned());
    }
    let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
    Some((nonempty(g)?, nonempty(a)?, nonempty(v)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use zip::write::SimpleFileOptions;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn listed(a: &Archive) -> Vec<String> {
        a.packages()
            .iter()
            .map(|f| format!("{}@{}", f.name, f.version))
            .collect()
    }

    const POM: &[u8] = b"#Generated\ngroupId=org.x\nartifactId=lib\nversion=1.2\n";
    const MF: &[u8] = b"Manifest-Version: 1.0\r\nImplementation-Title: t\r\nImplementation-Version: 9\r\nImplementation-Vendor-Id: org.m\r\n";

    #[test]
    fn pom_then_manifest() {
        // The jar's own pom.properties: the manifest is not used.
        let jar = zip_of(&[
            ("META-INF/MANIFEST.MF", MF),
            ("META-INF/maven/org.x/lib/pom.properties", POM),
        ]);
        assert_eq!(
            listed(&read_archive(&jar, "a/lib-1.2.jar", true)),
            ["org.x:lib@1.2"]
        );
        // A shaded pom.properties that is not the jar's own: the manifest is used too.
        assert_eq!(
            listed(&read_archive(&jar, "a/app-2.0.jar", true)),
            ["org.x:lib@1.2", "org.m:t@9"]
        );
        // A file name without a version cannot tell: the pom.properties is taken as its own.
        assert_eq!(
            listed(&read_archive(&jar, "a/app.jar", true)),
            ["org.x:lib@1.2"]
        );
        // No pom.properties.
        let jar = zip_of(&[("META-INF/MANIFEST.MF", MF), ("a/B.class", b"\xca\xfe")]);
        assert_eq!(listed(&read_archive(&jar, "x.jar", true)), ["org.m:t@9"]);
        // Incomplete pom.properties and manifest: nothing.
        let jar = zip_of(&[
            (
                "META-INF/maven/g/a/pom.properties",
                b"groupId=g\nartifactId=a\nversion=\n",
            ),
            (
                "META-INF/MANIFEST.MF",
                b"Manifest-Version: 1.0\nImplementation-Title: t\n",
            ),
        ]);
        assert!(listed(&read_archive(&jar, "x.jar", true)).is_empty());
    }

    #[test]
    fn nested_one_level() {
        let inner2 = zip_of(&[(
            "META-INF/maven/d/deep/pom.properties",
            b"groupId=d\nartifactId=deep\nversion=1\n",
        )]);
        let inner = zip_of(&[
            ("META-INF/maven/org.x/lib/pom.properties", POM),
            ("lib/deep-1.jar", &inner2),
        ]);
        let war = zip_of(&[
            ("WEB-INF/lib/lib-1.2.jar", &inner),
            ("WEB-INF/lib/broken.jar", b"not a zip"),
            ("META-INF/maven/org.x/lib/pom.properties", POM),
        ]);
        let a = read_archive(&war, "app.war", true);
        // The duplicate is listed once; the second level is not read.
        assert_eq!(listed(&a), ["org.x:lib@1.2"]);
        assert_eq!(a.nested.len(), 2);
        assert!(
            a.notes
                .iter()
                .any(|n| n.contains("app.war!WEB-INF/lib/broken.jar: not a readable zip")),
            "{:?}",
            a.notes
        );
    }

    #[test]
    fn damaged_archives_are_notes() {
        let jar = zip_of(&[("META-INF/maven/org.x/lib/pom.properties", POM)]);
        for (data, want) in [
            (b"PK\x03\x04garbage".to_vec(), "not a readable zip"),
            (Vec::new(), "not a readable zip"),
            (jar[..jar.len() / 2].to_vec(), "not a readable zip"),
        ] {
            let file = FileMeta {
                path: "x.jar".into(),
                mode: 0o644,
                size: data.len() as u64,
            };
            let r = JavaCataloger.read(&file, &mut &data[..]).unwrap();
            assert!(r.packages.is_empty());
            assert!(r.notes[0].contains(want), "{:?}", r.notes);
        }
        // A corrupted compressed entry: a note, the rest still read.
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let deflate =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        w.start_file("META-INF/MANIFEST.MF", deflate).unwrap();
        w.write_all(&MF.repeat(50)).unwrap();
        w.start_file(
            "META-INF/maven/org.x/lib/pom.properties",
            SimpleFileOptions::default(),
        )
        .unwrap();
        w.write_all(POM).unwrap();
        let mut data = w.finish().unwrap().into_inner();
        // Flip bytes inside the manifest's compressed data (after its 30+20-byte header).
        for b in &mut data[60..80] {
            *b ^= 0x55;
        }
        let a = read_archive(&data, "lib-1.2.jar", true);
        assert_eq!(listed(&a), ["org.x:lib@1.2"]);
        assert!(
            a.notes.iter().any(|n| n.contains("MANIFEST.MF")),
            "{:?}",
            a.notes
        );
    }

    #[test]
    fn archive_paths_and_properties() {
        for (path, want) in [
            ("a.jar", true),
            ("x/a.war", true),
            ("a.ear", true),
            ("a.par", true),
            (".jar", false),
            ("a.jar.sha1", false),
            ("a.zip", false),
        ] {
            assert_eq!(is_archive(path), want, "{path}");
        }
        assert_eq!(
            pom_properties(" groupId = g \nartifactId=a\r\nversion=1.0-SNAPSHOT\n"),
            Some(("g".into(), "a".into(), "1.0-SNAPSHOT".into()))
        );
        assert_eq!(pom_properties("groupId=g\nartifactId=a\n"), None);
    }
}
