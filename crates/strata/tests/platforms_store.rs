//! Multi-platform images in the store (issue 12, item 3): `pull --platform a,b` and
//! `--all-platforms` keep the index, `images --tree` shows its platforms, `inspect
//! --platform` / `rmi --platform` / `push --platform` pick one, and `push` of an index some
//! of whose platforms are not stored refuses, naming them.

mod harness;

use std::process::Command;

use harness::images::{Layout, TestImage, sha256};
use harness::platform_index::{host_arch, other_arch, push_test_index};
use harness::{Env, Registry, peer, require};

/// Two images sharing their base layer, in an index pushed to `reg` as `repo:1` with
/// `strata copy --all`; returns (name, host image, other image, index digest).
fn push_index(env: &Env, reg: &Registry, repo: &str) -> (String, TestImage, TestImage, String) {
    let base: &[(&str, &[u8])] = &[("base", b"the same for both platforms")];
    let host = TestImage::new(
        host_arch(),
        &[base, &[("arch", host_arch().repeat(100).as_bytes())]],
    );
    let other = TestImage::new(
        other_arch(),
        &[base, &[("arch", other_arch().repeat(100).as_bytes())]],
    );
    let name = format!("{}/{repo}:1", reg.host);
    let digest = push_test_index(env, &host, &other, &name);
    (name, host, other, digest)
}

/// `skopeo inspect --raw` of `name` on the test registry: the manifest's bytes as stored.
fn raw(name: &str) -> String {
    peer(
        Command::new(require("skopeo"))
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{name}")),
    )
}

/// The `images --tree` rows of image `name`: its own row then one per platform, each
/// split on whitespace (the tree's branch characters dropped).
fn tree_rows(env: &Env, name: &str) -> Vec<Vec<String>> {
    let out = env.ok(&["images", "--tree"]);
    let lines: Vec<&str> = out.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("{name} in the tree:\n{out}"));
    lines[start..]
        .iter()
        .take_while(|l| !l.trim().is_empty())
        .map(|l| {
            l.split_whitespace()
                .filter(|w| *w != "├─" && *w != "└─")
                .map(str::to_string)
                .collect()
        })
        .collect()
}

fn short(digest: &str) -> &str {
    &digest[7..19]
}

