//! Builds without RUN: COPY/ADD layers, config instructions, stages, ARGs, ignore files,
//! bad input.

mod common;

use std::fs;

use common::*;
use store::Store;

#[test]
fn scratch_image_with_copied_files() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    write_files(
        ctx.path(),
        &[
            ("hello.txt", "hello\n"),
            ("src/a.rs", "fn a() {}"),
            ("src/sub/b.rs", "b"),
        ],
    );
    let store = Store::open(root.path()).unwrap();
    let df = "FROM scratch\nCOPY hello.txt /\nCOPY src /app/\nCOPY --chown=1000:1000 --chmod=0600 hello.txt /etc/greeting\n";
    let (built, _) = build(&store, &request(ctx.path(), df, "scratchy")).unwrap();
    let f = files(&store, "scratchy");
    let names: Vec<&str> = f.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "hello.txt",
            "app/",
            "app/a.rs",
            "app/sub/",
            "app/sub/b.rs",
            "etc/",
            "etc/greeting"
        ]
    );
    assert_eq!(
        file(&store, "scratchy", "app/sub/b.rs").as_deref(),
        Some("b")
    );
    let greeting = f.iter().find(|e| e.0 == "etc/greeting").unwrap();
    assert_eq!((greeting.2, greeting.3), (0o600, 1000));
    let cfg = config(&store, "scratchy");
    assert_eq!(cfg.rootfs.diff_ids.len(), 3);
    assert_eq!(cfg.history.len(), 3);
    assert_eq!(built.id, store.resolve_image("scratchy").unwrap().id);
    assert_eq!(
        store
            .resolve_image("docker.io/library/scratchy:latest")
            .unwrap()
            .id,
        built.id
    );
}

/// BuildKit's image keeps the OCI fields and the container config of its base, not the
/// base's Docker-only `comment`, `container`, `container_config` or `docker_version`.
#[test]
fn built_config_drops_the_bases_docker_only_fields() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let base = serde_json::json!({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "comment": "Imported from -", "container": "abc", "docker_version": "20.10.24",
        "container_config": {"Hostname": "abc"},
        "config": {"Env": ["PATH=/bin"]},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [{"created": "2024-01-01T00:00:00Z", "comment": "Imported from -"}],
    });
    let base = store
        .put_blob_bytes(oci::media::OCI_CONFIG, &serde_json::to_vec(&base).unwrap())
        .unwrap();
    let manifest = oci::Manifest {
        schema_version: 2,
        media_type: Some(oci::media::OCI_MANIFEST.into()),
        artifact_type: None,
        config: base,
        layers: vec![],
        subject: None,
        annotations: Default::default(),
    };
    let bytes = manifest.to_vec();
    let desc = oci::Descriptor::of_bytes(oci::media::OCI_MANIFEST, &bytes);
    store.put_manifest(&desc, &bytes).unwrap();
    store
        .set_tag("docker.io/library/imported:latest", &desc)
        .unwrap();
    build(
        &store,
        &request(ctx.path(), "FROM imported\nLABEL a=b\n", "child"),
    )
    .unwrap();
    let cfg = config(&store, "child");
    assert!(cfg.extra.is_empty(), "{:?}", cfg.extra);
    assert_eq!(cfg.docker_version, None);
    assert_eq!(cfg.config.env, ["PATH=/bin"]);
    assert_eq!(cfg.history.len(), 2);
}

/// Docker's SIZE of a built layer is its files unpacked (regular-file bytes, symlink
/// targets), recorded as the layer was written.
#[test]
fn built_layers_record_their_unpacked_size() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    write_files(ctx.path(), &[("a", "four"), ("d/b", "xyz")]);
    let store = Store::open(root.path()).unwrap();
    build(
        &store,
        &request(ctx.path(), "FROM scratch\nCOPY a /a\nCOPY d /d/\n", "sized"),
    )
    .unwrap();
    let info = store.resolve_image("sized").unwrap();
    let manifest =
        oci::Manifest::from_slice(&store.manifest_bytes(&info.manifest).unwrap()).unwrap();
    let sizes: Vec<u64> = manifest
        .layers
        .iter()
        .map(|l| store.layer_size(l).unwrap())
        .collect();
    assert_eq!(sizes, [4, 3]);
    assert_eq!(info.size, 7);
}

