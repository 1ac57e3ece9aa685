//! pull / push / manifest inspect / logout output, against Debian's docker-registry.

mod harness;

use harness::images::tar_of;
use harness::{Env, Registry};
use serde_json::Value;

fn import(env: &Env, name: &str, content: &[u8]) -> String {
    let path = env.path("rootfs.tar");
    std::fs::write(&path, tar_of(&[("data", content)])).unwrap();
    env.ok(&["import", path.to_str().unwrap(), name])
        .trim()
        .to_string()
}

#[test]
fn push_then_pull_read_like_docker() {
    let reg = Registry::start();
    let env = Env::new();
    let repo = format!("{}/team/app", reg.host);
    let id = import(&env, &format!("{repo}:v1"), b"one");
    env.ok(&["tag", &format!("{repo}:v1"), &format!("{repo}:latest")]);

    let out = env.ok(&["push", &format!("{repo}:v1")]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], format!("The push refers to repository [{repo}]"));
    let digest_line: Vec<&str> = lines[1].split(' ').collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(&digest_line[..2], &["v1:", "digest:"], "{out}");
    let digest = digest_line[2].to_string();
    assert!(
        digest.starts_with("sha256:") && digest_line[3] == "size:",
        "{out}"
    );
    assert_eq!(
        env.ok(&[
            "inspect",
            "-f",
            "{{json .RepoDigests}}",
            &format!("{repo}:v1")
        ]),
        format!("[\"{repo}@{digest}\"]\n")
    );
    assert_eq!(
        env.ok(&["push", "-q", &format!("{repo}:latest")]),
        format!("{repo}:latest\n")
    );

    // manifest inspect prints the registry's bytes, 3-space indented.
    let m = env.ok(&["manifest", "inspect", &format!("{repo}:v1")]);
    assert!(m.starts_with("{\n   \"schemaVersion\": 2,"), "{m}");
    let parsed: Value = serde_json::from_str(&m).unwrap();
    assert_eq!(parsed["config"]["digest"], id);

    // A fresh store: default tag, digest, status, full name.
    let fresh = Env::new();
    let out = fresh.ok(&["pull", &repo]);
    assert_eq!(
        out,
        format!(
            "Using default tag: latest\nlatest: Pulling from team/app\nDigest: {digest}\n\
             Status: Downloaded newer image for {repo}:latest\n{repo}:latest\n"
        )
    );
    let out = fresh.ok(&["pull", &format!("{repo}:latest")]);
    assert!(
        out.contains(&format!("Status: Image is up to date for {repo}:latest\n")),
        "{out}"
    );
    assert_eq!(
        fresh.ok(&[
            "images",
            "--digests",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.Digest}} {{.ID}}"
        ]),
        format!("{repo}:latest {digest} {}\n", &id[7..19])
    );
    // By digest: no tag, the repo digest only.
    let other = Env::new();
    assert_eq!(
        other.ok(&["pull", "-q", &format!("{repo}@{digest}")]),
        format!("{repo}@{digest}\n")
    );
    assert_eq!(
        other.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.Digest}}"]),
        format!("{repo}:<none> {digest}\n")
    );
    assert_eq!(
        other.ok(&["inspect", "-f", "{{.Id}}", &format!("{repo}@{digest}")]),
        format!("{id}\n")
    );

    // Missing things.
    let (code, err) = fresh.fails(&["pull", &format!("{repo}:nope")]);
    assert_eq!(code, 1);
    assert!(err.contains("not found"), "{err}");
    let (code, err) = env.fails(&["push", &format!("{repo}:nope")]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!("Error: An image does not exist locally with the tag: {repo}:nope\n")
    );
    assert_eq!(
        env.ok(&["logout", &reg.host]),
        format!("Not logged in to {}\n", reg.host)
    );
}

#[test]
fn login_and_logout_store_and_forget_credentials() {
    let reg = Registry::start();
    let env = Env::new();
    let out = env
        .cmd(&["login", "-u", "me", "--password-stdin", &reg.host])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"secret\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Login Succeeded\n");
    let config = std::fs::read_to_string(env.path("docker/config.json")).unwrap();
    assert!(config.contains(&reg.host), "{config}");
    assert_eq!(
        env.ok(&["logout", &reg.host]),
        format!("Removing login credentials for {}\n", reg.host)
    );
    assert_eq!(
        env.ok(&["logout", &reg.host]),
        format!("Not logged in to {}\n", reg.host)
    );
    let (code, err) = env.fails(&["login", "--password-stdin", &reg.host]);
    assert_eq!(code, 1);
    assert!(err.contains("--username"), "{err}");
}

#[test]
fn push_all_tags_and_pull_all_tags() {
    let reg = Registry::start();
    let env = Env::new();
    let repo = format!("{}/multi", reg.host);
    import(&env, &format!("{repo}:a"), b"a");
    import(&env, &format!("{repo}:b"), b"b");
    let out = env.ok(&["push", "-a", &repo]);
    assert_eq!(
        out.lines()
            .filter(|l| l.contains(": digest: sha256:"))
            .count(),
        2,
        "{out}"
    );
    let fresh = Env::new();
    fresh.ok(&["pull", "-q", "-a", &repo]);
    assert_eq!(
        fresh
            .ok(&["images", "--format", "{{.Tag}}"])
            .lines()
            .collect::<std::collections::BTreeSet<_>>(),
        ["a", "b"].into_iter().collect()
    );
}

#[test]
fn save_and_load_keep_manifest_digests() {
    // The manifest digest an archive's index.json names (inspect has no such field in
    // Docker 20.10's shape, so it is read from what `save` writes).
    fn manifest_digest(archive: &std::path::Path) -> String {
        let mut tar = tar::Archive::new(std::fs::File::open(archive).unwrap());
        for entry in tar.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.path().unwrap().to_str() == Some("index.json") {
                let index: Value = serde_json::from_reader(&mut entry).unwrap();
                return index["manifests"][0]["digest"]
                    .as_str()
                    .unwrap()
                    .to_string();
            }
        }
        panic!("no index.json in {}", archive.display());
    }
    let env = Env::new();
    import(&env, "keep:1", b"digest");
    let archive = env.path("k.tar");
    env.ok(&["save", "-o", archive.to_str().unwrap(), "keep:1"]);
    let other = Env::new();
    other.ok(&["load", "-i", archive.to_str().unwrap()]);
    let again = other.path("again.tar");
    other.ok(&["save", "-o", again.to_str().unwrap(), "keep:1"]);
    assert_eq!(manifest_digest(&again), manifest_digest(&archive));
}
