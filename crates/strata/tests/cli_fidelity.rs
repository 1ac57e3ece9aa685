//! The command line against the real `docker` client and Engine: usage errors (message and
//! exit code), operands after the image or container, container names, `exec -d`.
//! Each case runs through both and compares what Docker's rules fix ("docker" in Docker's
//! messages reads "strata"). Needs root, runc and dockerd; fails without.

mod harness;

use std::process::Output;

use harness::differential::Differential;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Docker's stderr with its own name replaced by strata's.
fn as_strata(docker: &Output) -> String {
    text(&docker.stderr).replace("docker", "strata")
}

#[test]
fn usage_errors_have_dockers_messages_and_exit_codes() {
    let d = Differential::new();
    // Flag errors: the whole message matches, exit 125.
    for args in [
        &["run", "--bogus", "bb"][..],
        &["run", "-z", "bb"],
        &["run", "-m"],
        &["run", "--name"],
        &["create", "--bogus", "bb"],
        &["exec", "--bogus", "c"],
        &["images", "--bogus"],
        &["image", "ls", "--bogus"],
        &["container", "ls", "--bogus"],
        &["ps", "--bogus"],
        &["rm", "--bogus", "c"],
        &["version", "--bogus"],
        // --version is the top-level command's only.
        &["run", "--version"],
        &["images", "--version"],
    ] {
        let docker = d.docker.run(args);
        let strata = d.strata.run(args);
        assert_eq!(docker.status.code(), Some(125), "docker {args:?}");
        assert_eq!(
            (strata.status.code(), text(&strata.stderr)),
            (Some(125), as_strata(&docker)),
            "{args:?}"
        );
    }
    // A bad flag value: the same first words (the parser's own reason differs), exit 125.
    for args in [
        &["stop", "-t", "x", "c"][..],
        &["run", "--cpus", "abc", "bb"],
    ] {
        let docker = d.docker.run(args);
        let strata = d.strata.run(args);
        let lead = |s: &str| s.split(" flag:").next().unwrap().to_string();
        assert_eq!(
            (strata.status.code(), lead(&text(&strata.stderr))),
            (docker.status.code(), lead(&as_strata(&docker))),
            "{args:?}"
        );
        assert!(text(&strata.stderr).ends_with(&format!("See 'strata {} --help'.\n", args[0])));
    }
    // Argument counts and unknown commands: the first two lines match, exit 1.
    for args in [
        &["run"][..],
        &["exec", "c"],
        &["exec"],
        &["inspect"],
        &["rm"],
        &["tag", "a"],
        &["logs"],
        &["nope"],
    ] {
        let docker = d.docker.run(args);
        let strata = d.strata.run(args);
        let head = |s: &str| s.lines().take(2).collect::<Vec<_>>().join("\n");
        assert_eq!(
            (strata.status.code(), head(&text(&strata.stderr))),
            (docker.status.code(), head(&as_strata(&docker))),
            "{args:?}"
        );
        assert_eq!(strata.status.code(), Some(1), "{args:?}");
    }
    // The usage line, as cobra writes it.
    for args in [
        &["run"][..],
        &["exec", "c"],
        &["rm"],
        &["tag", "a"],
        &["logs"],
    ] {
        let docker = d.docker.run(args);
        let strata = d.strata.run(args);
        let usage = |s: &str| {
            s.lines()
                .find(|l| l.starts_with("Usage:"))
                .map(str::to_string)
        };
        assert_eq!(
            usage(&text(&strata.stderr)),
            usage(&as_strata(&docker)),
            "{args:?}"
        );
    }
}

