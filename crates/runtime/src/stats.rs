//! `stats`: one sample of a running container's resource use, read from its cgroup (v1:
//! `memory`, `cpuacct`, `blkio`, `pids`; v2: `memory.current`, `cpu.stat`, `io.stat`,
//! `pids.current`) and its init's `/proc/<pid>/net/dev`, with the host's CPU time from
//! `/proc/stat` for Docker's CPU % (two samples: see [`cpu_percent`]).

use std::fs;
use std::path::{Path, PathBuf};

use crate::cgroup_stats as parse;
use crate::record::Status;
use crate::{Container, RuntimeError};

/// Where cgroups are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// One reading of a container's resource use.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    /// The container's CPU time, nanoseconds.
    pub cpu_total: u64,
    /// The host's CPU time (`/proc/stat`), nanoseconds.
    pub system_total: u64,
    /// Online CPUs.
    pub online_cpus: u32,
    /// Memory in use, bytes (before Docker's page-cache deduction, see [`Sample::mem_used`]).
    pub mem_usage: u64,
    /// Inactive file pages (v1 `total_inactive_file`, v2 `inactive_file`).
    pub mem_inactive_file: u64,
    /// The memory limit, at most the host's memory.
    pub mem_limit: u64,
    /// Bytes read from block devices.
    pub blk_read: u64,
    /// Bytes written to block devices.
    pub blk_write: u64,
    /// Network bytes received.
    pub net_rx: u64,
    /// Network bytes sent.
    pub net_tx: u64,
    /// Processes and threads.
    pub pids: u64,
}

impl Sample {
    /// Memory as Docker's CLI shows it: usage less inactive file pages (cache the kernel
    /// can drop).
    pub fn mem_used(&self) -> u64 {
        if self.mem_inactive_file < self.mem_usage {
            self.mem_usage - self.mem_inactive_file
        } else {
            self.mem_usage
        }
    }

    /// Docker's MEM %: used over limit.
    pub fn mem_percent(&self) -> f64 {
        if self.mem_limit == 0 {
            0.0
        } else {
            self.mem_used() as f64 / self.mem_limit as f64 * 100.0
        }
    }
}

