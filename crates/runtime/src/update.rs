//! `update`: changes a container's resource limits and restart policy, with the checks
//! and messages of Docker's daemon (`verifyContainerResources`, `container.UpdateContainer`):
//! stored in its record (so `inspect` and later starts see them), in its bundle's
//! `config.json`, and, while it runs, applied through the OCI runtime's `update`.

use crate::record::{Status, write_json};
use crate::restart::RestartPolicy;
use crate::{Container, OciRuntime, RunOptions, RuntimeError};

/// What an `update` changes; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResourceUpdate {
    /// `-m`/`--memory`, bytes.
    pub memory: Option<i64>,
    /// `--memory-swap`, bytes (-1: unlimited).
    pub memory_swap: Option<i64>,
    /// `--cpus`.
    pub cpus: Option<f64>,
    /// `-c`/`--cpu-shares`.
    pub cpu_shares: Option<i64>,
    /// `--cpu-period`, microseconds.
    pub cpu_period: Option<i64>,
    /// `--cpu-quota`, microseconds.
    pub cpu_quota: Option<i64>,
    /// `--cpuset-cpus`.
    pub cpuset_cpus: Option<String>,
    /// `--cpuset-mems`.
    pub cpuset_mems: Option<String>,
    /// `--memory-reservation`, bytes.
    pub memory_reservation: Option<i64>,
    /// `--blkio-weight` (10 to 1000).
    pub blkio_weight: Option<u16>,
    /// `--cpu-rt-period`, microseconds.
    pub cpu_rt_period: Option<i64>,
    /// `--cpu-rt-runtime`, microseconds.
    pub cpu_rt_runtime: Option<i64>,
    /// `--pids-limit` (0 or -1: unlimited).
    pub pids_limit: Option<i64>,
    /// `--restart`.
    pub restart: Option<RestartPolicy>,
}

/// The warnings Docker's daemon returns with each successful update on this host (its
/// `verifyContainerSettings` sees an update's empty network mode): IPv4 forwarding off.
pub fn warnings() -> Vec<String> {
    let forwarding = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_default();
    if forwarding.trim() == "0" {
        vec!["IPv4 forwarding is disabled. Networking will not work.".to_string()]
    } else {
        Vec::new()
    }
}

/// Docker's smallest memory limit (and memory reservation).
pub(crate) const MIN_MEMORY: i64 = 6 << 20;

/// Checks `u` alone (the daemon's `verifyContainerResources`): what any container refuses.
pub fn validate(u: &ResourceUpdate) -> Result<(), RuntimeError> {
    let bad = |m: &str| Err(RuntimeError::InvalidOptions(m.to_string()));
    if let Some(m) = u.memory
        && m != 0
        && m < MIN_MEMORY
    {
        return bad("Minimum memory limit allowed is 6MB");
    }
    if let (Some(m), Some(s)) = (u.memory, u.memory_swap)
        && m > 0
        && s > 0
        && s < m
    {
        return bad("Minimum memoryswap limit should be larger than memory limit, see usage");
    }
    let nano = u.cpus.is_some_and(|c| c > 0.0);
    if nano && u.cpu_period.is_some_and(|p| p > 0) {
        return bad("Conflicting options: Nano CPUs and CPU Period cannot both be set");
    }
    if nano && u.cpu_quota.is_some_and(|q| q > 0) {
        return bad("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
    }
    if let Some(p) = u.cpu_period
        && p != 0
        && !(1000..=1_000_000).contains(&p)
    {
        return bad(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)",
        );
    }
    if let Some(q) = u.cpu_quota
        && q > 0
        && q < 1000
    {
        return bad("CPU cfs quota can not be less than 1ms (i.e. 1000)");
    }
    Ok(())
}

