//! Crash loops (issue 10): `pull`, `push`, `load` and `image prune` killed with SIGKILL (and
//! now and then interrupted with SIGINT or SIGTERM) at pseudo-random points, again and again. After every kill the store must be consistent:
//! every blob's name matches its content, the ingest area stays bounded, `images` and
//! `system df` work and every listed image is whole; and the next run of the command
//! completes. `STRATA_LONG=1` runs 100 kills of pull and 50 of each other command.

mod harness;

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use harness::images::{Layout, TestImage, noise, sha256};
use harness::{Env, Registry, dir_usage};
use sha2::{Digest as _, Sha256};

/// Kills per command: a few in CI, many in the long mode.
fn kills(ci: usize, long: usize) -> usize {
    if std::env::var_os("STRATA_LONG").is_some() {
        long
    } else {
        ci
    }
}

/// Deterministic pseudo-random delays (xorshift), so a failing kill point can be replayed.
struct Delays(u64);

impl Delays {
    fn next(&mut self, max: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let ms = max.as_millis().max(1) as u64;
        Duration::from_millis(self.0 % ms)
    }
}

/// A three-layer image of about 4.5 MB, in a registry.
struct Fixture {
    reg: Registry,
    img: TestImage,
    name: String,
    bytes: u64,
}

fn fixture() -> Fixture {
    let reg = Registry::start();
    let layers: Vec<Vec<u8>> = (0..3).map(|i| noise(1_500_000 + i)).collect();
    let img = TestImage::new(
        "amd64",
        &[
            &[("a.bin", &layers[0])],
            &[("b.bin", &layers[1])],
            &[("c.bin", &layers[2])],
        ],
    );
    let seed = Env::new();
    let mut layout = Layout::create(&seed.path("layout"));
    let d = layout.image(&img);
    layout.tag(d, "v1");
    let name = format!("{}/crash/app:v1", reg.host);
    seed.ok(&[
        "copy",
        &format!("oci:{}:v1", seed.path("layout").display()),
        &format!("docker://{name}"),
    ]);
    let bytes = img.layers.iter().map(|l| l.len() as u64).sum::<u64>() + img.config.len() as u64;
    Fixture {
        reg,
        img,
        name,
        bytes,
    }
}

/// Streams a file through SHA-256.
fn file_digest(path: &Path) -> String {
    let mut f = std::fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            return format!("sha256:{}", hex::encode(h.finalize()));
        }
        h.update(&buf[..n]);
    }
}

/// The store after a kill: blobs named for their content, a bounded ingest area, working
/// `images` and `system df`, and every listed image whole (`save` reads all its blobs).
fn assert_consistent(env: &Env, ingest_bound: u64, after: &str) {
    let dir = env.layout().blobs_dir_of(oci::Algorithm::Sha256);
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let name = format!("sha256:{}", e.file_name().to_string_lossy());
        assert_eq!(
            file_digest(&e.path()),
            name,
            "{after}: a blob's name is not its digest"
        );
    }
    let (ingest, _) = dir_usage(&env.layout().ingest_dir());
    assert!(
        ingest <= ingest_bound,
        "{after}: the ingest area holds {ingest} bytes (bound {ingest_bound})"
    );
    env.ok(&["system", "df"]);
    for id in env.ok(&["images", "-a", "-q", "--no-trunc"]).lines() {
        env.ok(&["save", "-o", env.path("whole.tar").to_str().unwrap(), id]);
    }
}

/// The signal for kill number `i`: mostly SIGKILL, every third a SIGINT or SIGTERM (Ctrl-C,
/// a CI timeout), which must not leave more behind than a SIGKILL does.
fn signal_for(i: usize) -> rustix::process::Signal {
    use rustix::process::Signal;
    match i % 6 {
        2 => Signal::INT,
        5 => Signal::TERM,
        _ => Signal::KILL,
    }
}

/// Runs `strata ARGS` and sends it `signal` after `delay` (then waits for it, bounded);
/// returns whether it had finished (successfully) first.
fn kill_after(env: &Env, args: &[&str], delay: Duration, signal: rustix::process::Signal) -> bool {
    let mut child = env
        .cmd(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + delay;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let pid = rustix::process::Pid::from_child(&child);
    let _ = rustix::process::kill_process(pid, signal);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            // A SIGINT/SIGTERM that came too late to interrupt anything may let it succeed.
            return status.success() && signal != rustix::process::Signal::KILL;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("strata {args:?} still running 30 s after {signal:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// How long one uninterrupted run of `strata ARGS` takes (it must succeed).
fn timed(env: &Env, args: &[&str]) -> Duration {
    let t = Instant::now();
    env.ok(args);
    t.elapsed()
}

/// Drops every image so that the next pull or load has everything to do again.
fn empty(env: &Env) {
    let ids = env.ok(&["images", "-a", "-q"]);
    let ids: Vec<&str> = ids.lines().collect();
    if !ids.is_empty() {
        let mut args = vec!["rmi", "-f"];
        args.extend(ids);
        env.ok(&args);
    }
}

#[test]
fn pulls_killed_at_random_points_keep_the_store_consistent() {
    let f = fixture();
    let env = Env::new();
    let full = timed(&env, &["pull", "-q", &f.name]);
    empty(&env);
    let mut delays = Delays(0x5eed_0001);
    for i in 0..kills(15, 100) {
        let delay = delays.next(full + full / 4);
        if kill_after(&env, &["pull", "-q", &f.name], delay, signal_for(i)) {
            empty(&env);
        }
        assert_consistent(
            &env,
            2 * f.bytes,
            &format!("pull killed by {:?} after {delay:?} (#{i})", signal_for(i)),
        );
    }
    env.ok(&["pull", "-q", &f.name]);
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]).trim(), f.img.id());
    assert_eq!(
        dir_usage(&env.layout().ingest_dir()).0,
        0,
        "a whole pull leaves no ingest"
    );
}

