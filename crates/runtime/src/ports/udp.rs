//! UDP publishing: one host socket per mapping; each peer that sends to it gets a socket
//! of its own inside the container's namespace, connected to the container's port, so the
//! server sees one client per peer and its replies find their way back.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::time::Duration;

use super::DialRequest;

/// How long a reply thread blocks before it looks whether the forwarder stopped (not a
/// timeout of anything the user sees: a flow lives as long as the forwarder).
const REPLY_POLL: Duration = Duration::from_millis(500);

/// Relays datagrams from peers of `host` to `port` in the container until `stop`.
pub(super) fn relay(host: UdpSocket, port: u16, dial: Sender<DialRequest>, stop: Arc<AtomicBool>) {
    let Ok(replies_to) = host.try_clone() else {
        return;
    };
    let replies_to = Arc::new(replies_to);
    let mut flows: HashMap<SocketAddr, UdpSocket> = HashMap::new();
    let mut buf = vec![0u8; 65536];
    loop {
        let Ok((n, peer)) = host.recv_from(&mut buf) else {
            if stop.load(Ordering::SeqCst) {
                return;
            }
            continue;
        };
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let up = match flows.entry(peer) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(slot) => {
                let Ok(upstream) = open_flow(&dial, port) else {
                    // The namespace is gone or refuses: the datagram is dropped, as UDP may.
                    continue;
                };
                let Ok(reader) = upstream.try_clone() else {
                    continue;
                };
                let (out, stop) = (replies_to.clone(), stop.clone());
                std::thread::spawn(move || replies(reader, &out, peer, &stop));
                slot.insert(upstream)
            }
        };
        let _ = up.send(&buf[..n]);
    }
}

fn open_flow(dial: &Sender<DialRequest>, port: u16) -> io::Result<UdpSocket> {
    let (tx, rx) = channel();
    dial.send(DialRequest::Udp(port, tx))
        .map_err(|_| io::Error::other("the dialler thread died"))?;
    rx.recv()
        .map_err(|_| io::Error::other("the dialler thread died"))?
}

/// Sends what the container answers on `upstream` back to `peer`.
fn replies(upstream: UdpSocket, host: &UdpSocket, peer: SocketAddr, stop: &AtomicBool) {
    let _ = upstream.set_read_timeout(Some(REPLY_POLL));
    let mut buf = vec![0u8; 65536];
    while !stop.load(Ordering::SeqCst) {
        match upstream.recv(&mut buf) {
            Ok(n) => {
                let _ = host.send_to(&buf[..n], peer);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            // Nothing listens on the port (ICMP unreachable): keep the flow for later.
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(_) => return,
        }
    }
}

/// Wakes a relay blocked in `recv_from` on `addr` (it then sees the stop flag).
pub(super) fn wake(addr: SocketAddr) {
    let local: SocketAddr = if addr.is_ipv6() {
        "[::1]:0".parse().expect("literal")
    } else {
        "127.0.0.1:0".parse().expect("literal")
    };
    if let Ok(s) = UdpSocket::bind(local) {
        let _ = s.send_to(b"", addr);
    }
}
