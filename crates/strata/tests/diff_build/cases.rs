//! The cases of the build differential suite, written from the Dockerfile reference
//! (<https://docs.docker.com/reference/dockerfile/>) point by point.
//!
//! Every case builds `FROM bb` (busybox, `PATH=/bin`, `CMD ["sh"]`; `/etc/passwd` has
//! `app` 1000:1000, `/etc/group` has `wheel` 10 with `app` in it), `bb-entry` (the same with
//! `ENTRYPOINT ["/bin/echo"]`, `CMD ["base"]`) or `bb-onbuild` (with ONBUILD triggers).

use std::path::Path;

use serde_json::Value;

use super::Tree;

/// Who judges a case.
#[derive(Clone, Copy)]
pub enum Oracle {
    /// The real Docker Engine builds the same context; the results must agree.
    Docker,
    /// A feature newer than Docker 20.10's BuildKit: judged on strata's own result
    /// (success, compared config, merged filesystem) against the current reference.
    Reference(fn(bool, &Value, &Tree) -> Result<(), String>),
}

/// One Dockerfile and its context.
pub struct Case {
    /// Unique; also the image tag and the context directory's name.
    pub name: &'static str,
    /// The Dockerfile.
    pub dockerfile: &'static str,
    /// Context entries: `name/` a directory, `name:0755` a mode, content `->t` a symlink.
    pub ctx: &'static [(&'static str, &'static str)],
    /// Extra `build` flags, given to both engines (the context is the current directory).
    pub flags: &'static [&'static str],
    /// Writes what `ctx` cannot express (archives, binary files).
    pub prep: Option<fn(&Path)>,
    /// Who judges.
    pub oracle: Oracle,
}

const fn case(name: &'static str, dockerfile: &'static str) -> Case {
    Case {
        name,
        dockerfile,
        ctx: &[],
        flags: &[],
        prep: None,
        oracle: Oracle::Docker,
    }
}

/// Differences not fixed yet: (case, reason). The suite fails when one of these starts
/// agreeing (take it out) or when a case not listed differs.
pub const KNOWN: &[(&str, &str)] = &[(
    "run_deletes_base_files",
    "two deletions in one RUN: the second whiteout is a hardlink to the first",
)];

const AB: &[(&str, &str)] = &[("a.txt", "alpha\n"), ("b.txt", "bravo\n")];

/// Checks that `path` is a regular file holding exactly `want`.
fn content(tree: &Tree, path: &str, want: &str) -> Result<(), String> {
    use sha2::{Digest as _, Sha256};
    let sha = hex::encode(Sha256::digest(want.as_bytes()))[..12].to_string();
    match tree.get(path) {
        Some(n) if n.kind == 'f' && n.sha == sha => Ok(()),
        other => Err(format!(
            "/{path}: expected a file holding {want:?}, found {other:?}"
        )),
    }
}

/// Writes `name` as a tar of `inner/file.txt` compressed by `compress` (a shell filter).
fn archive(dir: &Path, name: &str, compress: &str) {
    let src = dir.join(format!(".src-{name}"));
    std::fs::create_dir_all(src.join("inner")).unwrap();
    std::fs::write(src.join("inner/file.txt"), "from the archive\n").unwrap();
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C '{}' -cf - inner | {compress} > '{}' && rm -rf '{}'",
            src.display(),
            dir.join(name).display(),
            src.display()
        ))
        .status()
        .unwrap();
    assert!(status.success(), "making {name}");
}

