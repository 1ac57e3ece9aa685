//! save / load / copy round trips through archives, with the real binary.

mod harness;

use harness::Env;
use harness::images::{image_id, rootfs_bytes, sha256};
use predicates::prelude::*;

#[test]
fn save_and_load_round_trip() {
    let env = Env::new();
    let tar = env.rootfs_tar("root.tar", "one");
    let id = image_id(&env.ok(&["import", "-c", "ENV X=1", tar.to_str().unwrap(), "app:v1"]));
    env.ok(&["tag", "app:v1", "app:v2"]);
    let other = image_id(&env.ok(&[
        "import",
        env.rootfs_tar("b.tar", "b").to_str().unwrap(),
        "other",
    ]));
    let archive = env.path("out.tar");
    assert_eq!(
        env.ok(&[
            "save",
            "-o",
            archive.to_str().unwrap(),
            "app:v1",
            "app:v2",
            "other"
        ]),
        ""
    );

    let dst = Env::new();
    assert_eq!(
        dst.ok(&["load", "-i", archive.to_str().unwrap()]),
        "Loaded image: app:v1\nLoaded image: app:v2\nLoaded image: other:latest\n"
    );
    assert_eq!(
        dst.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"])
            .lines()
            .filter(|l| l.contains(&id[7..19]))
            .count(),
        2
    );
    assert_eq!(
        dst.ok(&["inspect", "-f", "{{.Id}}", "app:v2"]),
        format!("{id}\n")
    );
    assert_eq!(
        dst.ok(&["inspect", "-f", "{{.Id}}", "other"]),
        format!("{other}\n")
    );
    assert_eq!(
        dst.ok(&["inspect", "-f", "{{json .Config.Env}}", "app:v1"]),
        "[\"X=1\"]\n"
    );

    // Through a pipe: save to stdout, load from stdin (not seekable: spooled).
    let saved = env.strata().args(["save", "app:v1"]).output().unwrap();
    assert!(saved.status.success());
    assert!(saved.stdout.len() > 1024);
    let third = Env::new();
    third
        .strata()
        .args(["load"])
        .write_stdin(saved.stdout)
        .assert()
        .success()
        .stdout("Loaded image: app:v1\n");
    // -q hides progress only: the loaded names are still printed, as Docker's are.
    third
        .strata()
        .args(["load", "-q", "-i", archive.to_str().unwrap()])
        .assert()
        .success()
        .stdout("Loaded image: app:v1\nLoaded image: app:v2\nLoaded image: other:latest\n");
}

/// Regression (issue 10): `docker load` takes a gzip or zstd compressed archive, from a
/// file or a pipe; strata refused both.
#[test]
fn loads_compressed_archives_from_a_file_and_a_pipe() {
    use std::io::Write;
    let env = Env::new();
    let id = image_id(&env.ok(&[
        "import",
        env.rootfs_tar("a.tar", "a").to_str().unwrap(),
        "app:v1",
    ]));
    let archive = env.path("a-image.tar");
    env.ok(&["save", "-o", archive.to_str().unwrap(), "app:v1"]);
    let tar = std::fs::read(&archive).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    for (what, bytes) in [("gzip", &gz), ("zstd", &zst)] {
        // From a file.
        let dst = Env::new();
        let file = dst.path("image.tar.x");
        std::fs::write(&file, bytes).unwrap();
        assert_eq!(
            dst.ok(&["load", "-i", file.to_str().unwrap()]),
            "Loaded image: app:v1\n",
            "{what}"
        );
        assert_eq!(dst.ok(&["images", "-q", "--no-trunc"]), format!("{id}\n"));
        // From a pipe.
        let dst = Env::new();
        dst.strata()
            .arg("load")
            .write_stdin(bytes.clone())
            .assert()
            .success()
            .stdout("Loaded image: app:v1\n");
        assert_eq!(dst.ok(&["images", "-q", "--no-trunc"]), format!("{id}\n"));
    }
}

