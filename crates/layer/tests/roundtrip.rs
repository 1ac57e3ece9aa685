//! Creating layers from trees and applying them back: metadata survives, output is
//! deterministic, digests match.

mod common;

use std::fs;
use std::io::Read;

use common::{LONG, build_tree, describe};

use layer::{
    ApplyOptions, Compression, CreateOptions, apply_layer, apply_layer_auto,
    create_compressed_layer, create_layer,
};
use oci::Digest;

fn tar_names(tar: &[u8]) -> Vec<(String, u64)> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                String::from_utf8(e.path_bytes().into_owned()).unwrap(),
                e.header().mtime().unwrap(),
            )
        })
        .collect()
}

#[test]
fn create_then_apply_preserves_everything() {
    assert!(
        rustix::process::geteuid().is_root(),
        "needs root for chown and mknod"
    );
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let dst = tmp.path().join("dst");
    fs::create_dir(&src).unwrap();
    fs::create_dir(&dst).unwrap();
    build_tree(&src);

    let mut tar = Vec::new();
    create_layer(&src, &mut tar, &CreateOptions::default()).unwrap();
    let report = apply_layer(&dst, &tar[..], &ApplyOptions::default()).unwrap();
    assert_eq!(report.bytes, 12 + 300_000 + 4);
    assert_eq!(describe(&src), describe(&dst));
    let d = describe(&dst);
    assert!(
        d["d/f"].contains("mode=104755 uid=1234 gid=5678"),
        "{}",
        d["d/f"]
    );
    assert!(d["hard"].contains("link=d/f"), "{}", d["hard"]);
    assert!(d["sticky"].contains("mode=41777"), "{}", d["sticky"]);
    assert!(d["null"].contains(&format!("rdev={}", rustix::fs::makedev(1, 3))));

    // Entry order and naming.
    let names: Vec<String> = tar_names(&tar).into_iter().map(|(n, _)| n).collect();
    // Depth first, children sorted by name bytes: `a-...` sorts before `abs-link`.
    assert_eq!(names[0], "a-directory-name-that-is-quite-long-on-purpose/");
    assert_eq!(names[1], LONG);
    assert_eq!(names[2], "abs-link");
    assert!(names.contains(&"d/".to_string()));
    assert!(names.contains(&"d/sub/big".to_string()));
    assert!(names.contains(&LONG.to_string()));
    assert!(
        names
            .iter()
            .all(|n| !n.starts_with("./") && !n.starts_with('/'))
    );
    let d_pos = names.iter().position(|n| n == "d/").unwrap();
    let df_pos = names.iter().position(|n| n == "d/f").unwrap();
    assert!(d_pos < df_pos, "parents before children");

    // Applying the copy and creating again gives the very same bytes.
    let mut again = Vec::new();
    create_layer(&dst, &mut again, &CreateOptions::default()).unwrap();
    assert!(tar == again, "re-created layer differs");
}

#[test]
fn creation_is_deterministic_and_clamps_mtimes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    build_tree(&src);
    let mut a = Vec::new();
    let mut b = Vec::new();
    create_layer(&src, &mut a, &CreateOptions::default()).unwrap();
    create_layer(&src, &mut b, &CreateOptions::default()).unwrap();
    assert!(a == b);

    let mut clamped = Vec::new();
    create_layer(
        &src,
        &mut clamped,
        &CreateOptions::with_source_date_epoch(1_600_005_000),
    )
    .unwrap();
    let times = tar_names(&clamped);
    assert!(times.iter().all(|(_, t)| *t <= 1_600_005_000));
    assert!(times.iter().any(|(_, t)| *t == 1_600_005_000));
    assert!(
        times.iter().any(|(_, t)| *t < 1_600_005_000),
        "older mtimes kept"
    );
    assert!(a != clamped);
}

#[test]
fn compressed_creation_and_auto_apply_agree_on_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    build_tree(&src);
    let mut tar = Vec::new();
    create_layer(&src, &mut tar, &CreateOptions::default()).unwrap();
    let diff_id = Digest::sha256_of(&tar);
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let mut blob = Vec::new();
        let d = create_compressed_layer(&src, &mut blob, c, &CreateOptions::default()).unwrap();
        assert_eq!(d.diff_id, diff_id, "{c}");
        assert_eq!(d.digest, Digest::sha256_of(&blob), "{c}");
        assert_eq!(d.size, blob.len() as u64);
        assert_eq!(d.uncompressed_size, tar.len() as u64);

        let dst = tmp.path().join(format!("dst-{c}"));
        fs::create_dir(&dst).unwrap();
        let (report, got) =
            apply_layer_auto(&dst, std::io::Cursor::new(blob), &ApplyOptions::default()).unwrap();
        assert_eq!(got, diff_id, "{c}");
        assert!(report.entries > 10);
        assert_eq!(describe(&src), describe(&dst), "{c}");
    }
}

