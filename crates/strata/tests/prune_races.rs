//! `image prune -a -f` in a loop beside pulls, builds, runs, tags, commits, loads, pushes
//! and saves: the operations in progress hold leases on what they use, so none of them
//! fails, and once the loop stops every image left is complete and runnable (issue 10,
//! "Prune races").
//!
//! Two minutes by default; `STRATA_LONG` runs longer (see [`duration`]). Needs root,
//! overlayfs, runc and docker-registry (fails, never skips, without them).

mod harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use harness::Registry;
use harness::images::sha256;
use harness::rootfs::Containers;

/// How long the operations run beside the prune loop: two minutes; with `STRATA_LONG` set,
/// its value in seconds when that is longer, else ten minutes (`STRATA_LONG=1` is the long
/// mode of every suite).
fn duration() -> Duration {
    let secs = match std::env::var("STRATA_LONG") {
        Err(_) => 120,
        Ok(v) => v.parse::<u64>().ok().filter(|&s| s > 120).unwrap_or(600),
    };
    Duration::from_secs(secs)
}

/// Runs `cmd` with a bound on its time: killed (by its own PID) after `limit`.
fn bounded(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    // Drain the pipes on threads so a chatty command never blocks on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut v).ok();
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut v).ok();
        v
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

/// What the workers saw.
#[derive(Default)]
struct Tally {
    /// Successes per operation.
    ok: Mutex<std::collections::BTreeMap<&'static str, usize>>,
    /// Operations whose input, made by an earlier command, was pruned before they started:
    /// they failed as Docker does (`No such image`), which is no race.
    gone_before: Mutex<std::collections::BTreeMap<&'static str, usize>>,
    /// Every other failure: (operation, command, stderr).
    failures: Mutex<Vec<(String, String, String)>>,
}

impl Tally {
    fn ok(&self, op: &'static str) {
        *self.ok.lock().unwrap().entry(op).or_default() += 1;
    }
    fn gone(&self, op: &'static str) {
        *self.gone_before.lock().unwrap().entry(op).or_default() += 1;
    }
    fn fail(&self, op: &str, args: &[&str], out: &Output) {
        self.failures.lock().unwrap().push((
            op.to_string(),
            args.join(" "),
            format!(
                "{}: stderr: {} stdout: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            ),
        ));
    }
}

/// Writes a build context: a file that changes each time (so the RUN and the COPY really
/// run) and a Dockerfile FROM `base`.
fn context(dir: &Path, base: &str, n: usize) -> PathBuf {
    let ctx = dir.join(format!("ctx{}", n % 4));
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("f"), format!("build {n}\n")).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {base}\nCOPY f /f\nRUN cat /f > /g && echo ran >> /g\n"),
    )
    .unwrap();
    ctx
}

