//! Interoperability with peers nobody here wrote: Debian's docker-registry, skopeo and umoci.

mod harness;

use std::process::Command;

use harness::images::{Layout, TestImage, layer_files, sha256, tar_of};
use harness::{Env, Registry, peer, require};
use serde_json::Value;

const HELLO: &[u8] = b"hello from strata\n";

/// Imports a one-layer image with /app/hello.txt and /etc/motd under `name`.
fn import_app(env: &Env, name: &str) {
    let tar = tar_of(&[("app/hello.txt", HELLO), ("etc/motd", b"motd\n")]);
    let path = env.path("rootfs.tar");
    std::fs::write(&path, tar).unwrap();
    env.ok(&[
        "import",
        "-c",
        "CMD [\"/app/run\"]",
        "-m",
        "test import",
        path.to_str().unwrap(),
        name,
    ]);
}

/// Unpacks `layout:tag` with umoci and returns the rootfs path.
fn umoci_unpack(env: &Env, layout: &std::path::Path, tag: &str) -> std::path::PathBuf {
    let bundle = env.path(&format!("bundle-{tag}"));
    peer(
        Command::new(require("umoci"))
            .args(["unpack", "--image"])
            .arg(format!("{}:{tag}", layout.display()))
            .arg(&bundle),
    );
    bundle.join("rootfs")
}

#[test]
fn push_is_read_back_by_skopeo_and_umoci() {
    let env = Env::new();
    let reg = Registry::start();
    let name = format!("{}/team/app:v1", reg.host);
    import_app(&env, &name);
    let out = env.ok(&["push", &name]);
    assert!(
        out.contains(&format!(
            "The push refers to repository [{}/team/app]",
            reg.host
        )),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.starts_with("v1: digest: "))
        .unwrap_or_else(|| panic!("no digest line in {out}"));
    let digest = line.split_whitespace().nth(2).unwrap().to_string();

    let skopeo = require("skopeo");
    let raw = peer(
        Command::new(&skopeo)
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{name}")),
    );
    assert_eq!(
        sha256(raw.as_bytes()),
        digest,
        "skopeo sees the manifest we pushed"
    );
    let info: Value = serde_json::from_str(&peer(
        Command::new(&skopeo)
            .args(["inspect", "--tls-verify=false"])
            .arg(format!("docker://{name}")),
    ))
    .unwrap();
    assert_eq!(info["Digest"], digest.as_str());
    assert_eq!(info["Layers"].as_array().unwrap().len(), 1);
    assert_eq!(info["Os"], "linux");

    let layout = env.path("skopeo-layout");
    peer(
        Command::new(&skopeo)
            .args(["copy", "-q", "--src-tls-verify=false"])
            .arg(format!("docker://{name}"))
            .arg(format!("oci:{}:v1", layout.display())),
    );
    let rootfs = umoci_unpack(&env, &layout, "v1");
    assert_eq!(std::fs::read(rootfs.join("app/hello.txt")).unwrap(), HELLO);

    let inspect: Value = serde_json::from_str(&env.ok(&["inspect", &name])).unwrap();
    let repo_digests = inspect[0]["RepoDigests"].as_array().unwrap();
    assert!(
        repo_digests
            .iter()
            .any(|d| d == &format!("{}/team/app@{digest}", reg.host)),
        "{repo_digests:?}"
    );
}

