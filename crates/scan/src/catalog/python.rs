//! Python distributions: the core metadata of an installed distribution
//! (`*.dist-info/METADATA` from wheels, `*.egg-info/PKG-INFO` or an `*.egg-info` file from
//! setuptools, `*.egg/EGG-INFO/PKG-INFO` from eggs), the files Trivy's image scan reads too.
//!
//! Zipped eggs (`X.egg` files) are read too: their `EGG-INFO/PKG-INFO`.
//!
//! The metadata is RFC 822-style headers, then a blank line, then the long description.
//! Only the headers are read (the description can be megabytes), and at most
//! [`MAX_HEADER_BYTES`] of them.

use std::io::{BufRead, BufReader, Read};

use super::{CatalogError, Cataloger, FileMeta, Reading};
use crate::package::{Found, PackageKind};

/// How much of a metadata file's header part is read. Headers are a few KB; a `License:`
/// holding a whole licence text can reach tens of KB. Past this bound the file is not read
/// (a note says so): a header this long is not core metadata.
pub const MAX_HEADER_BYTES: u64 = 1 << 20;

/// Reads Python distributions' core metadata (`PackageKind::Python`).
#[derive(Debug, Default, Clone, Copy)]
pub struct PythonCataloger;

impl Cataloger for PythonCataloger {
    fn kind(&self) -> PackageKind {
        PackageKind::Python
    }

    fn wants(&self, file: &FileMeta) -> bool {
        is_metadata_path(&file.path)
    }

    fn read(&self, file: &FileMeta, content: &mut dyn Read) -> Result<Reading, CatalogError> {
        if file.path.ends_with(".egg") {
            return read_zipped_egg(file, content);
        }
        read_headers(&file.path, content)
    }
}

/// Reads the headers of a metadata file (`path` names it in notes).
fn read_headers(path: &str, content: &mut dyn Read) -> Result<Reading, CatalogError> {
    let mut reader = BufReader::new(content.take(MAX_HEADER_BYTES + 1));
    let mut head = Vec::new();
    let mut line = Vec::new();
    let mut complete = false;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| CatalogError::Io {
                path: path.to_owned(),
                source,
            })?;
        // The header part ends at the first blank line, or at the end of the file
        // (an `*.egg-info` file may be headers only).
        if n == 0 || line.iter().all(|b| matches!(b, b'\r' | b'\n')) {
            complete = true;
            break;
        }
        head.extend_from_slice(&line);
        if head.len() as u64 > MAX_HEADER_BYTES {
            break;
        }
    }
    let mut reading = Reading::default();
    if !complete {
        reading.notes.push(format!(
            "{path}: the metadata headers are longer than {MAX_HEADER_BYTES} bytes; not read as a Python package"
        ));
        return Ok(reading);
    }
    let text = String::from_utf8_lossy(&head);
    match parse_metadata(&text) {
        Ok(found) => reading.packages.push(found),
        Err(why) => reading.notes.push(format!("{path}: {why}")),
    }
    Ok(reading)
}

/// A zipped egg (`X.egg`, a file): its `EGG-INFO/PKG-INFO`. The zip's directory is at
/// its end, so the egg is held in memory, up to [`MAX_EGG_BYTES`]; a larger one, or one
/// that is not a zip with that entry, gets a note.
fn read_zipped_egg(file: &FileMeta, content: &mut dyn Read) -> Result<Reading, CatalogError> {
    let note = |why: String| {
        Ok(Reading {
            packages: Vec::new(),
            notes: vec![format!("{}: {why}; not listed", file.path)],
        })
    };
    if file.size > MAX_EGG_BYTES {
        return note(format!(
            "a zipped egg of {} bytes, more than the {MAX_EGG_BYTES} read",
            file.size
        ));
    }
    let mut data = Vec::with_capacity(usize::try_from(file.size).unwrap_or(0));
    content
        .take(MAX_EGG_BYTES)
        .read_to_end(&mut data)
        .map_err(|source| CatalogError::Io {
            path: file.path.clone(),
            source,
        })?;
    let mut zip = match zip::ZipArchive::new(std::io::Cursor::new(data)) {
        Ok(z) => z,
        Err(e) => return note(format!("not a readable zipped egg ({e})")),
    };
    let mut entry = match zip.by_name(EGG_PKG_INFO) {
        Ok(e) => e,
        Err(e) => return note(format!("no readable {EGG_PKG_INFO} ({e})")),
    };
    read_headers(&format!("{}!{EGG_PKG_INFO}", file.path), &mut entry)
}

