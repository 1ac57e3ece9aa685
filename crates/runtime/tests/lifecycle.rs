//! End to end: a test image built from the host's binaries, run with runc on overlayfs.
//!
//! Needs root, overlayfs and runc (`apt-get install runc`); without them these tests fail.
//! The image is made in the test: `/bin/sh` and a few tools with their shared libraries
//! (from `ldd`), or a static `/bin/busybox` when the host has one.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use runtime::Status;
use runtime::{Attach, OciRuntime, RunOptions, RuntimeError, container};
use store::Store;

const TOOLS: [&str; 7] = ["sh", "true", "cat", "sleep", "id", "rm", "mkdir"];

/// Copies `bin` (found on the host) and the libraries `ldd` lists into `root`.
fn copy_with_libs(root: &Path, name: &str) {
    let host = ["/bin", "/usr/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("host has no {name}"));
    fs::copy(&host, root.join("bin").join(name)).unwrap();
    copy_libs(root, &host);
}

/// Copies the shared libraries `ldd` lists for `binary` into `root`.
fn copy_libs(root: &Path, binary: &Path) {
    let out = Command::new("ldd").arg(binary).output().expect("ldd");
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

fn base_rootfs(root: &Path) {
    fs::create_dir_all(root.join("bin")).unwrap();
    if Path::new("/bin/busybox").exists() {
        fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
        for t in TOOLS {
            std::os::unix::fs::symlink("busybox", root.join("bin").join(t)).unwrap();
        }
    } else {
        for t in TOOLS {
            copy_with_libs(root, t);
        }
    }
    // This test binary runs in containers too (bind-mounted), as a TCP server.
    copy_libs(root, &std::env::current_exe().unwrap());
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
    fs::write(root.join("gone"), "lower").unwrap();
    fs::write(root.join("kept"), "lower").unwrap();
    fs::create_dir_all(root.join("opq")).unwrap();
    fs::write(root.join("opq/old"), "lower").unwrap();
    // The image's VOLUME, as a Dockerfile's VOLUME leaves it: a directory in the image.
    fs::create_dir_all(root.join("vol")).unwrap();
}

/// A second layer: deletes /gone, makes /opq opaque with one new file.
fn top_layer(root: &Path) {
    fs::create_dir_all(root.join("opq")).unwrap();
    fs::write(root.join(".wh.gone"), "").unwrap();
    fs::write(root.join("opq/.wh..wh..opq"), "").unwrap();
    fs::write(root.join("opq/new"), "top").unwrap();
    fs::write(root.join("added"), "top").unwrap();
}

/// Stores the layer of `dir`: gzip for small ones, uncompressed for big ones (debug-mode
/// gzip is slow).
fn put_layer(store: &Store, dir: &Path, gzip: bool) -> (oci::Descriptor, oci::Digest) {
    let mut blob = Vec::new();
    let (compression, media_type) = if gzip {
        (layer::Compression::Gzip, oci::media::OCI_LAYER_GZIP)
    } else {
        (layer::Compression::None, oci::media::OCI_LAYER)
    };
    let d = layer::create_compressed_layer(
        dir,
        &mut blob,
        compression,
        &layer::CreateOptions::default(),
    )
    .unwrap();
    let desc = store.put_blob_bytes(media_type, &blob).unwrap();
    (desc, d.diff_id)
}

struct Fixture {
    dir: tempfile::TempDir,
    store: Store,
    runtime: OciRuntime,
}

impl Drop for Fixture {
    /// Nothing may stay mounted below the test's directory, whatever happened.
    fn drop(&mut self) {
        let prefix = self.dir.path().to_string_lossy().into_owned();
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for mp in info.lines().filter_map(|l| l.split(' ').nth(4)) {
            if mp.starts_with(&prefix) {
                let _ = rustix::mount::unmount(mp, rustix::mount::UnmountFlags::DETACH);
            }
        }
    }
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("store")).unwrap();
        let runtime = OciRuntime::detect(Some("runc"), store.root())
            .expect("runc is needed: apt-get install runc");
        let base = dir.path().join("base");
        let top = dir.path().join("top");
        base_rootfs(&base);
        top_layer(&top);
        let (l1, d1) = put_layer(&store, &base, false);
        let (l2, d2) = put_layer(&store, &top, true);
        let mut config = oci::ImageConfig {
            architecture: "amd64".into(),
            os: "linux".into(),
            ..Default::default()
        };
        config.config.env = vec!["PATH=/bin".into(), "FROM_IMAGE=1".into()];
        config.config.cmd = Some(vec!["sh".into()]);
        config
            .config
            .volumes
            .insert("/vol".into(), Default::default());
        config.rootfs.diff_ids = vec![d1, d2];
        let cfg = store
            .put_blob_bytes(oci::media::OCI_CONFIG, &config.to_vec())
            .unwrap();
        let manifest = oci::Manifest {
            schema_version: 2,
            media_type: Some(oci::media::OCI_MANIFEST.into()),
            artifact_type: None,
            config: cfg,
            layers: vec![l1, l2],
            subject: None,
            annotations: Default::default(),
        };
        let bytes = manifest.to_vec();
        let desc = oci::Descriptor::of_bytes(oci::media::OCI_MANIFEST, &bytes);
        store.put_manifest(&desc, &bytes).unwrap();
        store
            .set_tag("docker.io/library/fixture:latest", &desc)
            .unwrap();
        Fixture {
            dir,
            store,
            runtime,
        }
    }

    /// Creates, starts and waits; returns the container (exited) and its exit code.
    fn run(&self, opts: RunOptions) -> (container::Container, i32) {
        let c = container::create(&self.store, &self.runtime, "fixture", None, opts)
            .unwrap()
            .0;
        let running = c
            .start(&self.store, &self.runtime, Attach::default())
            .unwrap();
        running.wait(&self.runtime).unwrap()
    }

    fn log_of(&self, c: &container::Container) -> Vec<(String, String)> {
        let text = fs::read_to_string(c.dir.log()).unwrap_or_default();
        runtime::logs::read_entries(&text)
            .into_iter()
            .map(|e| (e.stream, e.log))
            .collect()
    }

    fn assert_clean(&self) {
        let prefix = self.dir.path().to_string_lossy().into_owned();
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
        let left: Vec<&str> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|mp| mp.starts_with(&prefix))
            .collect();
        assert!(left.is_empty(), "mounts left: {left:?}");
        let layout = self.store.layout();
        let dirs: Vec<PathBuf> = fs::read_dir(layout.containers_dir())
            .map(|d| {
                d.map(|e| e.unwrap().path())
                    .filter(|p| *p != layout.container_names_lock())
                    .collect()
            })
            .unwrap_or_default();
        assert!(dirs.is_empty(), "container dirs left: {dirs:?}");
    }
}

