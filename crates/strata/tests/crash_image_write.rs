//! A crash at any step of writing an image (issue 11, "One way to write an image"): `import`,
//! `build` and `commit` write their layer through the store's anonymous blob writer and record the
//! image with `put_image`. `strace -e inject=SYSCALL:signal=SIGKILL:when=N` kills them at
//! their N-th call of each syscall that changes the store (directory made, lock taken,
//! data written, fsync, rename, database write, unlink), for every N until the command
//! completes. After each kill, on a fresh store each time:
//!
//! - every file in `blobs/` is named for its content (before any other command runs);
//! - the next command that opens the store (`images`) leaves nothing in `ingest/` or `tmp/`;
//! - no blob row lacks its file and no image record lacks a part ([`store::Store::verify`]);
//! - the command run again completes and makes the very image an unbroken run makes.

mod harness;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use harness::rootfs::Containers;
use harness::{Env, require};

/// The syscalls each sweep kills at, one syscall at a time (strace counts calls per
/// syscall, so a set would only ever kill at whichever of them comes first).
const STEPS: &[&str] = &[
    "mkdir", "openat", "flock", "write", "fsync", "rename", "pwrite64", "unlink", "rmdir",
];

/// A small context: a `FROM scratch` image with one COPY, and a tar of the same files.
fn fixtures(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let data: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(ctx.join("b"), &data).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY b /b\n").unwrap();
    let tar = dir.join("rootfs.tar");
    let mut t = tar::Builder::new(std::fs::File::create(&tar).unwrap());
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1);
    t.append_data(&mut h, "b", &data[..]).unwrap();
    t.into_inner().unwrap();
    (ctx, tar)
}

/// `strata ARGS` on `env`'s store with reproducible times, optionally under strace killing
/// it at the `n`-th call of `syscall`. Returns whether it completed, and its stdout.
fn strata(env: &Env, args: &[&str], kill_at: Option<(&Path, &str, usize)>) -> (bool, String) {
    let mut cmd = match kill_at {
        Some((strace, syscall, n)) => {
            let mut c = Command::new(strace);
            c.args(["-f", "-qq", "-o", "/dev/null", "-e"])
                .arg(format!("inject={syscall}:signal=SIGKILL:when={n}"))
                .arg(env!("CARGO_BIN_EXE_strata"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_strata")),
    };
    let out = cmd
        .env("STRATA_ROOT", env.root())
        .env("DOCKER_CONFIG", env.path("docker"))
        .env("HOME", env.dir.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    )
}

/// The entries of `dir` (none if it does not exist).
fn entries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The store's invariants after a kill, as the module says; `when` names the kill point.
fn assert_consistent(env: &Env, args: &[&str], want_id: Option<&str>, when: &str) {
    let layout = env.layout();
    for e in entries(&layout.blobs_dir_of(oci::Algorithm::Sha256)) {
        let bytes = std::fs::read(layout.blobs_dir_of(oci::Algorithm::Sha256).join(&e)).unwrap();
        assert_eq!(
            oci::Digest::sha256_of(&bytes).hex(),
            e,
            "{when}: a blob's name is not its digest"
        );
    }
    env.ok(&["images"]);
    assert_eq!(
        entries(&layout.ingest_dir()),
        Vec::<String>::new(),
        "{when}: ingest/"
    );
    assert_eq!(
        entries(&layout.tmp_dir()),
        Vec::<String>::new(),
        "{when}: tmp/"
    );
    let store = store::Store::open(&env.root()).unwrap();
    let violations = store.verify().unwrap();
    assert!(violations.is_empty(), "{when}: {violations:?}");
    drop(store);
    let (done, id) = strata(env, args, None);
    assert!(done, "{when}: the command run again failed");
    assert!(id.starts_with("sha256:"), "{when}: {id}");
    if let Some(want) = want_id {
        assert_eq!(id, want, "{when}: the command run again made another image");
    }
    assert_eq!(
        store::Store::open(&env.root()).unwrap().verify().unwrap(),
        vec![]
    );
}

/// Sweeps every step of the command `make` sets up (on a fresh store each time, returned
/// with the command's arguments): an `import`, `build` or `commit` printing the image ID.
/// With `same_image`, a run after a kill must make the very image an unbroken run makes
/// (import and build are reproducible; a commit records its own time and container).
fn sweep<E: std::ops::Deref<Target = Env>>(
    make: impl Fn() -> (E, Vec<String>),
    what: &str,
    same_image: bool,
) {
    let strace = require("strace");
    let started = Instant::now();
    let want_id = {
        let (env, args) = make();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (done, id) = strata(&env, &args, None);
        assert!(
            done && id.starts_with("sha256:"),
            "{what} does not work: {id}"
        );
        same_image.then_some(id)
    };
    let mut kills = 0;
    for syscall in STEPS {
        let mut completed = false;
        for n in 1..=400 {
            let (env, args) = make();
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let (done, id) = strata(&env, &args, Some((&strace, syscall, n)));
            let when = format!("{what} killed at {syscall} #{n}");
            if done {
                if let Some(want) = &want_id {
                    assert_eq!(&id, want, "{when}: completed with another image");
                }
                completed = true;
                break;
            }
            kills += 1;
            assert_consistent(&env, &args, want_id.as_deref(), &when);
            assert!(
                started.elapsed() < Duration::from_secs(900),
                "the sweep of {what} ran past 15 minutes at {syscall} #{n}"
            );
        }
        assert!(completed, "{what} never completed past its {syscall} calls");
    }
    assert!(
        kills > 50,
        "{what}: only {kills} kill points: the sweep tested little"
    );
}

#[test]
fn an_import_killed_at_any_step_of_writing_its_image_leaves_a_consistent_store() {
    sweep(
        || {
            let env = Env::new();
            let (_, tar) = fixtures(env.dir.path());
            let args = vec![
                "import".into(),
                tar.display().to_string(),
                "crash/import:1".into(),
            ];
            (Box::new(env), args)
        },
        "import",
        true,
    );
}

#[test]
fn a_build_killed_at_any_step_of_writing_its_image_leaves_a_consistent_store() {
    sweep(
        || {
            let env = Env::new();
            let (ctx, _) = fixtures(env.dir.path());
            let args = vec![
                "build".into(),
                "-q".into(),
                "-t".into(),
                "crash/build:1".into(),
                ctx.display().to_string(),
            ];
            (Box::new(env), args)
        },
        "build",
        true,
    );
}

/// `commit` writes the container's layer and its image the same way (needs root and runc
/// for the container it commits).
#[test]
fn a_commit_killed_at_any_step_of_writing_its_image_leaves_a_consistent_store() {
    sweep(
        || {
            let c = Containers::new();
            c.ok(&[
                "run",
                "--name",
                "changed",
                "bb",
                "sh",
                "-c",
                "echo changed > /new && rm /bin/ls",
            ]);
            let args = vec!["commit".into(), "changed".into(), "crash/commit:1".into()];
            (c, args)
        },
        "commit",
        false,
    );
}
