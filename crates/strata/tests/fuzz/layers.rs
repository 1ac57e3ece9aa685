//! The tar reader and layer application on generated layers: hostile names and link
//! targets, every entry type, lying sizes, flipped bytes and truncation. Never a panic or a
//! hang, and nothing is ever written outside the directory the layer is applied to.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use proptest::prelude::*;

use crate::{bounded, config};

/// Names an entry may take, hostile ones included.
const NAMES: &[&str] = &[
    "a",
    "a/b",
    "a/b/c",
    "./c",
    "../x",
    "/abs/y",
    "a/../../z",
    "l",
    "l/through",
    "l/../w",
    ".wh.a",
    "a/.wh..wh..opq",
    "a/.wh.b",
    ".wh..wh..opq",
    "",
    ".",
    "//",
    "dev/null",
    "f",
    "f/under-a-file",
    "h",
    "fifo",
    "dev",
    "a/./b/../c",
    "a/l",
    "a/l/through",
];

/// Link targets, escaping ones included.
// Relative escapes land in the scratch directory's `outside` (checked), not on the host.
const TARGETS: &[&str] = &[
    "../outside",
    "../../outside",
    "/",
    "/outside/marker",
    "a",
    "l",
    "x/../..",
    "",
    "f",
    "h",
    "fifo",
    "../outside/marker",
    "a/b",
];

/// Entry types: file, hardlink, symlink, char, block, dir, fifo, and a few odd ones.
const TYPES: &[u8] = b"0125346\0xgLKS7Z";

/// One generated tar entry.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    link: &'static str,
    kind: u8,
    mode: u32,
    owner: (u64, u64),
    data: Vec<u8>,
    /// The size the header claims, when it lies about the data.
    claimed: Option<u64>,
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        prop::sample::select(NAMES),
        prop::option::weighted(0.1, "[a-z]{90,120}"),
        prop::sample::select(TARGETS),
        prop::sample::select(TYPES),
        prop::sample::select(&[0o644u32, 0o755, 0o4755, 0o000, 0o1777, 0o7777][..]),
        (0u64..3, 0u64..70000),
        prop::collection::vec(any::<u8>(), 0..700),
        prop::option::weighted(0.05, 0u64..2000),
    )
        .prop_map(
            |(name, long, link, kind, mode, (uid, gid), data, claimed)| Entry {
                name: match long {
                    Some(l) => format!("{name}/{l}"),
                    None => name.to_string(),
                },
                link,
                kind,
                mode,
                owner: (uid * 1000, gid),
                data,
                claimed,
            },
        )
}

/// The tar bytes of `entries`, written header by header (the `tar` crate's builder
/// refuses the hostile names this must produce).
fn tar_of(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let mut h = tar::Header::new_gnu();
        let name = e.name.as_bytes();
        if name.len() > 99 {
            // A GNU long name entry first, as real tools write one.
            let mut l = tar::Header::new_gnu();
            l.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
            l.set_entry_type(tar::EntryType::GNULongName);
            l.set_size(name.len() as u64 + 1);
            l.set_cksum();
            out.extend_from_slice(l.as_bytes());
            out.extend_from_slice(name);
            out.push(0);
            pad(&mut out);
        }
        let n = name.len().min(99);
        h.as_old_mut().name[..n].copy_from_slice(&name[..n]);
        let link = e.link.as_bytes();
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        h.as_old_mut().linkflag = [e.kind];
        h.set_mode(e.mode);
        h.set_uid(e.owner.0);
        h.set_gid(e.owner.1);
        h.set_mtime(1_700_000_000);
        let carries_data = matches!(e.kind, b'0' | b'\0' | b'7' | b'x' | b'g' | b'Z');
        let data: &[u8] = if carries_data { &e.data } else { &[] };
        h.set_size(e.claimed.unwrap_or(data.len() as u64));
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        pad(&mut out);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn pad(out: &mut Vec<u8>) {
    out.resize(out.len().div_ceil(512) * 512, 0);
}

/// A generated layer, sometimes with bytes flipped or cut short, sometimes gzipped.
fn layer() -> impl Strategy<Value = (Vec<u8>, bool)> {
    (
        prop::collection::vec(entry(), 0..8),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        prop::option::weighted(0.15, any::<prop::sample::Index>()),
        any::<bool>(),
    )
        .prop_map(|(entries, flips, cut, gzip)| {
            let mut t = tar_of(&entries);
            for (at, bits) in flips {
                let i = at.index(t.len());
                t[i] ^= bits;
            }
            if let Some(cut) = cut {
                t.truncate(cut.index(t.len() + 1));
            }
            (t, gzip)
        })
}

/// Everything under `dir` with its type, mode, size and link target, for before/after
/// comparisons.
fn listing(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let link = std::fs::read_link(&p).ok();
            out.push(format!(
                "{} {:?} {:o} {} {link:?}",
                p.display(),
                m.file_type(),
                std::os::unix::fs::PermissionsExt::mode(&m.permissions()),
                m.len()
            ));
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Applies `tar` under a scratch directory beside an `outside` one and checks that only
/// the target changed.
fn apply_checked(tar: Vec<u8>, gzip: bool) -> Result<(), TestCaseError> {
    let scratch = tempfile::tempdir().unwrap();
    let target = scratch.path().join("target");
    let outside = scratch.path().join("outside");
    std::fs::create_dir(&target).unwrap();
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("marker"), b"keep").unwrap();
    let before = listing(&outside);
    // The tar reader alone: it must end (Ok or a format error), never panic.
    let mut measure = layer::MeasuringReader::new(&tar[..]);
    let _ = std::io::copy(&mut measure, &mut std::io::sink());
    let opts = layer::ApplyOptions::default();
    if gzip {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &tar).unwrap();
        let blob = gz.finish().unwrap();
        let _ = layer::apply_layer_auto(&target, std::io::Cursor::new(blob), &opts);
    } else {
        let _ = layer::apply_layer(&target, &tar[..], &opts);
    }
    prop_assert_eq!(
        listing(&outside),
        before,
        "the layer wrote outside its directory"
    );
    let mut marker = String::new();
    std::fs::File::open(outside.join("marker"))
        .unwrap()
        .read_to_string(&mut marker)
        .unwrap();
    prop_assert_eq!(marker, "keep");
    let mut top: Vec<String> = std::fs::read_dir(scratch.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    prop_assert_eq!(
        top,
        ["outside", "target"],
        "the layer wrote beside its directory"
    );
    prop_assert!(
        !Path::new("/abs").exists(),
        "an absolute name was written on the host"
    );
    Ok(())
}

proptest! {
    #![proptest_config(config(1000))]

    #[test]
    fn layers_apply_inside_their_directory_or_fail((tar, gzip) in layer()) {
        bounded("applying a layer", Duration::from_secs(20), move || apply_checked(tar, gzip))?;
    }

    #[test]
    fn the_tar_reader_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        bounded("reading bytes as a tar", Duration::from_secs(10), move || {
            let mut r = layer::MeasuringReader::new(&bytes[..]);
            let _ = std::io::copy(&mut r, &mut std::io::sink());
            let scratch = tempfile::tempdir().unwrap();
            let _ = layer::apply_layer_auto(scratch.path(), std::io::Cursor::new(bytes), &layer::ApplyOptions::default());
        });
    }
}
