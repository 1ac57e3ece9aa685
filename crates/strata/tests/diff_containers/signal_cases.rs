//! Containers over their life, from the `docker run`, `stop`, `kill`, `logs` and `exec`
//! references: signals and stop timeouts, stdin and TTYs, detached containers and their
//! logs, and `exec`.

use super::case::{Case, code, input, out, script};
use super::side::{Cmp, Side};

/// A shell that reports the signal it gets and exits with a code of its own for it.
const TRAPS: &str = "trap 'echo got TERM; exit 3' TERM; trap 'echo got USR1; exit 5' USR1; trap 'echo got INT; exit 6' INT; echo ready; while :; do sleep 0.1; done";

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    // Signals and stop timeouts.
    script("stop_pid1_ignores_term_killed_after_timeout", stop_killed_after_timeout),
    script("stop_trapped_term", stop_trapped_term),
    script("stop_signal_flag", stop_signal_flag),
    script("stop_signal_from_image", stop_signal_from_image),
    script("kill_default_is_sigkill", kill_default),
    script("kill_signal_name", kill_signal_name),
    script("kill_signal_number", kill_signal_number),
    script("kill_signal_sig_prefix", kill_signal_sig_prefix),
    script("kill_bad_signal", kill_bad_signal),
    script("kill_not_running", kill_not_running),
    script("stop_not_running_is_ok", stop_not_running),
    script("init_forwards_stop", init_forwards_stop),
    script("restart_reruns", restart_reruns),
    // stdin and TTYs.
    input("stdin_interactive", &["run", "--rm", "-i", "bb", "cat"], "hello\nworld\n"),
    input("stdin_not_attached_without_i", &["run", "--rm", "bb", "cat"], "hello\n"),
    input("stdin_interactive_wc", &["run", "--rm", "-i", "bb", "wc", "-l"], "a\nb\nc\n"),
    input("stdin_interactive_exit_code", &["run", "--rm", "-i", "bb", "sh"], "echo in-sh; exit 7\n"),
    out("tty_output_crlf", &["run", "--rm", "-t", "bb", "echo", "hi"]),
    out("tty_stdout_is_terminal", &["run", "--rm", "-t", "bb", "sh", "-c", "test -t 1; echo $?"]),
    out("no_tty_stdout_not_terminal", &["run", "--rm", "bb", "sh", "-c", "test -t 1; echo $?"]),
    input("tty_interactive_needs_terminal", &["run", "--rm", "-it", "bb", "true"], ""),
    // Detached containers and logs.
    script("detach_prints_id_and_logs", detach_and_logs),
    script("logs_stderr_stays_stderr", logs_stderr),
    script("logs_tail", logs_tail),
    script("logs_of_tty_container", logs_tty),
    script("wait_prints_exit_code", wait_exit_code),
    code("logs_no_such_container", &["logs", "dc-no-such-container"]),
    script("start_attach", start_attach),
    // exec.
    script("exec_basic", exec_basic),
    script("exec_exit_codes", exec_exit_codes),
    script("exec_env", exec_env),
    script("exec_user", exec_user),
    script("exec_workdir", exec_workdir),
    script("exec_stdin", exec_stdin),
    script("exec_not_running", exec_not_running),
    code("exec_no_such_container", &["exec", "dc-no-such-container", "true"]),
];

/// Starts `@name` detached running [`TRAPS`] (or `cmd`), waiting until it is ready.
fn start_trapping(s: &Side, extra: &[&str], image: &str) {
    let mut args = vec!["run", "-d", "--name", "@name"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&[image, "sh", "-c", TRAPS]);
    s.step(&args, Cmp::Code);
    ready(s, "@name");
}

/// Polls `logs` until the container printed "ready" (up to 20 s).
fn ready(s: &Side, name: &str) {
    for _ in 0..200 {
        if s.step(&["logs", name], Cmp::Quiet).stdout.contains("ready") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    s.note("ready", "never printed ready");
}

/// The container's exit code and its logs.
fn outcome(s: &Side) {
    s.step(&["wait", "@name"], Cmp::Out);
    s.step(
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(&["logs", "@name"], Cmp::Out);
}

fn stop_killed_after_timeout(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "echo ready; sleep 60",
        ],
        Cmp::Code,
    );
    ready(s, "@name");
    s.step(&["stop", "-t", "1", "@name"], Cmp::Out);
    outcome(s);
}

fn stop_trapped_term(s: &Side) {
    start_trapping(s, &[], "bb");
    s.step(&["stop", "-t", "20", "@name"], Cmp::Out);
    outcome(s);
}

fn stop_signal_flag(s: &Side) {
    start_trapping(s, &["--stop-signal", "USR1"], "bb");
    s.step(&["stop", "@name"], Cmp::Out);
    outcome(s);
}

fn stop_signal_from_image(s: &Side) {
    start_trapping(s, &[], "stopimg");
    s.step(
        &["inspect", "-f", "{{.Config.StopSignal}}", "@name"],
        Cmp::Out,
    );
    s.step(&["stop", "@name"], Cmp::Out);
    outcome(s);
}

fn kill_default(s: &Side) {
    start_trapping(s, &[], "bb");
    s.step(&["kill", "@name"], Cmp::Out);
    outcome(s);
}

fn kill_signal_name(s: &Side) {
    start_trapping(s, &[], "bb");
    s.step(&["kill", "-s", "USR1", "@name"], Cmp::Out);
    outcome(s);
}

