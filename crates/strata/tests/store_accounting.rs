//! `system df` accounts for every byte under the store's root: after a scripted mix of
//! pulls, builds, runs, commits and prunes, its rows add up to `du -sb` of the root, less
//! the store's own files (its database, directories and scratch), which `-v` reports on
//! a line of their own. And
//! `builder prune` frees exactly the build cache: the other rows do not move, the root
//! shrinks by the cache's bytes, and the next build runs every step again.
//! Needs root, runc and docker-registry; fails without.

mod harness;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use harness::Registry;
use harness::rootfs::Containers;

/// `system df`'s rows, by type, in exact bytes.
fn df(c: &Containers) -> BTreeMap<String, u64> {
    c.ok(&["system", "df", "--format", "{{.Type}}\t{{.Bytes}}"])
        .lines()
        .map(|l| {
            let (k, v) = l.split_once('\t').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

/// `du -sb` of `dir`.
fn du(dir: &Path) -> u64 {
    let out = Command::new("du").arg("-sb").arg(dir).output().unwrap();
    assert!(out.status.success(), "du: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The metadata database's files (`metadata.db`, `-wal`, `-shm`).
fn db_bytes(c: &Containers) -> u64 {
    c.layout()
        .db_files()
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

/// The numbers of the line `system df -v` adds for the store's own files: the database's
/// bytes, and its directories' and scratch space's.
fn own_files(c: &Containers) -> (u64, u64) {
    let verbose = c.ok(&["system", "df", "-v"]);
    let line = verbose
        .lines()
        .find(|l| l.starts_with("Store's own files: "))
        .unwrap_or_else(|| panic!("no line for the store's own files:\n{verbose}"));
    let numbers: Vec<u64> = line
        .split(|ch: char| !ch.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .filter_map(|w| w.parse().ok())
        .collect();
    let n = numbers.len();
    assert!(n >= 2, "{line}");
    (numbers[n - 2], numbers[n - 1])
}

/// The rows, and the store's directories and scratch (`-v`), add up to `du -sb` of the
/// root less the database, measured right after. Returns the rows.
fn assert_accounted(c: &Containers, step: &str) -> BTreeMap<String, u64> {
    let rows = df(c);
    let (_, frame) = own_files(c);
    let du = du(&c.root());
    let db = db_bytes(c);
    assert_eq!(
        rows.values().sum::<u64>() + frame,
        du - db,
        "after {step}: rows {rows:?}, directories and scratch {frame}, du -sb {du}, database {db}"
    );
    rows
}

/// The snapshot (unpacked layer) of the build's first stage, found by its file.
fn stage_snapshot(c: &Containers) -> Option<std::path::PathBuf> {
    std::fs::read_dir(c.layout().snapshots_dir())
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("fs/stage-only").exists())
}

const DOCKERFILE: &str = "FROM bb AS tools\n\
RUN echo made in a stage > /made && head -c 20000 /dev/urandom > /stage-only\n\
FROM bb\n\
COPY --from=tools /made /made\n\
COPY file /file\n\
RUN echo ran >> /made\n";

fn build(c: &Containers) -> String {
    let ctx = c.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(ctx.join("file"), vec![b'x'; 5000]).unwrap();
    let out = c.run(&["build", "-t", "built", ctx.to_str().unwrap()]);
    assert!(out.status.success(), "build: {out:?}");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn system_df_accounts_for_every_byte_and_builder_prune_frees_exactly_the_cache() {
    let c = Containers::new();
    assert_accounted(&c, "import");

    // Pull: push the image to a registry, drop it, pull it back.
    let reg = Registry::start();
    let remote = format!("{}/acct/bb:1", reg.host);
    c.ok(&["tag", "bb", &remote]);
    c.ok(&["push", &remote]);
    c.ok(&["rmi", &remote]);
    assert_accounted(&c, "push");
    c.ok(&["pull", &remote]);
    assert_accounted(&c, "pull");

    // A multi-platform image: bb and an arm64 busybox joined by an index, pulled with
    // every platform (the index's parts counted once each), run on arm64 (its unpacked
    // layers), then its arm64 part removed and the image with it.
    let arm = harness::rootfs::platform_rootfs_tar(&c, "linux/arm64");
    c.ok(&[
        "import",
        "--platform",
        "linux/arm64",
        arm.to_str().unwrap(),
        "bb-arm",
    ]);
    let multi = format!("{}/acct/multi:1", reg.host);
    harness::platform_index::push_index(
        &c,
        &[(&remote, "linux/amd64"), ("bb-arm", "linux/arm64")],
        &multi,
    );
    c.ok(&["rmi", "bb-arm"]);
    c.ok(&["pull", "--all-platforms", &multi]);
    assert_accounted(&c, "multi-platform pull");
    c.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        "--platform",
        "linux/arm64",
        &multi,
        "true",
    ]);
    assert_accounted(&c, "run --platform");
    c.ok(&["rmi", "--platform", "linux/arm64", &multi]);
    assert_accounted(&c, "rmi --platform");
    c.ok(&["rmi", &multi]);
    assert_accounted(&c, "rmi of the multi-platform image");

    // Build: a stage whose layer only the build cache keeps.
    let first = build(&c);
    assert!(
        !first.contains("CACHED"),
        "a first build hits nothing:\n{first}"
    );
    let rows = assert_accounted(&c, "build");
    assert!(
        rows["Build Cache"] > 20_000,
        "the stage's layer is cache: {rows:?}"
    );
    let again = build(&c);
    assert!(again.contains("CACHED"), "a second build hits:\n{again}");

    // Runs, a volume, a commit.
    c.ok(&[
        "run",
        "--name",
        "writer",
        "-v",
        "vol:/v",
        "bb",
        "sh",
        "-c",
        "head -c 30000 /dev/zero > /big && echo kept > /v/kept",
    ]);
    c.ok(&["run", "--rm", "bb", "true"]);
    let rows = assert_accounted(&c, "run");
    assert!(rows["Containers"] >= 30_000, "{rows:?}");
    assert!(rows["Local Volumes"] > 0, "{rows:?}");
    c.ok(&["commit", "writer", "committed"]);
    assert_accounted(&c, "commit");

    // Prunes: the container, its image, the pulled image, the volume (the base `bb`
    // stays for the builds below).
    c.ok(&["rm", "writer"]);
    c.ok(&["rmi", "committed", &remote]);
    c.ok(&["image", "prune", "-f"]);
    let rows = assert_accounted(&c, "rm, rmi, image prune");
    assert_eq!(rows["Containers"], 0, "{rows:?}");
    // The first stage's unpacked layer is build cache, as BuildKit's snapshots are: the
    // image prune leaves it, and `system df` counts it there with the stage's layer.
    let stage = stage_snapshot(&c).expect("the stage's snapshot outlives image prune");
    assert!(
        rows["Build Cache"] >= du(&stage) + 20_000,
        "the stage's layer and its snapshot ({} bytes) are cache: {rows:?}",
        du(&stage)
    );
    c.ok(&["volume", "prune", "-f"]);
    assert_accounted(&c, "volume prune");

    // The build cache outlived the image prune. The dangling-only prune takes just the
    // memos of layers the image prune removed (no record), once; a prune of what went
    // unused for an hour takes nothing (as Docker's).
    // Without -f, Docker's one-line question; "n" keeps everything.
    let asked = c.run_with_input(&["builder", "prune", "-a"], b"n\n");
    assert_eq!(
        String::from_utf8_lossy(&asked.stdout),
        "WARNING! This will remove all build cache. Are you sure you want to continue? \
         [y/N] Total reclaimed space: 0B\n"
    );
    let out = c.ok(&["builder", "prune", "-f"]);
    assert!(!out.contains("Deleted build cache objects"), "{out}");
    assert_eq!(
        c.ok(&["builder", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    let rows = assert_accounted(&c, "builder prune");
    assert!(rows["Build Cache"] > 20_000, "{rows:?}");
    assert_eq!(
        c.ok(&["builder", "prune", "-a", "-f", "--filter", "until=1h"]),
        "Total reclaimed space: 0B\n"
    );

    // `builder prune -a`: exactly the build cache goes.
    let before = assert_accounted(&c, "the prunes that keep the cache");
    let (du_before, db_before) = (du(&c.root()), db_bytes(&c));
    let out = c.ok(&["builder", "prune", "-a", "-f"]);
    assert!(out.starts_with("Deleted build cache objects:\n"), "{out}");
    assert!(
        out.ends_with(&format!(
            "\nTotal reclaimed space: {}\n",
            harness::go_human_size(before["Build Cache"], 4)
        )),
        "{out} (cache was {} bytes)",
        before["Build Cache"]
    );
    let after = assert_accounted(&c, "builder prune -a");
    assert_eq!(after["Build Cache"], 0, "{after:?}");
    assert_eq!(
        stage_snapshot(&c),
        None,
        "builder prune -a takes the stage's snapshot"
    );
    for kind in ["Images", "Containers", "Local Volumes"] {
        assert_eq!(
            after[kind], before[kind],
            "{kind} moved: {before:?} → {after:?}"
        );
    }
    assert_eq!(
        (du_before - db_before) - (du(&c.root()) - db_bytes(&c)),
        before["Build Cache"],
        "the root shrank by the cache's bytes"
    );

    // The next build misses everywhere, and caches again.
    let rebuilt = build(&c);
    assert!(!rebuilt.contains("CACHED"), "the cache is gone:\n{rebuilt}");
    let rows = assert_accounted(&c, "rebuild");
    assert!(rows["Build Cache"] > 20_000, "{rows:?}");

    // `-v` reports the database on its own line, to the byte.
    let (db, _) = own_files(&c);
    assert_eq!(db, db_bytes(&c), "the database's files");

    // `system prune -a --volumes`: the same prunes at once, in Docker's order; a stopped
    // container with an anonymous volume, every unused image, all build cache.
    c.ok(&["run", "--name", "stopped", "-v", "/anon", "bb", "true"]);
    let out = c.ok(&["system", "prune", "-a", "-f", "--volumes"]);
    let sections: Vec<&str> = out.lines().filter(|l| l.starts_with("Deleted")).collect();
    assert_eq!(
        sections,
        [
            "Deleted Containers:",
            "Deleted Volumes:",
            "Deleted Images:",
            "Deleted build cache objects:"
        ],
        "{out}"
    );
    let rows = assert_accounted(&c, "system prune");
    for kind in ["Images", "Containers", "Build Cache"] {
        assert_eq!(rows[kind], 0, "{kind} left after system prune -a: {rows:?}");
    }
    assert_eq!(
        c.ok(&["volume", "ls", "-q"]),
        "vol\n",
        "the named volume stays"
    );
}
