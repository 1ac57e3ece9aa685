//! What the engines report about containers, from the `docker inspect`, `ps`, `rename` and
//! `rm` references: the inspected state and config, listing and filtering, and container
//! names.

use super::case::{Case, code, out, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    // inspect.
    script("inspect_state_after_exit", inspect_state_after_exit),
    script("inspect_created_state", inspect_created_state),
    script("inspect_config", inspect_config),
    script("inspect_host_config", inspect_host_config),
    script("inspect_path_and_args", inspect_path_and_args),
    script("inspect_format_json_and_fields", inspect_json_fields),
    // Exit 1 and an empty JSON array on stdout.
    out("inspect_no_such_container", &["inspect", "dc-no-such-container"]),
    // ps.
    script("ps_format_fields", ps_format_fields),
    script("ps_quiet_and_filters", ps_quiet_and_filters),
    script("ps_exited_hidden_without_all", ps_exited_hidden),
    script("ps_filter_exited_code", ps_filter_exited),
    script("ps_filter_ancestor", ps_filter_ancestor),
    script("ps_command_column", ps_command_column),
    out("ps_table_header", &["ps", "--filter", "name=dc-nothing-matches"]),
    // Names.
    script("name_valid_characters", name_valid),
    code("name_with_slash_refused", &["run", "--rm", "--name", "bad/name", "bb", "true"]),
    code("name_leading_dot_refused", &["run", "--rm", "--name", ".dot", "bb", "true"]),
    code("name_with_space_refused", &["run", "--rm", "--name", "a b", "bb", "true"]),
    script("name_in_use", name_in_use),
    script("rename_container", rename),
    script("rm_running_needs_force", rm_running),
    code("rm_no_such_container", &["rm", "dc-no-such-container"]),
    script("run_rm_removes_container", run_rm_removes),
    script("rm_force_just_exited", rm_force_just_exited),
    // pause and unpause.
    script("pause_and_unpause", pause_and_unpause),
    script("pause_needs_a_running_container", pause_not_running),
    script("kill_and_rm_of_a_paused_container", kill_paused),
    script("stop_of_a_paused_container", stop_paused),
];

/// `pause`, then what each command reports of a paused container, then `unpause`.
fn pause_and_unpause(s: &Side) {
    s.step(
        &["run", "-d", "--name", "@name", "bb", "sleep", "60"],
        Cmp::Code,
    );
    s.step(&["pause", "@name"], Cmp::Full);
    s.step(
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Running}} {{.State.Paused}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(
        &["ps", "--filter", "name=@name", "--format", "{{.Status}}"],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "-q",
            "--filter",
            "status=paused",
            "--filter",
            "name=@name",
        ],
        Cmp::Out,
    );
    s.step(&["pause", "@name"], Cmp::Code);
    s.step(&["exec", "@name", "true"], Cmp::Code);
    s.step(&["container", "unpause", "@name"], Cmp::Full);
    s.step(
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Running}} {{.State.Paused}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(&["exec", "@name", "echo", "thawed"], Cmp::Out);
    s.step(&["unpause", "@name"], Cmp::Code);
    s.step(&["container", "pause", "@name"], Cmp::Out);
    s.step(&["rm", "@name"], Cmp::Code);
    s.step(&["rm", "-f", "@name"], Cmp::Out);
}

fn pause_not_running(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Code);
    s.step(&["pause", "@name"], Cmp::Code);
    s.step(&["unpause", "@name"], Cmp::Code);
    s.step(&["pause", "dc-no-such-container"], Cmp::Code);
}

/// A paused container gets the kill once thawed, as Docker's kill does.
fn kill_paused(s: &Side) {
    s.step(
        &["run", "-d", "--name", "@name", "bb", "sleep", "60"],
        Cmp::Code,
    );
    s.step(&["pause", "@name"], Cmp::Quiet);
    s.step(&["kill", "@name"], Cmp::Out);
    s.step(
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}} {{.State.ExitCode}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(
        &["run", "-d", "--name", "@name-2", "bb", "sleep", "60"],
        Cmp::Code,
    );
    s.step(&["pause", "@name-2"], Cmp::Quiet);
    s.step(&["rm", "-f", "@name-2"], Cmp::Out);
    s.step(&["ps", "-aq", "--filter", "name=@name-2"], Cmp::Out);
}

fn stop_paused(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "trap 'exit 7' TERM; while true; do sleep 0.1; done",
        ],
        Cmp::Code,
    );
    s.step(&["pause", "@name"], Cmp::Quiet);
    s.step(&["stop", "-t", "5", "@name"], Cmp::Out);
    s.step(
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Paused}} {{.State.ExitCode}}",
            "@name",
        ],
        Cmp::Out,
    );
}