#[test]
fn env_workdir_user_and_friends_shape_the_config() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    write_files(ctx.path(), &[("f", "x")]);
    let store = Store::open(root.path()).unwrap();
    let df = r#"FROM scratch
ENV APP=/srv/app PATH=/bin
ENV DATA=${APP}/data
WORKDIR $APP
WORKDIR sub
COPY f .
USER 1000:1000
EXPOSE 8080 53/udp
VOLUME ["/data"]
LABEL org.example.v="1" who=$APP
STOPSIGNAL SIGTERM
ENTRYPOINT ["/bin/app"]
CMD serve --port 1
HEALTHCHECK --interval=5s CMD /bin/check
ONBUILD COPY f /onbuild
"#;
    let mut req = request(ctx.path(), df, "cfg");
    req.labels.insert("extra".into(), "yes".into());
    build(&store, &req).unwrap();
    let cfg = config(&store, "cfg");
    let c = &cfg.config;
    // The scratch stage's default PATH is replaced where it stands.
    assert_eq!(c.env, ["PATH=/bin", "APP=/srv/app", "DATA=/srv/app/data"]);
    assert_eq!(c.working_dir.as_deref(), Some("/srv/app/sub"));
    assert_eq!(c.user.as_deref(), Some("1000:1000"));
    assert!(c.exposed_ports.contains_key("8080/tcp") && c.exposed_ports.contains_key("53/udp"));
    assert!(c.volumes.contains_key("/data"));
    assert_eq!(c.labels["org.example.v"], "1");
    assert_eq!(c.labels["who"], "/srv/app");
    assert_eq!(c.labels["extra"], "yes");
    assert_eq!(c.stop_signal.as_deref(), Some("SIGTERM"));
    assert_eq!(c.entrypoint.as_deref(), Some(&["/bin/app".to_string()][..]));
    assert_eq!(
        c.cmd.as_deref(),
        Some(&["/bin/sh".to_string(), "-c".into(), "serve --port 1".into()][..])
    );
    // BuildKit stores ArgsEscaped with every CMD.
    assert_eq!(c.args_escaped, Some(true));
    let hc = c.healthcheck.as_ref().unwrap();
    assert_eq!(hc.interval, Some(5_000_000_000));
    assert_eq!(c.on_build, ["COPY f /onbuild"]);
    assert!(file(&store, "cfg", "srv/app/sub/f").is_some());
    let empty: Vec<bool> = cfg.history.iter().map(|h| h.empty_layer).collect();
    assert_eq!(
        empty.iter().filter(|e| !**e).count(),
        3,
        "three layers: the two WORKDIRs (which create their directory) and the COPY"
    );
    // Every instruction but FROM and ONBUILD (BuildKit records no history for a trigger).
    assert_eq!(empty.len(), 13);
    assert!(
        cfg.history
            .iter()
            .all(|h| !h.created_by.as_deref().unwrap_or("").starts_with("ONBUILD")),
        "{:?}",
        cfg.history
    );

    // ONBUILD triggers run when the image is a base.
    let (_, _) = build(
        &store,
        &request(ctx.path(), "FROM cfg\nUSER root\n", "child"),
    )
    .unwrap();
    assert!(file(&store, "child", "onbuild").is_some());
    assert!(config(&store, "child").config.on_build.is_empty());
}

#[test]
fn multi_stage_copy_from_builds_only_needed_stages() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    write_files(
        ctx.path(),
        &[("bin/tool", "#!tool"), ("conf/app.conf", "k=v")],
    );
    let store = Store::open(root.path()).unwrap();
    let df = r#"FROM scratch AS builder
COPY bin/ /out/bin/
COPY conf /out/conf
FROM scratch AS unused
COPY missing-file /
FROM scratch
COPY --from=builder /out/bin/tool /usr/local/bin/tool
COPY --from=0 /out/conf /etc/app/
"#;
    let (_, events) = build(&store, &request(ctx.path(), df, "multi")).unwrap();
    assert_eq!(
        file(&store, "multi", "usr/local/bin/tool").as_deref(),
        Some("#!tool")
    );
    assert_eq!(
        file(&store, "multi", "etc/app/app.conf").as_deref(),
        Some("k=v")
    );
    assert!(
        !executed(&events).iter().any(|t| t.contains("missing-file")),
        "the unused stage is not built"
    );
    // --target builds a middle stage.
    let mut req = request(ctx.path(), df, "builder-only");
    req.target = Some("builder".into());
    build(&store, &req).unwrap();
    assert!(file(&store, "builder-only", "out/conf/app.conf").is_some());
}

