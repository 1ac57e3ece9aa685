//! Bad input gets a clear error that says what and where, a non-zero exit, and changes
//! nothing: a lying registry, truncated or corrupt archives, malformed arguments.

mod harness;

use harness::Env;
use harness::fake_registry::{FakeRegistry, Faults};
use harness::images::{TestImage, sha256};

#[test]
fn a_blob_whose_digest_does_not_match_is_rejected_and_not_stored() {
    let img = TestImage::new("amd64", &[&[("data", &[1u8; 50_000])]]);
    let layer = sha256(&img.layers[0]);
    let mut faults = Faults::default();
    let mut evil = img.layers[0].clone();
    let n = evil.len();
    evil[n / 2] ^= 0xff;
    faults.corrupt.insert(layer.clone(), evil.clone());
    let reg = FakeRegistry::start("lying/img", "1", &img, faults);
    let env = Env::new();
    let name = format!("{}/lying/img:1", reg.host);
    let (code, err) = env.fails(&["pull", &name]);
    assert_eq!(code, 1);
    assert!(err.contains(&layer), "the error names the blob: {err}");
    assert!(err.contains(&sha256(&evil)), "and what it hashed to: {err}");
    assert_eq!(
        env.ok(&["images", "-q", "-a"]).trim(),
        "",
        "no image was stored"
    );
    assert!(
        !env.layout()
            .blob(&layer.parse::<oci::Digest>().unwrap())
            .exists(),
        "the bad blob is not in the store"
    );
    assert!(
        !env.layout()
            .blob(&sha256(&evil).parse::<oci::Digest>().unwrap())
            .exists()
    );

    // The same registry, telling the truth now: the pull succeeds.
    reg.set_faults(Faults::default());
    env.ok(&["pull", &name]);
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]).trim(), img.id());
}

fn saved_archive(env: &Env) -> Vec<u8> {
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let tar = harness::images::tar_of(&[("f", &noise)]);
    std::fs::write(env.path("rootfs.tar"), tar).unwrap();
    env.ok(&[
        "import",
        env.path("rootfs.tar").to_str().unwrap(),
        "victim:1",
    ]);
    env.ok(&[
        "save",
        "-o",
        env.path("ok.tar").to_str().unwrap(),
        "victim:1",
    ]);
    env.ok(&["rmi", "victim:1"]);
    std::fs::read(env.path("ok.tar")).unwrap()
}

#[test]
fn truncated_and_corrupt_archives_fail_cleanly() {
    let env = Env::new();
    let good = saved_archive(&env);
    let (blobs_before, _) = env.blob_usage();

    let truncated = env.path("truncated.tar");
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    let (code, err) = env.fails(&["load", "-i", truncated.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("truncated.tar"),
        "the error names the archive: {err}"
    );

    // Flip a byte in the middle of the layer blob (the largest entry).
    let mut corrupt = good.clone();
    let pos = find_largest_entry_data(&good);
    corrupt[pos] ^= 0x55;
    let path = env.path("corrupt.tar");
    std::fs::write(&path, &corrupt).unwrap();
    let (code, err) = env.fails(&["load", "-i", path.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("sha256:"),
        "a digest mismatch is reported: {err}"
    );

    let (code, err) = env.fails(&["load", "-i", env.path("missing.tar").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("missing.tar"), "{err}");

    std::fs::write(env.path("garbage.tar"), b"this is not a tar archive at all").unwrap();
    env.fails(&["load", "-i", env.path("garbage.tar").to_str().unwrap()]);

    assert_eq!(
        env.ok(&["images", "-q", "-a"]).trim(),
        "",
        "nothing was loaded"
    );
    let (blobs_after, _) = env.blob_usage();
    assert!(
        blobs_after <= blobs_before,
        "no new blobs stayed behind: {:?}",
        std::fs::read_dir(env.layout().blobs_dir_of(oci::Algorithm::Sha256))
            .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
    );
    // And the good archive still loads.
    let ok = env.path("ok.tar");
    assert!(
        env.ok(&["load", "-i", ok.to_str().unwrap()])
            .contains("Loaded image: victim:1")
    );
}

/// The offset of the middle of the largest entry's data in a tar.
fn find_largest_entry_data(tar_bytes: &[u8]) -> usize {
    let mut a = tar::Archive::new(tar_bytes);
    let mut best = (0u64, 0u64);
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let size = e.header().size().unwrap();
        if size > best.1 {
            best = (e.raw_file_position(), size);
        }
    }
    (best.0 + best.1 / 2) as usize
}

#[test]
fn bad_arguments_say_what_is_wrong() {
    let env = Env::new();
    let (code, err) = env.fails(&["inspect", "no-such-image:1"]);
    assert_eq!(code, 1);
    assert!(err.contains("no-such-image"), "{err}");
    let (code, err) = env.fails(&["rmi", "no-such-image"]);
    assert_eq!(code, 1);
    assert!(err.contains("No such image: no-such-image"), "{err}");
    let (code, err) = env.fails(&["tag", "UPPER/Case", "x"]);
    assert_ne!(code, 0);
    assert!(
        err.to_lowercase().contains("invalid reference format"),
        "{err}"
    );
    let (code, _) = env.fails(&["images", "--no-such-flag"]);
    assert_eq!(code, 125, "flag errors exit 125, as Docker's");
    let (code, err) = env.fails(&["pull", "127.0.0.1:1/nothing/here:1"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("127.0.0.1:1"),
        "the error names the registry: {err}"
    );
    let (code, err) = env.fails(&["import", env.path("nope.tar").to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("nope.tar"), "{err}");
}