#[test]
fn words_after_the_image_or_container_are_the_commands() {
    let d = Differential::new();
    // Flags right after the image are the command's: echo gets them (busybox echo takes
    // -e itself, and prints the rest).
    for args in [
        &[
            "run",
            "--rm",
            "--entrypoint",
            "echo",
            "bb",
            "-e",
            "X=1",
            "-w",
            "/tmp",
        ][..],
        &["run", "--rm", "--entrypoint", "echo", "bb", "--version"],
        &[
            "run",
            "--rm",
            "--entrypoint",
            "echo",
            "bb",
            "--rm",
            "-d",
            "--",
            "x",
        ],
    ] {
        let docker = d.docker.run(args);
        let strata = d.strata.run(args);
        assert!(docker.status.success(), "docker {args:?}");
        assert_eq!(
            (strata.status.code(), text(&strata.stdout)),
            (docker.status.code(), text(&docker.stdout)),
            "{args:?}: {}",
            text(&strata.stderr)
        );
    }
    // `-e` right after the image is the command: there is no such program.
    let docker = d.docker.run(&["run", "--rm", "bb", "-e", "X=1"]);
    let strata = d.strata.run(&["run", "--rm", "bb", "-e", "X=1"]);
    assert_eq!(
        strata.status.code(),
        docker.status.code(),
        "{}",
        text(&strata.stderr)
    );
    // create: the command is recorded as given.
    for side in ["docker", "strata"] {
        let args = [
            "create",
            "--name",
            "cmdargs",
            "bb",
            "-w",
            "/tmp",
            "--version",
        ];
        let inspect = ["inspect", "-f", "{{json .Config.Cmd}}", "cmdargs"];
        let got = if side == "docker" {
            d.docker.ok(&args);
            d.docker.ok(&inspect)
        } else {
            d.strata.ok(&args);
            d.strata.ok(&inspect)
        };
        assert_eq!(got, "[\"-w\",\"/tmp\",\"--version\"]\n", "{side}");
    }
    // exec: `-e X=1` after the container is the command, not exec's --env.
    d.docker
        .ok(&["run", "-d", "--name", "ex", "bb", "sleep", "60"]);
    d.strata
        .ok(&["run", "-d", "--name", "ex", "bb", "sleep", "60"]);
    let docker = d.docker.run(&["exec", "ex", "-e", "X=1", "env"]);
    let strata = d.strata.run(&["exec", "ex", "-e", "X=1", "env"]);
    assert!(!docker.status.success());
    assert!(!strata.status.success(), "{}", text(&strata.stdout));
    assert!(!text(&strata.stdout).contains("X=1"));
    d.strata.ok(&["rm", "-f", "ex", "cmdargs"]);
}

#[test]
fn container_names_are_validated_and_exec_detaches() {
    let d = Differential::new();
    let msg = "Invalid container name (../x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed";
    for (args, code) in [
        (&["run", "--rm", "--name", "../x", "bb", "true"][..], 125),
        (&["create", "--name", "../x", "bb"], 1),
    ] {
        let docker = d.docker.run(args);
        let strata = d.strata.run(args);
        assert_eq!(docker.status.code(), Some(code), "docker {args:?}");
        assert!(text(&docker.stderr).contains(msg));
        assert_eq!(strata.status.code(), Some(code), "{args:?}");
        assert!(
            text(&strata.stderr).contains(msg),
            "{}",
            text(&strata.stderr)
        );
    }
    let (_, err) = d.strata.fails(&["create", "--name", "a", "bb"]);
    assert!(err.contains("Invalid container name (a)"), "{err}");
    assert_eq!(d.strata.ok(&["ps", "-aq"]), "", "nothing was created");
    assert_eq!(
        d.strata.leftovers(),
        Vec::<String>::new(),
        "no directories left"
    );

    // exec -d: returns at once with nothing printed, the command runs, its output is
    // discarded (neither printed nor logged).
    d.strata
        .ok(&["run", "-d", "--name", "bg", "bb", "sleep", "60"]);
    let out = d.strata.run(&[
        "exec",
        "-d",
        "bg",
        "sh",
        "-c",
        "echo out; echo err >&2; sleep 1; echo done > /marker",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        (text(&out.stdout), text(&out.stderr)),
        (String::new(), String::new())
    );
    d.strata.eventually("the detached exec's marker", || {
        d.strata.run(&["exec", "bg", "cat", "/marker"]).stdout == b"done\n"
    });
    assert_eq!(d.strata.ok(&["logs", "bg"]), "");
    // Not running: an error, as Docker's.
    d.strata.ok(&["create", "--name", "idle", "bb"]);
    let (code, err) = d.strata.fails(&["exec", "-d", "idle", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("is not running"), "{err}");
    d.strata.ok(&["rm", "-f", "bg", "idle"]);
}
