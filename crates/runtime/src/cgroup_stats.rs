//! The parsers behind `stats`: cgroup v1 and v2 statistics files, `/proc/<pid>/net/dev`
//! and `/proc/stat`, each a pure function of the file's text (table-tested here; the
//! reading is in [`crate::stats`]).

use std::collections::BTreeMap;

/// A flat keyed file (`memory.stat`, `cpu.stat`): `key value` per line.
pub fn flat_keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let k = it.next()?;
            let v = it.next()?.parse().ok()?;
            Some((k.to_string(), v))
        })
        .collect()
}

/// A single-value file (`memory.usage_in_bytes`, `pids.current`, `memory.max`): `None`
/// for `max` (no limit) or garbage.
pub fn single(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// cgroup v1 `blkio.*io_service_bytes_recursive` (`8:0 Read 4096` lines): the bytes
/// read and written, summed over devices (Docker's CLI sums the `read`/`write` ops).
pub fn blkio_v1(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0, 0);
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if let [_dev, op, n] = f[..]
            && let Ok(n) = n.parse::<u64>()
        {
            match op.to_ascii_lowercase().as_str() {
                "read" => read += n,
                "write" => write += n,
                _ => {}
            }
        }
    }
    (read, write)
}

/// cgroup v2 `io.stat` (`8:0 rbytes=4096 wbytes=0 rios=1 ...`): bytes read and written
/// summed over devices.
pub fn io_stat_v2(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0, 0);
    for l in text.lines() {
        for kv in l.split_whitespace().skip(1) {
            match kv.split_once('=') {
                Some(("rbytes", v)) => read += v.parse::<u64>().unwrap_or(0),
                Some(("wbytes", v)) => write += v.parse::<u64>().unwrap_or(0),
                _ => {}
            }
        }
    }
    (read, write)
}

/// `/proc/<pid>/net/dev`: received and transmitted bytes over every interface but the
/// loopback (Docker counts the container's network interfaces; `--network none` has
/// none).
pub fn net_dev(text: &str) -> (u64, u64) {
    let (mut rx, mut tx) = (0, 0);
    for l in text.lines().skip(2) {
        let Some((iface, rest)) = l.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        if f.len() >= 9 {
            rx += f[0];
            tx += f[8];
        }
    }
    (rx, tx)
}

/// `/proc/stat`'s `cpu` line as nanoseconds (Docker's `SystemUsage`: the sum of its
/// fields, in clock ticks of 1/100 s), and the number of `cpuN` lines (online CPUs).
pub fn proc_stat(text: &str) -> (u64, u32) {
    let mut total = 0;
    let mut cpus = 0;
    for l in text.lines() {
        let mut it = l.split_whitespace();
        match it.next() {
            Some("cpu") => {
                let ticks: u64 = it.take(8).filter_map(|n| n.parse::<u64>().ok()).sum();
                total = ticks * (1_000_000_000 / 100);
            }
            Some(c) if c.starts_with("cpu") => cpus += 1,
            _ => {}
        }
    }
    (total, cpus)
}

/// `/proc/<pid>/cgroup`: the cgroup path of v1 `controller`, or with `None` the v2
/// (unified, `0::`) path.
pub fn proc_cgroup_path(text: &str, controller: Option<&str>) -> Option<String> {
    text.lines().find_map(|l| {
        let mut it = l.splitn(3, ':');
        let (_, controllers, path) = (it.next()?, it.next()?, it.next()?);
        let hit = match controller {
            Some(c) => controllers.split(',').any(|x| x == c),
            None => controllers.is_empty(),
        };
        hit.then(|| path.to_string())
    })
}

/// `/proc/meminfo`'s `MemTotal`, in bytes.
pub fn mem_total(text: &str) -> Option<u64> {
    let l = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = l.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_cgroup_paths() {
        let v1 = "12:pids:/docker/abc\n11:cpu,cpuacct:/docker/abc\n3:memory:/docker/abc\n\
                  1:name=systemd:/docker/abc\n0::/system.slice/x\n";
        assert_eq!(
            proc_cgroup_path(v1, Some("cpuacct")).as_deref(),
            Some("/docker/abc")
        );
        assert_eq!(
            proc_cgroup_path(v1, Some("memory")).as_deref(),
            Some("/docker/abc")
        );
        assert_eq!(proc_cgroup_path(v1, Some("blkio")), None);
        assert_eq!(
            proc_cgroup_path(v1, None).as_deref(),
            Some("/system.slice/x")
        );
        assert_eq!(
            proc_cgroup_path("0::/docker/x\n", None).as_deref(),
            Some("/docker/x")
        );
    }

    #[test]
    fn meminfo_total() {
        assert_eq!(
            mem_total("MemTotal:       16303856 kB\nMemFree: 1 kB\n"),
            Some(16_303_856 * 1024)
        );
        assert_eq!(mem_total("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn flat_keyed_files() {
        let v1 = "cache 11509760\nrss 5971968\ntotal_inactive_file 28672\n";
        let m = flat_keyed(v1);
        assert_eq!(m["cache"], 11_509_760);
        assert_eq!(m["total_inactive_file"], 28_672);
        let v2 = "usage_usec 1234\nuser_usec 1000\nsystem_usec 234\nbad line x\n";
        let m = flat_keyed(v2);
        assert_eq!(m["usage_usec"], 1234);
        assert!(!m.contains_key("bad"));
    }

    #[test]
    fn single_values() {
        #[rustfmt::skip]
        let table: &[(&str, Option<u64>)] = &[
            ("4096\n", Some(4096)),
            ("max\n", None),
            ("9223372036854771712\n", Some(9_223_372_036_854_771_712)),
            ("", None),
        ];
        for (text, want) in table {
            assert_eq!(single(text), *want, "{text:?}");
        }
    }

    #[test]
    fn block_io_v1_and_v2() {
        let v1 = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 12288\n8:0 Async 0\n8:0 Total 12288\n\
                  8:16 Read 1000\n8:16 Write 0\nTotal 13288\n";
        assert_eq!(blkio_v1(v1), (5096, 8192));
        assert_eq!(blkio_v1(""), (0, 0));
        let v2 = "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n\
                  8:16 rbytes=1000 wbytes=24 rios=1 wios=1\n";
        assert_eq!(io_stat_v2(v2), (5096, 8216));
        assert_eq!(io_stat_v2(""), (0, 0));
    }

    #[test]
    fn net_dev_skips_loopback() {
        let text = "Inter-|   Receive                                                |  Transmit\n \
            face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    \
            lo:     740      10    0    0    0     0          0         0      740      10    0    0    0     0       0          0\n  \
            eth0:    1296      16    0    0    0     0          0         0      726       9    0    0    0     0       0          0\n";
        assert_eq!(net_dev(text), (1296, 726));
        let lo_only = text.lines().take(3).collect::<Vec<_>>().join("\n");
        assert_eq!(net_dev(&lo_only), (0, 0));
    }

    #[test]
    fn proc_stat_totals() {
        let text = "cpu  100 0 50 1000 10 0 5 0 0 0\ncpu0 50 0 25 500 5 0 2 0 0 0\n\
                    cpu1 50 0 25 500 5 0 3 0 0 0\nintr 1 2 3\n";
        assert_eq!(proc_stat(text), (1165 * 10_000_000, 2));
    }
}