fn sh(script: &str) -> RunOptions {
    RunOptions {
        cmd: vec!["sh".into(), "-c".into(), script.into()],
        ..Default::default()
    }
}

#[test]
fn runs_and_reports_exit_codes() {
    let f = Fixture::new();
    for (opts, want) in [
        (
            RunOptions {
                cmd: vec!["true".into()],
                ..Default::default()
            },
            0,
        ),
        (sh("exit 3"), 3),
        // PID 1 ignores its own SIGKILL inside the namespace; an exit code wraps at 256.
        (sh("kill -9 $$; exit 300"), 44),
    ] {
        let (c, code) = f.run(opts.clone());
        assert_eq!(code, want, "{opts:?}");
        let again = container::load(f.store.root(), &c.record.id).unwrap();
        assert_eq!(again.state.status, Status::Exited);
        assert_eq!(again.state.exit_code, Some(want));
        assert!(!runtime::mount::is_mounted(&c.dir.rootfs()).unwrap());
        again.remove(&f.store, &f.runtime, false).unwrap();
    }
    f.assert_clean();
    let info = f.store.resolve_image("fixture").unwrap();
    assert!(info.users.is_empty(), "image users left: {:?}", info.users);
    // Snapshots are the store's records, kept by the image's layer stack; they stay while
    // the image needs them, and go with it.
    let uses = f.store.snapshot_uses().unwrap();
    assert_eq!(
        uses.values().copied().collect::<Vec<_>>(),
        vec![store::SnapshotUse::Image; 2],
        "{uses:?}"
    );
    assert!(runtime::snapshot::prune(&f.store).unwrap().is_empty());
    f.store.remove_image("fixture", false).unwrap();
    assert_eq!(runtime::snapshot::prune(&f.store).unwrap().len(), 2);
    let left: Vec<_> = fs::read_dir(f.store.layout().snapshots_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 64)
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn output_goes_to_the_json_log() {
    let f = Fixture::new();
    let (c, code) = f.run(sh("echo out; echo err >&2; printf partial"));
    assert_eq!(code, 0);
    let mut log = f.log_of(&c);
    log.sort();
    assert_eq!(
        log,
        [
            ("stderr".to_string(), "err\n".to_string()),
            ("stdout".to_string(), "out\n".to_string()),
            ("stdout".to_string(), "partial".to_string()),
        ]
    );
    // Started again (`start`, `restart`): same container, same writable layer, the log
    // continues.
    let (c, code) = c
        .start(&f.store, &f.runtime, Attach::default())
        .unwrap()
        .wait(&f.runtime)
        .unwrap();
    assert_eq!(code, 0);
    assert_eq!(f.log_of(&c).len(), 6);
    c.remove(&f.store, &f.runtime, false).unwrap();
    f.assert_clean();
}

#[test]
fn layers_whiteouts_and_the_writable_layer() {
    let f = Fixture::new();
    let check = "test ! -e /gone && test -e /kept && test ! -e /opq/old && \
                 test -e /opq/new && test -e /added && echo written > /newfile && rm /kept";
    let (c, code) = f.run(sh(check));
    let log = f.log_of(&c);
    assert_eq!(code, 0, "{log:?}");
    // The change is in the container's upper dir only.
    assert_eq!(
        fs::read_to_string(c.dir.upper().join("newfile")).unwrap(),
        "written\n"
    );
    assert_eq!(
        c.size_rw().unwrap(),
        8,
        "newfile's 8 bytes, a 0-byte whiteout"
    );
    let snapshots = f.store.layout().snapshots_dir();
    let walk = Command::new("find").arg(&snapshots).output().unwrap();
    let listing = String::from_utf8_lossy(&walk.stdout);
    assert!(!listing.contains("newfile"), "{listing}");
    // A second container sees the image unchanged, from the same snapshots.
    let (c2, code2) = f.run(sh("test -e /kept && test ! -e /newfile"));
    assert_eq!(code2, 0);
    for c in [c, c2] {
        c.remove(&f.store, &f.runtime, false).unwrap();
    }
    f.assert_clean();
}

#[test]
fn user_env_and_working_dir() {
    let f = Fixture::new();
    let mut opts =
        sh("id -u; id -g; id -G; echo $HOME; pwd; echo $FROM_IMAGE $FROM_CLI; echo $HOSTNAME");
    opts.user = Some("app".into());
    opts.workdir = Some("/work/dir".into());
    opts.env = vec!["FROM_CLI=2".into()];
    opts.hostname = Some("box".into());
    let (c, code) = f.run(opts);
    let out: String = f.log_of(&c).into_iter().map(|(_, l)| l).collect();
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "1000\n1000\n1000 10\n/home/app\n/work/dir\n1 2\nbox\n");
    c.remove(&f.store, &f.runtime, false).unwrap();
    f.assert_clean();
}

