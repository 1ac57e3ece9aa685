//! Multi-platform images made in registries: `manifest create/annotate/push/rm` (Docker's
//! local manifest lists) and `imagetools create/inspect` (buildx's), on strata's own
//! registry and on Debian's docker-registry. Every result passes the distribution rules
//! (the index served byte for byte with its type and digest, every entry and blob present in
//! the target repository), peers read it (skopeo), `imagetools create` moves no layer bytes
//! through the client (a counting forwarder sits between strata and the registry), and the
//! failures say what Docker says (the real docker 20.10 client runs the same failing commands:
//! they need no daemon).

mod harness;

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use harness::images::{Layout, TestImage, desc, noise, sha256};
use harness::{Env, Registry, peer, require, serve_registry};
use serde_json::{Value, json};

/// A registry under test: strata's own or docker-registry, kept alive by the guard.
struct Target {
    what: &'static str,
    host: String,
    _guard: Box<dyn std::any::Any>,
}

fn strata_registry(env: &Env) -> Target {
    let (served, host) = serve_registry(env, "registry");
    Target {
        what: "strata registry",
        host,
        _guard: Box::new(served),
    }
}

fn docker_registry() -> Target {
    let reg = Registry::start();
    Target {
        what: "docker-registry",
        host: reg.host.clone(),
        _guard: Box::new(reg),
    }
}

fn both(env: &Env) -> Vec<Target> {
    vec![strata_registry(env), docker_registry()]
}

