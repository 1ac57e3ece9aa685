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
    script("export_whole_filesystem", export_whole_filesystem),
    script("export_to_stdout_and_errors", export_stdout_and_errors),
];

/// A tar archive's entries, one line each, sorted: path (no trailing slash), type, mode,
/// owner, size and link target (times differ between any two exports).
fn tar_listing(path: &std::path::Path) -> String {
    let mut a = tar::Archive::new(std::fs::File::open(path).unwrap());
    let mut lines: Vec<String> = a
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            format!(
                "{} {:?} {:o} {}:{} {} {}",
                e.path()
                    .unwrap()
                    .display()
                    .to_string()
                    .trim_end_matches('/'),
                h.entry_type(),
                h.mode().unwrap() & 0o7777,
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.size().unwrap(),
                e.link_name()
                    .unwrap()
                    .map(|l| l.display().to_string())
                    .unwrap_or_default()
            )
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

fn export_whole_filesystem(s: &Side) {
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "echo hi > /new; rm /gone; mkdir -p /a/b; ln -s /new /a/b/link; chmod 700 /a",
        ],
        Cmp::Code,
    );
    let out = s.dir().join("export.tar");
    s.step(&["export", "-o", "@dir/export.tar", "@name"], Cmp::Full);
    s.note("entries", &tar_listing(&out));
    s.step(
        &[
            "container",
            "export",
            "--output",
            "@dir/export.tar",
            "@name",
        ],
        Cmp::Full,
    );
    s.note("entries again", &tar_listing(&out));
}

fn export_stdout_and_errors(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Code);
    // To stdout (a pipe here): the archive itself.
    let tar = s.step(&["export", "@name"], Cmp::Code);
    s.note(
        "stdout is a tar",
        &tar.stdout.starts_with(".dockerenv").to_string(),
    );
    s.step(
        &["export", "-o", "/nonexistent-dir/x.tar", "@name"],
        Cmp::Full,
    );
    s.step(&["export", "dc-no-such-container"], Cmp::Code);
}

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
