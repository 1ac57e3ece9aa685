//! The writable layer through the real binary: files go with `rm`, `diff` lists exactly
//! what changed, `commit` makes an image that runs with them and that umoci unpacks with
//! the right files and whiteouts; `rmi`/`prune` never take an image a container needs.
//! Needs root, runc and umoci; fails without.

mod harness;

use std::io::Read;

use harness::require;
use harness::rootfs::Containers;
use serde_json::Value;

const CHANGES: &str = "echo a > /newfile; rm /gone; rm -r /dir; mkdir /dir; \
                       echo r > /dir/replaced; echo c >> /kept; mkdir -p /a/b; touch /a/b/c";

#[test]
fn files_written_go_with_rm() {
    let c = Containers::new();
    c.ok(&["run", "--name", "wr", "bb", "sh", "-c", "echo x > /written"]);
    assert_eq!(c.ok(&["diff", "wr"]), "A /written\n");
    // Not in the image: a new container does not see it.
    assert_eq!(
        c.status(&["run", "--rm", "bb", "test", "-e", "/written"]).0,
        1
    );
    c.ok(&["rm", "wr"]);
    c.assert_clean();
}

#[test]
fn diff_commit_and_umoci() {
    let c = Containers::new();
    c.ok(&[
        "run", "--name", "chg", "-e", "KEEP=1", "bb", "sh", "-c", CHANGES,
    ]);
    // Exactly Docker's lines: a deleted lower file, a replaced directory (deleted, then
    // its new content added), a changed file, new paths.
    assert_eq!(
        c.ok(&["diff", "chg"]),
        "A /a\nA /a/b\nA /a/b/c\nD /dir\nA /dir/replaced\nD /gone\nC /kept\nA /newfile\n"
    );
    let id = c.ok(&[
        "commit",
        "-a",
        "tester",
        "-m",
        "a message",
        "-c",
        "ENV C=1",
        "-c",
        "CMD [\"cat\", \"/newfile\"]",
        "chg",
        "committed:v1",
    ]);
    let id = id.trim();
    assert!(id.starts_with("sha256:"), "{id}");
    let v: Value = serde_json::from_str(&c.ok(&["image", "inspect", "committed:v1"])).unwrap();
    assert_eq!(v[0]["Id"], id);
    assert_eq!(v[0]["Author"], "tester");
    assert_eq!(v[0]["Comment"], "a message");
    assert_eq!(v[0]["RootFS"]["Layers"].as_array().unwrap().len(), 2);
    let env: Vec<&str> = v[0]["Config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(env.contains(&"KEEP=1") && env.contains(&"C=1"), "{env:?}");
    // The committed layer's SIZE is its files unpacked: /newfile (2), /dir/replaced (2),
    // /kept (8); an empty file, directories and whiteouts count nothing.
    let sizes = c.ok(&[
        "history",
        "-H=false",
        "--format",
        "{{.Size}}",
        "committed:v1",
    ]);
    assert_eq!(sizes.lines().next(), Some("12"), "{sizes}");
    // The new image runs with the container's files, its CMD from --change.
    assert_eq!(c.ok(&["run", "--rm", "committed:v1"]), "a\n");
    assert_eq!(
        c.ok(&[
            "run",
            "--rm",
            "committed:v1",
            "sh",
            "-c",
            "test ! -e /gone && test ! -e /dir/old && cat /dir/replaced /kept && echo $C"
        ]),
        "r\nlower\nc\n1\n"
    );
    // The base image is unchanged.
    assert_eq!(
        c.ok(&[
            "run",
            "--rm",
            "bb",
            "sh",
            "-c",
            "cat /gone /dir/old; test ! -e /newfile && echo base"
        ]),
        "lower\nlower\nbase\n"
    );
    // Saved as an OCI layout, umoci unpacks it with the right files.
    require("umoci");
    let layout = c.path("layout");
    c.ok(&[
        "copy",
        "-q",
        "committed:v1",
        &format!("oci:{}:v1", layout.display()),
    ]);
    let bundle = c.path("bundle");
    harness::peer(
        std::process::Command::new("umoci")
            .arg("unpack")
            .arg("--image")
            .arg(format!("{}:v1", layout.display()))
            .arg(&bundle),
    );
    let rootfs = bundle.join("rootfs");
    assert_eq!(
        std::fs::read_to_string(rootfs.join("newfile")).unwrap(),
        "a\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("dir/replaced")).unwrap(),
        "r\n"
    );
    assert_eq!(
        std::fs::read_to_string(rootfs.join("kept")).unwrap(),
        "lower\nc\n"
    );
    assert!(!rootfs.join("gone").exists());
    assert!(!rootfs.join("dir/old").exists());
    assert!(rootfs.join("a/b/c").exists());
    // The committed layer has Docker's whiteout entries, and no runtime mount points.
    let mut names = top_layer_entries(&layout);
    names.sort();
    let mut want = vec![
        "a",
        "a/b",
        "a/b/c",
        "dir",
        "dir/.wh..wh..opq",
        "dir/replaced",
        ".wh.gone",
        "kept",
        "newfile",
    ];
    want.sort();
    assert_eq!(names, want);
    c.ok(&["rm", "chg"]);
    c.assert_clean();
}

/// Entry names of the last layer of the image in an OCI layout.
fn top_layer_entries(layout: &std::path::Path) -> Vec<String> {
    let blob = |d: &str| {
        layout
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
    };
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let m = index["manifests"][0]["digest"].as_str().unwrap();
    let manifest: Value = serde_json::from_slice(&std::fs::read(blob(m)).unwrap()).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    let last = layers.last().unwrap()["digest"].as_str().unwrap();
    let mut data = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(blob(last)).unwrap())
        .read_to_end(&mut data)
        .unwrap();
    let mut a = tar::Archive::new(&data[..]);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            e.path()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches("./")
                .trim_end_matches('/')
                .to_string()
        })
        .filter(|n| !n.is_empty())
        .collect()
}