fn inspect_state_after_exit(s: &Side) {
    s.step(
        &["run", "--name", "@name", "bb", "sh", "-c", "exit 3"],
        Cmp::Code,
    );
    s.step(
        &["inspect", "-f", "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.State.Pid}} {{.State.Error}}|{{.Name}}", "@name"],
        Cmp::Out,
    );
    s.step(
        &["container", "inspect", "-f", "{{.State.ExitCode}}", "@name"],
        Cmp::Out,
    );
}

fn inspect_created_state(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Out);
    s.step(
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.Running}} {{.State.ExitCode}} {{.State.Pid}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "-a",
            "--filter",
            "name=@name",
            "--format",
            "{{.Names}} {{.State}}",
        ],
        Cmp::Out,
    );
}

fn inspect_config(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "-u",
            "app",
            "-w",
            "/tmp",
            "-e",
            "X=1",
            "--hostname",
            "h1",
            "-t",
            "-i",
            "ep",
            "arg",
        ],
        Cmp::Code,
    );
    for f in [
        "{{json .Config.Cmd}}",
        "{{json .Config.Entrypoint}}",
        "{{json .Config.Env}}",
        "{{.Config.User}} {{.Config.WorkingDir}} {{.Config.Hostname}} {{.Config.Image}}",
        "{{.Config.Tty}} {{.Config.OpenStdin}} {{.Config.AttachStdin}} {{.Config.StdinOnce}}",
    ] {
        s.step(&["inspect", "-f", f, "@name"], Cmp::Out);
    }
}

fn inspect_host_config(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "-m",
            "64m",
            "--cpus",
            "1.5",
            "--pids-limit",
            "10",
            "--read-only",
            "--rm",
            "--init",
            "bb",
        ],
        Cmp::Code,
    );
    for f in [
        "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}}",
        "{{.HostConfig.ReadonlyRootfs}} {{.HostConfig.AutoRemove}} {{.HostConfig.Init}}",
        "{{.HostConfig.NetworkMode}} {{.HostConfig.RestartPolicy.Name}} {{.HostConfig.Privileged}}",
        "{{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}} {{json .HostConfig.Tmpfs}}",
    ] {
        s.step(&["inspect", "-f", f, "@name"], Cmp::Out);
    }
}

fn inspect_path_and_args(s: &Side) {
    s.step(&["create", "--name", "@name", "ep", "x", "y"], Cmp::Code);
    s.step(
        &["inspect", "-f", "{{.Path}} {{json .Args}}", "@name"],
        Cmp::Out,
    );
    s.step(&["create", "--name", "@name-2", "cmdshell"], Cmp::Code);
    s.step(
        &["inspect", "-f", "{{.Path}} {{json .Args}}", "@name-2"],
        Cmp::Out,
    );
}

fn inspect_json_fields(s: &Side) {
    s.step(&["create", "--name", "@name", "bb", "echo", "j"], Cmp::Code);
    let st = s.step(&["inspect", "@name"], Cmp::Quiet);
    let v: serde_json::Value = serde_json::from_str(&st.stdout).unwrap_or_default();
    let c = &v[0];
    s.note(
        "is array of one",
        &(v.as_array().map(|a| a.len()) == Some(1)).to_string(),
    );
    for k in [
        "Id",
        "Created",
        "Path",
        "Args",
        "State",
        "Image",
        "Name",
        "HostConfig",
        "Config",
        "Mounts",
        "RestartCount",
        "Driver",
        "Platform",
    ] {
        s.note(k, &(!c[k].is_null()).to_string());
    }
    s.note("Name", &c["Name"].to_string());
    s.note(
        "Id is 64 hex",
        &c["Id"].as_str().is_some_and(|i| i.len() == 64).to_string(),
    );
    s.note(
        "Image is a digest",
        &c["Image"]
            .as_str()
            .is_some_and(|i| i.starts_with("sha256:"))
            .to_string(),
    );
}

fn ps_format_fields(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "echo ready; sleep 60",
        ],
        Cmp::Code,
    );
    s.step(
        &[
            "ps",
            "--filter",
            "name=@name",
            "--format",
            "{{.Names}}|{{.Image}}|{{.Command}}|{{.State}}|{{.Ports}}|{{.Labels}}|{{.Mounts}}",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "--filter",
            "name=@name",
            "--format",
            "table {{.Names}}\t{{.Image}}",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "--filter",
            "name=@name",
            "--format",
            "{{json .Names}}",
        ],
        Cmp::Out,
    );
}

