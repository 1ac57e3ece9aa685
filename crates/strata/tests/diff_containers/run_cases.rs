//! `docker run` semantics, from the `docker run` reference: ENTRYPOINT/CMD and the command
//! line, environment precedence, users and groups, the working directory, hostname and the
//! generated `/etc` files, exit codes, and where the container's arguments begin.

use super::case::{Body, Case, code, full, out, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    // ENTRYPOINT × CMD × --entrypoint × arguments (images: see `setup_images`).
    out("cmd_default_sh_no_stdin", &["run", "--rm", "bb"]),
    out("cmd_replaced_by_args", &["run", "--rm", "bb", "echo", "hi"]),
    out("entrypoint_with_image_cmd", &["run", "--rm", "ep"]),
    out("entrypoint_args_replace_cmd", &["run", "--rm", "ep", "x", "y"]),
    out("entrypoint_flag_drops_image_cmd", &["run", "--rm", "--entrypoint", "echo", "ep"]),
    out("entrypoint_flag_with_args", &["run", "--rm", "--entrypoint", "echo", "ep", "a", "-n"]),
    out("entrypoint_cleared_runs_args", &["run", "--rm", "--entrypoint", "", "ep", "echo", "z"]),
    code("entrypoint_cleared_nothing_to_run", &["run", "--rm", "--entrypoint", "", "bb"]),
    code("image_without_cmd_fails", &["run", "--rm", "nocmd"]),
    out("image_entrypoint_only", &["run", "--rm", "eponly"]),
    out("image_entrypoint_only_args", &["run", "--rm", "eponly", "a", "b"]),
    out("image_shell_form_cmd", &["run", "--rm", "cmdshell"]),
    out("image_shell_form_entrypoint_ignores_cmd", &["run", "--rm", "epshell"]),
    out("image_shell_form_entrypoint_ignores_args", &["run", "--rm", "epshell", "extra"]),
    out("entrypoint_flag_absolute", &["run", "--rm", "--entrypoint", "/bin/echo", "bb", "abs"]),
    code("entrypoint_flag_is_one_word", &["run", "--rm", "--entrypoint", "echo hi", "bb"]),
    // Flags after the image belong to the container.
    out("flags_after_image_are_args", &["run", "--rm", "bb", "echo", "--rm", "-d", "-e", "X=1"]),
    out("dash_n_after_image", &["run", "--rm", "bb", "echo", "-n", "x"]),
    out("double_dash_before_image", &["run", "--rm", "--", "bb", "echo", "dd"]),
    code("double_dash_after_image", &["run", "--rm", "bb", "--", "echo", "dd"]),
    out("equals_form_flags", &["run", "--rm", "--env=A=1", "--workdir=/tmp", "bb", "sh", "-c", "echo $A; pwd"]),
    out("combined_short_flags", &["run", "--rm", "-ie", "A=2", "bb", "sh", "-c", "echo $A"]),
    code("entrypoint_cleared_drops_image_cmd", &["run", "--rm", "--entrypoint", "", "ep"]),
    out("empty_argument_kept", &["run", "--rm", "ep", ""]),
    out("argument_with_spaces_kept", &["run", "--rm", "bb", "sh", "-c", "echo \"[$1]\"", "sh", "a  b"]),
    out("cmd_from_image_with_flag_only_entrypoint", &["run", "--rm", "--entrypoint", "/bin/sh", "cmdshell", "-c", "echo replaced"]),
    // Environment.
    out("env_lowercase_name", &["run", "--rm", "-e", "lower=case", "bb", "sh", "-c", "echo $lower"]),
    out("env_unicode_value", &["run", "--rm", "-e", "U=héllo wörld", "bb", "sh", "-c", "echo $U"]),
    out("env_default", &["run", "--rm", "bb", "env"]),
    out("env_image_and_user", &["run", "--rm", "envimg", "env"]),
    out("env_flag_overrides_image", &["run", "--rm", "-e", "A=cli", "envimg", "sh", "-c", "echo $A $B"]),
    // Which value wins is the contract; where a repeated name lands differs from run to run
    // in Docker 20.10 itself.
    Case { name: "env_flag_last_wins", body: Body::Run(&["run", "--rm", "-e", "Z=1", "-e", "M=2", "-e", "Z=3", "bb", "env"], Cmp::Sorted) },
    out("env_empty_value", &["run", "--rm", "-e", "E=", "bb", "sh", "-c", "env | busybox grep ^E="]),
    out("env_value_with_equals", &["run", "--rm", "-e", "Q=a=b=c", "bb", "sh", "-c", "echo $Q"]),
    out("env_overrides_path", &["run", "--rm", "-e", "PATH=/nowhere:/bin", "bb", "sh", "-c", "echo $PATH"]),
    out("env_default_path", &["run", "--rm", "nopath", "/bin/sh", "-c", "echo $PATH"]),
    out("env_home_root", &["run", "--rm", "bb", "sh", "-c", "echo $HOME"]),
    out("env_home_named_user", &["run", "--rm", "-u", "app", "bb", "sh", "-c", "echo $HOME"]),
    out("env_home_unknown_uid", &["run", "--rm", "-u", "4242", "bb", "sh", "-c", "echo $HOME"]),
    out("env_home_flag_wins", &["run", "--rm", "-e", "HOME=/h", "bb", "sh", "-c", "echo $HOME"]),
    out("env_hostname_flag", &["run", "--rm", "--hostname", "web", "bb", "sh", "-c", "echo $HOSTNAME"]),
    out("env_term_with_tty", &["run", "--rm", "-t", "bb", "sh", "-c", "echo $TERM"]),
    out("env_no_term_without_tty", &["run", "--rm", "bb", "sh", "-c", "echo ${TERM-unset}"]),
    code("env_file_missing", &["run", "--rm", "--env-file", "/nonexistent/env", "bb", "true"]),
    code("env_flag_empty_name", &["run", "--rm", "-e", "=x", "bb", "true"]),
    script("env_file_and_flags", env_file_and_flags),
    script("env_file_whitespace", env_file_whitespace),
    script("env_from_caller", env_from_caller),
    // Users and groups.
    out("user_default", &["run", "--rm", "bb", "id"]),
    out("user_name", &["run", "--rm", "-u", "app", "bb", "id"]),
    out("user_uid", &["run", "--rm", "-u", "1000", "bb", "id"]),
    out("user_uid_gid", &["run", "--rm", "-u", "1000:10", "bb", "id"]),
    out("user_name_group", &["run", "--rm", "-u", "app:wheel", "bb", "id"]),
    out("user_unknown_uid", &["run", "--rm", "-u", "4242", "bb", "id"]),
    out("user_unknown_uid_gid", &["run", "--rm", "-u", "4242:4343", "bb", "id"]),
    code("user_unknown_name", &["run", "--rm", "-u", "nobodyhere", "bb", "id"]),
    code("user_unknown_group", &["run", "--rm", "-u", "app:nogroup", "bb", "id"]),
    out("user_from_image", &["run", "--rm", "envimg", "id"]),
    out("user_numeric_image", &["run", "--rm", "userimg", "id"]),
    out("user_flag_overrides_image", &["run", "--rm", "-u", "root", "envimg", "id"]),
    out("group_add_name", &["run", "--rm", "--group-add", "wheel", "bb", "id"]),
    out("group_add_number", &["run", "--rm", "--group-add", "4242", "-u", "app", "bb", "id"]),
    out("user_status_ids", &["run", "--rm", "-u", "app", "bb", "busybox", "grep", "-E", "^(Uid|Gid|Groups):", "/proc/self/status"]),
    out("user_root_status_groups", &["run", "--rm", "bb", "busybox", "grep", "^Groups:", "/proc/self/status"]),
    out("user_root_numeric", &["run", "--rm", "-u", "0:0", "bb", "id"]),
    out("user_group_only_name_lookup", &["run", "--rm", "-u", "app:10", "bb", "id"]),
    // Working directory.
    out("workdir_trailing_slash", &["run", "--rm", "-w", "/tmp/", "bb", "pwd"]),
    out("workdir_dot_dot_cleaned", &["run", "--rm", "-w", "/tmp/../dir", "bb", "pwd"]),
    out("workdir_default", &["run", "--rm", "bb", "pwd"]),
    out("workdir_flag", &["run", "--rm", "-w", "/tmp", "bb", "pwd"]),
    out("workdir_missing_is_created", &["run", "--rm", "-w", "/new/deep/dir", "bb", "sh", "-c", "pwd; ls -ld /new/deep/dir | busybox cut -c1-10"]),
    out("workdir_from_image", &["run", "--rm", "envimg", "pwd"]),
    out("workdir_flag_overrides_image", &["run", "--rm", "-w", "/", "envimg", "pwd"]),
    code("workdir_relative_refused", &["run", "--rm", "-w", "rel", "bb", "pwd"]),
    out("workdir_created_owner_for_user", &["run", "--rm", "-u", "app", "-w", "/made", "bb", "sh", "-c", "ls -lnd /made | busybox awk '{print $1, $3, $4}'"]),
    code("workdir_is_a_file", &["run", "--rm", "-w", "/kept", "bb", "pwd"]),
    // Hostname and the generated /etc files.
    out("hostname_default_is_short_id", &["run", "--rm", "bb", "cat", "/proc/sys/kernel/hostname"]),
    out("hostname_flag", &["run", "--rm", "--hostname", "web", "bb", "cat", "/proc/sys/kernel/hostname", "/etc/hostname"]),
    out("hostname_short_flag", &["run", "--rm", "-h", "web", "bb", "cat", "/etc/hostname"]),
    out("etc_hostname_default", &["run", "--rm", "bb", "cat", "/etc/hostname"]),
    out("etc_hosts_network_none", &["run", "--rm", "bb", "cat", "/etc/hosts"]),
    out("etc_hosts_with_hostname", &["run", "--rm", "--hostname", "web", "bb", "cat", "/etc/hosts"]),
    out("etc_hosts_add_host", &["run", "--rm", "--add-host", "db:10.1.2.3", "bb", "cat", "/etc/hosts"]),
    out("etc_resolv_conf_network_none", &["run", "--rm", "bb", "cat", "/etc/resolv.conf"]),
    out("etc_resolv_conf_network_host", &["run", "--rm", "--network", "host", "bb", "cat", "/etc/resolv.conf"]),
    out("etc_files_are_writable", &["run", "--rm", "bb", "sh", "-c", "echo x >> /etc/hosts && echo x >> /etc/resolv.conf && echo x >> /etc/hostname && echo ok"]),
    // Exit codes.
    full("exit_zero", &["run", "--rm", "bb", "true"]),
    full("exit_one", &["run", "--rm", "bb", "false"]),
    full("exit_n", &["run", "--rm", "bb", "sh", "-c", "exit 42"]),
    full("exit_255", &["run", "--rm", "bb", "sh", "-c", "exit 255"]),
    out("exit_killed_by_signal", &["run", "--rm", "bb", "sh", "-c", "kill -9 $$"]),
    code("exit_127_not_found", &["run", "--rm", "bb", "nosuchcmd"]),
    code("exit_127_missing_path", &["run", "--rm", "bb", "/no/such/file"]),
    code("exit_126_not_executable", &["run", "--rm", "bb", "/etc/passwd"]),
    code("exit_126_directory", &["run", "--rm", "bb", "/tmp"]),
    code("exit_125_missing_image", &["run", "--rm", "--pull", "never", "nosuchimage"]),
    code("exit_125_bad_reference", &["run", "--rm", "BadName", "true"]),
    code("exit_125_unknown_flag", &["run", "--rm", "--no-such-flag", "bb", "true"]),
    code("exit_125_missing_image_arg", &["run", "--rm"]),
    code("exit_125_bad_memory", &["run", "--rm", "-m", "lots", "bb", "true"]),
    full(
        "output_streams_kept_apart",
        &["run", "--rm", "bb", "sh", "-c", "echo out; echo err >&2; echo out2"],
    ),
];

