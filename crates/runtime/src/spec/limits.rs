//! Docker's checks of the resource flags whose support depends on the host's cgroups
//! (`--memory-reservation`, `--cpuset-cpus`/`--cpuset-mems`, `--blkio-weight`,
//! `--cpu-rt-period`/`--cpu-rt-runtime`), made at `create` and `update`: what the host
//! cannot enforce is discarded with Docker's warning, what no host takes is refused with
//! Docker's message (`verifyPlatformContainerResources`, runconfig's `validateResources`).

use std::collections::BTreeSet;
use std::path::Path;

use crate::update::MIN_MEMORY;
use crate::{RunOptions, RuntimeError};

/// Docker's usual ceiling for CPU and memory-node numbers (raised when the host has more).
const MAX_CPUS: u32 = 8192;

/// What the host's cgroups can enforce, as Docker's `sysinfo` finds it out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CgroupSupport {
    /// A soft memory limit (v1 `memory.soft_limit_in_bytes`, v2 the memory controller).
    pub memory_reservation: bool,
    /// A block I/O weight (v1 `blkio.weight` or `blkio.bfq.weight`, v2 the io controller).
    pub blkio_weight: bool,
    /// The real-time scheduler's period (v1 `cpu.rt_period_us`; never on v2).
    pub cpu_rt_period: bool,
    /// The real-time scheduler's runtime (v1 `cpu.rt_runtime_us`; never on v2).
    pub cpu_rt_runtime: bool,
    /// The cpuset controller.
    pub cpuset: bool,
    /// The CPUs the root cgroup has (`0-1`).
    pub cpus: String,
    /// The memory nodes the root cgroup has (`0`).
    pub mems: String,
}

impl CgroupSupport {
    /// Reads what this host's `/sys/fs/cgroup` offers.
    pub fn detect() -> CgroupSupport {
        Self::detect_at(
            Path::new("/sys/fs/cgroup"),
            crate::oci_runtime::cgroup_v2_unified(),
        )
    }