/// The largest zipped egg read.
pub const MAX_EGG_BYTES: u64 = 64 << 20;
const EGG_PKG_INFO: &str = "EGG-INFO/PKG-INFO";

/// Whether `path` is a distribution's metadata, the files Trivy reads: `X.dist-info/METADATA`,
/// `X.egg-info/PKG-INFO` (or `METADATA`, which some build backends write), a file
/// `X.egg-info`, `EGG-INFO/PKG-INFO` (an unzipped egg), or a zipped egg `X.egg`. (Trivy
/// reads any file named `METADATA`; only those in a `.dist-info` are core metadata.)
pub fn is_metadata_path(path: &str) -> bool {
    let (dir, base) = match path.rsplit_once('/') {
        Some((dir, base)) => (dir, base),
        None => ("", path),
    };
    let parent = dir.rsplit('/').next().unwrap_or("");
    match base {
        "METADATA" => parent.ends_with(".dist-info") || parent.ends_with(".egg-info"),
        "PKG-INFO" => parent.ends_with(".egg-info") || parent == "EGG-INFO",
        _ => {
            let stem = |ext: &str| base.len() > ext.len() && base.ends_with(ext);
            stem(".egg-info") || stem(".egg")
        }
    }
}

/// Parses core-metadata headers (the part before the first blank line) into a package:
/// `Name`, `Version`, and the licence (`License-Expression`, else `License` unless it is
/// empty or `UNKNOWN`, else the `License :: …` classifiers' last parts). An error says
/// which required header is missing.
pub fn parse_metadata(headers: &str) -> Result<Found, String> {
    let mut name = None;
    let mut version = None;
    let mut expression = None;
    let mut license = None;
    let mut classifiers = Vec::new();
    for (key, value) in unfold(headers) {
        // Header names are case-insensitive (email.message); the first occurrence counts,
        // as `importlib.metadata`'s `metadata['Name']` takes the first.
        match key.to_ascii_lowercase().as_str() {
            "name" => {
                name.get_or_insert(value);
            }
            "version" => {
                version.get_or_insert(value);
            }
            "license-expression" => {
                expression.get_or_insert(value);
            }
            "license" => {
                license.get_or_insert(value);
            }
            "classifier" => {
                if let Some(rest) = value.strip_prefix("License ::") {
                    // `License :: OSI Approved :: MIT License` names `MIT License`;
                    // `License :: OSI Approved` alone names nothing.
                    let last = rest.rsplit("::").next().unwrap_or("").trim();
                    if !last.is_empty() && last != "OSI Approved" {
                        classifiers.push(last.to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    let name = name
        .filter(|n| !n.is_empty())
        .ok_or("no `Name:` header: not a distribution's core metadata")?;
    let version = version
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("{name}: no `Version:` header; the distribution is not listed"))?;
    let licenses = if let Some(expr) = expression.filter(|e| !e.is_empty()) {
        vec![expr]
    } else if let Some(text) = license.filter(|l| !l.is_empty() && l != "UNKNOWN") {
        vec![text]
    } else {
        classifiers
    };
    Ok(Found {
        name,
        version,
        licenses,
        ..Found::default()
    })
}

/// The headers as (name, value) pairs, continuation lines (starting with a space or tab)
/// joined to their header, values trimmed.
fn unfold(headers: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in headers.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = out.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            out.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    for (_, value) in &mut out {
        let trimmed = value.trim_end().to_owned();
        *value = trimmed;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_paths() {
        for (path, want) in [
            (
                "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
                true,
            ),
            ("x/PyYAML-6.0.egg-info/PKG-INFO", true),
            ("x/foo-1.0-py3.11.egg-info", true),
            ("x/foo-1.0-py3.11.egg/EGG-INFO/PKG-INFO", true),
            ("x/EGG-INFO/PKG-INFO", true),
            ("x/foo-1.0-py3.11.egg", true),
            ("x/foo.egg-info/METADATA", true),
            (".egg", false),
            ("x/six-1.16.0.dist-info/RECORD", false),
            ("x/METADATA", false),
            ("x/foo/PKG-INFO", false),
            (".egg-info", false),
            ("x/foo.egg-info/top_level.txt", false),
        ] {
            assert_eq!(is_metadata_path(path), want, "{path}");
        }
    }

    #[test]
    fn headers_to_package() {
        type Want = Result<(&'static str, &'static str, &'static [&'static str]), &'static str>;
        let cases: &[(&str, Want)] = &[
            (
                "Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\nLicense: MIT\n",
                Ok(("six", "1.16.0", &["MIT"])),
            ),
            (
                "Name: a\nVersion: 1\nLicense-Expression: MIT OR Apache-2.0\nLicense: X\n",
                Ok(("a", "1", &["MIT OR Apache-2.0"])),
            ),
            (
                "Name: a\nVersion: 1\nLicense: UNKNOWN\nClassifier: License :: OSI Approved :: BSD License\nClassifier: License :: OSI Approved\nClassifier: Topic :: X\n",
                Ok(("a", "1", &["BSD License"])),
            ),
            (
                "name: Lower\nVERSION: 2.0\nLicense: Long text\n  second line\n",
                Ok(("Lower", "2.0", &["Long text\nsecond line"])),
            ),
            ("Name: a\nName: b\nVersion: 1\n", Ok(("a", "1", &[]))),
            ("Version: 1\n", Err("no `Name:`")),
            ("Name: a\nVersion:\n", Err("a: no `Version:`")),
            ("garbage without colons\n\u{0}\u{1}", Err("no `Name:`")),
            ("", Err("no `Name:`")),
        ];
        for (text, want) in cases {
            match (parse_metadata(text), want) {
                (Ok(found), Ok((name, version, licenses))) => {
                    assert_eq!(
                        (found.name.as_str(), found.version.as_str()),
                        (*name, *version)
                    );
                    assert_eq!(found.licenses, *licenses, "{text}");
                }
                (Err(got), Err(want)) => assert!(got.contains(want), "{got} for {text:?}"),
                (got, want) => panic!("{text:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    fn read(text: &[u8]) -> Reading {
        let file = FileMeta {
            path: "x/a-1.dist-info/METADATA".into(),
            mode: 0o644,
            size: text.len() as u64,
        };
        PythonCataloger.read(&file, &mut &text[..]).unwrap()
    }

    #[test]
    fn zipped_eggs() {
        use std::io::Write;
        let zip_of = |entries: &[(&str, &[u8])]| {
            let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            for (name, data) in entries {
                w.start_file(*name, zip::write::SimpleFileOptions::default())
                    .unwrap();
                w.write_all(data).unwrap();
            }
            w.finish().unwrap().into_inner()
        };
        let read = |data: &[u8]| {
            let file = FileMeta {
                path: "x/foo-1.0-py3.11.egg".into(),
                mode: 0o644,
                size: data.len() as u64,
            };
            PythonCataloger.read(&file, &mut &data[..]).unwrap()
        };
        let egg = zip_of(&[
            ("foo/__init__.py", b""),
            (
                "EGG-INFO/PKG-INFO",
                b"Name: foo\nVersion: 1.0\nLicense: MIT\n",
            ),
        ]);
        let r = read(&egg);
        assert_eq!(
            (r.packages[0].name.as_str(), r.packages[0].version.as_str()),
            ("foo", "1.0")
        );
        for (data, want) in [
            (
                zip_of(&[("foo/__init__.py", b"")]),
                "no readable EGG-INFO/PKG-INFO",
            ),
            (
                zip_of(&[("EGG-INFO/PKG-INFO", b"Name: foo\n")]),
                "!EGG-INFO/PKG-INFO: foo: no `Version:`",
            ),
            (b"not a zip".to_vec(), "not a readable zipped egg"),
            (egg[..egg.len() - 10].to_vec(), "not a readable zipped egg"),
        ] {
            let r = read(&data);
            assert!(r.packages.is_empty());
            assert!(r.notes[0].contains(want), "{:?}", r.notes);
        }
    }

    #[test]
    fn reads_only_the_headers() {
        // A `Name:` in the description must not count.
        let r = read(b"Name: a\r\nVersion: 1\r\n\r\nName: b\nVersion: 2\n");
        assert_eq!(r.packages.len(), 1);
        assert_eq!(r.packages[0].name, "a");
        assert_eq!(r.packages[0].version, "1");
        // Truncated before the version: a note, no package.
        let r = read(b"Metadata-Version: 2.1\nName: a\nVer");
        assert!(r.packages.is_empty());
        assert!(r.notes[0].contains("no `Version:`"), "{:?}", r.notes);
        // Binary junk: a note.
        let r = read(&[0xff, 0xfe, 0, 1, 2, b'\n']);
        assert!(r.packages.is_empty() && r.notes.len() == 1);
        // Headers past the bound: a note, not a read of the whole file.
        let mut big = b"Name: a\nVersion: 1\nLicense: ".to_vec();
        big.extend(std::iter::repeat_n(b'x', MAX_HEADER_BYTES as usize + 10));
        let r = read(&big);
        assert!(r.packages.is_empty());
        assert!(r.notes[0].contains("longer than"), "{:?}", r.notes);
    }
}
