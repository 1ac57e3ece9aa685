//! `-p`/`-P`: publishing a container's TCP and UDP ports on the host without a bridge.
//!
//! The host side listens (on 0.0.0.0 and [::] unless an address is given, as Docker);
//! each accepted TCP connection is matched by one dialled from *inside* the container's
//! network namespace to `127.0.0.1:<container port>`, and bytes are copied both ways; each
//! UDP peer gets a socket of its own inside the namespace, connected to the container's
//! port, whose replies go back to that peer (see [`udp`](self::udp)). Sockets are made on
//! one thread that has joined the container's namespace (`setns` moves only the calling
//! thread); a socket stays in that namespace whichever thread then uses it. The container
//! needs no network device besides loopback, so `--network none` works, and so does the
//! user-mode network ([`crate::network`]) without the helper's own forwarding.

use std::io::{self, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket,
};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

use crate::RuntimeError;

mod udp;

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// The host address to listen on (0.0.0.0 when the user gave none; see `any_family`).
    pub host_ip: IpAddr,
    /// No address was given: Docker then listens on 0.0.0.0 *and* [::] (its
    /// `HostConfig.PortBindings` keep `HostIp` empty).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub any_family: bool,
    /// The host port; 0 until bound when the user gave none.
    pub host_port: u16,
    /// The port inside the container.
    pub container_port: u16,
    /// `tcp` or `udp`.
    pub protocol: String,
}

fn bad(spec: &str, why: &str) -> RuntimeError {
    RuntimeError::InvalidOptions(format!("invalid publish spec \"{spec}\": {why}"))
}

fn parse_range(spec: &str, s: &str) -> Result<(u16, u16), RuntimeError> {
    let one = |p: &str| -> Result<u16, RuntimeError> {
        p.parse::<u16>()
            .map_err(|_| bad(spec, &format!("invalid port \"{p}\"")))
    };
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (one(a)?, one(b)?);
            if b < a {
                return Err(bad(spec, &format!("invalid range \"{s}\"")));
            }
            Ok((a, b))
        }
        None => one(s).map(|p| (p, p)),
    }
}

/// Parses `-p` in Docker's grammar: `[IP:][HOST_PORT:]CONTAINER_PORT[/tcp|/udp]`, with
/// ranges (`8000-8001:80-81`) and IPv6 in brackets (`[::1]:8080:80`). Without an address
/// the port is published on 0.0.0.0 and [::] (`any_family`); a missing host port means any
/// free port.
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>, RuntimeError> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if proto != "tcp" && proto != "udp" {
        return Err(bad(
            spec,
            &format!("protocol {proto} is not supported (tcp or udp)"),
        ));
    }
    let (ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, after) = r
            .split_once("]:")
            .ok_or_else(|| bad(spec, "unterminated IPv6 address"))?;
        (Some(ip), after)
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        match parts.len() {
            1 | 2 => (None, rest),
            3 => (Some(parts[0]), &rest[parts[0].len() + 1..]),
            _ => return Err(bad(spec, "too many colons")),
        }
    };
    let any_family = matches!(ip, None | Some(""));
    let host_ip = match ip {
        None | Some("") => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        Some(s) => s
            .parse()
            .map_err(|_| bad(spec, &format!("invalid IP address \"{s}\"")))?,
    };
    let (host, container) = match rest.split_once(':') {
        Some((h, c)) => (h, c),
        None => ("", rest),
    };
    let (c0, c1) = parse_range(spec, container)?;
    if c0 == 0 {
        return Err(bad(spec, "container port 0"));
    }
    let hosts: Vec<u16> = if host.is_empty() {
        vec![0; usize::from(c1 - c0) + 1]
    } else {
        let (h0, h1) = parse_range(spec, host)?;
        if h1 - h0 != c1 - c0 {
            return Err(bad(spec, "host and container port ranges differ in size"));
        }
        (h0..=h1).collect()
    };
    Ok((c0..=c1)
        .zip(hosts)
        .map(|(container_port, host_port)| PortMapping {
            host_ip,
            any_family,
            host_port,
            container_port,
            protocol: proto.clone(),
        })
        .collect())
}

/// One bound host socket.
#[derive(Debug)]
enum HostSocket {
    Tcp(TcpListener),
    Udp(UdpSocket),
}

/// Host sockets, bound before the container starts so a taken port fails the start.
#[derive(Debug)]
pub struct Bound {
    listeners: Vec<(HostSocket, PortMapping)>,
}

