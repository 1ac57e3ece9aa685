//! `attach`, from the `docker attach` reference: what it refuses (a stopped or missing
//! container, bad `--detach-keys`) and a detached `-i` container fed through it.

use super::case::{Case, code, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    script("attach_stopped_container", attach_stopped),
    code("attach_no_such_container", &["attach", "dc-no-such-container"]),
    script("attach_bad_detach_keys", attach_bad_detach_keys),
    script("attach_stdin_to_detached_i", attach_stdin),
    script("attach_output_and_exit_code", attach_output),
    script("run_bad_detach_keys", run_bad_detach_keys),
    script("attach_tty_needs_terminal", attach_tty_needs_terminal),
    script("exec_it_needs_terminal", exec_it_needs_terminal),
];

/// Docker: "You cannot attach to a stopped container, start it first", exit 1.
fn attach_stopped(s: &Side) {
    s.step(&["run", "--name", "@name", "bb", "true"], Cmp::Code);
    s.step(&["attach", "@name"], Cmp::Out);
    s.step(&["attach", "--no-stdin", "@name"], Cmp::Out);
}

fn attach_bad_detach_keys(s: &Side) {
    s.step(
        &["run", "-d", "-i", "--name", "@name", "bb", "sh"],
        Cmp::Code,
    );
    s.step(&["attach", "--detach-keys", "foo", "@name"], Cmp::Out);
    s.step(&["attach", "--detach-keys", "ctrl-", "@name"], Cmp::Out);
    s.step(&["inspect", "-f", "{{.State.Running}}", "@name"], Cmp::Out);
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
}

/// The container reads what the client sends, answers, and exits: the client exits with
/// the container's code, which `inspect` then shows. (Whether the answer reaches the client
/// races with the end of its input, in Docker as in strata: see `attach_output`.)
fn attach_stdin(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "-i",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "read x; echo got $x; exit 3",
        ],
        Cmp::Code,
    );
    s.step_in(&["attach", "@name"], "hello\n", Cmp::Code);
    s.step(
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "@name",
        ],
        Cmp::Out,
    );
}

/// Output the container writes while attached reaches the client (stdout and stderr
/// apart), which exits with its code; `--no-stdin` does not feed it.
fn attach_output(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "-i",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "read x; echo out-$x; echo err-$x >&2; exit 5",
        ],
        Cmp::Code,
    );
    // Judged on the exit code only: the client's input ends right after `one`, and both
    // engines then stop sending it output (the container's stdin stays open), so whether
    // `out-one` arrives first is a race in Docker as in strata. `containers_tty`'s
    // `attach_without_a_terminal` checks the streamed output.
    s.step_in(&["attach", "@name"], "one\n", Cmp::Code);
}

/// `run` (attached) with bad `--detach-keys`: what it exits with and what it leaves.
fn run_bad_detach_keys(s: &Side) {
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "--detach-keys",
            "foo",
            "bb",
            "echo",
            "hi",
        ],
        Cmp::Out,
    );
    // The container ran on its own: once it is done it is exited, with its code. (Asked at
    // once, a slower machine may still find it running.)
    s.step(&["wait", "@name"], Cmp::Out);
    s.step(&["inspect", "-f", "{{.State.Status}}", "@name"], Cmp::Out);
}

/// A `-it` container wants a terminal on the client's stdin (here a pipe); `--no-stdin`
/// does not.
fn attach_tty_needs_terminal(s: &Side) {
    s.step(
        &["run", "-d", "-it", "--name", "@name", "bb", "sh"],
        Cmp::Code,
    );
    s.step_in(&["attach", "@name"], "exit 4\n", Cmp::Out);
    s.step(&["inspect", "-f", "{{.State.Running}}", "@name"], Cmp::Out);
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
}

/// `exec -it` without a terminal on stdin.
fn exec_it_needs_terminal(s: &Side) {
    s.step(
        &["run", "-d", "--name", "@name", "bb", "sleep", "100"],
        Cmp::Code,
    );
    s.step_in(
        &["exec", "-it", "@name", "sh", "-c", "exit 3"],
        "",
        Cmp::Out,
    );
    s.step_in(&["exec", "-t", "@name", "sh", "-c", "exit 3"], "", Cmp::Out);
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
}