fn ps_quiet_and_filters(s: &Side) {
    s.step(
        &["run", "-d", "--name", "@name", "bb", "sleep", "60"],
        Cmp::Code,
    );
    s.step(&["ps", "-q", "--filter", "name=@name"], Cmp::Out);
    s.step(
        &["ps", "-q", "--no-trunc", "--filter", "name=@name"],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "-q",
            "--filter",
            "name=@name",
            "--filter",
            "status=running",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "-q",
            "--filter",
            "name=@name",
            "--filter",
            "status=exited",
        ],
        Cmp::Out,
    );
    s.step(&["ps", "-q", "--filter", "bogus=1"], Cmp::Code);
}

fn ps_exited_hidden(s: &Side) {
    s.step(&["run", "--name", "@name", "bb", "true"], Cmp::Code);
    s.step(
        &["ps", "--filter", "name=@name", "--format", "{{.Names}}"],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "-a",
            "--filter",
            "name=@name",
            "--format",
            "{{.Names}} {{.State}}",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "-a",
            "--filter",
            "name=@name",
            "--format",
            "{{.Status}}",
        ],
        Cmp::Out,
    );
}

fn ps_filter_exited(s: &Side) {
    s.step(
        &["run", "--name", "@name", "bb", "sh", "-c", "exit 3"],
        Cmp::Code,
    );
    s.step(
        &[
            "ps",
            "-a",
            "--filter",
            "name=@name",
            "--filter",
            "exited=3",
            "--format",
            "{{.Names}}",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "-a",
            "--filter",
            "name=@name",
            "--filter",
            "exited=0",
            "--format",
            "{{.Names}}",
        ],
        Cmp::Out,
    );
}

fn ps_filter_ancestor(s: &Side) {
    s.step(&["create", "--name", "@name", "ep"], Cmp::Code);
    s.step(
        &[
            "ps",
            "-a",
            "--filter",
            "ancestor=ep",
            "--filter",
            "name=@name",
            "--format",
            "{{.Names}}",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "-a",
            "--filter",
            "ancestor=bb",
            "--filter",
            "name=@name",
            "--format",
            "{{.Names}}",
        ],
        Cmp::Out,
    );
}

fn ps_command_column(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "echo a very long command line that is truncated",
        ],
        Cmp::Code,
    );
    s.step(
        &[
            "ps",
            "-a",
            "--filter",
            "name=@name",
            "--format",
            "{{.Command}}",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "-a",
            "--no-trunc",
            "--filter",
            "name=@name",
            "--format",
            "{{.Command}}",
        ],
        Cmp::Out,
    );
}

fn name_valid(s: &Side) {
    s.step(&["run", "--name", "@name.v_1-x", "bb", "true"], Cmp::Code);
    s.step(&["inspect", "-f", "{{.Name}}", "@name.v_1-x"], Cmp::Out);
}

fn name_in_use(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Code);
    s.step(&["create", "--name", "@name", "bb"], Cmp::Code);
    s.step(&["run", "--rm", "--name", "@name", "bb", "true"], Cmp::Code);
    s.step(&["ps", "-aq", "--filter", "name=@name"], Cmp::Out);
}

fn rename(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Code);
    s.step(&["rename", "@name", "@name-renamed"], Cmp::Full);
    s.step(&["inspect", "-f", "{{.Name}}", "@name-renamed"], Cmp::Out);
    s.step(&["inspect", "@name"], Cmp::Code);
}

fn rm_running(s: &Side) {
    s.step(
        &["run", "-d", "--name", "@name", "bb", "sleep", "60"],
        Cmp::Code,
    );
    s.step(&["rm", "@name"], Cmp::Code);
    s.step(&["rm", "-f", "@name"], Cmp::Full);
    s.step(&["ps", "-aq", "--filter", "name=@name"], Cmp::Out);
}

fn run_rm_removes(s: &Side) {
    s.step(
        &["run", "--rm", "--name", "@name", "bb", "sh", "-c", "exit 2"],
        Cmp::Code,
    );
    s.step(&["ps", "-aq", "--filter", "name=@name"], Cmp::Out);
}

/// `rm -f` of a container whose process has just exited removes it, every time: 20 tries,
/// since a race shows only some of the time.
fn rm_force_just_exited(s: &Side) {
    let mut failures = 0;
    for _ in 0..20 {
        s.step(
            &["run", "-d", "--name", "@name", "bb", "sh", "-c", "exit 2"],
            Cmp::Quiet,
        );
        if s.step(&["rm", "-f", "@name"], Cmp::Quiet).code != 0 {
            failures += 1;
            // Out of the way for the next try (bounded: the cleanup retries too).
            for _ in 0..10 {
                if s.step(&["rm", "-f", "@name"], Cmp::Quiet).code == 0 {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
    s.note("rm -f always removed it", &(failures == 0).to_string());
}
