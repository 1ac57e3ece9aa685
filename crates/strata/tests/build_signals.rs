//! A build owns its RUN containers (issue 10): SIGINT/SIGTERM to the build's process group
//! stop and remove its RUN container before it exits (130/143); after a SIGKILL the next
//! command that opens the store (`images`) reaps the container, its mount and its runtime
//! state; a kill at any directory creation of a build leaves nothing `images` does not
//! reap; a killed `run --rm` client still gets its container removed, and a killed `run`
//! client's container is recorded with its real exit code.

mod harness;

use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use harness::require;
use harness::rootfs::Containers;

/// A context whose RUN prints a line and sleeps: long enough to be interrupted.
fn sleeping_context(c: &Containers) -> String {
    let ctx = c.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        // The shell computes the marker, so the step's own header (which shows the command)
        // never contains it: only the running container's output does.
        "FROM bb\nRUN echo $((40 + 2))-running && sleep 30\n",
    )
    .unwrap();
    ctx.to_string_lossy().into_owned()
}

/// Starts `strata build` in a process group of its own (as a shell's job is) and waits
/// until its RUN has printed, i.e. its container runs (its directory exists).
fn build_in_own_group(c: &Containers, ctx: &str) -> (Child, std::path::PathBuf) {
    let log = c.path("build.log");
    let child = c
        .cmd(&["build", "--progress=plain", ctx])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("42-running")
    {
        assert!(Instant::now() < deadline, "the RUN never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    (child, log)
}

fn signal_group(child: &Child, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process_group(pid, sig).unwrap();
}

/// Waits at most 30 s for `child`.
fn wait_bounded(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the build did not end within 30 s of the signal");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Nothing of a build is left under the store: no container directory, mount, runtime
/// state, ingest or temp directory, checked before any other command could reap them.
/// `when` says at which point of the test, for the message.
fn assert_nothing_left(c: &Containers, when: &str) {
    assert_eq!(c.mounts(), Vec::<String>::new(), "{when}: mounts left");
    assert_eq!(
        c.leftovers(),
        Vec::<String>::new(),
        "{when}: directories left"
    );
    for d in [c.layout().ingest_dir(), c.layout().tmp_dir()] {
        let left: Vec<_> = std::fs::read_dir(&d)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        // What each holds, with sizes, says which writer left it.
        let inside: Vec<_> = left
            .iter()
            .filter_map(|l| std::fs::read_dir(l).ok())
            .flatten()
            .flatten()
            .map(|e| (e.file_name(), e.metadata().map(|m| m.len()).unwrap_or(0)))
            .collect();
        assert!(
            left.is_empty(),
            "{when}: {} holds {left:?}: {inside:?}",
            d.display()
        );
    }
    assert_eq!(c.ok(&["ps", "-aq"]), "", "{when}: containers left");
}

fn interrupted_build(sig: rustix::process::Signal, code: i32) {
    let c = Containers::new();
    let ctx = sleeping_context(&c);
    let (mut child, log) = build_in_own_group(&c, &ctx);
    let sent = Instant::now();
    signal_group(&child, sig);
    let status = wait_bounded(&mut child);
    let out = std::fs::read_to_string(&log).unwrap();
    assert_eq!(status.code(), Some(code), "{out}");
    assert!(
        sent.elapsed() < Duration::from_secs(20),
        "it waited for the RUN"
    );
    assert!(out.contains("CANCELED"), "{out}");
    assert!(out.trim_end().ends_with("context canceled"), "{out}");
    assert_nothing_left(&c, "after the signal");
}

#[test]
fn sigint_to_the_build_group_stops_its_run_container_and_exits_130() {
    interrupted_build(rustix::process::Signal::INT, 130);
}

#[test]
fn sigterm_to_the_build_group_stops_its_run_container_and_exits_143() {
    interrupted_build(rustix::process::Signal::TERM, 143);
}

#[test]
fn after_a_sigkilled_build_the_next_images_reaps_its_run_container() {
    let c = Containers::new();
    let ctx = sleeping_context(&c);
    let (mut child, _) = build_in_own_group(&c, &ctx);
    signal_group(&child, rustix::process::Signal::KILL);
    child.wait().unwrap();
    assert!(
        !c.leftovers().is_empty(),
        "the killed build left its RUN container"
    );
    c.ok(&["images"]);
    assert_nothing_left(&c, "after images");
}

/// `strace -f -e inject=mkdir,mkdirat:signal=SIGKILL:when=N` kills the build at its N-th
/// directory creation, for every N until the build completes; after each kill `images`
/// leaves nothing behind. `STRATA_LONG=1` sweeps further.
#[test]
fn a_kill_at_any_directory_creation_of_a_build_leaves_nothing_images_does_not_reap() {
    let strace = require("strace");
    let c = Containers::new();
    let ctx = c.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let limit = if std::env::var_os("STRATA_LONG").is_some() {
        200
    } else {
        80
    };
    let started = Instant::now();
    let mut completed = false;
    for n in 1..=limit {
        // A new RUN each time: no cache hit skips the container.
        std::fs::write(
            ctx.join("Dockerfile"),
            format!("FROM bb\nRUN echo {n} > /n\n"),
        )
        .unwrap();
        let mut cmd = std::process::Command::new(&strace);
        cmd.args(["-f", "-qq", "-o", "/dev/null", "-e"])
            .arg(format!("inject=mkdir,mkdirat:signal=SIGKILL:when={n}"))
            .arg(env!("CARGO_BIN_EXE_strata"))
            .arg("--root")
            .arg(c.root())
            .args(["build", "-q"])
            .arg(&ctx)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let status = cmd.status().unwrap();
        c.ok(&["images"]);
        assert_nothing_left(&c, &format!("kill at mkdir {n}"));
        if status.success() {
            completed = true;
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the sweep ran past 10 minutes at N={n}"
        );
    }
    assert!(
        completed,
        "the build never completed within {limit} kill points"
    );
}

/// Starts `strata ARGS` (a `run`), waits until its container runs, then SIGKILLs the
/// client and reaps it.
fn kill_the_client_once_it_runs(c: &Containers, args: &[&str]) {
    let mut child = c
        .cmd(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    c.eventually("the container to run", || {
        !c.ok(&["ps", "-q"]).trim().is_empty()
    });
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn a_killed_run_rm_client_still_gets_its_container_removed() {
    let c = Containers::new();
    kill_the_client_once_it_runs(
        &c,
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "bb",
            "sh",
            "-c",
            "sleep 6; exit 0",
        ],
    );
    c.eventually("the container to be removed", || {
        c.ok(&["ps", "-aq"]).is_empty()
    });
    assert_eq!(c.mounts(), Vec::<String>::new());
}

#[test]
fn a_killed_run_client_leaves_the_real_exit_code() {
    let c = Containers::new();
    kill_the_client_once_it_runs(
        &c,
        &[
            "run",
            "--name",
            "killed-client",
            "--network",
            "none",
            "bb",
            "sh",
            "-c",
            "sleep 6; exit 3",
        ],
    );
    c.eventually("the container to exit", || c.ok(&["ps", "-q"]).is_empty());
    assert_eq!(
        c.ok(&["inspect", "-f", "{{.State.ExitCode}}", "killed-client"])
            .trim(),
        "3",
        "the exit code its monitor saw, not 255"
    );
    c.ok(&["rm", "killed-client"]);
}
