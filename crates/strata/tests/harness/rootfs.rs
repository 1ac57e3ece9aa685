//! Container tests' fixture: a store holding a busybox image built in the test from the
//! host's `/bin/busybox` (`busybox-static`, or `busybox` with its libraries), and checks that nothing
//! leaks (mounts, container directories, volumes).
//!
//! These tests need root, overlayfs and runc; without them they fail, never skip.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::{Env, require};

/// The applets linked in the test image's `/bin`.
const APPLETS: &[&str] = &[
    "sh", "echo", "cat", "sleep", "id", "ls", "mkdir", "rm", "true", "false", "env", "pwd", "nc",
    "httpd", "test", "printf", "kill", "touch", "wc", "uname",
];

/// Writes the test root filesystem into `root`: busybox, passwd/group with `app` (1000)
/// in `wheel` (10), and files the layer tests change (`/gone`, `/kept`, `/dir/old`).
pub fn busybox_rootfs(root: &Path) {
    let busybox = Path::new("/bin/busybox");
    assert!(
        busybox.exists(),
        "/bin/busybox is required: run scripts/install-peers.sh (apt-get install busybox-static or busybox)"
    );
    busybox_rootfs_with(root, busybox);
}

/// Debian's static busybox for the Debian architecture `arch` (`arm64`, `armhf`), which
/// `scripts/foreign-busybox.sh` fetches (`apt-get download busybox-static:ARCH`): the
/// multi-platform tests' foreign base images are made from it.
pub fn foreign_busybox(arch: &str) -> PathBuf {
    let dir = std::env::var_os("STRATA_PEERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/strata-peers"));
    let path = dir.join(format!("busybox-{arch}"));
    assert!(
        path.is_file(),
        "{} is required: run scripts/install-peers.sh (it runs scripts/foreign-busybox.sh)",
        path.display()
    );
    path
}

/// A tar of the test root filesystem for `platform` (`linux/amd64`, `linux/arm64`,
/// `linux/arm/v7`), written under `env` as `rootfs-<arch>.tar`: the host's busybox for the
/// host's architecture, Debian's foreign one ([`foreign_busybox`]) for another. Import it
/// with `strata import --platform PLATFORM`.
pub fn platform_rootfs_tar(env: &Env, platform: &str) -> PathBuf {
    let arch = platform.split('/').nth(1).expect("os/arch[/variant]");
    let host = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("tests written for amd64/arm64 hosts, not {other}"),
    };
    let busybox = if arch == host {
        PathBuf::from("/bin/busybox")
    } else {
        foreign_busybox(if arch == "arm" { "armhf" } else { arch })
    };
    let root = env.path(&format!("rootfs-{arch}"));
    busybox_rootfs_with(&root, &busybox);
    let tar = env.path(&format!("rootfs-{arch}.tar"));
    let mut b = tar::Builder::new(fs::File::create(&tar).unwrap());
    b.follow_symlinks(false);
    b.append_dir_all(".", &root).unwrap();
    b.finish().unwrap();
    tar
}

/// [`busybox_rootfs`] with another busybox binary (a foreign one: [`foreign_busybox`]).
pub fn busybox_rootfs_with(root: &Path, busybox: &Path) {
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::copy(busybox, root.join("bin/busybox")).unwrap();
    copy_libs(root, busybox);
    for a in APPLETS {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(a)).unwrap();
    }
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\n",
    )
    .unwrap();
    fs::write(
        root.join("etc/group"),
        "root:x:0:\nwheel:x:10:app\napp:x:1000:\n",
    )
    .unwrap();
    fs::create_dir_all(root.join("dir")).unwrap();
    fs::write(root.join("dir/old"), "lower\n").unwrap();
    fs::write(root.join("gone"), "lower\n").unwrap();
    fs::write(root.join("kept"), "lower\n").unwrap();
    fs::create_dir_all(root.join("tmp")).unwrap();
}

