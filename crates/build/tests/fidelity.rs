//! Docker fidelity (issue 9): each test pins one behaviour checked against Docker 20.10's
//! BuildKit and fails with the difference it guards against. Builds without RUN.

mod common;

use std::fs;
use std::os::unix::fs::symlink;

use common::*;
use store::Store;

/// A store holding `base`: `/etc` (passwd with `app` 1000:1000), `/bin/sh` as a file.
fn store_with_base() -> (tempfile::TempDir, tempfile::TempDir, Store) {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    write_files(
        ctx.path(),
        &[
            (
                "base/etc/passwd",
                "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
            ),
            ("base/etc/group", "root:x:0:\napp:x:1000:\n"),
            ("base/bin/sh", "#!"),
        ],
    );
    let store = Store::open(root.path()).unwrap();
    build(
        &store,
        &request(ctx.path(), "FROM scratch\nCOPY base/ /\n", "base"),
    )
    .unwrap();
    (ctx, root, store)
}

/// The entries of the last layer of `name`.
fn last_layer(store: &Store, name: &str) -> Vec<LayerEntry> {
    layers(store, name).pop().unwrap()
}

fn names(entries: &[LayerEntry]) -> Vec<String> {
    entries.iter().map(|e| e.0.clone()).collect()
}

#[test]
fn env_same_line_uses_old_value() {
    let (ctx, _r, store) = store_with_base();
    let df = "FROM base\nENV a=x\nENV a=y b=$a c=${a}z\n";
    build(&store, &request(ctx.path(), df, "env")).unwrap();
    let env = config(&store, "env").config.env;
    assert!(env.contains(&"a=y".to_string()), "{env:?}");
    assert!(env.contains(&"b=x".to_string()), "{env:?}");
    assert!(env.contains(&"c=xz".to_string()), "{env:?}");
}

#[test]
fn expose_ranges_expand_and_bad_ports_fail() {
    let (ctx, _r, store) = store_with_base();
    let df = "FROM base\nEXPOSE 80 8000-8002 53/UDP\n";
    build(&store, &request(ctx.path(), df, "exp")).unwrap();
    let ports: Vec<String> = config(&store, "exp")
        .config
        .exposed_ports
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        ports,
        ["53/udp", "80/tcp", "8000/tcp", "8001/tcp", "8002/tcp"]
    );
    let err = build(
        &store,
        &request(ctx.path(), "FROM base\nEXPOSE abc\n", "bad"),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("Invalid containerPort: abc"),
        "{err}"
    );
}

#[test]
fn workdir_unused_is_created_owned_by_user() {
    let (ctx, _r, store) = store_with_base();
    let df = "FROM base\nENV D=/data\nWORKDIR $D/x\nUSER app\nWORKDIR /home/app/src\nUSER 7:8\nWORKDIR /etc\nWORKDIR rel\n";
    build(&store, &request(ctx.path(), df, "wd")).unwrap();
    let f = files(&store, "wd");
    let owner = |p: &str| {
        f.iter()
            .rev()
            .find(|e| e.0 == p)
            .map(|e| (e.3, e.2 & 0o7777))
    };
    assert_eq!(owner("data/"), Some((0, 0o755)));
    assert_eq!(owner("data/x/"), Some((0, 0o755)));
    assert_eq!(owner("home/app/src/"), Some((1000, 0o755)));
    assert_eq!(owner("etc/rel/"), Some((7, 0o755)));
    // An existing directory is not taken over by the USER.
    assert_eq!(owner("etc/"), Some((0, 0o755)));
    assert_eq!(
        config(&store, "wd").config.working_dir.as_deref(),
        Some("/etc/rel")
    );
}

#[test]
fn copy_and_add_into_existing_dir_without_slash() {
    let (ctx, _r, store) = store_with_base();
    write_files(ctx.path(), &[("a.txt", "alpha\n")]);
    for kw in ["COPY", "ADD"] {
        let df = format!("FROM base\n{kw} a.txt /etc\n");
        build(&store, &request(ctx.path(), &df, "into")).unwrap();
        let last = last_layer(&store, "into");
        assert_eq!(names(&last), ["etc/", "etc/a.txt"], "{kw}");
        assert!(
            file(&store, "into", "etc/passwd")
                .unwrap()
                .starts_with("root:")
        );
    }
}

