//! `update`, `stats` and `events`, from their `docker` references: `update`'s limits as
//! `inspect` shows them and its refusals, `stats --no-stream` of running and stopped
//! containers, and the events a container's life leaves.
//!
//! Events are compared only where both engines record the same thing: every `events` step
//! filters on the case's container (`--filter container=NAME`), which leaves out the
//! network events Docker's daemon logs for the `none` network (its actor is the network;
//! strata has no network objects to report), and prints only `{{.Type}} {{.Action}}` (IDs
//! and times differ by nature). Both engines are on this host, so the `--since`/`--until`
//! window is taken from this process's clock.

use super::case::{Case, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    script("update_limits_in_inspect", update_limits),
    script("update_memory_refusals", update_memory_refusals),
    script("update_cpu_period_quota", update_cpu_period_quota),
    script("update_restart_policy", update_restart_policy),
    script("update_restart_of_rm_container_refused", update_restart_rm),
    script("update_without_flags", update_without_flags),
    script("stats_no_stream_running", stats_running),
    script("stats_no_stream_stopped", stats_stopped),
    script("events_container_life", events_container_life),
    script("events_filter_event_and_label", events_filter_event_label),
    script("events_bad_filter", events_bad_filter),
    script("events_image_tag_and_commit", events_image_tag_commit),
    script("events_exec", events_exec),
    script("events_volume_mount", events_volume_mount),
];

const HOST_LIMITS: &str = "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} \
    {{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.PidsLimit}} \
    {{.HostConfig.CpusetCpus}}";

/// Limits changed on a running container: what `update` prints and what `inspect` shows.
fn update_limits(s: &Side) {
    s.step(
        &[
            "run", "-d", "--name", "@name", "-m", "64m", "bb", "sleep", "60",
        ],
        Cmp::Code,
    );
    s.step(&["inspect", "-f", HOST_LIMITS, "@name"], Cmp::Out);
    // Below the swap limit in force (twice 64m): the swap limit stays.
    s.step(&["update", "-m", "100m", "@name"], Cmp::Out);
    s.step(&["inspect", "-f", HOST_LIMITS, "@name"], Cmp::Out);
    s.step(
        &[
            "update",
            "--memory",
            "200m",
            "--memory-swap",
            "400m",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "update",
            "--cpus",
            "0.5",
            "--cpu-shares",
            "512",
            "--pids-limit",
            "50",
            "--cpuset-cpus",
            "0",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(&["inspect", "-f", HOST_LIMITS, "@name"], Cmp::Out);
    // The running container's cgroup has the new limits.
    s.step(
        &[
            "exec",
            "@name",
            "sh",
            "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max \
             /sys/fs/cgroup/cpu/cpu.shares /sys/fs/cgroup/cpu/cpu.cfs_quota_us",
        ],
        Cmp::Out,
    );
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
}

/// Docker's refusals: below 6MB, swap below memory, memory above the swap in force (and a
/// container without a memory limit has none), swap without memory.
fn update_memory_refusals(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Quiet);
    s.step(&["update", "-m", "4m", "@name"], Cmp::Code);
    s.step(
        &["update", "-m", "64m", "--memory-swap", "32m", "@name"],
        Cmp::Code,
    );
    s.step(&["update", "-m", "64m", "@name"], Cmp::Code);
    s.step(&["update", "--memory-swap", "64m", "@name"], Cmp::Code);
    s.step(&["inspect", "-f", HOST_LIMITS, "@name"], Cmp::Out);
    s.step(
        &["update", "-m", "64m", "--memory-swap", "128m", "@name"],
        Cmp::Out,
    );
    s.step(&["inspect", "-f", HOST_LIMITS, "@name"], Cmp::Out);
    s.step(&["update", "-m", "100m", "dc-no-such-container"], Cmp::Code);
}

fn update_cpu_period_quota(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Quiet);
    s.step(
        &[
            "update",
            "--cpu-period",
            "50000",
            "--cpu-quota",
            "25000",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "inspect",
            "-f",
            "{{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} {{.HostConfig.NanoCpus}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(&["update", "--cpus", "1", "@name"], Cmp::Code);
    s.step(&["update", "--cpu-period", "500", "@name"], Cmp::Code);
}

fn update_restart_policy(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Quiet);
    s.step(&["update", "--restart", "on-failure:2", "@name"], Cmp::Out);
    s.step(
        &[
            "inspect",
            "-f",
            "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(&["update", "--restart", "sometimes", "@name"], Cmp::Code);
}

fn update_restart_rm(s: &Side) {
    s.step(&["create", "--rm", "--name", "@name", "bb"], Cmp::Quiet);
    s.step(&["update", "--restart", "always", "@name"], Cmp::Code);
    s.step(
        &[
            "inspect",
            "-f",
            "{{.HostConfig.RestartPolicy.Name}}",
            "@name",
        ],
        Cmp::Out,
    );
}

fn update_without_flags(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Quiet);
    s.step(&["update", "@name"], Cmp::Full);
}

/// A running container's name and process count (a shell and two children).
fn stats_running(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "sleep 60 & sleep 60; true",
        ],
        Cmp::Code,
    );
    s.step(
        &[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.PIDs}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "stats",
            "--no-stream",
            "--format",
            "{{.Container}} {{.NetIO}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
}

/// A container that is not running reads as zeros.
fn stats_stopped(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Quiet);
    s.step(
        &[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.PIDs}} {{.CPUPerc}} {{.MemUsage}} {{.MemPerc}} {{.NetIO}} {{.BlockIO}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(&["stats", "--no-stream", "dc-no-such-container"], Cmp::Code);
}

/// Now, as `--since`/`--until` take it: Unix seconds with nanoseconds.
fn now() -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", t.as_secs(), t.subsec_nanos())
}

