//! Differences from Docker not fixed yet: (case, what differs). The suite fails when one of
//! these starts agreeing (take it out) or when a case not listed differs.

/// A `run` flag strata's CLI does not have.
const NO_FLAG: &str =
    "CLI: flag not supported (refused as unknown, exit 125); Docker runs the container";
/// /etc/hosts with --network none.
const HOSTS: &str = "runtime: /etc/hosts has an extra `127.0.0.1 <hostname>` line; Docker's with --network none has only the localhost/ip6 lines";

/// The known differences of the containers suite.
pub const KNOWN: &[(&str, &str)] = &[
    // Argument parsing and CLI exit codes.
    (
        "tty_interactive_needs_terminal",
        "CLI: `-it` with stdin not a terminal runs; Docker refuses with 'the input device is not a TTY' (exit 1)",
    ),
    (
        "cpus_too_many",
        "CLI: --cpus above the host's CPU count is accepted; Docker refuses (exit 125)",
    ),
    // Flags strata does not have.
    ("group_add_name", NO_FLAG),
    ("group_add_number", NO_FLAG),
    ("etc_hosts_add_host", NO_FLAG),
    ("mount_flag_bind", NO_FLAG),
    ("mount_flag_volume", NO_FLAG),
    ("mount_flag_tmpfs", NO_FLAG),
    ("cap_add", NO_FLAG),
    ("cap_drop", NO_FLAG),
    ("cap_drop_all", NO_FLAG),
    ("cap_drop_chown_enforced", NO_FLAG),
    ("sysctl_net", NO_FLAG),
    ("cpu_shares", NO_FLAG),
    ("dns_flags", NO_FLAG),
    ("ipc_host", NO_FLAG),
    ("pid_host", NO_FLAG),
    ("restart_policy_in_inspect", NO_FLAG),
    ("shm_size", NO_FLAG),
    ("ulimit_nofile", NO_FLAG),
    ("uts_host", NO_FLAG),
    // Templates and rendering.
    (
        "inspect_mounts_bind_and_volume",
        "CLI/config: a bind mount's Mounts[] entry has no Name key, so {{.Name}} fails (exit 1); Docker renders it empty",
    ),
    // The container's view.
    ("etc_hosts_network_none", HOSTS),
    ("etc_hosts_with_hostname", HOSTS),
    (
        "mount_points",
        "runtime: /proc/interrupts is masked too; Docker 20.10 does not mask it",
    ),
    (
        "cgroup_namespace_view",
        "runtime: private cgroup namespace (/proc/self/cgroup shows `/`); Docker 20.10 on cgroup v1 shares the host's (`/docker/<id>`)",
    ),
    (
        "exec_env",
        "runtime: exec puts HOME before the exec's new -e variables; Docker appends them and HOME comes last",
    ),
];