#[test]
fn bad_input_is_a_clear_error_and_leaves_nothing() {
    let f = Fixture::new();
    // An unknown user creates the container, as Docker resolves it at start, and every
    // start fails with the lookup's message, Docker's ExitCode 128 for the state.
    let mut opts = sh("true");
    opts.user = Some("nobody".into());
    let c = container::create(&f.store, &f.runtime, "fixture", None, opts)
        .unwrap()
        .0;
    for _ in 0..2 {
        let e = c
            .clone()
            .start(&f.store, &f.runtime, Attach::default())
            .err()
            .expect("start fails");
        assert_eq!(
            e.to_string(),
            "unable to find user nobody: no matching entries in passwd file"
        );
        assert_eq!((e.run_exit_code(), e.start_exit_code()), (125, 128));
    }
    c.remove(&f.store, &f.runtime, false).unwrap();
    let e = container::create(&f.store, &f.runtime, "no-such-image", None, sh("true")).unwrap_err();
    assert!(e.is_not_found(), "{e}");
    let opts = RunOptions {
        entrypoint: Some(vec![]),
        ..Default::default()
    };
    let e = container::create(&f.store, &f.runtime, "fixture", None, opts).unwrap_err();
    assert_eq!(e.to_string(), "No command specified");
    f.assert_clean();

    // A command that does not exist fails at start with Docker's 127.
    let c = container::create(
        &f.store,
        &f.runtime,
        "fixture",
        Some("missing"),
        RunOptions {
            cmd: vec!["/nope".into()],
            ..Default::default()
        },
    )
    .unwrap()
    .0;
    let e = c
        .clone()
        .start(&f.store, &f.runtime, Attach::default())
        .err()
        .expect("start fails");
    assert!(matches!(e, RuntimeError::RuntimeFailed { .. }), "{e}");
    assert_eq!(e.run_exit_code(), 127, "{e}");
    // The name is taken until the container is removed.
    let e = container::create(&f.store, &f.runtime, "fixture", Some("missing"), sh("true"))
        .unwrap_err();
    assert!(e.to_string().contains("is already in use"), "{e}");
    container::load(f.store.root(), "missing")
        .unwrap()
        .remove(&f.store, &f.runtime, false)
        .unwrap();
    f.assert_clean();
}

#[test]
fn signals_reach_the_process() {
    let f = Fixture::new();
    let c = container::create(
        &f.store,
        &f.runtime,
        "fixture",
        None,
        sh("trap 'exit 42' TERM; while :; do sleep 0.1; done"),
    )
    .unwrap()
    .0;
    let running = c.start(&f.store, &f.runtime, Attach::default()).unwrap();
    let now = container::load(f.store.root(), &running.container().record.id).unwrap();
    assert_eq!(now.state.status, Status::Running);
    assert_eq!(now.state.pid, running.pid());
    // Let the shell install its trap.
    std::thread::sleep(std::time::Duration::from_millis(300));
    running.container().kill(&f.runtime, "TERM").unwrap();
    let (c, code) = running.wait(&f.runtime).unwrap();
    assert_eq!(code, 42);
    c.remove(&f.store, &f.runtime, false).unwrap();

    // SIGKILL from outside: 128 + 9. A running container is only removed with force.
    let c = container::create(&f.store, &f.runtime, "fixture", None, sh("sleep 30"))
        .unwrap()
        .0;
    let running = c.start(&f.store, &f.runtime, Attach::default()).unwrap();
    let live = container::load(f.store.root(), &running.container().record.id).unwrap();
    let e = live
        .clone()
        .remove(&f.store, &f.runtime, false)
        .unwrap_err();
    assert!(e.to_string().contains("container is running"), "{e}");
    // top: the runtime lists the init among the container's processes.
    let pids = f
        .runtime
        .ps(&live.record.id, &live.dir.runtime_log())
        .unwrap();
    assert!(pids.contains(&running.pid()), "{pids:?}");
    // rename, and a name conflict.
    let other = container::create(&f.store, &f.runtime, "fixture", Some("taken"), sh("true"))
        .unwrap()
        .0;
    container::rename(f.store.root(), &live.record.id, "renamed").unwrap();
    assert_eq!(
        container::load(f.store.root(), "renamed")
            .unwrap()
            .record
            .id,
        live.record.id
    );
    let e = container::rename(f.store.root(), "renamed", "taken").unwrap_err();
    assert!(e.to_string().contains("already in use"), "{e}");
    assert!(container::rename(f.store.root(), "renamed", "bad name").is_err());
    other.remove(&f.store, &f.runtime, false).unwrap();
    // `wait` from elsewhere sees the exit the monitor records.
    let (root, rt, id) = (
        f.store.root().to_path_buf(),
        f.runtime.clone(),
        live.record.id.clone(),
    );
    let waiter = std::thread::spawn(move || {
        container::wait_exited(&root, &rt, &id, std::time::Duration::from_millis(10))
    });
    live.kill(&f.runtime, "KILL").unwrap();
    let (c, code) = running.wait(&f.runtime).unwrap();
    assert_eq!(code, 137);
    assert_eq!(waiter.join().unwrap().unwrap(), 137);
    c.remove(&f.store, &f.runtime, false).unwrap();
    f.assert_clean();
}

