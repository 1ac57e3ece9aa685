//! Container behaviour where strata differed from the real Docker Engine (issue 9), each
//! checked through the real binary against what Docker does. Needs root and runc; fails
//! without.

mod harness;

use harness::rootfs::Containers;

/// Overlayfs links every whiteout of an upper directory to one inode: a commit of a
/// container that deleted two image files wrote one `.wh.` entry and a hard link to a path
/// that is not in the layer, so the committed image could not be used.
#[test]
fn commit_of_two_deletions_gives_a_usable_image() {
    let c = Containers::new();
    c.ok(&[
        "run", "--name", "del", "bb", "rm", "/gone", "/kept", "/dir/old",
    ]);
    c.ok(&["commit", "del", "deleted:v1"]);
    assert_eq!(
        c.ok(&[
            "run",
            "--rm",
            "deleted:v1",
            "sh",
            "-c",
            "ls /gone /kept /dir/old 2>/dev/null; echo end"
        ]),
        "end\n"
    );
    c.ok(&["rm", "del"]);
    c.assert_clean();
}

/// The same for a build: a RUN that deletes two image files made a layer with one
/// whiteout and a hard link to it, and the built image could not be used.
#[test]
fn build_run_of_two_deletions_gives_a_usable_image() {
    let c = Containers::new();
    let ctx = c.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM bb\nRUN rm /gone /kept /dir/old\n",
    )
    .unwrap();
    c.ok(&["build", "-q", "-t", "built-del:1", ctx.to_str().unwrap()]);
    assert_eq!(
        c.ok(&[
            "run",
            "--rm",
            "built-del:1",
            "sh",
            "-c",
            "ls /gone /kept /dir/old 2>/dev/null; echo end"
        ]),
        "end\n"
    );
    c.assert_clean();
}

/// The `Groups:` line of `/proc/self/status` and `id`'s output, in a container run as
/// `user` (or in an exec into `ctr` as `user`).
fn groups(c: &Containers, args: &[&str]) -> String {
    let out = c.ok(args);
    out.lines()
        .filter(|l| l.starts_with("Groups:") || l.starts_with("uid="))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `-u name` and `-u uid:gid` left the primary group out of the supplementary groups (the
/// CVE-2022-36109 class); Docker 20.10 puts it there, plus the `/etc/group` memberships.
/// The expected lines are the real Docker's for the same image.
#[test]
fn user_primary_group_is_a_supplementary_group() {
    let c = Containers::new();
    const SHOW: &str = "id; cat /proc/self/status";
    for (user, want) in [
        (
            "app",
            "uid=1000(app) gid=1000(app) groups=10(wheel),1000(app)\nGroups: 10 1000",
        ),
        (
            "1000:10",
            "uid=1000(app) gid=10(wheel) groups=10(wheel)\nGroups: 10",
        ),
        ("4242:4343", "uid=4242 gid=4343 groups=4343\nGroups: 4343"),
        ("4242", "uid=4242 gid=0(root) groups=0(root)\nGroups: 0"),
    ] {
        let got = groups(&c, &["run", "--rm", "-u", user, "bb", "sh", "-c", SHOW]);
        assert_eq!(got, want, "run -u {user}");
    }
    c.ok(&["run", "-d", "--name", "grp", "bb", "sleep", "30"]);
    let got = groups(&c, &["exec", "-u", "app", "grp", "sh", "-c", SHOW]);
    assert_eq!(
        got,
        "uid=1000(app) gid=1000(app) groups=10(wheel),1000(app)\nGroups: 10 1000"
    );
    c.ok(&["rm", "-f", "grp"]);
    c.assert_clean();
}

/// No seccomp filter was applied (`Seccomp: 0`); Docker applies its default profile.
#[test]
fn containers_run_under_dockers_seccomp_profile() {
    let c = Containers::new();
    let status = c.ok(&["run", "--rm", "bb", "cat", "/proc/self/status"]);
    assert!(status.lines().any(|l| l == "Seccomp:\t2"), "{status}");
    c.assert_clean();
}

/// Docker sets `ip_unprivileged_port_start=0` and `ping_group_range=0 2147483647` in a
/// container with a network namespace of its own, not with `--network host`.
#[test]
fn own_network_namespace_has_dockers_sysctls() {
    let c = Containers::new();
    const SHOW: &str =
        "cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range";
    assert_eq!(
        c.ok(&["run", "--rm", "bb", "sh", "-c", SHOW]),
        "0\n0\t2147483647\n"
    );
    let host = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap();
    let got = c.ok(&["run", "--rm", "--network", "host", "bb", "sh", "-c", SHOW]);
    assert!(got.starts_with(&host), "{got}");
    c.assert_clean();
}

/// `--read-only` left `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` writable.
#[test]
fn read_only_root_makes_etc_files_read_only() {
    let c = Containers::new();
    for f in ["hosts", "hostname", "resolv.conf"] {
        let script = format!("echo x >> /etc/{f}");
        let (code, _, err) = c.status(&["run", "--rm", "--read-only", "bb", "sh", "-c", &script]);
        assert_eq!(code, 1, "/etc/{f}: {err}");
        assert!(err.contains("Read-only file system"), "/etc/{f}: {err}");
        // Writable without --read-only, as in Docker.
        c.ok(&["run", "--rm", "bb", "sh", "-c", &script]);
    }
    c.assert_clean();
}

/// `kill` returned before the exit was recorded, so `kill X && rm X` failed or left the
/// container's directory behind; Docker's SIGKILL kill waits until it is stopped.
#[test]
fn kill_then_rm_right_away() {
    let c = Containers::new();
    for i in 0..5 {
        let name = format!("k{i}");
        c.ok(&["run", "-d", "--name", &name, "bb", "sleep", "60"]);
        assert_eq!(c.ok(&["kill", &name]), format!("{name}\n"));
        let state = c.ok(&[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            &name,
        ]);
        assert_eq!(state, "exited 137\n", "{name}");
        assert_eq!(c.ok(&["rm", &name]), format!("{name}\n"));
    }
    c.assert_clean();
}
