//! `run` semantics through the real binary, against Docker's rules: entrypoint/cmd, env
//! precedence, users, working dirs, exit codes, signals, `--rm`, `-d` with `logs -f`,
//! `exec`, `-i`, and the lifecycle commands (`ps`, `stop`, `kill`, `restart`, `rename`,
//! `top`, `inspect`, `wait`, `container prune`). Needs root and runc; fails without.

mod harness;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use harness::rootfs::Containers;

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

#[test]
fn entrypoint_and_cmd_combine_as_docker() {
    let c = Containers::new();
    c.image(
        "ep",
        &[
            "ENV PATH=/bin",
            "ENTRYPOINT [\"echo\", \"ep\"]",
            "CMD [\"default\"]",
        ],
    );
    for (args, want) in [
        (&["run", "--rm", "ep"][..], "ep default\n"),
        (&["run", "--rm", "ep", "x", "y"], "ep x y\n"),
        // --entrypoint drops the image's CMD too.
        (&["run", "--rm", "--entrypoint", "echo", "ep"], "\n"),
        (
            &["run", "--rm", "--entrypoint", "echo", "ep", "a", "-n"],
            "a -n\n",
        ),
        (
            &["run", "--rm", "--entrypoint", "", "ep", "echo", "z"],
            "z\n",
        ),
        (
            &["run", "--rm", "bb", "echo", "-e", "no\\tflags"],
            "no\tflags\n",
        ),
    ] {
        assert_eq!(c.ok(args), want, "{args:?}");
    }
    // No entrypoint and no command at all.
    let (code, _, err) = c.status(&["run", "--rm", "--entrypoint", "", "bb"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("No command specified"), "{err}");
    c.assert_clean();
}

#[test]
fn env_user_and_working_dir() {
    let c = Containers::new();
    c.image(
        "envimg",
        &[
            "ENV PATH=/bin A=image B=image C=image",
            "WORKDIR /img/work",
            "USER app",
            "CMD [\"sh\"]",
        ],
    );
    std::fs::write(c.path("env.list"), "# comment\nB=file\nC=file\nFROMHOST\n").unwrap();
    let out = c
        .cmd(&[
            "run",
            "--rm",
            "--env-file",
            c.path("env.list").to_str().unwrap(),
            "-e",
            "C=cli",
            "-e",
            "D",
            "envimg",
            "sh",
            "-c",
            "echo $A $B $C $D $FROMHOST $HOME; pwd; id -u; id -g",
        ])
        .env("D", "host-d")
        .env("FROMHOST", "h")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // image < env file < -e; `KEY` alone takes the host's value; HOME from passwd.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "image file cli host-d h /home/app\n/img/work\n1000\n1000\n"
    );
    for (user, want) in [
        ("0", "0 0 0"),
        ("app", "1000 1000 1000 10"),
        ("app:wheel", "1000 10 10"),
        ("1000:10", "1000 10 10"),
        ("4242", "4242 0 0"),
    ] {
        let got = c.ok(&[
            "run",
            "--rm",
            "-u",
            user,
            "bb",
            "sh",
            "-c",
            "echo $(id -u) $(id -g) $(id -G)",
        ]);
        assert_eq!(got.trim(), want, "-u {user}");
    }
    // -w makes the directory, as Docker does.
    assert_eq!(
        c.ok(&["run", "--rm", "-w", "/made/by/w", "bb", "pwd"]),
        "/made/by/w\n"
    );
    c.assert_clean();
}

#[test]
fn exit_codes_are_dockers() {
    let c = Containers::new();
    for (args, want) in [
        (&["run", "--rm", "bb", "sh", "-c", "exit 3"][..], 3),
        (&["run", "--rm", "bb", "false"], 1),
        (&["run", "--rm", "bb", "/nope"], 127),
        (&["run", "--rm", "bb", "/dir"], 126),
        (&["run", "--rm", "--memory", "lots", "bb", "true"], 125),
        (
            &["run", "--rm", "--pull", "never", "nope:latest", "true"],
            125,
        ),
    ] {
        let (code, _, err) = c.status(args);
        assert_eq!(code, want, "{args:?}: {err}");
    }
    c.assert_clean();
}

