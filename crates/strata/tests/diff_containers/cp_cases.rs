//! `cp`, from the `docker cp` reference: both directions, files and directories, each
//! DEST case (missing, existing file, existing directory, trailing `/`), `/.` (contents),
//! `-a` ownership, `-L` and a symlink source without it, `-` as a tar on stdout and stdin,
//! the errors, created, exited and running containers, volumes and bind mounts.

use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use super::case::{Case, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    script("cp_out_dest_cases", cp_out_dest_cases),
    script("cp_in_dest_cases", cp_in_dest_cases),
    script("cp_archive_ownership", cp_archive_ownership),
    script("cp_symlinks", cp_symlinks),
    script("cp_stdout_tar", cp_stdout_tar),
    script("cp_stdin_tar", cp_stdin_tar),
    script("cp_errors", cp_errors),
    script("cp_running_container", cp_running_container),
    script("cp_volumes_and_binds", cp_volumes_and_binds),
    script("cp_link_cannot_escape", cp_link_cannot_escape),
];

/// What lists a container's `/tmp` (names, types, modes, owners, sizes) when it starts.
const LIST_TMP: &str = "find /tmp | sort | xargs stat -c '%n %F %a %u:%g %s'";

/// A host tree, one line per entry, sorted: path, type, mode, owner, size, and a file's
/// content or a link's target.
fn host_listing(root: &Path) -> String {
    let mut lines = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let m = fs::symlink_metadata(&p).unwrap();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            let mut line = format!("{rel} {:o} {}:{} ", m.mode() & 0o7777, m.uid(), m.gid());
            if m.file_type().is_symlink() {
                let _ = write!(line, "-> {}", fs::read_link(&p).unwrap().display());
            } else if m.is_dir() {
                line.push_str("dir");
                stack.push(p);
            } else {
                let _ = write!(line, "{:?}", fs::read_to_string(&p).unwrap_or_default());
            }
            lines.push(line);
        }
    }
    lines.sort();
    lines.join("\n")
}

/// A tar archive's entries in order: name, type, mode, owner, size, link target.
fn tar_listing(bytes: &[u8]) -> String {
    let mut a = tar::Archive::new(bytes);
    let Ok(entries) = a.entries() else {
        return "not a tar".into();
    };
    let mut lines = Vec::new();
    for e in entries {
        let Ok(e) = e else {
            lines.push("bad entry".to_string());
            break;
        };
        let h = e.header();
        lines.push(format!(
            "{} {:?} {:o} {}:{} {} {}",
            String::from_utf8_lossy(&e.path_bytes()),
            h.entry_type(),
            h.mode().unwrap_or(0) & 0o7777,
            h.uid().unwrap_or(0),
            h.gid().unwrap_or(0),
            h.size().unwrap_or(0),
            e.link_name()
                .ok()
                .flatten()
                .map(|l| l.display().to_string())
                .unwrap_or_default()
        ));
    }
    lines.join("\n")
}

fn write(path: &Path, text: &str, mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// The host's source tree: `src/f` (0640), `src/sub/g`, and a file `file` (0600).
fn host_sources(s: &Side) {
    let d = s.dir();
    write(&d.join("src/f"), "f\n", 0o640);
    write(&d.join("src/sub/g"), "g\n", 0o644);
    fs::set_permissions(d.join("src/sub"), fs::Permissions::from_mode(0o750)).unwrap();
    write(&d.join("file"), "file\n", 0o600);
}

fn cp_out_dest_cases(s: &Side) {
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "mkdir -p /d/sub && echo one > /d/f && echo two > /d/sub/g && chmod 640 /d/f \
             && chmod 750 /d/sub",
        ],
        Cmp::Code,
    );
    let d = s.dir();
    write(&d.join("out/existing"), "old\n", 0o644);
    fs::create_dir_all(d.join("out/into")).unwrap();
    fs::create_dir_all(d.join("out/contents")).unwrap();
    for (src, dst) in [
        // A file: to a missing path (saved as it), over a file, into a directory.
        ("@name:/d/f", "@dir/out/new"),
        ("@name:/d/f", "@dir/out/existing"),
        ("@name:/d/f", "@dir/out/into"),
        // A file to a missing path with a trailing `/`: an error.
        ("@name:/d/f", "@dir/out/nodir/"),
        // A directory: created as a missing path, copied into a directory.
        ("@name:/d", "@dir/out/newdir"),
        ("@name:/d/", "@dir/out/into"),
        // `/.`: the contents.
        ("@name:/d/.", "@dir/out/contents"),
        ("@name:/d/.", "@dir/out/newcontents"),
        // A directory onto a file: an error.
        ("@name:/d", "@dir/out/existing"),
    ] {
        s.step(&["cp", src, dst], Cmp::Full);
    }
    s.step(
        &["container", "cp", "@name:/d/sub/g", "@dir/out/g"],
        Cmp::Full,
    );
    s.note("host tree", &host_listing(&d.join("out")));
}