fn kill_signal_number(s: &Side) {
    start_trapping(s, &[], "bb");
    s.step(&["kill", "--signal", "2", "@name"], Cmp::Out);
    outcome(s);
}

fn kill_signal_sig_prefix(s: &Side) {
    start_trapping(s, &[], "bb");
    s.step(&["kill", "-s", "SIGTERM", "@name"], Cmp::Out);
    outcome(s);
}

fn kill_bad_signal(s: &Side) {
    start_trapping(s, &[], "bb");
    s.step(&["kill", "-s", "NOPE", "@name"], Cmp::Code);
    s.step(&["inspect", "-f", "{{.State.Running}}", "@name"], Cmp::Out);
}

fn kill_not_running(s: &Side) {
    s.step(&["run", "--name", "@name", "bb", "true"], Cmp::Code);
    s.step(&["kill", "@name"], Cmp::Code);
}

fn stop_not_running(s: &Side) {
    s.step(&["run", "--name", "@name", "bb", "true"], Cmp::Code);
    s.step(&["stop", "@name"], Cmp::Out);
}

fn init_forwards_stop(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--init",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "echo ready; sleep 60",
        ],
        Cmp::Code,
    );
    ready(s, "@name");
    s.step(&["stop", "-t", "20", "@name"], Cmp::Out);
    s.step(&["inspect", "-f", "{{.State.ExitCode}}", "@name"], Cmp::Out);
}

fn restart_reruns(s: &Side) {
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "echo run; exit 4",
        ],
        Cmp::Out,
    );
    s.step(&["start", "@name"], Cmp::Out);
    s.step(&["wait", "@name"], Cmp::Out);
    s.step(&["logs", "@name"], Cmp::Out);
    s.step(
        &[
            "inspect",
            "-f",
            "{{.RestartCount}} {{.State.ExitCode}}",
            "@name",
        ],
        Cmp::Out,
    );
}

fn detach_and_logs(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "echo one; echo two",
        ],
        Cmp::Full,
    );
    s.step(&["wait", "@name"], Cmp::Out);
    s.step(&["logs", "@name"], Cmp::Full);
}

fn logs_stderr(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ],
        Cmp::Code,
    );
    s.step(&["wait", "@name"], Cmp::Out);
    s.step(&["logs", "@name"], Cmp::Full);
}

fn logs_tail(s: &Side) {
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "for i in 1 2 3 4 5; do echo line$i; done",
        ],
        Cmp::Out,
    );
    s.step(&["logs", "--tail", "2", "@name"], Cmp::Out);
    s.step(&["logs", "-n", "0", "@name"], Cmp::Out);
    s.step(&["logs", "--tail", "all", "@name"], Cmp::Out);
}

fn logs_tty(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "-t",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ],
        Cmp::Code,
    );
    s.step(&["wait", "@name"], Cmp::Out);
    s.step(&["logs", "@name"], Cmp::Full);
}

fn wait_exit_code(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "sleep 0.2; exit 4",
        ],
        Cmp::Code,
    );
    s.step(&["wait", "@name"], Cmp::Full);
    s.step(&["wait", "dc-no-such-container"], Cmp::Code);
}

fn start_attach(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "echo attached; exit 2",
        ],
        Cmp::Code,
    );
    s.step(&["start", "-a", "@name"], Cmp::Out);
    s.step(&["start", "@name"], Cmp::Out);
}

/// A running container to exec into: image `envimg` (user app, workdir /img/work).
fn running(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "-e",
            "RUNENV=1",
            "envimg",
            "sh",
            "-c",
            "echo ready; sleep 60",
        ],
        Cmp::Code,
    );
    ready(s, "@name");
}

fn exec_basic(s: &Side) {
    running(s);
    s.step(&["exec", "@name", "echo", "hi"], Cmp::Full);
    s.step(&["exec", "@name", "sh", "-c", "id; pwd"], Cmp::Out);
}

fn exec_exit_codes(s: &Side) {
    running(s);
    s.step(&["exec", "@name", "sh", "-c", "exit 5"], Cmp::Out);
    s.step(&["exec", "@name", "nosuchcmd"], Cmp::Code);
    s.step(&["exec", "@name", "/etc/passwd"], Cmp::Code);
}

fn exec_env(s: &Side) {
    running(s);
    s.step(
        &["exec", "-e", "A=exec", "-e", "NEW=1", "@name", "env"],
        Cmp::Out,
    );
}

fn exec_user(s: &Side) {
    running(s);
    s.step(&["exec", "-u", "root", "@name", "id"], Cmp::Out);
    s.step(&["exec", "-u", "1000:10", "@name", "id"], Cmp::Out);
    s.step(&["exec", "-u", "nobodyhere", "@name", "id"], Cmp::Code);
}

fn exec_workdir(s: &Side) {
    running(s);
    s.step(&["exec", "-w", "/tmp", "@name", "pwd"], Cmp::Out);
    s.step(
        &["exec", "-w", "/does/not/exist", "@name", "pwd"],
        Cmp::Code,
    );
}

fn exec_stdin(s: &Side) {
    running(s);
    s.step_in(&["exec", "-i", "@name", "cat"], "piped\n", Cmp::Out);
    s.step_in(&["exec", "@name", "cat"], "not attached\n", Cmp::Out);
}

fn exec_not_running(s: &Side) {
    s.step(&["run", "--name", "@name", "bb", "true"], Cmp::Code);
    s.step(&["exec", "@name", "true"], Cmp::Code);
}