#[test]
fn arg_scoping_across_from() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    write_files(ctx.path(), &[("a", "A"), ("b", "B")]);
    let store = Store::open(root.path()).unwrap();
    let df = r#"ARG SRC=a
ARG STAGE=first
FROM scratch AS first
ARG SRC
ARG LOCAL=local-$SRC
ENV FROM_ARG=$SRC LOCAL=$LOCAL
ARG TARGETARCH
ENV ARCH=$TARGETARCH
COPY $SRC /picked
FROM ${STAGE}
ENV AFTER=[$SRC]
"#;
    build(&store, &request(ctx.path(), df, "args")).unwrap();
    let cfg = config(&store, "args");
    let arch = oci::Platform::host().architecture;
    assert_eq!(
        cfg.config.env,
        [
            format!("PATH={}", runtime::spec::DEFAULT_PATH),
            "FROM_ARG=a".to_string(),
            "LOCAL=local-a".into(),
            format!("ARCH={arch}"),
            // A stage built FROM another inherits its ARGs (Docker 20.10 gives [a]).
            "AFTER=[a]".into()
        ]
    );
    assert_eq!(file(&store, "args", "picked").as_deref(), Some("A"));
    let mut req = request(ctx.path(), df, "args-b");
    req.build_args.insert("SRC".into(), "b".into());
    build(&store, &req).unwrap();
    assert_eq!(file(&store, "args-b", "picked").as_deref(), Some("B"));
    assert_eq!(config(&store, "args-b").config.env[1], "FROM_ARG=b");
}

#[test]
fn dockerignore_excludes_files() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    write_files(
        ctx.path(),
        &[
            (".dockerignore", "*.log\nsecret/\n**/*.tmp\n!keep.log\n"),
            ("app.rs", "x"),
            ("debug.log", "x"),
            ("keep.log", "x"),
            ("secret/key", "x"),
            ("deep/er/x.tmp", "x"),
            ("deep/er/y.rs", "x"),
        ],
    );
    let store = Store::open(root.path()).unwrap();
    build(
        &store,
        &request(ctx.path(), "FROM scratch\nCOPY . /ctx/\n", "ign"),
    )
    .unwrap();
    let names: Vec<String> = files(&store, "ign").into_iter().map(|f| f.0).collect();
    assert_eq!(
        names,
        [
            "ctx/",
            "ctx/.dockerignore",
            "ctx/app.rs",
            "ctx/deep/",
            "ctx/deep/er/",
            "ctx/deep/er/y.rs",
            "ctx/keep.log"
        ]
    );
    // An excluded file named directly is not found.
    let err = build(
        &store,
        &request(ctx.path(), "FROM scratch\nCOPY debug.log /\n", "x"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("debug.log"), "{err}");
}

fn store_state(root: &std::path::Path) -> (Vec<String>, usize) {
    let store = Store::open(root).unwrap();
    let tags = store.tags().unwrap().into_iter().map(|t| t.0).collect();
    let blobs = fs::read_dir(root.join("blobs/sha256")).unwrap().count();
    (tags, blobs)
}