/// An HTTP/1.0 response.
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// One plain HTTP/1.0 request on loopback.
fn http(host: &str, method: &str, path: &str) -> Resp {
    let mut s = TcpStream::connect(host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {host}\r\nAccept: {ACCEPT}\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: no header end"));
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

/// The distribution rules for an index pushed to `host/repo:reference`: served byte for
/// byte with its own media type and digest; every entry's manifest served by digest from
/// that repository, every blob it names answering HEAD 200 there. Returns the bytes and
/// each entry's platform (`os/arch[/variant]`).
fn check_pushed(host: &str, repo: &str, reference: &str) -> (Vec<u8>, Vec<String>) {
    let r = http(host, "GET", &format!("/v2/{repo}/manifests/{reference}"));
    assert_eq!(r.status, 200, "GET {repo}:{reference} on {host}");
    let index: Value = serde_json::from_slice(&r.body).unwrap();
    let media_type = index["mediaType"].as_str().unwrap();
    assert_eq!(
        r.header("Content-Type"),
        Some(media_type),
        "{repo}:{reference}"
    );
    assert_eq!(
        r.header("Docker-Content-Digest"),
        Some(sha256(&r.body).as_str()),
        "{repo}:{reference}"
    );
    let mut platforms = Vec::new();
    for entry in index["manifests"].as_array().unwrap() {
        let digest = entry["digest"].as_str().unwrap();
        let m = http(host, "GET", &format!("/v2/{repo}/manifests/{digest}"));
        assert_eq!(m.status, 200, "entry {digest} in {repo} on {host}");
        assert_eq!(sha256(&m.body), digest);
        assert_eq!(m.body.len() as u64, entry["size"].as_u64().unwrap());
        let manifest: Value = serde_json::from_slice(&m.body).unwrap();
        let blobs =
            std::iter::once(&manifest["config"]).chain(manifest["layers"].as_array().unwrap());
        for b in blobs {
            let d = b["digest"].as_str().unwrap();
            let h = http(host, "HEAD", &format!("/v2/{repo}/blobs/{d}"));
            assert_eq!(
                h.status, 200,
                "HEAD blob {d} of {digest} in {repo} on {host}"
            );
        }
        let p = &entry["platform"];
        let mut s = format!(
            "{}/{}",
            p["os"].as_str().unwrap(),
            p["architecture"].as_str().unwrap()
        );
        if let Some(v) = p["variant"].as_str() {
            s.push('/');
            s.push_str(v);
        }
        platforms.push(s);
    }
    (r.body, platforms)
}

/// What peers see: skopeo reads the same bytes and copies every platform out.
fn peers_agree(env: &Env, name: &str, bytes: &[u8]) {
    let skopeo = require("skopeo");
    let raw = Command::new(&skopeo)
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{name}"))
        .output()
        .unwrap();
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(raw.stdout, bytes, "skopeo inspect --raw {name}");
    let dir = env.path(&format!("skopeo-{}", &sha256(name.as_bytes())[7..19]));
    peer(
        Command::new(&skopeo)
            .args(["copy", "--all", "--src-tls-verify=false"])
            .arg(format!("docker://{name}"))
            .arg(format!("oci:{}", dir.display())),
    );
}

/// Pushes `img` to `name` with `strata copy` from an OCI layout.
fn push_image(env: &Env, img: &TestImage, name: &str) {
    let dir = env.path(&format!("layout-{}", &img.digest()[7..19]));
    let mut layout = Layout::create(&dir);
    let d = layout.image(img);
    layout.tag(d, "img");
    env.ok(&[
        "copy",
        &format!("oci:{}:img", dir.display()),
        &format!("docker://{name}"),
    ]);
}

fn small_image(arch: &str) -> TestImage {
    TestImage::new(arch, &[&[("arch", arch.as_bytes())]])
}

#[test]
fn manifest_create_annotate_push_pass_the_distribution_rules() {
    let env = Env::new();
    for t in both(&env) {
        let h = &t.host;
        let amd = small_image("amd64");
        let arm = small_image("arm64");
        push_image(&env, &amd, &format!("{h}/src/app:amd64"));
        push_image(&env, &arm, &format!("{h}/src/app:arm64"));
        // One entry already lives in the list's repository, one in another.
        push_image(&env, &arm, &format!("{h}/multi/app:arm64"));
        let list = format!("{h}/multi/app:v1");
        let out = env.ok(&[
            "manifest",
            "create",
            &list,
            &format!("{h}/src/app:amd64"),
            &format!("{h}/multi/app:arm64"),
        ]);
        assert_eq!(out, format!("Created manifest list {list}\n"), "{}", t.what);
        env.ok(&[
            "manifest",
            "annotate",
            "--variant",
            "v8",
            "--os-features",
            "f1",
            &list,
            &format!("{h}/multi/app:arm64"),
        ]);
        // The local list as Docker prints it, before pushing.
        let local: Value = serde_json::from_str(&env.ok(&["manifest", "inspect", &list])).unwrap();
        assert_eq!(local["manifests"][0]["digest"], arm.digest());
        assert_eq!(local["manifests"][0]["platform"]["variant"], "v8");
        assert_eq!(
            local["manifests"][0]["platform"]["os.features"],
            json!(["f1"])
        );

        let out = env.ok(&["manifest", "push", "--purge", &list]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[..lines.len() - 1],
            [format!(
                "Pushed ref {h}/multi/app@{d} with digest: {d}",
                d = amd.digest()
            )],
            "only the entry of another repository is put into the list's ({})",
            t.what
        );
        let (bytes, platforms) = check_pushed(h, "multi/app", "v1");
        assert_eq!(lines.last().unwrap(), &sha256(&bytes), "{}", t.what);
        let index: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            index["mediaType"],
            "application/vnd.docker.distribution.manifest.list.v2+json"
        );
        // Entries come in the order of their files' names, as Docker's: the image's
        // reference made file-safe (`…_multi_app-arm64` before `…_src_app-amd64`).
        let digests: Vec<&str> = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["digest"].as_str().unwrap())
            .collect();
        assert_eq!(digests, [arm.digest(), amd.digest()], "{}", t.what);
        assert_eq!(platforms, ["linux/arm64/v8", "linux/amd64"], "{}", t.what);
        peers_agree(&env, &list, &bytes);

        // --purge removed the local list; `rm` of it now fails as Docker's does.
        let (code, err) = env.fails(&["manifest", "rm", &list]);
        assert_eq!((code, err), (1, format!("No such manifest: {list}\n")));

        // --amend adds to a list; rm deletes it.
        let list2 = format!("{h}/multi/app:v2");
        env.ok(&["manifest", "create", &list2, &format!("{h}/src/app:amd64")]);
        env.ok(&[
            "manifest",
            "create",
            "--amend",
            &list2,
            &format!("{h}/src/app:arm64"),
        ]);
        let local: Value = serde_json::from_str(&env.ok(&["manifest", "inspect", &list2])).unwrap();
        assert_eq!(local["manifests"].as_array().unwrap().len(), 2);
        env.ok(&["manifest", "push", &list2]);
        let (_, platforms) = check_pushed(h, "multi/app", "v2");
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{}", t.what);
        env.ok(&["manifest", "rm", &list2]);
        // Without a local list, inspect reads the registry's.
        let remote: Value =
            serde_json::from_str(&env.ok(&["manifest", "inspect", &list2])).unwrap();
        assert_eq!(remote["manifests"].as_array().unwrap().len(), 2);
    }
}