/// `--env-file` (comments, blank lines, a bare name taken from the caller) under `-e`,
/// over the image's ENV.
fn env_file_and_flags(s: &Side) {
    let f = s.dir().join("env.list");
    std::fs::write(&f, "# comment\n\nB=file\nC=file\nA=file\n").unwrap();
    s.step(
        &[
            "run",
            "--rm",
            "--env-file",
            "@dir/env.list",
            "-e",
            "C=cli",
            "envimg",
            "sh",
            "-c",
            "echo $A $B $C",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "run",
            "--rm",
            "--env-file",
            "@dir/env.list",
            "envimg",
            "env",
        ],
        Cmp::Out,
    );
}

/// Values keep their inner and trailing spaces; names are trimmed on the left.
fn env_file_whitespace(s: &Side) {
    std::fs::write(
        s.dir().join("env.list"),
        "SPACED=a b  \n  LEFT=x\nQUOTED=\"q\"\n",
    )
    .unwrap();
    s.step(
        &[
            "run",
            "--rm",
            "--env-file",
            "@dir/env.list",
            "bb",
            "sh",
            "-c",
            "echo \"[$SPACED][$LEFT][$QUOTED]\"",
        ],
        Cmp::Out,
    );
}

/// `-e NAME` (and a bare name in an env file) takes the caller's value; unset stays unset.
fn env_from_caller(s: &Side) {
    std::fs::write(s.dir().join("env.list"), "FROMFILE\nNOTSET_IN_CALLER\n").unwrap();
    let env = [("FROMHOST", "host value"), ("FROMFILE", "file value")];
    s.step_env(
        &[
            "run",
            "--rm",
            "-e",
            "FROMHOST",
            "-e",
            "NOTSET_EITHER",
            "--env-file",
            "@dir/env.list",
            "bb",
            "env",
        ],
        &env,
        Cmp::Out,
    );
}
