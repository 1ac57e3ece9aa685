//! RUN steps end to end, through runc on overlayfs. Needs root and runc
//! (`apt-get install runc`); without them this test fails rather than skips.
//!
//! The base image is itself built by the builder: `COPY rootfs/ /` of a context holding
//! the host's `/bin/sh` and a few tools with the shared libraries `ldd` lists.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use build::{BuildError, Event};
use common::*;
use store::Store;

const TOOLS: [&str; 5] = ["sh", "id", "cat", "ls", "sleep"];

fn copy_libs(root: &Path, binary: &Path) {
    let out = Command::new("ldd").arg(binary).output().expect("ldd");
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            let dest = root.join(p.trim_start_matches('/'));
            fs::create_dir_all(dest.parent().unwrap()).unwrap();
            fs::copy(p, &dest).unwrap();
        }
    }
}

fn rootfs(root: &Path) {
    fs::create_dir_all(root.join("bin")).unwrap();
    for t in TOOLS {
        let host = ["/bin", "/usr/bin"]
            .iter()
            .map(|d| Path::new(d).join(t))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("host has no {t}"));
        fs::copy(&host, root.join("bin").join(t)).unwrap();
        copy_libs(root, &host);
    }
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
    )
    .unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\napp:x:1000:\n").unwrap();
    fs::create_dir_all(root.join("tmp")).unwrap();
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
}

struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    /// Nothing may stay mounted below the test's directory, whatever happened.
    fn drop(&mut self) {
        let prefix = self.0.to_string_lossy().into_owned();
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        for mp in info.lines().filter_map(|l| l.split(' ').nth(4)) {
            if mp.starts_with(&prefix) {
                let _ = rustix::mount::unmount(mp, rustix::mount::UnmountFlags::DETACH);
            }
        }
    }
}

const DF: &str = r#"FROM scratch AS base
COPY rootfs/ /
ENV PATH=/bin

FROM base
ARG GREETING=hi
ENV FROM_ENV=env
WORKDIR /work
RUN echo "$GREETING from $(pwd) $FROM_ENV" > out.txt && id -u > uid.txt
RUN ["sh", "-c", "echo exec > /exec.txt"]
RUN <<EOT
echo heredoc > /heredoc.txt
EOT
RUN --network=none cat <<EOT > /inline.txt
line one
EOT
USER 1000
RUN id -u > /tmp/uid-user.txt && echo visible-output
"#;

#[test]
fn run_steps_execute_in_containers_and_are_cached() {
    assert!(rustix::process::geteuid().is_root(), "RUN tests need root");
    assert!(
        runtime::oci_runtime::find_in_path("runc").is_some(),
        "RUN tests need runc: apt-get install runc"
    );
    let dir = tempfile::tempdir().unwrap();
    let _guard = Unmount(dir.path().to_path_buf());
    let ctx = dir.path().join("ctx");
    rootfs(&ctx.join("rootfs"));
    let store = Store::open(&dir.path().join("store")).unwrap();
    let mut req = request(&ctx, DF, "ran");
    req.runtime = Some("runc".into());
    let (built, events) = build(&store, &req).unwrap();
    assert_eq!(built.executed, 7, "{:?}", executed(&events));
    let out = |p: &str| file(&store, "ran", p);
    assert_eq!(out("work/out.txt").as_deref(), Some("hi from /work env\n"));
    assert_eq!(out("work/uid.txt").as_deref(), Some("0\n"));
    assert_eq!(out("exec.txt").as_deref(), Some("exec\n"));
    assert_eq!(out("heredoc.txt").as_deref(), Some("heredoc\n"));
    assert_eq!(out("inline.txt").as_deref(), Some("line one\n"));
    assert_eq!(out("tmp/uid-user.txt").as_deref(), Some("1000\n"));
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Output { line, .. } if line == "visible-output"))
    );
    let cfg = config(&store, "ran");
    assert_eq!(cfg.config.user.as_deref(), Some("1000"));
    assert!(
        !cfg.config.env.iter().any(|e| e.starts_with("GREETING")),
        "ARGs are not kept"
    );

    // Unchanged rebuild: no container runs.
    let (again, events) = build(&store, &req).unwrap();
    assert_eq!(again.executed, 0, "{:?}", executed(&events));
    // A changed ARG reruns the RUN steps (ARGs are their environment).
    let mut changed = req.clone();
    changed.build_args.insert("GREETING".into(), "hello".into());
    let (_, events) = build(&store, &changed).unwrap();
    assert_eq!(executed(&events).len(), 5, "{:?}", executed(&events));
    assert_eq!(
        file(&store, "ran", "work/out.txt").as_deref(),
        Some("hello from /work env\n")
    );

    // A failing RUN names its line and exit code, and tags nothing.
    let mut base_only = req.clone();
    base_only.target = Some("base".into());
    base_only.tags = vec!["base".into()];
    build(&store, &base_only).unwrap();
    let mut bad = request(&ctx, "FROM base\nRUN echo boom >&2; exit 3\n", "failed");
    bad.runtime = Some("runc".into());
    match build(&store, &bad) {
        Err(BuildError::RunFailed {
            line, code, output, ..
        }) => assert_eq!((line, code, output.as_str()), (2, 3, "boom")),
        other => panic!("{other:?}"),
    }
    assert!(store.resolve_image("failed").is_err());
    assert!(
        runtime::container::list(store.root()).unwrap().is_empty(),
        "containers are removed"
    );
}

