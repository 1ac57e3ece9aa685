//! Go binaries: the build information the Go linker embeds (what `go version -m` prints).
//!
//! Go 1.18 and later write a 32-byte header, 16-byte aligned, at the start of the
//! `.go.buildinfo` data: the magic `\xff Go buildinf:` (14 bytes), the pointer size, a
//! flags byte (bit 1: the strings follow inline) and 16 bytes of padding; then the Go
//! version and the module information, each as a uvarint length and bytes.
//!
//! **Streaming, no seeking:** the cataloger reads the file front to back in
//! [`CHUNK`]-byte pieces and looks for the magic at 16-byte aligned offsets, so it finds
//! the header whatever the executable format (ELF, PE, Mach-O) and wherever the linker put
//! the section (external linking moves it), without the section table that ELF keeps at
//! the end. Memory is bounded: one chunk, plus the build information itself, which is
//! refused past [`MAX_BUILDINFO_BYTES`]. The magic also occurs in the read-only data of
//! binaries that link `debug/buildinfo` (the `go` tool itself); such a copy is not
//! followed by a valid header, so the search goes on past it.
//!
//! Go before 1.18 stored pointers instead of inline strings; reading them needs the
//! executable's address map, which a stream does not have: such a binary gets a note.
//!
//! What is listed follows Trivy (`pkg/dependency/parser/golang/binary`): the main module
//! (its version from the build info, `(devel)` read as unknown, in which case a `-X
//! …version=` linker flag can supply it, else the version is empty), each `dep` (its
//! `=>` replacement when there is one), and the Go standard library as `stdlib` at the
//! toolchain's version with a `v` (`v1.19.8`).

use std::io::Read;

use memchr::memmem;

use super::go_modinfo::{packages, parse_modinfo};
use super::{CatalogError, Cataloger, FileMeta, Reading};
use crate::package::PackageKind;

/// The build-info magic.
pub const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
/// The header's size and alignment.
const HEADER: usize = 32;
const ALIGN: u64 = 16;
/// How much of the file is held at once while searching.
pub const CHUNK: usize = 256 * 1024;
/// The most build information (version and module text) read; a binary with more gets a
/// note. Kubernetes-sized binaries carry ~30 KB.
pub const MAX_BUILDINFO_BYTES: usize = 4 << 20;
/// Smaller files are not Go binaries (the smallest, statically linked, is ~1 MB).
const MIN_SIZE: u64 = 64 * 1024;

/// Reads Go build information from executables (`PackageKind::Go`).
#[derive(Debug, Default, Clone, Copy)]
pub struct GoBinaryCataloger;

impl Cataloger for GoBinaryCataloger {
    fn kind(&self) -> PackageKind {
        PackageKind::Go
    }

    fn wants(&self, file: &FileMeta) -> bool {
        file.executable() && file.size >= MIN_SIZE
    }

    fn read(&self, file: &FileMeta, content: &mut dyn Read) -> Result<Reading, CatalogError> {
        let io = |source| CatalogError::Io {
            path: file.path.clone(),
            source,
        };
        let mut reading = Reading::default();
        match find_buildinfo(content).map_err(io)? {
            Search::Found {
                go_version,
                modinfo,
            } => {
                let info = parse_modinfo(&modinfo);
                reading.packages = packages(&go_version, &info);
            }
            Search::NotGo => {}
            Search::Unsupported(why) | Search::Malformed(why) => {
                reading.notes.push(format!("{}: {why}", file.path));
            }
        }
        Ok(reading)
    }
}

/// What the search found in a file.
#[derive(Debug, PartialEq, Eq)]
pub enum Search {
    /// Build information: the Go version (`go1.19.8`) and the module text (without the
    /// 16-byte sentinels around it; empty for a binary built outside a module).
    Found {
        /// `runtime.Version()` of the toolchain.
        go_version: String,
        /// The `path`/`mod`/`dep`/`=>`/`build` lines.
        modinfo: String,
    },
    /// No build information: not a Go binary.
    NotGo,
    /// Build information this reader does not read (pre-1.18 pointer form).
    Unsupported(String),
    /// A header whose strings run past the end of the file or the bound.
    Malformed(String),
}

/// How a candidate header at the start of `data` reads.
enum Candidate {
    /// Not a header (the magic inside other data): search on.
    No,
    /// More bytes are needed to judge: at least this many from the header's start.
    Need(usize),
    /// A pre-1.18 header.
    Pointers,
    /// The version and module text.
    Inline(String, String),
    /// Lengths beyond the bound.
    TooLong(usize),
}