/// Copies the shared libraries `ldd` lists for `binary` into `root` (none for the static
/// busybox of `busybox-static`; Debian's `busybox` package is dynamically linked).
fn copy_libs(root: &Path, binary: &Path) {
    let Ok(out) = Command::new("ldd").arg(binary).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            let dest = root.join(p.trim_start_matches('/'));
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::copy(p, &dest).unwrap();
        }
    }
}

/// A store with the image `bb` (busybox, `PATH=/bin`, `CMD ["sh"]`) on which the test
/// runs containers. On drop, whatever a failed test left running is removed.
pub struct Containers {
    /// The store and its scratch directory.
    pub env: Env,
}

impl std::ops::Deref for Containers {
    type Target = Env;
    fn deref(&self) -> &Env {
        &self.env
    }
}

impl Containers {
    /// Checks root and runc, builds the rootfs tar and imports it as `bb`.
    pub fn new() -> Containers {
        assert!(
            rustix::process::geteuid().is_root(),
            "container tests need root (overlayfs mounts, runc)"
        );
        require("runc");
        let env = Env::new();
        let rootfs = env.path("rootfs");
        busybox_rootfs(&rootfs);
        let tar = env.path("rootfs.tar");
        let mut b = tar::Builder::new(fs::File::create(&tar).unwrap());
        b.follow_symlinks(false);
        b.append_dir_all(".", &rootfs).unwrap();
        b.finish().unwrap();
        let c = Containers { env };
        c.image("bb", &["ENV PATH=/bin", "CMD [\"sh\"]"]);
        c
    }

    /// Imports the same root filesystem as `name` with `--change` lines.
    pub fn image(&self, name: &str, changes: &[&str]) {
        let tar = self.path("rootfs.tar");
        let mut args = vec!["import".to_string()];
        for c in changes {
            args.push("-c".into());
            args.push(c.to_string());
        }
        args.push(tar.to_string_lossy().into_owned());
        args.push(name.into());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.ok(&args);
    }

    /// Runs `strata ARGS` with `input` on its stdin.
    pub fn run_with_input(&self, args: &[&str], input: &[u8]) -> Output {
        use std::io::Write;
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }

    /// Exit code, stdout and stderr of `strata ARGS`.
    pub fn status(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.run(args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Mount points under the store.
    pub fn mounts(&self) -> Vec<String> {
        let prefix = self.root().to_string_lossy().into_owned();
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|mp| mp.starts_with(&prefix))
            .map(str::to_string)
            .collect()
    }

    /// Names of the entries of `<store>/containers`, `<store>/volumes` and the OCI
    /// runtime's state directory, dot files aside.
    pub fn leftovers(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in ["containers", "volumes", "runtime/runc"] {
            if let Ok(rd) = fs::read_dir(self.root().join(d)) {
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if !n.starts_with('.') {
                        out.push(format!("{d}/{n}"));
                    }
                }
            }
        }
        out.sort();
        out
    }

    /// Nothing leaks: no container (not even a stopped one), no mount under the store, no
    /// container directory, no volume.
    pub fn assert_clean(&self) {
        assert_eq!(self.ok(&["ps", "-aq"]), "", "containers left");
        assert_eq!(self.mounts(), Vec::<String>::new(), "mounts left");
        assert_eq!(self.leftovers(), Vec::<String>::new(), "directories left");
    }

    /// Polls `cond` for up to 20 s.
    pub fn eventually(&self, what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        // A failed test may leave containers running: remove them, then any mount.
        if let Ok(out) = self.cmd(&["ps", "-aq", "--no-trunc"]).output() {
            for id in String::from_utf8_lossy(&out.stdout).lines() {
                let _ = self.cmd(&["rm", "-f", "-v", id]).output();
            }
        }
        for mp in self.mounts() {
            let _ = Command::new("umount").arg("-l").arg(&mp).status();
        }
    }
}
