//! Multi-platform indexes: pull picks the host's platform, `--platform` picks another, and
//! `copy --all` keeps the whole index and its digest.

mod harness;

use std::process::Command;

use harness::images::{TestImage, sha256};
use harness::platform_index::{host_arch, other_arch, push_test_index};
use harness::{Env, Registry, peer, require};
use serde_json::Value;

/// Pushes a two-platform index to `reg` with `strata copy --all`; returns (name, images, index digest).
fn push_index(env: &Env, reg: &Registry) -> (String, TestImage, TestImage, String) {
    let host = TestImage::new(host_arch(), &[&[("arch", host_arch().as_bytes())]]);
    let other = TestImage::new(other_arch(), &[&[("arch", other_arch().as_bytes())]]);
    let name = format!("{}/multi/img:1", reg.host);
    let digest = push_test_index(env, &host, &other, &name);
    (name, host, other, digest)
}

#[test]
fn pull_picks_host_platform_and_platform_flag_picks_another() {
    let reg = Registry::start();
    let setup = Env::new();
    let (name, host, other, index_digest) = push_index(&setup, &reg);

    let raw = peer(
        Command::new(require("skopeo"))
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{name}")),
    );
    assert_eq!(
        sha256(raw.as_bytes()),
        index_digest,
        "the registry holds our index byte for byte"
    );

    let env = Env::new();
    env.ok(&["pull", &name]);
    assert_eq!(
        env.ok(&["images", "-q", "--no-trunc", &name]).trim(),
        host.id()
    );
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.Architecture}}", &name])
            .trim(),
        host_arch()
    );
    let inspect: Value = serde_json::from_str(&env.ok(&["inspect", &name])).unwrap();
    let want = format!("{}/multi/img@{index_digest}", reg.host);
    assert!(
        inspect[0]["RepoDigests"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d == &want),
        "RepoDigests name the index: {inspect}"
    );

    let env2 = Env::new();
    env2.ok(&[
        "pull",
        "--platform",
        &format!("linux/{}", other_arch()),
        &name,
    ]);
    assert_eq!(
        env2.ok(&["images", "-q", "--no-trunc", &name]).trim(),
        other.id()
    );
    assert_eq!(
        env2.ok(&["inspect", "-f", "{{.Architecture}}", &name])
            .trim(),
        other_arch()
    );

    let env3 = Env::new();
    let by_digest = format!("{}/multi/img@{index_digest}", reg.host);
    env3.ok(&["pull", &by_digest]);
    assert_eq!(env3.ok(&["images", "-q", "--no-trunc"]).trim(), host.id());

    let (code, err) = env3.fails(&["pull", "--platform", "linux/s390x", &name]);
    assert_eq!(code, 1);
    assert!(err.contains("s390x"), "the error names the platform: {err}");
}

#[test]
fn copy_all_keeps_the_index_and_its_digest() {
    let reg = Registry::start();
    let env = Env::new();
    let (name, _, _, index_digest) = push_index(&env, &reg);
    let out = env.path("copied");
    env.ok(&[
        "copy",
        "--all",
        &format!("docker://{name}"),
        &format!("oci:{}:all", out.display()),
    ]);
    let index: Value =
        serde_json::from_slice(&std::fs::read(out.join("index.json")).unwrap()).unwrap();
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "all")
        .unwrap();
    assert_eq!(entry["digest"], index_digest.as_str());
    let blob = std::fs::read(out.join("blobs/sha256").join(&index_digest[7..])).unwrap();
    assert_eq!(sha256(&blob), index_digest);
    let nested: Value = serde_json::from_slice(&blob).unwrap();
    for m in nested["manifests"].as_array().unwrap() {
        let d = m["digest"].as_str().unwrap();
        assert!(
            out.join("blobs/sha256").join(&d[7..]).exists(),
            "platform manifest {d} copied"
        );
    }

    // Into the store and back out: the index survives there too.
    env.ok(&["copy", "--all", &format!("docker://{name}"), "multi:all"]);
    let out2 = env.path("copied2");
    env.ok(&[
        "copy",
        "--all",
        "multi:all",
        &format!("oci:{}:all", out2.display()),
    ]);
    let index2: Value =
        serde_json::from_slice(&std::fs::read(out2.join("index.json")).unwrap()).unwrap();
    assert_eq!(index2["manifests"][0]["digest"], index_digest.as_str());
}

/// Busybox images for amd64 and arm64 imported with `import --platform`, joined by an
/// index in a layout and pushed as `bb/multi:1` ([`harness::platform_index::push_index`]);
/// returns the name.
fn push_busybox_index(env: &Env, reg: &Registry) -> String {
    for platform in ["linux/amd64", "linux/arm64"] {
        let tar = harness::rootfs::platform_rootfs_tar(env, platform);
        let name = format!("bb:{}", &platform[6..]);
        env.ok(&[
            "import",
            "--platform",
            platform,
            tar.to_str().unwrap(),
            &name,
        ]);
    }
    let name = format!("{}/bb/multi:1", reg.host);
    harness::platform_index::push_index(
        env,
        &[("bb:amd64", "linux/amd64"), ("bb:arm64", "linux/arm64")],
        &name,
    );
    name
}

