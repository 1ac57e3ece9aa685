//! Container networking through the real binary: the default (user-mode) network's
//! outbound access to the host's loopback, `-p` over TCP and UDP, `-P`, `--network
//! container:NAME`, and that nothing is left behind (helper processes, namespace mounts,
//! directories) nor changed in the host's own network (links, routes, firewall rules).
//! Needs root, runc and pasta or slirp4netns; fails without.

mod harness;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;

use harness::rootfs::Containers;

const SERVE: &str = "mkdir -p /www && echo hello-from-container > /www/index.html && \
                     exec httpd -f -p 8080 -h /www";

/// A UDP echo server on port 9000: `echo:` and what it got.
const UDP_ECHO: &str = "import socket\n\
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
    s.bind(('0.0.0.0', 9000))\n\
    while True:\n    d, a = s.recvfrom(512)\n    s.sendto(b'echo:' + d, a)\n";

/// Fails (never skips) without a user-mode network helper.
fn require_helper() {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = ["pasta", "slirp4netns"]
        .iter()
        .any(|t| std::env::split_paths(&path).any(|d| d.join(t).is_file()));
    assert!(
        found,
        "the default network needs pasta (apt-get install passt) or slirp4netns: run \
         scripts/install-peers.sh"
    );
}

fn get(c: &Containers, addr: &str) -> String {
    let mut body = String::new();
    c.eventually(&format!("the server on {addr}"), || {
        body.clear();
        let Ok(mut s) = TcpStream::connect(addr) else {
            return false;
        };
        let _ = s.write_all(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n");
        let _ = s.read_to_string(&mut body);
        body.contains("200 OK")
    });
    body
}

/// A one-answer-per-connection HTTP server on the host's 127.0.0.1; returns its port.
fn host_server(body: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            let _ = write!(
                s,
                "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// Processes whose command line names `needle` (the store's path: a helper of ours).
fn processes_naming(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(cmd) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
        if cmd.contains(needle) && !cmd.contains("containers_network") {
            out.push(format!("{name}: {cmd}"));
        }
    }
    out
}

/// Nothing of the network is left: no helper process, nor what `assert_clean` checks.
fn assert_network_clean(c: &Containers) {
    c.assert_clean();
    let root = c.root().to_string_lossy().into_owned();
    assert_eq!(
        processes_naming(&root),
        Vec::<String>::new(),
        "helpers left"
    );
}

/// The host's network as the commands print it; counters (which traffic moves) blanked.
fn host_network_state() -> String {
    let mut out = String::new();
    for args in [
        &["ip", "-d", "link"][..],
        &["ip", "route"],
        &["ip", "-6", "route"],
        &["iptables-save"],
        &["ip6tables-save"],
        &["nft", "list", "ruleset"],
    ] {
        let o = Command::new(args[0])
            .args(&args[1..])
            .output()
            .unwrap_or_else(|e| {
                panic!("{args:?} is needed for this test ({e}): run scripts/install-peers.sh")
            });
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        out.push_str(&format!("== {args:?}\n"));
        for line in String::from_utf8_lossy(&o.stdout).lines() {
            // iptables-save's "# Generated … on <date>" comments.
            if line.starts_with('#') {
                continue;
            }
            out.push_str(&blank_counters(line));
            out.push('\n');
        }
    }
    out
}

/// `[12:3456]` → `[]`, `packets 1 bytes 2` → `packets bytes`.
fn blank_counters(line: &str) -> String {
    let mut words = Vec::new();
    let mut after_counter = false;
    for w in line.split(' ') {
        if after_counter {
            after_counter = false;
            continue;
        }
        if w.starts_with('[') && w.ends_with(']') && w.contains(':') {
            words.push("[]");
            continue;
        }
        after_counter = w == "packets" || w == "bytes";
        words.push(w);
    }
    words.join(" ")
}

/// The default network reaches a server on the host's loopback (through the helper's
/// gateway), resolves through the helper's DNS forwarder, and is Docker's `bridge` in
/// `inspect`; its helper ends with the container.
#[test]
fn default_network_reaches_the_hosts_loopback() {
    require_helper();
    let c = Containers::new();
    let before = host_network_state();
    let port = host_server("hello-from-host\n");
    let url = format!("http://10.0.2.2:{port}/");
    assert_eq!(
        c.ok(&[
            "run", "--rm", "bb", "busybox", "wget", "-q", "-O", "-", &url
        ]),
        "hello-from-host\n"
    );
    let resolv = c.ok(&["run", "--rm", "bb", "cat", "/etc/resolv.conf"]);
    assert!(resolv.starts_with("nameserver 10.0.2.3\n"), "{resolv}");
    // Docker's own line for the container's address.
    let hosts = c.ok(&["run", "--rm", "-h", "web", "bb", "cat", "/etc/hosts"]);
    assert!(hosts.ends_with("10.0.2.100\tweb\n"), "{hosts}");
    // The interface has the address, and a default route.
    let ip = c.ok(&[
        "run",
        "--rm",
        "bb",
        "sh",
        "-c",
        "busybox ip -4 addr; busybox ip route",
    ]);
    assert!(ip.contains("10.0.2.100/24"), "{ip}");
    assert!(ip.contains("default via 10.0.2.2"), "{ip}");

    c.ok(&["run", "-d", "--name", "idle", "bb", "sleep", "600"]);
    assert_eq!(
        c.ok(&[
            "inspect",
            "-f",
            "{{.HostConfig.NetworkMode}} {{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}}{{end}}",
            "idle"
        ]),
        "default bridge 10.0.2.100\n"
    );
    let root = c.root().to_string_lossy().into_owned();
    let helpers: Vec<String> = processes_naming(&root)
        .into_iter()
        .filter(|p| p.contains("/netns"))
        .collect();
    assert_eq!(helpers.len(), 1, "one helper while it runs: {helpers:?}");
    c.ok(&["rm", "-f", "idle"]);
    assert_network_clean(&c);
    assert_eq!(host_network_state(), before, "the host's network changed");
}

/// `-p 0.0.0.0:P:80` answers on the host's loopback, `port` shows it as Docker does; UDP
/// is relayed both ways; `-P` publishes the image's EXPOSEd port on both families.
#[test]
fn published_tcp_udp_and_publish_all() {
    require_helper();
    let c = Containers::new();
    let before = host_network_state();
    let port = harness::free_port();
    let spec = format!("0.0.0.0:{port}:8080");
    c.ok(&[
        "run", "-d", "--name", "web", "-p", &spec, "bb", "sh", "-c", SERVE,
    ]);
    let body = get(&c, &format!("127.0.0.1:{port}"));
    assert!(body.ends_with("hello-from-container\n"), "{body}");
    assert_eq!(
        c.ok(&["port", "web"]),
        format!("8080/tcp -> 0.0.0.0:{port}\n")
    );

    // UDP: an echo server (busybox has no UDP server: the host's python3, its /usr and
    // libraries bound read-only).
    let uport = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    let uspec = format!("127.0.0.1:{uport}:9000/udp");
    harness::require("python3");
    c.ok(&[
        "run",
        "-d",
        "--name",
        "echo",
        "-p",
        &uspec,
        "-v",
        "/usr:/usr:ro",
        "-v",
        "/lib:/lib:ro",
        "-v",
        "/lib64:/lib64:ro",
        "bb",
        "/usr/bin/python3",
        "-c",
        UDP_ECHO,
    ]);
    assert_eq!(
        c.ok(&["port", "echo", "9000/udp"]),
        format!("127.0.0.1:{uport}\n")
    );
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut got = String::new();
    c.eventually("a UDP echo", || {
        let _ = client.send_to(b"ping\n", ("127.0.0.1", uport));
        let mut buf = [0u8; 64];
        match client.recv(&mut buf) {
            Ok(n) => {
                got = String::from_utf8_lossy(&buf[..n]).into_owned();
                true
            }
            Err(_) => false,
        }
    });
    assert_eq!(got, "echo:ping\n");

    // -P: the EXPOSEd port on a free port of 0.0.0.0 and [::].
    c.image("exposing", &["ENV PATH=/bin", "EXPOSE 8080"]);
    c.ok(&[
        "run", "-d", "--name", "all", "-P", "exposing", "sh", "-c", SERVE,
    ]);
    let shown = c.ok(&["port", "all", "8080"]);
    let lines: Vec<&str> = shown.lines().collect();
    let v4 = lines[0]
        .strip_prefix("0.0.0.0:")
        .unwrap_or_else(|| panic!("{shown}"));
    if let Some(v6) = lines.get(1) {
        assert_eq!(*v6, format!(":::{v4}"), "{shown}");
    }
    assert!(get(&c, &format!("127.0.0.1:{v4}")).ends_with("hello-from-container\n"));
    assert_eq!(
        c.ok(&["inspect", "-f", "{{.HostConfig.PublishAllPorts}}", "all"]),
        "true\n"
    );
    c.ok(&["rm", "-f", "web", "echo", "all"]);
    assert_network_clean(&c);
    assert_eq!(host_network_state(), before, "the host's network changed");
}

/// `--network container:NAME` shares that container's namespace (its loopback server
/// answers) and its name files; Docker's conflicts are refused with 125.
#[test]
fn container_network_mode() {
    require_helper();
    let c = Containers::new();
    c.ok(&[
        "run", "-d", "--name", "srv", "-h", "srvhost", "bb", "sh", "-c", SERVE,
    ]);
    let mut body = String::new();
    c.eventually("the server through the shared namespace", || {
        let (code, out, _) = c.status(&[
            "run",
            "--rm",
            "--network",
            "container:srv",
            "bb",
            "busybox",
            "wget",
            "-q",
            "-O",
            "-",
            "http://127.0.0.1:8080/index.html",
        ]);
        body = out;
        code == 0
    });
    assert_eq!(body, "hello-from-container\n");
    assert_eq!(
        c.ok(&[
            "run",
            "--rm",
            "--network",
            "container:srv",
            "bb",
            "cat",
            "/etc/hostname"
        ]),
        "srvhost\n"
    );
    for (flags, message) in [
        (
            &["-p", "80"][..],
            "port publishing and the container type network mode",
        ),
        (&["-h", "x"], "hostname and the network mode"),
        (&["--dns", "1.1.1.1"], "dns and the network mode"),
        (
            &["--add-host", "a:1.2.3.4"],
            "custom host-to-IP mapping and the network mode",
        ),
    ] {
        let mut args = vec!["run", "--rm", "--network", "container:srv"];
        args.extend_from_slice(flags);
        args.extend(["bb", "true"]);
        let (code, _, err) = c.status(&args);
        assert_eq!(code, 125, "{flags:?}: {err}");
        assert!(
            err.contains(&format!("conflicting options: {message}")),
            "{err}"
        );
    }
    c.ok(&["stop", "-t", "1", "srv"]);
    let (code, _, err) = c.status(&["run", "--rm", "--network", "container:srv", "bb", "true"]);
    assert_eq!(code, 125, "{err}");
    assert!(
        err.contains("cannot join network of a non running container"),
        "{err}"
    );
    c.ok(&["rm", "srv"]);
    assert_network_clean(&c);
}

/// A monitor killed outright leaves its helper and namespace; `rm` removes both.
#[test]
fn rm_cleans_up_after_a_killed_monitor() {
    require_helper();
    let c = Containers::new();
    c.ok(&["run", "-d", "--name", "orphan", "bb", "sleep", "600"]);
    let pid: i32 = c
        .ok(&["inspect", "-f", "{{.State.Pid}}", "orphan"])
        .trim()
        .parse()
        .unwrap();
    assert!(pid > 0);
    // The monitor: the parent of the container's init.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: i32 = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let _ = Command::new("kill")
        .args(["-9", &ppid.to_string()])
        .status();
    c.ok(&["rm", "-f", "orphan"]);
    assert_network_clean(&c);
}

/// slirp4netns, the helper when pasta is missing, gives the same network.
#[test]
fn slirp4netns_gives_the_same_network() {
    harness::require("slirp4netns");
    let c = Containers::new();
    let port = host_server("hello-from-host\n");
    let url = format!("http://10.0.2.2:{port}/");
    let out = c
        .cmd(&[
            "run",
            "--rm",
            "bb",
            "sh",
            "-c",
            &format!("cat /etc/resolv.conf; busybox wget -q -O - {url}"),
        ])
        .env("STRATA_USERNET_HELPER", "slirp4netns")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "nameserver 10.0.2.3\nhello-from-host\n".replace(
            "nameserver 10.0.2.3\n",
            &format!("nameserver 10.0.2.3\n{}", host_search_lines())
        )
    );
    assert_network_clean(&c);
}

/// The host's `search`/`options` lines, which the container's resolv.conf keeps.
fn host_search_lines() -> String {
    std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            matches!(
                l.split_whitespace().next(),
                Some("search" | "domain" | "options")
            )
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn counters_are_blanked() {
    assert_eq!(
        blank_counters(":INPUT ACCEPT [12:3456]"),
        ":INPUT ACCEPT []"
    );
    assert_eq!(
        blank_counters("  counter packets 3 bytes 180 accept"),
        "  counter packets bytes accept"
    );
}

/// A user network: a server answers another container by name and by
/// `--network-alias`; `network connect` puts a running default-network container on it
/// (and `disconnect` takes it off); a network in use cannot be removed; nothing is left
/// in the host's network nor in the store once the network is gone.
#[test]
fn user_network_resolves_members_by_name() {
    require_helper();
    harness::require("nsenter");
    let c = Containers::new();
    let before = host_network_state();
    let id = c.ok(&["network", "create", "--label", "team=a", "mynet"]);
    assert_eq!(id.trim().len(), 64, "{id}");
    assert_eq!(
        c.ok(&[
            "network",
            "ls",
            "--filter",
            "label=team=a",
            "--format",
            "{{.Name}} {{.Driver}} {{.Scope}}"
        ]),
        "mynet bridge local\n"
    );
    c.ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "mynet",
        "--network-alias",
        "web",
        "bb",
        "sh",
        "-c",
        SERVE,
    ]);
    for name in ["srv", "web"] {
        let url = format!("http://{name}:8080/index.html");
        let mut body = String::new();
        c.eventually(&format!("{name} on mynet"), || {
            let (code, out, _) = c.status(&[
                "run",
                "--rm",
                "--network",
                "mynet",
                "bb",
                "busybox",
                "wget",
                "-q",
                "-O",
                "-",
                &url,
            ]);
            body = out;
            code == 0
        });
        assert_eq!(body, "hello-from-container\n");
    }
    assert_eq!(
        c.ok(&[
            "network",
            "inspect",
            "-f",
            "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
            "mynet"
        ]),
        "srv 10.89.1.2/24\n"
    );
    // `inspect` shows the container's address on the network as the network does, with
    // its aliases and the short-ID alias Docker adds; the top-level address is the
    // default network's, so empty.
    let gateway = c.ok(&[
        "network",
        "inspect",
        "-f",
        "{{range .IPAM.Config}}{{.Gateway}}{{end}}",
        "mynet",
    ]);
    let short_id: String = c
        .ok(&["inspect", "-f", "{{.Id}}", "srv"])
        .chars()
        .take(12)
        .collect();
    let networks = "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}}/{{$v.IPPrefixLen}} {{$v.Gateway}} {{$v.Aliases}} {{$v.NetworkID}};{{end}}[{{.NetworkSettings.IPAddress}}]";
    assert_eq!(
        c.ok(&["inspect", "-f", networks, "srv"]),
        format!(
            "mynet 10.89.1.2/24 {} [web {short_id}] {};[]\n",
            gateway.trim(),
            id.trim()
        )
    );
    // Outbound through the shared namespace's helper (pasta), to the host's loopback.
    if std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join("pasta").is_file())
    {
        let port = host_server("hello-from-host\n");
        let url = format!("http://10.0.2.2:{port}/");
        assert_eq!(
            c.ok(&[
                "run",
                "--rm",
                "--network",
                "mynet",
                "bb",
                "busybox",
                "wget",
                "-q",
                "-O",
                "-",
                &url
            ]),
            "hello-from-host\n"
        );
    }
    // A running container on the default network joins, and finds the server by name.
    c.ok(&["run", "-d", "--name", "late", "bb", "sleep", "600"]);
    c.ok(&[
        "network",
        "connect",
        "--alias",
        "latecomer",
        "mynet",
        "late",
    ]);
    assert_eq!(
        c.ok(&[
            "exec",
            "late",
            "busybox",
            "wget",
            "-q",
            "-O",
            "-",
            "http://web:8080/index.html"
        ]),
        "hello-from-container\n"
    );
    let hosts = c.ok(&["exec", "srv", "cat", "/etc/hosts"]);
    assert!(
        hosts.contains("\tlate ") && hosts.contains(" latecomer\n"),
        "{hosts}"
    );
    c.ok(&["network", "disconnect", "mynet", "late"]);
    let hosts = c.ok(&["exec", "srv", "cat", "/etc/hosts"]);
    assert!(!hosts.contains("latecomer"), "{hosts}");
    // Connected while stopped: on the network from its next start.
    c.ok(&["create", "--name", "later", "bb", "sleep", "600"]);
    c.ok(&["network", "connect", "mynet", "later"]);
    c.ok(&["start", "later"]);
    assert_eq!(
        c.ok(&[
            "exec",
            "later",
            "busybox",
            "wget",
            "-q",
            "-O",
            "-",
            "http://srv:8080/index.html"
        ]),
        "hello-from-container\n"
    );
    // Stopped, it keeps the network's ID and its aliases, not the address.
    let later_id: String = c
        .ok(&["inspect", "-f", "{{.Id}}", "later"])
        .chars()
        .take(12)
        .collect();
    c.ok(&["kill", "later"]);
    c.ok(&["wait", "later"]);
    assert_eq!(
        c.ok(&[
            "inspect",
            "-f",
            "{{with index .NetworkSettings.Networks \"mynet\"}}[{{.IPAddress}}] {{.IPPrefixLen}} {{.Aliases}} {{.NetworkID}}{{end}}",
            "later"
        ]),
        format!("[] 0 [{later_id}] {}\n", id.trim())
    );
    c.ok(&["rm", "-f", "later"]);
    let (code, _, err) = c.status(&["network", "rm", "mynet"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("has active endpoints"), "{err}");
    c.ok(&["rm", "-f", "srv", "late"]);
    assert_eq!(c.ok(&["network", "rm", "mynet"]), "mynet\n");
    assert_network_clean(&c);
    assert_eq!(
        std::fs::read_dir(c.root().join("networks"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name() == ".run")
            .count(),
        0,
        "the shared namespace's directory is left"
    );
    assert_eq!(host_network_state(), before, "the host's network changed");
}

/// `network prune` removes unused user networks only.
#[test]
fn network_prune_keeps_used_and_predefined() {
    require_helper();
    let c = Containers::new();
    c.ok(&["network", "create", "unused"]);
    c.ok(&["network", "create", "used"]);
    c.ok(&[
        "create",
        "--name",
        "member",
        "--network",
        "used",
        "bb",
        "true",
    ]);
    assert_eq!(
        c.ok(&["network", "prune", "-f"]),
        "Deleted Networks:\nunused\n"
    );
    assert_eq!(
        c.ok(&["network", "ls", "--format", "{{.Name}}"]),
        "bridge\nhost\nnone\nused\n"
    );
    c.ok(&["rm", "member"]);
    c.ok(&["network", "rm", "used"]);
    assert_network_clean(&c);
}
