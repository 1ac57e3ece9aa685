//! `--restart` and the `--ipc`/`--pid container:NAME` joins through the real binary:
//! the monitor restarts a container as its policy says (Docker's `RestartCount`), a user's
//! `stop`/`kill` ends that, and a container joins another's namespaces. Needs root and
//! runc; fails without.

mod harness;

use std::time::Duration;

use harness::rootfs::Containers;

/// How many times the container printed `run` (one line per start).
fn runs(c: &Containers, name: &str) -> usize {
    c.ok(&["logs", name])
        .lines()
        .filter(|l| *l == "run")
        .count()
}

fn inspect(c: &Containers, name: &str, format: &str) -> String {
    c.ok(&["inspect", "-f", format, name]).trim().to_string()
}

/// `--restart` was an unknown flag, and no monitor restarted anything: `on-failure:2` of a
/// command that fails runs it three times (two restarts), then leaves it exited.
#[test]
fn on_failure_restarts_up_to_the_retry_count() {
    let c = Containers::new();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "fails",
        "--restart",
        "on-failure:2",
        "bb",
        "sh",
        "-c",
        "echo run; exit 3",
    ]);
    c.eventually("three runs", || runs(&c, "fails") == 3);
    c.eventually("the last exit", || {
        inspect(&c, "fails", "{{.State.Status}} {{.RestartCount}}") == "exited 2"
    });
    // No fourth run: the policy's count is spent (the backoff would be 400 ms).
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(runs(&c, "fails"), 3);
    assert_eq!(inspect(&c, "fails", "{{.State.ExitCode}}"), "3");
    assert_eq!(
        inspect(
            &c,
            "fails",
            "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}"
        ),
        "on-failure 2"
    );
    c.ok(&["rm", "fails"]);
    c.assert_clean();
}

/// `on-failure` does not restart a command that succeeded.
#[test]
fn on_failure_leaves_a_success_alone() {
    let c = Containers::new();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "ok",
        "--restart",
        "on-failure",
        "bb",
        "sh",
        "-c",
        "echo run",
    ]);
    c.eventually("the exit", || {
        inspect(&c, "ok", "{{.State.Status}}") == "exited"
    });
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(runs(&c, "ok"), 1);
    assert_eq!(inspect(&c, "ok", "{{.RestartCount}}"), "0");
    c.ok(&["rm", "ok"]);
    c.assert_clean();
}

/// `always` restarts a container that keeps exiting, until the user stops it, as with
/// Docker; a `kill` ends it the same way.
#[test]
fn always_restarts_until_stopped_or_killed() {
    let c = Containers::new();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "loops",
        "--restart",
        "always",
        "bb",
        "sh",
        "-c",
        "echo run; sleep 0.3",
    ]);
    c.eventually("a restart", || runs(&c, "loops") >= 2);
    c.ok(&["stop", "-t", "1", "loops"]);
    c.eventually("the stop", || {
        inspect(&c, "loops", "{{.State.Status}}") == "exited"
    });
    let after_stop = runs(&c, "loops");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(runs(&c, "loops"), after_stop, "restarted after stop");
    assert_eq!(inspect(&c, "loops", "{{.State.Status}}"), "exited");

    // A start by the user restarts the count and the policy; a kill ends it again.
    c.ok(&[
        "run",
        "-d",
        "--name",
        "sleeps",
        "--restart",
        "always",
        "bb",
        "sleep",
        "100",
    ]);
    c.ok(&["kill", "sleeps"]);
    c.eventually("the kill", || {
        inspect(&c, "sleeps", "{{.State.Status}}") == "exited"
    });
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(inspect(&c, "sleeps", "{{.State.Status}}"), "exited");
    c.ok(&["rm", "loops", "sleeps"]);
    c.assert_clean();
}

