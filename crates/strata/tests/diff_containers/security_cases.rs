//! The security and resource flags beyond their first cases: `--cap-add/--cap-drop`,
//! `--sysctl`, `--ulimit`, `--shm-size`, `-c`, `--group-add` (also in `exec`) and
//! `--cgroupns`, their refusals, and how `inspect` shows them.

use super::case::{Case, code, full, out, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    out("cap_drop_all_add_one", &["run", "--rm", "--cap-drop", "all", "--cap-add", "chown", "bb", "busybox", "grep", "^Cap", "/proc/self/status"]),
    out("cap_add_already_default", &["run", "--rm", "--cap-add", "CHOWN", "bb", "busybox", "grep", "^CapEff", "/proc/self/status"]),
    // ALL is every capability the kernel knows (sys_resource dropped: a host may lack it).
    out("cap_add_all_drop_one", &["run", "--rm", "--cap-add", "ALL", "--cap-drop", "sys_resource", "bb", "busybox", "grep", "^Cap", "/proc/self/status"]),
    // Newer than Docker 20.10's capability list: unknown to it.
    code("cap_add_bpf_refused", &["run", "--rm", "--cap-add", "bpf", "bb", "true"]),
    code("cap_add_unknown_refused", &["run", "--rm", "--cap-add", "foo", "bb", "true"]),
    code("cap_drop_unknown_refused", &["run", "--rm", "--cap-drop", "CAP_FOO", "bb", "true"]),
    out("sysctl_ipc_and_mqueue", &["run", "--rm", "--sysctl", "kernel.shmmax=100000", "--sysctl", "fs.mqueue.msg_max=20", "bb", "cat", "/proc/sys/kernel/shmmax", "/proc/sys/fs/mqueue/msg_max"]),
    full("sysctl_not_namespaced_refused", &["run", "--rm", "--sysctl", "kernel.panic=1", "bb", "true"]),
    code("sysctl_net_on_host_network_refused", &["run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1", "bb", "true"]),
    out("ulimit_soft_only_and_nproc", &["run", "--rm", "--ulimit", "nofile=512", "--ulimit", "nproc=5:6", "bb", "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu"]),
    full("ulimit_soft_above_hard_refused", &["run", "--rm", "--ulimit", "nofile=2048:1024", "bb", "true"]),
    full("ulimit_unknown_type_refused", &["run", "--rm", "--ulimit", "foo=1", "bb", "true"]),
    full("ulimit_not_a_number_refused", &["run", "--rm", "--ulimit", "nofile=1:x", "bb", "true"]),
    full("shm_size_bad_refused", &["run", "--rm", "--shm-size", "x", "bb", "true"]),
    out("shm_size_bytes", &["run", "--rm", "--shm-size", "10b", "bb", "sh", "-c", "busybox df -k /dev/shm | busybox awk 'NR==2 {print $2}'"]),
    out("cpu_shares_short_flag", &["run", "--rm", "-c", "2", "bb", "cat", "/sys/fs/cgroup/cpu/cpu.shares"]),
    code("cpu_shares_below_minimum", &["run", "--rm", "-c", "1", "bb", "true"]),
    full("cpu_shares_not_a_number_refused", &["run", "--rm", "-c", "x", "bb", "true"]),
    code("cpu_shares_negative", &["run", "--rm", "-c", "-5", "bb", "true"]),
    code("cpus_negative", &["run", "--rm", "--cpus", "-1", "bb", "true"]),
    out("group_add_with_user_group", &["run", "--rm", "--group-add", "wheel", "--group-add", "10", "--group-add", "0", "-u", "app:app", "bb", "id"]),
    code("group_add_unknown_refused", &["run", "--rm", "--group-add", "nosuch", "bb", "true"]),
    out("cgroupns_private", &["run", "--rm", "--cgroupns", "private", "bb", "cat", "/proc/self/cgroup"]),
    out("cgroupns_host", &["run", "--rm", "--cgroupns", "host", "bb", "cat", "/proc/self/cgroup"]),
    code("cgroupns_bad_refused", &["run", "--rm", "--cgroupns", "foo", "bb", "true"]),
    script("security_flags_in_inspect", security_inspect),
    script("security_defaults_in_inspect", security_defaults),
    script("group_add_in_exec", group_add_exec),
    script("exec_env_with_user", exec_env_user),
    script("inspect_template_raw_fallback_sorts_json", raw_fallback),
    script("inspect_go_field_names", go_field_names),
    script("group_add_unknown_fails_at_start", group_add_unknown_at_start),
];