#[test]
fn diff_id_covers_trailing_padding() {
    // Real tars often end with more zero blocks than the two the format needs.
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("f"), "x").unwrap();
    let mut tar = Vec::new();
    create_layer(&src, &mut tar, &CreateOptions::default()).unwrap();
    tar.extend_from_slice(&[0u8; 10240]);
    let dst = tmp.path().join("dst");
    fs::create_dir(&dst).unwrap();
    let mut r = std::io::Cursor::new(tar.clone());
    let mut copy = Vec::new();
    r.read_to_end(&mut copy).unwrap();
    let (_, got) =
        apply_layer_auto(&dst, std::io::Cursor::new(copy), &ApplyOptions::default()).unwrap();
    assert_eq!(got, Digest::sha256_of(&tar));
}

/// GNU tar reads what we write (PAX long names, xattrs, devices, links), and we apply
/// what GNU tar writes (`./`-prefixed names, its own PAX records).
#[test]
fn gnu_tar_interoperates() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    build_tree(&src);

    let ours = tmp.path().join("ours.tar");
    create_layer(
        &src,
        fs::File::create(&ours).unwrap(),
        &CreateOptions::default(),
    )
    .unwrap();
    let by_gnu = tmp.path().join("by-gnu");
    fs::create_dir(&by_gnu).unwrap();
    let st = std::process::Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--same-owner", "-xpf"])
        .arg(&ours)
        .arg("-C")
        .arg(&by_gnu)
        .status()
        .expect("GNU tar must be installed");
    assert!(st.success());
    // GNU tar restores directory mtimes too; everything must match.
    assert_eq!(describe(&src), describe(&by_gnu));

    let theirs = tmp.path().join("theirs.tar");
    let st = std::process::Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "--format=pax", "-cf"])
        .arg(&theirs)
        .arg("-C")
        .arg(&src)
        .arg(".")
        .status()
        .unwrap();
    assert!(st.success());
    let by_us = tmp.path().join("by-us");
    fs::create_dir(&by_us).unwrap();
    apply_layer(
        &by_us,
        fs::File::open(&theirs).unwrap(),
        &ApplyOptions::default(),
    )
    .unwrap();
    assert_eq!(describe(&src), describe(&by_us));
}

/// Regression: a container's upper dir carries overlayfs's own xattrs (binary file handles,
/// here with a newline in the value). They are not image content, and a tar reader that
/// splits PAX records on newlines failed on them ("malformed pax extension").
#[test]
fn overlay_bookkeeping_xattrs_stay_out_of_layers() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("file");
    std::fs::write(&f, b"data").unwrap();
    rustix::fs::setxattr(
        &f,
        "trusted.overlay.origin",
        b"\x00\xfb\n=binary\n",
        rustix::fs::XattrFlags::empty(),
    )
    .expect("needs root for trusted.* xattrs");
    rustix::fs::setxattr(&f, "user.kept", b"yes", rustix::fs::XattrFlags::empty()).unwrap();
    let mut tar_bytes = Vec::new();
    layer::create_layer(dir.path(), &mut tar_bytes, &layer::CreateOptions::default()).unwrap();
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let mut keys = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        if let Some(exts) = e.pax_extensions().unwrap() {
            for ext in exts {
                keys.push(ext.unwrap().key().unwrap().to_string());
            }
        }
    }
    assert!(
        keys.iter().any(|k| k == "SCHILY.xattr.user.kept"),
        "{keys:?}"
    );
    assert!(!keys.iter().any(|k| k.contains("overlay")), "{keys:?}");
}

/// Regression: writers that leave numeric fields unset (all NUL, as `tar::Header::new_gnu`
/// does for uid/gid) are read as GNU tar and Go read them: as 0.
#[test]
fn empty_numeric_header_fields_read_as_zero() {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(3);
    h.set_mode(0o644);
    h.set_mtime(0);
    assert!(h.uid().is_err(), "the header leaves uid empty");
    b.append_data(&mut h, "f.txt", &b"abc"[..]).unwrap();
    let tar_bytes = b.into_inner().unwrap();
    let root = tempfile::tempdir().unwrap();
    layer::apply_layer(root.path(), &tar_bytes[..], &layer::ApplyOptions::default()).unwrap();
    assert_eq!(std::fs::read(root.path().join("f.txt")).unwrap(), b"abc");
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(root.path().join("f.txt")).unwrap().uid(),
        0
    );
}
