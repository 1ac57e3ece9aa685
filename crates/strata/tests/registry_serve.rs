//! `strata registry serve` as a user runs it: strata and skopeo push to it and pull from it;
//! two server processes on one S3 bucket (configured by TOML and by YAML files); token auth
//! from a config file with `strata login`; JSON logs, metrics and health; `registry gc`.

mod harness;

use harness::Served;

#[allow(dead_code)]
#[path = "../../registry/tests/common/s3.rs"]
mod s3;

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};

use harness::images::{sha256, tar_of};
use harness::{Env, free_port, peer, require, wait_for_http};

fn serve(env: &Env) -> (Served, String) {
    let root = env.path("registry");
    serve_with(env, &["--root", root.to_str().unwrap()], None)
}

/// `strata [global] registry serve --addr HOST EXTRA...`, stderr to `log` when given.
fn serve_with(env: &Env, extra: &[&str], log: Option<&Path>) -> (Served, String) {
    serve_global(env, &[], extra, log)
}

fn serve_global(
    env: &Env,
    global: &[&str],
    extra: &[&str],
    log: Option<&Path>,
) -> (Served, String) {
    let host = format!("127.0.0.1:{}", free_port());
    let mut args: Vec<&str> = global.to_vec();
    args.extend(["registry", "serve", "--addr", &host]);
    args.extend(extra);
    let stderr = match log {
        Some(p) => Stdio::from(std::fs::File::create(p).unwrap()),
        None => Stdio::null(),
    };
    let child = env
        .cmd(&args)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let served = Served(child);
    wait_for_http(&host);
    (served, host)
}

/// A plain HTTP/1.0 GET on loopback: (status, body).
fn http_get(host: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_string())
}

/// Imports a one-file image as `name` and pushes it; returns the pushed manifest digest.
fn import_and_push(env: &Env, name: &str, content: &[u8]) -> String {
    let tar = env.path("rootfs.tar");
    std::fs::write(&tar, tar_of(&[("srv/index.html", content)])).unwrap();
    env.ok(&["import", tar.to_str().unwrap(), name]);
    let out = env.ok(&["push", name]);
    out.lines()
        .find_map(|l| l.split_once(": digest: ").map(|(_, r)| r))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("{out}"))
        .to_string()
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

#[test]
fn two_server_processes_share_one_bucket() {
    let env = Env::new();
    let s3 = s3::S3Server::start(&env.path("s3"), "shared");
    let opts = s3.options();
    // The same settings as a TOML file for one replica and a YAML file for the other.
    let mut toml =
        "[storage.object]\nurl = \"s3://shared/reg\"\n[storage.object.options]\n".to_string();
    let mut yaml = "storage:\n  object:\n    url: s3://shared/reg\n    options:\n".to_string();
    for (k, v) in &opts {
        toml.push_str(&format!("{k} = \"{v}\"\n"));
        yaml.push_str(&format!("      {k}: \"{v}\"\n"));
    }
    toml.push_str("[log]\nformat = \"json\"\nlevel = \"info\"\n");
    std::fs::write(env.path("a.toml"), &toml).unwrap();
    std::fs::write(env.path("b.yml"), &yaml).unwrap();
    let log_a = env.path("a.log");
    let (_a, host_a) = serve_with(&env, &[env.path("a.toml").to_str().unwrap()], Some(&log_a));
    let (_b, host_b) = serve_with(&env, &[env.path("b.yml").to_str().unwrap()], None);

    // Push through A, pull through B: same image, nothing on local disk but the bucket.
    let name_a = format!("{host_a}/team/app:1");
    let digest = import_and_push(&env, &name_a, b"shared bucket\n");
    let other = Env::new();
    let name_b = format!("{host_b}/team/app:1");
    other.ok(&["pull", &name_b]);
    assert_eq!(
        other.ok(&["images", "-q", "--no-trunc", &name_b]).trim(),
        env.ok(&["images", "-q", "--no-trunc", &name_a]).trim()
    );
    let skopeo = require("skopeo");
    let raw = peer(
        Command::new(&skopeo)
            .args(["inspect", "--raw", "--tls-verify=false"])
            .arg(format!("docker://{name_b}")),
    );
    assert_eq!(sha256(raw.as_bytes()), digest);
    assert!(
        std::fs::read_dir(s3.root.join("shared/reg")).is_ok(),
        "content is in the bucket under the prefix"
    );

    // Health, and metrics that counted the pull on B.
    assert_eq!(http_get(&host_b, "/healthz").0, 200);
    let (status, metrics) = http_get(&host_b, "/metrics");
    assert_eq!(status, 200);
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with(
                "registry_http_requests_total{method=\"GET\",route=\"manifest\",code=\"200\"}",
            )
        })
        .unwrap_or_else(|| panic!("{metrics}"));
    let n: u64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 1, "{line}");

    // A's log is JSON lines (from its config file), one per request among them.
    drop(_a);
    let log = std::fs::read_to_string(&log_a).unwrap();
    let mut requests = 0;
    for l in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{l}");
        if v["span"]["uri"]
            .as_str()
            .is_some_and(|u| u.contains("/v2/team/app/"))
        {
            requests += 1;
        }
    }
    assert!(requests > 0, "no request lines in A's log:\n{log}");
}

