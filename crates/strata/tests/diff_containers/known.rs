//! Differences from Docker not fixed yet: (case, what differs). The suite fails when one of
//! these starts agreeing (take it out) or when a case not listed differs.

/// A `run` flag strata's CLI does not have.
const NO_FLAG: &str =
    "CLI: flag not supported (refused as unknown, exit 125); Docker runs the container";

/// The known differences of the containers suite.
pub const KNOWN: &[(&str, &str)] = &[
    // Argument parsing and CLI exit codes.
    (
        "cpus_too_many",
        "CLI: --cpus above the host's CPU count is accepted; Docker refuses (exit 125)",
    ),
    // Flags strata does not have.
    ("group_add_name", NO_FLAG),
    ("group_add_number", NO_FLAG),
    ("cap_add", NO_FLAG),
    ("cap_drop", NO_FLAG),
    ("cap_drop_all", NO_FLAG),
    ("cap_drop_chown_enforced", NO_FLAG),
    ("sysctl_net", NO_FLAG),
    ("cpu_shares", NO_FLAG),
    ("shm_size", NO_FLAG),
    ("ulimit_nofile", NO_FLAG),
    // The container's view.
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
