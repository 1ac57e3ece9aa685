//! import → images / inspect / history / tag / rmi / prune, through the real binary.

mod harness;

use harness::Env;
use harness::images::{gzip, image_id, rootfs_bytes, sha256};
use predicates::prelude::*;

#[test]
fn import_then_list_inspect_and_history() {
    let env = Env::new();
    let tar = env.rootfs_tar("root.tar", "one");
    let id = image_id(&env.ok(&[
        "import",
        "-c",
        "ENV A=1",
        "-c",
        "CMD [\"sh\"]",
        "-m",
        "first import",
        tar.to_str().unwrap(),
        "app:v1",
    ]));

    assert_eq!(
        env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        "app:v1\n"
    );
    assert_eq!(env.ok(&["images", "-q"]), format!("{}\n", &id[7..19]));
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]), format!("{id}\n"));
    let table = env.ok(&["images"]);
    let mut lines = table.lines();
    assert_eq!(
        lines.next().unwrap(),
        "REPOSITORY   TAG       IMAGE ID       CREATED                  SIZE"
    );
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(&format!("app          v1        {}   ", &id[7..19])),
        "{row:?}"
    );
    assert!(lines.next().is_none());

    // `--format json`: one object per line with Docker's fields.
    let json: serde_json::Value =
        serde_json::from_str(env.ok(&["images", "--format", "json"]).trim()).unwrap();
    assert_eq!(json["Repository"], "app");
    assert_eq!(json["ID"], &id[7..19]);
    assert_eq!(json["Digest"], "<none>");

    let inspect: serde_json::Value = serde_json::from_str(&env.ok(&["inspect", "app:v1"])).unwrap();
    let img = &inspect[0];
    assert_eq!(inspect.as_array().unwrap().len(), 1);
    assert_eq!(img["Id"], id);
    assert_eq!(img["RepoTags"], serde_json::json!(["app:v1"]));
    assert_eq!(img["RepoDigests"], serde_json::json!([]));
    assert_eq!(img["Comment"], "first import");
    assert_eq!(img["Parent"], "");
    assert_eq!(img["Config"]["Env"], serde_json::json!(["A=1"]));
    assert_eq!(img["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(img["Os"], "linux");
    assert_eq!(img["RootFS"]["Type"], "layers");
    // The diffID is the digest of the tar exactly as given.
    assert_eq!(
        img["RootFS"]["Layers"],
        serde_json::json!([sha256(&rootfs_bytes("one"))])
    );
    // Same through `image inspect` and a template.
    assert_eq!(
        env.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.ID}} {{json .RepoTags}} {{.Config.Volumes}}",
            "app:v1"
        ]),
        // A nil map prints as Docker's typed struct does (`ID` is the Go field's name).
        format!("{id} [\"app:v1\"] map[]\n")
    );
    // `.Id` is only the JSON key: Docker reruns the template on the raw JSON, where the
    // nil map is `<no value>`.
    assert_eq!(
        env.ok(&[
            "image",
            "inspect",
            "-f",
            "{{.Id}} {{.Config.Volumes}}",
            "app:v1"
        ]),
        format!("{id} <no value>\n")
    );

    assert_eq!(
        env.ok(&[
            "history",
            "--format",
            "{{.ID}}|{{.CreatedBy}}|{{.Comment}}",
            "app:v1"
        ]),
        format!("{}||first import\n", &id[7..19])
    );
    let history = env.ok(&["history", "app:v1"]);
    // The CREATED column is as wide as its widest cell ("Less than a second ago" or "2
    // seconds ago", depending on how loaded the machine is), as Go's tabwriter makes it.
    let header = history.lines().next().unwrap_or_default();
    let words: Vec<&str> = header
        .split("   ")
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect();
    assert_eq!(
        words,
        ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
        "{history}"
    );
    assert!(header.starts_with("IMAGE          CREATED "), "{history}");
    assert_eq!(
        env.ok(&["history", "-q", "--no-trunc", "app:v1"]),
        format!("{id}\n")
    );
}