#[test]
fn pulls_what_skopeo_pushed_from_an_umoci_layout() {
    let env = Env::new();
    let reg = Registry::start();
    let umoci = require("umoci");
    let layout = env.path("umoci-layout");
    let image = format!("{}:base", layout.display());
    peer(Command::new(&umoci).args(["init", "--layout"]).arg(&layout));
    peer(Command::new(&umoci).args(["new", "--image", &image]));
    let bundle = env.path("umoci-bundle");
    peer(
        Command::new(&umoci)
            .args(["unpack", "--image", &image])
            .arg(&bundle),
    );
    std::fs::create_dir_all(bundle.join("rootfs/srv")).unwrap();
    std::fs::write(bundle.join("rootfs/srv/data.txt"), b"made by umoci\n").unwrap();
    std::os::unix::fs::symlink("data.txt", bundle.join("rootfs/srv/link")).unwrap();
    peer(
        Command::new(&umoci)
            .args(["repack", "--image", &image])
            .arg(&bundle),
    );
    peer(Command::new(&umoci).args(["config", "--image", &image, "--config.cmd", "/srv/run"]));
    let name = format!("{}/umoci/img:1", reg.host);
    peer(
        Command::new(require("skopeo"))
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .arg(format!("oci:{image}"))
            .arg(format!("docker://{name}")),
    );

    let out = env.ok(&["pull", &name]);
    assert!(out.contains("Digest: sha256:"), "{out}");
    let cmd = env.ok(&["inspect", "-f", "{{json .Config.Cmd}}", &name]);
    assert_eq!(cmd.trim(), r#"["/srv/run"]"#);

    // Its files, read back through our own docker-archive.
    let archive = env.path("pulled.tar");
    env.ok(&["save", "-o", archive.to_str().unwrap(), &name]);
    let files = archive_files(&archive);
    assert!(
        files
            .iter()
            .any(|(p, d)| p == "srv/data.txt" && d == b"made by umoci\n"),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
}

/// All regular files in the layers of the (single) image of a docker-archive.
fn archive_files(archive: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let mut entries = std::collections::HashMap::new();
    let mut a = tar::Archive::new(std::fs::File::open(archive).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().to_string();
        let mut d = Vec::new();
        e.read_to_end(&mut d).unwrap();
        entries.insert(p, d);
    }
    let manifest: Value = serde_json::from_slice(&entries["manifest.json"]).unwrap();
    manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|l| layer_files(&entries[l.as_str().unwrap()]))
        .collect()
}

#[test]
fn umoci_unpacks_our_oci_layout() {
    let env = Env::new();
    import_app(&env, "app:v1");
    let layout = env.path("ours");
    env.ok(&["copy", "app:v1", &format!("oci:{}:v1", layout.display())]);
    let rootfs = umoci_unpack(&env, &layout, "v1");
    assert_eq!(std::fs::read(rootfs.join("app/hello.txt")).unwrap(), HELLO);
    assert_eq!(std::fs::read(rootfs.join("etc/motd")).unwrap(), b"motd\n");
}

#[test]
fn skopeo_reads_our_docker_and_oci_archives() {
    let env = Env::new();
    import_app(&env, "app:v1");
    let skopeo = require("skopeo");
    let archive = env.path("app.tar");
    env.ok(&["save", "-o", archive.to_str().unwrap(), "app:v1"]);
    let info: Value = serde_json::from_str(&peer(
        Command::new(&skopeo)
            .arg("inspect")
            .arg(format!("docker-archive:{}", archive.display())),
    ))
    .unwrap();
    assert_eq!(info["Layers"].as_array().unwrap().len(), 1, "{info}");
    let layout = env.path("from-docker-archive");
    peer(
        Command::new(&skopeo)
            .args(["copy", "-q"])
            .arg(format!("docker-archive:{}", archive.display()))
            .arg(format!("oci:{}:x", layout.display())),
    );
    let rootfs = umoci_unpack(&env, &layout, "x");
    assert_eq!(std::fs::read(rootfs.join("app/hello.txt")).unwrap(), HELLO);

    let oci_archive = env.path("app-oci.tar");
    env.ok(&[
        "copy",
        "app:v1",
        &format!("oci-archive:{}:v1", oci_archive.display()),
    ]);
    let layout2 = env.path("from-oci-archive");
    peer(
        Command::new(&skopeo)
            .args(["copy", "-q"])
            .arg(format!("oci-archive:{}:v1", oci_archive.display()))
            .arg(format!("oci:{}:y", layout2.display())),
    );
    let rootfs = umoci_unpack(&env, &layout2, "y");
    assert_eq!(std::fs::read(rootfs.join("etc/motd")).unwrap(), b"motd\n");
}

#[test]
fn loads_skopeos_archives() {
    let env = Env::new();
    let skopeo = require("skopeo");
    let mut layout = Layout::create(&env.path("src"));
    let img = TestImage::new("amd64", &[&[("bin/tool", b"tool v1\n")]]);
    let d = layout.image(&img);
    layout.tag(d, "t");
    let src = format!("oci:{}:t", layout.dir.display());

    let docker_archive = env.path("skopeo-docker.tar");
    peer(
        Command::new(&skopeo)
            .args(["copy", "-q", &src])
            .arg(format!(
                "docker-archive:{}:skopeo/img:1",
                docker_archive.display()
            )),
    );
    let out = env.ok(&["load", "-i", docker_archive.to_str().unwrap()]);
    assert!(out.contains("Loaded image: skopeo/img:1"), "{out}");
    let id = env.ok(&["images", "-q", "--no-trunc", "skopeo/img:1"]);
    assert_eq!(id.trim(), img.id(), "image ID is the config digest");

    let oci_archive = env.path("skopeo-oci.tar");
    peer(
        Command::new(&skopeo)
            .args(["copy", "-q", &src])
            .arg(format!("oci-archive:{}:v2", oci_archive.display())),
    );
    env.ok(&[
        "copy",
        &format!("oci-archive:{}:v2", oci_archive.display()),
        "skopeo/oci:2",
    ]);
    let id = env.ok(&["images", "-q", "--no-trunc", "skopeo/oci:2"]);
    assert_eq!(id.trim(), img.id());
}

#[test]
fn push_to_another_repository_mounts_the_blobs() {
    let env = Env::new();
    let reg = Registry::start();
    let first = format!("{}/team/app:v1", reg.host);
    import_app(&env, &first);
    let out = env.run(&["push", &first]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(": Pushed"),
        "{out:?}"
    );
    let second = format!("{}/other/app:v1", reg.host);
    env.ok(&["tag", &first, &second]);
    let out = env.run(&["push", &second]);
    assert!(out.status.success(), "{out:?}");
    let progress = String::from_utf8_lossy(&out.stderr);
    assert!(
        progress.contains("Mounted from team/app"),
        "the layer is mounted, not uploaded: {progress}"
    );
    assert!(
        !progress.contains(": Pushed"),
        "nothing is uploaded again: {progress}"
    );
    let raw = peer(
        Command::new(require("skopeo"))
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{second}")),
    );
    assert!(raw.contains("layers"), "{raw}");
}

#[test]
fn push_with_zstd_recompresses_and_pulls_back() {
    let env = Env::new();
    let reg = Registry::start();
    let name = format!("{}/team/zstd:v1", reg.host);
    import_app(&env, &name);
    let out = env.ok(&["push", "--compression", "zstd", &name]);
    let line = out
        .lines()
        .find(|l| l.starts_with("v1: digest: "))
        .unwrap_or_else(|| panic!("{out}"));
    let digest = line.split_whitespace().nth(2).unwrap().to_string();
    let raw = peer(
        Command::new(require("skopeo"))
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{name}")),
    );
    assert_eq!(sha256(raw.as_bytes()), digest);
    let manifest: Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        manifest["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd",
        "{raw}"
    );

    let env2 = Env::new();
    env2.ok(&["pull", &name]);
    let archive = env2.path("zstd.tar");
    env2.ok(&["save", "-o", archive.to_str().unwrap(), &name]);
    let files = archive_files(&archive);
    assert!(
        files
            .iter()
            .any(|(p, d)| p == "app/hello.txt" && d == HELLO),
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    // The image ID (config digest) is the same: recompression changes the layer blobs only.
    assert_eq!(
        env2.ok(&["images", "-q", "--no-trunc"]).trim(),
        env.ok(&["images", "-q", "--no-trunc", &name]).trim()
    );
}