const MOUNTS: &str = r#"FROM scratch AS base
COPY rootfs/ /
ENV PATH=/bin
FROM base
RUN --mount=type=cache,target=/cache sh -c 'echo run >> /cache/log; cat /cache/log > /seen.txt'
RUN --mount=type=bind,source=data,target=/data cat /data/f > /bound.txt
RUN --mount=type=bind,source=data,target=/data,rw sh -c 'echo scribble > /data/f'
RUN --mount=type=tmpfs,target=/scratch sh -c 'echo t > /scratch/t && cat /scratch/t > /tmpfs.txt'
"#;

#[test]
fn run_mounts_cache_bind_and_tmpfs() {
    assert!(rustix::process::geteuid().is_root(), "RUN tests need root");
    let dir = tempfile::tempdir().unwrap();
    let _guard = Unmount(dir.path().to_path_buf());
    let ctx = dir.path().join("ctx");
    rootfs(&ctx.join("rootfs"));
    write_files(&ctx, &[("data/f", "bound\n")]);
    let store = Store::open(&dir.path().join("store")).unwrap();
    let mut req = request(&ctx, MOUNTS, "mounts");
    req.runtime = Some("runc".into());
    build(&store, &req).unwrap();
    assert_eq!(file(&store, "mounts", "seen.txt").as_deref(), Some("run\n"));
    assert_eq!(
        file(&store, "mounts", "bound.txt").as_deref(),
        Some("bound\n")
    );
    assert_eq!(file(&store, "mounts", "tmpfs.txt").as_deref(), Some("t\n"));
    assert_eq!(
        fs::read_to_string(ctx.join("data/f")).unwrap(),
        "bound\n",
        "rw bind writes are discarded"
    );
    let names: Vec<String> = files(&store, "mounts").into_iter().map(|f| f.0).collect();
    // As in Docker 20.10, a directory mount target stays in the layer, empty.
    for t in ["cache/", "data/", "scratch/"] {
        assert!(names.iter().any(|n| n == t), "{t} in {names:?}");
        assert!(
            !names.iter().any(|n| n.starts_with(t) && n != t),
            "nothing below the mount target {t}: {names:?}"
        );
    }
    assert!(
        !names.iter().any(|n| n == "scratch/t" || n == "data/f"),
        "{names:?}"
    );

    // The cache mount keeps its content between builds.
    let mut again = req.clone();
    again.no_cache = true;
    build(&store, &again).unwrap();
    assert_eq!(
        file(&store, "mounts", "seen.txt").as_deref(),
        Some("run\nrun\n")
    );

    // A bind source is part of the key: changing it reruns that RUN.
    fs::write(ctx.join("data/f"), "changed\n").unwrap();
    let (_, events) = build(&store, &req).unwrap();
    let ran = executed(&events);
    assert!(ran.iter().any(|t| t.contains("/bound.txt")), "{ran:?}");
    assert!(!ran.iter().any(|t| t.contains("/seen.txt")), "{ran:?}");
    assert_eq!(
        file(&store, "mounts", "bound.txt").as_deref(),
        Some("changed\n")
    );
}

