//! The containers differential suite: every case runs the same `run`/`create`/`exec`/`ps`/
//! `inspect`/`logs`/`commit`/`diff` commands through the real Docker Engine and through
//! strata, and the two transcripts (exit codes, stdout, and stderr where users script
//! against it) must agree after normalising only what legitimately differs: container and
//! image IDs (also as default hostnames), the case's host directory, and the program name
//! in messages.
//!
//! Cases are written from the `docker run`, `exec`, `ps`, `inspect`, `logs`, `commit` and
//! `diff` references. Docker gets `--network none` (there is no bridge here), and so does
//! strata. Needs root, dockerd and runc; fails without.

mod harness;

use harness::differential::{Differential, judge, parallel};

#[path = "diff_containers/attach_cases.rs"]
mod attach_cases;
#[path = "diff_containers/case.rs"]
mod case;
#[path = "diff_containers/commit_cases.rs"]
mod commit_cases;
#[path = "diff_containers/config_cases.rs"]
mod config_cases;
#[path = "diff_containers/cp_cases.rs"]
mod cp_cases;
#[path = "diff_containers/events_cases.rs"]
mod events_cases;
#[path = "diff_containers/health_cases.rs"]
mod health_cases;
#[path = "diff_containers/hosts_cases.rs"]
mod hosts_cases;
#[path = "diff_containers/isolation_cases.rs"]
mod isolation_cases;
#[path = "diff_containers/known.rs"]
mod known;
#[path = "diff_containers/lifecycle_cases.rs"]
mod lifecycle_cases;
#[path = "diff_containers/logging_cases.rs"]
mod logging_cases;
#[path = "diff_containers/network_cases.rs"]
mod network_cases;
#[path = "diff_containers/options_cases.rs"]
mod options_cases;
#[path = "diff_containers/resource_cases.rs"]
mod resource_cases;
#[path = "diff_containers/run_cases.rs"]
mod run_cases;
#[path = "diff_containers/run_flag_cases.rs"]
mod run_flag_cases;
#[path = "diff_containers/security_cases.rs"]
mod security_cases;
#[path = "diff_containers/side.rs"]
mod side;
#[path = "diff_containers/signal_cases.rs"]
mod signal_cases;
#[path = "diff_containers/state_cases.rs"]
mod state_cases;

use case::Case;
use side::{Engine, Side};

/// Imports the image variants the cases run, on both sides.
fn setup_images(d: &Differential) {
    let images: &[(&str, &[&str])] = &[
        (
            "ep",
            &[
                "ENV PATH=/bin",
                "ENTRYPOINT [\"echo\", \"ep\"]",
                "CMD [\"default\"]",
            ],
        ),
        ("eponly", &["ENV PATH=/bin", "ENTRYPOINT [\"echo\"]"]),
        ("nocmd", &["ENV PATH=/bin"]),
        ("nopath", &["CMD [\"sh\"]"]),
        ("cmdshell", &["ENV PATH=/bin", "CMD echo from-shell $HOME"]),
        (
            "epshell",
            &[
                "ENV PATH=/bin",
                "ENTRYPOINT echo shell-ep",
                "CMD [\"ignored\"]",
            ],
        ),
        (
            "envimg",
            &[
                "ENV PATH=/bin A=image B=image",
                "WORKDIR /img/work",
                "USER app",
                "CMD [\"sh\"]",
            ],
        ),
        (
            "userimg",
            &["ENV PATH=/bin", "USER 1000:10", "CMD [\"sh\"]"],
        ),
        ("volimg", &["ENV PATH=/bin", "VOLUME /data", "CMD [\"sh\"]"]),
    ];
    for (name, changes) in images {
        d.image(name, changes);
    }
    // `import --change` takes no STOPSIGNAL: build that one, the same on both sides.
    let ctx = d.strata.path("stopimg");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM bb\nSTOPSIGNAL SIGUSR1\n").unwrap();
    let ctx = ctx.to_str().unwrap();
    d.docker
        .ok(&["build", "--network", "host", "-q", "-t", "stopimg", ctx]);
    d.strata.ok(&["build", "-q", "-t", "stopimg", ctx]);
}

/// Why the two transcripts differ, or None when they agree.
fn compare(docker: &[String], strata: &[String]) -> Option<String> {
    let n = docker.len().max(strata.len());
    for i in 0..n {
        let (a, b) = (docker.get(i), strata.get(i));
        if a != b {
            let show = |s: Option<&String>| {
                s.map_or("(no such step)".to_string(), |s| s.replace('\n', "\n    "))
            };
            return Some(format!(
                "step {}:\n  docker:\n    {}\n  strata:\n    {}",
                i + 1,
                show(a),
                show(b)
            ));
        }
    }
    None
}

#[test]
fn containers_agree_with_docker() {
    let d = Differential::new();
    setup_images(&d);
    let cases: Vec<&Case> = run_cases::CASES
        .iter()
        .chain(isolation_cases::CASES)
        .chain(signal_cases::CASES)
        .chain(state_cases::CASES)
        .chain(commit_cases::CASES)
        .chain(options_cases::CASES)
        .chain(security_cases::CASES)
        .chain(hosts_cases::CASES)
        .chain(lifecycle_cases::CASES)
        .chain(health_cases::CASES)
        .chain(config_cases::CASES)
        .chain(logging_cases::CASES)
        .chain(run_flag_cases::ATTACH_CASES)
        .chain(run_flag_cases::USERNS_CASES)
        .chain(run_flag_cases::SECURITY_OPT_CASES)
        .chain(cp_cases::CASES)
        .chain(events_cases::CASES)
        .chain(attach_cases::CASES)
        .chain(network_cases::CASES)
        .chain(resource_cases::CASES)
        .collect();
    let names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    for (i, n) in names.iter().enumerate() {
        assert!(!names[..i].contains(n), "case name {n} is used twice");
    }
    let only = std::env::var("DIFF_CONTAINERS_ONLY").ok();
    let results = parallel(&cases, 3, |case| {
        // `DIFF_CONTAINERS_ONLY=a,b`: the cases whose names contain any of them.
        if only
            .as_deref()
            .is_some_and(|o| !o.split(',').any(|o| case.name.contains(o)))
        {
            return None;
        }
        let transcript = |engine| {
            let s = Side::new(&d, engine, case.name);
            case.play(&s);
            s.finish()
        };
        let docker = transcript(Engine::Docker);
        let strata = transcript(Engine::Strata);
        if std::env::var_os("DIFF_CONTAINERS_SHOW").is_some() {
            eprintln!(
                "=== {}\n{}\n--- strata\n{}",
                case.name,
                docker.join("\n"),
                strata.join("\n")
            );
        }
        compare(&docker, &strata)
    });
    let differing: Vec<(String, String)> = results
        .into_iter()
        .zip(&cases)
        .filter_map(|(r, case)| match r {
            Ok(why) => why.map(|w| (case.name.to_string(), w)),
            Err(panic) => Some((case.name.to_string(), format!("the case panicked: {panic}"))),
        })
        .collect();
    // Which containers a case left, before the bare assertion.
    let left = d.strata.ok(&[
        "ps",
        "-a",
        "--no-trunc",
        "--format",
        "{{.Names}} {{.Command}} {{.State}}",
    ]);
    if !left.is_empty() {
        eprintln!("containers left behind:\n{left}");
    }
    if only.is_none() {
        judge("containers", cases.len(), &differing, known::KNOWN);
    } else {
        for (n, w) in &differing {
            eprintln!("=== {n}: differs\n{w}\n");
        }
    }
    assert!(left.is_empty(), "containers left behind:\n{left}");
    d.strata.assert_clean();
}