#[test]
fn stdin_is_piped_with_i() {
    let f = Fixture::new();
    let c = container::create(
        &f.store,
        &f.runtime,
        "fixture",
        None,
        RunOptions {
            cmd: vec!["cat".into()],
            open_stdin: true,
            ..Default::default()
        },
    )
    .unwrap()
    .0;
    let attach = Attach {
        stdin: Some(Box::new(std::io::Cursor::new(b"piped in\nsecond".to_vec()))),
        ..Default::default()
    };
    let running = c.start(&f.store, &f.runtime, attach).unwrap();
    let (c, code) = running.wait(&f.runtime).unwrap();
    assert_eq!(code, 0);
    let out: String = f.log_of(&c).into_iter().map(|(_, l)| l).collect();
    assert_eq!(out, "piped in\nsecond");
    c.remove(&f.store, &f.runtime, false).unwrap();
    f.assert_clean();
}

#[test]
fn exec_and_stop() {
    use runtime::exec::ExecOptions;
    let f = Fixture::new();
    let mut opts = sh("sleep 30");
    opts.env = vec!["A=from-run".into()];
    let c = container::create(&f.store, &f.runtime, "fixture", None, opts)
        .unwrap()
        .0;
    let running = c.start(&f.store, &f.runtime, Attach::default()).unwrap();
    let live = container::load(f.store.root(), &running.container().record.id).unwrap();
    let out_path = f.dir.path().join("exec.out");
    let exec = ExecOptions {
        cmd: vec![
            "sh".into(),
            "-c".into(),
            "echo $A $B; id -u; pwd; echo $HOME; exit 5".into(),
        ],
        env: vec!["B=from-exec".into()],
        user: Some("app".into()),
        workdir: Some("/etc".into()),
        tty: false,
    };
    let out = fs::File::create(&out_path).unwrap();
    let code = live
        .exec(
            &f.runtime,
            &exec,
            [
                std::process::Stdio::null(),
                out.into(),
                std::process::Stdio::null(),
            ],
        )
        .unwrap();
    assert_eq!(code, 5);
    assert_eq!(
        fs::read_to_string(&out_path).unwrap(),
        "from-run from-exec\n1000\n/etc\n/home/app\n"
    );
    let missing = ExecOptions {
        cmd: vec!["/nope".into()],
        ..Default::default()
    };
    let e = live
        .exec(
            &f.runtime,
            &missing,
            [
                std::process::Stdio::null(),
                std::process::Stdio::null(),
                std::process::Stdio::null(),
            ],
        )
        .unwrap_err();
    assert_eq!(e.run_exit_code(), 127, "{e}");
    // exec -it: a terminal; exec -i: pipes, stdin fed.
    for (tty, cmd, input, want) in [
        (
            true,
            "test -t 0 && test -t 1 && echo on-a-tty",
            "",
            "on-a-tty\r\n",
        ),
        (false, "cat; exit 3", "fed", "fed"),
    ] {
        let out_path = f.dir.path().join(format!("exec-attached-{tty}"));
        let attach = Attach {
            stdin: Some(Box::new(std::io::Cursor::new(input.as_bytes().to_vec()))),
            stdout: Some(Box::new(fs::File::create(&out_path).unwrap())),
            ..Default::default()
        };
        let opts = ExecOptions {
            cmd: vec!["sh".into(), "-c".into(), cmd.into()],
            tty,
            ..Default::default()
        };
        let code = live.exec_attached(&f.runtime, &opts, attach).unwrap();
        assert_eq!(code, if tty { 0 } else { 3 }, "{cmd}");
        assert_eq!(fs::read_to_string(&out_path).unwrap(), want, "{cmd}");
    }
    // `sh` as PID 1 ignores SIGTERM without a trap: stop escalates to SIGKILL.
    let rt = f.runtime.clone();
    let stopper = std::thread::spawn(move || live.stop(&rt, std::time::Duration::from_millis(300)));
    let (c, code) = running.wait(&f.runtime).unwrap();
    stopper.join().unwrap().unwrap();
    assert_eq!(code, 137);
    // Exec into a stopped container is refused.
    let e = container::load(f.store.root(), &c.record.id)
        .unwrap()
        .exec(
            &f.runtime,
            &exec,
            [
                std::process::Stdio::null(),
                std::process::Stdio::null(),
                std::process::Stdio::null(),
            ],
        )
        .unwrap_err();
    assert!(e.to_string().contains("is not running"), "{e}");
    c.remove(&f.store, &f.runtime, false).unwrap();
    f.assert_clean();
}

const MONITOR_ENV: &str = "RUNTIME_TEST_MONITOR";

/// Not a test of its own: the body of the monitor process that
/// `a_detached_container_outlives_its_starter` spawns (this test binary, run again).
#[test]
fn monitor_child_entry() {
    let Ok(spec) = std::env::var(MONITOR_ENV) else {
        return;
    };
    let (root, id) = spec.split_once('|').unwrap();
    let store = Store::open(Path::new(root)).unwrap();
    let rt = OciRuntime::detect(Some("runc"), store.root()).unwrap();
    let _ = runtime::monitor::run(&store, &rt, id);
}