const REAL_WORLD: &str = r#"# syntax=docker/dockerfile:1
ARG VERSION=1.0
ARG BASE=base

FROM scratch AS base
COPY rootfs/ /
ENV PATH=/bin

FROM ${BASE} AS builder
ARG VERSION
WORKDIR /src
COPY app/ .
RUN --mount=type=cache,target=/root/.cache <<EOT
set -e
echo "built $VERSION" > /src/artifact
cat greeting.txt >> /src/artifact
EOT

FROM base AS onbuild-base
ONBUILD COPY app/greeting.txt /onbuild-greeting

FROM onbuild-base
ARG VERSION
USER 1000:1000
WORKDIR /home/app
COPY --chown=1000:1000 app/ ./
COPY --from=builder --chown=1000:1000 /src/artifact ./artifact
RUN cat artifact > copy-of-artifact && echo "v=$VERSION uid=$(id -u) pwd=$(pwd)" >> copy-of-artifact
CMD ["cat", "/home/app/copy-of-artifact", "/onbuild-greeting"]
"#;

struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_real_world_multi_stage_build_runs() {
    assert!(rustix::process::geteuid().is_root(), "RUN tests need root");
    let dir = tempfile::tempdir().unwrap();
    let _guard = Unmount(dir.path().to_path_buf());
    let ctx = dir.path().join("ctx");
    rootfs(&ctx.join("rootfs"));
    write_files(&ctx, &[("app/greeting.txt", "hello\n")]);
    let store = Store::open(&dir.path().join("store")).unwrap();
    let mut req = request(&ctx, REAL_WORLD, "realworld");
    req.runtime = Some("runc".into());
    req.source_date_epoch = Some(0);
    let (built, _) = build(&store, &req).unwrap();
    let cfg = config(&store, "realworld");
    assert_eq!(cfg.config.user.as_deref(), Some("1000:1000"));
    assert_eq!(cfg.config.working_dir.as_deref(), Some("/home/app"));
    let f = files(&store, "realworld");
    let artifact = f.iter().find(|e| e.0 == "home/app/artifact").unwrap();
    assert_eq!(artifact.3, 1000, "--chown");
    assert!(
        !f.iter().any(|e| e.0.starts_with("src/")),
        "builder files stay in the builder"
    );

    let rt = runtime::OciRuntime::detect(Some("runc"), store.root()).unwrap();
    let c = runtime::container::create(&store, &rt, "realworld", None, Default::default())
        .unwrap()
        .0;
    let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let attach = runtime::Attach {
        stdout: Some(Box::new(Buffer(out.clone()))),
        stderr: Some(Box::new(Buffer(out.clone()))),
        ..Default::default()
    };
    let (c, code) = c.start(&store, &rt, attach).unwrap().wait(&rt).unwrap();
    c.remove(&store, &rt, true).unwrap();
    let out = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        out,
        "built 1.0\nhello\nv=1.0 uid=1000 pwd=/home/app\nhello\n"
    );

    // Rebuilt with SOURCE_DATE_EPOCH from the cache: the same image.
    let (again, _) = build(&store, &req).unwrap();
    assert_eq!(again.executed, 0);
    assert_eq!(again.id, built.id);
}

const PARALLEL: &str = r#"FROM scratch AS base
COPY rootfs/ /
ENV PATH=/bin
FROM base AS one
RUN sleep 1 && echo one > /one
FROM base AS two
RUN sleep 1 && echo two > /two
FROM scratch
COPY --from=one /one /
COPY --from=two /two /
"#;