#[test]
fn import_from_stdin_with_compression_platform_and_epoch() {
    let env = Env::new();
    let tar = rootfs_bytes("two");
    let out = env
        .strata()
        .args(["import", "--platform", "linux/arm64", "-", "web"])
        .env("SOURCE_DATE_EPOCH", "86400")
        .write_stdin(gzip(&tar))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = image_id(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(
        env.ok(&[
            "inspect",
            "-f",
            "{{.Os}}/{{.Architecture}} {{.Created}} {{index .RootFS.Layers 0}}",
            "web"
        ]),
        format!("linux/arm64 1970-01-02T00:00:00Z {}\n", sha256(&tar))
    );
    assert_eq!(
        env.ok(&[
            "images",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.CreatedAt}}"
        ]),
        "web:latest 1970-01-02 00:00:00 +0000 UTC\n"
    );
    // The same input at the same time is the same image.
    let again = env
        .strata()
        .args(["import", "--platform", "linux/arm64", "-"])
        .env("SOURCE_DATE_EPOCH", "86400")
        .write_stdin(tar)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(again.stdout).unwrap().trim_end(), id);
}

#[test]
fn tag_rmi_and_missing_images() {
    let env = Env::new();
    let tar = env.rootfs_tar("root.tar", "three");
    let id = image_id(&env.ok(&["import", tar.to_str().unwrap(), "app:v1"]));
    env.ok(&["tag", "app:v1", "localhost:5000/team/app:v2"]);
    env.ok(&["tag", &id[7..19], "other"]);
    assert_eq!(
        env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]),
        format!(
            "app:v1 {s}\nlocalhost:5000/team/app:v2 {s}\nother:latest {s}\n",
            s = &id[7..19]
        )
    );
    assert_eq!(
        env.ok(&[
            "images",
            "--filter",
            "reference=*/team/*",
            "--format",
            "{{.Repository}}"
        ]),
        "localhost:5000/team/app\n"
    );
    assert_eq!(env.ok(&["images", "app", "--format", "{{.Tag}}"]), "v1\n");

    env.strata()
        .args(["rmi", "nope"])
        .assert()
        .code(1)
        .stdout("")
        .stderr("Error: No such image: nope:latest\n");
    env.strata()
        .args(["inspect", "nope"])
        .assert()
        .code(1)
        .stdout("[]\n")
        .stderr("Error: No such object: nope\n");
    env.strata()
        .args(["inspect", "-f", "{{.Id}}", "app:v1", "nope"])
        .assert()
        .code(1)
        .stdout(format!("{id}\n"))
        .stderr("Error: No such object: nope\n");
    env.strata()
        .args(["history", "nope"])
        .assert()
        .code(1)
        .stderr("Error: No such image: nope:latest\n");
    env.strata()
        .args(["tag", "nope", "x"])
        .assert()
        .code(1)
        .stderr("Error: No such image: nope:latest\n");

    // By ID with several tags needs -f.
    env.strata()
        .args(["rmi", &id[7..19]])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("must be forced"));
    assert_eq!(env.ok(&["rmi", "other"]), "Untagged: other:latest\n");
    assert_eq!(
        env.ok(&["image", "rm", "localhost:5000/team/app:v2"]),
        "Untagged: localhost:5000/team/app:v2\n"
    );
    // The image's one layer goes with it, and Docker's layer store says so.
    let layer = env.ok(&[
        "image",
        "inspect",
        "-f",
        "{{index .RootFS.Layers 0}}",
        "app:v1",
    ]);
    assert_eq!(
        env.ok(&["rmi", "app:v1"]),
        format!(
            "Untagged: app:v1\nDeleted: {id}\nDeleted: {}\n",
            layer.trim()
        )
    );
    assert_eq!(env.ok(&["images", "-q"]), "");
    // -f ignores missing images.
    env.ok(&["rmi", "-f", "nope"]);
}

