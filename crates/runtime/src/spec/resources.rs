//! The checks Docker's daemon makes on the security and resource flags before it creates
//! a container (`verifyPlatformContainerResources`, `ValidateCapabilities`), and the
//! host facts they need.

use crate::{RunOptions, RuntimeError};

/// The CPUs this process may run on (Go's `runtime.NumCPU`, which Docker uses: the
/// scheduler affinity mask, not the machine's total).
pub fn host_cpus() -> usize {
    rustix::thread::sched_getaffinity(None)
        .map(|set| set.count() as usize)
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

/// Refuses what Docker's daemon refuses at create: `--cpus` outside 0 … `cpus` CPUs, a
/// negative `--cpu-shares`, the memory, swap and CFS rules of [`crate::update::validate`],
/// `--memory-swap` without `-m`, unknown capability names (`known`: the kernel's).
pub fn validate(opts: &RunOptions, cpus: usize, known: &[&str]) -> Result<(), RuntimeError> {
    if let Some(c) = opts.cpus {
        // Docker compares NanoCPUs; 0.001 passes here and the kernel refuses its quota.
        let nano = (c * 1e9).round();
        if nano < 0.0 || nano > cpus as f64 * 1e9 {
            return Err(RuntimeError::InvalidOptions(format!(
                "Range of CPUs is from 0.01 to {cpus}.00, as there are only {cpus} CPUs available"
            )));
        }
    }
    if opts.security.cpu_shares < 0 {
        return Err(RuntimeError::InvalidOptions(
            "shares: invalid argument".into(),
        ));
    }
    // The memory and CFS rules `update` checks hold at create too.
    crate::update::validate(&crate::update::ResourceUpdate {
        memory: opts.memory,
        memory_swap: opts.memory_swap,
        cpus: opts.cpus,
        cpu_period: opts.cpu_period,
        cpu_quota: opts.cpu_quota,
        ..Default::default()
    })?;
    if opts.memory.is_none_or(|m| m == 0) && opts.memory_swap.is_some_and(|s| s > 0) {
        return Err(RuntimeError::InvalidOptions(
            "You should always set the Memory limit when using Memoryswap limit, see usage".into(),
        ));
    }
    super::capabilities::validate(&opts.security.cap_add, &opts.security.cap_drop, known)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::capabilities::ALL_CAPABILITIES;

    /// Regression (cpus_too_many): `--cpus` above the host's CPUs was accepted.
    #[test]
    fn cpus_beyond_the_host_are_refused_like_docker() {
        let with = |cpus: f64| RunOptions {
            cpus: Some(cpus),
            ..Default::default()
        };
        for ok in [0.5, 2.0, 0.001] {
            assert!(validate(&with(ok), 2, &ALL_CAPABILITIES).is_ok(), "{ok}");
        }
        for bad in [512.0, 2.01, -1.0] {
            assert_eq!(
                validate(&with(bad), 2, &ALL_CAPABILITIES)
                    .unwrap_err()
                    .to_string(),
                "Range of CPUs is from 0.01 to 2.00, as there are only 2 CPUs available",
                "{bad}"
            );
        }
        assert!(host_cpus() >= 1);
    }

    #[test]
    fn negative_cpu_shares_and_unknown_caps_are_refused() {
        let mut o = RunOptions::default();
        o.security.cpu_shares = -5;
        assert!(validate(&o, 2, &ALL_CAPABILITIES).is_err());
        o.security.cpu_shares = 512;
        assert!(validate(&o, 2, &ALL_CAPABILITIES).is_ok());
        o.security.cap_add = vec!["nope".into()];
        assert!(validate(&o, 2, &ALL_CAPABILITIES).is_err());
    }
}