#[test]
fn independent_stages_run_in_parallel() {
    assert!(rustix::process::geteuid().is_root(), "RUN tests need root");
    let dir = tempfile::tempdir().unwrap();
    let _guard = Unmount(dir.path().to_path_buf());
    let ctx = dir.path().join("ctx");
    rootfs(&ctx.join("rootfs"));
    let store = Store::open(&dir.path().join("store")).unwrap();
    let mut req = request(&ctx, PARALLEL, "parallel");
    req.runtime = Some("runc".into());
    let (_, events) = build(&store, &req).unwrap();
    assert_eq!(file(&store, "parallel", "one").as_deref(), Some("one\n"));
    assert_eq!(file(&store, "parallel", "two").as_deref(), Some("two\n"));
    // Both RUN steps start before either finishes.
    let runs: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            Event::Step { id, text, .. } if text.starts_with("RUN") => Some(*id),
            _ => None,
        })
        .collect();
    assert_eq!(runs.len(), 2);
    let pos = |f: &dyn Fn(&Event) -> bool| events.iter().position(f).unwrap();
    let second_start = pos(&|e| matches!(e, Event::Step { id, .. } if *id == runs[1]));
    let first_done = pos(&|e| matches!(e, Event::Done { id, .. } if runs.contains(id)));
    assert!(second_start < first_done, "{events:#?}");
}

#[test]
fn secrets_are_mounted_but_never_stored() {
    assert!(rustix::process::geteuid().is_root(), "RUN tests need root");
    let dir = tempfile::tempdir().unwrap();
    let _guard = Unmount(dir.path().to_path_buf());
    let ctx = dir.path().join("ctx");
    rootfs(&ctx.join("rootfs"));
    let store = Store::open(&dir.path().join("store")).unwrap();
    let df = "FROM scratch AS base\nCOPY rootfs/ /\nENV PATH=/bin\nFROM base\n\
              RUN --mount=type=secret,id=token cat /run/secrets/token > /used.txt\n\
              RUN --mount=type=secret,id=other,target=/s ls /s > /other.txt || echo absent > /other.txt\n";
    let mut req = request(&ctx, df, "secret");
    req.runtime = Some("runc".into());
    req.secrets.0.insert("token".into(), b"s3cr3t".to_vec());
    let (built, events) = build(&store, &req).unwrap();
    // The test copies the secret into the image on purpose, to see that it was mounted.
    assert_eq!(
        file(&store, "secret", "used.txt").as_deref(),
        Some("s3cr3t")
    );
    assert_eq!(
        file(&store, "secret", "other.txt").as_deref(),
        Some("absent\n")
    );
    assert!(
        !files(&store, "secret")
            .iter()
            .any(|f| f.0.starts_with("run/secrets/token"))
    );
    assert!(!format!("{req:?}").contains("s3cr3t"));
    assert!(!format!("{events:?}").contains("s3cr3t"));
    // A changed secret does not change the key (as BuildKit): cached.
    req.secrets.0.insert("token".into(), b"other".to_vec());
    let (again, _) = build(&store, &req).unwrap();
    assert_eq!((again.executed, built.executed), (0, 3));
    // A required secret that is missing fails clearly.
    let mut missing = request(
        &ctx,
        "FROM base\nRUN --mount=type=secret,id=k,required cat /run/secrets/k\n",
        "m",
    );
    missing.runtime = Some("runc".into());
    let mut base_only = req.clone();
    base_only.target = Some("base".into());
    base_only.tags = vec!["base".into()];
    build(&store, &base_only).unwrap();
    let err = build(&store, &missing).unwrap_err();
    assert!(
        err.to_string().contains("secret \"k\" is required"),
        "{err}"
    );
}