/// The `HostConfig` fields these flags set.
/// `{{.HostConfig.CpuShares}}` is asked alone: Docker's CLI finds no such Go field
/// (`CPUShares`) and runs the template again on the raw JSON, where `json` sorts keys.
const FIELDS: &str = "{{json .HostConfig.CapAdd}} {{json .HostConfig.CapDrop}} \
    {{.HostConfig.ShmSize}} {{json .HostConfig.Ulimits}} \
    {{json .HostConfig.GroupAdd}} {{.HostConfig.CgroupnsMode}}";

fn security_inspect(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "--cap-add",
            "net_admin",
            "--cap-add",
            "CAP_SYS_TIME",
            "--cap-drop",
            "chown",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "--sysctl",
            "kernel.shmmax=100000",
            "-c",
            "512",
            "--shm-size",
            "1m",
            "--ulimit",
            "nproc=4",
            "--ulimit",
            "nofile=512:1024",
            "--ulimit",
            "nproc=5",
            "--group-add",
            "wheel",
            "--group-add",
            "4242",
            "--cgroupns",
            "private",
            "bb",
        ],
        Cmp::Code,
    );
    s.step(&["inspect", "-f", FIELDS, "@name"], Cmp::Out);
    s.step(
        &["inspect", "-f", "{{json .HostConfig.Sysctls}}", "@name"],
        Cmp::Out,
    );
    s.step(
        &["inspect", "-f", "{{.HostConfig.CpuShares}}", "@name"],
        Cmp::Out,
    );
}

/// Docker's CLI runs a template on the typed struct first and, when a name is no Go
/// field (`CpuShares` is `CPUShares`), again on the raw JSON: there `json` of an object
/// sorts its keys.
fn raw_fallback(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "--ulimit",
            "nofile=512:1024",
            "bb",
        ],
        Cmp::Code,
    );
    s.step(
        &[
            "inspect",
            "-f",
            "{{json .HostConfig.Ulimits}} {{.HostConfig.CpuShares}}",
            "@name",
        ],
        Cmp::Out,
    );
}

/// `.ID` is the Go field (typed pass: a nil map prints `map[]`); `.Id` only the JSON key
/// (raw pass: it prints `<no value>`).
fn go_field_names(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Code);
    for format in [
        "{{.ID}} {{.Config.Volumes}}",
        "{{.Id}} {{.Config.Volumes}}",
        "{{.HostConfig.CPUShares}} {{.HostConfig.DNS}}",
    ] {
        s.step(&["inspect", "-f", format, "@name"], Cmp::Out);
    }
}

fn security_defaults(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Code);
    s.step(&["inspect", "-f", FIELDS, "@name"], Cmp::Out);
    s.step(
        &[
            "inspect",
            "-f",
            "{{json .HostConfig.MaskedPaths}} {{json .HostConfig.ReadonlyPaths}}",
            "@name",
        ],
        Cmp::Out,
    );
}

fn group_add_exec(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "--group-add",
            "4242",
            "--group-add",
            "wheel",
            "-u",
            "app",
            "bb",
            "sleep",
            "60",
        ],
        Cmp::Code,
    );
    s.step(&["exec", "@name", "id"], Cmp::Out);
    s.step(&["exec", "-u", "root", "@name", "id"], Cmp::Out);
    s.step(&["exec", "-u", "1000:10", "@name", "id"], Cmp::Out);
}

/// One `-e` at `run`: Docker 20.10 orders several in `Config.Env` at random.
fn exec_env_user(s: &Side) {
    s.step(
        &[
            "run", "-d", "--name", "@name", "-e", "A=run", "bb", "sleep", "60",
        ],
        Cmp::Code,
    );
    s.step(
        &[
            "exec", "-u", "app", "-e", "A=exec", "-e", "NEW=1", "@name", "env",
        ],
        Cmp::Out,
    );
    s.step(
        &["exec", "-e", "HOME=/x", "-e", "NEW=1", "@name", "env"],
        Cmp::Out,
    );
}

/// Docker resolves `--group-add` (and `-u`) when the container starts: `create` succeeds
/// and `start` fails.
fn group_add_unknown_at_start(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "--group-add",
            "nosuch",
            "bb",
            "true",
        ],
        Cmp::Code,
    );
    s.step(&["start", "@name"], Cmp::Code);
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