#[test]
fn prune_removes_dangling_images() {
    let env = Env::new();
    let keep = image_id(&env.ok(&[
        "import",
        env.rootfs_tar("a.tar", "a").to_str().unwrap(),
        "keep",
    ]));
    let dangling = image_id(&env.ok(&["import", env.rootfs_tar("b.tar", "b").to_str().unwrap()]));
    assert_eq!(
        env.ok(&[
            "images",
            "--filter",
            "dangling=true",
            "--format",
            "{{.Repository}}:{{.Tag}} {{.ID}}"
        ]),
        format!("<none>:<none> {}\n", &dangling[7..19])
    );
    assert_eq!(
        env.ok(&["images", "--filter", "dangling=false", "-q", "--no-trunc"]),
        format!("{keep}\n")
    );

    // Without -f it asks, and "n" keeps everything.
    env.strata()
        .args(["image", "prune"])
        .write_stdin("n\n")
        .assert()
        .success()
        .stdout(predicate::str::starts_with(
            "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] ",
        ));
    assert_eq!(env.ok(&["images", "-q"]).lines().count(), 2);

    let layer = env.ok(&[
        "image",
        "inspect",
        "-f",
        "{{index .RootFS.Layers 0}}",
        &dangling,
    ]);
    let out = env.ok(&["image", "prune", "-f"]);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("Deleted Images:"));
    assert_eq!(lines.next(), Some(format!("deleted: {dangling}").as_str()));
    assert_eq!(
        lines.next(),
        Some(format!("deleted: {}", layer.trim()).as_str())
    );
    assert_eq!(lines.next(), Some(""));
    let total = lines.next().unwrap();
    assert!(
        total.starts_with("Total reclaimed space: ") && total.ends_with('B'),
        "{total}"
    );
    assert_ne!(total, "Total reclaimed space: 0B");
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]), format!("{keep}\n"));

    // Answering "y" with -a removes the tagged one too.
    env.strata()
        .args(["image", "prune", "-a"])
        .write_stdin("y\n")
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("deleted: {keep}")));
    assert_eq!(env.ok(&["images", "-q"]), "");
    assert_eq!(
        env.ok(&["image", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
}

#[test]
fn usage_and_format_errors() {
    let env = Env::new();
    // Docker's codes: 125 for a flag error, 1 for a wrong argument count or command.
    env.strata().args(["images", "--bogus"]).assert().code(125);
    env.strata().args(["rmi"]).assert().code(1);
    env.strata().args(["frobnicate"]).assert().code(1);
    env.strata()
        .args(["images", "--format", "{{.Nope}}"])
        .assert()
        .success(); // no rows: nothing to evaluate
    env.ok(&[
        "import",
        env.rootfs_tar("a.tar", "a").to_str().unwrap(),
        "x",
    ]);
    env.strata()
        .args(["images", "--format", "{{.Nope}}"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("Nope"));
    env.strata()
        .args(["images", "--filter", "color=red"])
        .assert()
        .code(1)
        .stderr("Error: Invalid filter 'color'\n");
    env.strata()
        .args(["import", env.path("missing.tar").to_str().unwrap()])
        .assert()
        .code(1)
        // Docker's client words, without "Error:".
        .stderr(
            predicate::str::starts_with("open ").and(predicate::str::ends_with(
                "missing.tar: no such file or directory\n",
            )),
        );
    env.strata()
        .args([
            "import",
            "-c",
            "BOGUS x",
            env.path("a.tar").to_str().unwrap(),
        ])
        .assert()
        .code(1);
    // Nothing half-made: still only the one image.
    assert_eq!(env.ok(&["images", "-q"]).lines().count(), 1);
}

#[test]
fn system_df_counts_images() {
    let env = Env::new();
    env.ok(&[
        "import",
        env.rootfs_tar("a.tar", "a").to_str().unwrap(),
        "x",
    ]);
    let out = env.ok(&["system", "df"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"
    );
    assert!(
        lines[1].starts_with("Images          1         0         "),
        "{out}"
    );
    assert!(lines[1].ends_with("(100%)"), "{out}");
    assert_eq!(lines[2], "Containers      0         0         0B        0B");
    assert_eq!(lines.len(), 5);
}

#[test]
fn time_and_label_filters() {
    let env = Env::new();
    for (name, epoch, label) in [
        ("a", "100", "LABEL k=1"),
        ("b", "200", "LABEL k=2"),
        ("c", "300", "ENV X=1"),
    ] {
        let tar = env.rootfs_tar(&format!("{name}.tar"), name);
        env.strata()
            .args(["import", "-c", label, tar.to_str().unwrap(), name])
            .env("SOURCE_DATE_EPOCH", epoch)
            .assert()
            .success();
    }
    let names =
        |filter: &str| env.ok(&["images", "--filter", filter, "--format", "{{.Repository}}"]);
    assert_eq!(
        env.ok(&["images", "--format", "{{.Repository}}"]),
        "c\nb\na\n"
    );
    assert_eq!(names("before=c"), "b\na\n");
    assert_eq!(names("since=a"), "c\nb\n");
    assert_eq!(names("label=k"), "b\na\n");
    assert_eq!(names("label=k=2"), "b\n");
    env.strata()
        .args(["images", "--filter", "before=nope"])
        .assert()
        .code(1)
        .stderr("Error: No such image: nope:latest\n");
}

#[test]
fn version_and_config() {
    let env = Env::new();
    assert_eq!(
        env.ok(&["version", "--format", "{{.Client.Version}}"]),
        format!("{}\n", env!("CARGO_PKG_VERSION"))
    );
    assert!(env.ok(&["version"]).starts_with("Client:\n"));
    let cfg = env.path("config.toml");
    std::fs::write(&cfg, "insecure-registries = [\"reg.lan:5000\"]\n").unwrap();
    env.strata()
        .args(["--config", cfg.to_str().unwrap(), "images", "-q"])
        .assert()
        .success();
    std::fs::write(&cfg, "insecure-registries = 5\n").unwrap();
    env.strata()
        .args(["--config", cfg.to_str().unwrap(), "images"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("Error: parsing config "));
    env.strata()
        .args([
            "--config",
            env.path("none.toml").to_str().unwrap(),
            "images",
        ])
        .assert()
        .code(1);
}

/// Regression (issue 10): `import /dev/zero` read on, writing hundreds of MB, and
/// `/dev/urandom` must fail at its first header. A watchdog kills a run that goes on.
#[test]
fn import_of_endless_input_fails_and_keeps_nothing() {
    let env = Env::new();
    for (input, message) in [
        (
            "/dev/zero",
            "more than 1 MiB of data after the end of the tar archive",
        ),
        ("/dev/urandom", "invalid tar header"),
    ] {
        let mut child = env
            .cmd(&["import", input, "endless:1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while child.try_wait().unwrap().is_none() {
            if std::time::Instant::now() > deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("import {input} still reading after 60 s");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{input}: {stderr}");
        assert!(stderr.contains(message), "{input}: {stderr}");
    }
    assert_eq!(env.ok(&["images", "-aq"]), "");
    assert_eq!(env.blob_usage().1, 0, "no blob stays");
}

/// Regression (issue 10): `import` of random bytes read on and wrote hundreds of MB
/// before failing. Fed from a pipe that counts what it takes, it must fail on the first
/// header, having taken less than 1 MiB (beyond what the pipe buffers), and keep nothing.
#[test]
fn import_of_random_bytes_fails_on_the_first_header() {
    use std::io::Write;
    let env = Env::new();
    let mut child = env
        .cmd(&["import", "-", "random:1"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Up to 256 MiB of noise (bounded), counted as the pipe accepts it.
    let feeder = std::thread::spawn(move || {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut sent = 0u64;
        let mut chunk = vec![0u8; 64 << 10];
        while sent < 256 << 20 {
            for b in chunk.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            if stdin.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len() as u64;
        }
        sent
    });
    let out = child.wait_with_output().unwrap();
    let sent = feeder.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("invalid tar header"), "{stderr}");
    assert!(
        sent < (1 << 20) + (1 << 20),
        "import took {sent} bytes of noise before failing"
    );
    assert_eq!(env.ok(&["images", "-aq"]), "");
    assert_eq!(env.blob_usage().1, 0, "no blob stays");
}

/// `import` of something that is not a tar (plain, gzipped or cut short) fails in dockerd's
/// words and leaves nothing behind; a good tar's image is as big as its files unpacked and
/// says where it came from.
#[test]
fn import_refuses_what_is_not_a_tar_and_measures_what_is() {
    let env = Env::new();
    let good = rootfs_bytes("four");
    let junk = env.path("junk.tar");
    std::fs::write(&junk, b"junk\n").unwrap();
    let junk_gz = env.path("junk.tgz");
    std::fs::write(&junk_gz, gzip(b"junk\n")).unwrap();
    let cut = env.path("cut.tar");
    std::fs::write(&cut, &good[..512 + 3]).unwrap();
    for bad in [&junk, &junk_gz, &cut] {
        let (code, stderr) = env.fails(&["import", bad.to_str().unwrap(), "bad:1"]);
        assert_eq!(code, 1, "{stderr}");
        assert_eq!(
            stderr, "Error: Error processing tar file(exit status 1): unexpected EOF\n",
            "{bad:?}"
        );
    }
    assert_eq!(env.ok(&["images", "-aq"]), "");
    assert_eq!(env.blob_usage().1, 0, "no blob stays");

    let tar = env.path("good.tar");
    std::fs::write(&tar, &good).unwrap();
    env.ok(&["import", tar.to_str().unwrap(), "good:1"]);
    // /etc/hello (6 bytes) and /etc/extra (4); the directory counts nothing.
    assert_eq!(
        env.ok(&["image", "inspect", "-f", "{{.Size}} {{.Comment}}", "good:1"]),
        "10 Imported from -\n"
    );
    assert_eq!(
        env.ok(&[
            "history",
            "-H=false",
            "--format",
            "{{.Size}}|{{.Comment}}",
            "good:1"
        ]),
        "10|Imported from -\n"
    );
}