/// `uname -m` of `run --rm [--platform P] IMAGE` (QEMU runs the arm64 one).
fn uname(env: &Env, platform: Option<&str>, image: &str) -> String {
    let mut args = vec!["run", "--rm", "--network", "none"];
    if let Some(p) = platform {
        args.extend(["--platform", p]);
    }
    args.extend([image, "uname", "-m"]);
    env.ok(&args).trim().to_string()
}

#[test]
fn run_platform_runs_that_platforms_image_and_containers_keep_it() {
    let reg = Registry::start();
    let setup = Env::new();
    let name = push_busybox_index(&setup, &reg);
    let env = Env::new();
    env.ok(&["pull", "--all-platforms", &name]);
    assert_eq!(uname(&env, Some("linux/arm64"), &name), "aarch64");
    assert_eq!(uname(&env, Some("linux/amd64"), &name), "x86_64");

    // A container made for arm64 keeps arm64 for its later starts, commits and diffs.
    let id = env
        .ok(&[
            "create",
            "--network",
            "none",
            "--platform",
            "linux/arm64",
            "--name",
            "armc",
            &name,
            "sh",
            "-c",
            "uname -m > /made-by",
        ])
        .trim()
        .to_string();
    let record: Value = serde_json::from_slice(
        &std::fs::read(env.root().join("containers").join(&id).join("config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["platform"]["architecture"], "arm64", "{record}");
    env.ok(&["start", "-a", "armc"]);
    env.ok(&["commit", "armc", "committed:arm"]);
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.Architecture}}", "committed:arm"])
            .trim(),
        "arm64",
        "commit builds on the arm64 image"
    );
    assert_eq!(uname(&env, None, "committed:arm"), "aarch64");
    let tree = env.ok(&["images", "--tree"]);
    let arm_row = tree
        .lines()
        .skip_while(|l| !l.starts_with(&name))
        .find(|l| l.contains("linux/arm64"))
        .unwrap_or_else(|| panic!("{tree}"));
    assert!(
        arm_row.trim_end().ends_with('U'),
        "the arm64 platform is in use:\n{tree}"
    );
    let (code, err) = env.fails(&["rmi", "--platform", "linux/arm64", &name]);
    assert_eq!(code, 1);
    assert!(err.contains("is using it"), "{err}");
    env.ok(&["rm", "armc"]);
    env.ok(&["rmi", "--platform", "linux/arm64", &name]);
    assert_eq!(
        uname(&env, None, &name),
        "x86_64",
        "the host platform stays"
    );
}

#[test]
fn buildahs_manifest_list_is_pulled_with_all_platforms() {
    let buildah = require("buildah");
    let reg = Registry::start();
    let ctx = Env::new();
    for platform in ["linux/amd64", "linux/arm64"] {
        harness::rootfs::platform_rootfs_tar(&ctx, platform);
    }
    std::fs::write(
        ctx.path("Dockerfile"),
        "FROM scratch\nARG TARGETARCH\nCOPY rootfs-${TARGETARCH}/ /\nCMD [\"sh\"]\n",
    )
    .unwrap();
    std::fs::write(ctx.path(".dockerignore"), "*.tar\ndocker\nstore\n").unwrap();
    let storage = tempfile::tempdir().unwrap();
    let buildah_cmd = |args: &[&str]| {
        let mut c = Command::new(&buildah);
        c.arg("--root")
            .arg(storage.path().join("root"))
            .arg("--runroot")
            .arg(storage.path().join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args);
        c
    };
    peer(
        buildah_cmd(&[
            "build",
            "--isolation",
            "chroot",
            "--network",
            "host",
            "--platform",
            "linux/amd64,linux/arm64",
            "--manifest",
            "bhmulti",
        ])
        .arg(ctx.dir.path()),
    );
    let name = format!("{}/bh/multi:1", reg.host);
    peer(
        buildah_cmd(&["manifest", "push", "--all", "--tls-verify=false", "bhmulti"])
            .arg(format!("docker://{name}")),
    );
    let env = Env::new();
    env.ok(&["pull", "--all-platforms", &name]);
    let tree = env.ok(&["images", "--tree"]);
    for p in ["linux/amd64", "linux/arm64"] {
        let row = tree
            .lines()
            .find(|l| l.contains(p))
            .unwrap_or_else(|| panic!("{p} in\n{tree}"));
        assert!(
            !row.split_whitespace().any(|w| w == "0B"),
            "{p} is present: {row}"
        );
    }
    assert_eq!(uname(&env, Some("linux/arm64"), &name), "aarch64");
    assert_eq!(uname(&env, Some("linux/amd64"), &name), "x86_64");
}
