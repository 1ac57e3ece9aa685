//! `-p`: a server in a container (busybox httpd, `--network none`) answers on the host's
//! 127.0.0.1 port. Needs root and runc; fails without.

mod harness;

use std::io::{Read, Write};
use std::net::TcpStream;

use harness::rootfs::Containers;

const SERVE: &str = "mkdir -p /www && echo hello-from-container > /www/index.html && \
                     echo serving && exec httpd -f -p 8080 -h /www";

fn get(c: &Containers, addr: &str) -> String {
    let mut body = String::new();
    c.eventually("the server", || {
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

#[test]
fn a_published_port_reaches_the_server() {
    let c = Containers::new();
    // A fixed host port.
    let port = harness::free_port();
    let spec = format!("127.0.0.1:{port}:8080");
    c.ok(&[
        "run", "-d", "--name", "web", "-p", &spec, "bb", "sh", "-c", SERVE,
    ]);
    let body = get(&c, &format!("127.0.0.1:{port}"));
    assert!(body.ends_with("hello-from-container\n"), "{body}");
    assert_eq!(
        c.ok(&["port", "web"]),
        format!("8080/tcp -> 127.0.0.1:{port}\n")
    );
    assert_eq!(
        c.ok(&["port", "web", "8080"]),
        format!("127.0.0.1:{port}\n")
    );
    assert_eq!(
        c.ok(&["ps", "--format", "{{.Ports}}"]),
        format!("127.0.0.1:{port}->8080/tcp\n")
    );
    // The port is taken while it runs: a second container cannot have it (125).
    let (code, _, err) = c.status(&["run", "--rm", "-p", &spec, "bb", "true"]);
    assert_eq!(code, 125, "{err}");
    assert!(err.contains("already allocated"), "{err}");
    c.ok(&["rm", "-f", "web"]);
    // Freed with the container.
    std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();

    // A host port chosen by the system (-p CONTAINER_PORT).
    c.ok(&[
        "run", "-d", "--name", "web2", "-p", "8080", "bb", "sh", "-c", SERVE,
    ]);
    // Without an address: 0.0.0.0 and [::], one port, as Docker 20.10 shows them.
    let shown = c.ok(&["port", "web2", "8080/tcp"]);
    let port = shown
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("0.0.0.0:"))
        .unwrap_or_else(|| panic!("{shown}"))
        .to_string();
    if let Some(v6) = shown.lines().nth(1) {
        assert_eq!(v6, format!(":::{port}"));
    }
    let addr = format!("127.0.0.1:{port}");
    assert!(get(&c, &addr).ends_with("hello-from-container\n"));
    c.ok(&["stop", "-t", "1", "web2"]);
    assert_eq!(c.ok(&["port", "web2"]), "");
    c.ok(&["rm", "web2"]);
    c.assert_clean();
}