/// The mappings of the image's `EXPOSE`d ports (`80/tcp`, `53/udp`, `8080`) for `-P`:
/// each on any free host port of 0.0.0.0 and [::]. Ports already in `published` are left
/// to their `-p`, as Docker does.
pub fn publish_all(exposed: &[String], published: &[PortMapping]) -> Vec<PortMapping> {
    let mut out = Vec::new();
    for e in exposed {
        let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        let Ok(container_port) = port.parse::<u16>() else {
            continue;
        };
        let taken = |m: &PortMapping| m.container_port == container_port && m.protocol == proto;
        if published.iter().any(taken) || out.iter().any(taken) {
            continue;
        }
        out.push(PortMapping {
            host_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            any_family: true,
            host_port: 0,
            container_port,
            protocol: proto.to_string(),
        });
    }
    out
}

fn allocated(addr: SocketAddr, e: io::Error) -> RuntimeError {
    RuntimeError::InvalidOptions(format!(
        "Bind for {addr} failed: port is already allocated ({e})"
    ))
}

/// Binds one socket of `proto` on `addr`; an IPv6 wildcard is IPv6-only, so that the
/// IPv4 wildcard on the same port is a socket of its own (as docker-proxy's).
fn bind_one(addr: SocketAddr, proto: &str) -> io::Result<HostSocket> {
    use rustix::net::{AddressFamily, SocketType, sockopt};
    let family = if addr.is_ipv6() {
        AddressFamily::INET6
    } else {
        AddressFamily::INET
    };
    let kind = if proto == "udp" {
        SocketType::DGRAM
    } else {
        SocketType::STREAM
    };
    let fd = rustix::net::socket_with(family, kind, rustix::net::SocketFlags::CLOEXEC, None)?;
    if addr.is_ipv6() {
        sockopt::set_ipv6_v6only(&fd, true)?;
    }
    if proto != "udp" {
        sockopt::set_socket_reuseaddr(&fd, true)?;
    }
    rustix::net::bind(&fd, &addr)?;
    Ok(if proto == "udp" {
        HostSocket::Udp(UdpSocket::from(fd))
    } else {
        rustix::net::listen(&fd, 128)?;
        HostSocket::Tcp(TcpListener::from(fd))
    })
}

fn local_port(s: &HostSocket) -> io::Result<u16> {
    match s {
        HostSocket::Tcp(l) => l.local_addr().map(|a| a.port()),
        HostSocket::Udp(u) => u.local_addr().map(|a| a.port()),
    }
}

/// Binds every mapping's host side; a host port 0 gets a free port. A mapping without an
/// address is bound on 0.0.0.0 and, when the host has IPv6, on [::] with the same port.
pub fn bind(mappings: &[PortMapping]) -> Result<Bound, RuntimeError> {
    let mut listeners = Vec::new();
    for m in mappings {
        let addr = SocketAddr::new(m.host_ip, m.host_port);
        let sock = bind_one(addr, &m.protocol).map_err(|e| allocated(addr, e))?;
        let port = local_port(&sock)
            .map_err(|e| RuntimeError::io("bind", Path::new(&addr.to_string()), e))?;
        let mut bound = m.clone();
        bound.host_port = port;
        listeners.push((sock, bound.clone()));
        if m.any_family {
            let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port);
            match bind_one(v6, &m.protocol) {
                Ok(s) => {
                    bound.host_ip = v6.ip();
                    listeners.push((s, bound));
                }
                // A host without IPv6 publishes on IPv4 only, as Docker does.
                Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => {}
                Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {}
                Err(e) => return Err(allocated(v6, e)),
            }
        }
    }
    Ok(Bound { listeners })
}

/// A socket wanted inside the container's namespace, connected to its port.
pub(crate) enum DialRequest {
    Tcp(u16, Sender<io::Result<TcpStream>>),
    Udp(u16, Sender<io::Result<UdpSocket>>),
}

fn dial_udp(port: u16) -> io::Result<UdpSocket> {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
    s.connect((Ipv4Addr::LOCALHOST, port))?;
    Ok(s)
}

/// Running forwarders; dropped or [`Forwarder::stop`]ped with the container.
#[derive(Debug)]
pub struct Forwarder {
    mappings: Vec<PortMapping>,
    stop: Arc<AtomicBool>,
    accepters: Vec<JoinHandle<()>>,
}