#[test]
fn prune_loop_beside_pulls_builds_runs_tags_commits_loads_pushes_and_saves_breaks_none() {
    let c = Containers::new();
    let reg = Registry::start();
    let bb = format!("{}/race/bb:1", reg.host);
    let bb2 = format!("{}/race/bb2:1", reg.host);
    let built_repo = format!("{}/race/built", reg.host);
    // Two small busybox images in the registry.
    c.ok(&["tag", "bb", &bb]);
    c.ok(&["push", "-q", &bb]);
    c.image(&bb2, &["ENV PATH=/bin", "CMD [\"sh\"]", "LABEL two=2"]);
    c.ok(&["push", "-q", &bb2]);
    // An archive with two names for one image (load writes the second after the copy).
    c.image("race/loaded:1", &["ENV PATH=/bin", "LABEL loaded=1"]);
    c.ok(&["tag", "race/loaded:1", "race/loaded:2"]);
    let archive = c.path("load.tar");
    c.ok(&[
        "save",
        "-o",
        archive.to_str().unwrap(),
        "race/loaded:1",
        "race/loaded:2",
    ]);
    // The container commits are made from (it keeps its own image, as Docker's do).
    c.image("race/keepbase:1", &["ENV PATH=/bin", "LABEL keep=1"]);
    c.ok(&["create", "--name", "keeper", "race/keepbase:1", "true"]);
    c.ok(&["image", "prune", "-a", "-f"]);

    let tally = Tally::default();
    let stop = AtomicBool::new(false);
    let prunes = AtomicUsize::new(0);
    let deadline = Instant::now() + duration();
    let limit = Duration::from_secs(120);
    // Each loop is bounded by time and by count.
    let max_rounds = 100_000;
    let run = |args: &[&str]| bounded(c.cmd(args), limit);
    std::thread::scope(|s| {
        // The pruner.
        s.spawn(|| {
            for _ in 0..max_rounds {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let args = ["image", "prune", "-a", "-f"];
                let out = run(&args);
                if out.status.success() {
                    prunes.fetch_add(1, Ordering::Relaxed);
                } else {
                    tally.fail("prune", &args, &out);
                }
            }
        });
        // Pulls.
        s.spawn(|| {
            for i in 0..max_rounds {
                if Instant::now() >= deadline {
                    break;
                }
                let name = if i % 2 == 0 { &bb } else { &bb2 };
                let args = ["pull", "-q", name.as_str()];
                let out = run(&args);
                if out.status.success() {
                    tally.ok("pull");
                } else {
                    tally.fail("pull", &args, &out);
                }
            }
        });
        // Builds FROM a registry ref (pulled when missing), then a run of the result.
        s.spawn(|| {
            for i in 0..max_rounds {
                if Instant::now() >= deadline {
                    break;
                }
                let ctx = context(c.dir.path(), &bb, i);
                let tag = format!("{built_repo}:{}", i % 3);
                let args = ["build", "-q", "-t", tag.as_str(), ctx.to_str().unwrap()];
                let out = run(&args);
                if !out.status.success() {
                    tally.fail("build", &args, &out);
                    continue;
                }
                tally.ok("build");
                let args = [
                    "run",
                    "--rm",
                    "--network",
                    "none",
                    tag.as_str(),
                    "cat",
                    "/g",
                ];
                let out = run(&args);
                let stderr = String::from_utf8_lossy(&out.stderr);
                if out.status.success() {
                    assert_eq!(
                        String::from_utf8_lossy(&out.stdout),
                        format!("build {i}\nran\n"),
                        "the built image runs what was built"
                    );
                    tally.ok("run built");
                } else if stderr.starts_with(&format!("Unable to find image '{tag}' locally"))
                    && stderr.contains("not found")
                {
                    // Pruned between the build and this run, then not in the registry:
                    // Docker does the same.
                    tally.gone("run built");
                } else {
                    tally.fail("run built", &args, &out);
                }
            }
        });
        // Runs of registry refs (pulled when missing, as Docker's run does).
        s.spawn(|| {
            for i in 0..max_rounds {
                if Instant::now() >= deadline {
                    break;
                }
                let name = if i % 2 == 0 { &bb2 } else { &bb };
                let args = ["run", "--rm", "--network", "none", name.as_str(), "true"];
                let out = run(&args);
                if out.status.success() {
                    tally.ok("run");
                } else {
                    tally.fail("run", &args, &out);
                }
            }
        });
        // Tags, commits and loads.
        s.spawn(|| {
            for i in 0..max_rounds {
                if Instant::now() >= deadline {
                    break;
                }
                let target = format!("race/tagged:{}", i % 3);
                let args = ["tag", bb.as_str(), target.as_str()];
                let out = run(&args);
                let stderr = String::from_utf8_lossy(&out.stderr);
                if out.status.success() {
                    tally.ok("tag");
                } else if stderr == format!("Error: No such image: {bb}\n") {
                    // The source (pulled by another thread) was pruned before the tag began.
                    tally.gone("tag");
                } else {
                    tally.fail("tag", &args, &out);
                }
                let committed = format!("race/committed:{}", i % 3);
                let args = ["commit", "keeper", committed.as_str()];
                let out = run(&args);
                if out.status.success() {
                    tally.ok("commit");
                } else {
                    tally.fail("commit", &args, &out);
                }
                let args = ["load", "-q", "-i", archive.to_str().unwrap()];
                let out = run(&args);
                if out.status.success() {
                    tally.ok("load");
                } else {
                    tally.fail("load", &args, &out);
                }
            }
        });
        // Pushes and saves of registry refs the other threads pull.
        s.spawn(|| {
            for i in 0..max_rounds {
                if Instant::now() >= deadline {
                    break;
                }
                let args = ["push", "-q", bb2.as_str()];
                let out = run(&args);
                let stderr = String::from_utf8_lossy(&out.stderr);
                if out.status.success() {
                    tally.ok("push");
                } else if stderr.starts_with("Error: An image does not exist locally with the tag")
                    && stderr.lines().count() == 1
                {
                    // Pruned before the push began: Docker says the same.
                    tally.gone("push");
                } else {
                    tally.fail("push", &args, &out);
                }
                let saved = c.path(&format!("saved{}.tar", i % 2));
                let args = ["save", "-o", saved.to_str().unwrap(), bb.as_str()];
                let out = run(&args);
                if out.status.success() {
                    tally.ok("save");
                } else if out.stderr == b"Error: reference does not exist\n" {
                    tally.gone("save");
                } else {
                    tally.fail("save", &args, &out);
                }
            }
        });
        // Stop the pruner once the others are done (they end at the deadline).
        while Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        stop.store(true, Ordering::Relaxed);
    });

    let ok = tally.ok.into_inner().unwrap();
    let gone = tally.gone_before.into_inner().unwrap();
    let failures = tally.failures.into_inner().unwrap();
    let prunes = prunes.into_inner();
    eprintln!("prunes: {prunes}; succeeded: {ok:?}; input pruned before start: {gone:?}");
    assert!(
        failures.is_empty(),
        "{} operations failed beside the prune loop (succeeded: {ok:?}), the first ones:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .map(|(op, args, err)| format!("  {op}: strata {args}\n    {err}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(prunes >= 10, "the prune loop ran only {prunes} times");
    for op in [
        "pull", "build", "run", "tag", "commit", "load", "push", "save",
    ] {
        assert!(
            ok.get(op).copied().unwrap_or(0) > 0,
            "no {op} succeeded: {ok:?}"
        );
    }

    // The store is whole: every image left is complete and runnable, and every blob's
    // name is the digest of its content.
    let ids = c.ok(&["images", "-a", "-q", "--no-trunc"]);
    assert!(
        !ids.trim().is_empty(),
        "the keeper's image at least is left"
    );
    for id in ids.lines() {
        let out = bounded(
            c.cmd(&["run", "--rm", "--network", "none", id, "true"]),
            limit,
        );
        assert!(
            out.status.success(),
            "image {id} does not run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let blobs = c.layout().blobs_dir_of(oci::Algorithm::Sha256);
    for e in std::fs::read_dir(&blobs).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let data = std::fs::read(e.path()).unwrap();
        assert_eq!(sha256(&data), format!("sha256:{name}"), "blob {name}");
    }
    c.ok(&["rm", "-f", "keeper"]);
}