fn cp_in_dest_cases(s: &Side) {
    host_sources(s);
    // Never started: the copies go into its writable layer.
    s.step(
        &["create", "--name", "@name", "bb", "sh", "-c", LIST_TMP],
        Cmp::Code,
    );
    for (src, dst) in [
        ("@dir/file", "@name:/tmp/new"),
        ("@dir/file", "@name:/tmp"),
        ("@dir/src/f", "@name:/tmp/new"),
        ("@dir/file", "@name:/tmp/nodir/"),
        ("@dir/src", "@name:/tmp/newdir"),
        ("@dir/src/", "@name:/tmp"),
        ("@dir/src/.", "@name:/tmp/contents"),
        ("@dir/src/.", "@name:/tmp/newdir"),
        ("@dir/src", "@name:/tmp/new"),
    ] {
        s.step(&["cp", src, dst], Cmp::Full);
    }
    // `/.` into an existing directory: what becomes of the directory's own mode.
    write(&s.dir().join("private/p"), "p\n", 0o644);
    fs::set_permissions(s.dir().join("private"), fs::Permissions::from_mode(0o700)).unwrap();
    s.step(&["cp", "@dir/private/.", "@name:/tmp/contents"], Cmp::Full);
    s.step(
        &["container", "cp", "@dir/file", "@name:/tmp/via-container"],
        Cmp::Full,
    );
    s.step(&["start", "-a", "@name"], Cmp::Out);
}

fn cp_archive_ownership(s: &Side) {
    let d = s.dir();
    write(&d.join("owned"), "mine\n", 0o640);
    std::os::unix::fs::lchown(d.join("owned"), Some(1234), Some(5678)).unwrap();
    for (name, user) in [("@name", None), ("@name-nobody", Some("nobody"))] {
        let mut args = vec!["create", "--name", name];
        if let Some(u) = user {
            args.extend(["-u", u]);
        }
        args.push("bb");
        if user.is_none() {
            // Listed inside too (busybox has no user `nobody`: that one cannot start).
            args.extend(["sh", "-c", LIST_TMP]);
        }
        s.step(&args, Cmp::Code);
        s.step(
            &["cp", "@dir/owned", &format!("{name}:/tmp/plain")],
            Cmp::Full,
        );
        s.step(
            &["cp", "-a", "@dir/owned", &format!("{name}:/tmp/archived")],
            Cmp::Full,
        );
        // Listed from the archive of /tmp: the owners as the files have them.
        let tmp = s.step(&["cp", &format!("{name}:/tmp"), "-"], Cmp::Code);
        s.note(&format!("{name} /tmp"), &tar_listing(tmp.stdout.as_bytes()));
        if user.is_none() {
            s.step(&["start", "-a", name], Cmp::Out);
        }
    }
    // A user the daemon cannot look up.
    s.step(
        &["create", "--name", "@name-numeric", "-u", "4321:10", "bb"],
        Cmp::Code,
    );
    s.step(
        &["cp", "-a", "@dir/owned", "@name-numeric:/tmp/x"],
        Cmp::Full,
    );
    s.step(&["cp", "@dir/owned", "@name-numeric:/tmp/x"], Cmp::Full);
    // Copied out: the files belong to who copies, with or without -a.
    fs::create_dir_all(d.join("back")).unwrap();
    s.step(
        &["cp", "-a", "@name-numeric:/tmp/x", "@dir/back/"],
        Cmp::Full,
    );
    s.note("copied back", &host_listing(&d.join("back")));
}