/// Runs the real docker 20.10 client (its manifest commands need no daemon) with its own
/// config directory; returns (exit code, stdout, stderr).
fn docker_client(config: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let docker = std::path::Path::new("/usr/bin/docker");
    assert!(
        docker.is_file(),
        "the docker 20.10 client (/usr/bin/docker) is required: scripts/install-peers.sh"
    );
    let out = Command::new(docker)
        .env("DOCKER_CONFIG", config)
        .env_remove("DOCKER_HOST")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn manifest_failures_say_what_docker_says() {
    let env = Env::new();
    let t = docker_registry();
    let h = &t.host;
    let amd = small_image("amd64");
    let arm = small_image("arm64");
    push_image(&env, &amd, &format!("{h}/src/app:amd64"));
    // An index, which `manifest create` refuses as an entry.
    let dir = env.path("index-layout");
    let mut layout = Layout::create(&dir);
    let (_, d) = layout.index(&[(&amd, "amd64"), (&arm, "arm64")]);
    layout.tag(d, "idx");
    env.ok(&[
        "copy",
        "--all",
        &format!("oci:{}:idx", dir.display()),
        &format!("docker://{h}/src/idx:1"),
    ]);
    let list = format!("{h}/multi/app:v1");
    env.ok(&["manifest", "create", &list, &format!("{h}/src/app:amd64")]);

    let docker_config = env.path("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    let missing = format!("{h}/src/nope:1");
    let other_list = format!("{h}/other/app:v1");
    let none = format!("{h}/none/app");
    let table: Vec<(Vec<String>, Option<String>)> = vec![
        // Docker's client agrees on these (run below).
        (
            vec![
                "manifest".into(),
                "create".into(),
                "--insecure".into(),
                other_list.clone(),
                missing.clone(),
            ],
            None,
        ),
        (
            vec![
                "manifest".into(),
                "push".into(),
                "--insecure".into(),
                none.clone(),
            ],
            None,
        ),
        (
            vec!["manifest".into(), "rm".into(), none.clone(), "x/y".into()],
            None,
        ),
        (
            vec![
                "manifest".into(),
                "annotate".into(),
                "--arch".into(),
                "arm64".into(),
                other_list.clone(),
                format!("{h}/src/app:amd64"),
            ],
            None,
        ),
        // docker 20.10 cannot read OCI images at all (it says `no such manifest`), so these
        // are its source's words (cli/command/manifest, internal/registryclient).
        (
            vec![
                "manifest".into(),
                "create".into(),
                other_list.clone(),
                format!("{h}/src/idx:1"),
            ],
            Some(format!("{h}/src/idx:1 is a manifest list\n")),
        ),
        (
            vec![
                "manifest".into(),
                "create".into(),
                list.clone(),
                format!("{h}/src/app:amd64"),
            ],
            Some("refusing to amend an existing manifest list with no --amend flag\n".into()),
        ),
        (
            vec![
                "manifest".into(),
                "annotate".into(),
                list.clone(),
                format!("{h}/src/app:arm64"),
            ],
            Some(format!(
                "manifest for image {h}/src/app:arm64 does not exist in {list}\n"
            )),
        ),
        (
            vec![
                "manifest".into(),
                "annotate".into(),
                "--arch".into(),
                "bogus".into(),
                list.clone(),
                format!("{h}/src/app:amd64"),
            ],
            Some("manifest entry for image has unsupported os/arch combination: /bogus\n".into()),
        ),
        (
            vec![
                "manifest".into(),
                "annotate".into(),
                "--os".into(),
                "linux".into(),
                "--arch".into(),
                "ppc64".into(),
                list.clone(),
                format!("{h}/src/app:amd64"),
            ],
            Some(
                "manifest entry for image has unsupported os/arch combination: linux/ppc64\n"
                    .into(),
            ),
        ),
    ];
    for (args, want) in table {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, err) = env.fails(&args);
        let want = match want {
            Some(w) => w,
            None => {
                let (dcode, dout, derr) = docker_client(&docker_config, &args);
                assert_eq!(dcode, 1, "docker {args:?}: {dout}{derr}");
                derr
            }
        };
        assert_eq!((code, err.as_str()), (1, want.as_str()), "strata {args:?}");
    }
    // Too few operands: cobra's count error, as docker's (the usage line under it differs
    // only in `[OPTIONS]`, which strata always writes).
    for args in [
        vec!["manifest", "create", "x"],
        vec!["manifest", "annotate", "x"],
        vec!["manifest", "push"],
        vec!["manifest", "rm"],
    ] {
        let (code, err) = env.fails(&args);
        let (dcode, _, derr) = docker_client(&docker_config, &args);
        let first = |s: &str| {
            s.lines()
                .next()
                .unwrap_or_default()
                .replace("docker", "strata")
        };
        assert_eq!((code, first(&err)), (dcode, first(&derr)), "{args:?}");
    }

    // A failed annotate changed nothing.
    let local: Value = serde_json::from_str(&env.ok(&["manifest", "inspect", &list])).unwrap();
    assert_eq!(local["manifests"][0]["platform"]["architecture"], "amd64");
}

/// A TCP forwarder from a loopback port to `target`, counting the bytes it carries both
/// ways. It stops accepting when dropped.
struct Forwarder {
    host: String,
    bytes: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Forwarder {
    fn start(target: &str) -> Forwarder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let bytes = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (b, s, target) = (bytes.clone(), stop.clone(), target.to_string());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(300);
            let mut accepted = 0;
            while !s.load(Ordering::Relaxed) && Instant::now() < deadline && accepted < 10_000 {
                match listener.accept() {
                    Ok((client, _)) => {
                        accepted += 1;
                        client.set_nonblocking(false).unwrap();
                        let server = TcpStream::connect(&target).unwrap();
                        for (mut from, mut to) in [
                            (client.try_clone().unwrap(), server.try_clone().unwrap()),
                            (server, client),
                        ] {
                            let b = b.clone();
                            std::thread::spawn(move || {
                                let mut buf = [0u8; 64 * 1024];
                                // Ends with the connection (EOF or an error).
                                while let Ok(n) = from.read(&mut buf) {
                                    if n == 0 || to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                    b.fetch_add(n as u64, Ordering::Relaxed);
                                }
                                let _ = to.shutdown(std::net::Shutdown::Write);
                            });
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Forwarder { host, bytes, stop }
    }

    fn take(&self) -> u64 {
        self.bytes.swap(0, Ordering::Relaxed)
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// An image whose one layer is `mb` MB of incompressible bytes.
fn big_image(arch: &str, mb: usize) -> TestImage {
    let data = noise(mb << 20);
    TestImage::new(arch, &[&[("big", &data), ("arch", arch.as_bytes())]])
}

#[test]
fn imagetools_create_moves_no_layer_bytes_and_passes_the_distribution_rules() {
    let env = Env::new();
    for t in both(&env) {
        let amd = big_image("amd64", 4);
        let arm = big_image("arm64", 4);
        let layer = amd.layers[0].len() as u64;
        assert!(layer > 4 << 20);
        // Sources in two repositories; the new image in a third.
        push_image(&env, &amd, &format!("{}/src/a:amd64", t.host));
        push_image(&env, &arm, &format!("{}/src/b:arm64", t.host));

        let fwd = Forwarder::start(&t.host);
        let p = &fwd.host;
        let out = env.ok(&[
            "imagetools",
            "create",
            "-t",
            &format!("{p}/dst/app:multi"),
            "-t",
            &format!("{p}/dst/app:also"),
            &format!("{p}/src/a:amd64"),
            &format!("{p}/src/b:arm64"),
        ]);
        assert_eq!(out, "");
        let moved = fwd.take();
        assert!(
            moved < layer / 8,
            "{}: {moved} bytes went through the client for layers of {layer} bytes",
            t.what
        );
        let (bytes, platforms) = check_pushed(&t.host, "dst/app", "multi");
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{}", t.what);
        let (also, _) = check_pushed(&t.host, "dst/app", "also");
        assert_eq!(also, bytes);
        let index: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            index["mediaType"],
            "application/vnd.oci.image.index.v1+json"
        );
        assert_eq!(index["manifests"][0]["digest"], amd.digest());
        assert_eq!(index["manifests"][1]["digest"], arm.digest());
        peers_agree(&env, &format!("{}/dst/app:multi", t.host), &bytes);

        // --dry-run prints the same index and pushes nothing.
        let h = &t.host;
        let dry = env.ok(&[
            "imagetools",
            "create",
            "--dry-run",
            &format!("{h}/src/a:amd64"),
            &format!("{h}/src/b:arm64"),
        ]);
        assert_eq!(dry.as_bytes(), [bytes.as_slice(), b"\n"].concat());

        // -p narrows an index; the result is a new index of that platform only.
        env.ok(&[
            "imagetools",
            "create",
            "-p",
            "linux/arm64",
            "-t",
            &format!("{h}/dst/app:arm"),
            &format!("{h}/dst/app:multi"),
        ]);
        let (_, platforms) = check_pushed(h, "dst/app", "arm");
        assert_eq!(platforms, ["linux/arm64"], "{}", t.what);

        // --append adds to the first tag's index; annotations land where buildx puts them.
        env.ok(&[
            "imagetools",
            "create",
            "-t",
            &format!("{h}/dst/one:v1"),
            &format!("{h}/src/a:amd64"),
        ]);
        env.ok(&[
            "imagetools",
            "create",
            "--append",
            "--annotation",
            "index:org.opencontainers.image.title=both",
            "--annotation",
            "manifest-descriptor[linux/arm64]:note=arm",
            "-t",
            &format!("{h}/dst/one:v1"),
            &format!("{h}/src/b:arm64"),
        ]);
        let (one, platforms) = check_pushed(h, "dst/one", "v1");
        assert_eq!(platforms, ["linux/amd64", "linux/arm64"], "{}", t.what);
        let one: Value = serde_json::from_slice(&one).unwrap();
        assert_eq!(one["annotations"]["org.opencontainers.image.title"], "both");
        assert_eq!(one["manifests"][1]["annotations"]["note"], "arm");
        assert!(one["manifests"][0].get("annotations").is_none());

        // inspect: raw bytes, buildx's human form, and templates.
        let name = format!("{h}/dst/app:multi");
        let raw = env
            .cmd(&["imagetools", "inspect", "--raw", &name])
            .output()
            .unwrap();
        assert_eq!(raw.stdout, bytes);
        let human = env.ok(&["imagetools", "inspect", &name]);
        let want = format!(
            "Name:      {name}\nMediaType: application/vnd.oci.image.index.v1+json\nDigest:    {}\n           \nManifests: \n  Name:      {name}@{}\n  MediaType: application/vnd.oci.image.manifest.v1+json\n  Platform:  linux/amd64\n             \n  Name:      {name}@{}\n  MediaType: application/vnd.oci.image.manifest.v1+json\n  Platform:  linux/arm64\n",
            sha256(&bytes),
            amd.digest(),
            arm.digest()
        );
        assert_eq!(human, want);
        let m: Value = serde_json::from_str(&env.ok(&[
            "imagetools",
            "inspect",
            "--format",
            "{{json .Manifest}}",
            &name,
        ]))
        .unwrap();
        assert_eq!(m["digest"], sha256(&bytes));
        assert_eq!(m["manifests"][1]["platform"]["architecture"], "arm64");
        let images: Value = serde_json::from_str(&env.ok(&[
            "imagetools",
            "inspect",
            "--format",
            "{{json .Image}}",
            &name,
        ]))
        .unwrap();
        assert_eq!(images["linux/arm64"]["config"]["Labels"]["test"], "arm64");
        assert_eq!(
            env.ok(&[
                "imagetools",
                "inspect",
                "--format",
                "{{.Manifest.Digest}}",
                &name
            ]),
            sha256(&bytes)
        );
    }
}

#[test]
fn imagetools_failures_say_what_buildx_says() {
    let env = Env::new();
    let t = docker_registry();
    let h = &t.host;
    let amd = small_image("amd64");
    push_image(&env, &amd, &format!("{h}/src/a:amd64"));
    for (args, want) in [
        (
            vec!["imagetools", "create"],
            "ERROR: no sources specified\n".to_string(),
        ),
        (
            vec!["imagetools", "create", &format!("{h}/src/a:amd64")],
            "ERROR: can't push with no tags specified, please set --tag or --dry-run\n".into(),
        ),
        (
            vec![
                "imagetools",
                "create",
                "--dry-run",
                &format!("{h}/src/nope:1"),
            ],
            format!("ERROR: {h}/src/nope:1: not found\n"),
        ),
        (
            vec![
                "imagetools",
                "create",
                "--dry-run",
                "-p",
                "linux/s390x",
                &format!("{h}/src/a:amd64"),
            ],
            "ERROR: none of the manifests match the provided platforms\n".into(),
        ),
        (
            vec![
                "imagetools",
                "inspect",
                "--raw",
                "--format",
                "x",
                &format!("{h}/src/a:amd64"),
            ],
            "ERROR: format and raw cannot be used together\n".into(),
        ),
    ] {
        let (code, err) = env.fails(&args);
        assert_eq!((code, err), (1, want), "{args:?}");
    }
}

/// An attestation manifest as BuildKit writes it for `subject`.
fn attestation(layout: &Layout, subject: &str) -> Value {
    // The statement names its subject, so each image's attestation is its own.
    let statement = serde_json::to_vec(&json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "img", "digest": {"sha256": &subject[7..]}}],
    }))
    .unwrap();
    let statement = statement.as_slice();
    let config = serde_json::to_vec(&json!({
        "architecture": "unknown", "os": "unknown", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [sha256(statement)]},
    }))
    .unwrap();
    let mut layer = desc("application/vnd.in-toto+json", statement);
    layer["annotations"] = json!({"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"});
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc("application/vnd.oci.image.config.v1+json", &config),
        "layers": [layer],
    }))
    .unwrap();
    layout.blob(statement);
    layout.blob(&config);
    layout.blob(&manifest);
    let mut d = desc("application/vnd.oci.image.manifest.v1+json", &manifest);
    d["platform"] = json!({"os": "unknown", "architecture": "unknown"});
    d["annotations"] = json!({
        "vnd.docker.reference.digest": subject,
        "vnd.docker.reference.type": "attestation-manifest",
    });
    d
}

