//! The store keeps each layer once; rmi keeps what another image uses; prune reclaims exactly
//! the dangling content and says how much.

mod harness;

use harness::Env;
use harness::images::{Layout, TestImage};

fn unique_bytes(img: &TestImage) -> u64 {
    (img.config.len() + img.manifest.len()) as u64
}

#[test]
fn shared_layers_are_stored_once_and_rmi_keeps_them() {
    let env = Env::new();
    let base: &[(&str, &[u8])] = &[("base/big", &[7u8; 200_000])];
    let a = TestImage::new("amd64", &[base, &[("a", b"a")]]);
    let b = TestImage::new("amd64", &[base, &[("b", b"b")]]);
    assert_eq!(a.layers[0], b.layers[0]);
    let mut layout = Layout::create(&env.path("src"));
    let (da, db) = (layout.image(&a), layout.image(&b));
    layout.tag(da, "a");
    layout.tag(db, "b");
    let src = layout.dir.display().to_string();
    env.ok(&["copy", &format!("oci:{src}:a"), "img/a:1"]);
    env.ok(&["copy", &format!("oci:{src}:b"), "img/b:1"]);

    let (bytes, files) = env.blob_usage();
    let expected = a
        .layers
        .iter()
        .chain(&b.layers[1..])
        .map(|l| l.len() as u64)
        .sum::<u64>()
        + unique_bytes(&a)
        + unique_bytes(&b);
    assert_eq!(files, 7, "3 distinct layers + 2 configs + 2 manifests");
    assert_eq!(bytes, expected, "the shared layer is on disk once");

    let out = env.ok(&["rmi", "img/a:1"]);
    assert!(out.contains("Untagged: img/a:1"), "{out}");
    assert!(out.contains(&format!("Deleted: {}", a.id())), "{out}");
    let (bytes_after, files_after) = env.blob_usage();
    assert_eq!(
        files_after, 4,
        "a's own layer, config and manifest are gone; the shared layer stays"
    );
    assert_eq!(
        bytes_after,
        expected - unique_bytes(&a) - a.layers[1].len() as u64
    );
    // b is whole: it can still be saved.
    env.ok(&["save", "-o", env.path("b.tar").to_str().unwrap(), "img/b:1"]);
}

#[test]
fn prune_reclaims_exactly_the_dangling_content() {
    let env = Env::new();
    let old = TestImage::new("amd64", &[&[("v", b"old version, with its own bytes")]]);
    let new = TestImage::new("amd64", &[&[("v", b"new")]]);
    let mut layout = Layout::create(&env.path("src"));
    let (d_old, d_new) = (layout.image(&old), layout.image(&new));
    layout.tag(d_old, "old");
    layout.tag(d_new, "new");
    let src = layout.dir.display().to_string();
    env.ok(&["copy", &format!("oci:{src}:old"), "app:latest"]);
    env.ok(&["copy", &format!("oci:{src}:new"), "app:latest"]);
    // The old image is now dangling: listed as <none>.
    let listing = env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert!(
        listing.contains(&format!("<none>:<none> {}", &old.id()[7..19])),
        "{listing}"
    );
    assert_eq!(
        env.ok(&["images", "-q", "--filter", "dangling=true"])
            .trim(),
        &old.id()[7..19]
    );

    let (before, _) = env.blob_usage();
    let out = env.ok(&["image", "prune", "-f"]);
    let (after, _) = env.blob_usage();
    let freed = unique_bytes(&old) + old.layers[0].len() as u64;
    assert_eq!(
        before - after,
        freed,
        "exactly the dangling image's blobs are gone"
    );
    assert!(out.contains(&format!("deleted: {}", old.id())), "{out}");
    assert!(
        out.contains(&format!(
            "Total reclaimed space: {}",
            harness::go_human_size(freed, 4)
        )),
        "{out}"
    );
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]).trim(), new.id());

    let out = env.ok(&["image", "prune", "-f"]);
    assert!(out.contains("Total reclaimed space: 0B"), "{out}");
}

#[test]
fn human_sizes_match_docker() {
    for (n, s) in [
        (0, "0B"),
        (999, "999B"),
        (1000, "1kB"),
        (1234, "1.234kB"),
        (12346, "12.35kB"),
        (12394, "12.39kB"),
        (7_330_000, "7.33MB"),
    ] {
        assert_eq!(harness::go_human_size(n, 4), s);
    }
}
