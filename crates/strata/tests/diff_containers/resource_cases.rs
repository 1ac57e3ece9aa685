//! The resource flags of `run`, `create` and `update` whose support depends on the host's
//! cgroups (`--memory-reservation`, `--cpuset-cpus`/`--cpuset-mems`, `--blkio-weight`,
//! `--cpu-rt-period`/`--cpu-rt-runtime`) and the CFS and swap flags `run` shares with
//! `update`: what `inspect` and the container's cgroup show, the warnings for what the
//! host cannot enforce, and Docker's refusals. Both engines run on this host, so a host
//! without a controller gives both the same warning.

use super::case::{Case, full, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    script("resources_in_inspect_and_cgroup", in_inspect_and_cgroup),
    script("resources_update_in_inspect", update_in_inspect),
    full("resources_blkio_weight", &["run", "--rm", "--network", "none", "--blkio-weight", "300", "bb", "true"]),
    full("resources_blkio_weight_out_of_range", &["run", "--rm", "--network", "none", "--blkio-weight", "5", "bb", "true"]),
    full("resources_blkio_weight_not_uint16", &["run", "--rm", "--blkio-weight", "70000", "bb", "true"]),
    full("resources_small_reservation", &["run", "--rm", "--memory-reservation", "1m", "bb", "true"]),
    full("resources_reservation_above_limit", &["run", "--rm", "-m", "32m", "--memory-reservation", "64m", "bb", "true"]),
    full("resources_cpuset_cpus_missing", &["run", "--rm", "--cpuset-cpus", "0-4095", "bb", "true"]),
    full("resources_cpuset_cpus_bad", &["run", "--rm", "--cpuset-cpus", "1-0", "bb", "true"]),
    full("resources_cpuset_mems_missing", &["run", "--rm", "--cpuset-mems", "7", "bb", "true"]),
    full("resources_cpuset_mems_too_big", &["run", "--rm", "--cpuset-mems", "9000", "bb", "true"]),
    full("resources_rt_runtime_above_period", &["create", "--cpu-rt-period", "1000", "--cpu-rt-runtime", "2000", "bb", "true"]),
    full("resources_swap_without_memory", &["run", "--rm", "--memory-swap", "64m", "bb", "true"]),
    full("resources_swap_below_memory", &["run", "--rm", "-m", "64m", "--memory-swap", "32m", "bb", "true"]),
    full("resources_cpus_and_quota", &["run", "--rm", "--cpus", "1", "--cpu-quota", "50000", "bb", "true"]),
    full("resources_cpus_and_period", &["run", "--rm", "--cpus", "1", "--cpu-period", "50000", "bb", "true"]),
    full("resources_period_out_of_range", &["run", "--rm", "--cpu-period", "500", "bb", "true"]),
    full("resources_quota_too_small", &["run", "--rm", "--cpu-quota", "500", "bb", "true"]),
];

const LIMITS: &str = "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} \
    {{.HostConfig.MemoryReservation}} {{.HostConfig.CpuPeriod}} {{.HostConfig.CpuQuota}} \
    {{.HostConfig.CpuRealtimePeriod}} {{.HostConfig.CpuRealtimeRuntime}} \
    {{.HostConfig.CpusetCpus}} {{.HostConfig.CpusetMems}} {{.HostConfig.BlkioWeight}}";

/// `run` with every flag the host takes: `inspect`, and the cgroup files the container sees.
fn in_inspect_and_cgroup(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "@name",
            "-m",
            "64m",
            "--memory-swap",
            "256m",
            "--memory-reservation",
            "32m",
            "--cpu-period",
            "50000",
            "--cpu-quota",
            "25000",
            "--cpuset-cpus",
            "0",
            "--cpuset-mems",
            "0",
            "bb",
            "sleep",
            "60",
        ],
        Cmp::Code,
    );
    s.step(&["inspect", "-f", LIMITS, "@name"], Cmp::Out);
    s.step(
        &[
            "exec",
            "@name",
            "sh",
            "-c",
            "cd /sys/fs/cgroup && cat memory/memory.soft_limit_in_bytes \
             memory/memory.memsw.limit_in_bytes cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us \
             cpuset/cpuset.cpus cpuset/cpuset.mems 2>&1",
        ],
        Cmp::Out,
    );
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
    // The real-time settings are kept (a start needs the daemon's real-time budget).
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "--cpu-rt-period",
            "1000000",
            "--cpu-rt-runtime",
            "950000",
            "bb",
        ],
        Cmp::Code,
    );
    s.step(&["inspect", "-f", LIMITS, "@name"], Cmp::Out);
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
}

/// `update` with the flags `run` shares: what it prints (warnings included), what
/// `inspect` shows, and its refusals.
fn update_in_inspect(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--network",
            "none",
            "--name",
            "@name",
            "-m",
            "128m",
            "bb",
            "sleep",
            "60",
        ],
        Cmp::Code,
    );
    s.step(
        &[
            "update",
            "--memory-reservation",
            "48m",
            "--cpuset-mems",
            "0",
            "--blkio-weight",
            "300",
            "@name",
        ],
        Cmp::Full,
    );
    s.step(&["inspect", "-f", LIMITS, "@name"], Cmp::Out);
    s.step(
        &[
            "exec",
            "@name",
            "cat",
            "/sys/fs/cgroup/memory/memory.soft_limit_in_bytes",
        ],
        Cmp::Out,
    );
    s.step(
        &["update", "--memory-reservation", "1m", "@name"],
        Cmp::Full,
    );
    s.step(
        &["update", "--memory-reservation", "256m", "@name"],
        Cmp::Full,
    );
    s.step(&["update", "--cpuset-mems", "7", "@name"], Cmp::Full);
    s.step(
        &[
            "update",
            "--cpu-rt-period",
            "1000",
            "--cpu-rt-runtime",
            "2000",
            "@name",
        ],
        Cmp::Full,
    );
    s.step(&["update", "--blkio-weight", "5", "@name"], Cmp::Full);
    s.step(&["inspect", "-f", LIMITS, "@name"], Cmp::Out);
    s.step(&["rm", "-f", "@name"], Cmp::Quiet);
}