impl Bound {
    /// The mappings with their real host ports.
    pub fn mappings(&self) -> Vec<PortMapping> {
        self.listeners.iter().map(|(_, m)| m.clone()).collect()
    }

    /// Starts forwarding into the network namespace `netns` (`/proc/<pid>/ns/net`).
    pub fn serve(self, netns: &Path) -> Result<Forwarder, RuntimeError> {
        let ns = std::fs::File::open(netns).map_err(|e| RuntimeError::io("open", netns, e))?;
        let (tx, rx) = channel::<DialRequest>();
        let (ready_tx, ready_rx) = channel::<io::Result<()>>();
        // The dialler: joins the namespace once, then connects on request.
        std::thread::spawn(move || {
            use std::os::fd::AsFd;
            let joined = rustix::thread::move_into_link_name_space(
                ns.as_fd(),
                Some(rustix::thread::LinkNameSpaceType::Network),
            );
            let ok = joined.is_ok();
            let _ = ready_tx.send(joined.map_err(io::Error::from));
            if !ok {
                return;
            }
            for req in rx {
                match req {
                    DialRequest::Tcp(port, reply) => {
                        let _ = reply.send(TcpStream::connect((Ipv4Addr::LOCALHOST, port)));
                    }
                    DialRequest::Udp(port, reply) => {
                        let _ = reply.send(dial_udp(port));
                    }
                }
            }
        });
        ready_rx
            .recv()
            .map_err(|_| io::Error::other("the dialler thread died"))
            .and_then(|r| r)
            .map_err(|e| RuntimeError::io("join the network namespace", netns, e))?;
        let stop = Arc::new(AtomicBool::new(false));
        let mappings = self.mappings();
        let mut accepters = Vec::new();
        for (sock, m) in self.listeners {
            let (tx, stop) = (tx.clone(), stop.clone());
            accepters.push(std::thread::spawn(move || match sock {
                HostSocket::Tcp(l) => accept_loop(l, m, tx, stop),
                HostSocket::Udp(u) => udp::relay(u, m.container_port, tx, stop),
            }));
        }
        Ok(Forwarder {
            mappings,
            stop,
            accepters,
        })
    }
}

fn accept_loop(
    listener: TcpListener,
    m: PortMapping,
    dial: Sender<DialRequest>,
    stop: Arc<AtomicBool>,
) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = conn else { continue };
        let (reply_tx, reply_rx) = channel();
        if dial
            .send(DialRequest::Tcp(m.container_port, reply_tx))
            .is_err()
        {
            return;
        }
        let Ok(Ok(upstream)) = reply_rx.recv() else {
            // Nothing listens in the container: the client sees the connection close.
            continue;
        };
        splice(client, upstream);
    }
}

/// Copies both ways on two threads; each direction's end is passed on as a half-close.
fn splice(a: TcpStream, b: TcpStream) {
    let pairs = [(a.try_clone(), b.try_clone()), (Ok(b), Ok(a))];
    for (from, to) in pairs {
        if let (Ok(mut from), Ok(mut to)) = (from, to) {
            std::thread::spawn(move || {
                let _ = copy(&mut from, &mut to);
                let _ = to.shutdown(Shutdown::Write);
            });
        }
    }
}

fn copy(from: &mut TcpStream, to: &mut TcpStream) -> io::Result<()> {
    let mut buf = [0u8; 32 * 1024];
    loop {
        let n = from.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])?;
    }
}

impl Forwarder {
    /// The mappings with their real host ports.
    pub fn mappings(&self) -> &[PortMapping] {
        &self.mappings
    }