#[test]
fn copy_several_sources_without_slash_copies_one_after_the_other() {
    let (ctx, _r, store) = store_with_base();
    write_files(
        ctx.path(),
        &[("a.txt", "a\n"), ("b.txt", "bbbbb\n"), ("d/q", "q\n")],
    );
    // Docker 20.10: each source lands on what the previous one left.
    for (df, want) in [
        ("COPY a.txt b.txt /dest", vec![("dest", "bbbbb\n")]),
        ("COPY *.txt /dest", vec![("dest", "bbbbb\n")]),
        (
            "COPY d a.txt /dest",
            vec![("dest/", ""), ("dest/a.txt", "a\n"), ("dest/q", "q\n")],
        ),
    ] {
        build(
            &store,
            &request(ctx.path(), &format!("FROM base\n{df}\n"), "multi"),
        )
        .unwrap();
        let got: Vec<(String, String)> = last_layer(&store, "multi")
            .into_iter()
            .map(|e| (e.0, e.4))
            .collect();
        let want: Vec<(String, String)> = want
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want, "{df}");
    }
    let err = build(
        &store,
        &request(ctx.path(), "FROM base\nCOPY a.txt d /dest\n", "multi"),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("cannot copy to non-directory: /dest"),
        "{err}"
    );
}

#[test]
fn copy_symlink_source_is_followed() {
    let (ctx, _r, store) = store_with_base();
    write_files(ctx.path(), &[("a.txt", "alpha\n"), ("dir/x", "x\n")]);
    symlink("a.txt", ctx.path().join("link")).unwrap();
    symlink("dir", ctx.path().join("ldir")).unwrap();
    symlink("x", ctx.path().join("dir/inner")).unwrap();
    let df = "FROM base\nCOPY link /l\nCOPY ldir /ld/\nCOPY link ldir /both/\n";
    build(&store, &request(ctx.path(), df, "links")).unwrap();
    let f = files(&store, "links");
    let kind = |p: &str| {
        f.iter()
            .rev()
            .find(|e| e.0 == p)
            .map(|e| (e.1, e.4.clone()))
    };
    assert_eq!(kind("l"), Some(('f', "alpha\n".into())));
    assert_eq!(kind("ld/x"), Some(('f', "x\n".into())));
    // Links inside a copied directory stay links.
    assert_eq!(kind("ld/inner"), Some(('l', String::new())));
    assert_eq!(kind("both/link"), Some(('f', "alpha\n".into())));
    assert_eq!(kind("both/x"), Some(('f', "x\n".into())));
}

#[test]
fn dockerignore_reinclude_under_excluded_dir() {
    let (ctx, _r, store) = store_with_base();
    write_files(
        ctx.path(),
        &[
            ("dir/drop.txt", "d\n"),
            ("dir/keep.txt", "k\n"),
            ("dir/sub/keep.txt", "k\n"),
            (".dockerignore", "dir\n!dir/keep.txt\n"),
        ],
    );
    build(
        &store,
        &request(ctx.path(), "FROM base\nCOPY . /app/\n", "ign"),
    )
    .unwrap();
    let got: Vec<String> = names(&last_layer(&store, "ign"))
        .into_iter()
        .filter(|n| n.starts_with("app/dir"))
        .collect();
    assert_eq!(got, ["app/dir/", "app/dir/keep.txt"]);
}

#[test]
/// zstd as current Docker (pkg/archive since 23.0) extracts it; Docker 20.10 did not.
fn add_extracts_bzip2_xz_and_zstd() {
    use std::io::Write;
    let (ctx, _r, store) = store_with_base();
    let mut tar_bytes = Vec::new();
    {
        let mut b = tar::Builder::new(&mut tar_bytes);
        let mut h = tar::Header::new_ustar();
        h.set_size(3);
        h.set_mode(0o644);
        b.append_data(&mut h, "f", &b"hi\n"[..]).unwrap();
        b.finish().unwrap();
    }
    let bz = {
        let mut w = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        w.write_all(&tar_bytes).unwrap();
        w.finish().unwrap()
    };
    let xz = {
        let mut w = liblzma::write::XzEncoder::new(Vec::new(), 1);
        w.write_all(&tar_bytes).unwrap();
        w.finish().unwrap()
    };
    fs::write(ctx.path().join("a.tar.bz2"), bz).unwrap();
    // Detected by content, not by name.
    fs::write(ctx.path().join("noext"), xz).unwrap();
    fs::write(
        ctx.path().join("a.tar.zst"),
        zstd::encode_all(&tar_bytes[..], 1).unwrap(),
    )
    .unwrap();
    let df = "FROM base\nADD a.tar.bz2 /b/\nADD noext /x/\nADD a.tar.zst /z/\n";
    build(&store, &request(ctx.path(), df, "arch")).unwrap();
    assert_eq!(file(&store, "arch", "b/f").as_deref(), Some("hi\n"));
    assert_eq!(file(&store, "arch", "x/f").as_deref(), Some("hi\n"));
    assert_eq!(file(&store, "arch", "z/f").as_deref(), Some("hi\n"));
    assert!(file(&store, "arch", "z/a.tar.zst").is_none());
}

