//! More `run` flags: `-a` (which streams the client shows), `--userns`, and
//! `--security-opt` beyond seccomp.

use super::case::{Case, code, script};
use super::side::{Cmp, Side};

/// `run -a`: which streams the client shows (the log keeps them all).
#[rustfmt::skip]
pub const ATTACH_CASES: &[Case] = &[
    super::case::full("run_attach_stdout_only", &["run", "--rm", "-a", "stdout", "bb", "sh", "-c", "echo out; echo err >&2"]),
    super::case::full("run_attach_stderr_only", &["run", "--rm", "-a", "STDERR", "bb", "sh", "-c", "echo out; echo err >&2"]),
    super::case::full("run_attach_bad_stream", &["run", "--rm", "-a", "stdpipe", "bb", "true"]),
    super::case::full("run_attach_with_detach", &["run", "--rm", "-d", "-a", "stdout", "bb", "true"]),
    super::case::input("run_attach_stdin", &["run", "--rm", "-i", "-a", "stdin", "-a", "stdout", "bb", "cat"], "fed\n"),
    script("run_attach_logs_keep_all", attach_logs),
];

fn attach_logs(s: &Side) {
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "-a",
            "stderr",
            "bb",
            "sh",
            "-c",
            "echo out; echo err >&2",
        ],
        Cmp::Full,
    );
    s.step(&["logs", "@name"], Cmp::Full);
}

/// `--userns`: `host` (no remapping, as without a remapping daemon) and the refusals.
#[rustfmt::skip]
pub const USERNS_CASES: &[Case] = &[
    super::case::full("userns_bad_mode", &["run", "--rm", "--userns", "private", "bb", "true"]),
    script("userns_host_in_inspect", userns_host),
];

fn userns_host(s: &Side) {
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "--userns",
            "host",
            "bb",
            "cat",
            "/proc/self/uid_map",
        ],
        Cmp::Out,
    );
    s.step(
        &["inspect", "-f", "{{.HostConfig.UsernsMode}}", "@name"],
        Cmp::Out,
    );
}

/// `--security-opt` beyond seccomp: `no-new-privileges`, and the SELinux and AppArmor
/// options a host without them takes and ignores.
#[rustfmt::skip]
pub const SECURITY_OPT_CASES: &[Case] = &[
    super::case::out("security_opt_no_new_privileges", &["run", "--rm", "--security-opt", "no-new-privileges", "bb", "busybox", "grep", "NoNewPrivs", "/proc/self/status"]),
    super::case::out("security_opt_no_new_privileges_false", &["run", "--rm", "--security-opt", "no-new-privileges=false", "bb", "busybox", "grep", "NoNewPrivs", "/proc/self/status"]),
    super::case::out("security_opt_label_disable", &["run", "--rm", "--security-opt", "label=disable", "bb", "echo", "ok"]),
    super::case::out("security_opt_apparmor_unconfined", &["run", "--rm", "--security-opt", "apparmor=unconfined", "bb", "echo", "ok"]),
    code("security_opt_bad_no_new_privileges", &["run", "--rm", "--security-opt", "no-new-privileges=maybe", "bb", "true"]),
    script("security_opt_in_inspect", security_opt_inspect),
];

fn security_opt_inspect(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "--security-opt",
            "no-new-privileges",
            "--security-opt",
            "label=disable",
            "bb",
        ],
        Cmp::Quiet,
    );
    s.step(
        &["inspect", "-f", "{{json .HostConfig.SecurityOpt}}", "@name"],
        Cmp::Out,
    );
    s.step(&["create", "--name", "@name-2", "bb"], Cmp::Quiet);
    s.step(
        &[
            "inspect",
            "-f",
            "{{json .HostConfig.SecurityOpt}}",
            "@name-2",
        ],
        Cmp::Out,
    );
}