fn cp_symlinks(s: &Side) {
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "mkdir -p /d && echo t > /d/target && ln -s target /d/link && ln -s /d /dirlink",
        ],
        Cmp::Code,
    );
    let d = s.dir();
    fs::create_dir_all(d.join("out/dir")).unwrap();
    for args in [
        // Without -L the link itself is copied.
        &["cp", "@name:/d/link", "@dir/out/nolink"][..],
        &["cp", "-L", "@name:/d/link", "@dir/out/followed"],
        &["cp", "--follow-link", "@name:/d/link", "@dir/out/dir"],
        // A trailing `/` follows a link to a directory.
        &["cp", "@name:/dirlink/", "@dir/out/viaslash"],
        &["cp", "@name:/dirlink", "@dir/out/linkonly"],
    ] {
        s.step(args, Cmp::Full);
    }
    s.note("host tree", &host_listing(&d.join("out")));
    write(&d.join("in/target"), "host\n", 0o644);
    std::os::unix::fs::symlink("target", d.join("in/hostlink")).unwrap();
    s.step(
        &["create", "--name", "@name-in", "bb", "sh", "-c", LIST_TMP],
        Cmp::Code,
    );
    s.step(&["cp", "@dir/in/hostlink", "@name-in:/tmp/"], Cmp::Full);
    s.step(
        &["cp", "-L", "@dir/in/hostlink", "@name-in:/tmp/followed"],
        Cmp::Full,
    );
    s.step(&["start", "-a", "@name-in"], Cmp::Out);
}

fn cp_stdout_tar(s: &Side) {
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "mkdir -p /d/s && echo a > /d/a && echo b > /d/s/b && ln -s a /d/l && chmod 600 /d/a",
        ],
        Cmp::Code,
    );
    for src in [
        "@name:/d",
        "@name:/d/",
        "@name:/d/.",
        "@name:/d/a",
        "@name:/d/l",
    ] {
        let out = s.step(&["cp", src, "-"], Cmp::Code);
        s.note(
            &format!("{src} entries"),
            &tar_listing(out.stdout.as_bytes()),
        );
    }
    let out = s.step(&["cp", "-L", "@name:/d/l", "-"], Cmp::Code);
    s.note("-L entries", &tar_listing(out.stdout.as_bytes()));
    // The whole root: how its entries are named (what the root holds is the engines' own).
    let out = s.step(&["cp", "@name:/", "-"], Cmp::Code);
    let listing = tar_listing(out.stdout.as_bytes());
    let first: Vec<&str> = listing.lines().take(2).collect();
    s.note("root entries start", &first.join("\n"));
}

/// A small tar, all ASCII (the step's stdin is text): `x/`, `x/y`, `top`.
fn stdin_tar() -> String {
    let mut b = tar::Builder::new(Vec::new());
    let mut dir = tar::Header::new_ustar();
    dir.set_entry_type(tar::EntryType::Directory);
    dir.set_mode(0o705);
    dir.set_size(0);
    dir.set_mtime(1_600_000_000);
    b.append_data(&mut dir, "x/", std::io::empty()).unwrap();
    for (name, mode, uid, text) in [("x/y", 0o640, 42, "yes\n"), ("top", 0o644, 0, "top\n")] {
        let mut h = tar::Header::new_ustar();
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(uid);
        h.set_size(text.len() as u64);
        h.set_mtime(1_600_000_000);
        b.append_data(&mut h, name, text.as_bytes()).unwrap();
    }
    String::from_utf8(b.into_inner().unwrap()).unwrap()
}

