//! Tests of [`super::build`] and its helpers against Docker's rules.

use super::*;
use crate::MountSpec;

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn image(ep: Option<&[&str]>, cmd: Option<&[&str]>) -> ContainerConfig {
    ContainerConfig {
        entrypoint: ep.map(v),
        cmd: cmd.map(v),
        ..Default::default()
    }
}

#[test]
fn entrypoint_and_cmd_follow_docker() {
    let ep: Option<&[&str]> = Some(&["/ep", "-x"]);
    let cmd: Option<&[&str]> = Some(&["serve", "--port=1"]);
    #[allow(clippy::type_complexity)]
    let cases: [(
        &str,
        Option<&[&str]>,
        Option<&[&str]>,
        Option<&[&str]>,
        &[&str],
        Option<&[&str]>,
    ); 12] = [
        // name, image ep, image cmd, --entrypoint, args, want (None = error)
        (
            "image cmd only",
            None,
            cmd,
            None,
            &[],
            Some(&["serve", "--port=1"]),
        ),
        ("args replace cmd", None, cmd, None, &["sh"], Some(&["sh"])),
        (
            "ep + cmd",
            ep,
            cmd,
            None,
            &[],
            Some(&["/ep", "-x", "serve", "--port=1"]),
        ),
        (
            "ep + args",
            ep,
            cmd,
            None,
            &["a", "b"],
            Some(&["/ep", "-x", "a", "b"]),
        ),
        (
            "--entrypoint drops image cmd",
            ep,
            cmd,
            Some(&["/new"]),
            &[],
            Some(&["/new"]),
        ),
        (
            "--entrypoint + args",
            ep,
            cmd,
            Some(&["/new"]),
            &["1"],
            Some(&["/new", "1"]),
        ),
        (
            "--entrypoint '' + args",
            ep,
            cmd,
            Some(&[""]),
            &["ls"],
            Some(&["ls"]),
        ),
        (
            "--entrypoint [] + args",
            ep,
            cmd,
            Some(&[]),
            &["ls", "-l"],
            Some(&["ls", "-l"]),
        ),
        ("--entrypoint '' alone", ep, cmd, Some(&[""]), &[], None),
        ("nothing at all", None, None, None, &[], None),
        ("empty image cmd", None, Some(&[]), None, &[], None),
        ("ep without cmd", ep, None, None, &[], Some(&["/ep", "-x"])),
    ];
    for (name, iep, icmd, oep, args, want) in cases {
        let opts = RunOptions {
            entrypoint: oep.map(v),
            cmd: v(args),
            ..Default::default()
        };
        let got = command(&image(iep, icmd), &opts);
        match want {
            Some(w) => assert_eq!(got.unwrap(), v(w), "{name}"),
            None => assert_eq!(
                got.unwrap_err().to_string(),
                "No command specified",
                "{name}"
            ),
        }
    }
}

#[test]
fn environment_precedence() {
    let path = format!("PATH={DEFAULT_PATH}");
    for (name, image_env, user_env, tty, want) in [
        (
            "defaults",
            &[][..],
            &[][..],
            false,
            vec![path.as_str(), "HOSTNAME=h"],
        ),
        (
            "tty adds TERM",
            &[],
            &[],
            true,
            vec![path.as_str(), "HOSTNAME=h", "TERM=xterm"],
        ),
        (
            "image PATH replaces default in place",
            &["A=1", "PATH=/x"],
            &[],
            false,
            vec!["PATH=/x", "HOSTNAME=h", "A=1"],
        ),
        (
            "-e wins over image",
            &["A=1", "B=2"],
            &["B=3", "C=4"],
            false,
            vec![path.as_str(), "HOSTNAME=h", "B=3", "C=4", "A=1"],
        ),
        (
            "-e KEY alone removes it",
            &["A=1"],
            &["HOSTNAME"],
            false,
            vec![path.as_str(), "A=1"],
        ),
        (
            "HOME from env wins",
            &["HOME=/h"],
            &["HOSTNAME=x"],
            true,
            vec![path.as_str(), "HOSTNAME=x", "TERM=xterm", "HOME=/h"],
        ),
    ] {
        let img = ContainerConfig {
            env: v(image_env),
            ..Default::default()
        };
        let opts = RunOptions {
            env: v(user_env),
            tty,
            ..Default::default()
        };
        assert_eq!(environment(&img, &opts, "h"), v(&want), "{name}");
    }
}

