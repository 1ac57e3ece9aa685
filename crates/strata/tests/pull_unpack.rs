//! `pull` unpacks layers while it downloads them (issue 11): every layer's snapshot is
//! ready when `pull` ends, equal to the one `create` makes from the blobs of the same image
//! `load`ed; `create` after `pull` unpacks nothing; a layer that fails verification, or a
//! pull killed mid-download, leaves no ready snapshot and nothing staged behind.
//!
//! Needs root (the snapshots hold `trusted.overlay.opaque` and whiteout devices).

mod harness;

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::Env;
use harness::fault_registry::{Fault, FaultRegistry, Rule};
use harness::fault_runs::{failed, strata};
use harness::images::{Layout, TestImage, noise, sha256};
use sha2::{Digest as _, Sha256};

/// A tar entry for [`layer`].
enum E<'a> {
    Dir(&'a str, u32),
    File(&'a str, u32, &'a [u8]),
    Owned(&'a str, u32, u64, &'a [u8]),
    Link(&'a str, &'a str),
    Hard(&'a str, &'a str),
    Xattr(&'a str, &'a str, &'a [u8]),
}

/// An uncompressed layer tar of `entries`, in order.
fn layer(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_700_000_000);
        match e {
            E::Dir(p, mode) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(*mode);
                h.set_size(0);
                b.append_data(&mut h, p, std::io::empty()).unwrap();
            }
            E::File(p, mode, data) | E::Owned(p, mode, _, data) => {
                h.set_mode(*mode);
                if let E::Owned(_, _, id, _) = e {
                    h.set_uid(*id);
                    h.set_gid(*id);
                }
                h.set_size(data.len() as u64);
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Link(p, target) => {
                h.set_entry_type(tar::EntryType::Symlink);
                h.set_mode(0o777);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            E::Hard(p, target) => {
                h.set_entry_type(tar::EntryType::Link);
                h.set_mode(0o644);
                h.set_size(0);
                b.append_link(&mut h, p, target).unwrap();
            }
            E::Xattr(p, name, value) => {
                b.append_pax_extensions([(format!("SCHILY.xattr.{name}").as_str(), *value)])
                    .unwrap();
                h.set_mode(0o644);
                h.set_size(5);
                b.append_data(&mut h, p, &b"attrs"[..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

/// Three layers: plain entries of every kind; whiteouts, an opaque directory and a hard
/// link; a large file (so a download can be stopped in its middle).
fn tars() -> Vec<Vec<u8>> {
    let tool = noise(300_000);
    let big = noise(3_000_000);
    vec![
        layer(&[
            E::Dir("etc/", 0o755),
            E::File("etc/a", 0o644, b"alpha"),
            E::Owned("etc/b", 0o600, 1000, b"beta"),
            E::Dir("opq/", 0o755),
            E::File("opq/old", 0o644, b"old"),
            E::Link("lnk", "etc/a"),
            E::Dir("bin/", 0o755),
            E::File("bin/tool", 0o4755, &tool),
            E::Dir("x/", 0o750),
            E::Xattr("x/attr", "user.note", b"hello"),
        ]),
        layer(&[
            E::Dir("etc/", 0o755),
            E::File("etc/.wh.a", 0o644, b""),
            E::File("etc/c", 0o640, b"gamma"),
            E::Hard("etc/c2", "etc/c"),
            E::Dir("opq/", 0o700),
            E::File("opq/.wh..wh..opq", 0o644, b""),
            E::File("opq/new", 0o644, b"new"),
            E::File("gone/deep/.wh.thing", 0o644, b""),
        ]),
        layer(&[E::Dir("data/", 0o755), E::File("data/big.bin", 0o644, &big)]),
    ]
}

/// The image, and its layers' chain IDs (base first) as the store names snapshots.
fn image() -> (TestImage, Vec<oci::Digest>) {
    let tars = tars();
    let img = TestImage::from_tars("amd64", &tars);
    let mut chains: Vec<String> = Vec::new();
    for t in &tars {
        let diff = sha256(t);
        let next = match chains.last() {
            None => diff,
            Some(prev) => sha256(format!("{prev} {diff}").as_bytes()),
        };
        chains.push(next);
    }
    let chains = chains.iter().map(|c| c.parse().unwrap()).collect();
    (img, chains)
}

fn serve(img: &TestImage) -> (FaultRegistry, String) {
    let reg = FaultRegistry::start();
    reg.image("app", "v1", img);
    let name = format!("{}/app:v1", reg.host);
    (reg, name)
}

/// Every entry under `root` as one line: kind, mode, owner, link count, size, content
/// hash, link target, device number and extended attributes (no times, no inodes).
fn tree(root: &Path) -> BTreeMap<String, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            let md = std::fs::symlink_metadata(&p).unwrap();
            let ft = md.file_type();
            let mut line = format!("{:o} {}:{}", md.mode(), md.uid(), md.gid());
            if ft.is_file() {
                let data = std::fs::read(&p).unwrap();
                let sha = hex::encode(Sha256::digest(&data));
                line += &format!(" nlink={} {}B {}", md.nlink(), data.len(), &sha[..12]);
            } else if ft.is_symlink() {
                line += &format!(" -> {}", std::fs::read_link(&p).unwrap().display());
            } else if !ft.is_dir() {
                line += &format!(" rdev={}", md.rdev());
            }
            let mut names = vec![0u8; 4096];
            let n = rustix::fs::llistxattr(&p, &mut names[..]).unwrap();
            let mut attrs: Vec<String> = names[..n]
                .split(|&b| b == 0)
                .filter(|n| !n.is_empty())
                .map(|name| {
                    let name = String::from_utf8_lossy(name).into_owned();
                    let mut v = vec![0u8; 4096];
                    let m = rustix::fs::lgetxattr(&p, name.as_str(), &mut v[..]).unwrap();
                    format!("{name}={}", String::from_utf8_lossy(&v[..m]))
                })
                .collect();
            attrs.sort();
            if !attrs.is_empty() {
                line += &format!(" [{}]", attrs.join(","));
            }
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            out.insert(rel, line);
            if ft.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Whether snapshot `chain` is ready in `env`'s store.
fn ready(env: &Env, chain: &oci::Digest) -> bool {
    env.layout().snapshot(chain).ready().exists()
}

/// The entries of the snapshots' staging directory (unpacks in progress or left behind).
fn staged(env: &Env) -> Vec<String> {
    match std::fs::read_dir(env.layout().snapshot_staging_dir()) {
        Ok(d) => d
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn pull_makes_the_snapshots_create_makes_from_a_loaded_image() {
    let (img, chains) = image();
    let (_reg, name) = serve(&img);

    let pulled = Env::new();
    pulled.ok(&["pull", "-q", &name]);
    for c in &chains {
        assert!(ready(&pulled, c), "snapshot {c} not ready after pull");
    }
    assert!(
        staged(&pulled).is_empty(),
        "left staged: {:?}",
        staged(&pulled)
    );

    // The same image through `load`: no snapshot until `create` makes them from the blobs.
    let loaded = Env::new();
    let mut layout = Layout::create(&loaded.path("layout"));
    let d = layout.image(&img);
    layout.tag(d, "app:v1");
    let archive = loaded.path("app.tar");
    let mut tar = tar::Builder::new(std::fs::File::create(&archive).unwrap());
    tar.append_dir_all(".", &layout.dir).unwrap();
    tar.finish().unwrap();
    drop(tar);
    loaded.ok(&["load", "-q", "-i", archive.to_str().unwrap()]);
    for c in &chains {
        assert!(!ready(&loaded, c), "load made snapshot {c}");
    }
    let id = loaded.ok(&["create", "app:v1"]);
    for c in &chains {
        assert!(ready(&loaded, c), "create did not make snapshot {c}");
    }

    for (i, c) in chains.iter().enumerate() {
        let a = tree(&pulled.layout().snapshot(c).fs());
        let b = tree(&loaded.layout().snapshot(c).fs());
        assert_eq!(
            a, b,
            "layer {i}: pulled (left) and loaded (right) snapshots differ"
        );
    }
    // The trees hold what the layers say, in overlay form.
    let second = tree(&pulled.layout().snapshot(&chains[1]).fs());
    assert_eq!(second["etc/a"], "20000 0:0 rdev=0", "whiteout device");
    assert_eq!(second["gone/deep/thing"], "20000 0:0 rdev=0");
    assert!(
        second["opq"].contains("trusted.overlay.opaque=y"),
        "{second:?}"
    );
    assert!(second["etc/c"].contains("nlink=2"), "{second:?}");
    let first = tree(&pulled.layout().snapshot(&chains[0]).fs());
    assert!(first["x/attr"].contains("user.note=hello"), "{first:?}");
    assert!(first["etc/b"].starts_with("100600 1000:1000"), "{first:?}");
    loaded.ok(&["rm", id.trim()]);
}

#[test]
fn create_after_pull_unpacks_nothing() {
    let (img, chains) = image();
    let (_reg, name) = serve(&img);
    let env = Env::new();
    env.ok(&["pull", "-q", &name]);
    let stamp = |c: &oci::Digest| {
        let dir = env.layout().snapshot(c);
        [dir.path().to_path_buf(), dir.fs(), dir.ready()].map(|p| {
            let md = std::fs::symlink_metadata(&p).unwrap();
            (md.ino(), md.mtime_nsec(), md.ctime_nsec())
        })
    };
    let before: Vec<_> = chains.iter().map(stamp).collect();
    // Spoil every layer blob: a `create` that unpacked one would fail.
    for l in &img.layers {
        let blob = env.layout().blob(&sha256(l).parse().unwrap());
        std::fs::write(&blob, vec![0u8; l.len()]).unwrap();
    }
    let id = env.ok(&["create", &name]);
    let after: Vec<_> = chains.iter().map(stamp).collect();
    assert_eq!(before, after, "create touched the pulled snapshots");
    env.ok(&["rm", id.trim()]);
}

#[test]
fn a_layer_failing_verification_leaves_no_snapshot() {
    let (img, chains) = image();
    let (reg, name) = serve(&img);
    // The same compressed tar with another gzip timestamp: it unpacks to exactly the
    // layer the config names, so only the blob's digest tells it is not the one asked for.
    let real = &img.layers[1];
    let mut lie = real.clone();
    lie[4] ^= 0xff;
    assert_ne!(sha256(&lie), sha256(real));
    reg.rule(Rule::new(
        "GET",
        format!("/blobs/{}", sha256(real)),
        Fault::Body(lie),
    ));
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &name]);
    failed(&run, Duration::from_secs(30), &[&sha256(real)]);
    let snapshot = env.layout().snapshot(&chains[1]);
    assert!(
        !snapshot.ready().exists(),
        "the bad layer's snapshot is ready"
    );
    assert!(
        !snapshot.path().exists(),
        "the bad layer's snapshot is there"
    );
    assert!(staged(&env).is_empty(), "left staged: {:?}", staged(&env));

    reg.clear_rules();
    env.ok(&["pull", "-q", &name]);
    for c in &chains {
        assert!(ready(&env, c), "snapshot {c} not ready after the good pull");
    }
}

#[test]
fn a_pull_killed_mid_download_publishes_no_half_snapshot() {
    let (img, chains) = image();
    let (reg, name) = serve(&img);
    let big = sha256(&img.layers[2]);
    reg.rule(Rule::new(
        "GET",
        format!("/blobs/{big}"),
        Fault::StallMidBody(img.layers[2].len() / 2),
    ));
    let env = Env::new();
    let mut child = env
        .cmd(&["pull", "-q", &name])
        .env("STRATA_REGISTRY_IDLE_TIMEOUT", "60s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the big layer is being unpacked (its staging directory has files).
    let prefix = chains[2].hex().to_string();
    let started = Instant::now();
    let mut unpacking = false;
    while !unpacking && started.elapsed() < Duration::from_secs(30) {
        unpacking = staged(&env).iter().any(|s| {
            s.starts_with(&prefix)
                && env
                    .layout()
                    .snapshot_staging_dir()
                    .join(s)
                    .join("fs/data")
                    .exists()
        });
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "the pull ended before it was killed"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(unpacking, "the stalled layer was never being unpacked");
    assert!(
        !ready(&env, &chains[2]),
        "a half-unpacked snapshot is ready"
    );
    assert!(!env.layout().snapshot(&chains[2]).path().exists());

    // The next pull reaps what the killed one staged, resumes the download (no unpacking
    // then) and `create` unpacks the rest.
    assert!(!staged(&env).is_empty(), "the killed pull staged nothing");
    reg.clear_rules();
    env.ok(&["pull", "-q", &name]);
    assert!(staged(&env).is_empty(), "left staged: {:?}", staged(&env));
    let id = env.ok(&["create", &name]);
    for c in &chains {
        assert!(
            ready(&env, c),
            "snapshot {c} not ready after pull and create"
        );
    }
    let made = tree(&env.layout().snapshot(&chains[2]).fs());
    assert!(made["data/big.bin"].contains("3000000B"), "{made:?}");
    env.ok(&["rm", id.trim()]);
}

#[test]
fn an_up_to_date_pull_fetches_no_blob() {
    let (img, chains) = image();
    let (reg, name) = serve(&img);
    let env = Env::new();
    env.ok(&["pull", "-q", &name]);
    let first = reg.requests().len();
    assert!(
        reg.requests()
            .iter()
            .any(|r| r.contains(&sha256(&img.config))),
        "the first pull fetched the config"
    );
    env.ok(&["pull", "-q", &name]);
    let again: Vec<String> = reg.requests()[first..].to_vec();
    assert!(
        !again.iter().any(|r| r.contains("/blobs/")),
        "an up-to-date pull fetched blobs: {again:?}"
    );
    for c in &chains {
        assert!(ready(&env, c));
    }
}
