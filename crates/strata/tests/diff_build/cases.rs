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
pub const KNOWN: &[(&str, &str)] = &[];

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
    // `build --network none`: RUN steps see only the loopback interface.
    Case {
        flags: &["--network", "none"],
        ..case(
            "build_network_none",
            "FROM bb\nRUN ls /sys/class/net > /nets\n",
        )
    },
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
        // Several sources and a destination without `/`: the reference says this fails;
        // Docker 20.10's BuildKit copies them one after another (the last file wins).
        ..case("copy_multi_no_slash", "FROM bb\nCOPY a.txt b.txt /dest\n")
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
    // ---- FROM and stages
    case(
        "from_as_lowercase",
        "FROM bb as base\nRUN echo b > /b\nFROM base\nRUN cat /b > /c\n",
    ),
    case(
        "stage_names_case_insensitive",
        "FROM bb AS Src\nRUN echo s > /s\nFROM bb\nCOPY --from=src /s /s\n",
    ),
    case(
        "unused_stage_not_built",
        "FROM bb AS broken\nRUN exit 1\nFROM bb\nRUN echo ok > /ok\n",
    ),
    case(
        "stage_chain",
        "FROM bb AS one\nRUN echo 1 > /1\nFROM one AS two\nRUN echo 2 > /2\nFROM two\nRUN cat /1 /2 > /12\n",
    ),
    Case {
        flags: &["--build-arg", "BASE=bb-entry"],
        ..case(
            "from_arg_overridden",
            "ARG BASE=bb\nFROM $BASE\nRUN echo x > /x\n",
        )
    },
    case(
        "from_platform_flag",
        "FROM --platform=linux/amd64 bb\nRUN echo p > /p\n",
    ),
    case(
        "duplicate_stage_name_fails",
        "FROM bb AS a\nRUN true\nFROM bb AS a\nRUN true\n",
    ),
    Case {
        flags: &["--target", "nope"],
        ..case("target_unknown_fails", "FROM bb AS a\nRUN true\n")
    },
    Case {
        flags: &["-f", "missing.dockerfile"],
        ..case("dockerfile_missing_fails", "FROM bb\n")
    },
    case("empty_dockerfile_fails", "\n"),
    case(
        "copy_from_own_stage_fails",
        "FROM bb AS a\nCOPY --from=a /etc/passwd /p\n",
    ),
    case(
        "copy_from_unknown_fails",
        "FROM bb\nCOPY --from=nosuchstage /x /x\n",
    ),
    // ---- RUN
    case("run_pwd_default", "FROM bb\nRUN pwd > /pwd.txt\n"),
    case(
        "run_in_workdir",
        "FROM bb\nWORKDIR /wd\nRUN pwd > /pwd.txt\n",
    ),
    Case {
        // Deliberate difference: BuildKit's RUN gives a USER no supplementary groups, so
        // `id` shows only the primary group; strata's RUN sets the same groups as `docker
        // run -u` does since CVE-2022-36109 (the primary gid and the user's /etc/group
        // memberships), so a build step sees what the running container will see (the
        // kernel keeps supplementary groups sorted, hence wheel first).
        oracle: Oracle::Reference(|ok, _, tree| {
            if !ok {
                return Err("RUN as app failed".into());
            }
            content(
                tree,
                "out/id.txt",
                "uid=1000(app) gid=1000(app) groups=10(wheel),1000(app)\n",
            )
        }),
        ..case(
            "run_as_user",
            "FROM bb\nRUN mkdir -m 777 /out\nUSER app\nRUN id > /out/id.txt && touch /out/mine\n",
        )
    },
    Case {
        // Deliberate difference, as run_as_user: the supplementary groups of `docker run -u`.
        oracle: Oracle::Reference(|ok, _, tree| {
            if !ok {
                return Err("RUN as 1000:10 failed".into());
            }
            content(
                tree,
                "out/id.txt",
                "uid=1000(app) gid=10(wheel) groups=10(wheel)\n",
            )
        }),
        ..case(
            "run_as_uid_gid",
            "FROM bb\nRUN mkdir -m 777 /out\nUSER 1000:10\nRUN id > /out/id.txt\n",
        )
    },
    case("run_not_found_fails", "FROM bb\nRUN nosuchcommand\n"),
    case(
        "run_exec_form_env",
        "FROM bb\nENV X=1\nRUN [\"sh\", \"-c\", \"echo $X > /x.txt\"]\n",
    ),
    case(
        "run_chmod_special_bits",
        "FROM bb\nRUN touch /f && chmod 4755 /f && mkdir -m 1777 /t\n",
    ),
    case("run_chown", "FROM bb\nRUN touch /o && chown 1000:10 /o\n"),
    case("run_hardlink", "FROM bb\nRUN echo x > /h1 && ln /h1 /h2\n"),
    case("run_fifo", "FROM bb\nRUN busybox mkfifo /fifo\n"),
    case(
        "run_appends_to_base_file",
        "FROM bb\nRUN echo more >> /kept\n",
    ),
    case("run_removes_base_dir", "FROM bb\nRUN rm -r /dir\n"),
    case(
        "run_replaces_file_with_dir",
        "FROM bb\nRUN rm /kept && mkdir /kept && echo in > /kept/f\n",
    ),
    case(
        "run_replaces_dir_with_symlink",
        "FROM bb\nRUN rm -r /dir && ln -s /etc /dir\n",
    ),
    case(
        "run_env_of_build_args",
        "FROM bb\nARG A=1\nENV E=2\nRUN echo \"$A $E\" > /ae.txt\n",
    ),
    Case {
        ctx: AB,
        ..case(
            "run_mount_bind",
            "FROM bb\nRUN --mount=type=bind,source=a.txt,target=/mnt/a cat /mnt/a > /copied.txt\n",
        )
    },
    case(
        "run_mount_tmpfs",
        "FROM bb\nRUN --mount=type=tmpfs,target=/scratch touch /scratch/x && ls /scratch > /ls.txt\n",
    ),
    case(
        "run_mount_cache",
        "FROM bb\nRUN --mount=type=cache,target=/cache echo c > /cache/c && ls /cache > /ls.txt\n",
    ),
    Case {
        ctx: &[("secret.txt", "s3cr3t\n")],
        flags: &["--secret", "id=s,src=secret.txt"],
        ..case(
            "run_mount_secret",
            "FROM bb\nRUN --mount=type=secret,id=s cat /run/secrets/s > /s.txt\n",
        )
    },
    Case {
        ctx: AB,
        ..case(
            "run_mount_from_stage",
            "FROM bb AS src\nRUN echo from-src > /f\nFROM bb\nRUN --mount=type=bind,from=src,source=/f,target=/m cat /m > /got.txt\n",
        )
    },
    // ---- ENV and ARG scoping
    case("env_continuation", "FROM bb\nENV A=1 \\\n    B=2\n"),
    case("env_empty_value", "FROM bb\nENV E=\"\"\n"),
    case("env_escaped_quotes", "FROM bb\nENV Q=\"a \\\"b\\\" c\"\n"),
    case("env_refers_to_earlier", "FROM bb\nENV A=1\nENV B=$A-${A}\n"),
    case("env_escaped_dollar", "FROM bb\nENV D=\\$HOME\n"),
    case(
        "env_single_quotes_literal",
        "FROM bb\nENV A=1\nENV S='$A'\n",
    ),
    case(
        "arg_unset_is_empty",
        "FROM bb\nARG U\nRUN echo \"[$U]\" > /u.txt\n",
    ),
    case("arg_into_env", "FROM bb\nARG V=1\nENV E=$V\n"),
    case(
        "arg_scoped_per_stage",
        "ARG V=global\nFROM bb AS a\nARG V\nRUN echo $V > /a\nFROM bb\nARG V=local\nCOPY --from=a /a /a\nRUN echo $V > /b\n",
    ),
    case("arg_quoted_default", "FROM bb\nARG Q=\"a b\"\nENV E=$Q\n"),
    Case {
        flags: &["--build-arg", "UNUSED=1"],
        ..case("build_arg_unused_is_fine", "FROM bb\nRUN echo ok > /ok\n")
    },
    Case {
        flags: &["--build-arg", "V=cli"],
        ..case(
            "build_arg_beats_default_not_env",
            "FROM bb\nARG V=dflt\nENV W=$V\nENV V=env\n",
        )
    },
    case(
        "buildplatform_arg",
        "FROM bb\nARG BUILDPLATFORM\nARG TARGETPLATFORM\nRUN echo \"$BUILDPLATFORM $TARGETPLATFORM\" > /bp.txt\n",
    ),
    case(
        "arg_in_label_and_expose",
        "FROM bb\nARG P=8080\nARG L=lbl\nEXPOSE $P\nLABEL l=$L\n",
    ),
    // ---- WORKDIR, USER
    Case {
        ctx: AB,
        ..case(
            "workdir_then_copy_dot",
            "FROM bb\nWORKDIR /app\nCOPY a.txt .\n",
        )
    },
    case(
        "workdir_after_user",
        "FROM bb\nUSER app\nWORKDIR /home/app/work\n",
    ),
    case(
        "workdir_is_a_file_fails",
        "FROM bb\nWORKDIR /kept\nRUN true\n",
    ),
    case("user_uid_only", "FROM bb\nUSER 1000\n"),
    case("user_name_and_group", "FROM bb\nUSER app:wheel\n"),
    case("user_env_expansion", "FROM bb\nENV U=app\nUSER $U\n"),
    // ---- CMD, ENTRYPOINT, SHELL
    case(
        "cmd_last_wins",
        "FROM bb\nCMD [\"first\"]\nCMD [\"second\"]\n",
    ),
    case(
        "entrypoint_and_cmd_exec",
        "FROM bb\nENTRYPOINT [\"/bin/echo\"]\nCMD [\"hello\"]\n",
    ),
    case("cmd_invalid_json_is_shell", "FROM bb\nCMD [echo, hi]\n"),
    case(
        "cmd_single_quotes_is_shell",
        "FROM bb\nCMD ['echo', 'hi']\n",
    ),
    case("entrypoint_empty_json", "FROM bb-entry\nENTRYPOINT []\n"),
    case("cmd_empty_json", "FROM bb\nCMD []\n"),
    case(
        "shell_changes_cmd_form",
        "FROM bb\nSHELL [\"/bin/sh\", \"-xc\"]\nCMD echo hi\nENTRYPOINT echo ep\n",
    ),
    case("shell_not_json_fails", "FROM bb\nSHELL /bin/sh -c\n"),
    case(
        "cmd_env_not_expanded",
        "FROM bb\nENV X=1\nCMD [\"echo\", \"$X\"]\n",
    ),
    // ---- LABEL, EXPOSE, VOLUME, STOPSIGNAL, HEALTHCHECK
    case("label_overrides", "FROM bb\nLABEL a=1\nLABEL a=2 b=3\n"),
    case(
        "label_env_expansion",
        "FROM bb\nENV V=x\nLABEL l=$V \"q\"=\"${V}y\"\n",
    ),
    Case {
        flags: &["--label", "from.cli=yes"],
        ..case("label_flag", "FROM bb\nLABEL in.file=1\n")
    },
    case("expose_env", "FROM bb\nENV P=8080\nEXPOSE $P $P/udp\n"),
    case("expose_uppercase_proto", "FROM bb\nEXPOSE 80/TCP 81/UDP\n"),
    case("volume_env", "FROM bb\nENV V=/vol\nVOLUME $V\n"),
    case(
        "volume_then_run_writes_kept",
        "FROM bb\nVOLUME /v\nRUN echo x > /v/f\n",
    ),
    case("stopsignal_number", "FROM bb\nSTOPSIGNAL 9\n"),
    case("healthcheck_defaults", "FROM bb\nHEALTHCHECK CMD true\n"),
    case(
        "healthcheck_exec_form",
        "FROM bb\nHEALTHCHECK --start-period=3s CMD [\"true\"]\n",
    ),
    case(
        "healthcheck_bad_option_fails",
        "FROM bb\nHEALTHCHECK --frobnicate=1 CMD true\n",
    ),
    case(
        "healthcheck_overrides_base",
        "FROM bb\nHEALTHCHECK CMD true\nHEALTHCHECK CMD false\n",
    ),
    // ---- ONBUILD, MAINTAINER
    case(
        "onbuild_multiple",
        "FROM bb\nONBUILD RUN echo 1\nONBUILD LABEL x=y\n",
    ),
    case(
        "onbuild_onbuild_fails",
        "FROM bb\nONBUILD ONBUILD RUN true\n",
    ),
    case("onbuild_from_fails", "FROM bb\nONBUILD FROM bb\n"),
    case("maintainer", "FROM bb\nMAINTAINER someone <a@b.c>\n"),
    // ---- COPY paths
    Case {
        ctx: &[("dir/x", "x\n"), ("dir/sub/y", "y\n")],
        ..case("copy_dir_with_trailing_slash", "FROM bb\nCOPY dir/ /d/\n")
    },
    Case {
        ctx: &[("d1/x", "x\n"), ("d2/y", "y\n"), ("f.txt", "f\n")],
        ..case("copy_wildcard_matches_dirs", "FROM bb\nCOPY d* /w/\n")
    },
    Case {
        ctx: &[("a.txt", "a\n"), ("b.txt", "b\n"), ("ab.txt", "ab\n")],
        ..case("copy_question_mark", "FROM bb\nCOPY ?.txt /q/\n")
    },
    Case {
        ctx: &[("a.txt", "a\n"), ("b.txt", "b\n"), ("c.txt", "c\n")],
        ..case("copy_char_class", "FROM bb\nCOPY [ab].txt /c/\n")
    },
    Case {
        ctx: AB,
        ..case("copy_wildcard_no_match_fails", "FROM bb\nCOPY *.none /x/\n")
    },
    Case {
        ctx: AB,
        ..case("copy_to_root", "FROM bb\nCOPY a.txt /\n")
    },
    Case {
        ctx: AB,
        ..case("copy_over_existing_file", "FROM bb\nCOPY a.txt /kept\n")
    },
    Case {
        ctx: AB,
        ..case("copy_over_symlink", "FROM bb\nCOPY a.txt /bin/true\n")
    },
    Case {
        ctx: AB,
        ..case(
            "copy_into_symlinked_dir",
            "FROM bb\nRUN ln -s /dir /ldir\nCOPY a.txt /ldir/\n",
        )
    },
    Case {
        ctx: AB,
        prep: Some(|d| std::fs::hard_link(d.join("a.txt"), d.join("hard.txt")).unwrap()),
        ..case(
            "copy_hardlinked_sources",
            "FROM bb\nCOPY a.txt hard.txt /h/\n",
        )
    },
    Case {
        ctx: &[("empty/", "")],
        ..case("copy_empty_dir", "FROM bb\nCOPY empty /e/\n")
    },
    Case {
        ctx: AB,
        ..case("copy_creates_parents", "FROM bb\nCOPY a.txt /x/y/z/\n")
    },
    Case {
        ctx: &[("dir/x", "x\n"), ("dir/sub/y", "y\n")],
        ..case(
            "copy_chown_dir",
            "FROM bb\nCOPY --chown=1000:1000 dir /d/\n",
        )
    },
    Case {
        ctx: &[("dir/x", "x\n")],
        ..case(
            "copy_chown_creates_parents",
            "FROM bb\nCOPY --chown=1000:1000 dir /p/q/\n",
        )
    },
    Case {
        ctx: AB,
        ..case(
            "copy_chown_unknown_user_fails",
            "FROM bb\nCOPY --chown=nobody a.txt /o\n",
        )
    },
    Case {
        ctx: &[("dir/x", "x\n"), ("dir/sub/y", "y\n")],
        ..case("copy_chmod_dir", "FROM bb\nCOPY --chmod=0700 dir /d/\n")
    },
    Case {
        ctx: AB,
        ..case(
            "copy_from_stage_dir",
            "FROM bb AS src\nRUN mkdir /made && echo 1 > /made/one\nFROM bb\nCOPY --from=src /made/ /m/\n",
        )
    },
    Case {
        ctx: AB,
        ..case(
            "copy_from_stage_symlink_followed",
            "FROM bb AS src\nRUN echo t > /target && ln -s /target /link\nFROM bb\nCOPY --from=src /link /got\n",
        )
    },
    Case {
        ctx: AB,
        ..case(
            "copy_from_stage_wildcard",
            "FROM bb AS src\nRUN mkdir /o && echo 1 > /o/a.x && echo 2 > /o/b.x && echo 3 > /o/c.y\nFROM bb\nCOPY --from=src /o/*.x /x/\n",
        )
    },
    Case {
        ctx: AB,
        ..case("copy_dockerfile_itself", "FROM bb\nCOPY Dockerfile /df\n")
    },
    Case {
        ctx: AB,
        ..case(
            "copy_dotdot_stays_in_context",
            "FROM bb\nCOPY ../a.txt /up.txt\n",
        )
    },
    Case {
        ctx: AB,
        ..case(
            "copy_dest_default_expansion",
            "FROM bb\nCOPY a.txt ${DEST:-/def}/\n",
        )
    },
    Case {
        ctx: &[("with space.txt", "s\n")],
        ..case(
            "copy_name_with_space",
            "FROM bb\nCOPY [\"with space.txt\", \"/dst dir/\"]\n",
        )
    },
    Case {
        ctx: &[("suid:4755", "x\n"), ("g:2750", "y\n")],
        ..case("copy_special_modes_kept", "FROM bb\nCOPY suid g /m/\n")
    },
    Case {
        ctx: &[
            ("src/a.js", "a\n"),
            ("src/lib/b.js", "b\n"),
            ("src/lib/c.txt", "c\n"),
        ],
        ..case(
            "copy_nested_wildcard_file",
            "FROM bb\nCOPY src/lib/*.js /js/\n",
        )
    },
    // ---- ADD
    Case {
        prep: Some(|d| archive(d, "a.tar.gz", "gzip")),
        ..case("add_tar_into_existing_dir", "FROM bb\nADD a.tar.gz /dir\n")
    },
    Case {
        prep: Some(|d| archive(d, "archive", "gzip")),
        // Detected by content, whatever the name.
        ..case("add_tar_without_extension", "FROM bb\nADD archive /x/\n")
    },
    Case {
        prep: Some(|d| {
            archive(d, "one.tar.gz", "gzip");
            archive(d, "two.tar", "cat");
        }),
        ..case("add_wildcard_tars", "FROM bb\nADD *.tar* /x/\n")
    },
    Case {
        prep: Some(|d| archive(d, "a.tar.gz", "gzip")),
        ..case(
            "add_chown_archive",
            "FROM bb\nADD --chown=1000:1000 a.tar.gz /x/\n",
        )
    },
    Case {
        prep: Some(|d| archive(d, "a.tar.zst", "zstd -q")),
        // zstd archives: Docker 20.10's BuildKit copies them unextracted; the archive code of
        // current Docker (moby's pkg/archive since 23.0) detects and extracts zstd as well.
        oracle: Oracle::Reference(|ok, _, tree| {
            if !ok {
                return Err("ADD of a zstd tar failed".into());
            }
            content(tree, "x/inner/file.txt", "from the archive\n")
        }),
        ..case("add_tar_zst", "FROM bb\nADD a.tar.zst /x/\n")
    },
    Case {
        prep: Some(|d| std::fs::write(d.join("fake.tar.gz"), b"not really gzip\n").unwrap()),
        ..case("add_fake_archive_copied", "FROM bb\nADD fake.tar.gz /x/\n")
    },
    Case {
        ctx: &[("dir/x", "x\n")],
        ..case("add_dir", "FROM bb\nADD dir /d/\n")
    },
    Case {
        ctx: AB,
        ..case("add_chmod", "FROM bb\nADD --chmod=0600 a.txt /a\n")
    },
    // ---- .dockerignore
    Case {
        ctx: &[
            ("a.tmp", "a\n"),
            ("d/b.tmp", "b\n"),
            ("d/e/c.tmp", "c\n"),
            ("keep.txt", "k\n"),
            (".dockerignore", "**/*.tmp\n"),
        ],
        ..case("dockerignore_double_star", "FROM bb\nCOPY . /app/\n")
    },
    Case {
        ctx: &[
            ("a.txt", "a\n"),
            ("b.txt", "b\n"),
            (".dockerignore", "# comment\n\n   \na.txt\n"),
        ],
        ..case("dockerignore_comments_blank", "FROM bb\nCOPY . /app/\n")
    },
    Case {
        ctx: &[
            ("a.txt", "a\n"),
            ("sub/a.txt", "a\n"),
            (".dockerignore", "/a.txt\n"),
        ],
        ..case("dockerignore_leading_slash", "FROM bb\nCOPY . /app/\n")
    },
    Case {
        ctx: &[
            ("dir/x", "x\n"),
            ("dirx", "y\n"),
            (".dockerignore", "dir/\n"),
        ],
        ..case("dockerignore_trailing_slash", "FROM bb\nCOPY . /app/\n")
    },
    Case {
        ctx: &[
            ("a.txt", "a\n"),
            ("keep1.txt", "k\n"),
            ("keep2.txt", "k\n"),
            (".dockerignore", "*.txt\n!keep*.txt\nkeep2.txt\n"),
        ],
        ..case("dockerignore_last_match_wins", "FROM bb\nCOPY . /app/\n")
    },
    Case {
        ctx: &[
            ("a.txt", "a\n"),
            ("b/c.txt", "c\n"),
            (".dockerignore", "*\n!a.txt\n"),
        ],
        ..case("dockerignore_all_but_one", "FROM bb\nCOPY . /app/\n")
    },
    Case {
        ctx: &[("a.txt", "a\n"), (".dockerignore", "a.txt\n")],
        ..case(
            "dockerignore_ignored_source_fails",
            "FROM bb\nCOPY a.txt /\n",
        )
    },
    Case {
        ctx: &[
            ("x/y/z.txt", "z\n"),
            ("x/w.txt", "w\n"),
            (".dockerignore", "x/*/z.txt\n"),
        ],
        ..case("dockerignore_single_star_level", "FROM bb\nCOPY . /app/\n")
    },
    // ---- parsing and directives
    case(
        "instructions_lowercase",
        "from bb\nrun echo hi > /x\nenv a=b\n",
    ),
    case(
        "continuation_with_blank_line",
        "FROM bb\nRUN echo a \\\n\n  b > /x.txt\n",
    ),
    case(
        "continuation_with_comment",
        "FROM bb\nRUN echo a \\\n# inside\n  b > /x.txt\n",
    ),
    case(
        "backslash_then_spaces_continues",
        "FROM bb\nRUN echo a \\  \n  b > /x.txt\n",
    ),
    case(
        "directive_after_comment_is_comment",
        "# hello\n# escape=`\nFROM bb\nRUN echo a \\\n b > /x.txt\n",
    ),
    case(
        "unknown_directive_ignored",
        "# frobnicate=yes\nFROM bb\nRUN echo ok > /ok\n",
    ),
    case(
        "json_with_escapes",
        "FROM bb\nRUN [\"sh\", \"-c\", \"echo \\\"q\\\" > /q.txt\"]\n",
    ),
    Case {
        ctx: AB,
        ..case(
            "arg_in_copy_from",
            "FROM bb AS src\nRUN echo s > /s\nFROM bb\nARG S=src\nCOPY --from=$S /s /s\n",
        )
    },
    // ---- newer than Docker 20.10's BuildKit: judged against the current reference.
    Case {
        // RUN heredoc (Dockerfile 1.4): the body is the script, run by the default shell.
        oracle: Oracle::Reference(|ok, _, tree| {
            if !ok {
                return Err("RUN heredoc failed".into());
            }
            content(tree, "one.txt", "one\n")?;
            content(tree, "two.txt", "two\n")
        }),
        ..case(
            "run_heredoc",
            "FROM bb\nRUN <<EOF\necho one > /one.txt\necho two > /two.txt\nEOF\n",
        )
    },
    Case {
        // A quoted heredoc delimiter (Dockerfile 1.4): no expansion in the body.
        oracle: Oracle::Reference(|ok, _, tree| {
            if !ok {
                return Err("heredoc COPY failed".into());
            }
            content(tree, "q.txt", "$WHO\n")
        }),
        ..case(
            "copy_heredoc_quoted_delimiter",
            "FROM bb\nENV WHO=world\nCOPY <<\"EOF\" /q.txt\n$WHO\nEOF\n",
        )
    },
    Case {
        // COPY --link (Dockerfile 1.4): same files as a plain COPY.
        ctx: AB,
        oracle: Oracle::Reference(|ok, _, tree| {
            if !ok {
                return Err("COPY --link failed".into());
            }
            content(tree, "l/a.txt", "alpha\n")
        }),
        ..case("copy_link_same_result", "FROM bb\nCOPY --link a.txt /l/\n")
    },
    Case {
        // COPY --parents (Dockerfile 1.7 labs, stable since 1.20): keeps the source's
        // parent directories under the destination.
        ctx: &[("a/b/c.txt", "c\n"), ("a/d.txt", "d\n")],
        oracle: Oracle::Reference(|ok, _, tree| {
            if !ok {
                return Err("COPY --parents failed".into());
            }
            content(tree, "out/a/b/c.txt", "c\n")?;
            match tree.get("out/c.txt") {
                None => Ok(()),
                Some(n) => Err(format!("/out/c.txt should not exist: {n:?}")),
            }
        }),
        ..case("copy_parents", "FROM bb\nCOPY --parents a/b/c.txt /out/\n")
    },
    Case {
        // COPY --exclude (Dockerfile 1.7 labs, stable since 1.19): matching paths are skipped.
        ctx: &[
            ("a.txt", "a\n"),
            ("b.log", "b\n"),
            ("sub/c.log", "c\n"),
            ("sub/d.txt", "d\n"),
        ],
        oracle: Oracle::Reference(|ok, _, tree| {
            if !ok {
                return Err("COPY --exclude failed".into());
            }
            content(tree, "app/a.txt", "a\n")?;
            content(tree, "app/sub/d.txt", "d\n")?;
            for gone in ["app/b.log", "app/sub/c.log"] {
                if let Some(n) = tree.get(gone) {
                    return Err(format!("/{gone} should be excluded: {n:?}"));
                }
            }
            Ok(())
        }),
        ..case(
            "copy_exclude",
            "FROM bb\nCOPY --exclude=*.log --exclude=**/*.log . /app/\n",
        )
    },
    // Platforms (`bb-arm64` is busybox for linux/arm64, Debian's busybox-static:arm64).
    Case {
        // The predefined platform ARGs in a stage for the build platform, building for
        // another target: BuildKit's values, and the image is the target's.
        flags: &["--platform", "linux/arm/v7"],
        ..case(
            "platform_args_for_another_target",
            "FROM --platform=$BUILDPLATFORM bb
ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM BUILDOS BUILDARCH BUILDVARIANT
RUN echo \"$TARGETPLATFORM|$TARGETOS|$TARGETARCH|$TARGETVARIANT|$BUILDPLATFORM|$BUILDOS|$BUILDARCH|$BUILDVARIANT\" > /args
",
        )
    },
    Case {
        // A foreign RUN under QEMU, after a COPY from a stage for the build platform.
        flags: &["--platform", "linux/arm64"],
        ..case(
            "platform_foreign_run",
            "FROM --platform=$BUILDPLATFORM bb AS tools
ARG TARGETARCH
RUN echo \"$TARGETARCH $(uname -m)\" > /made
FROM bb-arm64
ARG TARGETPLATFORM
COPY --from=tools /made /made
RUN uname -m > /arch && echo \"$TARGETPLATFORM\" > /target
",
        )
    },
];