#[test]
fn nofile_needs_cap_sys_resource() {
    for (cap, hard, want) in [
        (1u64 << 24, 1024, DEFAULT_NOFILE),
        (0x01ff_feff_ffff, 20_000, 20_000),
        (0, u64::MAX, DEFAULT_NOFILE),
    ] {
        assert_eq!(nofile_limit(cap, hard), want, "{cap:x} {hard}");
    }
}

#[test]
fn working_dir_rules() {
    for (image_wd, opt, want) in [
        (None, None, Ok("/")),
        (Some(""), None, Ok("/")),
        (Some("/srv"), None, Ok("/srv")),
        (Some("app"), None, Ok("/app")),
        (Some("/srv"), Some("/tmp"), Ok("/tmp")),
        (None, Some("rel"), Err(())),
    ] {
        let img = ContainerConfig {
            working_dir: image_wd.map(String::from),
            ..Default::default()
        };
        let opts = RunOptions {
            workdir: opt.map(String::from),
            ..Default::default()
        };
        let got = working_dir(&img, &opts).map_err(|_| ());
        assert_eq!(got, want.map(String::from), "{image_wd:?} {opt:?}");
    }
}

fn ctx<'a>(user: &'a ExecUser, init: Option<&'a Path>) -> Context<'a> {
    Context {
        user,
        hostname: "abc",
        cgroups_path: Some("/strata/abc".into()),
        etc_files: None,
        init_binary: init,
        nofile: DEFAULT_NOFILE,
        kernel: Some((6, 1)),
        held_capabilities: !(1 << 24),
    }
}

#[test]
fn builds_docker_defaults() {
    let img = image(None, Some(&["true"]));
    let user = ExecUser {
        uid: 1,
        gid: 2,
        additional_gids: vec![3],
        home: "/home/u".into(),
    };
    let spec = build(&img, &RunOptions::default(), &ctx(&user, None)).unwrap();
    let json = serde_json::to_value(&spec).unwrap();
    assert_eq!(json["ociVersion"], "1.0.2");
    assert_eq!(json["process"]["user"]["additionalGids"][0], 3);
    assert_eq!(json["process"]["cwd"], "/");
    assert_eq!(
        json["process"]["capabilities"]["bounding"]
            .as_array()
            .unwrap()
            .len(),
        14
    );
    assert_eq!(json["process"]["rlimits"][0]["type"], "RLIMIT_NOFILE");
    assert_eq!(json["hostname"], "abc");
    let ns: Vec<&str> = spec
        .linux
        .namespaces
        .iter()
        .map(|n| n.kind.as_str())
        .collect();
    assert_eq!(ns, ["pid", "ipc", "uts", "mount", "network", "cgroup"]);
    let dests: Vec<&str> = spec.mounts.iter().map(|m| m.destination.as_str()).collect();
    assert_eq!(
        dests,
        [
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm"
        ]
    );
    assert!(spec.linux.masked_paths.contains(&"/proc/kcore".to_string()));
    assert_eq!(json["linux"]["resources"]["devices"][0]["allow"], false);
    assert!(json["linux"]["resources"].get("memory").is_none());
    assert!(!spec.root.readonly);
}

