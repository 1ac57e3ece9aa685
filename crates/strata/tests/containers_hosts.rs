//! Name resolution and `--mount` through the real binary where the differential suite
//! (which runs with `--network none`) does not look: the host network, and what a volume
//! mounted with `volume-nocopy` holds. Needs root and runc; fails without.

mod harness;

use harness::rootfs::Containers;

/// On the host network `-h` named nothing (the runtime spec had no hostname there) and
/// `--add-host` was unknown; Docker sets the name and writes its own `/etc/hosts` with the
/// extra entries instead of the host's.
#[test]
fn host_network_takes_hostname_and_add_host() {
    let c = Containers::new();
    let out = c.ok(&[
        "run",
        "--rm",
        "--network",
        "host",
        "-h",
        "named",
        "--add-host",
        "db:10.1.2.3",
        "bb",
        "sh",
        "-c",
        "cat /proc/sys/kernel/hostname /etc/hostname /etc/hosts",
    ]);
    assert_eq!(
        out,
        "named\nnamed\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n10.1.2.3\tdb\n"
    );
    // Without --add-host the host's own file, as Docker bind-mounts it.
    let host_hosts = std::fs::read_to_string("/etc/hosts").unwrap();
    assert_eq!(
        c.ok(&[
            "run",
            "--rm",
            "--network",
            "host",
            "bb",
            "cat",
            "/etc/hosts"
        ]),
        host_hosts
    );
    c.assert_clean();
}

/// `--mount …,volume-nocopy` leaves a new volume empty, where a plain one gets the image's
/// files; a missing bind source is refused (exit 125) and nothing is left behind.
#[test]
fn mount_flag_nocopy_and_missing_bind_source() {
    let c = Containers::new();
    c.ok(&[
        "run",
        "--rm",
        "--mount",
        "source=empty,target=/etc,volume-nocopy",
        "--mount",
        "type=volume,src=filled,dst=/dir",
        "bb",
        "true",
    ]);
    assert_eq!(
        c.ok(&["run", "--rm", "-v", "empty:/x", "bb", "ls", "-A", "/x"]),
        ""
    );
    assert_eq!(
        c.ok(&["run", "--rm", "-v", "filled:/x", "bb", "ls", "-A", "/x"]),
        "old\n"
    );
    let missing = c.path("absent");
    let (code, _, err) = c.status(&[
        "run",
        "--rm",
        "--mount",
        &format!("type=bind,src={},dst=/m", missing.display()),
        "bb",
        "true",
    ]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("bind source path does not exist"), "{err}");
    assert!(!missing.exists());
    c.ok(&["volume", "rm", "empty", "filled"]);
    c.assert_clean();
}
