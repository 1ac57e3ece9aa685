//! Rust binaries built with `cargo auditable`: the dependency list in the `.dep-v0`
//! section, zlib-compressed JSON `{"packages":[{"name","version","source","kind",
//! "dependencies","root"}]}`.
//!
//! The section's place is only known from the section table, which ELF keeps at the end
//! of the file, so a stream cannot find it: the file is copied into memory, up to
//! [`MAX_BINARY_BYTES`] (a larger executable gets a note), and parsed with the `object`
//! crate (ELF, PE, Mach-O). Files that do not start with an executable's magic are left
//! after their first four bytes. The decompressed JSON is bounded by [`MAX_JSON_BYTES`].
//!
//! As Trivy (`pkg/dependency/parser/rust/binary`) lists them: every package of kind
//! `runtime` (the default when `kind` is absent), the root crate included; `build`
//! dependencies (build scripts, proc-macros) are not in the binary and are left out.
//!
//! A binary whose section does not decompress or parse gets a note, not an error: one
//! odd executable must not stop an image's scan.

use std::io::Read;

use flate2::read::ZlibDecoder;
use object::{Object, ObjectSection};
use serde::Deserialize;

use super::{CatalogError, Cataloger, FileMeta, Reading};
use crate::package::{Found, PackageKind};

/// The largest executable copied into memory to look for the section.
pub const MAX_BINARY_BYTES: u64 = 256 << 20;
/// The largest decompressed dependency list (cargo-auditable's own readers stop at 8 MiB).
pub const MAX_JSON_BYTES: u64 = 8 << 20;
/// The section's name.
pub const SECTION: &str = ".dep-v0";

/// Reads cargo-auditable dependency lists from executables (`PackageKind::Cargo`).
#[derive(Debug, Default, Clone, Copy)]
pub struct RustBinaryCataloger;

#[derive(Deserialize)]
struct Audit {
    packages: Vec<AuditPackage>,
}

#[derive(Deserialize)]
struct AuditPackage {
    name: String,
    version: String,
    #[serde(default)]
    kind: Option<String>,
}

impl Cataloger for RustBinaryCataloger {
    fn kind(&self) -> PackageKind {
        PackageKind::Cargo
    }

    fn wants(&self, file: &FileMeta) -> bool {
        file.executable() && file.size >= 4096
    }

    fn read(&self, file: &FileMeta, content: &mut dyn Read) -> Result<Reading, CatalogError> {
        let io = |source| CatalogError::Io {
            path: file.path.clone(),
            source,
        };
        let mut reading = Reading::default();
        let mut data = Vec::new();
        content.take(4).read_to_end(&mut data).map_err(io)?;
        let executable = data.starts_with(b"\x7fELF")
            || data.starts_with(b"MZ")
            || [0xfeedfacf_u32, 0xfeedface, 0xcafebabe]
                .iter()
                .any(|m| data == m.to_le_bytes() || data == m.to_be_bytes());
        if !executable {
            return Ok(reading);
        }
        if file.size > MAX_BINARY_BYTES {
            reading.notes.push(format!(
                "{}: {} bytes, more than the {MAX_BINARY_BYTES} an executable is read to for cargo-auditable data; not read",
                file.path, file.size
            ));
            return Ok(reading);
        }
        data.reserve(usize::try_from(file.size).unwrap_or(0).saturating_sub(4));
        content
            .take(MAX_BINARY_BYTES - 4)
            .read_to_end(&mut data)
            .map_err(io)?;
        match audit_packages(&data) {
            Ok(packages) => reading.packages = packages,
            Err(why) => reading.notes.push(format!("{}: {why}", file.path)),
        }
        Ok(reading)
    }
}