#[test]
fn copy_outside_context_fails_clearly_and_changes_nothing() {
    let outer = tempfile::tempdir().unwrap();
    let ctx = outer.path().join("ctx");
    write_files(outer.path(), &[("secret", "s"), ("ctx/ok", "ok")]);
    let root = tempfile::tempdir().unwrap();
    let before = store_state(root.path());
    let store = Store::open(root.path()).unwrap();
    for (df, needle) in [
        ("FROM scratch\nCOPY ../secret /\n", "../secret"),
        ("FROM scratch\nCOPY ok /\nCOPY nothere /\n", "nothere"),
    ] {
        let err = build(&store, &request(&ctx, df, "bad")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains(needle), "{msg}");
        assert!(store.resolve_image("bad").is_err());
    }
    // BuildKit cleans `../secret` to `secret` inside the context, which is not there.
    let err = build(
        &store,
        &request(&ctx, "FROM scratch\nCOPY ../secret /\n", "bad"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not found"), "{err}");
    let after = store_state(root.path());
    assert_eq!(before.0, after.0, "no tag");
    // A symlink that leads out is refused too.
    std::os::unix::fs::symlink(outer.path(), ctx.join("link")).unwrap();
    let err = build(
        &store,
        &request(&ctx, "FROM scratch\nCOPY link/secret /\n", "bad"),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("outside the build context"),
        "{err}"
    );
}

#[test]
fn a_bad_source_anywhere_leaves_no_blob() {
    let outer = tempfile::tempdir().unwrap();
    let ctx = outer.path().join("ctx");
    write_files(outer.path(), &[("secret", "s"), ("ctx/ok", "ok")]);
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let before = store_state(root.path());
    for df in [
        "FROM scratch\nENV A=1\nCOPY ../secret /\n",
        "FROM scratch\nCOPY ok /\nCOPY ok /again\nCOPY ../secret /\n",
        "FROM scratch\nARG WHERE=..\nENV DIR=$WHERE\nCOPY ok /\nCOPY $DIR/secret /\n",
        "FROM scratch AS a\nCOPY ok /\nFROM scratch\nCOPY --from=a /ok /\nCOPY missing /\n",
    ] {
        let err = build(&store, &request(&ctx, df, "bad")).unwrap_err();
        let build::BuildError::At { file, cause, .. } = &err else {
            panic!("not located at a Dockerfile line: {err}");
        };
        assert_eq!(file, "Dockerfile");
        assert!(
            matches!(
                **cause,
                build::BuildError::OutsideContext { .. } | build::BuildError::SourceNotFound { .. }
            ),
            "{cause}"
        );
        assert_eq!(before, store_state(root.path()), "{df}");
    }
    assert!(!store.layout().build_cache_dir().exists());
    assert!(store.images().unwrap().is_empty());
}

#[test]
fn add_extracts_local_tar_archives() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let tgz = ctx.path().join("bundle.tar.gz");
    {
        let gz = flate2::write::GzEncoder::new(
            fs::File::create(&tgz).unwrap(),
            flate2::Compression::default(),
        );
        let mut b = tar::Builder::new(gz);
        let mut h = tar::Header::new_ustar();
        h.set_size(3);
        h.set_mode(0o755);
        b.append_data(&mut h, "bin/run", &b"run"[..]).unwrap();
        b.into_inner().unwrap().finish().unwrap();
    }
    write_files(ctx.path(), &[("plain.txt", "p")]);
    let store = Store::open(root.path()).unwrap();
    let df = "FROM scratch\nADD bundle.tar.gz /opt/\nADD plain.txt /opt/plain\nCOPY bundle.tar.gz /raw/\n";
    build(&store, &request(ctx.path(), df, "add")).unwrap();
    assert_eq!(file(&store, "add", "opt/bin/run").as_deref(), Some("run"));
    assert_eq!(file(&store, "add", "opt/plain").as_deref(), Some("p"));
    assert!(
        files(&store, "add")
            .iter()
            .any(|f| f.0 == "raw/bundle.tar.gz")
    );
}

#[test]
fn copy_heredoc_writes_a_file() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let df = "FROM scratch\nARG WHO=world\nCOPY <<EOF /greeting\nhello $WHO\nEOF\n";
    build(&store, &request(ctx.path(), df, "heredoc")).unwrap();
    assert_eq!(
        file(&store, "heredoc", "greeting").as_deref(),
        Some("hello world\n")
    );
}

#[test]
fn copy_exclude_and_parents() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    write_files(
        ctx.path(),
        &[("a/x.txt", "1"), ("a/x.md", "2"), ("b/c/y.txt", "3")],
    );
    let store = Store::open(root.path()).unwrap();
    let df = "FROM scratch\nCOPY --exclude=**/*.md a /ex/\nCOPY --parents a/x.txt b/c/y.txt /p/\n";
    build(&store, &request(ctx.path(), df, "exparents")).unwrap();
    let names: Vec<String> = files(&store, "exparents")
        .into_iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(
        names,
        [
            "ex/",
            "ex/x.txt",
            "p/",
            "p/a/",
            "p/a/x.txt",
            "p/b/",
            "p/b/c/",
            "p/b/c/y.txt"
        ]
    );
}