#[test]
fn run_layer_keeps_mount_points_and_sees_proxy_args() {
    assert!(rustix::process::geteuid().is_root(), "RUN tests need root");
    let dir = tempfile::tempdir().unwrap();
    let _guard = Unmount(dir.path().to_path_buf());
    let ctx = dir.path().join("ctx");
    rootfs(&ctx.join("rootfs"));
    let store = Store::open(&dir.path().join("store")).unwrap();
    let df = "FROM scratch AS base\nCOPY rootfs/ /\nENV PATH=/bin\nFROM base\nENV A=2\nARG A=3\nRUN echo \"$HTTP_PROXY $http_proxy $no_proxy $NO_PROXY\" > /p.txt && echo $A > /a.txt\n";
    let mut req = request(&ctx, df, "stubs");
    req.runtime = Some("runc".into());
    req.build_args.insert("http_proxy".into(), "hp".into());
    req.build_args.insert("NO_PROXY".into(), "np".into());
    build(&store, &req).unwrap();
    assert_eq!(
        file(&store, "stubs", "p.txt").as_deref(),
        Some("hp hp np np\n")
    );
    // An ARG set after an ENV of its name is what RUN sees (Docker 20.10 prints 3).
    assert_eq!(file(&store, "stubs", "a.txt").as_deref(), Some("3\n"));
    let cfg = config(&store, "stubs");
    assert!(
        !cfg.config.env.iter().any(|e| e.contains("hp")),
        "{:?}",
        cfg.config.env
    );
    // The base lacks /dev, /proc, /sys and /etc/hosts: BuildKit's RUN layer keeps the
    // mount points it made (and /etc, where the hosts stub was), as the last layer here.
    let last: Vec<(String, u32, u64)> = layers(&store, "stubs")
        .pop()
        .unwrap()
        .into_iter()
        .map(|e| (e.0, e.2 & 0o7777, e.3))
        .collect();
    for d in ["dev/", "proc/", "sys/", "etc/"] {
        assert!(
            last.iter().any(|e| e.0 == d && e.2 == 0 && e.1 == 0o755),
            "{d} in the RUN layer: {last:?}"
        );
    }
    assert!(
        !last
            .iter()
            .any(|e| e.0 == "etc/hosts" || e.0 == "etc/resolv.conf"),
        "{last:?}"
    );
    // A proxy value is not part of the key: another one hits the cache.
    req.build_args.insert("http_proxy".into(), "other".into());
    let (built, _) = build(&store, &req).unwrap();
    assert_eq!(built.executed, 0);
}

/// BuildKit's RUN: hostname `buildkitsandbox` (on the host network too), no HOSTNAME
/// variable, no /etc/hostname, its two-line /etc/hosts; history `RUN |N k=v … # buildkit`.
#[test]
fn run_sandbox_is_buildkits_and_history_names_build_args() {
    assert!(rustix::process::geteuid().is_root(), "RUN tests need root");
    assert!(
        runtime::oci_runtime::find_in_path("runc").is_some(),
        "RUN tests need runc: apt-get install runc"
    );
    let dir = tempfile::tempdir().unwrap();
    let _guard = Unmount(dir.path().to_path_buf());
    let ctx = dir.path().join("ctx");
    rootfs(&ctx.join("rootfs"));
    let store = Store::open(&dir.path().join("store")).unwrap();
    let probe = "cat /proc/sys/kernel/hostname; echo \"${HOSTNAME-unset}\"; \
                 if [ -e /etc/hostname ]; then echo file; else echo nofile; fi; cat /etc/hosts";
    let df = format!(
        "FROM scratch AS s\nCOPY rootfs/ /\nENV PATH=/bin\nARG B=2 A=1 C\nENV B=envb\n\
         RUN ({probe}) > /host.txt\nRUN --network=none ({probe}) > /none.txt\n\
         FROM s\nARG D=4\nRUN echo > /d.txt\n"
    );
    let mut req = request(&ctx, &df, "sandbox");
    req.runtime = Some("runc".into());
    build(&store, &req).unwrap();
    let want = "buildkitsandbox\nunset\nnofile\n\
                127.0.0.1\tlocalhost buildkitsandbox\n\
                ::1\tlocalhost ip6-localhost ip6-loopback\n";
    for f in ["host.txt", "none.txt"] {
        assert_eq!(file(&store, "sandbox", f).as_deref(), Some(want), "{f}");
    }
    let cfg = config(&store, "sandbox");
    let runs: Vec<String> = cfg
        .history
        .iter()
        .filter_map(|h| h.created_by.clone())
        .filter(|c| c.starts_with("RUN"))
        .collect();
    assert_eq!(
        runs[0],
        format!("RUN |3 B=envb A=1 C= /bin/sh -c ({probe}) > /host.txt # buildkit")
    );
    // A stage built FROM another lists only its own ARGs.
    assert_eq!(runs[2], "RUN |1 D=4 /bin/sh -c echo > /d.txt # buildkit");
}