/// The lifecycle through the runtime's API alone, as the CLI drives it: a
/// [`runtime::MonitorProgram`] (this test binary, run again) starts a container detached,
/// `stop_and_wait` stops it with the signal asked for, `wait_exit_code` reads the recorded
/// code, `kill_running` sends nothing to a stopped container and `remove_as_asked` removes
/// it with its anonymous volumes; a start that fails is `StartError::Failed` with Docker's
/// code, and under `--rm` the container is gone.
#[test]
fn a_monitor_program_drives_the_lifecycle() {
    let f = Fixture::new();
    let root = f.store.root().to_path_buf();
    let program = runtime::MonitorProgram::new(move |call| {
        assert_eq!(call.mode, runtime::monitor::MonitorMode::Detached);
        let mut cmd = Command::new(std::env::current_exe().unwrap());
        cmd.args(["--exact", "monitor_child_entry", "--test-threads=1"])
            .env(MONITOR_ENV, format!("{}|{}", root.display(), call.id));
        cmd
    });
    let c = container::create(&f.store, &f.runtime, "fixture", None, sh("sleep 30"))
        .unwrap()
        .0;
    let started = program.start_detached(&f.store, &c, &f.runtime).unwrap();
    assert_eq!(started.state.status, Status::Running, "{:?}", started.state);
    assert!(started.is_up(&f.runtime).unwrap());
    started
        .stop_and_wait(&f.runtime, Some("KILL"), std::time::Duration::from_secs(10))
        .unwrap();
    let stopped = container::load(f.store.root(), &c.record.id).unwrap();
    assert_eq!(stopped.state.status, Status::Exited, "{:?}", stopped.state);
    assert!(!stopped.is_up(&f.runtime).unwrap());
    assert_eq!(
        stopped.wait_exit_code(f.store.root(), &f.runtime).unwrap(),
        137
    );
    assert!(
        !stopped.clone().kill_running(&f.runtime, "KILL").unwrap(),
        "a stopped container is not signalled"
    );
    stopped
        .remove_as_asked(&f.store, &f.runtime, false, true)
        .unwrap();
    assert!(container::load(f.store.root(), &c.record.id).is_err());

    let bad = container::create(
        &f.store,
        &f.runtime,
        "fixture",
        None,
        RunOptions {
            cmd: vec!["/nope".into()],
            auto_remove: true,
            ..Default::default()
        },
    )
    .unwrap()
    .0;
    match program.start_detached(&f.store, &bad, &f.runtime) {
        Err(runtime::StartError::Failed { code, message }) => {
            assert_eq!(code, 127);
            assert!(message.contains("/nope"), "{message}");
        }
        other => panic!("not a failed start: {other:?}"),
    }
    assert!(
        container::load(f.store.root(), &bad.record.id).is_err(),
        "the --rm container is removed"
    );
    f.assert_clean();
}

#[test]
fn a_detached_container_outlives_its_starter() {
    let f = Fixture::new();
    // The container runs until the test says so (bounded), not for a fixed time: a loaded
    // machine may not look at it within any fixed time, and it must still be running then.
    let sync = f.dir.path().join("sync");
    fs::create_dir_all(&sync).unwrap();
    let c = container::create(
        &f.store,
        &f.runtime,
        "fixture",
        None,
        RunOptions {
            mounts: vec![runtime::MountSpec {
                kind: runtime::MountKind::Bind {
                    source: sync.clone(),
                },
                destination: "/sync".into(),
                read_only: true,
                options: vec![],
            }],
            ..sh(
                "echo detached; i=0; while [ ! -e /sync/go ] && [ $i -lt 1200 ]; do \
                  sleep 0.05; i=$((i+1)); done; exit 4",
            )
        },
    )
    .unwrap()
    .0;
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "monitor_child_entry", "--test-threads=1"])
        .env(
            MONITOR_ENV,
            format!("{}|{}", f.store.root().display(), c.record.id),
        );
    let started = runtime::monitor::spawn(
        &mut cmd,
        f.store.root(),
        &c.record.id,
        std::time::Duration::from_secs(20),
    )
    .unwrap();
    assert_eq!(started.state.status, Status::Running, "{:?}", started.state);
    assert!(started.state.monitor_pid > 0);
    assert_ne!(started.state.monitor_pid, std::process::id() as i32);
    fs::write(sync.join("go"), "").unwrap();
    // Another reader sees it running, then exited with its code.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let done = loop {
        let now = container::load(f.store.root(), &c.record.id).unwrap();
        let seen = runtime::container::observed_state(&now, &f.runtime).unwrap();
        if seen.status == Status::Exited {
            break now;
        }
        assert!(std::time::Instant::now() < deadline, "still {seen:?}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(done.state.exit_code, Some(4));
    assert_eq!(
        f.log_of(&done),
        [("stdout".to_string(), "detached\n".to_string())]
    );

    // A start that fails is recorded, with Docker's code, and the status stays created.
    let bad = container::create(
        &f.store,
        &f.runtime,
        "fixture",
        None,
        RunOptions {
            cmd: vec!["/nope".into()],
            ..Default::default()
        },
    )
    .unwrap()
    .0;
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "monitor_child_entry", "--test-threads=1"])
        .env(
            MONITOR_ENV,
            format!("{}|{}", f.store.root().display(), bad.record.id),
        );
    let failed = runtime::monitor::spawn(
        &mut cmd,
        f.store.root(),
        &bad.record.id,
        std::time::Duration::from_secs(20),
    )
    .unwrap();
    assert_eq!(failed.state.status, Status::Created);
    assert_eq!(failed.state.exit_code, Some(127));
    assert!(
        failed
            .state
            .error
            .as_deref()
            .unwrap_or("")
            .contains("/nope")
    );

    // A monitor that died leaves a "running" record: others see it exited.
    let mut ghost = container::load(f.store.root(), &done.record.id).unwrap();
    let mut dead = Command::new("true").spawn().unwrap();
    dead.wait().unwrap();
    ghost.state.status = Status::Running;
    ghost.state.monitor_pid = dead.id() as i32;
    let seen = runtime::container::observed_state(&ghost, &f.runtime).unwrap();
    assert_eq!((seen.status, seen.exit_code), (Status::Exited, Some(255)));

    // `run -d --rm`: the monitor removes the container once it exits.
    let gone = container::create(
        &f.store,
        &f.runtime,
        "fixture",
        None,
        RunOptions {
            auto_remove: true,
            ..sh("exit 0")
        },
    )
    .unwrap()
    .0;
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "monitor_child_entry", "--test-threads=1"])
        .env(
            MONITOR_ENV,
            format!("{}|{}", f.store.root().display(), gone.record.id),
        );
    // The monitor may have run it and removed it before the first look: that is a
    // success too (the CLI takes it so).
    match runtime::monitor::spawn(
        &mut cmd,
        f.store.root(),
        &gone.record.id,
        std::time::Duration::from_secs(20),
    ) {
        Ok(_) | Err(RuntimeError::NoSuchContainer(_)) => {}
        Err(e) => panic!("{e}"),
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while container::load(f.store.root(), &gone.record.id).is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "--rm container still there"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // `container prune` takes the rest (exited and never-started ones).
    assert_eq!(container::prune(&f.store).unwrap().len(), 2);
    assert!(container::list(f.store.root()).unwrap().is_empty());
    f.assert_clean();
}