#[test]
fn copy_into_a_stored_base_keeps_parent_attributes_and_symlinks() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    write_files(
        ctx.path(),
        &[("base/usr/lib/keep", "k"), ("lib.so", "so"), ("conf", "c")],
    );
    std::os::unix::fs::symlink("usr/lib", ctx.path().join("base/lib")).unwrap();
    fs::create_dir_all(ctx.path().join("base/home/app")).unwrap();
    let store = Store::open(root.path()).unwrap();
    let df = "FROM scratch\nCOPY --chown=1000:1000 base/ /\n";
    build(&store, &request(ctx.path(), df, "based")).unwrap();
    let df = "FROM based\nCOPY lib.so /lib/\nCOPY conf /home/app/conf\n";
    build(&store, &request(ctx.path(), df, "child")).unwrap();
    let f = files(&store, "child");
    let n = f.len();
    // The second image's layers: the link was followed, parents kept their owner.
    let last: Vec<(String, u64)> = f[n - 6..].iter().map(|e| (e.0.clone(), e.3)).collect();
    assert_eq!(
        last,
        [
            ("usr/".to_string(), 1000),
            ("usr/lib/".into(), 1000),
            ("usr/lib/lib.so".into(), 0),
            ("home/".into(), 1000),
            ("home/app/".into(), 1000),
            ("home/app/conf".into(), 0),
        ]
    );
}

#[test]
fn chown_by_name_reads_the_image_passwd() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    write_files(
        ctx.path(),
        &[
            (
                "base/etc/passwd",
                "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
            ),
            ("base/etc/group", "root:x:0:\nstaff:x:50:\napp:x:1001:\n"),
            ("conf", "c"),
        ],
    );
    let store = Store::open(root.path()).unwrap();
    build(
        &store,
        &request(ctx.path(), "FROM scratch\nCOPY base/ /\n", "users"),
    )
    .unwrap();
    let df = "FROM users\nCOPY --chown=app conf /a\nCOPY --chown=app:staff conf /b\n";
    build(&store, &request(ctx.path(), df, "owned")).unwrap();
    let f = files(&store, "owned");
    let owner = |p: &str| f.iter().rev().find(|e| e.0 == p).map(|e| e.3);
    assert_eq!(owner("a"), Some(1000));
    assert_eq!(owner("b"), Some(1000));
    // A name the image does not know is 0, as BuildKit's file op reads it (no error);
    // an unknown group keeps the user's.
    let df = "FROM users\nCOPY --chown=nobody conf /c\nCOPY --chown=app:nogroup conf /d\n";
    build(&store, &request(ctx.path(), df, "unknown")).unwrap();
    let f = files(&store, "unknown");
    let uid = |p: &str| f.iter().rev().find(|e| e.0 == p).map(|e| e.3);
    assert_eq!(uid("c"), Some(0));
    assert_eq!(uid("d"), Some(1000));
}

/// BuildKit's ARG history: each default after word processing (quotes removed, the
/// values of earlier lines expanded, a --build-arg's included), the key's own override not.
#[test]
fn arg_history_shows_the_processed_default() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let df = "FROM scratch\nARG A=x\nARG B=$A-y C=\"q r\" D='$A s'\n";
    let mut req = request(ctx.path(), df, "args");
    req.build_args.insert("A".into(), "cli".into());
    build(&store, &req).unwrap();
    let texts: Vec<String> = config(&store, "args")
        .history
        .iter()
        .filter_map(|h| h.created_by.clone())
        .collect();
    assert_eq!(texts, ["ARG A=x", "ARG B=cli-y C=q r D=$A s"]);
}

/// A base missing from the store is named as missing, without the old wrong hint that
/// build does not pull (`strata build` pulls a missing base before it starts; a base
/// missing here was removed since).
#[test]
fn a_missing_base_says_no_such_image_and_nothing_about_pulling() {
    let ctx = tempfile::tempdir().unwrap();
    let root = tempfile::tempdir().unwrap();
    let store = Store::open(root.path()).unwrap();
    let err = build(&store, &request(ctx.path(), "FROM nosuch:1\n", "bad")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("No such image: nosuch:1"), "{msg}");
    assert!(!msg.contains("pull"), "{msg}");
}
