//! Tests of how the security and resource flags ([`crate::SecurityResources`]) and
//! Docker 20.10's fixed lists shape the spec.

use super::*;
use crate::CgroupnsMode;
use crate::spec::rlimits::parse_ulimit;

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn spec_of(opts: &RunOptions) -> Spec {
    let img = ContainerConfig {
        cmd: Some(v(&["true"])),
        ..Default::default()
    };
    let user = ExecUser::default();
    let ctx = Context {
        user: &user,
        hostname: "abc",
        cgroups_path: None,
        etc_files: None,
        init_binary: None,
        nofile: DEFAULT_NOFILE,
        kernel: Some((6, 1)),
        held_capabilities: !(1 << 24),
    };
    build(&img, opts, &ctx).unwrap()
}

/// Regression (mount_points): strata masked `/proc/interrupts` and
/// `/sys/devices/virtual/powercap`, which Docker 20.10 leaves alone.
#[test]
fn masked_and_readonly_paths_are_docker_20_10s() {
    let s = spec_of(&RunOptions::default());
    assert_eq!(
        s.linux.masked_paths,
        v(&[
            "/proc/asound",
            "/proc/acpi",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/proc/scsi",
            "/sys/firmware",
        ])
    );
    assert_eq!(
        s.linux.readonly_paths,
        v(&[
            "/proc/bus",
            "/proc/fs",
            "/proc/irq",
            "/proc/sys",
            "/proc/sysrq-trigger"
        ])
    );
}

/// Regression (exec_env): the spec put `HOME` in the environment, so an exec's `-e`
/// variables came after it; the runtime appends it last, as under Docker.
#[test]
fn home_is_left_to_the_runtime() {
    let s = spec_of(&RunOptions::default());
    assert!(!s.process.env.iter().any(|e| e.starts_with("HOME=")));
}

/// Regression (cap_add, cap_drop, cap_drop_all): the flags now reach all three sets and
/// the seccomp profile, which opens syscalls for the capabilities granted.
#[test]
fn capabilities_reach_the_sets_and_seccomp() {
    let mut o = RunOptions::default();
    o.security.cap_add = v(&["sys_time", "CAP_SYS_ADMIN"]);
    o.security.cap_drop = v(&["chown"]);
    let s = spec_of(&o);
    let caps = &s.process.capabilities;
    for set in [&caps.bounding, &caps.effective, &caps.permitted] {
        assert!(set.contains(&"CAP_SYS_TIME".to_string()));
        assert!(!set.contains(&"CAP_CHOWN".to_string()));
    }
    let names = |s: &Spec| -> Vec<String> {
        s.linux
            .seccomp
            .as_ref()
            .unwrap()
            .syscalls
            .iter()
            .flat_map(|r| r.names.clone())
            .collect()
    };
    // Docker's profile allows settimeofday with CAP_SYS_TIME, mount with CAP_SYS_ADMIN.
    let granted = names(&s);
    let plain = names(&spec_of(&RunOptions::default()));
    for call in ["settimeofday", "mount"] {
        assert!(granted.iter().any(|n| n == call), "{call}");
        assert!(!plain.iter().any(|n| n == call), "{call}");
    }
    o.security.cap_drop = v(&["ALL"]);
    o.security.cap_add = vec![];
    assert!(spec_of(&o).process.capabilities.effective.is_empty());
}