const SERVER_ENV: &str = "RUNTIME_TEST_SERVER";

/// Not a test of its own: a TCP echo server that `a_published_port_reaches_the_container`
/// runs inside a container (this test binary, bind-mounted).
#[test]
fn server_entry() {
    use std::io::{Read, Write};
    let Ok(port) = std::env::var(SERVER_ENV) else {
        return;
    };
    let listener = std::net::TcpListener::bind(("0.0.0.0", port.parse::<u16>().unwrap())).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    let mut word = [0u8; 5];
    s.read_exact(&mut word).unwrap();
    s.write_all(b"echo:").unwrap();
    s.write_all(&word).unwrap();
}

#[test]
fn a_published_port_reaches_the_container() {
    use std::io::{Read, Write};
    let f = Fixture::new();
    let exe = std::env::current_exe().unwrap();
    let opts = RunOptions {
        cmd: vec![
            "/srv/t".into(),
            "--exact".into(),
            "server_entry".into(),
            "--test-threads=1".into(),
        ],
        env: vec![format!("{SERVER_ENV}=8080")],
        mounts: vec![runtime::MountSpec {
            kind: runtime::MountKind::Bind { source: exe },
            destination: "/srv/t".into(),
            read_only: true,
            options: vec![],
        }],
        publish: runtime::ports::parse_publish("8080").unwrap(),
        ..Default::default()
    };
    let c = container::create(&f.store, &f.runtime, "fixture", None, opts)
        .unwrap()
        .0;
    let running = c.start(&f.store, &f.runtime, Attach::default()).unwrap();
    let live = container::load(f.store.root(), &running.container().record.id).unwrap();
    let port = live.state.ports[0].host_port;
    assert_ne!(port, 0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let answer = loop {
        // Until the server listens, the forwarder finds nothing to dial and hangs up.
        let mut got = String::new();
        if let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = conn.write_all(b"hello");
            let _ = conn.read_to_string(&mut got);
        }
        if !got.is_empty() || std::time::Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(answer, "echo:hello");
    let (c, code) = running.wait(&f.runtime).unwrap();
    let log: String = f.log_of(&c).into_iter().map(|(_, l)| l).collect();
    assert_eq!(code, 0, "{log}");
    assert!(c.state.ports.is_empty());
    // The host port is free again.
    std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    c.remove(&f.store, &f.runtime, false).unwrap();
    f.assert_clean();
}

#[test]
fn named_volumes_outlive_containers() {
    use runtime::volumes;
    let f = Fixture::new();
    let root = &f.store;
    let spec = volumes::parse_volume_spec("data:/opq").unwrap();
    let with_volume = |script: &str| {
        let mut o = sh(script);
        o.mounts = vec![volumes::to_mount(root, &spec).unwrap()];
        o
    };
    // The empty volume gets the image's /opq on first use.
    let (c1, code) = f.run(with_volume(
        "test -d /vol && cat /opq/new; echo kept > /opq/w",
    ));
    assert_eq!(code, 0);
    let out: String = f.log_of(&c1).into_iter().map(|(_, l)| l).collect();
    assert_eq!(out, "top");
    let (c2, code) = f.run(with_volume("cat /opq/w"));
    assert_eq!(code, 0);
    let out: String = f.log_of(&c2).into_iter().map(|(_, l)| l).collect();
    assert_eq!(out, "kept\n");
    // Not in the image's snapshots or the containers' upper dirs.
    assert!(!c1.dir.upper().join("opq/w").exists());
    let e = container::remove_volume(root, "data").unwrap_err();
    assert!(e.to_string().contains("volume is in use"), "{e}");
    // The image's VOLUME /vol got an anonymous volume in each container.
    let anonymous: Vec<String> = [&c1, &c2]
        .iter()
        .flat_map(|c| c.anonymous_volumes())
        .collect();
    assert_eq!(anonymous.len(), 2);
    assert!(
        container::prune_volumes(root, false).unwrap().is_empty(),
        "in use"
    );
    for c in [c1, c2] {
        c.remove(&f.store, &f.runtime, false).unwrap();
    }
    let mut pruned = container::prune_volumes(root, false).unwrap();
    pruned.sort();
    let mut want = anonymous.clone();
    want.sort();
    assert_eq!(pruned, want, "anonymous volumes go, named ones stay");
    container::remove_volume(root, "data").unwrap();
    assert!(volumes::list(root).unwrap().is_empty());
    f.assert_clean();
}

#[test]
fn a_terminal_with_t() {
    let f = Fixture::new();
    let mut opts = sh("test -t 0 && test -t 1 && echo tty-ok $TERM");
    opts.tty = true;
    let (c, code) = f.run(opts);
    let log = f.log_of(&c);
    assert_eq!(code, 0, "{log:?}");
    // A terminal turns "\n" into "\r\n".
    assert_eq!(
        log,
        [("stdout".to_string(), "tty-ok xterm\r\n".to_string())]
    );
    c.remove(&f.store, &f.runtime, false).unwrap();

    // An interactive shell reads its commands from the terminal (-it).
    let c = container::create(
        &f.store,
        &f.runtime,
        "fixture",
        None,
        RunOptions {
            cmd: vec!["sh".into()],
            tty: true,
            open_stdin: true,
            ..Default::default()
        },
    )
    .unwrap()
    .0;
    let attach = Attach {
        stdin: Some(Box::new(std::io::Cursor::new(
            b"echo typed; exit 7\n".to_vec(),
        ))),
        tty_size: Some((40, 100)),
        ..Default::default()
    };
    let running = c.start(&f.store, &f.runtime, attach).unwrap();
    let (c, code) = running.wait(&f.runtime).unwrap();
    let out: String = f.log_of(&c).into_iter().map(|(_, l)| l).collect();
    assert_eq!(code, 7, "{out}");
    assert!(out.contains("typed\r\n"), "{out:?}");
    c.remove(&f.store, &f.runtime, false).unwrap();
    f.assert_clean();
}

#[test]
fn diff_and_commit() {
    use runtime::commit::{CommitOptions, commit};
    let f = Fixture::new();
    let (c, code) = f.run(sh(
        "echo a > /newfile; rm /kept; rm -r /opq; mkdir /opq; echo r > /opq/replaced",
    ));
    assert_eq!(code, 0, "{:?}", f.log_of(&c));
    let diff: Vec<String> = c
        .diff(&f.store)
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    assert_eq!(diff, ["D /kept", "A /newfile", "D /opq", "A /opq/replaced"]);

    let committed = commit(
        &f.store,
        &f.runtime,
        &c,
        &CommitOptions {
            reference: Some("docker.io/library/committed:latest".into()),
            author: Some("tester".into()),
            message: Some("a message".into()),
            changes: vec!["ENV C=1".into()],
            pause: true,
        },
    )
    .unwrap();
    let info = f.store.resolve_image("committed").unwrap();
    assert_eq!(info.id, committed.id);
    let config = oci::ImageConfig::from_slice(&f.store.image_config(&info).unwrap()).unwrap();
    assert_eq!(config.rootfs.diff_ids.len(), 3);
    assert_eq!(config.author.as_deref(), Some("tester"));
    let last = config.history.last().unwrap();
    assert_eq!(last.comment.as_deref(), Some("a message"));
    assert!(
        config.config.env.contains(&"C=1".to_string()),
        "{:?}",
        config.config.env
    );
    // The base image is unchanged; the new one has the container's files.
    let check = "test -e /newfile && test ! -e /kept && test ! -e /opq/new && \
                 test ! -e /opq/old && test -e /opq/replaced && echo $C";
    let run_on = |image: &str| {
        let c = container::create(&f.store, &f.runtime, image, None, sh(check))
            .unwrap()
            .0;
        let running = c.start(&f.store, &f.runtime, Attach::default()).unwrap();
        running.wait(&f.runtime).unwrap()
    };
    let (on_new, code) = run_on("committed");
    assert_eq!(code, 0, "{:?}", f.log_of(&on_new));
    assert_eq!(
        f.log_of(&on_new),
        [("stdout".to_string(), "1\n".to_string())]
    );
    let (on_base, code) = run_on("fixture");
    assert_eq!(code, 1);
    assert!(on_new.diff(&f.store).unwrap().is_empty());
    for c in [c, on_new, on_base] {
        c.remove(&f.store, &f.runtime, false).unwrap();
    }
    f.assert_clean();
}

#[test]
fn read_only_root_limits_and_etc_files() {
    let f = Fixture::new();
    let mut opts = sh("echo x > /f 2>/dev/null && echo writable; \
         cat /sys/fs/cgroup/pids/pids.max /etc/hostname; \
         cat /etc/hosts");
    opts.read_only = true;
    opts.pids_limit = Some(10);
    opts.memory = Some(64 << 20);
    opts.cpus = Some(0.5);
    opts.hostname = Some("ro-box".into());
    let (c, code) = f.run(opts);
    let out: String = f
        .log_of(&c)
        .into_iter()
        .filter(|(s, _)| s == "stdout")
        .map(|(_, l)| l)
        .collect();
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("writable"), "{out}");
    assert!(
        out.starts_with("10\nro-box\n127.0.0.1\tlocalhost\n"),
        "{out}"
    );
    // Docker's file with --network none names no container host (no address of its own).
    assert!(out.ends_with("ff02::2\tip6-allrouters\n"), "{out}");
    assert!(!out.contains("\tro-box"), "{out}");
    c.remove(&f.store, &f.runtime, false).unwrap();

    // --network host: the host's network namespace and hostname.
    let mut opts = sh("cat /proc/net/dev");
    opts.network = runtime::NetworkMode::Host;
    let (c, code) = f.run(opts);
    assert_eq!(code, 0);
    let host_devs = fs::read_to_string("/proc/net/dev").unwrap().lines().count();
    let out: String = f.log_of(&c).into_iter().map(|(_, l)| l).collect();
    assert_eq!(out.lines().count(), host_devs, "{out}");
    c.remove(&f.store, &f.runtime, false).unwrap();
    f.assert_clean();
}

