//! The walker's layer semantics on synthetic layers: which packages the final filesystem
//! holds and which layer brought each, through rewrites, whiteouts and opaque directories.

use std::io::Read;

use scan::catalog::{CatalogError, Cataloger, FileMeta, Reading};
use scan::package::{Found, PackageKind};
use scan::walk::Walker;

/// Reads `db/*.txt` files of `name version` lines, as a package database would be.
struct Lines;

impl Cataloger for Lines {
    fn kind(&self) -> PackageKind {
        PackageKind::Python
    }
    fn wants(&self, file: &FileMeta) -> bool {
        file.path.starts_with("db/") && file.path.ends_with(".txt")
    }
    fn read(&self, file: &FileMeta, content: &mut dyn Read) -> Result<Reading, CatalogError> {
        let mut text = String::new();
        content
            .read_to_string(&mut text)
            .map_err(|source| CatalogError::Io {
                path: file.path.clone(),
                source,
            })?;
        let mut reading = Reading::default();
        for (i, line) in text.lines().enumerate() {
            let Some((name, version)) = line.split_once(' ') else {
                return Err(CatalogError::Malformed {
                    path: file.path.clone(),
                    line: i + 1,
                    reason: "expected `name version`".into(),
                });
            };
            reading.packages.push(Found {
                name: name.into(),
                version: version.into(),
                ..Found::default()
            });
        }
        Ok(reading)
    }
}

enum E<'a> {
    File(&'a str, &'a str),
    Dir(&'a str),
    Link(&'a str, &'a str),
}