#[test]
fn pushes_killed_at_random_points_keep_both_sides_consistent() {
    let f = fixture();
    let env = Env::new();
    env.ok(&["pull", "-q", &f.name]);
    let target = format!("{}/crash/pushed:v1", f.reg.host);
    env.ok(&["tag", &f.name, &target]);
    let full = timed(&env, &["push", &target]);
    let mut delays = Delays(0x5eed_0002);
    for i in 0..kills(8, 50) {
        // A new repository each time, so every push has its blobs to send (mounts aside).
        let name = format!("{}/crash/pushed{i}:v1", f.reg.host);
        env.ok(&["tag", &f.name, &name]);
        let delay = delays.next(full + full / 4);
        kill_after(&env, &["push", &name], delay, signal_for(i));
        assert_consistent(
            &env,
            2 * f.bytes,
            &format!("push killed by {:?} after {delay:?} (#{i})", signal_for(i)),
        );
        // The next push of the same name completes, and what it pushed pulls whole.
        env.ok(&["push", &name]);
        let check = Env::new();
        check.ok(&["pull", "-q", &name]);
        assert_eq!(check.ok(&["images", "-q", "--no-trunc"]).trim(), f.img.id());
    }
}

#[test]
fn loads_killed_at_random_points_keep_the_store_consistent() {
    let f = fixture();
    let env = Env::new();
    env.ok(&["pull", "-q", &f.name]);
    let archive = env.path("app.tar");
    env.ok(&["save", "-o", archive.to_str().unwrap(), &f.name]);
    empty(&env);
    let load = ["load", "-i", archive.to_str().unwrap()];
    let full = timed(&env, &load);
    empty(&env);
    let mut delays = Delays(0x5eed_0003);
    for i in 0..kills(8, 50) {
        let delay = delays.next(full + full / 4);
        if kill_after(&env, &load, delay, signal_for(i)) {
            empty(&env);
        }
        assert_consistent(
            &env,
            2 * f.bytes,
            &format!("load killed by {:?} after {delay:?} (#{i})", signal_for(i)),
        );
    }
    env.ok(&load);
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]).trim(), f.img.id());
}

#[test]
fn prunes_killed_at_random_points_keep_the_store_consistent() {
    let f = fixture();
    let env = Env::new();
    let archive = env.path("app.tar");
    env.ok(&["pull", "-q", &f.name]);
    env.ok(&["save", "-o", archive.to_str().unwrap(), &f.name]);
    let load = ["load", "-q", "-i", archive.to_str().unwrap()];
    // A second, smaller image beside it, so that a prune has more than one to remove.
    let small = env.rootfs_tar("small.tar", "small");
    let refill = |env: &Env| {
        env.ok(&load);
        env.ok(&["import", small.to_str().unwrap(), "small:v1"]);
    };
    refill(&env);
    let full = timed(&env, &["image", "prune", "-a", "-f"]);
    let mut delays = Delays(0x5eed_0004);
    for i in 0..kills(8, 50) {
        refill(&env);
        let delay = delays.next(full + full / 4);
        kill_after(&env, &["image", "prune", "-a", "-f"], delay, signal_for(i));
        assert_consistent(
            &env,
            2 * f.bytes,
            &format!("prune killed by {:?} after {delay:?} (#{i})", signal_for(i)),
        );
    }
    env.ok(&["image", "prune", "-a", "-f"]);
    assert_eq!(env.ok(&["images", "-a", "-q"]), "");
    assert_eq!(env.blob_usage().1, 0, "a whole prune leaves no blob");
}

/// The image digests a test names all point at one image (guards the fixture itself).
#[test]
fn the_fixture_image_is_what_the_registry_serves() {
    let f = fixture();
    let env = Env::new();
    env.ok(&["pull", "-q", &f.name]);
    let digests = env.ok(&["images", "--digests", "--format", "{{.Digest}}"]);
    assert_eq!(digests.trim(), f.img.digest());
    assert_eq!(sha256(&f.img.config), f.img.id());
}