pub const CASES: &[Case] = &[
    // ---- FROM, RUN
    case("run_shell_form", "FROM bb\nRUN echo hi > /hi.txt\n"),
    case(
        "run_exec_form",
        "FROM bb\nRUN [\"sh\", \"-c\", \"echo exec > /e.txt\"]\n",
    ),
    case("run_fails", "FROM bb\nRUN exit 3\n"),
    case(
        "run_line_continuation",
        "FROM bb\nRUN echo one \\\n  two \\\n  three > /c.txt\n",
    ),
    case(
        "run_creates_dirs_and_links",
        "FROM bb\nRUN mkdir -p /a/b && ln -s /a/b /l && touch /a/b/f\n",
    ),
    case("run_deletes_base_files", "FROM bb\nRUN rm /gone /dir/old\n"),
    case(
        "run_deletes_then_recreates",
        "FROM bb\nRUN rm -r /dir && mkdir /dir && echo new > /dir/new\n",
    ),
    case("from_unknown_image", "FROM no-such-image-here\nRUN true\n"),
    case("unknown_instruction", "FROM bb\nFROBNICATE x\n"),
    case("no_from", "RUN true\n"),
    // ---- ENV
    case(
        "env_forms",
        "FROM bb\nENV A=1 B=\"two words\" C=three\\ words\nENV D four five\n",
    ),
    // Docker: a variable set earlier on the same ENV line is not yet visible.
    case(
        "env_same_line_uses_old_value",
        "FROM bb\nENV a=x\nENV a=y b=$a\n",
    ),
    case(
        "env_in_run",
        "FROM bb\nENV GREETING=hello\nRUN echo \"$GREETING\" > /g.txt\n",
    ),
    case(
        "env_expansion_modifiers",
        "FROM bb\nENV A=set\nENV B=${A:-dflt} C=${UNSET:-dflt} D=${A:+alt} E=${UNSET:+alt}\n",
    ),
    case(
        "env_overrides_base_path",
        "FROM bb\nENV PATH=/usr/bin:$PATH\n",
    ),
    // ---- ARG
    Case {
        flags: &["--build-arg", "V=over"],
        ..case("arg_override", "FROM bb\nARG V=def\nRUN echo $V > /v.txt\n")
    },
    case("arg_default", "FROM bb\nARG V=def\nRUN echo $V > /v.txt\n"),
    case(
        "arg_before_from",
        "ARG BASE=bb\nFROM $BASE\nRUN echo ok > /ok\n",
    ),
    case(
        "arg_before_from_not_in_stage",
        "ARG X=1\nFROM bb\nRUN echo \"x=$X\" > /x.txt\n",
    ),
    case(
        "arg_redeclared_in_stage",
        "ARG X=1\nFROM bb\nARG X\nRUN echo \"x=$X\" > /x.txt\n",
    ),
    case(
        "arg_not_in_image_env",
        "FROM bb\nARG SECRETISH=1\nENV KEPT=$SECRETISH\n",
    ),
    case(
        "env_beats_arg",
        "FROM bb\nARG V=arg\nENV V=env\nRUN echo $V > /v.txt\n",
    ),
    Case {
        flags: &[
            "--build-arg",
            "HTTP_PROXY=http://proxy.invalid:3128",
            "--build-arg",
            "no_proxy=localhost",
        ],
        // Predefined proxy args reach RUN without an ARG line, and stay out of the image.
        ..case(
            "proxy_args_reach_run",
            "FROM bb\nRUN echo \"$HTTP_PROXY $no_proxy\" > /p.txt\n",
        )
    },
    case(
        "targetarch_needs_arg",
        "FROM bb\nARG TARGETARCH\nARG TARGETOS\nRUN echo \"$TARGETOS/$TARGETARCH\" > /t.txt\n",
    ),
    // ---- WORKDIR
    case("workdir_unused_is_created", "FROM bb\nWORKDIR /a/b/c\n"),
    case(
        "workdir_relative",
        "FROM bb\nWORKDIR /a\nWORKDIR b\nRUN pwd > /pwd.txt\n",
    ),
    case("workdir_env", "FROM bb\nENV D=/data\nWORKDIR $D/x\n"),
    // ---- USER
    case("user_config", "FROM bb\nUSER 1000:1000\n"),
    case(
        "user_name_run",
        "FROM bb\nUSER app\nRUN id > /tmp/../dev/null; echo done\n",
    ),
    // ---- CMD, ENTRYPOINT
    case("cmd_exec", "FROM bb\nCMD [\"echo\", \"a b\"]\n"),
    case("cmd_shell", "FROM bb\nCMD echo $HOME\n"),
    case("entrypoint_shell", "FROM bb\nENTRYPOINT echo hi\n"),
    // ENTRYPOINT resets a CMD inherited from the base image.
    case(
        "entrypoint_resets_base_cmd",
        "FROM bb-entry\nENTRYPOINT [\"/bin/cat\"]\n",
    ),
    case("entrypoint_inherited", "FROM bb-entry\nCMD [\"mine\"]\n"),
    // ---- LABEL, EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK, SHELL
    case(
        "label_forms",
        "FROM bb\nLABEL a=1 \"b c\"=\"d e\"\nLABEL f g h\n",
    ),
    case(
        "expose_forms",
        "FROM bb\nEXPOSE 80 443/tcp 53/udp 8000-8002\n",
    ),
    case("expose_invalid", "FROM bb\nEXPOSE abc\n"),
    case(
        "volume_forms",
        "FROM bb\nVOLUME /v1 /v2\nVOLUME [\"/v3\"]\n",
    ),
    case("stopsignal", "FROM bb\nSTOPSIGNAL SIGINT\n"),
    case(
        "healthcheck_cmd",
        "FROM bb\nHEALTHCHECK --interval=5s --timeout=2s --retries=4 CMD true\n",
    ),
    case("healthcheck_none", "FROM bb\nHEALTHCHECK NONE\n"),
    case(
        "shell_instruction",
        "FROM bb\nSHELL [\"/bin/sh\", \"-ec\"]\nRUN echo shell > /s.txt\n",
    ),
    // ---- ONBUILD
    case("onbuild_recorded", "FROM bb\nONBUILD RUN echo later\n"),
    case(
        "onbuild_triggers_run",
        "FROM bb-onbuild\nRUN cat /onbuild.txt > /seen.txt\n",
    ),
    // ---- COPY
    Case {
        ctx: AB,
        // The destination is an existing directory: the file goes into it.
        ..case(
            "copy_into_existing_dir_no_slash",
            "FROM bb\nCOPY a.txt /etc\n",
        )
    },
    Case {
        ctx: AB,
        ..case("copy_to_new_path", "FROM bb\nCOPY a.txt /new\n")
    },
    Case {
        ctx: AB,
        ..case("copy_to_new_dir_slash", "FROM bb\nCOPY a.txt /newdir/\n")
    },
    Case {
        ctx: AB,
        ..case("copy_multi_to_dir", "FROM bb\nCOPY a.txt b.txt /dest/\n")
    },
    Case {
        ctx: AB,
        // Several sources need a destination ending in `/`.
        ..case(
            "copy_multi_no_slash_fails",
            "FROM bb\nCOPY a.txt b.txt /dest\n",
        )
    },
    Case {
        ctx: AB,
        ..case("copy_wildcard", "FROM bb\nCOPY *.txt /w/\n")
    },
    Case {
        ctx: AB,
        ..case("copy_missing_source_fails", "FROM bb\nCOPY nope.txt /\n")
    },
    Case {
        ctx: &[("dir/x", "x\n"), ("dir/sub/y", "y\n")],
        ..case("copy_dir_contents", "FROM bb\nCOPY dir /dst/\n")
    },
    Case {
        ctx: &[("dir/x", "x\n"), ("dir/sub/y", "y\n")],
        ..case("copy_dir_to_new_path", "FROM bb\nCOPY dir /dst2\n")
    },
    Case {
        ctx: &[("a.txt", "alpha\n"), ("link", "->a.txt")],
        // A symlink source is followed: the file's content is copied.
        ..case("copy_symlink_source_file", "FROM bb\nCOPY link /l\n")
    },
    Case {
        ctx: &[("dir/x", "x\n"), ("ldir", "->dir")],
        ..case("copy_symlink_source_dir", "FROM bb\nCOPY ldir /ld/\n")
    },
    Case {
        ctx: &[("dir/x", "x\n"), ("dir/l", "->x")],
        // A symlink inside a copied directory stays a symlink.
        ..case("copy_symlink_inside_dir", "FROM bb\nCOPY dir /d/\n")
    },
    Case {
        ctx: AB,
        ..case("copy_chown_ids", "FROM bb\nCOPY --chown=1000:10 a.txt /o\n")
    },
    Case {
        ctx: AB,
        ..case(
            "copy_chown_names",
            "FROM bb\nCOPY --chown=app:wheel a.txt /o\n",
        )
    },
    Case {
        ctx: AB,
        ..case(
            "copy_chown_user_only",
            "FROM bb\nCOPY --chown=app a.txt /o\n",
        )
    },
    Case {
        ctx: AB,
        ..case("copy_chmod", "FROM bb\nCOPY --chmod=0755 a.txt /x\n")
    },
    Case {
        ctx: &[("run.sh:0755", "#!/bin/sh\n"), ("ro.txt:0400", "ro\n")],
        ..case("copy_keeps_modes", "FROM bb\nCOPY run.sh ro.txt /m/\n")
    },
    Case {
        ctx: AB,
        ..case(
            "copy_from_stage",
            "FROM bb AS src\nRUN echo made > /made.txt\nFROM bb\nCOPY --from=src /made.txt /got.txt\n",
        )
    },
    case(
        "copy_from_image",
        "FROM bb\nCOPY --from=bb /etc/passwd /p\n",
    ),
    Case {
        ctx: AB,
        ..case(
            "copy_from_stage_index",
            "FROM bb\nRUN echo zero > /z\nFROM bb\nCOPY --from=0 /z /z0\n",
        )
    },
    Case {
        ctx: AB,
        ..case(
            "copy_relative_to_workdir",
            "FROM bb\nWORKDIR /w\nCOPY a.txt rel/\n",
        )
    },
    Case {
        ctx: AB,
        ..case("copy_env_in_dest", "FROM bb\nENV D=/dst\nCOPY a.txt $D/\n")
    },
    Case {
        ctx: &[
            ("a.txt", "a\n"),
            ("sub/b.txt", "b\n"),
            ("skip.log", "s\n"),
            (".dockerignore", "*.log\n"),
        ],
        ..case("copy_dot_with_dockerignore", "FROM bb\nCOPY . /app/\n")
    },
    Case {
        ctx: &[
            ("dir/drop.txt", "d\n"),
            ("dir/keep.txt", "k\n"),
            ("dir/sub/keep.txt", "k\n"),
            (".dockerignore", "dir\n!dir/keep.txt\n"),
        ],
        // A `!` exception re-includes a file under an excluded directory.
        ..case(
            "dockerignore_reinclude_under_excluded_dir",
            "FROM bb\nCOPY . /app/\n",
        )
    },
    Case {
        ctx: &[
            ("a.txt", "a\n"),
            (".dockerignore", "Dockerfile\n.dockerignore\n"),
        ],
        ..case(
            "dockerignore_may_exclude_dockerfile",
            "FROM bb\nCOPY . /app/\n",
        )
    },
    // ---- ADD
    Case {
        prep: Some(|d| archive(d, "a.tar.gz", "gzip")),
        ..case("add_tar_gz_extracts", "FROM bb\nADD a.tar.gz /x/\n")
    },
    Case {
        prep: Some(|d| archive(d, "a.tar.bz2", "bzip2")),
        ..case("add_tar_bz2_extracts", "FROM bb\nADD a.tar.bz2 /x/\n")
    },
    Case {
        prep: Some(|d| archive(d, "a.tar.xz", "xz")),
        ..case("add_tar_xz_extracts", "FROM bb\nADD a.tar.xz /x/\n")
    },
    Case {
        prep: Some(|d| archive(d, "a.tar", "cat")),
        ..case("add_plain_tar_extracts", "FROM bb\nADD a.tar /x/\n")
    },
    Case {
        ctx: AB,
        ..case("add_plain_file", "FROM bb\nADD a.txt /etc\n")
    },
    // ---- stages, --target, -f
    Case {
        flags: &["--target", "first"],
        ..case(
            "target_stage",
            "FROM bb AS first\nRUN echo first > /f\nFROM bb AS second\nRUN echo second > /s\n",
        )
    },
    Case {
        flags: &["-f", "sub/Custom.dockerfile"],
        ctx: &[(
            "sub/Custom.dockerfile",
            "FROM bb\nRUN echo custom > /c.txt\n",
        )],
        ..case("dockerfile_flag", "FROM bb\nRUN echo default > /d.txt\n")
    },
    // ---- FROM scratch
    Case {
        ctx: AB,
        ..case("from_scratch_copy", "FROM scratch\nCOPY a.txt /\n")
    },
    // ---- directives and parsing
    case(
        "escape_directive",
        "# escape=`\nFROM bb\nRUN echo one `\n  two > /e.txt\n",
    ),
    case(
        "comments_and_blank_lines",
        "# comment\n\nFROM bb\n  # indented comment\nRUN echo ok > /ok\n\n",
    ),
    // ---- newer than Docker 20.10's BuildKit: judged against the current reference.
    Case {
        // Heredocs (Dockerfile 1.4): the body is written verbatim, quotes and all, and
        // `$WHO` is expanded since the delimiter is unquoted.
        oracle: Oracle::Reference(|ok, _, tree| {
            if !ok {
                return Err("heredoc COPY failed".into());
            }
            content(tree, "h.txt", "\"quoted\" 'single' world\n")
        }),
        ..case(
            "copy_heredoc_keeps_quotes",
            "FROM bb\nENV WHO=world\nCOPY <<EOF /h.txt\n\"quoted\" 'single' $WHO\nEOF\n",
        )
    },
];