#[test]
fn options_shape_the_spec() {
    let img = image(Some(&["/ep"]), None);
    let user = ExecUser::default();
    let opts = RunOptions {
        network: NetworkMode::Host,
        read_only: true,
        tty: true,
        memory: Some(64 << 20),
        cpus: Some(1.5),
        pids_limit: Some(100),
        init: true,
        mounts: vec![
            MountSpec {
                kind: MountKind::Bind {
                    source: "/host".into(),
                },
                destination: "/data".into(),
                read_only: true,
                options: vec![],
            },
            MountSpec {
                kind: MountKind::Tmpfs,
                destination: "/run".into(),
                read_only: false,
                options: vec!["size=1m".into()],
            },
        ],
        ..Default::default()
    };
    let init = Path::new("/usr/bin/tini");
    let spec = build(&img, &opts, &ctx(&user, Some(init))).unwrap();
    assert_eq!(spec.process.args, v(&[INIT_PATH, "--", "/ep"]));
    assert!(spec.process.terminal && spec.root.readonly);
    // Docker names the UTS namespace on the host network too (`-h` works there).
    assert_eq!(spec.hostname.as_deref(), Some("abc"));
    assert!(!spec.linux.namespaces.iter().any(|n| n.kind == "network"));
    let r = &spec.linux.resources;
    assert_eq!(r.memory.as_ref().unwrap().swap, Some(128 << 20));
    assert_eq!(r.cpu.as_ref().unwrap().quota, Some(150_000));
    assert_eq!(r.pids.as_ref().unwrap().limit, 100);
    let data = spec
        .mounts
        .iter()
        .find(|m| m.destination == "/data")
        .unwrap();
    assert_eq!(
        (data.kind.as_str(), data.source.as_str()),
        ("bind", "/host")
    );
    assert_eq!(data.options, v(&["rbind", "rprivate", "ro"]));
    let run = spec
        .mounts
        .iter()
        .find(|m| m.destination == "/run")
        .unwrap();
    assert_eq!(run.options, v(&["nosuid", "nodev", "noexec", "size=1m"]));
    // --init without a binary, and a relative mount path, are errors.
    assert!(build(&img, &opts, &ctx(&user, None)).is_err());
    let bad = RunOptions {
        cmd: v(&["x"]),
        mounts: vec![MountSpec {
            kind: MountKind::Tmpfs,
            destination: "rel".into(),
            read_only: false,
            options: vec![],
        }],
        ..Default::default()
    };
    assert!(build(&img, &bad, &ctx(&user, None)).is_err());
}

/// Docker sets these two sysctls in a container with its own network namespace only.
#[test]
fn own_network_namespace_gets_dockers_sysctls() {
    let img = image(None, Some(&["true"]));
    let user = ExecUser::default();
    let spec = build(&img, &RunOptions::default(), &ctx(&user, None)).unwrap();
    let json = serde_json::to_value(&spec).unwrap();
    assert_eq!(
        json["linux"]["sysctl"],
        serde_json::json!({
            "net.ipv4.ip_unprivileged_port_start": "0",
            "net.ipv4.ping_group_range": "0 2147483647",
        })
    );
    let host = RunOptions {
        network: NetworkMode::Host,
        ..Default::default()
    };
    let spec = build(&img, &host, &ctx(&user, None)).unwrap();
    assert!(spec.linux.sysctl.is_empty());
}

/// `--read-only` left `/etc/hosts`, `/etc/hostname` and `/etc/resolv.conf` writable.
#[test]
fn read_only_root_mounts_etc_files_read_only() {
    let img = image(None, Some(&["true"]));
    let user = ExecUser::default();
    let files = EtcFiles {
        hosts: "/c/hosts".into(),
        resolv_conf: "/c/resolv.conf".into(),
        hostname: "/c/hostname".into(),
    };
    for read_only in [false, true] {
        let opts = RunOptions {
            read_only,
            ..Default::default()
        };
        let c = Context {
            etc_files: Some(&files),
            ..ctx(&user, None)
        };
        let spec = build(&img, &opts, &c).unwrap();
        let etc: Vec<&Mount> = spec
            .mounts
            .iter()
            .filter(|m| m.destination.starts_with("/etc/"))
            .collect();
        assert_eq!(etc.len(), 3);
        for m in etc {
            assert_eq!(
                m.options.contains(&"ro".to_string()),
                read_only,
                "{m:?} read_only={read_only}"
            );
        }
    }
}