#[test]
fn from_scratch_has_default_path_and_workdir() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    write_files(ctx.path(), &[("a.txt", "a")]);
    let store = Store::open(root.path()).unwrap();
    build(
        &store,
        &request(ctx.path(), "FROM scratch\nCOPY a.txt /\n", "scr"),
    )
    .unwrap();
    let c = config(&store, "scr").config;
    assert_eq!(
        c.env,
        ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    );
    assert_eq!(c.working_dir.as_deref(), Some("/"));
}

#[test]
fn copy_heredoc_keeps_quotes() {
    let (ctx, _r, store) = store_with_base();
    let df = "FROM base\nENV WHO=world\nCOPY <<EOF /h.txt\n\"quoted\" 'single' \\$x $WHO\nEOF\n";
    build(&store, &request(ctx.path(), df, "here")).unwrap();
    assert_eq!(
        file(&store, "here", "h.txt").as_deref(),
        Some("\"quoted\" 'single' \\$x world\n")
    );
}

#[test]
fn stage_from_stage_inherits_its_args() {
    let (ctx, _r, store) = store_with_base();
    let df = "FROM base AS one\nARG X=1\nENV X1=$X\nFROM one\nENV X2=$X\nFROM base\nENV X3=$X\n";
    let mut req = request(ctx.path(), df, "inherit");
    req.target = Some("1".into());
    build(&store, &req).unwrap();
    let env = config(&store, "inherit").config.env;
    assert!(env.contains(&"X2=1".to_string()), "{env:?}");
    build(&store, &request(ctx.path(), df, "fresh")).unwrap();
    let env = config(&store, "fresh").config.env;
    assert!(env.contains(&"X3=".to_string()), "{env:?}");
}

#[test]
fn copy_dangling_symlink_source_fails() {
    let (ctx, _r, store) = store_with_base();
    write_files(ctx.path(), &[("d/s", "s\n")]);
    symlink("a.txt", ctx.path().join("d/la")).unwrap();
    for df in ["FROM base\nCOPY d/la /x\n", "FROM base\nCOPY d/* /g/\n"] {
        let err = build(&store, &request(ctx.path(), df, "dangling")).unwrap_err();
        assert!(err.to_string().contains("/d/a.txt"), "{df}: {err}");
    }
}

#[test]
fn copy_chown_owns_the_parents_it_creates() {
    let (ctx, _r, store) = store_with_base();
    write_files(ctx.path(), &[("a.txt", "a\n")]);
    let df = "FROM base\nCOPY --chown=1000:1000 a.txt /q/r/s.txt\nCOPY --chown=app a.txt /etc/n/\n";
    build(&store, &request(ctx.path(), df, "parents")).unwrap();
    let f = files(&store, "parents");
    let owner = |p: &str| f.iter().rev().find(|e| e.0 == p).map(|e| e.3);
    assert_eq!(owner("q/"), Some(1000));
    assert_eq!(owner("q/r/"), Some(1000));
    assert_eq!(owner("etc/n/"), Some(1000));
    // An existing parent keeps its owner.
    assert_eq!(owner("etc/"), Some(0));
}