fn cp_stdin_tar(s: &Side) {
    s.step(
        &["create", "--name", "@name", "bb", "sh", "-c", LIST_TMP],
        Cmp::Code,
    );
    let tar = stdin_tar();
    s.step_in(&["cp", "-", "@name:/tmp"], &tar, Cmp::Full);
    // The destination must be an existing directory.
    s.step_in(&["cp", "-", "@name:/tmp/missing"], &tar, Cmp::Full);
    s.step_in(&["cp", "-", "@name:/tmp/top"], &tar, Cmp::Full);
    s.step(&["start", "-a", "@name"], Cmp::Out);
}

fn cp_errors(s: &Side) {
    host_sources(s);
    write(&s.dir().join("over/etc"), "a file\n", 0o644);
    write(&s.dir().join("over/passwd/inside"), "a dir\n", 0o644);
    s.step(&["create", "--name", "@name", "bb"], Cmp::Code);
    for args in [
        // A missing container or source path.
        &["cp", "dc-no-such-container:/etc/passwd", "@dir/x"][..],
        &["cp", "@name:/no/such/file", "@dir/x"],
        &["cp", "@dir/file", "dc-no-such-container:/tmp"],
        &["cp", "@dir/file", "dc-no-such-container:/tmp/"],
        &["cp", "@dir/no-such-file", "@name:/tmp"],
        &["cp", "@dir/file", "@name:/no/such/dir/x"],
        // A directory onto a file, both ways.
        &["cp", "@dir/src", "@name:/etc/passwd"],
        &["cp", "@name:/etc", "@dir/file"],
        // The output's directory must exist.
        &["cp", "@name:/etc/passwd", "@dir/no/such/x"],
        &["cp", "@name:/etc/passwd", "/dev/null"],
        // No container, or two.
        &["cp", "@dir/file", "@dir/other"],
        &["cp", "@name:/etc/passwd", "@name:/tmp"],
        // Extracting onto a file.
        &["cp", "@dir/file", "@name:/etc/passwd/x"],
        // A file over a directory, a directory over a file: refused, both ways.
        &["cp", "@dir/over/etc", "@name:/"],
        &["cp", "@dir/over/passwd/", "@name:/etc/"],
        &["cp", "@name:/etc", "@dir/over/"],
        &["cp", "@name:/etc/passwd", "@dir/over/passwd/.."],
    ] {
        s.step(args, Cmp::Full);
    }
    s.step(&["cp", "@name:/etc/passwd"], Cmp::Code);
}

fn cp_running_container(s: &Side) {
    host_sources(s);
    s.step(
        &["run", "-d", "--name", "@name", "bb", "sleep", "1000"],
        Cmp::Code,
    );
    s.step(&["cp", "@dir/src", "@name:/tmp/live"], Cmp::Full);
    s.step(
        &[
            "exec",
            "@name",
            "sh",
            "-c",
            "find /tmp | sort | xargs stat -c '%n %F %a %s'",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "exec",
            "@name",
            "sh",
            "-c",
            "mkdir /made && echo inside > /made/f",
        ],
        Cmp::Code,
    );
    s.step(&["cp", "@name:/made", "@dir/made"], Cmp::Full);
    // The container's own /etc/hostname, as it sees it.
    s.step(
        &["cp", "@name:/etc/hostname", "@dir/made/hostname"],
        Cmp::Full,
    );
    let host = fs::read_to_string(s.dir().join("made/hostname")).unwrap_or_default();
    s.note("its /etc/hostname", &host);
    s.step(&["exec", "@name", "cat", "/etc/hostname"], Cmp::Out);
    fs::remove_file(s.dir().join("made/hostname")).ok();
    s.note("host tree", &host_listing(&s.dir().join("made")));
    // Paused: the copies still go both ways.
    s.step(&["pause", "@name"], Cmp::Code);
    s.step(&["cp", "@dir/file", "@name:/paused"], Cmp::Full);
    let tar = s.step(&["cp", "@name:/paused", "-"], Cmp::Code);
    s.note("paused, to stdout", &tar_listing(tar.stdout.as_bytes()));
    s.step(&["unpause", "@name"], Cmp::Code);
    s.step(&["exec", "@name", "cat", "/paused"], Cmp::Out);
    s.step(&["stop", "-t", "0", "@name"], Cmp::Code);
    let tar = s.step(&["cp", "@name:/tmp/live/f", "-"], Cmp::Code);
    s.note("stopped, to stdout", &tar_listing(tar.stdout.as_bytes()));
    s.step(&["cp", "@name:/made/f", "@dir/after-stop"], Cmp::Full);
    s.note(
        "after stop",
        &fs::read_to_string(s.dir().join("after-stop")).unwrap_or_default(),
    );
}