/// No seccomp filter was set; Docker applies its default profile unless unconfined.
#[test]
fn default_seccomp_profile_unless_unconfined() {
    let img = image(None, Some(&["true"]));
    let user = ExecUser::default();
    let spec = build(&img, &RunOptions::default(), &ctx(&user, None)).unwrap();
    let json = serde_json::to_value(&spec).unwrap();
    let sc = &json["linux"]["seccomp"];
    assert_eq!(sc["defaultAction"], "SCMP_ACT_ERRNO");
    assert_eq!(sc["defaultErrnoRet"], 1);
    assert!(sc["syscalls"].as_array().unwrap().len() > 10);
    let unconfined = RunOptions {
        seccomp: crate::SeccompOption::Unconfined,
        ..Default::default()
    };
    let spec = build(&img, &unconfined, &ctx(&user, None)).unwrap();
    let json = serde_json::to_value(&spec).unwrap();
    assert!(json["linux"].get("seccomp").is_none());
}

/// A build sandbox (BuildKit's RUN) had HOSTNAME, /etc/hostname, and no hostname of its
/// own on the host network.
#[test]
fn build_sandbox_has_no_hostname_file_nor_variable() {
    let img = image(None, Some(&["true"]));
    let user = ExecUser::default();
    let files = EtcFiles {
        hosts: "/c/hosts".into(),
        resolv_conf: "/c/resolv.conf".into(),
        hostname: "/c/hostname".into(),
    };
    let opts = RunOptions {
        network: NetworkMode::Host,
        build_sandbox: true,
        ..Default::default()
    };
    let c = Context {
        etc_files: Some(&files),
        hostname: "buildkitsandbox",
        ..ctx(&user, None)
    };
    let spec = build(&img, &opts, &c).unwrap();
    assert_eq!(spec.hostname.as_deref(), Some("buildkitsandbox"));
    assert!(!spec.process.env.iter().any(|e| e.starts_with("HOSTNAME=")));
    let etc: Vec<&str> = spec
        .mounts
        .iter()
        .map(|m| m.destination.as_str())
        .filter(|d| d.starts_with("/etc/"))
        .collect();
    assert_eq!(etc, ["/etc/resolv.conf", "/etc/hosts"]);
}

/// `--ipc host`, `--pid host` and `--uts host` were refused as unknown flags: the
/// namespaces must not be created, `/dev/shm` must be the host's, and no hostname set.
#[test]
fn host_namespace_modes_share_the_hosts() {
    use crate::namespaces::{IpcMode, PidMode, UtsMode};
    let user = ExecUser {
        uid: 0,
        gid: 0,
        additional_gids: vec![],
        home: "/root".into(),
    };
    let img = image(None, Some(&["sh"]));
    let opts = RunOptions {
        ipc: IpcMode::Host,
        pid: PidMode::Host,
        uts: UtsMode::Host,
        ..Default::default()
    };
    let spec = build(&img, &opts, &ctx(&user, None)).unwrap();
    let kinds: Vec<&str> = spec
        .linux
        .namespaces
        .iter()
        .map(|n| n.kind.as_str())
        .collect();
    for k in ["ipc", "pid", "uts"] {
        assert!(!kinds.contains(&k), "{k} in {kinds:?}");
    }
    assert!(kinds.contains(&"mount") && kinds.contains(&"network"));
    assert!(spec.hostname.is_none());
    let shm = spec
        .mounts
        .iter()
        .find(|m| m.destination == "/dev/shm")
        .unwrap();
    assert_eq!(
        (shm.kind.as_str(), shm.source.as_str()),
        ("bind", "/dev/shm")
    );

    let none = RunOptions {
        ipc: IpcMode::None,
        ..Default::default()
    };
    let mut spec = build(&img, &none, &ctx(&user, None)).unwrap();
    assert!(!spec.mounts.iter().any(|m| m.destination == "/dev/shm"));
    assert!(spec.linux.namespaces.iter().any(|n| n.kind == "ipc"));
    super::namespaces::join(&mut spec, "pid", 42);
    let pid = spec
        .linux
        .namespaces
        .iter()
        .find(|n| n.kind == "pid")
        .unwrap();
    assert_eq!(pid.path.as_deref(), Some("/proc/42/ns/pid"));
}