#[test]
fn images_in_use_stay() {
    let c = Containers::new();
    c.image("other", &["ENV PATH=/bin", "CMD [\"sh\"]"]);
    c.ok(&[
        "create",
        "--name",
        "user",
        "bb",
        "sh",
        "-c",
        "echo still-runs",
    ]);
    // rmi refuses an image a container (even a stopped one) uses.
    let (code, _, err) = c.status(&["rmi", "bb"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("conflict") && err.contains("is using its referenced image"),
        "{err}"
    );
    // prune -a keeps it too (but takes the unused one).
    let pruned = c.ok(&["image", "prune", "-a", "-f"]);
    assert!(pruned.contains("untagged: other:latest"), "{pruned}");
    assert!(!pruned.contains("bb:latest"), "{pruned}");
    // rmi -f untags and deletes it as dockerd does (only a running container keeps an
    // image); the container keeps the content it needs, runs, and `ps` shows the bare ID.
    let id = c.ok(&["image", "inspect", "-f", "{{.Id}}", "bb"]);
    let id = id.trim();
    let out = c.ok(&["rmi", "-f", "bb"]);
    assert_eq!(out, format!("Untagged: bb:latest\nDeleted: {id}\n"));
    assert_eq!(c.ok(&["images", "-aq"]), "");
    let (code, _, _) = c.status(&["image", "inspect", id]);
    assert_eq!(code, 1, "the image is gone");
    assert_eq!(
        c.ok(&["ps", "-a", "--format", "{{.Image}}"]),
        format!("{}\n", &id[7..19])
    );
    c.ok(&["image", "prune", "-a", "-f"]);
    let (code, out, err) = c.status(&["start", "-a", "user"]);
    assert_eq!((code, out.as_str()), (0, "still-runs\n"), "{err}");
    // Once the container is gone, its image's content and snapshots go with the next prune.
    c.ok(&["rm", "user"]);
    c.ok(&["image", "prune", "-f"]);
    assert_eq!(c.ok(&["images", "-aq"]), "");
    let snaps: Vec<_> = std::fs::read_dir(c.layout().snapshots_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.len() == 64)
        .collect();
    assert!(snaps.is_empty(), "snapshots left: {snaps:?}");
    c.assert_clean();
}