/// The security and resource flags reach the container: capabilities, `--group-add`,
/// `--ulimit`, `--shm-size`, `--cpu-shares`, `--sysctl`, and Docker's cgroup view (the
/// host's cgroup namespace on cgroup v1, the container under `/docker/<id>`).
#[test]
fn security_and_resource_flags() {
    let f = Fixture::new();
    assert!(
        Path::new("/bin/busybox").exists(),
        "this test needs busybox-static"
    );
    let mut opts = sh("busybox grep CapEff /proc/self/status; id -G; \
         ulimit -n; ulimit -Hn; busybox df -k /dev/shm | busybox tail -n 1; \
         cat /sys/fs/cgroup/cpu/cpu.shares /proc/sys/kernel/shmmax; \
         busybox grep :pids: /proc/self/cgroup");
    opts.user = Some("app".into());
    opts.security.cap_drop = vec!["ALL".into()];
    opts.security.cap_add = vec!["chown".into(), "CAP_KILL".into()];
    opts.security.group_add = vec!["4242".into(), "root".into()];
    opts.security.ulimits = vec![runtime::spec::rlimits::parse_ulimit("nofile=512:1024").unwrap()];
    opts.security.shm_size = Some(1 << 20);
    opts.security.cpu_shares = 512;
    opts.security
        .sysctls
        .insert("kernel.shmmax".into(), "100000".into());
    let (c, code) = f.run(opts);
    let out: String = f.log_of(&c).into_iter().map(|(_, l)| l).collect();
    assert_eq!(code, 0, "{out}");
    let lines: Vec<&str> = out.lines().collect();
    // A non-root user: no effective capabilities, but the bounding set is the tweaked one
    // (checked through the spec, as the kernel clears CapEff for uid != 0).
    assert_eq!(lines[0], "CapEff:\t0000000000000000", "{out}");
    // The primary gid first, then the kernel-sorted supplementary groups.
    assert_eq!(lines[1], "1000 0 10 4242", "{out}");
    assert_eq!(lines[2..4], ["512", "1024"], "{out}");
    assert!(lines[4].split_whitespace().nth(1) == Some("1024"), "{out}");
    assert_eq!(lines[5..7], ["512", "100000"], "{out}");
    if !runtime::oci_runtime::cgroup_v2_unified() {
        assert!(
            lines[7].ends_with(&format!(":pids:/docker/{}", c.record.id)),
            "{out}"
        );
    }
    let spec: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(c.dir.bundle().join("config.json")).unwrap())
            .unwrap();
    assert_eq!(
        spec["process"]["capabilities"]["bounding"],
        serde_json::json!(["CAP_CHOWN", "CAP_KILL"])
    );
    c.remove(&f.store, &f.runtime, false).unwrap();
    f.assert_clean();
}