/// Regression (sysctl_net, cpu_shares, shm_size, ulimit_nofile, cgroup_namespace_view).
#[test]
fn resource_flags_shape_the_spec() {
    let mut o = RunOptions::default();
    o.security
        .sysctls
        .insert("net.ipv4.ip_forward".into(), "1".into());
    o.security.cpu_shares = 512;
    o.security.shm_size = Some(1 << 20);
    o.security.ulimits = vec![parse_ulimit("nofile=512:1024").unwrap()];
    o.security.cgroupns = Some(CgroupnsMode::Host);
    let s = spec_of(&o);
    assert_eq!(s.linux.sysctl["net.ipv4.ip_forward"], "1");
    // Docker's own network sysctls stay.
    assert_eq!(s.linux.sysctl["net.ipv4.ip_unprivileged_port_start"], "0");
    let cpu = s.linux.resources.cpu.as_ref().unwrap();
    assert_eq!((cpu.shares, cpu.quota, cpu.period), (Some(512), None, None));
    let shm = s
        .mounts
        .iter()
        .find(|m| m.destination == "/dev/shm")
        .unwrap();
    assert!(shm.options.contains(&"size=1048576".to_string()));
    assert_eq!(
        (
            s.process.rlimits[0].kind.as_str(),
            s.process.rlimits[0].soft,
            s.process.rlimits[0].hard
        ),
        ("RLIMIT_NOFILE", 512, 1024)
    );
    assert!(!s.linux.namespaces.iter().any(|n| n.kind == "cgroup"));
    o.security.cgroupns = Some(CgroupnsMode::Private);
    assert!(
        spec_of(&o)
            .linux
            .namespaces
            .iter()
            .any(|n| n.kind == "cgroup")
    );
    // Nothing asked: no cpu section, 64 MiB /dev/shm.
    let d = spec_of(&RunOptions::default());
    assert!(d.linux.resources.cpu.is_none());
    let shm = d
        .mounts
        .iter()
        .find(|m| m.destination == "/dev/shm")
        .unwrap();
    assert!(shm.options.contains(&"size=65536k".to_string()));
}

/// `--privileged`: the capabilities this process holds (not `CAP_SYS_RESOURCE` here),
/// unconfined, nothing masked, `/sys` and the cgroup tree writable, every device allowed;
/// `--device` adds its node and an allow rule.
#[test]
fn privileged_and_devices_shape_the_spec() {
    let mut opts = RunOptions::default();
    opts.security.privileged = true;
    opts.security.devices = vec![devices::parse_device("/dev/null:/dev/xnull:r").unwrap()];
    let s = spec_of(&opts);
    let caps = &s.process.capabilities.bounding;
    assert_eq!(caps.len(), capabilities::ALL_CAPABILITIES.len() - 1);
    assert!(caps.contains(&"CAP_SYS_ADMIN".to_string()));
    assert!(!caps.contains(&"CAP_SYS_RESOURCE".to_string()));
    assert!(s.linux.seccomp.is_none());
    assert!(s.linux.masked_paths.is_empty() && s.linux.readonly_paths.is_empty());
    for dest in ["/sys", "/sys/fs/cgroup"] {
        let m = s.mounts.iter().find(|m| m.destination == dest).unwrap();
        assert!(!m.options.contains(&"ro".to_string()), "{dest}");
    }
    let rules = &s.linux.resources.devices;
    assert!(!rules[0].allow && rules[0].kind.is_none());
    assert!(rules[1].allow && rules[1].kind.is_none() && rules[1].access == "rwm");
    let xnull = s
        .linux
        .devices
        .iter()
        .find(|d| d.path == "/dev/xnull")
        .unwrap();
    assert_eq!((xnull.major, xnull.minor), (1, 3));
    assert!(
        rules
            .iter()
            .any(|r| r.allow && r.major == Some(1) && r.minor == Some(3) && r.access == "r")
    );
    // Unprivileged: Docker's defaults, the one --device.
    let mut opts = RunOptions::default();
    opts.security.devices = vec![devices::parse_device("/dev/null:/dev/xnull").unwrap()];
    let s = spec_of(&opts);
    assert_eq!(s.linux.devices.len(), 1);
    assert_eq!(s.linux.resources.devices.len(), 2);
    assert!(s.linux.seccomp.is_some());
    let sys = s.mounts.iter().find(|m| m.destination == "/sys").unwrap();
    assert!(sys.options.contains(&"ro".to_string()));
}