    /// [`CgroupSupport::detect`] for the hierarchy at `root`, unified (v2) or not.
    pub fn detect_at(root: &Path, unified: bool) -> CgroupSupport {
        let read = |p: &str| {
            std::fs::read_to_string(root.join(p))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let has = |p: &str| root.join(p).exists();
        if unified {
            let controllers = read("cgroup.controllers");
            let on = |c: &str| controllers.split_whitespace().any(|x| x == c);
            return CgroupSupport {
                memory_reservation: on("memory"),
                blkio_weight: on("io"),
                cpu_rt_period: false,
                cpu_rt_runtime: false,
                cpuset: on("cpuset"),
                cpus: read("cpuset.cpus.effective"),
                mems: read("cpuset.mems.effective"),
            };
        }
        CgroupSupport {
            memory_reservation: has("memory/memory.soft_limit_in_bytes"),
            blkio_weight: has("blkio/blkio.weight") || has("blkio/blkio.bfq.weight"),
            cpu_rt_period: has("cpu/cpu.rt_period_us"),
            cpu_rt_runtime: has("cpu/cpu.rt_runtime_us"),
            cpuset: has("cpuset"),
            cpus: read("cpuset/cpuset.cpus"),
            mems: read("cpuset/cpuset.mems"),
        }
    }
}

/// Checks `opts`' host-dependent resource flags against `host` as Docker's daemon does:
/// discards (sets to `None`) what the host cannot enforce and returns the warnings for
/// them, or refuses the flags in Docker's words.
pub fn check(opts: &mut RunOptions, host: &CgroupSupport) -> Result<Vec<String>, RuntimeError> {
    let bad = |m: String| Err(RuntimeError::InvalidOptions(m));
    let mut warnings = Vec::new();
    // runconfig's checks come first (they run when the request is decoded).
    let rt_period = opts.cpu_rt_period.unwrap_or(0);
    let rt_runtime = opts.cpu_rt_runtime.unwrap_or(0);
    if rt_period > 0 && !host.cpu_rt_period {
        return bad("Your kernel does not support cgroup cpu real-time period".into());
    }
    if rt_runtime > 0 && !host.cpu_rt_runtime {
        return bad("Your kernel does not support cgroup cpu real-time runtime".into());
    }
    if rt_period != 0 && rt_runtime != 0 && rt_runtime > rt_period {
        return bad("cpu real-time runtime cannot be higher than cpu real-time period".into());
    }
    if opts.memory_reservation.is_some_and(|r| r > 0) && !host.memory_reservation {
        warnings.push(
            "Your kernel does not support memory soft limit capabilities or the cgroup is not \
             mounted. Limitation discarded."
                .into(),
        );
        opts.memory_reservation = None;
    }
    let reservation = opts.memory_reservation.unwrap_or(0);
    if reservation > 0 && reservation < MIN_MEMORY {
        return bad("Minimum memory reservation allowed is 6MB".into());
    }
    if opts.memory.is_some_and(|m| m > 0 && m < reservation) {
        return bad(
            "Minimum memory limit can not be less than memory reservation limit, see usage".into(),
        );
    }
    let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    if (given(&opts.cpuset_cpus) || given(&opts.cpuset_mems)) && !host.cpuset {
        warnings.push(
            "Your kernel does not support cpuset or the cgroup is not mounted. Cpuset discarded."
                .into(),
        );
        opts.cpuset_cpus = None;
        opts.cpuset_mems = None;
    }
    for (asked, available, what, unavailable) in [
        (&opts.cpuset_cpus, &host.cpus, "cpus", "CPUs"),
        (&opts.cpuset_mems, &host.mems, "mems", "memory nodes"),
    ] {
        let asked = asked.as_deref().unwrap_or("");
        match is_available(asked, available) {
            Err(e) => return bad(format!("Invalid value {asked} for cpuset {what}: {e}")),
            Ok(false) => {
                return bad(format!(
                    "Requested {unavailable} are not available - requested {asked}, available: {available}"
                ));
            }
            Ok(true) => {}
        }
    }
    if opts.blkio_weight.is_some_and(|w| w > 0) && !host.blkio_weight {
        warnings.push(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted. \
             Weight discarded."
                .into(),
        );
        opts.blkio_weight = None;
    }
    if opts
        .blkio_weight
        .is_some_and(|w| w > 0 && !(10..=1000).contains(&w))
    {
        return bad("Range of blkio weight is from 10 to 1000".into());
    }
    Ok(warnings)
}

/// Whether every number in the list `asked` is in the list `available` (Docker's
/// `isCpusetListAvailable`); an error in Docker's words when `asked` is not a list.
fn is_available(asked: &str, available: &str) -> Result<bool, String> {
    let available = parse_list(available, 0)?;
    let max = available.iter().copied().max().unwrap_or(0).max(MAX_CPUS);
    let asked = parse_list(asked, max)?;
    Ok(asked.is_subset(&available))
}

/// Docker's `parsers.ParseUintListMaximum`: `0-3,5` as numbers, at most `max` (0: any).
fn parse_list(list: &str, max: u32) -> Result<BTreeSet<u32>, String> {
    let mut out = BTreeSet::new();
    if list.is_empty() {
        return Ok(out);
    }
    let invalid = || format!("invalid format: {list}");
    // Go's `strconv.Atoi`: an optional sign, then digits.
    let number = |s: &str| -> Result<i64, String> {
        let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        s.parse::<i64>().map_err(|_| invalid())
    };
    let out_of_range = || format!("value of out range, maximum is {max}");
    for part in list.split(',') {
        let (lo, hi) = match part.split_once('-') {
            None => {
                let v = number(part)?;
                (v, v)
            }
            Some((a, b)) => {
                let (lo, hi) = (number(a)?, number(b)?);
                if hi < lo {
                    return Err(invalid());
                }
                (lo, hi)
            }
        };
        if max != 0 && hi > i64::from(max) {
            return Err(out_of_range());
        }
        // Neither end can be negative here: a part without `-` has no sign but `+`, and a
        // range's end below its start was refused above.
        let lo = u32::try_from(lo).map_err(|_| out_of_range())?;
        let hi = u32::try_from(hi).map_err(|_| out_of_range())?;
        out.extend(lo..=hi);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> CgroupSupport {
        CgroupSupport {
            memory_reservation: true,
            blkio_weight: false,
            cpu_rt_period: true,
            cpu_rt_runtime: true,
            cpuset: true,
            cpus: "0-1".into(),
            mems: "0".into(),
        }
    }

    #[test]
    fn lists_parse_as_dockers_parser() {
        let set = |v: &[u32]| v.iter().copied().collect::<BTreeSet<u32>>();
        assert_eq!(parse_list("", 0), Ok(set(&[])));
        assert_eq!(parse_list("0-2,5", 0), Ok(set(&[0, 1, 2, 5])));
        assert_eq!(parse_list("1,1", 0), Ok(set(&[1])));
        for bad in ["a", "1-", "-1", "3-1", "1,,2", " 1"] {
            assert_eq!(
                parse_list(bad, 0),
                Err(format!("invalid format: {bad}")),
                "{bad}"
            );
        }
        assert_eq!(
            parse_list("9000", 8192),
            Err("value of out range, maximum is 8192".into())
        );
        assert_eq!(is_available("1", "0-1"), Ok(true));
        assert_eq!(is_available("0,2", "0-1"), Ok(false));
        assert_eq!(is_available("", "0-1"), Ok(true));
    }

    #[test]
    fn checks_and_warnings_are_dockers() {
        type Set = fn(&mut RunOptions);
        #[rustfmt::skip]
        let table: &[(&str, Set, Result<usize, &str>)] = &[
            ("nothing", |_| {}, Ok(0)),
            ("reservation", |o| o.memory_reservation = Some(64 << 20), Ok(0)),
            ("small reservation", |o| o.memory_reservation = Some(1 << 20), Err("Minimum memory reservation allowed is 6MB")),
            ("reservation above limit", |o| { o.memory = Some(32 << 20); o.memory_reservation = Some(64 << 20) },
                Err("Minimum memory limit can not be less than memory reservation limit, see usage")),
            ("blkio without support", |o| o.blkio_weight = Some(5), Ok(1)),
            ("cpus", |o| o.cpuset_cpus = Some("1".into()), Ok(0)),
            ("missing cpu", |o| o.cpuset_cpus = Some("0,2".into()),
                Err("Requested CPUs are not available - requested 0,2, available: 0-1")),
            ("bad mems", |o| o.cpuset_mems = Some("1-0".into()), Err("Invalid value 1-0 for cpuset mems: invalid format: 1-0")),
            ("missing mem", |o| o.cpuset_mems = Some("1".into()),
                Err("Requested memory nodes are not available - requested 1, available: 0")),
            ("rt", |o| { o.cpu_rt_period = Some(1_000_000); o.cpu_rt_runtime = Some(950_000) }, Ok(0)),
            ("rt runtime above period", |o| { o.cpu_rt_period = Some(1000); o.cpu_rt_runtime = Some(2000) },
                Err("cpu real-time runtime cannot be higher than cpu real-time period")),
        ];
        for (name, set, want) in table {
            let mut o = RunOptions::default();
            set(&mut o);
            let got = check(&mut o, &host())
                .map(|w| w.len())
                .map_err(|e| e.to_string());
            assert_eq!(got, want.map_err(str::to_string), "{name}");
        }
        // What the host cannot enforce is discarded, then checked no further.
        let mut o = RunOptions {
            blkio_weight: Some(5),
            ..Default::default()
        };
        check(&mut o, &host()).unwrap();
        assert_eq!(o.blkio_weight, None);
        let mut with_blkio = host();
        with_blkio.blkio_weight = true;
        let mut o = RunOptions {
            blkio_weight: Some(5),
            ..Default::default()
        };
        assert_eq!(
            check(&mut o, &with_blkio).unwrap_err().to_string(),
            "Range of blkio weight is from 10 to 1000"
        );
        let mut no_rt = host();
        no_rt.cpu_rt_runtime = false;
        let mut o = RunOptions {
            cpu_rt_runtime: Some(10),
            ..Default::default()
        };
        assert_eq!(
            check(&mut o, &no_rt).unwrap_err().to_string(),
            "Your kernel does not support cgroup cpu real-time runtime"
        );
    }

    #[test]
    fn detects_v1_and_v2_hierarchies() {
        let d = tempfile::tempdir().unwrap();
        let v1 = d.path().join("v1");
        for f in [
            "memory/memory.soft_limit_in_bytes",
            "cpu/cpu.rt_period_us",
            "cpuset/cpuset.cpus",
            "cpuset/cpuset.mems",
        ] {
            let p = v1.join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, if f.ends_with("cpus") { "0-3\n" } else { "0\n" }).unwrap();
        }
        let s = CgroupSupport::detect_at(&v1, false);
        assert!(s.memory_reservation && s.cpu_rt_period && s.cpuset);
        assert!(!s.blkio_weight && !s.cpu_rt_runtime);
        assert_eq!((s.cpus.as_str(), s.mems.as_str()), ("0-3", "0"));
        let v2 = d.path().join("v2");
        std::fs::create_dir_all(&v2).unwrap();
        std::fs::write(v2.join("cgroup.controllers"), "cpuset cpu io memory pids\n").unwrap();
        std::fs::write(v2.join("cpuset.cpus.effective"), "0-1\n").unwrap();
        std::fs::write(v2.join("cpuset.mems.effective"), "0\n").unwrap();
        let s = CgroupSupport::detect_at(&v2, true);
        assert!(s.memory_reservation && s.blkio_weight && s.cpuset);
        assert!(!s.cpu_rt_period && !s.cpu_rt_runtime);
        assert_eq!((s.cpus.as_str(), s.mems.as_str()), ("0-1", "0"));
    }
}
