//! A full disk: the store on a small tmpfs. A command that runs out of space fails with
//! one line that says `no space left on device` and what to do, exits as Docker's would,
//! and leaves nothing half-written that `prune` cannot remove. Needs root (to mount the
//! tmpfs); fails without.

mod harness;

use std::path::{Path, PathBuf};

use harness::Env;
use harness::rootfs::busybox_rootfs;

/// The tmpfs under the store, unmounted on drop (before the temp dir goes).
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> SmallDisk {
        assert!(
            rustix::process::geteuid().is_root(),
            "the full-disk tests mount a tmpfs: run them as root"
        );
        std::fs::create_dir_all(at).unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .unwrap();
        assert!(status.success(), "mounting a tmpfs at {}", at.display());
        SmallDisk(at.to_path_buf())
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A tar of one file of `len` random bytes (incompressible), named `name`.
fn random_tar(env: &Env, name: &str, len: usize) -> PathBuf {
    let mut bytes = vec![0u8; len];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in bytes.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let tar = env.path(&format!("{name}.tar"));
    let mut h = tar::Header::new_gnu();
    h.set_size(len as u64);
    h.set_mode(0o644);
    h.set_cksum();
    let mut b = tar::Builder::new(std::fs::File::create(&tar).unwrap());
    b.append_data(&mut h, name, bytes.as_slice()).unwrap();
    b.finish().unwrap();
    tar
}

/// The store's database (with SQLite's files) and its event journal, which records the
/// failures too; both are bounded.
fn kept_by_design(p: &Path) -> bool {
    let name = p.file_name().unwrap().to_string_lossy();
    name.starts_with("metadata.db") || name == "events.log"
}

/// Regular files of the store other than those [`kept_by_design`], with their sizes: what
/// a failed command may have left.
fn leftovers(root: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() && meta.len() > 0 && !kept_by_design(&p) {
                out.push((p, meta.len()));
            }
        }
    }
    out
}

/// One line, Docker's words and a way out.
fn assert_full(code: i32, err: &str, want_code: i32) {
    assert_eq!(code, want_code, "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("no space left on device"), "{err}");
    assert!(err.contains("strata system prune"), "{err}");
}

#[test]
fn a_full_disk_fails_in_one_line_and_prune_takes_what_was_left() {
    let env = Env::new();
    let _disk = SmallDisk::mount(&env.root(), "8m");
    let rootfs = env.path("rootfs");
    busybox_rootfs(&rootfs);
    let bb = env.path("bb.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&bb).unwrap());
    b.follow_symlinks(false);
    b.append_dir_all(".", &rootfs).unwrap();
    b.finish().unwrap();
    env.ok(&["import", "-c", "ENV PATH=/bin", bb.to_str().unwrap(), "bb"]);
    let big = random_tar(&env, "big", 12 << 20);

    let (code, err) = env.fails(&["import", big.to_str().unwrap(), "big"]);
    assert_full(code, &err, 1);

    let ctx = env.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(&big, ctx.join("big.tar")).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM bb\nCOPY big.tar /\n").unwrap();
    let (code, err) = env.fails(&["build", "-q", "-t", "bigb", ctx.to_str().unwrap()]);
    assert_full(code, &err, 1);

    // A run whose container fills its writable layer: the container's own failure. The
    // disk is full when it exits; the run still exits with its code (once a failure to
    // record the exit left a silent 125 and the container).
    let out = env.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "bb",
        "sh",
        "-c",
        "head -c 12000000 /dev/zero > /fill 2>/dev/null; echo $?",
    ]);
    assert_eq!(out, "1\n");
    // `--rm` removed it, though its layer filled the disk its exit is recorded on.
    assert_eq!(env.ok(&["ps", "-aq"]), "");

    // Only bb's content is kept; prune takes the rest of what the failures left.
    env.ok(&["system", "prune", "-a", "-f"]);
    env.ok(&["builder", "prune", "-a", "-f"]);
    assert_eq!(leftovers(&env.root()), Vec::<(PathBuf, u64)>::new());
    // And the store works again once there is room.
    env.ok(&["import", "-c", "ENV PATH=/bin", bb.to_str().unwrap(), "bb"]);
    assert_eq!(
        env.ok(&["run", "--rm", "--network", "none", "bb", "echo", "ok"]),
        "ok\n"
    );
}