/// Regression: `save -o /dev/null` (or a FIFO) renamed its temp file onto the path, as
/// root replacing the device with a regular file. A path that is no regular file is now
/// written in place. Checked on a FIFO, with a reader that takes the whole archive.
#[test]
fn save_to_a_fifo_writes_into_it_and_keeps_it() {
    use std::os::unix::fs::FileTypeExt;
    let env = Env::new();
    env.ok(&[
        "import",
        env.rootfs_tar("a.tar", "a").to_str().unwrap(),
        "app:v1",
    ]);
    let fifo = env.path("out.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::read(fifo).unwrap())
    };
    let out = env
        .strata()
        .args(["save", "-o", fifo.to_str().unwrap(), "app:v1"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Checked before joining the reader, which never returns when the FIFO was replaced.
    assert!(
        std::fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo(),
        "the FIFO was replaced"
    );
    let bytes = reader.join().unwrap();
    let names: Vec<String> = tar::Archive::new(&bytes[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().any(|n| n == "manifest.json"), "{names:?}");
}

/// `tar` with `name` replaced by `json` (and entries named in `drop` left out).
fn with_json(tar: &[u8], name: &str, json: &serde_json::Value, drop: &[&str]) -> Vec<u8> {
    harness::images::rewrite(tar, &|path, data| {
        if drop.contains(&path) {
            None
        } else if path == name {
            Some(serde_json::to_vec(json).unwrap())
        } else {
            Some(data.to_vec())
        }
    })
}

/// Regression (issue 10): an archive repeating one image 10,000 times in `manifest.json`
/// (or in `index.json`) took 20 s and more to load: each entry was copied (and, from an
/// OCI index, the archive re-scanned) again. Now a repeated entry only adds its names. The
/// timeout guards against a return of that cost; it is no benchmark.
#[test]
fn repeated_archive_entries_load_in_linear_time() {
    let env = Env::new();
    let id = image_id(&env.ok(&[
        "import",
        env.rootfs_tar("a.tar", "a").to_str().unwrap(),
        "app:v1",
    ]));
    let archive = env.path("a-image.tar");
    env.ok(&["save", "-o", archive.to_str().unwrap(), "app:v1"]);
    let tar = std::fs::read(&archive).unwrap();
    let file = |name: &str| -> serde_json::Value {
        let mut a = tar::Archive::new(&tar[..]);
        let e = a
            .entries()
            .unwrap()
            .map(Result::unwrap)
            .find(|e| e.path().unwrap().to_str() == Some(name))
            .unwrap();
        serde_json::from_reader(e).unwrap()
    };
    let mut manifest = file("manifest.json");
    let entry = manifest[0].clone();
    let mut second = entry.clone();
    second["RepoTags"] = serde_json::json!(["app:v1", "app:v2"]);
    manifest = serde_json::Value::Array(
        std::iter::repeat_n(entry, 5_000)
            .chain(std::iter::repeat_n(second, 5_000))
            .collect(),
    );
    let classic = with_json(
        &tar,
        "manifest.json",
        &manifest,
        &["index.json", "oci-layout"],
    );
    let mut index = file("index.json");
    let top = index["manifests"][0].clone();
    index["manifests"] = serde_json::Value::Array(vec![top; 10_000]);
    let oci = with_json(&tar, "index.json", &index, &[]);
    for (what, bytes, lines) in [
        ("manifest.json", classic, 15_000),
        ("index.json", oci, 10_000),
    ] {
        let dst = Env::new();
        let path = dst.path("repeated.tar");
        std::fs::write(&path, bytes).unwrap();
        let out = dst
            .strata()
            .args(["load", "-i", path.to_str().unwrap()])
            .timeout(std::time::Duration::from_secs(60))
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let out = String::from_utf8(out).unwrap();
        assert_eq!(out.lines().count(), lines, "{what}");
        assert!(
            out.lines()
                .all(|l| l == "Loaded image: app:v1" || l == "Loaded image: app:v2"),
            "{what}: {}",
            &out[..out.len().min(500)]
        );
        assert_eq!(
            dst.ok(&["images", "-q", "--no-trunc"])
                .lines()
                .collect::<std::collections::BTreeSet<_>>(),
            [id.as_str()].into(),
            "{what}"
        );
    }
}

#[test]
fn save_by_id_loads_untagged() {
    let env = Env::new();
    let id = image_id(&env.ok(&[
        "import",
        env.rootfs_tar("a.tar", "a").to_str().unwrap(),
        "app",
    ]));
    let archive = env.path("id.tar");
    env.ok(&["save", "-o", archive.to_str().unwrap(), &id[7..19]]);
    let dst = Env::new();
    assert_eq!(
        dst.ok(&["load", "-i", archive.to_str().unwrap()]),
        format!("Loaded image ID: {id}\n")
    );
    assert_eq!(
        dst.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "<none>:<none>\n"
    );
}

#[test]
fn loads_classic_docker_archive() {
    // `docker save` before Docker 25: <id>/layer.tar, <config>.json, manifest.json.
    let layer = rootfs_bytes("classic");
    let diff_id = sha256(&layer);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["C=3"]}},"created":"2024-01-02T03:04:05Z","rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}},"history":[{{"created":"2024-01-02T03:04:05Z","created_by":"/bin/sh -c #(nop) ADD file"}},{{"created":"2024-01-02T03:04:05Z","created_by":"/bin/sh -c #(nop)  CMD [\"sh\"]","empty_layer":true}}]}}"#
    );
    let config_hex = &sha256(config.as_bytes())[7..];
    let manifest = format!(
        r#"[{{"Config":"{config_hex}.json","RepoTags":["classic:1.0"],"Layers":["abc/layer.tar"]}}]"#
    );
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in [
        (format!("{config_hex}.json"), config.as_bytes()),
        ("abc/layer.tar".to_string(), &layer[..]),
        ("manifest.json".to_string(), manifest.as_bytes()),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, path, data).unwrap();
    }
    let env = Env::new();
    let path = env.path("classic.tar");
    std::fs::write(&path, b.into_inner().unwrap()).unwrap();
    assert_eq!(
        env.ok(&["load", "-i", path.to_str().unwrap()]),
        "Loaded image: classic:1.0\n"
    );
    assert_eq!(
        env.ok(&[
            "inspect",
            "-f",
            "{{.Id}} {{index .RootFS.Layers 0}} {{.Created}}",
            "classic:1.0"
        ]),
        format!("sha256:{config_hex} {diff_id} 2024-01-02T03:04:05Z\n")
    );
    // Newest first; the image ID on top, `<missing>` below; empty layers are 0B.
    let format = "{{.ID}}|{{.CreatedBy}}|{{.Size}}";
    assert_eq!(
        env.ok(&["history", "--no-trunc", "--format", format, "classic:1.0"]),
        format!(
            "sha256:{config_hex}|/bin/sh -c #(nop)  CMD [\"sh\"]|0B\n\
             <missing>|/bin/sh -c #(nop) ADD file|{}\n",
            harness::go_human_size(layer.len() as u64, 3)
        )
    );
    let format = "{{.CreatedSince}} {{.Size}}";
    assert_eq!(
        env.ok(&["history", "-H=false", "--format", format, "classic:1.0"]),
        format!(
            "2024-01-02T03:04:05Z 0\n2024-01-02T03:04:05Z {}\n",
            layer.len()
        )
    );
}