#[test]
fn signals_reach_the_process() {
    let c = Containers::new();
    // Foreground: our SIGTERM is forwarded; the container's trap decides the exit code.
    let mut child = c
        .cmd(&[
            "run",
            "--rm",
            "bb",
            "sh",
            "-c",
            "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.1; done",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "got-term\n");
    assert_eq!(child.wait().unwrap().code(), Some(42));

    // Detached: `stop` sends the stop signal; `kill -s` any signal.
    let id = c.ok(&[
        "run",
        "-d",
        "bb",
        "sh",
        "-c",
        "trap 'echo usr1' USR1; trap 'exit 7' TERM; echo up; while true; do sleep 0.1; done",
    ]);
    let id = id.trim();
    c.eventually("the trap", || c.ok(&["logs", id]) == "up\n");
    c.ok(&["kill", "-s", "USR1", id]);
    c.eventually("USR1", || c.ok(&["logs", id]).contains("usr1"));
    assert_eq!(c.ok(&["stop", "-t", "5", id]), format!("{id}\n"));
    assert_eq!(c.ok(&["wait", id]), "7\n");
    let ps = c.ok(&["ps", "-a", "--format", "{{.Status}}"]);
    assert!(ps.starts_with("Exited (7) "), "{ps}");
    // A process that ignores SIGTERM is killed after -t.
    let id = c.ok(&[
        "run",
        "-d",
        "bb",
        "sh",
        "-c",
        "trap '' TERM; echo up; while true; do sleep 0.1; done",
    ]);
    let id = id.trim();
    c.eventually("the trap", || c.ok(&["logs", id]) == "up\n");
    c.ok(&["stop", "-t", "1", id]);
    assert_eq!(c.ok(&["wait", id]), "137\n");
    c.ok(&["container", "prune", "-f"]);
    c.assert_clean();
}

#[test]
fn rm_cleans_up_and_stdin_is_piped_with_i() {
    let c = Containers::new();
    // --rm: container, writable layer and anonymous volumes go.
    assert_eq!(
        c.ok(&[
            "run",
            "--rm",
            "-v",
            "/anon",
            "bb",
            "sh",
            "-c",
            "echo x > /f; echo y > /anon/f; echo ok"
        ]),
        "ok\n"
    );
    c.assert_clean();
    // -i feeds our stdin; without -i the container reads /dev/null.
    let out = c.run_with_input(
        &["run", "--rm", "-i", "bb", "sh", "-c", "cat; echo end"],
        b"piped\ndata\n",
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "piped\ndata\nend\n");
    let out = c.run_with_input(&["run", "--rm", "bb", "cat"], b"ignored");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    // stdout and stderr stay apart.
    let out = c.run(&["run", "--rm", "bb", "sh", "-c", "echo out; echo err >&2"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("err\n"));
    // rm without --rm; rm -v takes anonymous volumes.
    c.ok(&["run", "--name", "keep", "-v", "/anon", "bb", "true"]);
    assert_eq!(c.leftovers().len(), 2, "{:?}", c.leftovers());
    assert_eq!(c.ok(&["rm", "-v", "keep"]), "keep\n");
    c.assert_clean();
}

#[test]
fn detached_logs_follow_and_survive_the_starter() {
    let c = Containers::new();
    let id = c.ok(&[
        "run",
        "-d",
        "--name",
        "bg",
        "bb",
        "sh",
        "-c",
        "echo one; sleep 1; echo two >&2; sleep 0.5; exit 5",
    ]);
    let id = id.trim().to_string();
    assert_eq!(id.len(), 64);
    // Another process sees it running.
    let ps = c.ok(&["ps", "--format", "{{.Names}} {{.State}} {{.Status}}"]);
    assert!(ps.starts_with("bg running Up "), "{ps}");
    // logs -f returns once it exits, with everything it wrote, each on its stream.
    let out = c.run(&["logs", "-f", "bg"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "two\n");
    assert_eq!(c.ok(&["wait", "bg"]), "5\n");
    let ps = c.ok(&["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Status}}"]);
    assert!(ps.starts_with("bg exited Exited (5) "), "{ps}");
    assert_eq!(c.ok(&["ps", "-q"]), "");
    assert_eq!(c.ok(&["ps", "-aq"]), format!("{}\n", &id[..12]));
    // --tail and --timestamps.
    let out = c.run(&["logs", "--tail", "1", "-t", "bg"]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        text.ends_with("Z two\n") && text.starts_with("20"),
        "{text}"
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
    // The table has Docker's columns.
    let table = c.ok(&["ps", "-a"]);
    assert_eq!(
        lines(&table)[0].split_whitespace().collect::<Vec<_>>(),
        [
            "CONTAINER",
            "ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES"
        ]
    );
    // Docker's COMMAND: path and args joined (an argument with spaces in single quotes),
    // cut to 20 characters, Go-quoted.
    assert!(table.contains("\"sh -c 'echo one; sl…\""), "{table}");
    // -d --rm: the monitor removes it after it exits.
    c.ok(&["run", "-d", "--rm", "bb", "true"]);
    c.eventually("--rm", || c.ok(&["ps", "-aq"]).lines().count() == 1);
    c.ok(&["rm", "bg"]);
    c.assert_clean();
}

#[test]
fn exec_and_lifecycle_commands() {
    let c = Containers::new();
    let id = c.ok(&[
        "run",
        "-d",
        "--name",
        "svc",
        "-e",
        "A=run",
        "bb",
        "sh",
        "-c",
        "echo up; exec sleep 300",
    ]);
    let id = id.trim();
    assert_eq!(
        c.ok(&[
            "exec",
            "-e",
            "B=exec",
            "-u",
            "app",
            "-w",
            "/etc",
            "svc",
            "sh",
            "-c",
            "echo $A $B; id -u; pwd"
        ]),
        "run exec\n1000\n/etc\n"
    );
    let out = c.run_with_input(&["exec", "-i", "svc", "cat"], b"to exec\n");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "to exec\n");
    assert_eq!(c.status(&["exec", "svc", "sh", "-c", "exit 9"]).0, 9);
    // An exec the runtime cannot start exits 126, as with Docker 20.10.
    assert_eq!(c.status(&["exec", "svc", "/nope"]).0, 126);
    // top lists its process; inspect shows it running; rename.
    let top = c.ok(&["top", "svc"]);
    assert!(
        top.lines().nth(1).unwrap_or("").contains("sleep 300"),
        "{top}"
    );
    let v: serde_json::Value = serde_json::from_str(&c.ok(&["inspect", "svc"])).unwrap();
    assert_eq!(v[0]["Id"], id);
    assert_eq!(v[0]["Name"], "/svc");
    assert_eq!(v[0]["State"]["Running"], true);
    assert_eq!(v[0]["Config"]["Image"], "bb");
    assert_eq!(
        c.ok(&["inspect", "-f", "{{.State.Status}}", "svc"]),
        "running\n"
    );
    c.ok(&["rename", "svc", "svc2"]);
    let (code, _, err) = c.status(&["rm", "svc2"]);
    assert_eq!(code, 1);
    assert!(err.contains("container is running"), "{err}");
    // restart: a new process; stop; start again; rm -f of a running one.
    let pid = |c: &Containers| c.ok(&["inspect", "-f", "{{.State.Pid}}", "svc2"]);
    let before = pid(&c);
    assert_eq!(c.ok(&["restart", "-t", "0", "svc2"]), "svc2\n");
    assert_ne!(pid(&c), before);
    c.ok(&["stop", "-t", "0", "svc2"]);
    assert_eq!(
        c.ok(&["inspect", "-f", "{{.State.Status}}", "svc2"]),
        "exited\n"
    );
    assert_eq!(c.status(&["exec", "svc2", "true"]).0, 1);
    assert_eq!(c.ok(&["start", "svc2"]), "svc2\n");
    assert_eq!(c.ok(&["ps", "--format", "{{.Names}}"]), "svc2\n");
    assert_eq!(c.ok(&["rm", "-f", "svc2"]), "svc2\n");
    // create + start -a.
    let id = c.ok(&[
        "create",
        "--name",
        "later",
        "bb",
        "sh",
        "-c",
        "echo started; exit 4",
    ]);
    assert_eq!(c.ok(&["ps", "-a", "--format", "{{.Status}}"]), "Created\n");
    let (code, out, _) = c.status(&["start", "-a", id.trim()]);
    assert_eq!((code, out.as_str()), (4, "started\n"));
    assert_eq!(
        c.ok(&["ps", "-a", "--filter", "exited=4", "--format", "{{.Names}}"]),
        "later\n"
    );
    let pruned = c.ok(&["container", "prune", "-f"]);
    assert!(
        pruned.starts_with(&format!("Deleted Containers:\n{}\n", id.trim())),
        "{pruned}"
    );
    c.assert_clean();
}

#[test]
fn a_crashed_monitor_is_seen_and_cleaned_up() {
    let c = Containers::new();
    let id = c.ok(&["run", "-d", "--name", "orphan", "bb", "sleep", "300"]);
    let state_path = c.layout().container(id.trim()).join("state.json");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    let monitor = state["monitor_pid"].as_i64().unwrap() as i32;
    let init = state["pid"].as_i64().unwrap() as i32;
    let kill = |pid: i32| {
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(pid).unwrap(),
            rustix::process::Signal::KILL,
        )
        .unwrap()
    };
    // The monitor dies: the container keeps running, and says so.
    kill(monitor);
    c.eventually("the monitor to go", || {
        !std::path::Path::new(&format!("/proc/{monitor}")).exists()
    });
    assert_eq!(c.ok(&["ps", "--format", "{{.State}}"]), "running\n");
    // Its process dies too: seen as exited with an unknown code, by any process.
    kill(init);
    c.eventually("exited", || {
        c.ok(&["ps", "-a", "--format", "{{.State}}"]) == "exited\n"
    });
    assert!(c.ok(&["ps", "-a"]).contains("Exited (255)"));
    assert_eq!(c.ok(&["wait", "orphan"]), "255\n");
    // rm cleans up what the monitor would have: the mount and the directory.
    c.ok(&["rm", "orphan"]);
    c.assert_clean();
}

#[test]
fn init_runs_as_pid_1_and_reaps() {
    harness::require("tini");
    let c = Containers::new();
    c.image("initimg", &["ENV PATH=/bin"]);
    // With --init, PID 1 is Docker's init path and the command runs under it.
    let out = c.ok(&[
        "run",
        "--rm",
        "--init",
        "initimg",
        "sh",
        "-c",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$",
    ]);
    let mut l = out.lines();
    assert_eq!(
        l.next().unwrap().trim_end(),
        "/sbin/docker-init -- sh -c cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$",
        "{out}"
    );
    assert_ne!(
        l.next().unwrap(),
        "1",
        "the command is not PID 1 under --init"
    );
    // Exit codes pass through the init.
    let (code, _, _) = c.status(&["run", "--rm", "--init", "initimg", "sh", "-c", "exit 7"]);
    assert_eq!(code, 7);
    // Without --init the command is PID 1.
    assert_eq!(
        c.ok(&["run", "--rm", "initimg", "sh", "-c", "echo $$"])
            .trim(),
        "1"
    );
    c.assert_clean();
}

/// A relative `--root` works for containers: the overlay options, the bundle and the
/// detached monitor need the full path (`run` failed with "overlay directory … must be
/// an absolute UTF-8 path").
#[test]
fn a_relative_root_works_for_containers() {
    let c = Containers::new();
    let parent = c.root().parent().unwrap().to_path_buf();
    let rel = |args: &[&str]| {
        let mut full = vec!["--root", "store"];
        full.extend_from_slice(args);
        let out = c.cmd(&full).current_dir(&parent).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(rel(&["run", "--rm", "bb", "echo", "ok"]), "ok\n");
    let id = rel(&["run", "-d", "bb", "sh", "-c", "echo detached"]);
    assert_eq!(rel(&["wait", id.trim()]), "0\n");
    assert_eq!(rel(&["logs", id.trim()]), "detached\n");
    rel(&["rm", id.trim()]);
    c.assert_clean();
}

/// `ps` asked the runtime about each running container (whether it was paused) with the
/// runtime's log in the container's directory: while a `--rm` container's monitor removed
/// that directory, `ps` failed ("runtime.log: no such file") or recreated the log in it and
/// left the directory behind. `ps` now reads the cgroup freezer and writes nothing: it
/// keeps succeeding while `--rm` containers come and go, and nothing is left.
#[test]
fn ps_while_rm_containers_exit_never_fails_and_leaves_nothing() {
    let c = Containers::new();
    for i in 0..12 {
        c.ok(&[
            "run",
            "-d",
            "--rm",
            "--name",
            &format!("brief-{i}"),
            "bb",
            "sh",
            "-c",
            "sleep 0.2",
        ]);
    }
    let start = std::time::Instant::now();
    let mut listings = 0;
    // Bounded in count and time: until every container is gone.
    while listings < 2000 && start.elapsed() < std::time::Duration::from_secs(30) {
        let (code, out, err) = c.status(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
        assert_eq!(code, 0, "ps #{listings}: {err}");
        listings += 1;
        if out.trim().is_empty() {
            break;
        }
    }
    assert_eq!(c.ok(&["ps", "-aq"]), "", "all removed");
    c.assert_clean();
}
