//! umoci (a Go implementation of OCI layers, installed from Debian) reads the layers we
//! write, and we apply the layers it writes (including whiteouts) exactly as it does.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{build_tree, describe};
use layer::{ApplyOptions, CreateOptions, apply_layer_auto, create_layer};

fn umoci(args: &[&str], dir: &Path) {
    let out = Command::new("umoci")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("umoci must be installed (apt install umoci)");
    assert!(
        out.status.success(),
        "umoci {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn blob(layout: &Path, digest: &str) -> std::path::PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

#[test]
fn umoci_reads_our_layers_and_we_read_umocis() {
    assert!(
        rustix::process::geteuid().is_root(),
        "needs root (devices, owners)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let src = t.join("src");
    fs::create_dir(&src).unwrap();
    build_tree(&src);
    create_layer(
        &src,
        fs::File::create(t.join("ours.tar")).unwrap(),
        &CreateOptions::default(),
    )
    .unwrap();

    // umoci applies our layer.
    umoci(&["init", "--layout", "img"], t);
    umoci(&["new", "--image", "img:a"], t);
    umoci(&["raw", "add-layer", "--image", "img:a", "ours.tar"], t);
    umoci(&["unpack", "--image", "img:a", "bundle-a"], t);
    assert_eq!(describe(&src), describe(&t.join("bundle-a/rootfs")));

    // umoci adds a directory layer and a whiteout layer; we apply all three.
    let extra = t.join("extra");
    fs::create_dir_all(extra.join("inner")).unwrap();
    fs::write(extra.join("inner/file"), "from umoci").unwrap();
    umoci(&["insert", "--image", "img:a", "extra", "/d/extra"], t);
    umoci(&["insert", "--image", "img:a", "--whiteout", "/d/sub"], t);
    umoci(&["unpack", "--image", "img:a", "bundle-b"], t);

    let layout = t.join("img");
    let index = json(&layout.join("index.json"));
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest = json(&blob(&layout, manifest_digest));
    let config = json(&blob(
        &layout,
        manifest["config"]["digest"].as_str().unwrap(),
    ));
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 3);
    let mine = t.join("mine");
    fs::create_dir(&mine).unwrap();
    for (i, l) in layers.iter().enumerate() {
        let f = fs::File::open(blob(&layout, l["digest"].as_str().unwrap())).unwrap();
        let (_, diff_id) = apply_layer_auto(&mine, f, &ApplyOptions::default()).unwrap();
        assert_eq!(
            diff_id.to_string(),
            config["rootfs"]["diff_ids"][i].as_str().unwrap(),
            "layer {i}"
        );
    }
    assert!(!mine.join("d/sub").exists());
    assert_eq!(
        fs::read_to_string(mine.join("d/extra/inner/file")).unwrap(),
        "from umoci"
    );
    // One known difference: umoci restores the mtime of a directory the layer changes
    // without listing it (`d`, which gains `extra` and loses `sub`); Docker and
    // containerd, like us, leave it at the time of the change.
    let without_d_mtime = |mut m: std::collections::BTreeMap<String, String>| {
        let d = m.get_mut("d").unwrap();
        *d = d
            .split(' ')
            .filter(|f| !f.starts_with("mtime="))
            .collect::<Vec<_>>()
            .join(" ");
        m
    };
    assert_eq!(
        without_d_mtime(describe(&t.join("bundle-b/rootfs"))),
        without_d_mtime(describe(&mine))
    );
}
