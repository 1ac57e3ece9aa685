//! Applying layers: whiteouts, opaque directories, replacement rules, and a table of
//! hostile tars that must never touch anything outside the root.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use layer::{ApplyOptions, LayerError, apply_layer};
use tar::{EntryType, Header};

/// A tar entry, written with raw name bytes so hostile names survive.
enum E<'a> {
    File(&'a str, &'a str),
    Dir(&'a str),
    Sym(&'a str, &'a str),
    Hard(&'a str, &'a str),
    Char(&'a str),
    Mode(&'a str, u32),
    Dir2(&'a str, u32),
}

fn tar_of(entries: &[E<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = Header::new_gnu();
        let (name, kind, data, link, mode): (&str, EntryType, &[u8], &str, u32) = match e {
            E::File(n, d) => (n, EntryType::Regular, d.as_bytes(), "", 0o644),
            E::Mode(n, m) => (n, EntryType::Regular, b"", "", *m),
            E::Dir(n) => (n, EntryType::Directory, b"", "", 0o755),
            E::Dir2(n, m) => (n, EntryType::Directory, b"", "", *m),
            E::Sym(n, t) => (n, EntryType::Symlink, b"", t, 0o777),
            E::Hard(n, t) => (n, EntryType::Link, b"", t, 0o644),
            E::Char(n) => (n, EntryType::Char, b"", "", 0o666),
        };
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_mtime(1_500_000_000);
        h.set_uid(0);
        h.set_gid(0);
        h.set_size(data.len() as u64);
        if kind == EntryType::Char {
            h.set_device_major(1).unwrap();
            h.set_device_minor(3).unwrap();
        }
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

/// Everything under `dir` except `skip`: path → (kind, mode, size, mtime, nlink, content).
fn snapshot(dir: &Path, skip: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p == skip {
                continue;
            }
            let m = fs::symlink_metadata(&p).unwrap();
            let content = if m.is_file() {
                fs::read_to_string(&p).unwrap_or_default()
            } else if m.is_symlink() {
                fs::read_link(&p).unwrap().display().to_string()
            } else {
                String::new()
            };
            out.insert(
                p.clone(),
                format!(
                    "{:o} {} {} {} {} {}",
                    m.mode(),
                    m.size(),
                    m.mtime(),
                    m.nlink(),
                    m.uid(),
                    content
                ),
            );
            if m.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

struct Sandbox {
    _tmp: tempfile::TempDir,
    top: PathBuf,
    root: PathBuf,
    outside: PathBuf,
}

fn sandbox() -> Sandbox {
    let tmp = tempfile::tempdir().unwrap();
    let top = tmp.path().to_path_buf();
    let root = top.join("root");
    let outside = top.join("outside");
    fs::create_dir(&root).unwrap();
    fs::create_dir(&outside).unwrap();
    fs::write(outside.join("sentinel"), "sentinel").unwrap();
    fs::create_dir(outside.join("subdir")).unwrap();
    fs::write(outside.join("subdir/keep"), "keep").unwrap();
    fs::write(top.join("beside"), "beside").unwrap();
    Sandbox {
        _tmp: tmp,
        top,
        root,
        outside,
    }
}

fn passwd_state() -> String {
    let m = fs::symlink_metadata("/etc/passwd").unwrap();
    format!("{} {} {} {:o}", m.ino(), m.nlink(), m.mtime(), m.mode())
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Want {
    /// Applied, with every effect inside the root.
    Contained,
    /// Refused because the path is unsafe.
    Unsafe,
    /// Refused for another reason (missing target, parent not a directory, ...).
    Error,
}

/// A hostile case: label, symlinks already in the root (name, target), the tar, outcome.
type Case = (
    &'static str,
    Vec<(&'static str, &'static str)>,
    Vec<E<'static>>,
    Want,
);

#[test]
fn hostile_tars_never_touch_anything_outside_root() {
    let passwd = passwd_state();
    // `@O` is replaced by the absolute path of the outside directory.
    let cases: Vec<Case> = vec![
        (
            "dotdot",
            vec![],
            vec![E::File("../evil", "x")],
            Want::Unsafe,
        ),
        (
            "dotdot outside sentinel",
            vec![],
            vec![E::File("../outside/sentinel", "pwned")],
            Want::Unsafe,
        ),
        (
            "absolute name",
            vec![],
            vec![E::File("/abs/evil", "x")],
            Want::Contained,
        ),
        (
            "inner dotdot",
            vec![],
            vec![E::File("a/../../evil", "x")],
            Want::Unsafe,
        ),
        ("dotdot dir", vec![], vec![E::Dir("../evil/")], Want::Unsafe),
        (
            "dotdot symlink",
            vec![],
            vec![E::Sym("../evil", "/etc/passwd")],
            Want::Unsafe,
        ),
        (
            "dotdot device",
            vec![],
            vec![E::Char("../null")],
            Want::Unsafe,
        ),
        (
            "symlink abs then through",
            vec![],
            vec![E::Sym("l", "@O"), E::File("l/evil", "x")],
            Want::Error,
        ),
        (
            "symlink abs then overwrite",
            vec![],
            vec![E::Sym("l", "@O"), E::File("l/sentinel", "pwned")],
            Want::Error,
        ),
        (
            "symlink up then through",
            vec![],
            vec![E::Sym("l", "../../"), E::File("l/evil", "x")],
            Want::Contained,
        ),
        (
            "symlink rel outside then through",
            vec![],
            vec![E::Sym("l", "../outside"), E::File("l/sentinel", "pwned")],
            Want::Error,
        ),
        (
            "symlink chain",
            vec![],
            vec![
                E::Sym("a", "b"),
                E::Sym("b", "../../.."),
                E::File("a/evil", "x"),
            ],
            Want::Contained,
        ),
        (
            "symlink then dir through",
            vec![],
            vec![E::Sym("l", "@O"), E::Dir("l/newdir/")],
            Want::Error,
        ),
        (
            "pre-existing symlink dir",
            vec![("pre", "@O")],
            vec![E::File("pre/sentinel", "pwned")],
            Want::Error,
        ),
        (
            "pre-existing symlink dir, new file",
            vec![("pre", "@O")],
            vec![E::File("pre/subdir/evil", "x")],
            Want::Error,
        ),
        (
            "pre-existing relative symlink",
            vec![("pre", "../outside")],
            vec![E::File("pre/sentinel", "pwned")],
            Want::Error,
        ),
        (
            "pre-existing symlink file replaced",
            vec![("pf", "@O/sentinel")],
            vec![E::File("pf", "pwned")],
            Want::Contained,
        ),
        (
            "pre-existing symlink file chmod",
            vec![("pf", "@O/sentinel")],
            vec![E::Mode("pf", 0o4777)],
            Want::Contained,
        ),
        (
            "symlink entry then chmod by name",
            vec![],
            vec![E::Sym("l", "@O/sentinel"), E::Mode("l", 0o777)],
            Want::Contained,
        ),
        (
            "symlink entry then dir by name",
            vec![],
            vec![E::Sym("l", "@O"), E::Dir("l/")],
            Want::Contained,
        ),
        (
            "symlink then symlink-named dir mode",
            vec![],
            vec![E::Sym("l", "@O"), E::Dir("l/./")],
            Want::Contained,
        ),
        (
            "hardlink dotdot",
            vec![],
            vec![E::Hard("h", "../outside/sentinel")],
            Want::Unsafe,
        ),
        (
            "hardlink absolute outside",
            vec![],
            vec![E::Hard("h", "@O/sentinel")],
            Want::Error,
        ),
        (
            "hardlink /etc/passwd",
            vec![],
            vec![E::Hard("h", "/etc/passwd")],
            Want::Error,
        ),
        (
            "hardlink through symlinked dir",
            vec![],
            vec![E::Sym("s", "@O"), E::Hard("h", "s/sentinel")],
            Want::Error,
        ),
        (
            "hardlink through pre-existing symlink",
            vec![("pre", "../outside")],
            vec![E::Hard("h", "pre/sentinel")],
            Want::Error,
        ),
        (
            "hardlink to symlink to outside",
            vec![],
            vec![
                E::Sym("s", "@O/sentinel"),
                E::Hard("h", "s"),
                E::File("h", "pwned"),
            ],
            Want::Contained,
        ),
        (
            "hardlink name dotdot",
            vec![],
            vec![E::File("f", "x"), E::Hard("../evil", "f")],
            Want::Unsafe,
        ),
        (
            "whiteout dotdot",
            vec![],
            vec![E::File(".wh...", "")],
            Want::Unsafe,
        ),
        (
            "whiteout dot",
            vec![],
            vec![E::File("a/.wh..", "")],
            Want::Unsafe,
        ),
        (
            "whiteout empty",
            vec![],
            vec![E::File(".wh.", "")],
            Want::Unsafe,
        ),
        (
            "whiteout dotdot path",
            vec![],
            vec![E::File(".wh.../outside/sentinel", "")],
            Want::Unsafe,
        ),
        (
            "whiteout escaping dir",
            vec![],
            vec![E::File("../.wh.outside", "")],
            Want::Unsafe,
        ),
        (
            "whiteout through symlink",
            vec![],
            vec![E::Sym("l", "@O"), E::File("l/.wh.sentinel", "")],
            Want::Contained,
        ),
        (
            "whiteout through relative symlink",
            vec![],
            vec![E::Sym("l", "../outside"), E::File("l/.wh.sentinel", "")],
            Want::Contained,
        ),
        (
            "whiteout through pre-existing symlink",
            vec![("pre", "@O")],
            vec![E::File("pre/.wh.subdir", "")],
            Want::Contained,
        ),
        (
            "whiteout of symlink removes only the link",
            vec![("pre", "@O")],
            vec![E::File(".wh.pre", "")],
            Want::Contained,
        ),
        (
            "opaque through symlink",
            vec![],
            vec![E::Sym("l", "@O"), E::File("l/.wh..wh..opq", "")],
            Want::Contained,
        ),
        (
            "opaque through pre-existing symlink",
            vec![("pre", "@O")],
            vec![E::File("pre/.wh..wh..opq", "")],
            Want::Contained,
        ),
        (
            "opaque of root via symlink to /",
            vec![("pre", "@O")],
            vec![E::Sym("r", "/"), E::File("r/.wh..wh..opq", "")],
            Want::Contained,
        ),
        (
            "file under a file",
            vec![],
            vec![E::File("f", "x"), E::File("f/evil", "x")],
            Want::Error,
        ),
        ("empty name", vec![], vec![E::File("", "x")], Want::Error),
        (
            "root entry only",
            vec![],
            vec![E::Dir("./"), E::Dir("/")],
            Want::Contained,
        ),
    ];
    for (label, pre, entries, want) in cases {
        let sb = sandbox();
        let o = sb.outside.to_str().unwrap().to_string();
        for (name, target) in &pre {
            std::os::unix::fs::symlink(target.replace("@O", &o), sb.root.join(name)).unwrap();
        }
        // Substitute the outside path into names and link targets.
        let owned: Vec<(String, String, u8, u32)> = entries
            .iter()
            .map(|e| match e {
                E::File(n, d) => (n.replace("@O", &o), d.to_string(), b'f', 0),
                E::Mode(n, m) => (n.replace("@O", &o), String::new(), b'm', *m),
                E::Dir(n) => (n.replace("@O", &o), String::new(), b'd', 0),
                E::Dir2(n, m) => (n.replace("@O", &o), String::new(), b'D', *m),
                E::Sym(n, t) => (n.replace("@O", &o), t.replace("@O", &o), b's', 0),
                E::Hard(n, t) => (n.replace("@O", &o), t.replace("@O", &o), b'h', 0),
                E::Char(n) => (n.replace("@O", &o), String::new(), b'c', 0),
            })
            .collect();
        let entries: Vec<E<'_>> = owned
            .iter()
            .map(|(n, x, k, m)| match k {
                b'f' => E::File(n, x),
                b'm' => E::Mode(n, *m),
                b'd' => E::Dir(n),
                b'D' => E::Dir2(n, *m),
                b's' => E::Sym(n, x),
                b'h' => E::Hard(n, x),
                _ => E::Char(n),
            })
            .collect();
        let tar = tar_of(&entries);
        let before = snapshot(&sb.top, &sb.root);
        let result = apply_layer(&sb.root, &tar[..], &ApplyOptions::default());
        let after = snapshot(&sb.top, &sb.root);
        assert_eq!(before, after, "{label}: something outside the root changed");
        assert_eq!(
            fs::read_to_string(sb.outside.join("sentinel")).unwrap(),
            "sentinel",
            "{label}"
        );
        assert_eq!(passwd_state(), passwd, "{label}: /etc/passwd changed");
        assert!(!Path::new("/abs/evil").exists(), "{label}");
        assert!(!Path::new("/evil").exists(), "{label}");
        match (want, &result) {
            (Want::Contained, Ok(_)) => {}
            (Want::Unsafe, Err(LayerError::UnsafePath { .. })) => {}
            (Want::Error, Err(e)) if !matches!(e, LayerError::UnsafePath { .. }) => {}
            _ => panic!("{label}: wanted {want:?}, got {result:?}"),
        }
        if let Err(e) = &result {
            assert!(
                e.to_string().contains(&owned.last().unwrap().0)
                    || owned
                        .iter()
                        .any(|(n, ..)| e.to_string().contains(n.trim_end_matches('/'))),
                "{label}: error does not name the entry: {e}"
            );
        }
    }
}

#[test]
fn contained_escapes_land_inside_root() {
    let sb = sandbox();
    let tar = tar_of(&[
        E::File("/abs/evil", "a"),
        E::Sym("up", "../../"),
        E::File("up/via-up", "b"),
        E::Sym("s", "/etc/passwd"),
        E::Mode("s", 0o777),
    ]);
    apply_layer(&sb.root, &tar[..], &ApplyOptions::default()).unwrap();
    assert_eq!(fs::read_to_string(sb.root.join("abs/evil")).unwrap(), "a");
    assert_eq!(fs::read_to_string(sb.root.join("via-up")).unwrap(), "b");
    // The file entry replaced the symlink rather than writing through it.
    assert!(fs::symlink_metadata(sb.root.join("s")).unwrap().is_file());
}

#[test]
fn errors_name_the_entry() {
    let sb = sandbox();
    let tar = tar_of(&[E::File("f", "x"), E::File("f/child", "y")]);
    let err = apply_layer(&sb.root, &tar[..], &ApplyOptions::default()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("f/child") && msg.contains("not a directory"),
        "{msg}"
    );

    let tar = tar_of(&[E::Hard("h", "missing")]);
    let msg = apply_layer(&sb.root, &tar[..], &ApplyOptions::default())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("\"h\"") && msg.contains("missing"), "{msg}");
}

fn read(p: impl AsRef<Path>) -> String {
    fs::read_to_string(p).unwrap()
}

#[test]
fn whiteouts_and_opaque_directories_over_a_lower_layer() {
    let sb = sandbox();
    let lower = tar_of(&[
        E::Dir("a/"),
        E::File("a/x", "x"),
        E::File("a/y", "y"),
        E::Dir("b/"),
        E::File("b/z", "z"),
        E::Dir("c/"),
        E::File("c/keep", "keep"),
        E::Dir("o/"),
        E::File("o/lower1", "1"),
        E::Dir("o/sub/"),
        E::File("o/sub/lower2", "2"),
        E::Dir("p/"),
        E::File("p/lower", "l"),
        E::File("f", "file"),
        E::Dir("keepdir/"),
        E::File("keepdir/old", "old"),
    ]);
    apply_layer(&sb.root, &lower[..], &ApplyOptions::default()).unwrap();

    let upper = tar_of(&[
        E::File(".wh.b", ""),
        E::File("a/.wh.x", ""),
        E::File("c", "now a file"),
        E::Dir("f/"),
        E::File("f/inside", "dir now"),
        E::Dir("keepdir/"),
        E::File("keepdir/new", "new"),
        E::Dir2("keepdir/", 0o700),
        // Entries before the opaque marker stay; everything from below goes.
        E::Dir("o/"),
        E::File("o/new1", "n1"),
        E::Dir("o/sub/"),
        E::File("o/sub/new3", "n3"),
        E::File("o/.wh..wh..opq", ""),
        E::File("o/new2", "n2"),
        // Opaque marker first (the usual order).
        E::File("p/.wh..wh..opq", ""),
        E::File("p/upper", "u"),
        // Whiteout of something that does not exist is fine.
        E::File("nothere/.wh.ghost", ""),
        E::File(".wh.ghost", ""),
        E::Dir(".wh..wh.plnk/"),
        E::File(".wh..wh.plnk/123.456", "aufs"),
        // A regular entry with a trailing slash is a directory (pre-POSIX tars).
        E::File("olddir/", ""),
    ]);
    let report = apply_layer(&sb.root, &upper[..], &ApplyOptions::default()).unwrap();
    assert_eq!(report.whiteouts, 6);
    let r = &sb.root;
    assert!(!r.join("b").exists());
    assert!(!r.join("a/x").exists());
    assert_eq!(read(r.join("a/y")), "y");
    assert_eq!(read(r.join("c")), "now a file");
    assert_eq!(read(r.join("f/inside")), "dir now");
    assert_eq!(read(r.join("keepdir/old")), "old");
    assert_eq!(read(r.join("keepdir/new")), "new");
    // A directory listed twice takes the metadata of its last entry.
    let mode = fs::metadata(r.join("keepdir"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o700);
    let mut o: Vec<String> = fs::read_dir(r.join("o"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    o.sort();
    assert_eq!(o, ["new1", "new2", "sub"]);
    let sub: Vec<_> = fs::read_dir(r.join("o/sub")).unwrap().collect();
    assert_eq!(sub.len(), 1);
    assert_eq!(read(r.join("o/sub/new3")), "n3");
    assert!(!r.join("p/lower").exists());
    assert_eq!(read(r.join("p/upper")), "u");
    assert!(!r.join(".wh..wh.plnk").exists());
    assert!(fs::symlink_metadata(r.join("olddir")).unwrap().is_dir());
    // Directory mtimes are set after their children were added.
    let m = fs::metadata(r.join("o")).unwrap();
    assert_eq!(m.mtime(), 1_500_000_000);
    assert_eq!(m.permissions().mode() & 0o7777, 0o755);
}

#[test]
fn hardlinks_and_replacement() {
    let sb = sandbox();
    let tar = tar_of(&[
        E::File("f", "data"),
        E::Hard("h", "f"),
        E::Hard("/abs-h", "/f"),
        E::Hard("f", "f"),
    ]);
    apply_layer(&sb.root, &tar[..], &ApplyOptions::default()).unwrap();
    let f = fs::metadata(sb.root.join("f")).unwrap();
    assert_eq!(f.nlink(), 3);
    assert_eq!(fs::metadata(sb.root.join("h")).unwrap().ino(), f.ino());
    assert_eq!(fs::metadata(sb.root.join("abs-h")).unwrap().ino(), f.ino());
    // Rewriting a hardlinked path makes a new file; the other link keeps its content.
    let tar = tar_of(&[E::File("h", "new")]);
    apply_layer(&sb.root, &tar[..], &ApplyOptions::default()).unwrap();
    assert_eq!(read(sb.root.join("f")), "data");
    assert_eq!(read(sb.root.join("h")), "new");
}

/// Runs as an unprivileged child (uid 65534) to check device handling without CAP_MKNOD.
#[test]
fn device_nodes_when_not_permitted() {
    if let Ok(dir) = std::env::var("LAYER_TEST_UNPRIVILEGED_ROOT") {
        let tar = tar_of(&[
            E::File("before", "x"),
            E::Char("null"),
            E::File("after", "y"),
        ]);
        let root = Path::new(&dir);
        let mut opts = ApplyOptions::default();
        assert!(
            !opts.chown && opts.ignore_device_errors,
            "defaults for non-root"
        );
        let report = apply_layer(root, &tar[..], &opts).unwrap();
        assert_eq!(report.skipped_devices, 1);
        assert!(root.join("after").exists() && !root.join("null").exists());
        opts.ignore_device_errors = false;
        let err = apply_layer(root, &tar[..], &opts).unwrap_err();
        assert!(err.to_string().contains("null"), "{err}");
        // A read-only directory still gets its children: modes are set at the end.
        let tar = tar_of(&[
            E::Dir2("ro/", 0o555),
            E::File("ro/x", "x"),
            E::Dir2("ro/sub/", 0o500),
            E::File("ro/sub/y", "y"),
        ]);
        apply_layer(root, &tar[..], &ApplyOptions::default()).unwrap();
        assert_eq!(read(root.join("ro/sub/y")), "y");
        let mode = fs::metadata(root.join("ro")).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o555);
        return;
    }
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root to start an unprivileged child"
    );
    let sb = sandbox();
    fs::set_permissions(&sb.top, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&sb.root, Some(65534), Some(65534)).unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "device_nodes_when_not_permitted", "--nocapture"])
        .env("LAYER_TEST_UNPRIVILEGED_ROOT", &sb.root)
        .uid(65534)
        .gid(65534)
        .status()
        .unwrap();
    assert!(status.success(), "unprivileged child failed");
    // As root, the device is created.
    let tar = tar_of(&[E::Char("null")]);
    let report = apply_layer(&sb.root, &tar[..], &ApplyOptions::default()).unwrap();
    assert_eq!(report.skipped_devices, 0);
    let m = fs::symlink_metadata(sb.root.join("null")).unwrap();
    assert_eq!(m.rdev(), rustix::fs::makedev(1, 3));
}

#[test]
fn truncated_tars() {
    let tar = tar_of(&[E::File("a", "hello"), E::File("b", "world!")]);
    // a: header 0..512, data 512..517; b: header 1024..1536, data 1536..1542.
    assert_eq!(&tar[1536..1542], b"world!");
    let sb = sandbox();
    // No padding after the last data and no end blocks (umoci writes these): accepted.
    apply_layer(&sb.root, &tar[..1542], &ApplyOptions::default()).unwrap();
    assert_eq!(read(sb.root.join("b")), "world!");
    // Cut inside file data: an error naming the entry, not a short file.
    let err = apply_layer(&sb.root, &tar[..1540], &ApplyOptions::default()).unwrap_err();
    assert!(err.to_string().contains("\"b\""), "{err}");
    // Cut inside a header.
    assert!(apply_layer(&sb.root, &tar[..1200], &ApplyOptions::default()).is_err());
    // Cut inside the first entry's padding, before the next header: the next header is
    // missing, which is the end of the archive for Go's reader and for us.
    apply_layer(&sb.root, &tar[..700], &ApplyOptions::default()).unwrap();
}

/// With `no_overwrite_dir_non_dir` (how `docker cp` extracts), an entry never replaces a
/// directory with a non-directory or the reverse; without it, it does.
#[test]
fn no_overwrite_dir_non_dir_refuses_both_replacements() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fs::create_dir(root.join("dir")).unwrap();
    fs::write(root.join("dir/keep"), "k").unwrap();
    fs::write(root.join("file"), "f").unwrap();
    let mut opts = ApplyOptions::default();
    opts.no_overwrite_dir_non_dir = true;
    for (entries, existing_dir) in [
        (vec![E::File("dir", "x")], true),
        (vec![E::Sym("dir", "file")], true),
        (vec![E::Dir("file")], false),
    ] {
        match apply_layer(root, &tar_of(&entries)[..], &opts) {
            Err(LayerError::Overwrite {
                existing_dir: e, ..
            }) => assert_eq!(e, existing_dir),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
    assert!(root.join("dir/keep").is_file() && root.join("file").is_file());
    // Same kinds merge and replace as usual.
    apply_layer(
        root,
        &tar_of(&[E::Dir("dir"), E::File("file", "new")])[..],
        &opts,
    )
    .unwrap();
    assert_eq!(fs::read_to_string(root.join("file")).unwrap(), "new");
    apply_layer(
        root,
        &tar_of(&[E::File("dir", "x")])[..],
        &ApplyOptions::default(),
    )
    .unwrap();
    assert!(
        root.join("dir").is_file(),
        "a layer replaces whatever is there"
    );
}