#[test]
fn imagetools_keeps_attestation_manifests_and_never_picks_them_as_a_platform() {
    let env = Env::new();
    let t = strata_registry(&env);
    let h = &t.host;
    let amd = small_image("amd64");
    let arm = small_image("arm64");
    let dir = env.path("att-layout");
    let mut layout = Layout::create(&dir);
    let mut amd_d = layout.image(&amd);
    amd_d["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let mut arm_d = layout.image(&arm);
    arm_d["platform"] = json!({"os": "linux", "architecture": "arm64"});
    let amd_att = attestation(&layout, &amd.digest());
    let arm_att = attestation(&layout, &arm.digest());
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [amd_d, arm_d, amd_att, arm_att],
    }))
    .unwrap();
    layout.blob(&index);
    layout.tag(
        desc("application/vnd.oci.image.index.v1+json", &index),
        "att",
    );
    env.ok(&[
        "copy",
        "--all",
        &format!("oci:{}:att", dir.display()),
        &format!("docker://{h}/src/att:1"),
    ]);

    // The whole index is copied byte for byte, attestations and all.
    env.ok(&[
        "imagetools",
        "create",
        "-t",
        &format!("{h}/dst/att:all"),
        &format!("{h}/src/att:1"),
    ]);
    let (bytes, platforms) = check_pushed(h, "dst/att", "all");
    assert_eq!(bytes, index);
    assert_eq!(
        platforms,
        [
            "linux/amd64",
            "linux/arm64",
            "unknown/unknown",
            "unknown/unknown"
        ]
    );

    // -p keeps a platform's attestation with it, and no other.
    env.ok(&[
        "imagetools",
        "create",
        "-p",
        "linux/arm64",
        "-t",
        &format!("{h}/dst/att:arm"),
        &format!("{h}/src/att:1"),
    ]);
    let (bytes, platforms) = check_pushed(h, "dst/att", "arm");
    assert_eq!(platforms, ["linux/arm64", "unknown/unknown"]);
    let narrowed: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(narrowed["manifests"][0]["digest"], arm.digest());
    assert_eq!(
        narrowed["manifests"][1]["annotations"]["vnd.docker.reference.digest"],
        arm.digest()
    );
    // Pulling a platform of the index never takes an attestation manifest for it.
    let pulled = Env::new();
    pulled.ok(&[
        "pull",
        "--platform",
        "linux/arm64",
        &format!("{h}/dst/att:arm"),
    ]);
    assert_eq!(
        pulled
            .ok(&["images", "-q", "--no-trunc", &format!("{h}/dst/att:arm")])
            .trim(),
        arm.id()
    );
    let (code, _) = pulled.fails(&[
        "pull",
        "--platform",
        "linux/amd64",
        &format!("{h}/dst/att:arm"),
    ]);
    assert_eq!(
        code, 1,
        "an attestation entry is never taken for a platform the index lacks"
    );

    let (code, err) = env.fails(&[
        "imagetools",
        "create",
        "--dry-run",
        "-p",
        "unknown/unknown",
        &format!("{h}/src/att:1"),
    ]);
    assert_eq!(
        (code, err.as_str()),
        (
            1,
            "ERROR: none of the manifests match the provided platforms\n"
        )
    );
}

