//! A pull killed with SIGKILL mid-transfer leaves a consistent store and the next pull
//! resumes; concurrent pulls of one image both succeed.

mod harness;

use std::time::{Duration, Instant};

use harness::fake_registry::{FakeRegistry, Faults};
use harness::images::{TestImage, noise, sha256};
use harness::{Env, Registry, dir_usage};

#[test]
fn a_killed_pull_leaves_a_consistent_store_and_the_next_one_resumes() {
    let data = noise(4_000_000);
    let img = TestImage::new("amd64", &[&[("big.bin", &data)]]);
    let layer = sha256(&img.layers[0]);
    let mut faults = Faults::default();
    faults.slow.insert(layer.clone(), 1_000_000);
    let reg = FakeRegistry::start("slow/img", "1", &img, faults);
    let env = Env::new();
    let name = format!("{}/slow/img:1", reg.host);

    let mut child = env.cmd(&["pull", "-q", &name]).spawn().unwrap();
    let ingest = env.layout().ingest_dir();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (bytes, _) = dir_usage(&ingest);
        if bytes > 1_000_000 {
            break;
        }
        assert!(Instant::now() < deadline, "the pull never got going");
        assert!(
            child.try_wait().unwrap().is_none(),
            "the pull ended before it was killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // The store is consistent: commands work, no image, no half blob under blobs/.
    assert_eq!(env.ok(&["images", "-q", "-a"]).trim(), "");
    assert!(
        !env.layout()
            .blob(&layer.parse::<oci::Digest>().unwrap())
            .exists()
    );

    reg.set_faults(Faults::default());
    env.ok(&["pull", "-q", &name]);
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]).trim(), img.id());
    let resumed = reg.requests().into_iter().any(|r| {
        r.method == "GET"
            && r.path.ends_with(&layer)
            && r.range
                .as_deref()
                .and_then(|v| v.strip_prefix("bytes="))
                .and_then(|v| v.split('-').next())
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|off| off > 0)
    });
    assert!(
        resumed,
        "the second pull asked only for the rest of the layer: {:?}",
        reg.requests()
    );
    let (left, _) = dir_usage(&ingest);
    assert_eq!(
        left, 0,
        "no partial data is left once the blob is committed"
    );
}

#[test]
fn two_concurrent_pulls_of_one_image_both_succeed() {
    let reg = Registry::start();
    let seed = Env::new();
    let data = noise(3_000_000);
    let tar = harness::images::tar_of(&[("x.bin", &data), ("y.txt", b"y")]);
    std::fs::write(seed.path("rootfs.tar"), tar).unwrap();
    let name = format!("{}/both/img:1", reg.host);
    seed.ok(&["import", seed.path("rootfs.tar").to_str().unwrap(), &name]);
    seed.ok(&["push", "-q", &name]);

    let env = Env::new();
    let children: Vec<_> = (0..2)
        .map(|_| {
            env.cmd(&["pull", "-q", &name])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "a concurrent pull failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ids = env.ok(&["images", "-q", "--no-trunc"]);
    assert_eq!(ids.lines().count(), 1, "{ids}");
    assert_eq!(
        ids.trim(),
        seed.ok(&["images", "-q", "--no-trunc", &name]).trim()
    );
}
