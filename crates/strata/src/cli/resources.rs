//! The resource flags `run`, `create` and `update` share, with Docker's names, help and
//! value parsing (`MemBytes`, `MemSwapBytes`, `int64`, `uint16`).

use clap::Args;

/// `--memory-swap`, `--memory-reservation`, the CFS and real-time CPU flags, the cpuset
/// and `--blkio-weight`.
#[derive(Debug, Args, Default, Clone)]
pub struct ResourceFlags {
    /// Swap limit equal to memory plus swap: '-1' to enable unlimited swap.
    #[arg(long, value_name = "bytes", allow_hyphen_values = true, value_parser = swap_arg)]
    pub memory_swap: Option<i64>,
    /// Memory soft limit.
    #[arg(long, value_name = "bytes", value_parser = bytes_arg)]
    pub memory_reservation: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) period.
    #[arg(long, value_name = "int", allow_hyphen_values = true, value_parser = int_arg)]
    pub cpu_period: Option<i64>,
    /// Limit CPU CFS (Completely Fair Scheduler) quota.
    #[arg(long, value_name = "int", allow_hyphen_values = true, value_parser = int_arg)]
    pub cpu_quota: Option<i64>,
    /// Limit CPU real-time period in microseconds.
    #[arg(long, value_name = "int", allow_hyphen_values = true, value_parser = int_arg)]
    pub cpu_rt_period: Option<i64>,
    /// Limit CPU real-time runtime in microseconds.
    #[arg(long, value_name = "int", allow_hyphen_values = true, value_parser = int_arg)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs in which to allow execution (0-3, 0,1).
    #[arg(long, value_name = "string")]
    pub cpuset_cpus: Option<String>,
    /// MEMs in which to allow execution (0-3, 0,1).
    #[arg(long, value_name = "string")]
    pub cpuset_mems: Option<String>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0).
    #[arg(long, value_name = "uint16", allow_hyphen_values = true, value_parser = uint16_arg)]
    pub blkio_weight: Option<u16>,
}

impl ResourceFlags {
    /// Sets these flags' values in `opts` (a flag not given leaves its setting alone).
    pub fn apply(&self, opts: &mut runtime::RunOptions) {
        let f = self.clone();
        opts.memory_swap = f.memory_swap.or(opts.memory_swap);
        opts.memory_reservation = f.memory_reservation.or(opts.memory_reservation);
        opts.cpu_period = f.cpu_period.or(opts.cpu_period);
        opts.cpu_quota = f.cpu_quota.or(opts.cpu_quota);
        opts.cpu_rt_period = f.cpu_rt_period.or(opts.cpu_rt_period);
        opts.cpu_rt_runtime = f.cpu_rt_runtime.or(opts.cpu_rt_runtime);
        opts.cpuset_cpus = f.cpuset_cpus.or(opts.cpuset_cpus.take());
        opts.cpuset_mems = f.cpuset_mems.or(opts.cpuset_mems.take());
        opts.blkio_weight = f.blkio_weight.or(opts.blkio_weight);
    }

    /// These flags as the part of an `update` they make.
    pub fn to_update(&self) -> runtime::update::ResourceUpdate {
        let f = self.clone();
        runtime::update::ResourceUpdate {
            memory_swap: f.memory_swap,
            memory_reservation: f.memory_reservation,
            cpu_period: f.cpu_period,
            cpu_quota: f.cpu_quota,
            cpu_rt_period: f.cpu_rt_period,
            cpu_rt_runtime: f.cpu_rt_runtime,
            cpuset_cpus: f.cpuset_cpus,
            cpuset_mems: f.cpuset_mems,
            blkio_weight: f.blkio_weight,
            ..Default::default()
        }
    }
}

/// Docker's `MemBytes`: a size such as `64m`.
pub fn bytes_arg(s: &str) -> Result<i64, String> {
    crate::commands::parse_bytes(s).map_err(|e| e.to_string())
}

/// Docker's `MemSwapBytes`: a size, or -1 for unlimited.
pub fn swap_arg(s: &str) -> Result<i64, String> {
    if s == "-1" {
        return Ok(-1);
    }
    bytes_arg(s)
}

/// An `int64` flag, with Go's `strconv.ParseInt` messages.
pub fn int_arg(s: &str) -> Result<i64, String> {
    runtime::spec::rlimits::parse_int(s)
}

/// A `uint16` flag, with Go's `strconv.ParseUint` messages (pflag reads base 0: `0x`,
/// `0o` and `0b` prefixes too).
pub fn uint16_arg(s: &str) -> Result<u16, String> {
    let fail = |why: &str| format!("strconv.ParseUint: parsing \"{s}\": {why}");
    let lower = s.to_ascii_lowercase();
    let (digits, radix) = if let Some(d) = lower.strip_prefix("0x") {
        (d, 16)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (d, 8)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d, 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (&lower[1..], 8)
    } else {
        (lower.as_str(), 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(fail("invalid syntax"));
    }
    let v = u64::from_str_radix(digits, radix).map_err(|_| fail("value out of range"))?;
    u16::try_from(v).map_err(|_| fail("value out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uint16_reads_as_go() {
        for (s, want) in [
            ("300", Ok(300)),
            ("0", Ok(0)),
            ("0x10", Ok(16)),
            ("010", Ok(8)),
            ("0b11", Ok(3)),
            ("65535", Ok(65535)),
            ("65536", Err("value out of range")),
            ("-1", Err("invalid syntax")),
            ("", Err("invalid syntax")),
            ("ten", Err("invalid syntax")),
        ] {
            assert_eq!(
                uint16_arg(s),
                want.map_err(|w| format!("strconv.ParseUint: parsing \"{s}\": {w}")),
                "{s}"
            );
        }
    }
}