#[test]
fn a_partial_index_is_listed_inspected_narrowed_and_completed() {
    let reg = Registry::start();
    let env = Env::new();
    let (name, host, other, index_digest) = push_index(&env, &reg, "part/img");
    let host_p = format!("linux/{}", host_arch());
    let other_p = format!("linux/{}", other_arch());

    // A list of platforms keeps the index as the image, with both platforms' content.
    env.ok(&["pull", "--platform", &format!("{host_p},{other_p}"), &name]);
    assert_eq!(
        env.ok(&["images", "-q", &name]).lines().count(),
        1,
        "an index is one image"
    );
    let rows = tree_rows(&env, &name);
    assert_eq!(rows.len(), 3, "the image and its two platforms: {rows:?}");
    assert_eq!(rows[0][0], name);
    assert_eq!(
        rows[0][1],
        short(&index_digest),
        "the image row shows the index"
    );
    assert_eq!(
        rows[1][..2],
        [host_p.clone(), short(&host.digest()).to_string()]
    );
    assert_eq!(
        rows[2][..2],
        [other_p.clone(), short(&other.digest()).to_string()]
    );
    for r in &rows[1..] {
        assert_ne!(r[2], "0B", "a present platform has a disk usage: {r:?}");
        assert_ne!(r[3], "0B", "a present platform has content: {r:?}");
    }

    // inspect --platform picks the entry; a platform the index lacks is Docker's error.
    assert_eq!(
        env.ok(&[
            "inspect",
            "--platform",
            &other_p,
            "-f",
            "{{.Id}} {{.Architecture}}",
            &name
        ])
        .trim(),
        format!("{} {}", other.id(), other_arch())
    );
    assert_eq!(
        env.ok(&["history", "--platform", &other_p, "-q", "--no-trunc", &name])
            .lines()
            .next(),
        Some(other.id().as_str())
    );
    let (code, err) = env.fails(&["inspect", "--platform", "linux/s390x", &name]);
    assert_eq!(code, 1);
    assert!(
        err.contains("does not provide the specified platform (linux/s390x)"),
        "{err}"
    );

    // save --platform writes that platform's image only.
    let archive = env.path("other.tar");
    env.ok(&[
        "save",
        "--platform",
        &other_p,
        "-o",
        archive.to_str().unwrap(),
        &name,
    ]);
    let listed = peer(
        Command::new("tar")
            .arg("-xOf")
            .arg(&archive)
            .arg("manifest.json"),
    );
    let manifest: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(manifest.as_array().unwrap().len(), 1, "{manifest}");
    assert!(
        manifest[0]["Config"]
            .as_str()
            .unwrap()
            .contains(&other.id()[7..]),
        "the archive holds the other platform's image: {manifest}"
    );

    // rmi --platform removes that platform's content; the image and the shared layer stay.
    let before = env.blob_usage();
    let out = env.ok(&["rmi", "--platform", &other_p, &name]);
    assert_eq!(out.trim(), format!("Deleted: {}", other.digest()));
    let after = env.blob_usage();
    assert_eq!(
        before.1 - after.1,
        3,
        "the other platform's manifest, config and own layer went ({before:?} → {after:?})"
    );
    let rows = tree_rows(&env, &name);
    assert_eq!(
        rows.len(),
        3,
        "the image still lists both platforms: {rows:?}"
    );
    assert_eq!(
        rows[2][..4],
        [
            other_p.clone(),
            short(&other.digest()).to_string(),
            "0B".into(),
            "0B".into()
        ]
    );
    assert_ne!(rows[1][2], "0B", "the host platform is still there");
    let (code, err) = env.fails(&["inspect", "--platform", &other_p, &name]);
    assert_eq!(code, 1);
    assert!(err.contains("is not in the store"), "{err}");
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.Architecture}}", &name])
            .trim(),
        host_arch()
    );

    // Pushing the index now refuses, naming the missing platform and --platform.
    let copy = format!("{}/part/copy:1", reg.host);
    env.ok(&["tag", &name, &copy]);
    let (code, err) = env.fails(&["push", &copy]);
    assert_eq!(code, 1);
    assert!(err.contains(&other_p), "names the missing platform: {err}");
    assert!(err.contains("--platform"), "says how to narrow it: {err}");
    // --platform narrows it to that platform's manifest.
    env.ok(&["push", "--platform", &host_p, &copy]);
    assert_eq!(sha256(raw(&copy).as_bytes()), host.digest());

    // Pulling the other platform later adds it to the same image.
    env.ok(&["pull", "--platform", &other_p, &name]);
    let rows = tree_rows(&env, &name);
    assert_eq!(
        rows[0][1],
        short(&index_digest),
        "still the index: {rows:?}"
    );
    assert_ne!(rows[2][2], "0B", "the other platform is back: {rows:?}");
    // Now every platform is stored: push sends the index byte for byte.
    env.ok(&["push", &copy]);
    assert_eq!(sha256(raw(&copy).as_bytes()), index_digest);
}

