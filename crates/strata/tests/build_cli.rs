//! `strata build` through the real binary: a multi-stage build with RUN, the config and files
//! of the result, the cache across rebuilds, and a COPY from outside the context.

mod harness;

use std::path::Path;

use harness::rootfs::Containers;
use serde_json::Value;

fn write(dir: &Path, name: &str, data: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn build(c: &Containers, ctx: &Path, tag: &str) -> (String, String) {
    let out = c
        .cmd(&[
            "build",
            "--progress",
            "plain",
            "-t",
            tag,
            ctx.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "build failed: {stderr}");
    (
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        stderr,
    )
}

#[test]
fn multi_stage_build_with_run_caches_and_runs() {
    let c = Containers::new(); // has the busybox image "bb"
    let ctx = c.path("ctx");
    write(
        &ctx,
        "Dockerfile",
        r#"
ARG GREETING=hello
FROM bb AS make
ARG GREETING
WORKDIR /work
COPY src/ ./src/
RUN cat src/name.txt | sed "s/^/$GREETING /" > greeting.txt
FROM bb
ENV APP=/app
WORKDIR $APP
COPY --from=make /work/greeting.txt .
USER 0:0
CMD ["cat", "/app/greeting.txt"]
"#,
    );
    write(&ctx, "src/name.txt", "world\n");
    write(&ctx, "unrelated.txt", "x\n");
    write(&ctx, ".dockerignore", "unrelated.txt\n");

    let (id, log) = build(&c, &ctx, "greeter:1");
    assert!(id.starts_with("sha256:"), "the image ID on stdout: {id}");
    let cfg: Value =
        serde_json::from_str(&c.ok(&["inspect", "-f", "{{json .Config}}", "greeter:1"])).unwrap();
    assert_eq!(cfg["WorkingDir"], "/app");
    assert_eq!(cfg["Cmd"], serde_json::json!(["cat", "/app/greeting.txt"]));
    assert!(
        cfg["Env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "APP=/app"),
        "{cfg}"
    );
    assert_eq!(
        c.ok(&["run", "--rm", "greeter:1"]),
        "hello world\n",
        "build log: {log}"
    );
    let listed = c.ok(&["images", "-a", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        !listed.contains("<none>"),
        "a build leaves no intermediate images: {listed}"
    );

    // Unchanged: nothing runs. An ignored file changes: still nothing.
    write(&ctx, "unrelated.txt", "y\n");
    let (id2, log2) = build(&c, &ctx, "greeter:1");
    assert_eq!(id2, id, "same image: {log2}");
    assert!(!log2.contains("cache miss"), "every step is cached: {log2}");
    assert!(log2.contains("CACHED"), "{log2}");

    // The copied file changes: the COPY and the RUN after it rerun, and the result shows it.
    write(&ctx, "src/name.txt", "strata\n");
    let (id3, log3) = build(&c, &ctx, "greeter:1");
    assert_ne!(id3, id);
    assert!(log3.contains("cache miss"), "{log3}");
    assert_eq!(c.ok(&["run", "--rm", "greeter:1"]), "hello strata\n");
    c.assert_clean();
}

#[test]
fn copy_from_outside_the_context_fails_and_changes_nothing() {
    let c = Containers::new();
    let ctx = c.path("ctx2");
    write(
        &ctx,
        "Dockerfile",
        "FROM scratch\nCOPY ok.txt /\nCOPY ../secret /\n",
    );
    write(&ctx, "ok.txt", "ok\n");
    write(&c.path("."), "secret", "no\n");
    let before = c.ok(&["images", "-a", "-q", "--no-trunc"]);
    let blobs_before = c.blob_usage();
    let out = c
        .cmd(&["build", "-t", "bad:1", ctx.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    // BuildKit cleans `..` at the context's root, so `../secret` is `secret`: not there.
    assert!(
        err.contains("\"../secret\" not found in the build context"),
        "{err}"
    );
    assert!(
        err.contains("Dockerfile:3"),
        "the error names the line: {err}"
    );
    assert_eq!(c.ok(&["images", "-a", "-q", "--no-trunc"]), before);
    assert_eq!(c.blob_usage(), blobs_before, "the store is unchanged");

    let mut bad = std::fs::File::create(ctx.join("Dockerfile")).unwrap();
    std::io::Write::write_all(&mut bad, b"FROM scratch\nRUNN echo\n").unwrap();
    let out = c.cmd(&["build", ctx.to_str().unwrap()]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("Dockerfile:2") && err.contains("did you mean RUN"),
        "{err}"
    );
}

/// A platform this host cannot run (here s390x: not native, and this test's host has no
/// handler for it) fails a build with RUN before any step, saying how to enable QEMU;
/// without RUN nothing of the platform runs, and the build goes ahead.
#[test]
fn a_platform_without_emulation_fails_before_the_build() {
    let c = Containers::new();
    let supported = c.ok(&["system", "binfmt"]);
    assert!(
        !supported.contains("linux/s390x"),
        "this host emulates s390x; the test needs a platform it cannot run: {supported}"
    );
    let ctx = c.path("ctx-s390x");
    write(
        &ctx,
        "Dockerfile",
        "FROM scratch
COPY f /f
RUN true
",
    );
    write(&ctx, "f", "f\n");
    let before = c.ok(&["images", "-a", "-q", "--no-trunc"]);
    let blobs_before = c.blob_usage();
    let out = c
        .cmd(&["build", "--platform", "linux/s390x", ctx.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot run linux/s390x programs on this linux/")
            && err.contains("strata system binfmt --install"),
        "{err}"
    );
    assert!(!err.contains("#2"), "no step ran: {err}");
    assert_eq!(c.ok(&["images", "-a", "-q", "--no-trunc"]), before);
    assert_eq!(c.blob_usage(), blobs_before, "the store is unchanged");
    write(
        &ctx,
        "Dockerfile",
        "FROM scratch
COPY f /f
",
    );
    let id = c.ok(&[
        "build",
        "-q",
        "--platform",
        "linux/s390x",
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(
        c.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Os}}/{{.Architecture}}",
            id.trim()
        ]),
        "linux/s390x\n"
    );
}

#[test]
fn a_build_killed_mid_run_leaves_nothing_half_built() {
    let c = Containers::new();
    let ctx = c.path("ctx3");
    write(
        &ctx,
        "Dockerfile",
        "FROM bb\nRUN echo started > /f && sleep 60\nCMD [\"cat\", \"/f\"]\n",
    );
    let images_before = c.ok(&["images", "-a", "-q", "--no-trunc"]);
    let mut child = c
        .cmd(&["build", "-t", "killed:1", ctx.to_str().unwrap()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    c.eventually("the RUN container starts", || {
        c.ok(&["ps", "-q"]).lines().count() == 1
    });
    child.kill().unwrap(); // SIGKILL, mid-RUN
    child.wait().unwrap();
    assert!(
        c.run(&["inspect", "killed:1"]).status.code() == Some(1),
        "no image was tagged"
    );

    // The next build removes what the killed one left (its RUN container, mount, temp dir).
    write(&ctx, "Dockerfile", "FROM bb\nRUN echo ok > /f\n");
    build(&c, &ctx, "next:1");
    assert_eq!(
        c.ok(&["ps", "-a", "-q"]),
        "",
        "the killed build's container is gone"
    );
    let tmp = c.layout().tmp_dir();
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "no temp dirs left: {left:?}");
    let images_after = c.ok(&["images", "-q", "--no-trunc", "killed"]);
    assert_eq!(images_after, "", "{images_before}");
    c.ok(&["rmi", "next:1"]);
    c.assert_clean();
}

#[test]
fn output_exports_the_result_as_files_tar_and_archives() {
    let c = Containers::new();
    let ctx = c.path("ctx4");
    write(
        &ctx,
        "Dockerfile",
        "FROM bb\nRUN rm /bin/true && echo built > /built.txt\nCOPY note.txt /etc/\n",
    );
    write(&ctx, "note.txt", "note\n");
    let ctx_s = ctx.to_str().unwrap();

    let dir = c.path("rootfs-out");
    c.ok(&["build", "-q", "-o", dir.to_str().unwrap(), ctx_s]);
    assert_eq!(
        std::fs::read_to_string(dir.join("built.txt")).unwrap(),
        "built\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("etc/note.txt")).unwrap(),
        "note\n"
    );
    assert!(dir.join("bin/busybox").exists(), "lower layers are there");
    assert!(
        !dir.join("bin/true").exists() && !dir.join("bin/.wh.true").exists(),
        "a whiteout removes, and is not exported"
    );

    let tar_path = c.path("rootfs.tar");
    c.ok(&[
        "build",
        "-q",
        "--output",
        &format!("type=tar,dest={}", tar_path.display()),
        ctx_s,
    ]);
    let files = harness::images::layer_files(&std::fs::read(&tar_path).unwrap());
    assert!(
        files
            .iter()
            .any(|(p, d)| p == "built.txt" && d == b"built\n"),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );

    // To standard output: nothing but the tar goes there.
    let out = c.cmd(&["build", "-q", "-o", "-", ctx_s]).output().unwrap();
    assert!(out.status.success());
    assert!(
        harness::images::layer_files(&out.stdout)
            .iter()
            .any(|(p, _)| p == "etc/note.txt")
    );

    let oci = c.path("out-oci.tar");
    c.ok(&[
        "build",
        "-q",
        "-t",
        "exported:v1",
        "--output",
        &format!("type=oci,dest={}", oci.display()),
        ctx_s,
    ]);
    let layout = c.path("oci-layout");
    std::fs::create_dir_all(&layout).unwrap();
    harness::peer(
        std::process::Command::new("tar")
            .arg("-xf")
            .arg(&oci)
            .arg("-C")
            .arg(&layout),
    );
    let bundle = c.path("bundle");
    harness::peer(
        std::process::Command::new(harness::require("umoci"))
            .args(["unpack", "--image"])
            .arg(format!("{}:v1", layout.display()))
            .arg(&bundle),
    );
    assert_eq!(
        std::fs::read_to_string(bundle.join("rootfs/built.txt")).unwrap(),
        "built\n"
    );

    let (code, err) = c.fails(&["build", "--output", "type=zip,dest=x", ctx_s]);
    assert_eq!(code, 1);
    assert!(err.contains("unsupported --output type"), "{err}");
    c.assert_clean();
}

#[test]
fn missing_bases_are_pulled_and_pull_refreshes_them() {
    let reg = harness::Registry::start();
    let publisher = harness::Env::new();
    let base = format!("{}/bases/files:1", reg.host);
    let publish = |content: &str| {
        std::fs::write(
            publisher.path("base.tar"),
            harness::images::tar_of(&[("base.txt", content.as_bytes())]),
        )
        .unwrap();
        publisher.ok(&[
            "import",
            publisher.path("base.tar").to_str().unwrap(),
            &base,
        ]);
        publisher.ok(&["push", "-q", &base]);
    };
    publish("v1\n");

    let c = harness::Env::new();
    let ctx = c.path("ctx5");
    write(
        &ctx,
        "Dockerfile",
        &format!("ARG BASE={base}\nFROM $BASE\nCOPY add.txt /\n"),
    );
    write(&ctx, "add.txt", "added\n");
    let out_dir = c.path("o1");
    let run = c
        .cmd(&[
            "build",
            "-q",
            "-o",
            out_dir.to_str().unwrap(),
            ctx.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("base.txt")).unwrap(),
        "v1\n",
        "the missing base was pulled"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("add.txt")).unwrap(),
        "added\n"
    );

    // A newer base in the registry: a plain build keeps the local one, --pull takes the new.
    publish("v2\n");
    let o2 = c.path("o2");
    c.ok(&[
        "build",
        "-q",
        "-o",
        o2.to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(o2.join("base.txt")).unwrap(),
        "v1\n"
    );
    let o3 = c.path("o3");
    c.ok(&[
        "build",
        "-q",
        "--pull",
        "-o",
        o3.to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(o3.join("base.txt")).unwrap(),
        "v2\n"
    );
}