fn cp_volumes_and_binds(s: &Side) {
    host_sources(s);
    fs::create_dir_all(s.dir().join("bind")).unwrap();
    // A created container: its volume and bind mount are where the copy goes.
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "-v",
            "@vol:/data",
            "-v",
            "@dir/bind:/bind",
            "-v",
            "@vol:/ro:ro",
            "bb",
            "sh",
            "-c",
            "ls -ln /data /bind | sort",
        ],
        Cmp::Code,
    );
    s.step(&["cp", "@dir/file", "@name:/data/in-volume"], Cmp::Full);
    s.step(&["cp", "@dir/src", "@name:/bind/"], Cmp::Full);
    s.step(&["cp", "@dir/file", "@name:/ro/x"], Cmp::Full);
    s.note("bind tree", &host_listing(&s.dir().join("bind")));
    s.step(
        &["run", "--rm", "-v", "@vol:/v", "bb", "cat", "/v/in-volume"],
        Cmp::Out,
    );
    let tar = s.step(&["cp", "@name:/data/in-volume", "-"], Cmp::Code);
    s.note("from the volume", &tar_listing(tar.stdout.as_bytes()));
    // And a running one.
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name-live",
            "-v",
            "@vol:/data",
            "bb",
            "sleep",
            "1000",
        ],
        Cmp::Code,
    );
    s.step(&["cp", "@dir/src/f", "@name-live:/data/live"], Cmp::Full);
    s.step(
        &["exec", "@name-live", "cat", "/data/live", "/data/in-volume"],
        Cmp::Out,
    );
    s.step(&["rm", "-f", "@name-live"], Cmp::Code);
    s.step(
        &["run", "--rm", "-v", "@vol:/v", "bb", "cat", "/v/live"],
        Cmp::Out,
    );
    // A read-only root filesystem takes copies only into its volumes.
    s.step(
        &[
            "create",
            "--name",
            "@name-ro",
            "--read-only",
            "-v",
            "@vol:/data",
            "bb",
        ],
        Cmp::Code,
    );
    s.step(&["cp", "@dir/file", "@name-ro:/tmp/x"], Cmp::Full);
    s.step(&["cp", "@dir/file", "@name-ro:/data/ro-ok"], Cmp::Full);
    s.step(
        &["run", "--rm", "-v", "@vol:/v", "bb", "ls", "/v"],
        Cmp::Out,
    );
}

fn cp_link_cannot_escape(s: &Side) {
    host_sources(s);
    // The case's directory above both sides' own: the same path on both.
    let host = s.dir().parent().unwrap();
    let d = host.display().to_string();
    // Links to the host's directory (by absolute path, and by climbing with `..`) resolve
    // inside the container.
    let setup = format!(
        "mkdir -p {d} && ln -s {d} /abs && ln -s ../../../../../../..{d} /tmp/up && \
         ls -d {d}"
    );
    s.step(
        &["run", "--name", "@name", "bb", "sh", "-c", &setup],
        Cmp::Code,
    );
    s.step(&["cp", "@dir/file", "@name:/abs/escaped"], Cmp::Full);
    s.step(&["cp", "@dir/file", "@name:/tmp/up/escaped2"], Cmp::Full);
    s.step(&["cp", "@dir/src", "@name:/abs/"], Cmp::Full);
    s.note(
        "on the host",
        &format!(
            "{} {} {}",
            host.join("escaped").exists(),
            host.join("escaped2").exists(),
            host.join("src").exists()
        ),
    );
    let inside = s.step(&["cp", "@name:/abs/", "-"], Cmp::Code);
    s.note("inside", &tar_listing(inside.stdout.as_bytes()));
}
