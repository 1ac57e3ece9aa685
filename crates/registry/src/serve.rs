//! The accept loop: HTTP/1.1 and HTTP/2 connections from any axum listener (plain TCP or
//! [`crate::tls::TlsListener`]), each in its own task, with deadlines for clients that
//! connect and never send a request.
//!
//! `axum::serve` gives hyper no timer, so a connection that sends nothing, or half a
//! request head, is held for ever: a few hundred such clients use up the server's file
//! descriptors (slowloris). Here every connection must deliver its first request head
//! within the header timeout (the watchdog below: before its first request, hyper-util is
//! still reading bytes to tell HTTP/1 from HTTP/2, where hyper's own timer does not run
//! yet), and every later HTTP/1 request head too (hyper's `header_read_timeout`, which
//! also ends keep-alive connections idle for that long).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::serve::Listener;
use futures::FutureExt as _;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tower::ServiceExt as _;

/// How long a client may take to send a request head by default (Go's servers and
/// hyper use 30 s too).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until `shutdown` completes, then stops accepting and
/// returns once the connections in flight have finished their requests.
pub async fn serve<L>(
    mut listener: L,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    header_timeout: Duration,
) -> std::io::Result<()>
where
    L: Listener,
    L::Addr: std::fmt::Debug,
{
    // Dropping the receiver tells every connection task to shut down gracefully.
    let (signal_tx, signal_rx) = watch::channel(());
    tokio::spawn(async move {
        shutdown.await;
        drop(signal_rx);
    });
    // Each connection task holds a receiver; the sender sees them all gone at the end.
    let (close_tx, close_rx) = watch::channel(());
    loop {
        let (io, peer) = tokio::select! {
            conn = listener.accept() => conn,
            _ = signal_tx.closed() => break,
        };
        let signal_tx = signal_tx.clone();
        let close_rx = close_rx.clone();
        let router = router.clone();
        tokio::spawn(async move {
            serve_connection(io, router, &signal_tx, header_timeout).await;
            tracing::trace!("connection {peer:?} closed");
            drop(close_rx);
        });
    }
    drop(close_rx);
    drop(listener);
    close_tx.closed().await;
    Ok(())
}

/// Serves one connection to its end, a graceful shutdown, or a missed header deadline.
async fn serve_connection<I>(
    io: I,
    router: Router,
    signal_tx: &watch::Sender<()>,
    header_timeout: Duration,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let requested = Arc::new(AtomicBool::new(false));
    let flag = requested.clone();
    let service = TowerToHyperService::new(router.map_request(
        move |req: axum::http::Request<hyper::body::Incoming>| {
            flag.store(true, Ordering::Relaxed);
            req
        },
    ));
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let mut shutdown = std::pin::pin!(signal_tx.closed().fuse());
    let mut first_deadline = std::pin::pin!(tokio::time::sleep(header_timeout).fuse());
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection ended: {e}");
                }
                return;
            }
            _ = &mut shutdown => conn.as_mut().graceful_shutdown(),
            _ = &mut first_deadline => {
                if !requested.load(Ordering::Relaxed) {
                    tracing::debug!(
                        "closing a connection that sent no request within {header_timeout:?}"
                    );
                    return;
                }
            }
        }
    }
}

/// Raises this process's soft limit of open files to its hard limit, as every Go program
/// (docker-registry among them) does at start: each connection is a descriptor, and the
/// common soft limit of 1024 would stop the server at about a thousand clients. Returns
/// the soft limit before and after (`None` is unlimited).
pub fn raise_open_file_limit() -> std::io::Result<(Option<u64>, Option<u64>)> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut lim = getrlimit(Resource::Nofile);
    let before = lim.current;
    if lim.current != lim.maximum && lim.maximum.is_some() {
        lim.current = lim.maximum;
        setrlimit(Resource::Nofile, lim)?;
    }
    Ok((before, getrlimit(Resource::Nofile).current))
}