/// The runtime packages an executable's `.dep-v0` section lists: empty when the file has
/// no such section (not built with cargo-auditable); an error says what is wrong with a
/// file that starts like an executable but does not parse as one (truncated, say), or
/// with a section that is there.
pub fn audit_packages(binary: &[u8]) -> Result<Vec<Found>, String> {
    let file = object::File::parse(binary).map_err(|e| {
        format!("starts like an executable but is not one `object` reads ({e}); its cargo-auditable data, if any, is not read")
    })?;
    let Some(section) = file
        .sections()
        .find(|s| s.name().is_ok_and(|n| n == SECTION || n == "__dep_v0"))
    else {
        return Ok(Vec::new());
    };
    let compressed = section
        .data()
        .map_err(|e| format!("the {SECTION} section cannot be read ({e})"))?;
    parse_section(compressed)
}

/// Decompresses and parses a `.dep-v0` section's content.
pub fn parse_section(compressed: &[u8]) -> Result<Vec<Found>, String> {
    let mut json = Vec::new();
    ZlibDecoder::new(compressed)
        .take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut json)
        .map_err(|e| format!("the {SECTION} section is not zlib data ({e})"))?;
    if json.len() as u64 > MAX_JSON_BYTES {
        return Err(format!(
            "the {SECTION} dependency list is larger than {MAX_JSON_BYTES} bytes; not read"
        ));
    }
    let audit: Audit = serde_json::from_slice(&json).map_err(|e| {
        format!("the {SECTION} section is not cargo-auditable's JSON ({e}); expected {{\"packages\":[{{\"name\",\"version\",…}}]}}")
    })?;
    Ok(audit
        .packages
        .into_iter()
        .filter(|p| p.kind.as_deref().unwrap_or("runtime") == "runtime")
        .map(|p| Found {
            name: p.name,
            version: p.version,
            ..Found::default()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::ZlibEncoder;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn sections() {
        let json = br#"{"packages":[
            {"name":"app","version":"0.1.0","source":"local","dependencies":[1,2],"root":true},
            {"name":"serde","version":"1.0.200","source":"crates.io","kind":"runtime"},
            {"name":"cc","version":"1.0.0","source":"crates.io","kind":"build"}]}"#;
        let got: Vec<String> = parse_section(&zlib(json))
            .unwrap()
            .iter()
            .map(|f| format!("{}@{}", f.name, f.version))
            .collect();
        assert_eq!(got, ["app@0.1.0", "serde@1.0.200"]);
        for (data, want) in [
            (b"not zlib".to_vec(), "not zlib data"),
            (zlib(b"{\"packages\":{}}"), "not cargo-auditable's JSON"),
            (
                zlib(b"{\"packages\":[{\"name\":\"a\"}]}"),
                "not cargo-auditable's JSON",
            ),
            (zlib(b"[]"), "not cargo-auditable's JSON"),
            (zlib(json)[..20].to_vec(), "not zlib data"),
        ] {
            let err = parse_section(&data).unwrap_err();
            assert!(err.contains(want), "{err}");
        }
    }

    #[test]
    fn non_executables_and_garbage() {
        let file = |size| FileMeta {
            path: "usr/bin/x".into(),
            mode: 0o755,
            size,
        };
        // A script: left after four bytes, nothing listed.
        let r = RustBinaryCataloger
            .read(&file(10), &mut &b"#!/bin/sh\necho"[..])
            .unwrap();
        assert_eq!(r, Reading::default());
        // An ELF magic over garbage: not an object file `object` reads, a note.
        let mut junk = b"\x7fELF".to_vec();
        junk.resize(8192, 0xaa);
        let r = RustBinaryCataloger
            .read(&file(8192), &mut &junk[..])
            .unwrap();
        assert!(r.packages.is_empty());
        assert!(r.notes[0].contains("starts like an executable"), "{r:?}");
        // Too large: a note, the content not read.
        let r = RustBinaryCataloger
            .read(&file(MAX_BINARY_BYTES + 1), &mut &junk[..])
            .unwrap();
        assert!(r.notes[0].contains("more than"), "{r:?}");
    }
}