#[test]
fn imagetools_create_across_registries_streams_what_it_cannot_mount() {
    let env = Env::new();
    let from = docker_registry();
    let to = strata_registry(&env);
    let amd = small_image("amd64");
    let arm = small_image("arm64");
    push_image(&env, &amd, &format!("{}/src/a:amd64", from.host));
    push_image(&env, &arm, &format!("{}/src/b:arm64", from.host));
    env.ok(&[
        "imagetools",
        "create",
        "-t",
        &format!("{}/dst/app:x", to.host),
        &format!("{}/src/a:amd64", from.host),
        &format!("{}/src/b:arm64", from.host),
    ]);
    let (bytes, platforms) = check_pushed(&to.host, "dst/app", "x");
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    peers_agree(&env, &format!("{}/dst/app:x", to.host), &bytes);
}

#[test]
fn local_lists_print_what_docker_prints() {
    let env = Env::new();
    let t = docker_registry();
    let h = &t.host;
    // docker 20.10 reads Docker schema 2 images only: skopeo converts ours.
    let skopeo = require("skopeo");
    let mut images = Vec::new();
    for arch in ["amd64", "arm64"] {
        push_image(&env, &small_image(arch), &format!("{h}/oci/app:{arch}"));
        let name = format!("{h}/src/app:{arch}");
        peer(
            Command::new(&skopeo)
                .args(["copy", "-q", "--format", "v2s2"])
                .args(["--src-tls-verify=false", "--dest-tls-verify=false"])
                .arg(format!("docker://{h}/oci/app:{arch}"))
                .arg(format!("docker://{name}")),
        );
        images.push(name);
    }
    let list = format!("{h}/multi/app:v1");
    let docker_config = env.path("docker-config");
    std::fs::create_dir_all(&docker_config).unwrap();
    let both_ok = |args: &[&str]| {
        let ours = env.ok(args);
        let mut dargs = args.to_vec();
        if args[1] == "create" {
            dargs.insert(2, "--insecure");
        }
        let (code, theirs, err) = docker_client(&docker_config, &dargs);
        assert_eq!(code, 0, "docker {dargs:?}: {err}");
        assert_eq!(ours, theirs, "{args:?}");
    };
    both_ok(&["manifest", "create", &list, &images[0], &images[1]]);
    both_ok(&[
        "manifest",
        "annotate",
        "--variant",
        "v8",
        "--os-features",
        "a,b",
        &list,
        &images[1],
    ]);
    both_ok(&["manifest", "inspect", &list]);
    both_ok(&["manifest", "inspect", "-v", &list]);
    both_ok(&["manifest", "inspect", &list, &images[1]]);
    both_ok(&["manifest", "inspect", "--verbose", &list, &images[1]]);
    both_ok(&["manifest", "rm", &list]);
}
