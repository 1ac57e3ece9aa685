//! `strata registry serve --proxy`: a pull-through cache of Debian's docker-registry, pulled
//! through with skopeo and strata, still serving what it cached once the upstream is gone.

mod harness;

use harness::Served;

use std::path::Path;
use std::process::Command;

use harness::images::tar_of;
use harness::{Env, Registry, free_port, peer, require, serve_registry_with};

fn serve_proxy(env: &Env, upstream: &str) -> (Served, String) {
    serve_proxy_with(env, upstream, &[])
}

fn serve_proxy_with(env: &Env, upstream: &str, extra: &[&str]) -> (Served, String) {
    let root = format!("proxy-root-{}", free_port());
    let proxy = format!("http://{upstream}");
    let mut args = vec!["--proxy", proxy.as_str()];
    args.extend_from_slice(extra);
    serve_registry_with(env, &root, &args)
}

/// Every file under `dir` (relative path → bytes), sorted.
fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().display().to_string();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn skopeo_copy(skopeo: &Path, from: &str, layout: &Path) {
    peer(
        Command::new(skopeo)
            .args(["copy", "-q", "--src-tls-verify=false"])
            .arg(format!("docker://{from}"))
            .arg(format!("oci:{}:x", layout.display())),
    );
}

#[test]
fn pull_through_cache_of_docker_registry_serves_after_upstream_stops() {
    let skopeo = require("skopeo");
    let upstream = Registry::start();
    let env = Env::new();

    // An image with a layer big enough to stream in many chunks, pushed to the upstream.
    let big: Vec<u8> = (0..2 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
        .collect();
    std::fs::write(
        env.path("rootfs.tar"),
        tar_of(&[("srv/index.html", b"proxied\n"), ("srv/big.bin", &big)]),
    )
    .unwrap();
    let up_name = format!("{}/lib/app:1", upstream.host);
    env.ok(&["import", env.path("rootfs.tar").to_str().unwrap(), &up_name]);
    env.ok(&["push", &up_name]);
    let direct = env.path("direct");
    skopeo_copy(&skopeo, &up_name, &direct);

    let (_proxy, proxy) = serve_proxy(&env, &upstream.host);
    let name = format!("{proxy}/lib/app:1");

    // skopeo through the proxy gets exactly what the upstream holds.
    let raw_up = peer(
        Command::new(&skopeo)
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{up_name}")),
    );
    let raw = peer(
        Command::new(&skopeo)
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{name}")),
    );
    assert_eq!(raw, raw_up);
    let first = env.path("first");
    skopeo_copy(&skopeo, &name, &first);
    assert_eq!(
        tree(&first),
        tree(&direct),
        "proxied copy differs from upstream"
    );

    // strata pulls through it too.
    let puller = Env::new();
    puller.ok(&["pull", &name]);
    let id = puller
        .ok(&["images", "-q", "--no-trunc"])
        .trim()
        .to_string();
    assert!(!id.is_empty());

    // Pushes to a cache are refused.
    let refused = Command::new(&skopeo)
        .args(["copy", "-q", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:x", direct.display()))
        .arg(format!("docker://{proxy}/lib/pushed:1"))
        .output()
        .unwrap();
    assert!(!refused.status.success(), "a push to the proxy succeeded");

    // The upstream goes away: everything cached is still served, byte for byte.
    drop(upstream);
    let second = env.path("second");
    skopeo_copy(&skopeo, &name, &second);
    assert_eq!(tree(&second), tree(&first), "cached copy differs");
    let later = Env::new();
    later.ok(&["pull", &name]);
    assert_eq!(
        later.ok(&["images", "-q", "--no-trunc"]).trim(),
        id,
        "pulled a different image from the cache"
    );
    // What was never cached fails clearly.
    let missing = Command::new(&skopeo)
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{proxy}/lib/app:never"))
        .output()
        .unwrap();
    assert!(!missing.status.success());
}

/// Debian's docker-registry requiring basic auth (htpasswd, bcrypt) for `user`.
fn auth_registry(user: &str, password: &str) -> Registry {
    let htpasswd = require("htpasswd");
    let users = peer(Command::new(htpasswd).args(["-Bbn", user, password]));
    Registry::start_with(|dir| {
        let file = dir.join("htpasswd");
        std::fs::write(&file, &users).unwrap();
        format!(
            "auth: {{htpasswd: {{realm: upstream, path: {}}}}}\n",
            file.display()
        )
    })
}

#[test]
fn pull_through_cache_logs_in_to_its_upstream() {
    let skopeo = require("skopeo");
    let upstream = auth_registry("alice", "s3cret");
    let pusher = Env::new();
    std::fs::write(
        pusher.path("rootfs.tar"),
        tar_of(&[("etc/motd", b"private\n")]),
    )
    .unwrap();
    let up_name = format!("{}/team/private:1", upstream.host);
    pusher.ok(&["login", "-u", "alice", "-p", "s3cret", &upstream.host]);
    pusher.ok(&[
        "import",
        pusher.path("rootfs.tar").to_str().unwrap(),
        &up_name,
    ]);
    pusher.ok(&["push", &up_name]);

    // Without credentials the upstream refuses the proxy, and the proxy says so.
    let anon = Env::new();
    let (_p0, p0) = serve_proxy(&anon, &upstream.host);
    let out = Command::new(&skopeo)
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{p0}/team/private:1"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "pulled without upstream credentials");

    // With --proxy-username/--proxy-password.
    let (_p1, p1) = serve_proxy_with(
        &anon,
        &upstream.host,
        &["--proxy-username", "alice", "--proxy-password", "s3cret"],
    );
    let layout = anon.path("flags");
    skopeo_copy(&skopeo, &format!("{p1}/team/private:1"), &layout);

    // With the credentials `strata login` stored for the upstream.
    let (_p2, p2) = serve_proxy(&pusher, &upstream.host);
    let layout2 = pusher.path("stored");
    skopeo_copy(&skopeo, &format!("{p2}/team/private:1"), &layout2);
    assert_eq!(tree(&layout), tree(&layout2));
}
