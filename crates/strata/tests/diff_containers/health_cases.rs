//! Health checks (`--health-*`, `--no-healthcheck`, an image's `HEALTHCHECK`) and the `ps`
//! filters that select on health, volumes, published ports and creation order.

use std::time::{Duration, Instant};

use super::case::{Case, full, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    full("health_no_healthcheck_conflicts", &["run", "--rm", "--no-healthcheck", "--health-cmd", "true", "bb", "true"]),
    full("health_negative_interval", &["run", "--rm", "--health-interval", "-1s", "bb", "true"]),
    full("health_negative_retries", &["run", "--rm", "--health-retries", "-1", "bb", "true"]),
    full("health_bad_duration", &["run", "--rm", "--health-timeout", "soon", "bb", "true"]),
    full("health_duration_without_unit", &["run", "--rm", "--health-start-period", "10", "bb", "true"]),
    full("health_duration_unknown_unit", &["run", "--rm", "--health-interval", "1d", "bb", "true"]),
    script("health_config_before_start", health_config),
    script("health_becomes_healthy", healthy),
    script("health_becomes_unhealthy", unhealthy),
    script("health_image_check_disabled", image_check_disabled),
    script("ps_filters_volume_publish_order", ps_filters),
];

/// Asks `inspect -f {{.State.Health.Status}}` until it says `want` (at most 20 s) and
/// records whether it did.
fn wait_for_health(s: &Side, name: &str, want: &str) {
    let end = Instant::now() + Duration::from_secs(20);
    let mut seen = String::new();
    while Instant::now() < end {
        seen = s
            .step(
                &["inspect", "-f", "{{.State.Health.Status}}", name],
                Cmp::Quiet,
            )
            .stdout
            .trim()
            .to_string();
        if seen == want {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    s.note(&format!("health of {name} reached"), &seen);
}

fn health_config(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "--health-cmd",
            "exit 0",
            "--health-interval",
            "1500ms",
            "--health-retries",
            "2",
            "--health-start-period",
            "1m",
            "--health-timeout",
            "3s",
            "bb",
        ],
        Cmp::Quiet,
    );
    s.step(
        &[
            "inspect",
            "-f",
            "{{json .Config.Healthcheck}} {{json .State.Health}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "-a",
            "--filter",
            "health=none",
            "--filter",
            "name=@name",
            "--format",
            "{{.Names}} {{.Status}}",
        ],
        Cmp::Out,
    );
    s.step(&["ps", "-a", "--filter", "health=bogus"], Cmp::Code);
}

fn healthy(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "--health-cmd",
            "echo ok",
            "--health-interval",
            "200ms",
            "bb",
            "sleep",
            "60",
        ],
        Cmp::Quiet,
    );
    wait_for_health(s, "@name", "healthy");
    s.step(
        &["inspect", "-f", "{{.State.Health.FailingStreak}} {{(index .State.Health.Log 0).ExitCode}} {{json (index .State.Health.Log 0).Output}}", "@name"],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "--filter",
            "health=healthy",
            "--filter",
            "name=@name",
            "--format",
            "{{.Names}}",
        ],
        Cmp::Out,
    );
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
}

fn unhealthy(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "--health-cmd",
            "echo bad; exit 3",
            "--health-interval",
            "200ms",
            "--health-retries",
            "2",
            "bb",
            "sleep",
            "60",
        ],
        Cmp::Quiet,
    );
    wait_for_health(s, "@name", "unhealthy");
    s.step(
        &[
            "inspect",
            "-f",
            "{{(index .State.Health.Log 0).ExitCode}} {{json (index .State.Health.Log 0).Output}}",
            "@name",
        ],
        Cmp::Out,
    );
    // The streak keeps growing while the probe fails: at least the retries by now.
    let streak = s.step(
        &["inspect", "-f", "{{.State.Health.FailingStreak}}", "@name"],
        Cmp::Quiet,
    );
    let n: i64 = streak.stdout.trim().parse().unwrap_or(0);
    s.note("failing streak at least the retries", &(n >= 2).to_string());
    s.step(
        &[
            "ps",
            "--filter",
            "health=unhealthy",
            "--filter",
            "name=@name",
            "--format",
            "{{.Names}}",
        ],
        Cmp::Out,
    );
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
}

fn image_check_disabled(s: &Side) {
    let ctx = s.dir().join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM bb\nHEALTHCHECK --interval=5s --retries=4 CMD true\n",
    )
    .unwrap();
    let mut build = vec!["build", "-q", "-t", "@image"];
    if s.engine == super::side::Engine::Docker {
        build.extend(["--network", "host"]);
    }
    build.push("@dir/ctx");
    s.step(&build, Cmp::Quiet);
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "--health-timeout",
            "2s",
            "@image",
        ],
        Cmp::Quiet,
    );
    s.step(
        &["inspect", "-f", "{{json .Config.Healthcheck}}", "@name"],
        Cmp::Out,
    );
    s.step(
        &["create", "--name", "@name-2", "--no-healthcheck", "@image"],
        Cmp::Quiet,
    );
    s.step(
        &["inspect", "-f", "{{json .Config.Healthcheck}}", "@name-2"],
        Cmp::Out,
    );
}

fn ps_filters(s: &Side) {
    let vol = s.volume();
    let mount = format!("{vol}:/data");
    s.step(
        &["create", "--name", "@name-a", "-v", &mount, "bb"],
        Cmp::Quiet,
    );
    std::thread::sleep(Duration::from_millis(20));
    s.step(
        &[
            "create",
            "--name",
            "@name-b",
            "-p",
            "127.0.0.1:8080:80",
            "bb",
        ],
        Cmp::Quiet,
    );
    std::thread::sleep(Duration::from_millis(20));
    s.step(&["create", "--name", "@name-c", "bb"], Cmp::Quiet);
    let names = "{{.Names}}";
    for filter in [
        format!("volume={vol}"),
        "volume=/data".to_string(),
        "publish=80/tcp".to_string(),
        "publish=80".to_string(),
        "publish=79-81".to_string(),
        format!("before={}-c", s.name()),
        format!("since={}-a", s.name()),
    ] {
        s.step(
            &[
                "ps",
                "-a",
                "--filter",
                &filter,
                "--filter",
                "name=@name",
                "--format",
                names,
            ],
            Cmp::Sorted,
        );
    }
}
