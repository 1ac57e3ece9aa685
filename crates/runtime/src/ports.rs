//! `-p`: publishing a container's TCP port on the host without a bridge.
//!
//! The host side listens (on 127.0.0.1 unless an address is given); each accepted
//! connection is matched by one dialled from *inside* the container's network namespace
//! to `127.0.0.1:<container port>`, and bytes are copied both ways. Dialling happens on
//! one thread that has joined the container's namespace (`setns` moves only the calling
//! thread); the socket it makes stays in that namespace whichever thread then uses it.
//! The container needs no network device besides loopback, so `--network none` works.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

use crate::RuntimeError;

/// One published port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMapping {
    /// The host address to listen on.
    pub host_ip: IpAddr,
    /// The host port; 0 until bound when the user gave none.
    pub host_port: u16,
    /// The port inside the container.
    pub container_port: u16,
    /// `tcp` (the only protocol supported).
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

/// Parses `-p` in Docker's grammar: `[IP:][HOST_PORT:]CONTAINER_PORT[/tcp]`, with ranges
/// (`8000-8001:80-81`) and IPv6 in brackets (`[::1]:8080:80`). The host address defaults
/// to 127.0.0.1; a missing host port means any free port.
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>, RuntimeError> {
    let (rest, proto) = match spec.rsplit_once('/') {
        Some((r, p)) => (r, p.to_ascii_lowercase()),
        None => (spec, "tcp".to_string()),
    };
    if proto != "tcp" {
        return Err(bad(
            spec,
            &format!("protocol {proto} is not supported (only tcp)"),
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
    let host_ip = match ip {
        None | Some("") => IpAddr::V4(Ipv4Addr::LOCALHOST),
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
            host_port,
            container_port,
            protocol: proto.clone(),
        })
        .collect())
}

/// Host listeners, bound before the container starts so a taken port fails the start.
#[derive(Debug)]
pub struct Bound {
    listeners: Vec<(TcpListener, PortMapping)>,
}

/// Binds every mapping's host side; a host port 0 gets a free port.
pub fn bind(mappings: &[PortMapping]) -> Result<Bound, RuntimeError> {
    let mut listeners = Vec::new();
    for m in mappings {
        let addr = SocketAddr::new(m.host_ip, m.host_port);
        let l = TcpListener::bind(addr).map_err(|e| {
            RuntimeError::InvalidOptions(format!(
                "Bind for {addr} failed: port is already allocated ({e})"
            ))
        })?;
        let mut bound = m.clone();
        bound.host_port = l
            .local_addr()
            .map_err(|e| RuntimeError::io("bind", Path::new(&addr.to_string()), e))?
            .port();
        listeners.push((l, bound));
    }
    Ok(Bound { listeners })
}

type DialRequest = (u16, Sender<io::Result<TcpStream>>);

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
            for (port, reply) in rx {
                let _ = reply.send(TcpStream::connect((Ipv4Addr::LOCALHOST, port)));
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
        for (listener, m) in self.listeners {
            let (tx, stop) = (tx.clone(), stop.clone());
            accepters.push(std::thread::spawn(move || {
                accept_loop(listener, m, tx, stop)
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
        if dial.send((m.container_port, reply_tx)).is_err() {
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
            // Wake the blocked accept.
            let ip = if m.host_ip.is_unspecified() {
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            } else {
                m.host_ip
            };
            let _ = TcpStream::connect((ip, m.host_port));
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
            host_port: host,
            container_port: container,
            protocol: "tcp".into(),
        }
    }

    #[test]
    fn parses_docker_publish_specs() {
        for (spec, want) in [
            ("80", vec![m("127.0.0.1", 0, 80)]),
            ("8080:80", vec![m("127.0.0.1", 8080, 80)]),
            ("8080:80/tcp", vec![m("127.0.0.1", 8080, 80)]),
            ("0.0.0.0:8080:80", vec![m("0.0.0.0", 8080, 80)]),
            ("127.0.0.2::80", vec![m("127.0.0.2", 0, 80)]),
            ("[::1]:8080:80", vec![m("::1", 8080, 80)]),
            (
                "8000-8001:80-81",
                vec![m("127.0.0.1", 8000, 80), m("127.0.0.1", 8001, 81)],
            ),
            ("80-81", vec![m("127.0.0.1", 0, 80), m("127.0.0.1", 0, 81)]),
        ] {
            assert_eq!(parse_publish(spec).unwrap(), want, "{spec}");
        }
        for spec in [
            "80/udp",
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