#[test]
fn token_auth_from_a_config_file_with_strata_login() {
    let env = Env::new();
    let hash = bcrypt::hash("s3cret", 4).unwrap();
    std::fs::write(env.path("htpasswd"), format!("alice:{hash}\n")).unwrap();
    let config = format!(
        "[storage.filesystem]\nroot = \"{}\"\n\
         [auth.token]\nhtpasswd = \"{}\"\n\
         [[auth.token.access]]\naccount = \"alice\"\nrepository = \"alice/*\"\nactions = [\"pull\", \"push\"]\n\
         [[auth.token.access]]\naccount = \"*\"\nrepository = \"alice/*\"\nactions = [\"pull\"]\n",
        env.path("reg").display(),
        env.path("htpasswd").display()
    );
    std::fs::write(env.path("registry.toml"), config).unwrap();
    let (_s, host) = serve_with(&env, &[env.path("registry.toml").to_str().unwrap()], None);
    let tar = env.path("rootfs.tar");
    std::fs::write(&tar, tar_of(&[("a", b"token\n")])).unwrap();
    let mine = format!("{host}/alice/app:1");
    let theirs = format!("{host}/bob/app:1");
    env.ok(&["import", tar.to_str().unwrap(), &mine]);
    env.ok(&["tag", &mine, &theirs]);

    // Anonymous: no push.
    let (code, err) = env.fails(&["push", &mine]);
    assert_eq!(code, 1);
    assert!(
        err.to_lowercase().contains("auth") || err.contains("denied"),
        "{err}"
    );
    // Wrong password: login refused.
    let (_, err) = env.fails(&["login", "-u", "alice", "-p", "wrong", &host]);
    assert!(
        err.contains("401") || err.to_lowercase().contains("unauthorized"),
        "{err}"
    );
    env.ok(&["login", "-u", "alice", "-p", "s3cret", &host]);
    env.ok(&["push", &mine]);
    // Alice's token is scoped to alice/*: bob/app is refused.
    let (code, _) = env.fails(&["push", &theirs]);
    assert_eq!(code, 1);
    // Anyone may pull alice/*.
    let other = Env::new();
    other.ok(&["pull", &mine]);
}

#[test]
fn gc_command_frees_what_no_manifest_references() {
    let env = Env::new();
    let root = env.path("registry");
    let (served, host) = serve(&env);
    let keep = format!("{host}/gc/keep:1");
    let drop_ = format!("{host}/gc/drop:1");
    import_and_push(&env, &keep, b"kept\n");
    let dropped = import_and_push(&env, &drop_, b"dropped, a unique layer\n");
    // Delete the second image's manifest by digest: its layer and config become garbage.
    let mut s = std::net::TcpStream::connect(&host).unwrap();
    write!(
        s,
        "DELETE /v2/gc/drop/manifests/{dropped} HTTP/1.0\r\nHost: {host}\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.0 202"), "{out}");
    drop(served);

    let root_s = root.to_str().unwrap();
    let blobs = || harness::dir_usage(&root.join("blobs")).1;
    let before = blobs();
    let dry = env.ok(&[
        "registry",
        "gc",
        "--root",
        root_s,
        "--grace",
        "0s",
        "--dry-run",
    ]);
    assert_eq!(blobs(), before, "a dry run deletes nothing:\n{dry}");
    let report = env.ok(&["registry", "gc", "--root", root_s, "--grace", "0s"]);
    assert_eq!(
        before - blobs(),
        3,
        "manifest, config and layer go:\n{report}"
    );
    // What is referenced still pulls.
    let (_served, host) = serve_with(&env, &["--root", root_s], None);
    let other = Env::new();
    other.ok(&["pull", &format!("{host}/gc/keep:1")]);
    let (code, _) = other.fails(&["pull", &format!("{host}/gc/drop:1")]);
    assert_eq!(code, 1);
}

#[test]
fn bad_config_files_and_flags_say_what_is_wrong() {
    let env = Env::new();
    std::fs::write(
        env.path("typo.toml"),
        "[storage]\nfilesystm = { root = \"/x\" }\n",
    )
    .unwrap();
    let (code, err) = env.fails(&["registry", "serve", env.path("typo.toml").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("typo.toml") && err.contains("filesystm"),
        "{err}"
    );
    let (code, err) = env.fails(&[
        "registry",
        "serve",
        env.path("missing.yml").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("missing.yml"), "{err}");
    let (code, err) = env.fails(&[
        "registry",
        "serve",
        "--tls-cert",
        env.path("nope.crt").to_str().unwrap(),
        "--tls-key",
        env.path("nope.key").to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("nope.crt"), "{err}");
    let (code, err) = env.fails(&["registry", "serve", "--storage", "ftp://x"]);
    assert_eq!(code, 1);
    assert!(err.contains("ftp://x"), "{err}");
}
