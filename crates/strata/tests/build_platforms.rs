//! Multi-platform builds through the real binary: `build --platform linux/amd64,linux/arm64`
//! runs each platform's RUN steps (arm64 under QEMU user emulation, which
//! `scripts/enable-emulation.sh` enables once per machine), makes one index, shares a stage
//! for the build platform between the targets, writes every platform with `--output`, and
//! peers (skopeo) read the pushed index. Without an enabled handler the build fails before
//! any step, saying how to enable one.
//!
//! The base images are made here: the host's busybox for amd64, Debian's
//! `busybox-static:arm64` for arm64 (`harness::rootfs::platform_rootfs_tar`).

mod harness;

use std::path::Path;
use std::process::Command;

use harness::rootfs::{Containers, platform_rootfs_tar};
use harness::{Registry, peer, require};
use serde_json::Value;

fn write(dir: &Path, name: &str, data: &str) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// A store with `bb-amd64` and `bb-arm64`, each its platform's busybox.
fn with_bases() -> Containers {
    assert_eq!(
        std::env::consts::ARCH,
        "x86_64",
        "these tests use arm64 as the foreign platform of an amd64 host"
    );
    let c = Containers::new();
    for arch in ["amd64", "arm64"] {
        let platform = format!("linux/{arch}");
        let tar = platform_rootfs_tar(&c, &platform);
        c.ok(&[
            "import",
            "--platform",
            &platform,
            "-c",
            "ENV PATH=/bin",
            tar.to_str().unwrap(),
            &format!("bb-{arch}"),
        ]);
    }
    c
}

/// `strata build ARGS`; returns (stdout, stderr), failing the test if the build fails.
fn build(c: &Containers, args: &[&str]) -> (String, String) {
    let mut all = vec!["build", "--progress", "plain"];
    all.extend_from_slice(args);
    let out = c.cmd(&all).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "build {args:?} failed: {stderr}");
    (
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
        stderr,
    )
}