/// `events` between two instants, filtered on the case's container; recorded without the
/// instants (which differ between the sides), as `events FILTERS FORMAT`.
fn events(s: &Side, since: &str, until: &str, extra: &[&str], format: &str) {
    let mut args = vec!["events", "--since", since, "--until", until];
    args.extend_from_slice(&["--filter", "container=@name"]);
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--format", format]);
    let step = s.step(&args, Cmp::Quiet);
    s.note(
        &format!("events {} --format {format}", extra.join(" ")),
        &format!("exit {}\n{}", step.code, step.stdout),
    );
}

/// create, start, stop (TERM ignored by a PID 1 `sleep`, so a KILL after 1 s), rm:
/// Docker's sequence is create, start, kill, kill, die, stop, destroy.
fn events_container_life(s: &Side) {
    let since = now();
    s.step(
        &["create", "--name", "@name", "bb", "sleep", "60"],
        Cmp::Quiet,
    );
    s.step(&["start", "@name"], Cmp::Quiet);
    s.step(&["stop", "-t", "1", "@name"], Cmp::Quiet);
    s.step(&["rm", "@name"], Cmp::Quiet);
    let until = now();
    events(s, &since, &until, &[], "{{.Type}} {{.Action}}");
    events(
        s,
        &since,
        &until,
        &["--filter", "event=kill"],
        "{{.Action}} {{.Actor.Attributes.signal}} {{.Status}}",
    );
    events(
        s,
        &since,
        &until,
        &["--filter", "event=die"],
        "{{.Action}} {{.Actor.Attributes.exitCode}} {{.Actor.Attributes.image}} {{.From}}",
    );
}

/// `event` and `label` filters, and a label among the attributes.
fn events_filter_event_label(s: &Side) {
    let since = now();
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "--label",
            "team=core",
            "bb",
            "true",
        ],
        Cmp::Quiet,
    );
    s.step(&["rm", "@name"], Cmp::Quiet);
    let until = now();
    events(
        s,
        &since,
        &until,
        &["--filter", "event=start", "--filter", "event=destroy"],
        "{{.Type}} {{.Action}} {{.Actor.Attributes.team}}",
    );
    events(
        s,
        &since,
        &until,
        &["--filter", "label=team=core", "--filter", "type=container"],
        "{{.Action}}",
    );
    events(
        s,
        &since,
        &until,
        &["--filter", "label=team=other"],
        "{{.Action}}",
    );
}

fn events_bad_filter(s: &Side) {
    // Docker 20.10's daemon ignores a filter key it does not know.
    s.step(
        &["events", "--until", "1", "--filter", "bogus=1"],
        Cmp::Full,
    );
    s.step(
        &["events", "--since", "yesterday", "--until", "1"],
        Cmp::Code,
    );
    s.step(
        &["events", "--since", "1000.5", "--until", "999"],
        Cmp::Full,
    );
}

/// Image events: `tag` names the new reference; `rmi` of that reference is an `untag`
/// named by the image ID, which the `image=` filter does not match (Docker's rule). A
/// `commit` is a container event with the new image's reference.
fn events_image_tag_commit(s: &Side) {
    let since = now();
    s.step(&["tag", "bb", "@image"], Cmp::Quiet);
    s.step(&["rmi", "@image"], Cmp::Quiet);
    s.step(&["create", "--name", "@name", "bb"], Cmp::Quiet);
    s.step(&["commit", "@name", "@image"], Cmp::Quiet);
    let until = now();
    let mut args = vec!["events", "--since", &since, "--until", &until];
    args.extend_from_slice(&[
        "--filter",
        "image=@image",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
    ]);
    let step = s.step(&args, Cmp::Quiet);
    s.note(
        "events --filter image=@image",
        &format!("exit {}\n{}", step.code, step.stdout),
    );
    events(
        s,
        &since,
        &until,
        &["--filter", "event=commit"],
        "{{.Action}} {{.Actor.Attributes.imageRef}} {{.Actor.Attributes.comment}}",
    );
}

/// `exec`: Docker's `exec_create`/`exec_start` actions carry the command; `exec_die` its
/// exit code.
fn events_exec(s: &Side) {
    s.step(
        &["run", "-d", "--name", "@name", "bb", "sleep", "60"],
        Cmp::Quiet,
    );
    let since = now();
    s.step(&["exec", "@name", "sh", "-c", "exit 3"], Cmp::Code);
    let until = now();
    events(
        s,
        &since,
        &until,
        &[],
        "{{.Action}} {{.Actor.Attributes.exitCode}}",
    );
    events(
        s,
        &since,
        &until,
        &["--filter", "event=exec_start"],
        "{{.Action}}",
    );
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
}

/// A named volume made by `-v`, mounted while its container runs, removed with it. (Not
/// `{{index .Actor.Attributes "read/write"}}`: Go's `index` of a missing key of Docker's
/// `map[string]string` is "", where strata's template engine, on JSON, prints `<no value>`.)
fn events_volume_mount(s: &Side) {
    let since = now();
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "-v",
            "@vol:/data:ro",
            "bb",
            "true",
        ],
        Cmp::Quiet,
    );
    s.step(&["rm", "@name"], Cmp::Quiet);
    s.step(&["volume", "rm", "@vol"], Cmp::Quiet);
    let until = now();
    let mut args = vec!["events", "--since", &since, "--until", &until];
    args.extend_from_slice(&[
        "--filter",
        "volume=@vol",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.Attributes.destination}} {{.Actor.Attributes.driver}}",
    ]);
    let step = s.step(&args, Cmp::Quiet);
    s.note(
        "events --filter volume=@vol",
        &format!("exit {}\n{}", step.code, step.stdout),
    );
}