#[test]
fn copy_dir_makes_a_new_destination_0755() {
    use std::os::unix::fs::PermissionsExt;
    let (ctx, _r, store) = store_with_base();
    write_files(ctx.path(), &[("d7/x", "x\n"), ("d7/sub/y", "y\n")]);
    fs::set_permissions(ctx.path().join("d7"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(ctx.path().join("d7/sub"), fs::Permissions::from_mode(0o700)).unwrap();
    let df = "FROM base\nCOPY d7 /m8\nCOPY --chmod=0600 d7 /m9/\n";
    build(&store, &request(ctx.path(), df, "dirmode")).unwrap();
    let f = files(&store, "dirmode");
    let mode = |p: &str| f.iter().rev().find(|e| e.0 == p).map(|e| e.2 & 0o7777);
    assert_eq!(mode("m8/"), Some(0o755));
    assert_eq!(mode("m8/sub/"), Some(0o700), "what is below keeps its mode");
    assert_eq!(mode("m9/"), Some(0o755));
    assert_eq!(mode("m9/x"), Some(0o600));
}

#[test]
fn arg_after_env_of_same_name_wins_until_next_env() {
    let (ctx, _r, store) = store_with_base();
    let df = "FROM base\nARG A=1\nENV A=2\nARG A=3\nENV B=$A\nENV A=4\nENV C=$A\n";
    build(&store, &request(ctx.path(), df, "argenv")).unwrap();
    let env = config(&store, "argenv").config.env;
    for want in ["A=4", "B=3", "C=4"] {
        assert!(env.contains(&want.to_string()), "{want} in {env:?}");
    }
    let mut req = request(ctx.path(), "FROM base\nENV A=2\nARG A\nENV B=$A\n", "bare");
    build(&store, &req).unwrap();
    assert!(config(&store, "bare").config.env.contains(&"B=2".into()));
    req.build_args.insert("A".into(), "9".into());
    build(&store, &req).unwrap();
    let env = config(&store, "bare").config.env;
    assert!(
        env.contains(&"B=9".into()) && env.contains(&"A=2".into()),
        "{env:?}"
    );
}

#[test]
fn copy_through_an_existing_file_fails() {
    let (ctx, _r, store) = store_with_base();
    write_files(ctx.path(), &[("a.txt", "a\n"), ("d/q", "q\n")]);
    for (df, want) in [
        (
            "COPY a.txt /etc/passwd/",
            "mkdir /etc/passwd: not a directory",
        ),
        (
            "COPY a.txt /etc/passwd/x",
            "mkdir /etc/passwd: not a directory",
        ),
        (
            "COPY d /etc/passwd",
            "cannot copy to non-directory: /etc/passwd",
        ),
    ] {
        let err = build(
            &store,
            &request(ctx.path(), &format!("FROM base\n{df}\n"), "thru"),
        )
        .unwrap_err();
        assert!(err.to_string().contains(want), "{df}: {err}");
    }
    // Replacing the file itself is fine.
    build(
        &store,
        &request(ctx.path(), "FROM base\nCOPY a.txt /etc/passwd\n", "thru"),
    )
    .unwrap();
    assert_eq!(file(&store, "thru", "etc/passwd").as_deref(), Some("a\n"));
}

#[test]
fn stopsignal_bogus_fails_like_docker() {
    let (ctx, _r, store) = store_with_base();
    let e = build(
        &store,
        &request(ctx.path(), "FROM base\nSTOPSIGNAL BOGUS\n", "sig"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("Invalid signal: BOGUS"), "{e}");
    // Via a variable, too; and numbers Docker takes unbounded.
    let df = "FROM base\nARG S=0\nSTOPSIGNAL $S\n";
    let e = build(&store, &request(ctx.path(), df, "sig"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("Invalid signal: 0"), "{e}");
    for (sig, tag) in [("100", "s100"), ("rtmin+3", "srt")] {
        let df = format!("FROM base\nSTOPSIGNAL {sig}\n");
        build(&store, &request(ctx.path(), &df, tag)).unwrap();
        assert_eq!(config(&store, tag).config.stop_signal.as_deref(), Some(sig));
    }
}

#[test]
fn empty_json_cmd_and_entrypoint_are_null() {
    let (ctx, _r, store) = store_with_base();
    let df = "FROM base\nENTRYPOINT [\"e\"]\nCMD [\"c\"]\nFROM 0\nENTRYPOINT []\nCMD []\n";
    let df = df.replace("FROM 0", "FROM base");
    build(&store, &request(ctx.path(), &df, "nul")).unwrap();
    let c = config(&store, "nul").config;
    assert_eq!(c.entrypoint, None);
    assert_eq!(c.cmd, None);
}

#[test]
fn history_reads_as_buildkit_writes_it() {
    let (ctx, _r, store) = store_with_base();
    write_files(ctx.path(), &[("hi", "hi\n")]);
    let df = "FROM base\nARG X=1 Y\nENV A=1 B=\"two words\"\nLABEL l=v\nMAINTAINER me\n\
              WORKDIR /x\nWORKDIR /\nEXPOSE 90 80 80/tcp\nVOLUME /v /w\nENV F=hi\n\
              COPY --chown=1:1 $F /hi\nADD hi /hi3\nSHELL [\"/bin/sh\", \"-c\"]\n\
              STOPSIGNAL SIGTERM\nHEALTHCHECK --interval=5s CMD echo hc\nONBUILD RUN echo ob\n\
              ENTRYPOINT [\"echo\"]\nCMD [\"cat\", \"/hi\"]\nUSER 0\n";
    build(&store, &request(ctx.path(), df, "hist")).unwrap();
    let img = config(&store, "hist");
    let base = config(&store, "base").history.len();
    let got: Vec<(String, bool)> = img.history[base..]
        .iter()
        .map(|h| {
            assert_eq!(h.comment.as_deref(), Some("buildkit.dockerfile.v0"));
            (h.created_by.clone().unwrap_or_default(), h.empty_layer)
        })
        .collect();
    // What Docker 20.10 wrote for the same lines (`docker history --no-trunc`).
    let want = [
        ("ARG X=1 Y", true),
        ("ENV A=1 B=two words", true),
        ("LABEL l=v", true),
        ("MAINTAINER me", true),
        ("WORKDIR /x", false),
        ("WORKDIR /", true),
        ("EXPOSE map[80/tcp:{} 90/tcp:{}]", true),
        ("VOLUME [/v /w]", true),
        ("ENV F=hi", true),
        ("COPY hi /hi # buildkit", false),
        ("ADD hi /hi3 # buildkit", false),
        ("SHELL [/bin/sh -c]", true),
        ("STOPSIGNAL SIGTERM", true),
        (
            "HEALTHCHECK &{[\"CMD-SHELL\" \"echo hc\"] \"5s\" \"0s\" \"0s\" '\\x00'}",
            true,
        ),
        // No ONBUILD entry: BuildKit records only the trigger in the config.
        ("ENTRYPOINT [\"echo\"]", true),
        ("CMD [\"cat\" \"/hi\"]", true),
        ("USER 0", true),
    ];
    let want: Vec<(String, bool)> = want.iter().map(|(s, e)| (s.to_string(), *e)).collect();
    assert_eq!(got, want);
}

#[test]
fn copy_wildcard_no_match_copies_nothing_and_succeeds() {
    let (ctx, _r, store) = store_with_base();
    write_files(ctx.path(), &[("a.txt", "a\n")]);
    let df = "FROM base\nCOPY *.none /x/\nCOPY *.none a.txt /y/\n";
    build(&store, &request(ctx.path(), df, "wild")).unwrap();
    let all = names(&files(&store, "wild"));
    assert!(!all.iter().any(|n| n.starts_with("x")), "{all:?}");
    assert_eq!(file(&store, "wild", "y/a.txt").as_deref(), Some("a\n"));
    // A plain missing path still fails.
    let e = build(
        &store,
        &request(ctx.path(), "FROM base\nCOPY none.txt /x/\n", "w2"),
    );
    assert!(e.is_err());
}

#[test]
fn copy_dotdot_stays_in_context() {
    let (ctx, _r, store) = store_with_base();
    write_files(ctx.path(), &[("a.txt", "a\n")]);
    let df = "FROM base\nCOPY ../a.txt /up.txt\nCOPY ../../a.txt /up2.txt\n";
    build(&store, &request(ctx.path(), df, "dotdot")).unwrap();
    assert_eq!(file(&store, "dotdot", "up.txt").as_deref(), Some("a\n"));
    assert_eq!(file(&store, "dotdot", "up2.txt").as_deref(), Some("a\n"));
}

#[test]
fn copy_over_symlink_writes_where_it_points() {
    let (ctx, _r, store) = store_with_base();
    write_files(ctx.path(), &[("a.txt", "a\n"), ("l/keep", "k")]);
    symlink("sh", ctx.path().join("l/true")).unwrap();
    symlink("/dir", ctx.path().join("l/ldir")).unwrap();
    // A directory's links are copied as links: /bin/true -> sh, /bin/ldir -> /dir.
    let df = "FROM base\nCOPY l/ /bin/\nCOPY a.txt /bin/true\nCOPY a.txt /bin/ldir/\n";
    build(&store, &request(ctx.path(), df, "over")).unwrap();
    // The links' targets got the content; the links stay links.
    assert_eq!(file(&store, "over", "bin/sh").as_deref(), Some("a\n"));
    assert_eq!(file(&store, "over", "dir/a.txt").as_deref(), Some("a\n"));
    let layers = layers(&store, "over");
    let n = layers.len();
    for l in &layers[n - 2..] {
        let names = names(l);
        assert!(
            !names
                .iter()
                .any(|n| n == "bin/true" || n.starts_with("bin/ldir")),
            "{names:?}"
        );
    }
}