/// The seccomp option reaches the runtime: Docker's default filter, none when unconfined,
/// the user's profile when given (this one denies `mkdir` with `EACCES`).
#[test]
fn seccomp_default_unconfined_and_profile() {
    let f = Fixture::new();
    let seccomp_line = |opts: RunOptions| {
        let (c, code) = f.run(opts);
        let out: String = f.log_of(&c).into_iter().map(|(_, l)| l).collect();
        assert_eq!(code, 0, "{out}");
        c.remove(&f.store, &f.runtime, false).unwrap();
        out.lines()
            .find(|l| l.starts_with("Seccomp:"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|| panic!("no Seccomp line in {out}"))
    };
    let status = || sh("cat /proc/self/status");
    assert_eq!(seccomp_line(status()), "Seccomp: 2");
    assert_eq!(
        seccomp_line(RunOptions {
            seccomp: runtime::SeccompOption::Unconfined,
            ..status()
        }),
        "Seccomp: 0"
    );
    let profile = f.dir.path().join("profile.json");
    fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[
            {"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
    )
    .unwrap();
    let option = runtime::SeccompOption::load(profile.to_str().unwrap()).unwrap();
    let (c, code) = f.run(RunOptions {
        seccomp: option,
        ..sh("mkdir /made")
    });
    let out: String = f.log_of(&c).into_iter().map(|(_, l)| l).collect();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Permission denied"), "{out}");
    c.remove(&f.store, &f.runtime, false).unwrap();
    // A profile that is not one is refused when the option is made.
    fs::write(&profile, "{").unwrap();
    let err = runtime::SeccompOption::load(profile.to_str().unwrap()).unwrap_err();
    assert!(err.to_string().contains("seccomp profile"), "{err}");
    f.assert_clean();
}
