//! Bad input to `run`/`create`: a clear error, Docker's exit code, and nothing left behind
//! (no container, mount, directory or volume). Needs root and runc; fails without.

mod harness;

use harness::rootfs::Containers;

#[test]
fn bad_input_is_a_clear_error_and_leaves_nothing() {
    let c = Containers::new();
    c.image(
        "withvol",
        &["ENV PATH=/bin", "VOLUME /data", "CMD [\"sh\"]"],
    );
    for (args, code, message) in [
        (
            &["run", "--rm", "--pull", "never", "missing:1.0", "true"][..],
            125,
            "No such image: missing:1.0",
        ),
        // Not in the store: pulled first, from a registry that is not there.
        (
            &["run", "--rm", "127.0.0.1:9/missing:1.0", "true"],
            125,
            "Unable to find image '127.0.0.1:9/missing:1.0' locally",
        ),
        (
            &["run", "--rm", "-v", "a:b:c:d", "bb", "true"],
            125,
            "invalid volume specification: 'a:b:c:d'",
        ),
        (
            &["run", "--rm", "-v", "rel:dest", "bb", "true"],
            125,
            "invalid volume specification",
        ),
        (
            &["run", "--rm", "-u", "nobody", "bb", "true"],
            125,
            "nobody",
        ),
        (
            &["run", "--rm", "-u", "app:nogroup", "withvol", "true"],
            125,
            "nogroup",
        ),
        (
            &["run", "--rm", "-v", "/anon", "-u", "ghost", "bb", "true"],
            125,
            "ghost",
        ),
        (
            &["run", "--rm", "--entrypoint", "/no/such/bin", "bb"],
            127,
            "/no/such/bin",
        ),
        (
            &["run", "--rm", "bb", "no-such-command"],
            127,
            "no-such-command",
        ),
        (
            &["run", "--rm", "-w", "relative", "bb", "true"],
            125,
            "relative",
        ),
        (
            &["run", "--rm", "-p", "99999:80", "bb", "true"],
            125,
            "99999",
        ),
        (
            &["run", "--rm", "--network", "no-such-net", "bb", "true"],
            125,
            "network no-such-net not found",
        ),
        (
            // Docker resolves the user at start: `run` fails there (125) and --rm
            // removes the container.
            &["run", "--rm", "-u", "nobody", "bb", "true"],
            125,
            "nobody",
        ),
    ] {
        let (got, _, err) = c.status(args);
        assert_eq!(got, code, "{args:?}: {err}");
        assert!(err.contains(message), "{args:?}: {err}");
        // strata's own errors, or a refusal Docker's daemon makes, worded as Docker's CLI
        // reports one.
        let daemon = err.starts_with("strata: Error response from daemon: ")
            && err.ends_with(".\nSee 'strata run --help'.\n");
        assert!(
            err.starts_with("Error: ") || err.contains("\nError: ") || daemon,
            "{args:?}: {err}"
        );
        c.assert_clean();
    }
    // A command that cannot be found, without --rm, leaves a created container (as
    // Docker's does) with its error; removing it leaves nothing.
    let (got, _, _) = c.status(&["run", "--name", "bad", "bb", "/nope"]);
    assert_eq!(got, 127);
    assert_eq!(
        c.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]),
        "bad Created\n"
    );
    let err = c.ok(&["inspect", "-f", "{{.State.Error}}", "bad"]);
    assert!(err.contains("/nope"), "{err}");
    assert!(c.mounts().is_empty());
    // An unknown user: `create` makes the container, every `start` fails (exit 1, as
    // `docker start`) and leaves it created with the error and Docker's ExitCode 128.
    c.ok(&["create", "--name", "nouser", "-u", "nobody", "bb"]);
    for _ in 0..2 {
        let (got, _, err) = c.status(&["start", "nouser"]);
        assert_eq!(got, 1, "{err}");
        assert!(err.contains("unable to find user nobody"), "{err}");
    }
    assert_eq!(
        c.ok(&[
            "ps",
            "-a",
            "--filter",
            "name=nouser",
            "--format",
            "{{.Status}}"
        ]),
        "Created\n"
    );
    let state = c.ok(&[
        "inspect",
        "-f",
        "{{.State.ExitCode}} {{.State.Error}}",
        "nouser",
    ]);
    assert!(
        state.starts_with("128 unable to find user nobody"),
        "{state}"
    );
    c.ok(&["rm", "nouser"]);
    // Detached: the same code.
    let (got, out, err) = c.status(&["run", "-d", "--rm", "bb", "/nope"]);
    assert_eq!(got, 127, "{out}{err}");
    c.ok(&["rm", "bad"]);
    // Unknown containers.
    for cmd in [
        "rm", "stop", "start", "logs", "wait", "kill", "diff", "port", "top",
    ] {
        let (got, _, err) = c.status(&[cmd, "ghost-container"]);
        assert_eq!(got, 1, "{cmd}: {err}");
        assert!(
            err.contains("No such container: ghost-container"),
            "{cmd}: {err}"
        );
    }
    c.assert_clean();
}
