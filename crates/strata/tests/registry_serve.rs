//! `strata registry serve` as a user runs it: strata and skopeo push to it and pull from it.

mod harness;

use std::process::{Child, Command, Stdio};

use harness::images::{sha256, tar_of};
use harness::{Env, free_port, peer, require, wait_for_http};

/// The registry subcommand of the binary under test, killed on drop.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(env: &Env) -> (Served, String) {
    let host = format!("127.0.0.1:{}", free_port());
    let child = env
        .cmd(&[
            "registry",
            "serve",
            "--addr",
            &host,
            "--root",
            env.path("registry").to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let served = Served(child);
    wait_for_http(&host);
    (served, host)
}

#[test]
fn strata_and_skopeo_push_and_pull_through_strata_registry() {
    let env = Env::new();
    let (_served, host) = serve(&env);
    std::fs::write(
        env.path("rootfs.tar"),
        tar_of(&[("srv/index.html", b"served\n")]),
    )
    .unwrap();
    let name = format!("{host}/site/web:1");
    env.ok(&["import", env.path("rootfs.tar").to_str().unwrap(), &name]);
    let out = env.ok(&["push", &name]);
    let digest = out
        .lines()
        .find_map(|l| l.strip_prefix("1: digest: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();

    let skopeo = require("skopeo");
    let raw = peer(
        Command::new(&skopeo)
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{name}")),
    );
    assert_eq!(sha256(raw.as_bytes()), digest);
    let layout = env.path("out");
    peer(
        Command::new(&skopeo)
            .args(["copy", "-q", "--src-tls-verify=false"])
            .arg(format!("docker://{name}"))
            .arg(format!("oci:{}:x", layout.display())),
    );
    let tags = peer(
        Command::new(&skopeo)
            .args(["list-tags", "--tls-verify=false"])
            .arg(format!("docker://{host}/site/web")),
    );
    assert!(tags.contains("\"1\""), "{tags}");

    let other = Env::new();
    other.ok(&["pull", &name]);
    assert_eq!(
        other.ok(&["images", "-q", "--no-trunc"]).trim(),
        env.ok(&["images", "-q", "--no-trunc", &name]).trim()
    );
    // skopeo pushes in, strata pulls it back.
    let name2 = format!("{host}/copied/web:2");
    peer(
        Command::new(&skopeo)
            .args(["copy", "-q", "--dest-tls-verify=false"])
            .arg(format!("oci:{}:x", layout.display()))
            .arg(format!("docker://{name2}")),
    );
    other.ok(&["pull", &name2]);
    let (code, err) = other.fails(&["pull", &format!("{host}/no/such:1")]);
    assert_eq!(code, 1);
    assert!(err.contains("not found"), "{err}");
}