    /// Stops accepting; connections already made end with the container.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for m in &self.mappings {
            // Wake the blocked accept, through loopback of the listener's own family.
            let ip = match m.host_ip {
                IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
                other => other,
            };
            if m.protocol == "udp" {
                udp::wake(SocketAddr::new(ip, m.host_port));
            } else {
                let _ = TcpStream::connect((ip, m.host_port));
            }
        }
        for t in self.accepters.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(ip: &str, host: u16, container: u16) -> PortMapping {
        PortMapping {
            host_ip: ip.parse().unwrap(),
            any_family: false,
            host_port: host,
            container_port: container,
            protocol: "tcp".into(),
        }
    }

    #[test]
    fn parses_docker_publish_specs() {
        let any = |host, container| PortMapping {
            any_family: true,
            ..m("0.0.0.0", host, container)
        };
        let udp = |p: PortMapping| PortMapping {
            protocol: "udp".into(),
            ..p
        };
        for (spec, want) in [
            ("80", vec![any(0, 80)]),
            ("8080:80", vec![any(8080, 80)]),
            ("8080:80/tcp", vec![any(8080, 80)]),
            ("8080:80/UDP", vec![udp(any(8080, 80))]),
            ("0.0.0.0:8080:80", vec![m("0.0.0.0", 8080, 80)]),
            ("127.0.0.2::80", vec![m("127.0.0.2", 0, 80)]),
            ("127.0.0.1:53:53/udp", vec![udp(m("127.0.0.1", 53, 53))]),
            ("[::1]:8080:80", vec![m("::1", 8080, 80)]),
            ("8000-8001:80-81", vec![any(8000, 80), any(8001, 81)]),
            ("80-81", vec![any(0, 80), any(0, 81)]),
        ] {
            assert_eq!(parse_publish(spec).unwrap(), want, "{spec}");
        }
        for spec in [
            "80/sctp",
            "x:80",
            "8000-8002:80-81",
            "1.2.3.4.5:1:2",
            "a:b:c:d",
            "0",
            "70000",
            "[::1:80",
        ] {
            assert!(parse_publish(spec).is_err(), "{spec}");
        }
    }

    #[test]
    fn publish_all_skips_ports_given_with_p() {
        let p = parse_publish("127.0.0.1:8080:80").unwrap();
        let got = publish_all(&["80/tcp".into(), "53/udp".into(), "9000".into()], &p);
        let want: Vec<(u16, &str)> = vec![(53, "udp"), (9000, "tcp")];
        assert_eq!(
            got.iter()
                .map(|m| (m.container_port, m.protocol.as_str()))
                .collect::<Vec<_>>(),
            want
        );
        assert!(got.iter().all(|m| m.any_family && m.host_port == 0));
    }

    /// UDP datagrams reach a server in the namespace and its replies come back.
    #[test]
    fn relays_udp_both_ways() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut buf = [0u8; 64];
            for _ in 0..2 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                let mut reply = b"echo:".to_vec();
                reply.extend_from_slice(&buf[..n]);
                server.send_to(&reply, from).unwrap();
            }
        });
        let mut spec = m("127.0.0.1", 0, port);
        spec.protocol = "udp".into();
        let bound = bind(&[spec]).unwrap();
        let host_port = bound.mappings()[0].host_port;
        let fwd = bound.serve(Path::new("/proc/self/ns/net")).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        for word in ["one", "two"] {
            client
                .send_to(word.as_bytes(), ("127.0.0.1", host_port))
                .unwrap();
            let mut buf = [0u8; 64];
            let n = client.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], format!("echo:{word}").as_bytes());
        }
        fwd.stop();
    }

    /// Without an address a port is published on both families, with one port number.
    #[test]
    fn any_family_binds_both_wildcards() {
        let bound = bind(&[PortMapping {
            any_family: true,
            ..m("0.0.0.0", 0, 80)
        }])
        .unwrap();
        let ms = bound.mappings();
        assert_eq!(ms[0].host_ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        if ms.len() == 2 {
            assert_eq!(ms[1].host_ip, IpAddr::V6(Ipv6Addr::UNSPECIFIED));
            assert_eq!(ms[0].host_port, ms[1].host_port);
        }
    }

    /// Forwarding into our own network namespace: the mechanics without a container.
    #[test]
    fn forwards_both_ways() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = server.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = server.accept().unwrap();
            let mut line = [0u8; 5];
            s.read_exact(&mut line).unwrap();
            s.write_all(b"echo:").unwrap();
            s.write_all(&line).unwrap();
        });
        let bound = bind(&[m("127.0.0.1", 0, port)]).unwrap();
        let host_port = bound.mappings()[0].host_port;
        assert_ne!(host_port, 0);
        let fwd = bound.serve(Path::new("/proc/self/ns/net")).unwrap();
        let mut c = TcpStream::connect(("127.0.0.1", host_port)).unwrap();
        c.write_all(b"hello").unwrap();
        let mut got = String::new();
        c.read_to_string(&mut got).unwrap();
        assert_eq!(got, "echo:hello");
        fwd.stop();
        // A taken port is an error before anything starts.
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = l.local_addr().unwrap().port();
        let e = bind(&[m("127.0.0.1", taken, 80)]).unwrap_err();
        assert!(e.to_string().contains("port is already allocated"), "{e}");
    }
}