fn judge(data: &[u8]) -> Candidate {
    if data.len() < HEADER {
        return Candidate::Need(HEADER);
    }
    let ptr_size = data[14];
    let flags = data[15];
    if ptr_size != 4 && ptr_size != 8 {
        return Candidate::No;
    }
    if flags & 2 == 0 {
        return Candidate::Pointers;
    }
    let mut at = HEADER;
    let mut strings = Vec::with_capacity(2);
    for _ in 0..2 {
        let Some((len, used)) = uvarint(&data[at..]) else {
            // A uvarint is at most 10 bytes; fewer left may be the chunk's end.
            return if data.len() - at >= 10 {
                Candidate::No
            } else {
                Candidate::Need(at + 10)
            };
        };
        let Ok(len) = usize::try_from(len) else {
            return Candidate::TooLong(usize::MAX);
        };
        if len > MAX_BUILDINFO_BYTES {
            return Candidate::TooLong(len);
        }
        let end = at + used + len;
        if data.len() < end {
            return Candidate::Need(end);
        }
        strings.push(&data[at + used..end]);
        at = end;
    }
    // The sentinels framing the module text are not UTF-8: strip them before decoding.
    let modinfo = String::from_utf8_lossy(strip_sentinels(strings[1])).into_owned();
    let version = String::from_utf8_lossy(strings[0]).into_owned();
    // The version is `runtime.Version()`: `go1.19.8`, `devel go1.22-abc…`. Anything else is
    // the magic appearing by chance inside other data.
    if !(version.starts_with("go") || version.starts_with("devel ")) {
        return Candidate::No;
    }
    Candidate::Inline(version, modinfo)
}

/// The module text is framed by two 16-byte sentinels, the last preceded by a newline;
/// `debug/buildinfo` drops the frame when that shape is there and the text otherwise.
fn strip_sentinels(b: &[u8]) -> &[u8] {
    if b.len() >= 33 && b[b.len() - 17] == b'\n' {
        &b[16..b.len() - 16]
    } else {
        &[]
    }
}

