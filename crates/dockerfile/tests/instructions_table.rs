//! Typed instructions and error messages, as tables.

use std::time::Duration;

use dockerfile::mount::{MountType, Sharing};
use dockerfile::{Instruction, NetworkMode, ShellOrExec, Stages, instructions, parse};

fn typed(text: &str) -> Stages {
    let df = parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    instructions(&df).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn first(text: &str) -> Instruction {
    typed(&format!("FROM scratch\n{text}")).stages[0].commands[0]
        .instruction
        .clone()
}

#[test]
fn stages_split_at_from_with_global_args() {
    let s = typed(
        "ARG BASE=alpine\nARG V\nFROM --platform=$BUILDPLATFORM ${BASE}:3 AS Build\nRUN make\n\
         FROM build AS final\nCOPY --from=build /out /out\nFROM scratch\n",
    );
    assert_eq!(s.global_args.len(), 2);
    assert_eq!(s.stages.len(), 3);
    assert_eq!(s.stages[0].name.as_deref(), Some("build"));
    assert_eq!(s.stages[0].from.image, "${BASE}:3");
    assert_eq!(s.stages[0].from.platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(s.stages[0].location.start_line, 3);
    assert_eq!(s.stages[1].from.image, "build");
    assert_eq!(s.stages[2].name, None);
    assert_eq!(s.find("BUILD"), Some(0));
    assert_eq!(s.find("2"), Some(2));
    assert_eq!(s.stages[0].commands[0].location.start_line, 4);
}

/// A predicate over one typed instruction.
type Check = Box<dyn Fn(&Instruction) -> bool>;

#[test]
fn typed_instruction_table() {
    let cases: Vec<(&str, Check)> = vec![
        (
            "RUN echo hi",
            Box::new(
                |i| matches!(i, Instruction::Run(r) if r.command == ShellOrExec::Shell("echo hi".into())),
            ),
        ),
        (
            r#"RUN ["sh", "-c", "x"]"#,
            Box::new(
                |i| matches!(i, Instruction::Run(r) if r.command == ShellOrExec::Exec(vec!["sh".into(), "-c".into(), "x".into()])),
            ),
        ),
        (
            "RUN --network=none true",
            Box::new(|i| matches!(i, Instruction::Run(r) if r.network == Some(NetworkMode::None))),
        ),
        (
            "RUN --network=host true",
            Box::new(|i| matches!(i, Instruction::Run(r) if r.network == Some(NetworkMode::Host))),
        ),
        (
            "RUN --mount=type=cache,target=/root/.cache,sharing=locked,id=pip pip install x",
            Box::new(|i| {
                matches!(i, Instruction::Run(r) if r.mounts.len() == 1
             && r.mounts[0].mount_type == MountType::Cache && r.mounts[0].target.as_deref() == Some("/root/.cache")
             && r.mounts[0].sharing == Some(Sharing::Locked) && r.mounts[0].id.as_deref() == Some("pip") && !r.mounts[0].read_only)
            }),
        ),
        (
            "RUN --mount=type=bind,from=build,source=/out,target=/in --mount=type=tmpfs,target=/tmp,size=64m ls",
            Box::new(|i| {
                matches!(i, Instruction::Run(r) if r.mounts.len() == 2 && r.mounts[0].read_only
             && r.mounts[0].from.as_deref() == Some("build") && r.mounts[1].size_limit == Some(64 << 20))
            }),
        ),
        (
            "RUN --mount=type=secret,id=tok,env=TOKEN,required true",
            Box::new(|i| {
                matches!(i, Instruction::Run(r) if r.mounts[0].mount_type == MountType::Secret
             && r.mounts[0].required && r.mounts[0].env.as_deref() == Some("TOKEN"))
            }),
        ),
        (
            "RUN <<EOF\necho a\nEOF",
            Box::new(
                |i| matches!(i, Instruction::Run(r) if r.heredocs.len() == 1 && r.heredocs[0].data == "echo a\n"),
            ),
        ),
        (
            "COPY --from=build --chown=1:2 --chmod=755 --link --parents --exclude=*.md --exclude=x a b /dst/",
            Box::new(|i| {
                matches!(i, Instruction::Copy(c) if c.sources == ["a", "b"] && c.dest == "/dst/"
             && c.from.as_deref() == Some("build") && c.chown.as_deref() == Some("1:2") && c.chmod.as_deref() == Some("755")
             && c.link && c.parents && c.exclude == ["*.md", "x"])
            }),
        ),
        (
            "COPY <<-EOF /etc/conf\n\tkey=1\n\tEOF",
            Box::new(|i| {
                matches!(i, Instruction::Copy(c) if c.sources.is_empty()
             && c.heredocs.len() == 1 && c.heredocs[0].data == "key=1\n" && c.heredocs[0].name == "EOF")
            }),
        ),
        (
            r#"COPY ["a b", "/c d/"]"#,
            Box::new(
                |i| matches!(i, Instruction::Copy(c) if c.sources == ["a b"] && c.dest == "/c d/"),
            ),
        ),
        (
            "ADD --checksum=sha256:abc --keep-git-dir --unpack=false https://x/y.tgz /y",
            Box::new(|i| {
                matches!(i, Instruction::Add(a) if a.checksum.as_deref() == Some("sha256:abc")
             && a.keep_git_dir == Some(true) && a.unpack == Some(false))
            }),
        ),
        (
            "ENV A=1 B=\"two words\"",
            Box::new(
                |i| matches!(i, Instruction::Env(kv) if kv.len() == 2 && kv[1].value == "\"two words\"" && !kv[0].legacy),
            ),
        ),
        (
            "ENV PATH /usr/bin:/bin",
            Box::new(
                |i| matches!(i, Instruction::Env(kv) if kv[0].key == "PATH" && kv[0].value == "/usr/bin:/bin" && kv[0].legacy),
            ),
        ),
        (
            "LABEL a=b c=d",
            Box::new(|i| matches!(i, Instruction::Label(kv) if kv.len() == 2)),
        ),
        (
            "ARG A B=2",
            Box::new(
                |i| matches!(i, Instruction::Arg(a) if a[0].value.is_none() && a[1].value.as_deref() == Some("2")),
            ),
        ),
        (
            "WORKDIR /app",
            Box::new(|i| *i == Instruction::Workdir("/app".into())),
        ),
        (
            "USER app:app",
            Box::new(|i| *i == Instruction::User("app:app".into())),
        ),
        (
            "EXPOSE 8080/tcp 443",
            Box::new(|i| *i == Instruction::Expose(vec!["443".into(), "8080/tcp".into()])),
        ),
        (
            r#"VOLUME ["/data", "/logs"]"#,
            Box::new(|i| *i == Instruction::Volume(vec!["/data".into(), "/logs".into()])),
        ),
        (
            "VOLUME /a /b",
            Box::new(|i| *i == Instruction::Volume(vec!["/a".into(), "/b".into()])),
        ),
        (
            r#"CMD ["app", "--serve"]"#,
            Box::new(|i| {
                *i == Instruction::Cmd(ShellOrExec::Exec(vec!["app".into(), "--serve".into()]))
            }),
        ),
        (
            "ENTRYPOINT exec app",
            Box::new(|i| *i == Instruction::Entrypoint(ShellOrExec::Shell("exec app".into()))),
        ),
        (
            r#"SHELL ["/bin/bash", "-c"]"#,
            Box::new(|i| *i == Instruction::Shell(vec!["/bin/bash".into(), "-c".into()])),
        ),
        (
            "STOPSIGNAL SIGTERM",
            Box::new(|i| *i == Instruction::StopSignal("SIGTERM".into())),
        ),
        (
            "HEALTHCHECK --interval=30s --timeout=1m30s --retries=3 CMD curl -f localhost",
            Box::new(|i| {
                matches!(i, Instruction::Healthcheck(h) if h.test == ["CMD-SHELL", "curl -f localhost"]
             && h.interval == Some(Duration::from_secs(30)) && h.timeout == Some(Duration::from_secs(90)) && h.retries == Some(3))
            }),
        ),
        (
            "HEALTHCHECK NONE",
            Box::new(|i| matches!(i, Instruction::Healthcheck(h) if h.test == ["NONE"])),
        ),
        (
            r#"HEALTHCHECK CMD ["true"]"#,
            Box::new(|i| matches!(i, Instruction::Healthcheck(h) if h.test == ["CMD", "true"])),
        ),
        (
            "ONBUILD RUN make",
            Box::new(|i| {
                matches!(i, Instruction::Onbuild(o) if o.expression == "RUN make"
             && matches!(*o.trigger, Instruction::Run(ref r) if r.command == ShellOrExec::Shell("make".into())))
            }),
        ),
        (
            "ONBUILD COPY <<EOF /x\nhi\nEOF",
            Box::new(|i| {
                matches!(i, Instruction::Onbuild(o) if o.expression == "COPY <<EOF /x\nhi\nEOF"
             && matches!(*o.trigger, Instruction::Copy(ref c) if c.heredocs[0].data == "hi\n"))
            }),
        ),
        (
            "MAINTAINER Jane <jane@example.com>",
            Box::new(|i| *i == Instruction::Maintainer("Jane <jane@example.com>".into())),
        ),
        (
            "# escape is only a directive at the top\nrun echo lower",
            Box::new(|i| matches!(i, Instruction::Run(_))),
        ),
    ];
    let mut checked = 0;
    for (text, check) in &cases {
        let got = first(text);
        assert!(check(&got), "{text}: {got:?}");
        checked += 1;
    }
    println!("typed instructions: checked {checked} cases");
    assert_eq!(checked, cases.len());
    assert!(checked > 0);
}

#[test]
fn error_message_table() {
    let cases = [
        (
            "FROM alpine\nRUN true\nRUNN make\n",
            "Dockerfile:3:1: unknown instruction: RUNN (did you mean RUN?)",
        ),
        (
            "FROM alpine\n  COPPY a b\n",
            "Dockerfile:2:3: unknown instruction: COPPY (did you mean COPY?)",
        ),
        (
            "FROM alpine\nCOPY --form=build a b\n",
            "Dockerfile:2:1: unknown flag: --form (did you mean --from?)",
        ),
        (
            "FROM alpine\nRUN --mount=type=cahce,target=/x true\n",
            "Dockerfile:2:1: unsupported mount type \"cahce\" (did you mean cache?)",
        ),
        (
            "FROM alpine\nRUN --network=bridge true\n",
            "Dockerfile:2:1: invalid network mode \"bridge\" (use default, none or host)",
        ),
        (
            "FROM alpine\nCOPY onlyone\n",
            "Dockerfile:2:1: COPY requires at least two arguments, but only one was provided. Destination could not be determined",
        ),
        (
            "FROM alpine\n\nENV PATH\n",
            "Dockerfile:3:1: ENV must have two arguments",
        ),
        (
            "CMD [ \"echo\", [ \"nested json\" ] ]\n",
            "Dockerfile:1:1: when using JSON array syntax, arrays must be comprised of strings only",
        ),
        (
            "",
            "Dockerfile:1:1: file with no instructions (a Dockerfile needs at least a FROM instruction)",
        ),
        (
            "FROM a AS 1x\n",
            "Dockerfile:1:1: invalid name for build stage: \"1x\", name can't start with a number or contain symbols",
        ),
        (
            "FROM a b\n",
            "Dockerfile:1:1: FROM requires either one or three arguments (use `FROM image` or `FROM image AS name`)",
        ),
        (
            "RUN true\n",
            "Dockerfile:1:1: no build stage in current context (start the Dockerfile with a FROM instruction)",
        ),
        (
            "FROM a\nRUN <<EOF\necho\n",
            "Dockerfile:2:1: unterminated heredoc (add a line `EOF` to end the heredoc)",
        ),
        (
            "# escape=x\nFROM a\n",
            "Dockerfile:1:1: invalid escape token 'x' does not match ` or \\",
        ),
        (
            "# syntax=a\n# syntax=b\nFROM a\n",
            "Dockerfile:2:1: only one syntax parser directive can be used",
        ),
        (
            "FROM a\nONBUILD ONBUILD RUN x\n",
            "Dockerfile:2:1: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        (
            "FROM a\nHEALTHCHECK --interval=1us CMD x\n",
            "Dockerfile:2:1: Interval \"interval\" cannot be less than 1ms",
        ),
        (
            "FROM a\nHEALTHCHECK --timeout=-5s CMD x\n",
            "Dockerfile:2:1: Interval \"timeout\" cannot be less than 1ms",
        ),
        (
            "FROM a\nSHELL /bin/sh -c\n",
            "Dockerfile:2:1: SHELL requires the arguments to be in JSON form (write it as SHELL [\"executable\", \"parameters\"])",
        ),
        (
            "FROM a\nCOPY --link=maybe a b\n",
            "Dockerfile:2:1: expecting boolean value for flag --link, not: maybe",
        ),
        (
            "FROM a\nCOPY --from a b\n",
            "Dockerfile:2:1: missing a value on flag: --from",
        ),
    ];
    let mut checked = 0;
    for (text, want) in cases {
        let got = parse(text).and_then(|df| instructions(&df).map(|_| ()));
        assert_eq!(
            got.map_err(|e| e.to_string()),
            Err(want.to_string()),
            "{text:?}"
        );
        checked += 1;
    }
    println!("error messages: checked {checked} cases");
    assert_eq!(checked, 21);
}

#[test]
fn directives_escape_and_warnings() {
    let df = parse("# syntax=docker/dockerfile:1\n# escape=`\nFROM a\nRUN echo `\n  hi\n").unwrap();
    assert_eq!(df.directive("syntax"), Some("docker/dockerfile:1"));
    assert_eq!(df.escape_token, '`');
    assert_eq!(df.ast.children[1].dump(), r#"run "echo   hi""#);
    // A directive after an instruction is a comment.
    let df = parse("FROM a\n# escape=`\nRUN echo \\\n  hi\n").unwrap();
    assert_eq!(df.escape_token, '\\');
    assert_eq!(df.ast.children[1].prev_comment, ["escape=`"]);
    let df = parse("FROM a\nRUN a \\\n\n  b\n").unwrap();
    assert_eq!(df.warnings.len(), 1);
    assert_eq!(df.warnings[0].start_line, 4);
}