const REPORTS: &str = "ARG TARGETARCH
FROM bb-$TARGETARCH
ARG TARGETPLATFORM
RUN uname -m > /arch && echo \"$TARGETPLATFORM\" > /target
CMD [\"cat\", \"/arch\", \"/target\"]
";

#[test]
fn two_platforms_make_one_index_whose_images_ran_their_own_programs() {
    let c = with_bases();
    let ctx = c.path("ctx");
    write(&ctx, "Dockerfile", REPORTS);
    let (id, log) = build(
        &c,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "-t",
            "multi",
            ctx.to_str().unwrap(),
        ],
    );
    assert!(log.contains("[linux/arm64 2/2] RUN"), "{log}");
    assert!(log.contains("[linux/amd64 2/2] RUN"), "{log}");
    // The result is one image: the index, printed as the build's ID.
    let ids = c.ok(&["images", "-q", "--no-trunc", "multi"]);
    assert_eq!(ids.lines().count(), 1, "{ids}");
    assert!(id.starts_with("sha256:"), "{id}");

    // Every platform's files, each in its own directory as BuildKit writes them.
    let out = c.path("out");
    let (again, log) = build(
        &c,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "-o",
            &format!("type=local,dest={}", out.display()),
            ctx.to_str().unwrap(),
        ],
    );
    assert_eq!(again, id, "the same build again is the same index");
    assert!(!log.contains("cache miss"), "all cached: {log}");
    let read = |p: &str| std::fs::read_to_string(out.join(p)).unwrap();
    assert_eq!(read("linux_amd64/arch"), "x86_64\n");
    assert_eq!(read("linux_amd64/target"), "linux/amd64\n");
    assert_eq!(read("linux_arm64/arch"), "aarch64\n");
    assert_eq!(read("linux_arm64/target"), "linux/arm64\n");

    // A tar holds the same directories; an OCI archive the whole index.
    let tar = c.path("all.tar");
    let oci = c.path("oci.tar");
    for spec in [
        format!("type=tar,dest={}", tar.display()),
        format!("type=oci,dest={}", oci.display()),
    ] {
        build(
            &c,
            &[
                "--platform",
                "linux/amd64,linux/arm64",
                "-o",
                &spec,
                ctx.to_str().unwrap(),
            ],
        );
    }
    let files = harness::images::layer_files(&std::fs::read(&tar).unwrap());
    let arch: Vec<(String, Vec<u8>)> = files
        .into_iter()
        .filter(|(n, _)| n.ends_with("/arch"))
        .collect();
    assert_eq!(
        arch,
        [
            ("linux_amd64/arch".to_string(), b"x86_64\n".to_vec()),
            ("linux_arm64/arch".to_string(), b"aarch64\n".to_vec())
        ]
    );
    let index: Value = serde_json::from_str(&peer(
        Command::new(require("skopeo"))
            .args(["inspect", "--raw"])
            .arg(format!("oci-archive:{}", oci.display())),
    ))
    .unwrap();
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2, "{index}");
    let (code, err) = c.fails(&[
        "build",
        "--platform",
        "linux/amd64,linux/arm64",
        "-o",
        &format!("type=docker,dest={}", c.path("d.tar").display()),
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("does not currently support exporting manifest lists"),
        "{err}"
    );

    // The host's platform runs by default, another with --platform (under QEMU).
    let run = c.ok(&["run", "--rm", "multi"]);
    assert_eq!(run, "x86_64\nlinux/amd64\n");
    let run = c.ok(&["run", "--rm", "--platform", "linux/arm64", "multi"]);
    assert_eq!(run, "aarch64\nlinux/arm64\n");

    // Pushed, the index is what peers read: both platforms with their platform fields,
    // and skopeo picks arm64's image when asked for it.
    let reg = Registry::start();
    let name = format!("{}/multi/app:1", reg.host);
    c.ok(&["tag", "multi", &name]);
    c.ok(&["push", &name]);
    let skopeo = require("skopeo");
    let raw = peer(
        Command::new(&skopeo)
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{name}")),
    );
    let index: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        index["mediaType"], "application/vnd.oci.image.index.v1+json",
        "{raw}"
    );
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            format!(
                "{}/{}",
                m["platform"]["os"].as_str().unwrap(),
                m["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    // `build --push` pushes the index it made under each -t name.
    let pushed = format!("{}/multi/pushed:1", reg.host);
    let (pushed_id, _) = build(
        &c,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "--push",
            "-t",
            &pushed,
            ctx.to_str().unwrap(),
        ],
    );
    assert_eq!(pushed_id, id);
    let raw_pushed = peer(
        Command::new(&skopeo)
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{pushed}")),
    );
    assert_eq!(raw_pushed, raw, "the same index bytes under the new name");
    let (code, err) = c.fails(&["build", "--push", ctx.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("tag is needed when pushing to registry"),
        "{err}"
    );
    let all = c.path("all");
    peer(
        Command::new(&skopeo)
            .args(["copy", "--all", "--src-tls-verify=false"])
            .arg(format!("docker://{name}"))
            .arg(format!("oci:{}", all.display())),
    );
    let arm = c.path("arm");
    peer(
        Command::new(&skopeo)
            .args(["copy", "--override-arch", "arm64", "--src-tls-verify=false"])
            .arg(format!("docker://{name}"))
            .arg(format!("oci:{}", arm.display())),
    );
    let config: Value = serde_json::from_str(&peer(
        Command::new(&skopeo)
            .args(["inspect", "--config"])
            .arg(format!("oci:{}", arm.display())),
    ))
    .unwrap();
    assert_eq!(config["architecture"], "arm64", "{config}");
    assert_eq!(config["config"]["Cmd"][0], "cat");

    // A multi-platform base in a registry: another store's two-platform build pulls each
    // platform of it, and each platform's RUN sees its own base.
    let other = Containers::new();
    let ctx2 = other.path("ctx2");
    write(
        &ctx2,
        "Dockerfile",
        &format!("FROM {name}\nRUN cat /arch > /base-arch && uname -m >> /base-arch\n"),
    );
    let out2 = other.path("out2");
    let (_, log) = build(
        &other,
        &[
            "--platform",
            "linux/arm64,linux/amd64",
            "-t",
            "derived",
            "-o",
            &format!("type=local,dest={}", out2.display()),
            ctx2.to_str().unwrap(),
        ],
    );
    let read2 = |p: &str| std::fs::read_to_string(out2.join(p)).unwrap();
    assert_eq!(
        read2("linux_arm64/base-arch"),
        "aarch64\naarch64\n",
        "{log}"
    );
    assert_eq!(read2("linux_amd64/base-arch"), "x86_64\nx86_64\n", "{log}");
    let tree = other.ok(&["images", "--tree", &name]);
    assert!(
        tree.contains("linux/amd64") && tree.contains("linux/arm64"),
        "the base is one image with both platforms: {tree}"
    );
}

#[test]
fn a_stage_for_the_build_platform_runs_once_for_every_target() {
    let c = with_bases();
    let ctx = c.path("ctx");
    write(
        &ctx,
        "Dockerfile",
        "ARG TARGETARCH
FROM --platform=$BUILDPLATFORM bb-amd64 AS tools
RUN echo \"made on $(uname -m)\" > /tool
FROM bb-$TARGETARCH
COPY --from=tools /tool /tool
RUN cat /tool > /seen && uname -m >> /seen
",
    );
    let out = c.path("out");
    let (_, log) = build(
        &c,
        &[
            "--platform",
            "linux/amd64,linux/arm64",
            "-o",
            &format!("type=local,dest={}", out.display()),
            ctx.to_str().unwrap(),
        ],
    );
    let tool_runs = log.lines().filter(|l| l.contains("tools 2/2] RUN")).count();
    assert_eq!(
        tool_runs, 2,
        "each platform's build reaches the stage: {log}"
    );
    assert_eq!(
        log.matches("cache miss").count(),
        5,
        "the tools RUN executes once, the other platform finds it cached: {log}"
    );
    let read = |p: &str| std::fs::read_to_string(out.join(p)).unwrap();
    assert_eq!(read("linux_amd64/seen"), "made on x86_64\nx86_64\n");
    assert_eq!(read("linux_arm64/seen"), "made on x86_64\naarch64\n");
}

#[test]
fn a_disabled_handler_fails_the_build_before_any_step_with_how_to_enable_it() {
    let c = with_bases();
    let ctx = c.path("ctx");
    write(&ctx, "Dockerfile", REPORTS);
    // This process's view of binfmt_misc, in a private mount namespace: the arm64 handler
    // is there but disabled (the host's stays as it is).
    let fake = c.path("binfmt");
    std::fs::create_dir_all(&fake).unwrap();
    std::fs::write(fake.join("register"), "").unwrap();
    std::fs::write(fake.join("status"), "enabled\n").unwrap();
    std::fs::write(
        fake.join("qemu-aarch64"),
        "disabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: PF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n",
    )
    .unwrap();
    let before = c.ok(&["images", "-a", "-q", "--no-trunc"]);
    let inner = c.cmd(&[
        "build",
        "--progress",
        "plain",
        "--platform",
        "linux/amd64,linux/arm64",
        "-t",
        "never",
        ctx.to_str().unwrap(),
    ]);
    let mut cmd = Command::new(require("unshare"));
    cmd.args(["--mount", "--propagation", "private", "--", "sh", "-c"])
        .arg("mount --bind \"$0\" /proc/sys/fs/binfmt_misc && exec \"$@\"")
        .arg(&fake)
        .arg(inner.get_program())
        .args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot run linux/arm64 programs on this linux/amd64 host")
            && err.contains("qemu-aarch64 is disabled")
            && err.contains("update-binfmts --enable qemu-aarch64"),
        "{err}"
    );
    assert!(!err.contains("#1 "), "no step of any platform ran: {err}");
    assert_eq!(c.ok(&["images", "-a", "-q", "--no-trunc"]), before);
}
