//! `--log-driver` and `--log-opt`: Docker's local drivers (`json-file`, `local`, `none`),
//! their options and refusals, `logs` of each, and rotation by `max-size`/`max-file`.

use std::time::{Duration, Instant};

use super::case::{Case, code, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    code("log_driver_unknown", &["run", "--rm", "--log-driver", "bogus", "bb", "true"]),
    code("log_opt_unknown", &["run", "--rm", "--log-opt", "colour=yes", "bb", "true"]),
    code("log_opt_not_for_none", &["run", "--rm", "--log-driver", "none", "--log-opt", "max-size=1m", "bb", "true"]),
    code("log_opt_bad_size", &["run", "--rm", "--log-opt", "max-size=huge", "bb", "true"]),
    code("log_opt_bad_max_file", &["run", "--rm", "--log-opt", "max-size=1k", "--log-opt", "max-file=0", "bb", "true"]),
    script("log_drivers_none_and_local", drivers),
    script("log_rotation_by_size", rotation),
];

fn drivers(s: &Side) {
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "--log-driver",
            "none",
            "bb",
            "echo",
            "hi",
        ],
        Cmp::Out,
    );
    s.step(&["logs", "@name"], Cmp::Code);
    s.step(
        &["inspect", "-f", "{{json .HostConfig.LogConfig}}", "@name"],
        Cmp::Out,
    );
    s.step(
        &[
            "run",
            "--name",
            "@name-2",
            "--log-driver",
            "local",
            "bb",
            "echo",
            "kept",
        ],
        Cmp::Out,
    );
    s.step(&["logs", "@name-2"], Cmp::Out);
    s.step(
        &["inspect", "-f", "{{json .HostConfig.LogConfig}}", "@name-2"],
        Cmp::Out,
    );
    s.step(
        &[
            "create",
            "--name",
            "@name-3",
            "--log-opt",
            "max-size=10m",
            "--log-opt",
            "max-file=3",
            "--log-opt",
            "tag=x",
            "bb",
        ],
        Cmp::Quiet,
    );
    s.step(
        &["inspect", "-f", "{{json .HostConfig.LogConfig}}", "@name-3"],
        Cmp::Out,
    );
}

fn rotation(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=2",
            "bb",
            "sh",
            "-c",
            "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done",
        ],
        Cmp::Quiet,
    );
    s.step(&["wait", "@name"], Cmp::Out);
    // The newest lines are all there, in order.
    s.step(&["logs", "--tail", "3", "@name"], Cmp::Out);
    // The oldest are gone: at most two files of about 1 KiB are kept.
    let all = s.step(&["logs", "@name"], Cmp::Quiet);
    let kept = all.stdout.lines().count();
    s.note(
        "rotated away the oldest",
        &(!all.stdout.starts_with("line-0\n")).to_string(),
    );
    s.note(
        "kept between 10 and 60 lines",
        &(10..=60).contains(&kept).to_string(),
    );
    // Following a log that rotates underneath: every line arrives once.
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name-2",
            "--log-opt",
            "max-size=1k",
            "--log-opt",
            "max-file=3",
            "bb",
            "sh",
            "-c",
            "sleep 1; i=0; while [ $i -lt 60 ]; do echo l-$i; i=$((i+1)); usleep 20000; done",
        ],
        Cmp::Quiet,
    );
    let started = Instant::now();
    let followed = s.step(&["logs", "-f", "@name-2"], Cmp::Quiet);
    // Docker's json-file follower can lose lines across a rotation (a known weakness of
    // its); both reach the end. `containers_logs` holds strata to every line once.
    let lines: Vec<&str> = followed.stdout.lines().collect();
    s.note(
        "followed to the last line",
        &(lines.last() == Some(&"l-59")).to_string(),
    );
    s.note(
        "follow ended with the container",
        &(started.elapsed() < Duration::from_secs(50)).to_string(),
    );
}