#[test]
fn all_platforms_pull_then_push_is_read_by_skopeo() {
    let reg = Registry::start();
    let env = Env::new();
    let (name, host, other, index_digest) = push_index(&env, &reg, "all/img");
    env.ok(&["pull", "--all-platforms", &name]);
    let rows = tree_rows(&env, &name);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert!(
        rows[1..].iter().all(|r| r[2] != "0B"),
        "both present: {rows:?}"
    );

    let pushed = format!("{}/all/pushed:2", reg.host);
    env.ok(&["tag", &name, &pushed]);
    env.ok(&["push", &pushed]);
    let index = raw(&pushed);
    assert_eq!(sha256(index.as_bytes()), index_digest, "the same bytes");

    let skopeo = require("skopeo");
    let all = env.path("skopeo-all");
    peer(
        Command::new(&skopeo)
            .args(["copy", "--all", "--src-tls-verify=false"])
            .arg(format!("docker://{pushed}"))
            .arg(format!("oci:{}:all", all.display())),
    );
    for d in [host.digest(), other.digest(), index_digest.clone()] {
        assert!(
            all.join("blobs/sha256").join(&d[7..]).is_file(),
            "skopeo copy --all has {d}"
        );
    }
    let arm = env.path("skopeo-arm");
    peer(
        Command::new(&skopeo)
            .args(["copy", "--override-arch", "arm64", "--src-tls-verify=false"])
            .arg(format!("docker://{pushed}"))
            .arg(format!("oci:{}:arm", arm.display())),
    );
    let arm_image = if host_arch() == "arm64" {
        &host
    } else {
        &other
    };
    let picked: serde_json::Value =
        serde_json::from_slice(&std::fs::read(arm.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        picked["manifests"][0]["digest"],
        arm_image.digest().as_str(),
        "skopeo --override-arch arm64 picks the arm64 image: {picked}"
    );
}

#[test]
fn platform_errors_are_dockers() {
    let reg = Registry::start();
    let env = Env::new();
    let (name, _, _, _) = push_index(&env, &reg, "err/img");
    let (code, err) = env.fails(&["pull", "--platform", "linux/s390x,linux/amd64", &name]);
    assert_eq!(code, 1);
    assert!(err.contains("s390x"), "{err}");
    let (code, err) = env.fails(&[
        "pull",
        "--all-platforms",
        "--platform",
        "linux/amd64",
        &name,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("--all-platforms"), "{err}");
    env.ok(&["pull", "--all-platforms", &name]);
    for args in [
        &["inspect", "--platform", "linux/s390x", name.as_str()][..],
        &["rmi", "--platform", "linux/s390x", name.as_str()],
        &[
            "save",
            "--platform",
            "linux/s390x",
            "-o",
            "/dev/null",
            name.as_str(),
        ],
        &["history", "--platform", "linux/s390x", name.as_str()],
    ] {
        let (code, err) = env.fails(args);
        assert_eq!(code, 1, "{args:?}");
        assert!(
            err.contains("does not provide the specified platform"),
            "{args:?}: {err}"
        );
    }
    let (code, err) = env.fails(&["run", "--rm", "--platform", "linux/s390x", &name, "true"]);
    assert_eq!(code, 125);
    assert!(
        err.contains("does not provide the specified platform"),
        "{err}"
    );
    let (code, err) = env.fails(&["inspect", "--platform", "not/a/valid/platform/x", &name]);
    assert_eq!(code, 1);
    assert!(err.to_lowercase().contains("platform"), "{err}");
}

/// The unpacked layers (snapshot directories) in `env`'s store.
fn snapshot_dirs(env: &Env) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(env.layout().snapshots_dir())
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                // Chain IDs only, not the store's `locks` and `tmp`.
                .filter(|n| n.len() == 64)
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn snapshot_prune_keeps_every_stored_platform_of_an_index() {
    // The bug: only an index's default platform counted as the image's, so the next
    // rmi or prune removed the other platforms' unpacked layers (under a running
    // container of that platform too).
    let reg = Registry::start();
    let env = Env::new();
    let (name, _, _, _) = push_index(&env, &reg, "snap/img");
    env.ok(&["pull", "--all-platforms", &name]);
    let before = snapshot_dirs(&env);
    assert_eq!(
        before.len(),
        3,
        "the shared base and each platform's own layer are unpacked: {before:?}"
    );
    let tar = env.rootfs_tar("other.tar", "x");
    env.ok(&["import", tar.to_str().unwrap(), "other:1"]);
    env.ok(&["rmi", "other:1"]);
    assert_eq!(
        snapshot_dirs(&env),
        before,
        "rmi's snapshot prune kept them"
    );
}

#[test]
fn an_index_digest_names_the_index_not_an_image_sharing_its_id() {
    // The bug: a lookup by the index's digest returned the first image with the same ID
    // (the index's default platform's config), here the host platform's own image, so
    // `run --platform` of a container (whose record names the index by digest) failed.
    let reg = Registry::start();
    let env = Env::new();
    let (name, host, other, index_digest) = push_index(&env, &reg, "id/img");
    env.ok(&["pull", "--all-platforms", &name]);
    let repo = name.trim_end_matches(":1");
    env.ok(&[
        "copy",
        &format!("docker://{repo}@{}", host.digest()),
        "hostonly:1",
    ]);
    assert_eq!(
        env.ok(&["inspect", "-f", "{{.Id}}", "hostonly:1"]).trim(),
        host.id(),
        "the host platform's own image shares the index's ID"
    );
    assert_eq!(
        env.ok(&[
            "inspect",
            "--platform",
            &format!("linux/{}", other_arch()),
            "-f",
            "{{.Id}}",
            &index_digest
        ])
        .trim(),
        other.id()
    );
}

#[test]
fn attestations_are_kept_with_all_platforms_and_never_chosen() {
    let reg = Registry::start();
    let env = Env::new();
    let layout = Layout::create(&env.path("att-layout"));
    let host = TestImage::new(host_arch(), &[&[("arch", host_arch().as_bytes())]]);
    let other = TestImage::new(other_arch(), &[&[("arch", other_arch().as_bytes())]]);
    let att = TestImage::new("unknown", &[&[("provenance.json", b"{}")]]);
    let mut entries = Vec::new();
    for (img, platform) in [(&host, host_arch()), (&other, other_arch())] {
        let mut d = layout.image(img);
        d["platform"] = serde_json::json!({"os": "linux", "architecture": platform});
        entries.push(d);
    }
    let mut d = layout.image(&att);
    d["platform"] = serde_json::json!({"os": "unknown", "architecture": "unknown"});
    d["annotations"] = serde_json::json!({
        "vnd.docker.reference.type": "attestation-manifest",
        "vnd.docker.reference.digest": host.digest(),
    });
    entries.push(d);
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": entries,
    }))
    .unwrap();
    layout.blob(&index);
    let mut layout = layout;
    layout.tag(
        harness::images::desc("application/vnd.oci.image.index.v1+json", &index),
        "multi",
    );
    let name = format!("{}/att/img:1", reg.host);
    env.ok(&[
        "copy",
        "--all",
        &format!("oci:{}:multi", layout.dir.display()),
        &format!("docker://{name}"),
    ]);

    // --all-platforms keeps the attestation (push sends the index whole); the tree hides it.
    let all = Env::new();
    all.ok(&["pull", "--all-platforms", &name]);
    let rows = tree_rows(&all, &name);
    assert_eq!(
        rows.len(),
        3,
        "the image and two platforms, no attestation: {rows:?}"
    );
    assert!(!rows.iter().any(|r| r[0].contains("unknown")), "{rows:?}");
    let copy = format!("{}/att/copy:1", reg.host);
    all.ok(&["tag", &name, &copy]);
    all.ok(&["push", &copy]);
    assert_eq!(sha256(raw(&copy).as_bytes()), sha256(&index));

    // A list of platforms copies theirs, not the attestation: pushing the index then
    // names the attestation it lacks.
    let some = Env::new();
    some.ok(&[
        "pull",
        "--platform",
        &format!("linux/{},linux/{}", host_arch(), other_arch()),
        &name,
    ]);
    assert_eq!(
        some.ok(&["inspect", "-f", "{{.Architecture}}", &name])
            .trim(),
        host_arch(),
        "the attestation is never the image's platform"
    );
    some.ok(&["tag", &name, &copy]);
    let (code, err) = some.fails(&["push", &copy]);
    assert_eq!(code, 1);
    assert!(
        err.contains(&format!("attestation {}", att.digest())),
        "{err}"
    );
}

#[test]
fn load_platform_loads_that_platform_of_an_index() {
    let reg = Registry::start();
    let env = Env::new();
    let (name, _, other, index_digest) = push_index(&env, &reg, "load/img");
    env.ok(&["pull", "--all-platforms", &name]);
    let archive = env.path("multi.tar");
    env.ok(&[
        "copy",
        "--all",
        &name,
        &format!("oci-archive:{}", archive.display()),
    ]);
    let other_p = format!("linux/{}", other_arch());
    let fresh = Env::new();
    let out = fresh.ok(&[
        "load",
        "--platform",
        &other_p,
        "-i",
        archive.to_str().unwrap(),
    ]);
    assert!(out.starts_with("Loaded image"), "{out}");
    // The index is the image, with only that platform's content.
    assert_eq!(
        fresh
            .ok(&[
                "inspect",
                "--platform",
                &other_p,
                "-f",
                "{{.Id}}",
                &index_digest
            ])
            .trim(),
        other.id()
    );
    let (code, err) = fresh.fails(&[
        "inspect",
        "--platform",
        &format!("linux/{}", host_arch()),
        &index_digest,
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("is not in the store"), "{err}");
}
