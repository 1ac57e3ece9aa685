//! Blobs through the cache: served locally, fetched into storage while streaming to the
//! client (one download shared by a burst), or passed through.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::future::BoxFuture;
use oci::Digest;
use tokio::sync::{mpsc, oneshot, watch};

use super::flight::{Client, Flight, InflightGuard, pump, stream_of};
use super::upstream::{UpstreamBlob, UpstreamError};
use super::{CHANNEL_DEPTH, Proxy, upstream_error};
use crate::error::{ApiError, Code};
use crate::repo::{Registry, parse_digest};
use crate::storage::ByteStream;

impl Proxy {
    /// Makes blob `d` available locally in `name` without a transfer when the storage has
    /// it (linked here, or fetched for another repository). Returns whether it is.
    pub(super) async fn blob_local(&self, name: &str, d: &Digest) -> Result<bool, ApiError> {
        if self.registry.blob_size(name, d).await?.is_some() {
            return Ok(true);
        }
        Ok(self.registry.blob_mount(name, None, d).await?)
    }

    /// Answers a blob GET or HEAD for `name` that the cache cannot serve from storage:
    /// `Ok(None)` means the blob is (now) in storage and the caller serves it as usual;
    /// `Ok(Some(response))` streams it from the upstream.
    pub async fn blob(
        &self,
        name: &str,
        digest: &str,
        head: bool,
    ) -> Result<Option<Response>, ApiError> {
        let d = parse_digest(digest)?;
        if self.blob_local(name, &d).await? {
            return Ok(None);
        }
        // Claim the fetch, or learn that one is under way.
        let (done_tx, done_rx) = watch::channel(());
        let flight = Arc::new(Flight {
            done: done_rx,
            joiners: Mutex::new(Some(Vec::new())),
        });
        let running = {
            let mut map = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
            match map.get(&d) {
                Some(f) => Some(f.clone()),
                None => {
                    map.insert(d.clone(), flight.clone());
                    None
                }
            }
        };
        if let Some(running) = running {
            if head {
                let mut rx = running.done.clone();
                while rx.changed().await.is_ok() {}
                if self.blob_local(name, &d).await? {
                    return Ok(None);
                }
                return Err(upstream_error(UpstreamError::Unavailable {
                    what: format!("blob {name}@{d}"),
                    message: "the fetch under way failed (see the log)".into(),
                }));
            }
            // Share the fetch when its bytes have not started flowing; else stream on our own.
            let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
            let (started_tx, started_rx) = oneshot::channel();
            let joined = {
                let mut j = running.joiners.lock().unwrap_or_else(|e| e.into_inner());
                j.as_mut().map(|j| j.push((tx, started_tx))).is_some()
            };
            // A fetch that failed before starting: ask on our own, for the right answer.
            if joined && let Ok(size) = started_rx.await {
                return Ok(Some(blob_response(&d, size, stream_of(rx))));
            }
            let mut up = self.upstream_blob(name, &d).await?;
            up.size = up.size.or_else(|| self.known_size(&d));
            return Ok(Some(self.passthrough(d, up)));
        }
        let guard = InflightGuard {
            map: self.inflight.clone(),
            digest: d.clone(),
            flight,
            _done: done_tx,
        };
        // Another request may have finished it between the check and the claim.
        if self.blob_local(name, &d).await? {
            return Ok(None);
        }
        let mut up = self.upstream_blob(name, &d).await?;
        // A size the upstream does not state is taken from the manifest that named the
        // blob; either way the transfer must match it.
        up.size = up.size.or_else(|| self.known_size(&d));
        let size = up.size;
        let (client_tx, client_rx) = mpsc::channel(CHANNEL_DEPTH);
        let task = tokio::spawn(cache_blob(
            self.registry.clone(),
            name.to_string(),
            d.clone(),
            (up, self.upstream_timeout),
            client_tx,
            guard,
        ));
        if head {
            drop(client_rx);
            task.await
                .map_err(|e| ApiError::new(Code::Unknown, format!("fetching blob {d}: {e}")))?;
            if self.blob_local(name, &d).await? {
                return Ok(None);
            }
            return Err(upstream_error(UpstreamError::Invalid {
                what: format!("blob {name}@{d}"),
                message: "the fetched content was not stored (see the log)".into(),
            }));
        }
        Ok(Some(blob_response(&d, size, stream_of(client_rx))))
    }

    pub(super) async fn upstream_blob(
        &self,
        name: &str,
        d: &Digest,
    ) -> Result<UpstreamBlob, ApiError> {
        let what = format!("blob {name}@{d}");
        self.deadline(&what, self.upstream.blob(name, d))
            .await
            .map_err(upstream_error)?
            .ok_or_else(|| blob_unknown(name, d))
    }

