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
    // Flags strata does not have.
    ("etc_hosts_add_host", NO_FLAG),
    ("mount_flag_bind", NO_FLAG),
    ("mount_flag_volume", NO_FLAG),
    ("mount_flag_tmpfs", NO_FLAG),
    ("dns_flags", NO_FLAG),
    ("ipc_host", NO_FLAG),
    ("pid_host", NO_FLAG),
    ("restart_policy_in_inspect", NO_FLAG),
    ("uts_host", NO_FLAG),
    // Templates and rendering.
    (
        "inspect_mounts_bind_and_volume",
        "CLI/config: a bind mount's Mounts[] entry has no Name key, so {{.Name}} fails (exit 1); Docker renders it empty",
    ),
    // The container's view.
    ("etc_hosts_network_none", HOSTS),
    ("etc_hosts_with_hostname", HOSTS),
];