/// `--ipc container:NAME` and `--pid container:NAME` were unknown flags: the new container
/// is in the other's IPC and PID namespaces (it sees the other's processes and shares its
/// `/dev/shm`), and Docker's refusals hold (a donor that is not running, or not
/// `--ipc shareable`).
#[test]
fn ipc_and_pid_join_another_container() {
    let c = Containers::new();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "owner",
        "--ipc",
        "shareable",
        "bb",
        "sh",
        "-c",
        "echo shared > /dev/shm/mark; exec sleep 100",
    ]);
    c.eventually("the sleep", || {
        c.ok(&["exec", "owner", "cat", "/proc/1/cmdline"])
            .starts_with("sleep")
    });
    let ns = |args: &[&str]| c.ok(args).trim().to_string();
    let owner_ipc = ns(&["exec", "owner", "busybox", "readlink", "/proc/self/ns/ipc"]);
    let joined = ns(&[
        "run",
        "--rm",
        "--ipc",
        "container:owner",
        "--pid",
        "container:owner",
        "bb",
        "sh",
        "-c",
        "busybox readlink /proc/self/ns/ipc; cat /dev/shm/mark; echo back > /dev/shm/reply; cat /proc/1/cmdline | busybox tr '\\0' ' '",
    ]);
    assert_eq!(joined, format!("{owner_ipc}\nshared\nsleep 100"));
    assert_eq!(c.ok(&["exec", "owner", "cat", "/dev/shm/reply"]), "back\n");
    let own = ns(&[
        "run",
        "--rm",
        "bb",
        "busybox",
        "readlink",
        "/proc/self/ns/ipc",
    ]);
    assert_ne!(own, owner_ipc);
    assert_eq!(
        inspect(
            &c,
            "owner",
            "{{.HostConfig.IpcMode}}|{{.HostConfig.PidMode}}"
        ),
        "shareable|"
    );
    // Joining a container that is not running is refused.
    c.ok(&["create", "--name", "idle", "bb"]);
    let (code, _, err) = c.status(&["run", "--rm", "--pid", "container:idle", "bb", "true"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("is not running"), "{err}");
    c.ok(&["run", "-d", "--name", "private", "bb", "sleep", "100"]);
    let (code, _, err) = c.status(&["run", "--rm", "--ipc", "container:private", "bb", "true"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("non-shareable IPC"), "{err}");
    c.ok(&["rm", "-f", "owner", "idle", "private"]);
    c.assert_clean();
}

/// An attached `run --restart on-failure:1` returned the first exit code and nothing
/// restarted the container; Docker's daemon restarts it after the client returned.
#[test]
fn attached_run_leaves_the_restarts_to_a_monitor() {
    let c = Containers::new();
    let (code, out, err) = c.status(&[
        "run",
        "--name",
        "attached",
        "--restart",
        "on-failure:1",
        "bb",
        "sh",
        "-c",
        "echo run; exit 4",
    ]);
    assert_eq!((code, out.as_str()), (4, "run\n"), "{err}");
    c.eventually("the restart", || runs(&c, "attached") == 2);
    c.eventually("the last exit", || {
        inspect(&c, "attached", "{{.State.Status}} {{.RestartCount}}") == "exited 1"
    });
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(runs(&c, "attached"), 2);
    c.ok(&["rm", "attached"]);
    c.assert_clean();
}

/// Between two runs the container showed as exited; Docker shows it `restarting` (and
/// running), refuses a plain `rm`, and a `stop` ends the restarts at once.
#[test]
fn restarting_state_between_runs() {
    let c = Containers::new();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "crashes",
        "--restart",
        "always",
        "bb",
        "sh",
        "-c",
        "exit 3",
    ]);
    c.eventually("the restarting state", || {
        inspect(
            &c,
            "crashes",
            "{{.State.Status}} {{.State.Running}} {{.State.Restarting}} {{.State.ExitCode}}",
        ) == "restarting true true 3"
    });
    c.eventually("ps showing it", || {
        c.ok(&["ps", "--format", "{{.Names}} {{.Status}}"])
            .starts_with("crashes Restarting (3) ")
    });
    // Refused as restarting, or as running when its monitor has just started it again
    // (Docker refuses both).
    let (code, _, err) = c.status(&["rm", "crashes"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("You cannot remove a restarting container")
            || err.contains("container is running: stop the container"),
        "{err}"
    );
    // `start` leaves it to its monitor (it counts as running).
    assert_eq!(c.ok(&["start", "crashes"]), "crashes\n");
    c.ok(&["stop", "crashes"]);
    // (Its monitor may have been starting it again just then: that run ends too.)
    c.eventually("the stop", || {
        inspect(&c, "crashes", "{{.State.Status}} {{.State.Restarting}}") == "exited false"
    });
    let restarts = inspect(&c, "crashes", "{{.RestartCount}}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(inspect(&c, "crashes", "{{.RestartCount}}"), restarts);
    assert_eq!(inspect(&c, "crashes", "{{.State.Status}}"), "exited");
    // A `kill` between two runs succeeds and ends the restarts too.
    c.ok(&[
        "run",
        "-d",
        "--name",
        "crashes2",
        "--restart",
        "always",
        "bb",
        "sh",
        "-c",
        "exit 4",
    ]);
    c.eventually("the restarting state", || {
        inspect(&c, "crashes2", "{{.State.Status}}") == "restarting"
    });
    c.ok(&["kill", "crashes2"]);
    c.eventually("the kill", || {
        inspect(&c, "crashes2", "{{.State.Status}}") == "exited"
    });
    let restarts = inspect(&c, "crashes2", "{{.RestartCount}}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(inspect(&c, "crashes2", "{{.RestartCount}}"), restarts);
    c.ok(&["rm", "crashes", "crashes2"]);
    c.assert_clean();
}

/// A plain `rm` loaded a container recorded running whose init had just exited; by the
/// time it removed it, the monitor had recorded the exit and was about to restart it, and
/// `rm` took it from under its monitor (it judged "running" by the dead init's PID). Each
/// restart opens that window (the monitor deletes the runtime's state and unmounts before
/// it records the exit), so `rm` is tried again and again across several restarts: it must
/// be refused every time.
#[test]
fn a_plain_rm_never_takes_a_restarting_container_from_its_monitor() {
    let c = Containers::new();
    c.ok(&[
        "run",
        "-d",
        "--name",
        "flaps",
        "--restart",
        "always",
        "bb",
        "sh",
        "-c",
        "echo run; sleep 0.05; exit 3",
    ]);
    let start = std::time::Instant::now();
    let mut tries = 0;
    // Bounded in count and time; the restarts come at 0.1, 0.2, 0.4, 0.8, 1.6, 3.2 s.
    while tries < 600 && start.elapsed() < Duration::from_secs(7) {
        let (code, _, err) = c.status(&["rm", "flaps"]);
        assert_eq!(
            code, 1,
            "rm #{tries} removed a container its monitor restarts: {err}"
        );
        tries += 1;
    }
    assert!(runs(&c, "flaps") >= 3, "it restarted meanwhile");
    c.ok(&["rm", "-f", "flaps"]);
    c.assert_clean();
}

/// The parent PID of `pid`, from `/proc/PID/stat`.
fn parent_of(pid: i32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // `PID (COMM) STATE PPID …`; COMM may hold spaces, so split after its `)`.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    after.split(' ').nth(1).unwrap().parse().unwrap()
}

/// A host that went down takes the monitors and the containers with it; `system boot`
/// (Docker's daemon start) brings back `always`, `unless-stopped` unless the user stopped
/// it, and `on-failure` after the failure; `no` and never-started ones stay as they are.
#[test]
fn system_boot_brings_back_what_the_restart_policies_say() {
    let c = Containers::new();
    for (name, policy) in [
        ("b-always", "always"),
        ("b-unless", "unless-stopped"),
        ("b-stopped", "unless-stopped"),
        ("b-never", "no"),
        ("b-failure", "on-failure"),
    ] {
        c.ok(&[
            "run",
            "-d",
            "--name",
            name,
            "--restart",
            policy,
            "bb",
            "sleep",
            "1000",
        ]);
    }
    c.ok(&[
        "create",
        "--name",
        "b-created",
        "--restart",
        "always",
        "bb",
        "sleep",
        "1000",
    ]);
    c.ok(&["stop", "-t", "0", "b-stopped"]);
    // The crash: each monitor, then its container's init, killed outright (ours, by PID).
    for name in ["b-always", "b-unless", "b-never", "b-failure"] {
        let pid: i32 = inspect(&c, name, "{{.State.Pid}}").parse().unwrap();
        let monitor = parent_of(pid);
        for p in [monitor, pid] {
            let _ = rustix::process::kill_process(
                rustix::process::Pid::from_raw(p).unwrap(),
                rustix::process::Signal::KILL,
            );
        }
    }
    c.eventually("the killed containers to show as exited", || {
        c.ok(&["ps", "-q", "--filter", "name=b-"]).is_empty()
    });
    let mut started: Vec<String> = c
        .ok(&["system", "boot"])
        .lines()
        .map(str::to_string)
        .collect();
    started.sort();
    assert_eq!(started, ["b-always", "b-failure", "b-unless"]);
    let mut up: Vec<String> = c
        .ok(&["ps", "--filter", "name=b-", "--format", "{{.Names}}"])
        .lines()
        .map(str::to_string)
        .collect();
    up.sort();
    assert_eq!(up, ["b-always", "b-failure", "b-unless"]);
    // Once up, a second boot has nothing to do.
    assert_eq!(c.ok(&["system", "boot"]), "");
    for name in [
        "b-always",
        "b-unless",
        "b-stopped",
        "b-never",
        "b-failure",
        "b-created",
    ] {
        c.ok(&["rm", "-f", name]);
    }
    c.assert_clean();
}
