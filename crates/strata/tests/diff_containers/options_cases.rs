//! More `docker run` options, from the `docker run` reference: ulimits, /dev/shm size, CPU
//! shares, the host's PID/IPC/UTS namespaces, DNS settings, labels and restart policies,
//! and how each shows up in `inspect`.

use super::case::{Case, code, out, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    out("ulimit_nofile", &["run", "--rm", "--ulimit", "nofile=512:1024", "bb", "sh", "-c", "ulimit -n; ulimit -Hn"]),
    out("ulimit_default_nofile", &["run", "--rm", "bb", "sh", "-c", "ulimit -n; ulimit -Hn"]),
    out("shm_size", &["run", "--rm", "--shm-size", "1m", "bb", "sh", "-c", "busybox df -k /dev/shm | busybox awk 'NR==2 {print $2}'"]),
    out("shm_default_size", &["run", "--rm", "bb", "sh", "-c", "busybox df -k /dev/shm | busybox awk 'NR==2 {print $2}'"]),
    out("cpu_shares", &["run", "--rm", "--cpu-shares", "512", "bb", "cat", "/sys/fs/cgroup/cpu/cpu.shares"]),
    out("memory_swap_default", &["run", "--rm", "-m", "64m", "bb", "sh", "-c", "cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes 2>/dev/null || echo no-swap-accounting"]),
    out("pid_host", &["run", "--rm", "--pid", "host", "bb", "sh", "-c", "test $$ -ne 1 && echo not pid 1"]),
    out("pid_private_default", &["run", "--rm", "bb", "sh", "-c", "cd /proc && echo [0-9]*"]),
    out("uts_host", &["run", "--rm", "--uts", "host", "bb", "sh", "-c", "test \"$(cat /proc/sys/kernel/hostname)\" = \"$(cat /etc/hostname)\" && echo same"]),
    out("ipc_host", &["run", "--rm", "--ipc", "host", "bb", "sh", "-c", "test -d /dev/shm && echo shm"]),
    out("dns_flags", &["run", "--rm", "--dns", "10.9.8.7", "--dns-search", "example.test", "--dns-option", "ndots:2", "bb", "cat", "/etc/resolv.conf"]),
    code("restart_bad_policy", &["run", "--rm", "--restart", "sometimes", "bb", "true"]),
    code("restart_with_rm_refused", &["run", "--rm", "--restart", "always", "bb", "true"]),
    script("label_flags", labels),
    script("restart_policy_in_inspect", restart_policy),
    script("entrypoint_shell_dollar_zero", entrypoint_dollar_zero),
    script("exec_tty", exec_tty),
    script("exec_detached", exec_detached),
    script("ps_latest_and_last", ps_latest),
    script("wait_several", wait_several),
    script("rename_to_taken_name", rename_taken),
    script("create_then_start_attach_stdin", start_attach_stdin),
    script("logs_follow_until_exit", logs_follow),
    script("non_root_cannot_write_root_dir", non_root_write),
    script("inspect_type_container", inspect_type),
];

fn labels(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "--label",
            "team=core",
            "-l",
            "empty",
            "bb",
        ],
        Cmp::Code,
    );
    s.step(
        &["inspect", "-f", "{{json .Config.Labels}}", "@name"],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "-a",
            "--filter",
            "label=team=core",
            "--filter",
            "name=@name",
            "--format",
            // Not {{.Labels}}: with two labels Docker joins them in Go's random map
            // order, so the line would differ from run to run.
            "{{.Names}}",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "ps",
            "-a",
            "--filter",
            "label=team=other",
            "--filter",
            "name=@name",
            "--format",
            "{{.Names}}",
        ],
        Cmp::Out,
    );
}

fn restart_policy(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "--restart",
            "on-failure:3",
            "bb",
        ],
        Cmp::Code,
    );
    s.step(
        &[
            "inspect",
            "-f",
            "{{.HostConfig.RestartPolicy.Name}} {{.HostConfig.RestartPolicy.MaximumRetryCount}}",
            "@name",
        ],
        Cmp::Out,
    );
}

fn entrypoint_dollar_zero(s: &Side) {
    s.step(
        &[
            "run",
            "--rm",
            "--entrypoint",
            "sh",
            "bb",
            "-c",
            "echo $0 $1",
            "zero",
            "one",
        ],
        Cmp::Out,
    );
}

fn exec_tty(s: &Side) {
    s.step(
        &["run", "-d", "--name", "@name", "bb", "sleep", "60"],
        Cmp::Code,
    );
    s.step(
        &[
            "exec",
            "-t",
            "@name",
            "sh",
            "-c",
            "echo tty; test -t 1; echo $?",
        ],
        Cmp::Out,
    );
}

fn exec_detached(s: &Side) {
    s.step(
        &["run", "-d", "--name", "@name", "bb", "sleep", "60"],
        Cmp::Code,
    );
    s.step(
        &["exec", "-d", "@name", "sh", "-c", "echo bg > /tmp/bg"],
        Cmp::Out,
    );
    for _ in 0..50 {
        if s.step(&["exec", "@name", "cat", "/tmp/bg"], Cmp::Quiet)
            .code
            == 0
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    s.step(&["exec", "@name", "cat", "/tmp/bg"], Cmp::Out);
}

fn ps_latest(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Code);
    // Other cases create containers concurrently: only how many lines is compared.
    let lines = |args: &[&str]| s.step(args, Cmp::Code).stdout.lines().count().to_string();
    s.note("ps -l -q lines", &lines(&["ps", "-l", "-q"]));
    s.note("ps -n 1 -q lines", &lines(&["ps", "-n", "1", "-q"]));
}

fn wait_several(s: &Side) {
    s.step(
        &["run", "--name", "@name", "bb", "sh", "-c", "exit 1"],
        Cmp::Code,
    );
    s.step(
        &["run", "--name", "@name-b", "bb", "sh", "-c", "exit 2"],
        Cmp::Code,
    );
    s.step(&["wait", "@name", "@name-b"], Cmp::Out);
}

fn rename_taken(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Code);
    s.step(&["create", "--name", "@name-b", "bb"], Cmp::Code);
    s.step(&["rename", "@name", "@name-b"], Cmp::Code);
    s.step(&["inspect", "-f", "{{.Name}}", "@name"], Cmp::Out);
}

fn start_attach_stdin(s: &Side) {
    s.step(&["create", "-i", "--name", "@name", "bb", "cat"], Cmp::Code);
    s.step_in(&["start", "-a", "-i", "@name"], "through start\n", Cmp::Out);
    s.step(&["inspect", "-f", "{{.State.ExitCode}}", "@name"], Cmp::Out);
}

fn logs_follow(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "bb",
            "sh",
            "-c",
            "echo a; sleep 1; echo b",
        ],
        Cmp::Code,
    );
    s.step(&["logs", "-f", "@name"], Cmp::Out);
}

fn non_root_write(s: &Side) {
    s.step(
        &[
            "run",
            "--rm",
            "-u",
            "app",
            "bb",
            "sh",
            "-c",
            "touch /dir/x 2>/dev/null; echo $?; touch /tmp/x; echo $?",
        ],
        Cmp::Out,
    );
}

fn inspect_type(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Code);
    s.step(
        &["inspect", "--type", "container", "-f", "{{.Name}}", "@name"],
        Cmp::Out,
    );
    s.step(
        &["inspect", "--type", "image", "-f", "{{.Os}}", "@name"],
        Cmp::Code,
    );
}