/// Docker's CPU %: the container's share of the host's CPU time between two samples,
/// times the online CPUs.
pub fn cpu_percent(previous: &Sample, now: &Sample) -> f64 {
    let cpu = now.cpu_total.saturating_sub(previous.cpu_total) as f64;
    let system = now.system_total.saturating_sub(previous.system_total) as f64;
    if cpu > 0.0 && system > 0.0 {
        cpu / system * f64::from(now.online_cpus.max(1)) * 100.0
    } else {
        0.0
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_default()
}

/// Whether the host runs the unified hierarchy (cgroup v2) only.
fn unified() -> bool {
    Path::new(CGROUP_ROOT).join("cgroup.controllers").exists()
}

/// The directory of the container's cgroup for v1 `controller` (or v2 with `None`): as
/// `/proc/<pid>/cgroup` says, else where strata puts it (`/docker/<id>`).
fn cgroup_dir(proc_cgroup: &str, controller: Option<&str>, id: &str) -> PathBuf {
    let rel = parse::proc_cgroup_path(proc_cgroup, controller)
        .unwrap_or_else(|| format!("{}/{id}", crate::container::CGROUP_PARENT));
    let base = match controller {
        Some(c) => Path::new(CGROUP_ROOT).join(c),
        None => PathBuf::from(CGROUP_ROOT),
    };
    base.join(rel.trim_start_matches('/'))
}

impl Container {
    /// Reads one [`Sample`]; a container that is not running reads as zeros, as
    /// Docker's `stats -a` shows a stopped one.
    pub fn stats_sample(&self) -> Result<Sample, RuntimeError> {
        let (system_total, online_cpus) = parse::proc_stat(&read(Path::new("/proc/stat")));
        let mut s = Sample {
            system_total,
            online_cpus,
            ..Sample::default()
        };
        if self.state.status != Status::Running || self.state.pid <= 0 {
            return Ok(s);
        }
        let pid = self.state.pid;
        let proc_cgroup = read(Path::new(&format!("/proc/{pid}/cgroup")));
        let id = &self.record.id;
        let host_mem = parse::mem_total(&read(Path::new("/proc/meminfo"))).unwrap_or(u64::MAX);
        if unified() {
            let dir = cgroup_dir(&proc_cgroup, None, id);
            let stat = parse::flat_keyed(&read(&dir.join("memory.stat")));
            s.mem_usage = parse::single(&read(&dir.join("memory.current"))).unwrap_or(0);
            s.mem_inactive_file = stat.get("inactive_file").copied().unwrap_or(0);
            s.mem_limit = parse::single(&read(&dir.join("memory.max"))).unwrap_or(u64::MAX);
            let cpu = parse::flat_keyed(&read(&dir.join("cpu.stat")));
            s.cpu_total = cpu.get("usage_usec").copied().unwrap_or(0) * 1000;
            (s.blk_read, s.blk_write) = parse::io_stat_v2(&read(&dir.join("io.stat")));
            s.pids = parse::single(&read(&dir.join("pids.current"))).unwrap_or(0);
        } else {
            let mem = cgroup_dir(&proc_cgroup, Some("memory"), id);
            let stat = parse::flat_keyed(&read(&mem.join("memory.stat")));
            s.mem_usage = parse::single(&read(&mem.join("memory.usage_in_bytes"))).unwrap_or(0);
            s.mem_inactive_file = stat.get("total_inactive_file").copied().unwrap_or(0);
            s.mem_limit =
                parse::single(&read(&mem.join("memory.limit_in_bytes"))).unwrap_or(u64::MAX);
            let cpu = cgroup_dir(&proc_cgroup, Some("cpuacct"), id);
            s.cpu_total = parse::single(&read(&cpu.join("cpuacct.usage"))).unwrap_or(0);
            let blkio = cgroup_dir(&proc_cgroup, Some("blkio"), id);
            // The CFQ scheduler's file when it counts, else the throttle layer's (always
            // there), as Docker reads them.
            let (r, w) = parse::blkio_v1(&read(&blkio.join("blkio.io_service_bytes_recursive")));
            (s.blk_read, s.blk_write) = if r + w > 0 {
                (r, w)
            } else {
                parse::blkio_v1(&read(
                    &blkio.join("blkio.throttle.io_service_bytes_recursive"),
                ))
            };
            let pids = cgroup_dir(&proc_cgroup, Some("pids"), id);
            s.pids = parse::single(&read(&pids.join("pids.current"))).unwrap_or(0);
        }
        s.mem_limit = s.mem_limit.min(host_mem);
        (s.net_rx, s.net_tx) = parse::net_dev(&read(Path::new(&format!("/proc/{pid}/net/dev"))));
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_percent_is_dockers() {
        let a = Sample {
            cpu_total: 1_000,
            system_total: 10_000,
            online_cpus: 4,
            ..Sample::default()
        };
        let b = Sample {
            cpu_total: 1_500,
            system_total: 20_000,
            online_cpus: 4,
            ..Sample::default()
        };
        assert!((cpu_percent(&a, &b) - 20.0).abs() < 1e-9);
        assert_eq!(cpu_percent(&b, &b), 0.0);
    }

    #[test]
    fn memory_less_inactive_file() {
        let s = Sample {
            mem_usage: 10_000,
            mem_inactive_file: 2_000,
            mem_limit: 16_000,
            ..Sample::default()
        };
        assert_eq!(s.mem_used(), 8_000);
        assert!((s.mem_percent() - 50.0).abs() < 1e-9);
        let s = Sample {
            mem_usage: 1_000,
            mem_inactive_file: 2_000,
            ..Sample::default()
        };
        assert_eq!(s.mem_used(), 1_000);
        assert_eq!(s.mem_percent(), 0.0);
    }
}
