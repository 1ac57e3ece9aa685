//! `--privileged` as Docker's `run` reference describes it: all capabilities, no seccomp
//! filter, nothing of `/proc` masked, `/sys` writable, and every host device. Docker 20.10
//! cannot run a privileged container on a host whose engine lacks a capability (it asks
//! for every one the kernel knows and runc fails), so these are checked against the host
//! here rather than against Docker; the differential suite covers `inspect` and the
//! `--device` cases. Needs root and runc; fails without.

mod harness;

use harness::rootfs::Containers;

/// A `/proc/self/status` field of this process.
fn own_status(field: &str) -> String {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field).map(|v| v.trim().to_string()))
        .unwrap()
}

#[test]
fn a_privileged_container_has_what_the_engine_holds() {
    let c = Containers::new();
    let out = c.ok(&[
        "run",
        "--rm",
        "--privileged",
        "bb",
        "sh",
        "-c",
        "grep -E '^(CapEff|CapBnd|Seccomp):' /proc/self/status; \
         busybox awk '$5==\"/sys\" {split($6, o, \",\"); print \"sys\", o[1]}' /proc/self/mountinfo; \
         test -b /dev/loop0 && echo loop0; test -c /dev/loop-control && echo loop-control; \
         test -e /dev/console; echo console=$?; \
         busybox awk '$5==\"/proc/kcore\"' /proc/self/mountinfo | wc -l",
    ]);
    // Docker 20.10's capability list ends at CAP_AUDIT_READ (bit 37): the newer ones
    // (CAP_PERFMON, CAP_BPF, CAP_CHECKPOINT_RESTORE) are not granted.
    let held = u64::from_str_radix(&own_status("CapBnd:"), 16).unwrap();
    let bnd = format!("{:016x}", held & ((1 << 38) - 1));
    let want = format!(
        "CapEff:\t{bnd}\nCapBnd:\t{bnd}\nSeccomp:\t0\nsys rw\n{}loop-control\nconsole=1\n0\n",
        if std::path::Path::new("/dev/loop0").exists() {
            "loop0\n"
        } else {
            ""
        }
    );
    assert_eq!(out, want);
    // Without the flag: Docker's defaults.
    let out = c.ok(&[
        "run",
        "--rm",
        "bb",
        "sh",
        "-c",
        "grep -E '^(CapEff|Seccomp):' /proc/self/status; \
         busybox awk '$5==\"/sys\" {split($6, o, \",\"); print \"sys\", o[1]}' /proc/self/mountinfo; \
         test -e /dev/loop-control; echo loop-control=$?",
    ]);
    assert_eq!(
        out,
        "CapEff:\t00000000a80425fb\nSeccomp:\t2\nsys ro\nloop-control=1\n"
    );
    c.assert_clean();
}

#[test]
fn a_device_directory_adds_every_device_under_it() {
    let c = Containers::new();
    let dev = c.path("devdir");
    std::fs::create_dir_all(dev.join("sub")).unwrap();
    // Device nodes of the host's null and zero, made in a directory of the test's own.
    for (name, major, minor) in [("mynull", 1, 3), ("sub/myzero", 1, 5)] {
        let path = dev.join(name);
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &path,
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o666),
            rustix::fs::makedev(major, minor),
        )
        .unwrap();
    }
    let spec = format!("{}:/dev/mine", dev.display());
    let out = c.ok(&[
        "run",
        "--rm",
        "--device",
        &spec,
        "bb",
        "sh",
        "-c",
        "ls /dev/mine /dev/mine/sub; echo x > /dev/mine/mynull && head -c 2 /dev/mine/sub/myzero | wc -c",
    ]);
    assert_eq!(
        out,
        "/dev/mine:\nmynull\nsub\n\n/dev/mine/sub:\nmyzero\n2\n"
    );
    c.assert_clean();
}