#[test]
fn copy_to_oci_archive_and_layout_then_load() {
    let env = Env::new();
    let id = image_id(&env.ok(&[
        "import",
        env.rootfs_tar("a.tar", "a").to_str().unwrap(),
        "app:v1",
    ]));
    let oci_tar = env.path("img.oci.tar");
    env.strata()
        .args([
            "copy",
            "-q",
            "app:v1",
            &format!("oci-archive:{}:app:v9", oci_tar.display()),
        ])
        .assert()
        .success()
        .stdout("");
    let layout = env.path("layout");
    env.ok(&[
        "copy",
        "-q",
        "app:v1",
        &format!("oci:{}:v1", layout.display()),
    ]);
    assert!(layout.join("index.json").is_file() && layout.join("oci-layout").is_file());

    let dst = Env::new();
    assert_eq!(
        dst.ok(&["load", "-i", oci_tar.to_str().unwrap()]),
        "Loaded image: app:v9\n"
    );
    assert_eq!(
        dst.ok(&["inspect", "-f", "{{.Id}}", "app:v9"]),
        format!("{id}\n")
    );
    // From the layout directory back into a store under a new name.
    dst.ok(&[
        "copy",
        "-q",
        &format!("oci:{}:v1", layout.display()),
        "fromlayout:x",
    ]);
    assert_eq!(
        dst.ok(&["inspect", "-f", "{{.Id}}", "fromlayout:x"]),
        format!("{id}\n")
    );
    // A docker-archive written by copy loads too.
    let da = env.path("da.tar");
    env.ok(&[
        "copy",
        "-q",
        "app:v1",
        &format!("docker-archive:{}:app:v1", da.display()),
    ]);
    let third = Env::new();
    assert_eq!(
        third.ok(&["load", "-i", da.to_str().unwrap()]),
        "Loaded image: app:v1\n"
    );
}

#[test]
fn archive_errors() {
    let env = Env::new();
    env.strata()
        .args(["save", "-o", env.path("x.tar").to_str().unwrap(), "nope"])
        .assert()
        .code(1)
        .stderr("Error: No such image: nope:latest\n");
    assert!(!env.path("x.tar").exists());
    let junk = env.path("junk.tar");
    std::fs::write(&junk, rootfs_bytes("not an image")).unwrap();
    env.strata()
        .args(["load", "-i", junk.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("neither a docker-archive"));
    env.strata()
        .args(["load", "-i", env.path("missing.tar").to_str().unwrap()])
        .assert()
        .code(1);
    env.strata()
        .args(["copy", "nope", &format!("oci:{}", env.path("l").display())])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("No such image: nope"));
}