/// Applies `u` to `opts` as Docker's `UpdateContainer` does, with its conflict messages.
pub fn apply(opts: &mut RunOptions, u: &ResourceUpdate) -> Result<(), String> {
    let swap_now = match opts.memory {
        Some(m) => opts.memory_swap.unwrap_or(m.saturating_mul(2)),
        None => opts.memory_swap.unwrap_or(0),
    };
    if let Some(m) = u.memory.filter(|&m| m != 0) {
        // A new limit above the swap limit in force needs a new swap limit too.
        if m > swap_now && u.memory_swap.is_none_or(|s| s == 0) {
            return Err(
                "Memory limit should be smaller than already set memoryswap limit, \
                        update the memoryswap at the same time"
                    .into(),
            );
        }
        opts.memory = Some(m);
        opts.memory_swap = Some(swap_now);
    }
    // Docker stores a swap limit even without a memory limit (it applies once one is set).
    if let Some(s) = u.memory_swap.filter(|&s| s != 0) {
        opts.memory_swap = Some(s);
    }
    if let Some(c) = u.cpus.filter(|&c| c != 0.0) {
        if opts.cpu_period.is_some_and(|p| p > 0) || opts.cpu_quota.is_some_and(|q| q > 0) {
            return Err(
                "Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set"
                    .into(),
            );
        }
        opts.cpus = Some(c);
    }
    let period = u.cpu_period.filter(|&p| p != 0);
    let quota = u.cpu_quota.filter(|&q| q != 0);
    if (period.is_some() || quota.is_some()) && opts.cpus.is_some() {
        return Err(
            "Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set"
                .into(),
        );
    }
    if period.is_some() {
        opts.cpu_period = period;
    }
    if quota.is_some() {
        opts.cpu_quota = quota;
    }
    if let Some(s) = u.cpu_shares.filter(|&s| s != 0) {
        opts.security.cpu_shares = s;
    }
    if let Some(c) = u.cpuset_cpus.as_ref().filter(|c| !c.is_empty()) {
        opts.cpuset_cpus = Some(c.clone());
    }
    if let Some(m) = u.cpuset_mems.as_ref().filter(|m| !m.is_empty()) {
        opts.cpuset_mems = Some(m.clone());
    }
    if let Some(r) = u.memory_reservation.filter(|&r| r != 0) {
        opts.memory_reservation = Some(r);
    }
    if let Some(w) = u.blkio_weight.filter(|&w| w != 0) {
        opts.blkio_weight = Some(w);
    }
    if let Some(p) = u.cpu_rt_period.filter(|&p| p != 0) {
        opts.cpu_rt_period = Some(p);
    }
    if let Some(r) = u.cpu_rt_runtime.filter(|&r| r != 0) {
        opts.cpu_rt_runtime = Some(r);
    }
    if let Some(p) = u.pids_limit {
        opts.pids_limit = if p <= 0 { None } else { Some(p) };
    }
    if let Some(r) = &u.restart {
        if r.is_some() && opts.auto_remove {
            return Err(
                "Restart policy cannot be updated because AutoRemove is enabled for the container"
                    .into(),
            );
        }
        opts.restart = r.clone();
    }
    Ok(())
}

impl Container {
    /// `docker update`: validates and applies `u` to the record and bundle, then to the
    /// running container through the runtime. A conflict is worded as Docker's daemon
    /// words it (`Cannot update container ID: ...`). Returns the warnings for what this
    /// host cannot enforce and so was discarded ([`crate::spec::limits::check`]).
    pub fn update(
        &mut self,
        runtime: &OciRuntime,
        u: &ResourceUpdate,
    ) -> Result<Vec<String>, RuntimeError> {
        validate(u)?;
        // Docker checks the update's own values, not the container's merged settings; the
        // real-time ones it neither checks nor applies to a running container (they are
        // kept for its next start).
        let mut asked = RunOptions {
            memory: u.memory,
            memory_reservation: u.memory_reservation,
            cpuset_cpus: u.cpuset_cpus.clone(),
            cpuset_mems: u.cpuset_mems.clone(),
            blkio_weight: u.blkio_weight,
            ..Default::default()
        };
        let warnings =
            crate::spec::limits::check(&mut asked, &crate::spec::limits::CgroupSupport::detect())?;
        let u = &ResourceUpdate {
            memory_reservation: asked.memory_reservation,
            cpuset_cpus: asked.cpuset_cpus,
            cpuset_mems: asked.cpuset_mems,
            blkio_weight: asked.blkio_weight,
            ..u.clone()
        };
        let mut opts = self.record.options.clone();
        apply(&mut opts, u).map_err(|m| {
            RuntimeError::InvalidOptions(format!("Cannot update container {}: {m}", self.record.id))
        })?;
        let mut resources = crate::spec::resources(&opts)?;
        // Unlimited pids: the runtime needs -1 to lift a limit set before.
        if u.pids_limit.is_some_and(|p| p <= 0) {
            resources.pids = Some(crate::spec::Pids { limit: -1 });
        }
        let bundle = self.dir.bundle().join("config.json");
        let mut spec: serde_json::Value = crate::record::read_json(&bundle)?;
        let value = serde_json::to_value(&resources).map_err(|e| RuntimeError::BadRecord {
            path: bundle.clone(),
            source: e,
        })?;
        if let Some(r) = spec.pointer_mut("/linux/resources") {
            *r = value.clone();
        }
        if self.state.status == Status::Running && self.is_running(runtime)? {
            let file = self.dir.0.join("update-resources.json");
            let mut for_runtime = value;
            if let Some(o) = for_runtime.as_object_mut() {
                o.remove("devices");
            }
            if let Some(cpu) = for_runtime.get_mut("cpu").and_then(|c| c.as_object_mut()) {
                cpu.remove("realtimePeriod");
                cpu.remove("realtimeRuntime");
            }
            write_json(&file, &for_runtime)?;
            let applied = runtime.update(&self.record.id, &file, &self.dir.runtime_log());
            let _ = std::fs::remove_file(&file);
            applied?;
        }
        write_json(&bundle, &spec)?;
        self.record.options = opts;
        write_json(&self.dir.record(), &self.record)?;
        crate::events::container(self, "update", &[]);
        Ok(warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mib(n: i64) -> i64 {
        n << 20
    }

    #[test]
    fn docker_checks() {
        #[rustfmt::skip]
        let table: &[(ResourceUpdate, Option<&str>)] = &[
            (ResourceUpdate { memory: Some(mib(4)), ..Default::default() }, Some("Minimum memory limit allowed is 6MB")),
            (ResourceUpdate { memory: Some(mib(6)), ..Default::default() }, None),
            (ResourceUpdate { memory: Some(mib(64)), memory_swap: Some(mib(32)), ..Default::default() }, Some("Minimum memoryswap limit should be larger than memory limit, see usage")),
            (ResourceUpdate { cpus: Some(1.0), cpu_period: Some(100_000), ..Default::default() }, Some("Conflicting options: Nano CPUs and CPU Period cannot both be set")),
            (ResourceUpdate { cpu_period: Some(500), ..Default::default() }, Some("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)")),
            (ResourceUpdate { cpu_quota: Some(500), ..Default::default() }, Some("CPU cfs quota can not be less than 1ms (i.e. 1000)")),
            (ResourceUpdate { cpu_quota: Some(-1), ..Default::default() }, None),
        ];
        for (u, want) in table {
            let got = validate(u).err().map(|e| e.to_string());
            match want {
                Some(w) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(w)),
                    "{u:?}: {got:?}"
                ),
                None => assert!(got.is_none(), "{u:?}: {got:?}"),
            }
        }
    }