/// Decodes a uvarint (Go's `encoding/binary`), with the bytes it used; `None` when the
/// data ends first or it overflows.
pub fn uvarint(data: &[u8]) -> Option<(u64, usize)> {
    let mut value = 0u64;
    for (i, &b) in data.iter().enumerate().take(10) {
        if i == 9 && b > 1 {
            return None;
        }
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

/// Reads `content` front to back until the build information is found (the rest is not
/// read) or the file ends; memory stays within [`CHUNK`] plus the build information.
pub fn find_buildinfo(content: &mut dyn Read) -> std::io::Result<Search> {
    let finder = memmem::Finder::new(MAGIC);
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + HEADER);
    // The file offset of buf[0]; always a multiple of ALIGN.
    let mut base = 0u64;
    let mut eof = false;
    let mut saw_pointers = false;
    loop {
        // Read another chunk (the buffer holds at most a header's worth besides, unless a
        // candidate asks for more); fewer bytes than asked for means the end of the file.
        if !eof {
            let n = (&mut *content).take(CHUNK as u64).read_to_end(&mut buf)?;
            eof = n < CHUNK;
        }
        let mut keep_from = None;
        let mut search_from = 0;
        while let Some(i) = finder.find(&buf[search_from..]).map(|i| i + search_from) {
            search_from = i + 1;
            if !(base + i as u64).is_multiple_of(ALIGN) {
                continue;
            }
            match judge(&buf[i..]) {
                Candidate::No => {}
                Candidate::Pointers => saw_pointers = true,
                Candidate::Inline(go_version, modinfo) => {
                    return Ok(Search::Found {
                        go_version,
                        modinfo,
                    });
                }
                Candidate::TooLong(len) => {
                    return Ok(Search::Malformed(format!(
                        "Go build information of {len} bytes, more than the {MAX_BUILDINFO_BYTES} read; not listed"
                    )));
                }
                Candidate::Need(n) if eof => {
                    // Only a real header is cut short by the end of the file.
                    return Ok(Search::Malformed(format!(
                        "Go build information at offset {} runs past the end of the file ({} of {n} bytes)",
                        base + i as u64,
                        buf.len() - i
                    )));
                }
                Candidate::Need(_) => {
                    keep_from = Some(i);
                    break;
                }
            }
        }
        if eof {
            return Ok(if saw_pointers {
                Search::Unsupported(
                    "Go build information in the pre-1.18 pointer form is not read (rebuild with Go 1.18 or later to list its modules)".into(),
                )
            } else {
                Search::NotGo
            });
        }
        // Drop what was searched, keeping an aligned tail where a header may start.
        let tail = buf.len().saturating_sub(HEADER) & !(ALIGN as usize - 1);
        let drop = keep_from.unwrap_or(tail).min(tail);
        buf.drain(..drop);
        base += drop as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A build-info blob as the Go linker writes it, at `offset` in `len` bytes of filler.
    fn binary(offset: usize, len: usize, version: &str, modinfo: &[u8], flags: u8) -> Vec<u8> {
        let mut out = vec![0x5au8; offset];
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&[8, flags]);
        out.extend_from_slice(&[0; 16]);
        for s in [version.as_bytes(), modinfo] {
            let mut n = s.len() as u64;
            loop {
                let b = (n & 0x7f) as u8;
                n >>= 7;
                out.push(if n == 0 { b } else { b | 0x80 });
                if n == 0 {
                    break;
                }
            }
            out.extend_from_slice(s);
        }
        out.resize(out.len().max(len), 0x5a);
        out
    }

    /// The module text between sentinels like the linker's (which are not UTF-8).
    fn framed(text: &str) -> Vec<u8> {
        let sentinel = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6";
        [&sentinel[..], text.as_bytes(), b"\n", &sentinel[..]].concat()
    }

    #[test]
    fn finds_the_header_anywhere_aligned() {
        let info = framed("path\tx\nmod\tx\t(devel)\t");
        // At the start, across a chunk boundary, near the end.
        for offset in [0, CHUNK - 16, CHUNK - 32, CHUNK + 48, 3 * CHUNK - 64] {
            let data = binary(offset, 3 * CHUNK, "go1.19.8", &info, 2);
            let got = find_buildinfo(&mut &data[..]).unwrap();
            assert_eq!(
                got,
                Search::Found {
                    go_version: "go1.19.8".into(),
                    modinfo: "path\tx\nmod\tx\t(devel)\t\n".into()
                },
                "offset {offset}"
            );
        }
    }

    #[test]
    fn judged_inputs() {
        let info = framed("mod\tx\tv1.0.0\t");
        let good = binary(0, 0, "go1.21.0", &info, 2);
        // A reader handing out one byte at a time still finds it.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(1).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        assert!(matches!(
            find_buildinfo(&mut Trickle(&good)).unwrap(),
            Search::Found { .. }
        ));
        // A misaligned magic is not a header.
        let misaligned = binary(8, 4096, "go1.21.0", &info, 2);
        assert_eq!(find_buildinfo(&mut &misaligned[..]).unwrap(), Search::NotGo);
        // The magic inside other data (as in the `go` tool's rodata), then the real one.
        let mut decoy = MAGIC.to_vec();
        decoy.extend_from_slice(b"Go cmd/go: xx...");
        decoy.resize(64, b'.');
        decoy.extend(binary(0, 0, "go1.21.0", &info, 2));
        assert!(matches!(
            find_buildinfo(&mut &decoy[..]).unwrap(),
            Search::Found { go_version, .. } if go_version == "go1.21.0"
        ));
        // Inline strings whose version is not a Go version: not a header.
        let bogus = binary(0, 0, "hello", &info, 2);
        assert_eq!(find_buildinfo(&mut &bogus[..]).unwrap(), Search::NotGo);
        // Pre-1.18: a note.
        let old = binary(0, 4096, "", b"", 0);
        assert!(matches!(
            find_buildinfo(&mut &old[..]).unwrap(),
            Search::Unsupported(why) if why.contains("pre-1.18")
        ));
        // Truncated inside the module text: malformed.
        let cut = &good[..good.len() - 5];
        assert!(matches!(
            find_buildinfo(&mut &cut[..]).unwrap(),
            Search::Malformed(why) if why.contains("past the end")
        ));
        // Truncated inside the header.
        assert!(matches!(
            find_buildinfo(&mut &good[..20]).unwrap(),
            Search::Malformed(_)
        ));
        // A length past the bound.
        let mut huge = good[..HEADER].to_vec();
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0x7f]);
        huge.resize(4096, 0);
        assert!(matches!(
            find_buildinfo(&mut &huge[..]).unwrap(),
            Search::Malformed(why) if why.contains("more than")
        ));
        // Empty and tiny files.
        assert_eq!(find_buildinfo(&mut &b""[..]).unwrap(), Search::NotGo);
        assert_eq!(find_buildinfo(&mut &b"\x7fELF"[..]).unwrap(), Search::NotGo);
    }

    #[test]
    fn sentinels_and_varints() {
        assert_eq!(strip_sentinels(&framed("a\tb")), b"a\tb\n");
        assert_eq!(strip_sentinels(b"short"), b"");
        assert_eq!(uvarint(&[0x05]), Some((5, 1)));
        assert_eq!(uvarint(&[0x80, 0x01]), Some((128, 2)));
        assert_eq!(uvarint(&[0x80]), None);
        assert_eq!(uvarint(&[0xff; 11]), None);
    }
}
