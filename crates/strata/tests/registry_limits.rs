//! `strata registry serve` under limits and a dead backend: 2,000 connections held open
//! under a 1024 open-file soft limit leave `/v2/` answering; an unreachable S3 endpoint
//! makes serve refuse to start.

mod harness;

use harness::Served;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::{Env, free_port, wait_for_http};

/// Raises this test process's soft open-file limit to its hard limit (it holds the
/// client ends of the connections).
fn raise_own_limit() -> u64 {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    lim.current = lim.maximum;
    setrlimit(Resource::Nofile, lim).unwrap();
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

#[test]
fn two_thousand_held_connections_under_a_1024_soft_limit_leave_v2_answering() {
    const HELD: usize = 2000;
    let own = raise_own_limit();
    assert!(
        own > HELD as u64 + 100,
        "the hard open-file limit {own} is too low for the test"
    );
    let env = Env::new();
    let host = format!("127.0.0.1:{}", free_port());
    let root = env.path("registry");
    let inner = env.cmd(&[
        "registry",
        "serve",
        "--addr",
        &host,
        "--root",
        root.to_str().unwrap(),
    ]);
    // util-linux prlimit sets the soft limit only ("1024:") and execs strata, so the
    // child's PID is strata's.
    let mut cmd = std::process::Command::new(harness::require("prlimit"));
    cmd.arg("--nofile=1024:")
        .arg("--")
        .arg(inner.get_program())
        .args(inner.get_args());
    for (k, v) in inner.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _served = Served(cmd.spawn().unwrap());
    wait_for_http(&host);

    let addr: std::net::SocketAddr = host.parse().unwrap();
    let started = Instant::now();
    let mut held = Vec::with_capacity(HELD);
    for i in 0..HELD {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "opening connections stalled at {i}"
        );
        // A server out of descriptors stops accepting; the kernel's backlog fills and
        // connects stall: fail then, not after the kernel's own connect timeout.
        let c = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("connection {i} of {HELD}: {e}"));
        held.push(c);
    }
    // Every connection is accepted by the server, not just queued by the kernel: give
    // the accept loop a moment, then ask.
    std::thread::sleep(Duration::from_millis(500));
    let asked = Instant::now();
    let mut s = TcpStream::connect(&host).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET /v2/ HTTP/1.0\r\nHost: {host}\r\n\r\n").unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    assert!(
        out.starts_with("HTTP/1.0 200") || out.starts_with("HTTP/1.1 200"),
        "/v2/ with {HELD} connections held: {out:?} after {:?}",
        asked.elapsed()
    );
    drop(held);
}

#[test]
fn serve_on_an_unreachable_s3_endpoint_refuses_to_start() {
    let env = Env::new();
    let host = format!("127.0.0.1:{}", free_port());
    let dead = free_port();
    let mut child = env
        .cmd(&[
            "registry",
            "serve",
            "--addr",
            &host,
            "--storage",
            "s3://bucket",
            "--storage-opt",
            &format!("endpoint=http://127.0.0.1:{dead}"),
            "--storage-opt",
            "region=us-east-1",
            "--storage-opt",
            "access_key_id=AKIDEXAMPLE",
            "--storage-opt",
            "secret_access_key=very-secret-key",
            "--storage-opt",
            "allow_http=true",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("serve on a dead S3 endpoint still runs after 10s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!status.success(), "{err}");
    assert!(err.contains("s3://bucket"), "{err}");
    assert!(!err.contains("very-secret-key"), "{err}");
    assert!(TcpStream::connect(&host).is_err(), "it listened on {host}");
}