    #[test]
    fn updates_keep_dockers_swap_rules() {
        let mut o = RunOptions {
            memory: Some(mib(64)),
            ..Default::default()
        };
        // Below the swap in force (twice 64 MiB): the swap limit stays.
        apply(
            &mut o,
            &ResourceUpdate {
                memory: Some(mib(100)),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!((o.memory, o.memory_swap), (Some(mib(100)), Some(mib(128))));
        // Above it, without a new swap limit: Docker's conflict.
        let e = apply(
            &mut o,
            &ResourceUpdate {
                memory: Some(mib(200)),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert!(e.starts_with("Memory limit should be smaller"), "{e}");
        apply(
            &mut o,
            &ResourceUpdate {
                memory: Some(mib(200)),
                memory_swap: Some(mib(400)),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!((o.memory, o.memory_swap), (Some(mib(200)), Some(mib(400))));
        // No limit at all before: swap 0, so a memory limit needs a swap limit too.
        let mut none = RunOptions::default();
        assert!(
            apply(
                &mut none,
                &ResourceUpdate {
                    memory: Some(mib(64)),
                    ..Default::default()
                }
            )
            .is_err()
        );
        // A swap limit alone is kept, and then allows a memory limit up to it.
        let swap = ResourceUpdate {
            memory_swap: Some(mib(64)),
            ..Default::default()
        };
        apply(&mut none, &swap).unwrap();
        assert_eq!((none.memory, none.memory_swap), (None, Some(mib(64))));
        let memory = ResourceUpdate {
            memory: Some(mib(64)),
            ..Default::default()
        };
        apply(&mut none, &memory).unwrap();
        assert_eq!(
            (none.memory, none.memory_swap),
            (Some(mib(64)), Some(mib(64)))
        );
    }

    #[test]
    fn restart_policy_and_auto_remove_conflict() {
        let mut o = RunOptions {
            auto_remove: true,
            ..Default::default()
        };
        let always = RestartPolicy::parse("always").unwrap();
        let u = ResourceUpdate {
            restart: Some(always.clone()),
            ..Default::default()
        };
        assert!(
            apply(&mut o, &u)
                .unwrap_err()
                .starts_with("Restart policy cannot be updated")
        );
        let mut o = RunOptions::default();
        apply(&mut o, &u).unwrap();
        assert_eq!(o.restart, always);
        // Pids: 0 or -1 lift the limit; others set it.
        apply(
            &mut o,
            &ResourceUpdate {
                pids_limit: Some(50),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(o.pids_limit, Some(50));
        apply(
            &mut o,
            &ResourceUpdate {
                pids_limit: Some(-1),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(o.pids_limit, None);
    }
}