    /// Runs an upstream request, giving up after [`super::ProxyConfig::upstream_timeout`] so that a
    /// hung upstream is treated like an unreachable one (then the cache serves what it has).
    /// A blob's body is not under this deadline, only the wait for its response; [`pump`]
    /// applies the same duration to it as an idle timeout.
    pub(super) async fn deadline<T>(
        &self,
        what: &str,
        request: BoxFuture<'_, Result<T, UpstreamError>>,
    ) -> Result<T, UpstreamError> {
        match tokio::time::timeout(self.upstream_timeout, request).await {
            Ok(r) => r,
            Err(_) => Err(UpstreamError::Unavailable {
                what: what.to_string(),
                message: format!("no answer within {:?}", self.upstream_timeout),
            }),
        }
    }

    /// Streams a blob from the upstream without storing it, verified like a cached one.
    pub(super) fn passthrough(&self, d: Digest, up: UpstreamBlob) -> Response {
        let size = up.size;
        let (client_tx, client_rx) = mpsc::channel(CHANNEL_DEPTH);
        let digest = d.clone();
        let idle = self.upstream_timeout;
        tokio::spawn(async move {
            let mut digester = digest.algorithm().digester();
            let mut clients = vec![client_tx];
            let outcome = pump(
                up.stream,
                idle,
                up.size,
                &mut clients,
                None,
                Some(&mut digester),
            )
            .await;
            let outcome = outcome.and_then(|(held, _)| {
                let actual = digester.finish();
                if actual == digest {
                    Ok(held)
                } else {
                    Err(format!("upstream content hashes to {actual}, not {digest}"))
                }
            });
            finish_clients(&clients, &digest, outcome).await;
        });
        blob_response(&d, size, stream_of(client_rx))
    }
}

pub(super) fn blob_unknown(name: &str, d: &Digest) -> ApiError {
    ApiError::new(
        Code::BlobUnknown,
        format!("blob {d} is not in {name} here or upstream"),
    )
}

/// Releases the held-back chunk on success, or fails the clients' streams.
pub(super) async fn finish_clients(
    clients: &[Client],
    d: &Digest,
    outcome: Result<Option<Bytes>, String>,
) {
    if let Err(msg) = &outcome {
        tracing::warn!(digest = %d, "blob from upstream refused: {msg}");
    }
    for c in clients {
        match &outcome {
            Ok(Some(last)) => {
                let _ = c.send(Ok(last.clone())).await;
            }
            Ok(None) => {}
            Err(msg) => {
                let _ = c
                    .send(Err(io::Error::other(format!("blob {d}: {msg}"))))
                    .await;
            }
        }
    }
}

/// Fetches a blob into storage through an upload of `name` while feeding `client`; commits
/// it only when its digest checks out. `up` comes with its idle timeout.
pub(super) async fn cache_blob(
    registry: Arc<Registry>,
    name: String,
    d: Digest,
    (up, idle): (UpstreamBlob, Duration),
    client: Client,
    guard: InflightGuard,
) {
    // Whoever joined so far shares this transfer; later requests stream on their own.
    let mut clients = vec![client];
    for (c, started) in guard.take_joiners() {
        if started.send(up.size).is_ok() {
            clients.push(c);
        }
    }
    let id = match registry.upload_start(&name, d.algorithm()).await {
        Ok(id) => id,
        Err(e) => {
            let msg = format!("starting the cache upload: {e}");
            finish_clients(&clients, &d, Err(msg)).await;
            return;
        }
    };
    let (sink_tx, sink_rx) = mpsc::channel(CHANNEL_DEPTH);
    let store = registry.upload_append(&name, &id, Some(0), stream_of(sink_rx));
    let fetch = pump(up.stream, idle, up.size, &mut clients, Some(sink_tx), None);
    let (stored, fetched) = tokio::join!(store, fetch);
    let outcome = match (stored, fetched) {
        (Ok(_), Ok((held, _))) => match registry.upload_finish(&name, &id, &d, None).await {
            Ok(size) => {
                tracing::info!(repository = %name, digest = %d, size, "cached blob from upstream");
                Ok(held)
            }
            Err(e) => Err(e.to_string()),
        },
        (_, Err(msg)) => Err(msg),
        (Err(e), Ok(_)) => Err(format!("storing: {e}")),
    };
    if outcome.is_err()
        && let Err(e) = registry.upload_cancel(&name, &id).await
    {
        tracing::warn!(digest = %d, "discarding the cache upload: {e}");
    }
    finish_clients(&clients, &d, outcome).await;
    drop(guard);
}

/// A 200 response streaming blob `d`.
pub(super) fn blob_response(d: &Digest, size: Option<u64>, body: ByteStream<'static>) -> Response {
    let mut b = Response::builder()
        .status(StatusCode::OK)
        .header("Docker-Distribution-API-Version", "registry/2.0")
        .header(header::CONTENT_TYPE, "application/octet-stream")
        .header("Docker-Content-Digest", d.to_string())
        .header(header::ETAG, format!("\"{d}\""));
    if let Some(size) = size {
        b = b.header(header::CONTENT_LENGTH, size);
    }
    b.body(Body::from_stream(body)).unwrap_or_else(|e| {
        axum::response::IntoResponse::into_response(ApiError::new(
            Code::Unknown,
            format!("building a response: {e}"),
        ))
    })
}