fn layer(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        match e {
            E::File(path, body) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(body.len() as u64);
                h.set_mode(0o644);
                b.append_data(&mut h, path, body.as_bytes()).unwrap();
            }
            E::Dir(path) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_mode(0o755);
                b.append_data(&mut h, path, &[][..]).unwrap();
            }
            E::Link(path, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_size(0);
                b.append_link(&mut h, path, target).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// `(name, version, path, layer)` of every package after walking `layers`.
fn walk(layers: &[Vec<u8>]) -> Vec<(String, String, String, usize)> {
    let cats: Vec<Box<dyn Cataloger>> = vec![Box::new(Lines)];
    let mut w = Walker::new(&cats, None);
    for l in layers {
        w.layer(l.as_slice()).unwrap();
    }
    w.finish()
        .packages
        .into_iter()
        .map(|p| (p.found.name, p.found.version, p.path, p.layer))
        .collect()
}

fn p(n: &str, v: &str, path: &str, l: usize) -> (String, String, String, usize) {
    (n.into(), v.into(), path.into(), l)
}

#[test]
fn a_rewritten_database_keeps_each_package_in_the_layer_that_added_it() {
    let got = walk(&[
        layer(&[E::Dir("db/"), E::File("db/status.txt", "a 1\nb 1\n")]),
        layer(&[E::File("db/status.txt", "a 1\nb 2\nc 1\n")]),
        layer(&[E::File("./db/status.txt", "a 1\nb 2\nc 1\nd 1\n")]),
    ]);
    assert_eq!(
        got,
        vec![
            p("a", "1", "db/status.txt", 0),
            // Upgraded in layer 1: that layer brought this version.
            p("b", "2", "db/status.txt", 1),
            p("c", "1", "db/status.txt", 1),
            p("d", "1", "db/status.txt", 2),
        ]
    );
}

#[test]
fn whiteouts_and_opaque_directories_take_packages_away() {
    let got = walk(&[
        layer(&[
            E::File("db/x.txt", "x 1\n"),
            E::File("db/y.txt", "y 1\n"),
            E::File("db/sub/z.txt", "z 1\n"),
            E::File("db/sub/w.txt", "w 1\n"),
        ]),
        layer(&[
            E::File("db/.wh.x.txt", ""),
            // The opaque marker hides layer 0's db/sub; layer 1's own file stays.
            E::File("db/sub/new.txt", "n 1\n"),
            E::File("db/sub/.wh..wh..opq", ""),
        ]),
    ]);
    assert_eq!(
        got,
        vec![p("n", "1", "db/sub/new.txt", 1), p("y", "1", "db/y.txt", 0)]
    );
}

#[test]
fn a_directory_whiteout_or_a_link_over_a_file_removes_what_was_there() {
    let got = walk(&[
        layer(&[
            E::File("db/a/one.txt", "one 1\n"),
            E::File("db/b/two.txt", "two 1\n"),
            E::File("db/three.txt", "three 1\n"),
        ]),
        layer(&[
            E::File("db/.wh.a", ""),
            E::Link("db/b", "/elsewhere"),
            E::Link("db/three.txt", "/elsewhere"),
        ]),
    ]);
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn a_file_deleted_then_added_again_belongs_to_the_layer_that_added_it_back() {
    let got = walk(&[
        layer(&[E::File("db/s.txt", "a 1\n")]),
        layer(&[E::File("db/.wh.s.txt", "")]),
        layer(&[E::File("db/s.txt", "a 1\n")]),
    ]);
    assert_eq!(got, vec![p("a", "1", "db/s.txt", 2)]);
}

#[test]
fn a_malformed_database_stops_the_walk_naming_layer_path_and_line() {
    let cats: Vec<Box<dyn Cataloger>> = vec![Box::new(Lines)];
    let mut w = Walker::new(&cats, None);
    w.layer(layer(&[E::File("db/s.txt", "a 1\n")]).as_slice())
        .unwrap();
    let err = w
        .layer(layer(&[E::File("db/s.txt", "a 1\nbroken\n")]).as_slice())
        .unwrap_err()
        .to_string();
    assert_eq!(err, "layer 1: db/s.txt: line 2: expected `name version`");
}

#[test]
fn a_truncated_layer_is_an_error_not_an_empty_layer() {
    let cats: Vec<Box<dyn Cataloger>> = vec![Box::new(Lines)];
    let mut w = Walker::new(&cats, None);
    let full = layer(&[E::File("db/s.txt", &"a 1\n".repeat(400))]);
    let err = w.layer(&full[..700]).unwrap_err().to_string();
    assert!(err.starts_with("layer 0: "), "{err}");
}

#[test]
fn a_directory_reads_as_one_layer() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("db/sub")).unwrap();
    std::fs::write(dir.path().join("db/s.txt"), "a 1\n").unwrap();
    std::fs::write(dir.path().join("db/sub/t.txt"), "b 2\n").unwrap();
    std::fs::write(dir.path().join("other.txt"), "c 3\n").unwrap();
    std::fs::write(
        dir.path().join("etc-os-release"),
        "ID=debian\nVERSION_ID=\"12\"\n",
    )
    .unwrap();
    let cats: Vec<Box<dyn Cataloger>> = vec![Box::new(Lines)];
    let mut w = Walker::new(&cats, None);
    w.directory(dir.path()).unwrap();
    let inv = w.finish();
    let got: Vec<_> = inv
        .packages
        .into_iter()
        .map(|p| (p.found.name, p.path, p.layer))
        .collect();
    assert_eq!(
        got,
        vec![
            ("a".to_string(), "db/s.txt".to_string(), 0),
            ("b".to_string(), "db/sub/t.txt".to_string(), 0)
        ]
    );
}

#[test]
fn os_release_is_read_from_etc_then_usr_lib() {
    let cats: Vec<Box<dyn Cataloger>> = vec![];
    let mut w = Walker::new(&cats, None);
    w.layer(
        layer(&[
            E::File("usr/lib/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
            E::Link("etc/os-release", "../usr/lib/os-release"),
        ])
        .as_slice(),
    )
    .unwrap();
    let d = w.finish().distro.unwrap();
    assert_eq!((d.id.as_str(), d.version_id.as_str()), ("debian", "12"));
}
