//! The build differential suite: every case is a Dockerfile and a context, built by the real
//! Docker Engine (BuildKit) and by `strata build`, and judged on success or failure, the
//! image config, the history (each step's CREATED BY and comment) and the whole filesystem
//! (type, mode, owner, size, link target, content).
//!
//! Cases are written from the Dockerfile reference, point by point. Features newer than the
//! BuildKit in Docker 20.10 are judged against the current reference with a hand-written
//! expectation instead, and say so in a comment (`Oracle::Reference`).

mod harness;

use std::path::Path;
use std::process::Output;

use harness::differential::{Differential, config_view, judge, parallel};
use harness::fstree::{self, Tree};
use serde_json::Value;

#[path = "diff_build/cases.rs"]
mod cases;

use cases::{CASES, Case, KNOWN, Oracle};

/// What one engine made of a case.
struct Outcome {
    ok: bool,
    log: String,
    config: Value,
    /// `history --no-trunc` as `CREATED BY|COMMENT` lines, newest first.
    history: String,
    tree: Tree,
}

/// Writes a case's context: `name/` is a directory, `name:0755` sets a file's mode,
/// content `->target` makes a symlink.
fn write_context(dir: &Path, case: &Case) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("Dockerfile"), case.dockerfile.trim_start()).unwrap();
    for (name, content) in case.ctx {
        let (name, mode) = match name.rsplit_once(':') {
            Some((n, m)) => (n, Some(u32::from_str_radix(m, 8).unwrap())),
            None => (*name, None),
        };
        let path = dir.join(name.trim_end_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        if name.ends_with('/') {
            std::fs::create_dir_all(&path).unwrap();
        } else if let Some(target) = content.strip_prefix("->") {
            std::os::unix::fs::symlink(target, &path).unwrap();
        } else {
            std::fs::write(&path, content).unwrap();
        }
        if let Some(mode) = mode {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        }
    }
    if let Some(prep) = case.prep {
        prep(dir);
    }
}

fn tail(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

/// Builds a case with one engine and reads back its config and filesystem.
fn outcome(d: &Differential, engine: &str, dir: &Path, tag: &str, case: &Case) -> Outcome {
    let mut args: Vec<&str> = vec!["build", "-t", tag];
    args.extend_from_slice(case.flags);
    args.push(".");
    let mut cmd = if engine == "docker" {
        let mut a = vec!["build", "--network", "host"];
        a.extend_from_slice(&args[1..]);
        d.docker.cmd(&a)
    } else {
        let mut a = vec!["build", "--progress", "plain"];
        a.extend_from_slice(&args[1..]);
        d.strata.cmd(&a)
    };
    let out = cmd.current_dir(dir).output().unwrap();
    let ok = out.status.success();
    let log = tail(&out);
    if !ok {
        return Outcome {
            ok,
            log,
            config: Value::Null,
            history: String::new(),
            tree: Tree::new(),
        };
    }
    let archive = dir.with_extension(format!("{engine}.tar"));
    let archive_s = archive.to_str().unwrap();
    let (inspect, _) = if engine == "docker" {
        d.docker.ok(&["save", "-o", archive_s, tag]);
        (d.docker.ok(&["image", "inspect", tag]), ())
    } else {
        d.strata.ok(&["save", "-o", archive_s, tag]);
        (d.strata.ok(&["inspect", tag]), ())
    };
    let config = config_view(&serde_json::from_str(&inspect).unwrap());
    let history_args = [
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}|{{.Comment}}",
        tag,
    ];
    let history = if engine == "docker" {
        d.docker.ok(&history_args)
    } else {
        d.strata.ok(&history_args)
    };
    let tree = fstree::from_archive(&archive);
    let _ = std::fs::remove_file(&archive);
    Outcome {
        ok,
        log,
        config,
        history,
        tree,
    }
}

/// Why the two outcomes differ, or None when they agree.
fn compare(docker: &Outcome, strata: &Outcome) -> Option<String> {
    match (docker.ok, strata.ok) {
        (false, false) => return None,
        (true, false) => return Some(format!("docker built it; strata failed:\n{}", strata.log)),
        (false, true) => return Some(format!("strata built it; docker failed:\n{}", docker.log)),
        (true, true) => {}
    }
    let mut why = Vec::new();
    if docker.config != strata.config {
        why.push(format!(
            "config:\n  docker: {}\n  strata: {}",
            docker.config, strata.config
        ));
    }
    if docker.history != strata.history {
        why.push(format!(
            "history:\n  docker:\n{}\n  strata:\n{}",
            docker.history, strata.history
        ));
    }
    let fs = fstree::diff(&docker.tree, &strata.tree, |_| false);
    if !fs.is_empty() {
        why.push(format!(
            "filesystem (- docker only, + strata only):\n  {}",
            fs.join("\n  ")
        ));
    }
    (!why.is_empty()).then(|| why.join("\n"))
}

#[test]
fn build_agrees_with_docker() {
    let d = Differential::new();
    d.image(
        "bb-entry",
        &[
            "ENV PATH=/bin",
            "ENTRYPOINT [\"/bin/echo\"]",
            "CMD [\"base\"]",
        ],
    );
    d.image(
        "bb-onbuild",
        &[
            "ENV PATH=/bin",
            "ONBUILD RUN echo onbuild > /onbuild.txt",
            "ONBUILD ENV FROM_ONBUILD=1",
        ],
    );
    d.platform_image("bb-arm64", "linux/arm64");
    let root = d.strata.path("cases");
    let names: Vec<&str> = CASES.iter().map(|c| c.name).collect();
    for (i, n) in names.iter().enumerate() {
        assert!(!names[..i].contains(n), "case name {n} is used twice");
    }
    let results = parallel(CASES, 3, |case| {
        let dir = root.join(case.name);
        write_context(&dir, case);
        let tag = format!("diff-build-{}", case.name.to_lowercase());
        let strata = outcome(&d, "strata", &dir, &tag, case);
        let why = match case.oracle {
            Oracle::Docker => {
                let docker = outcome(&d, "docker", &dir, &tag, case);
                compare(&docker, &strata)
            }
            Oracle::Reference(check) => check(strata.ok, &strata.config, &strata.tree)
                .err()
                .map(|e| format!("{e}\nstrata's log:\n{}", strata.log)),
        };
        (case.name.to_string(), why)
    });
    let differing: Vec<(String, String)> = results
        .into_iter()
        .zip(CASES)
        .filter_map(|(r, case)| match r {
            Ok((n, w)) => w.map(|w| (n, w)),
            Err(panic) => Some((case.name.to_string(), format!("the case panicked: {panic}"))),
        })
        .collect();
    judge("build", CASES.len(), &differing, KNOWN);
    d.strata.assert_clean();
}