/// BuildKit mounts no volume for RUN: VOLUME does not create the directory (a write into
/// it fails), and what RUN writes under a VOLUME path is kept in the layer.
#[test]
fn volume_neither_creates_the_directory_nor_hides_run_writes() {
    assert!(rustix::process::geteuid().is_root(), "RUN tests need root");
    assert!(
        runtime::oci_runtime::find_in_path("runc").is_some(),
        "RUN tests need runc: apt-get install runc"
    );
    let dir = tempfile::tempdir().unwrap();
    let _guard = Unmount(dir.path().to_path_buf());
    let ctx = dir.path().join("ctx");
    rootfs(&ctx.join("rootfs"));
    let store = Store::open(&dir.path().join("store")).unwrap();
    let base = "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nVOLUME /v\n";
    let mut req = request(&ctx, &format!("{base}RUN echo x > /v/f\n"), "vol");
    req.runtime = Some("runc".into());
    let e = build(&store, &req).unwrap_err();
    assert!(matches!(e, BuildError::RunFailed { .. }), "{e}");
    let mut req = request(
        &ctx,
        &format!("{base}RUN ls /v; echo $? > /ls.txt\n"),
        "vol2",
    );
    req.runtime = Some("runc".into());
    build(&store, &req).unwrap();
    assert_ne!(file(&store, "vol2", "ls.txt").as_deref(), Some("0\n"));
    assert!(
        !files(&store, "vol2")
            .iter()
            .any(|e| e.0 == "v" || e.0 == "v/")
    );
    let mut req = request(
        &ctx,
        "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nWORKDIR /v\nWORKDIR /\nVOLUME /v\nRUN echo kept > /v/f\n",
        "vol3",
    );
    req.runtime = Some("runc".into());
    build(&store, &req).unwrap();
    assert_eq!(file(&store, "vol3", "v/f").as_deref(), Some("kept\n"));
}

const BIND_FROM_STAGE: &str = r#"FROM scratch AS base
COPY rootfs/ /
ENV PATH=/bin

FROM scratch AS data
COPY data/ /data/

FROM base
RUN --mount=type=bind,from=data,source=/data,target=/mnt cat /mnt/f > /seen.txt
"#;

/// A cached `RUN --mount=type=bind,from=stage` is keyed on the stage's final key and the
/// path: a cached build neither unpacks the stage nor hashes its files again (it made the
/// stage's root and re-hashed every file below the source on every build), and a change of
/// the stage still reruns the RUN.
#[test]
fn a_cached_bind_from_a_stage_reads_none_of_its_files_and_a_changed_stage_reruns_it() {
    assert!(rustix::process::geteuid().is_root(), "RUN tests need root");
    let dir = tempfile::tempdir().unwrap();
    let _guard = Unmount(dir.path().to_path_buf());
    let ctx = dir.path().join("ctx");
    rootfs(&ctx.join("rootfs"));
    write_files(&ctx, &[("data/f", "one\n")]);
    let store = Store::open(&dir.path().join("store")).unwrap();
    let mut req = request(&ctx, BIND_FROM_STAGE, "bind-from");
    req.runtime = Some("runc".into());
    let (first, _) = build(&store, &req).unwrap();
    assert_eq!(first.executed, 3);
    assert_eq!(
        file(&store, "bind-from", "seen.txt").as_deref(),
        Some("one\n")
    );

    let (again, events) = build(&store, &req).unwrap();
    assert_eq!(executed(&events), Vec::<String>::new());
    assert_eq!(
        again.files_hashed, 0,
        "the cached build read the stage's files"
    );
    assert_eq!(again.id, first.id);

    fs::write(ctx.join("data/f"), "two\n").unwrap();
    let (_, events) = build(&store, &req).unwrap();
    let ran = executed(&events);
    assert_eq!(ran.len(), 2, "{ran:?}");
    assert!(
        ran[1].starts_with("RUN --mount=type=bind,from=data"),
        "{ran:?}"
    );
    assert_eq!(
        file(&store, "bind-from", "seen.txt").as_deref(),
        Some("two\n")
    );
}
