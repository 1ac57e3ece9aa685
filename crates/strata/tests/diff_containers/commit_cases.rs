//! A container's filesystem changes, from the `docker diff` and `docker commit` references:
//! the A/C/D lines, and the image a commit makes (files, deletions, config, `--change`,
//! message and author).

use super::case::{Case, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    script("diff_add_change_delete", diff_add_change_delete),
    script("diff_nested_dirs", diff_nested_dirs),
    script("diff_untouched_container", diff_untouched),
    script("commit_files_and_config", commit_files_and_config),
    script("commit_change_cmd_and_env", commit_change),
    script("commit_message_and_author", commit_message),
    script("commit_keeps_deletions", commit_deletions),
];

fn diff_add_change_delete(s: &Side) {
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "touch /new; echo x > /kept; rm /gone; echo y > /dir/new",
        ],
        Cmp::Code,
    );
    // Docker lists changes in the upper directory's readdir order: compared as a set.
    s.step(&["diff", "@name"], Cmp::Sorted);
}

fn diff_nested_dirs(s: &Side) {
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "mkdir -p /a/b/c && touch /a/b/c/f && rm -r /dir",
        ],
        Cmp::Code,
    );
    // Docker lists changes in the upper directory's readdir order: compared as a set.
    s.step(&["diff", "@name"], Cmp::Sorted);
}

fn diff_untouched(s: &Side) {
    s.step(&["run", "--name", "@name", "bb", "true"], Cmp::Code);
    s.step(&["diff", "@name"], Cmp::Out);
}

fn commit_files_and_config(s: &Side) {
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "-e",
            "FOO=bar",
            "-w",
            "/tmp",
            "bb",
            "sh",
            "-c",
            "echo hi > /f",
        ],
        Cmp::Code,
    );
    s.step(&["commit", "@name", "@image"], Cmp::Code);
    s.step(&["run", "--rm", "@image", "cat", "/f"], Cmp::Out);
    s.step(
        &[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Env}} {{json .Config.Cmd}} {{.Config.WorkingDir}}",
            "@image",
        ],
        Cmp::Out,
    );
}

fn commit_change(s: &Side) {
    s.step(&["run", "--name", "@name", "bb", "true"], Cmp::Code);
    s.step(
        &[
            "commit",
            "-c",
            "CMD [\"echo\", \"committed\"]",
            "-c",
            "ENV X=1",
            "-c",
            "EXPOSE 80",
            "@name",
            "@image",
        ],
        Cmp::Code,
    );
    s.step(&["run", "--rm", "@image"], Cmp::Out);
    s.step(
        &[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Env}} {{json .Config.Cmd}} {{json .Config.ExposedPorts}}",
            "@image",
        ],
        Cmp::Out,
    );
}

fn commit_message(s: &Side) {
    s.step(&["run", "--name", "@name", "bb", "true"], Cmp::Code);
    s.step(
        &[
            "commit",
            "-m",
            "the message",
            "-a",
            "An Author",
            "@name",
            "@image",
        ],
        Cmp::Code,
    );
    s.step(
        &[
            "image",
            "inspect",
            "-f",
            "{{.Comment}}|{{.Author}}",
            "@image",
        ],
        Cmp::Out,
    );
}

fn commit_deletions(s: &Side) {
    s.step(&["run", "--name", "@name", "bb", "rm", "/gone"], Cmp::Code);
    s.step(&["commit", "@name", "@image"], Cmp::Code);
    s.step(
        &[
            "run",
            "--rm",
            "@image",
            "sh",
            "-c",
            "test -e /gone; echo $?; cat /kept",
        ],
        Cmp::Out,
    );
}
