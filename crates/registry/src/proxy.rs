//! Pull-through cache mode: the registry mirrors an upstream registry on demand.
//!
//! The upstream is reached through the [`Upstream`] trait, so this crate does not depend on
//! any HTTP client: the CLI implements it over the transport crate's registry client (auth,
//! tokens, retries) and hands it over in [`crate::Config::proxy`]. The behaviour follows CNCF
//! distribution's proxy mode:
//!
//! - **Manifest by tag**: the upstream is asked which digest the tag names (a `HEAD`); the
//!   manifest is fetched (`GET` by digest, verified) only when the local copy is missing,
//!   stored with the tag, and served. The answer is remembered for [`ProxyConfig::tag_ttl`]
//!   (default [`DEFAULT_TAG_TTL`]; distribution asks every time, which a zero TTL restores),
//!   so a burst of pulls costs one upstream request. When the upstream cannot be reached the
//!   local copy of the tag is served, if there is one; a tag the upstream says does not
//!   exist is 404 even when an older copy is cached.
//! - **Manifest by digest**: content-addressed, so a local copy is served without asking;
//!   otherwise it is fetched, verified against the digest, stored and served.
//! - **Blob GET**: a local blob is served as usual (Range included). A missing one is
//!   streamed from the upstream to the client while it is written into storage through an
//!   ordinary upload; only a blob whose digest (and size, when known) checks out is
//!   committed. The last chunk is held back until the digest is verified, so a client of a
//!   corrupt upstream sees its request fail instead of a complete wrong body. Requests for a
//!   blob whose fetch has not yet started streaming (a burst of pulls of a new image) share
//!   that one download; a request arriving once the bytes flow streams from the upstream
//!   without storing (as distribution does for any concurrent request), verified the same
//!   way. A client going away does not stop the fetch: the blob is still cached.
//!   `Content-Length` is the upstream's, or else the size the manifest fetched through this
//!   cache gives the blob (the transfer must match it); with neither it is sent chunked.
//! - **Blob HEAD**: answered from storage; a missing blob is fetched into the cache first
//!   (the upstream client reports no blob sizes without a transfer).
//! - **Tags list**: the upstream's list (sorted, paginated locally), or the local one when the
//!   upstream cannot be reached. **Catalog** and **referrers**: what is cached locally.
//! - **Pushes and deletes**: refused with 405 `UNSUPPORTED`, as distribution does.
//!
//! An upstream that does not answer within [`ProxyConfig::upstream_timeout`] counts as
//! unreachable, and a blob whose bytes stop flowing for that long fails (its client's
//! response is cut with an error, nothing is cached) instead of hanging the client.
//! Upstream failures with nothing cached answer 502 (`UNKNOWN`) naming the upstream error.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use oci::{AnyManifest, Digest, Digester, media};
use tokio::sync::{mpsc, oneshot, watch};

use crate::error::{ApiError, Code, RepoError};
use crate::names;
use crate::repo::{MANIFEST_MAX, Registry, StoredManifest, parse_digest};
use crate::storage::{ByteStream, Storage};

/// How long a tag's digest learnt from the upstream is trusted before asking again.
pub const DEFAULT_TAG_TTL: Duration = Duration::from_secs(60);

/// How long an upstream request may take before the upstream counts as unreachable.
pub const DEFAULT_UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

/// How many remembered tags are kept before expired ones are dropped.
const TAG_CACHE_MAX: usize = 10_000;

/// How many blob sizes learnt from manifests are kept before the table is reset.
const SIZES_MAX: usize = 100_000;

/// How many chunks may wait between the upstream and a slow client or storage.
const CHANNEL_DEPTH: usize = 8;

/// The upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// It could not be reached, refused us, or answered with an error status.
    #[error("upstream {what}: {message}")]
    Unavailable {
        /// What was asked (`manifest app:v1`).
        what: String,
        /// What went wrong.
        message: String,
    },
    /// It answered with content that is not what was asked for.
    #[error("upstream {what}: {message}")]
    Invalid {
        /// What was asked.
        what: String,
        /// What is wrong with the answer.
        message: String,
    },
}

/// A manifest as the upstream serves it.
#[derive(Debug, Clone)]
pub struct UpstreamManifest {
    /// Its exact bytes (at most [`MANIFEST_MAX`]).
    pub bytes: Bytes,
    /// Its media type.
    pub media_type: String,
    /// Its digest (checked again by the cache before storing).
    pub digest: Digest,
}

/// A blob as the upstream streams it.
pub struct UpstreamBlob {
    /// Its size, when the upstream said.
    pub size: Option<u64>,
    /// Its bytes (unverified: the cache checks the digest).
    pub stream: ByteStream<'static>,
}

impl std::fmt::Debug for UpstreamBlob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamBlob")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// The registry a pull-through cache mirrors. `Ok(None)` means the upstream says the
/// thing does not exist (404); errors mean it could not tell.
pub trait Upstream: Send + Sync + 'static {
    /// The manifest `reference` (tag or digest) of repository `name`.
    fn manifest<'a>(
        &'a self,
        name: &'a str,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<UpstreamManifest>, UpstreamError>>;

    /// The digest the tag or digest `reference` of `name` names, without its body (`HEAD`).
    fn manifest_digest<'a>(
        &'a self,
        name: &'a str,
        reference: &'a str,
    ) -> BoxFuture<'a, Result<Option<Digest>, UpstreamError>>;

    /// Blob `digest` of repository `name`, as a stream.
    fn blob<'a>(
        &'a self,
        name: &'a str,
        digest: &'a Digest,
    ) -> BoxFuture<'a, Result<Option<UpstreamBlob>, UpstreamError>>;

    /// Every tag of repository `name`.
    fn tags<'a>(
        &'a self,
        name: &'a str,
    ) -> BoxFuture<'a, Result<Option<Vec<String>>, UpstreamError>>;
}

/// How a server runs as a pull-through cache.
#[derive(Clone)]
pub struct ProxyConfig {
    /// The registry mirrored.
    pub upstream: Arc<dyn Upstream>,
    /// How long a tag resolved upstream is trusted (zero: ask on every request).
    pub tag_ttl: Duration,
    /// How long to wait for an upstream answer (a manifest, a tag list, the start of a
    /// blob) before treating the upstream as unreachable; also the idle timeout of a blob's
    /// body (no byte for this long fails the transfer).
    pub upstream_timeout: Duration,
}

impl ProxyConfig {
    /// Mirrors `upstream`, trusting tags for [`DEFAULT_TAG_TTL`].
    pub fn new(upstream: Arc<dyn Upstream>) -> ProxyConfig {
        ProxyConfig {
            upstream,
            tag_ttl: DEFAULT_TAG_TTL,
            upstream_timeout: DEFAULT_UPSTREAM_TIMEOUT,
        }
    }
}

impl std::fmt::Debug for ProxyConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyConfig")
            .field("tag_ttl", &self.tag_ttl)
            .finish_non_exhaustive()
    }
}

/// Where a blob's bytes go to a client.
type Client = mpsc::Sender<io::Result<Bytes>>;

/// A request sharing another's fetch: its stream, and where to say the transfer started
/// (with the blob's size, when known). Dropping the sender says the fetch failed first.
type Joiner = (Client, oneshot::Sender<Option<u64>>);

/// A blob being fetched into the cache.
struct Flight {
    /// Closes (its sender drops) when the fetch ends.
    done: watch::Receiver<()>,
    /// Requests that joined before the bytes started flowing: each is told the blob's size
    /// when the upstream answers, then gets the same stream. `None` once it flows (later
    /// requests stream from the upstream on their own).
    joiners: Mutex<Option<Vec<Joiner>>>,
}

type Inflight = Arc<Mutex<HashMap<Digest, Arc<Flight>>>>;

/// Removes a blob from the in-flight map when its fetch ends; dropping the sender wakes
/// whoever waits for it, and joiners never started learn that the fetch failed.
struct InflightGuard {
    map: Inflight,
    digest: Digest,
    flight: Arc<Flight>,
    _done: watch::Sender<()>,
}

impl InflightGuard {
    /// Closes the flight to joiners; returns those who joined.
    fn take_joiners(&self) -> Vec<Joiner> {
        let mut j = self
            .flight
            .joiners
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        j.take().unwrap_or_default()
    }
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.digest);
        drop(self.take_joiners());
    }
}

/// The pull-through cache of one server: its upstream, the tags learnt from it, and the
/// blobs being fetched.
pub struct Proxy {
    upstream: Arc<dyn Upstream>,
    registry: Arc<Registry>,
    tag_ttl: Duration,
    upstream_timeout: Duration,
    tags: Mutex<HashMap<(String, String), (Digest, Instant)>>,
    /// Blob sizes named by the manifests fetched, for `Content-Length` when the upstream
    /// does not say.
    sizes: Mutex<HashMap<Digest, u64>>,
    inflight: Inflight,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("tag_ttl", &self.tag_ttl)
            .finish_non_exhaustive()
    }
}

fn upstream_error(e: UpstreamError) -> ApiError {
    ApiError::new(Code::Unknown, e.to_string()).with_status(502)
}

fn manifest_unknown(name: &str, reference: &str) -> ApiError {
    ApiError::new(
        Code::ManifestUnknown,
        format!("manifest {name}:{reference} is unknown here and upstream"),
    )
}

fn stream_of(rx: mpsc::Receiver<io::Result<Bytes>>) -> ByteStream<'static> {
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed()
}

/// Copies `upstream` into `sink` (when storing) and `clients`, holding the last chunk back:
/// returns it with the byte count, for the caller to release once the digest checks out.
/// Hashes into `digester` when given. A client that went away is left behind silently. An
/// upstream that sends nothing for `idle` fails the transfer.
async fn pump(
    mut upstream: ByteStream<'static>,
    idle: Duration,
    size: Option<u64>,
    clients: &mut Vec<Client>,
    sink: Option<mpsc::Sender<io::Result<Bytes>>>,
    mut digester: Option<&mut Digester>,
) -> Result<(Option<Bytes>, u64), String> {
    let mut held: Option<Bytes> = None;
    let mut received = 0u64;
    loop {
        let item = match tokio::time::timeout(idle, upstream.next()).await {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no data for {idle:?} (idle timeout)"),
            )),
        };
        let chunk = match item {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("reading from upstream: {e}");
                if let Some(s) = &sink {
                    let _ = s.send(Err(io::Error::other(msg.clone()))).await;
                }
                return Err(msg);
            }
        };
        received += chunk.len() as u64;
        if let Some(size) = size
            && received > size
        {
            let msg = format!("upstream sent more than the {size} bytes it declared");
            if let Some(s) = &sink {
                let _ = s.send(Err(io::Error::other(msg.clone()))).await;
            }
            return Err(msg);
        }
        if chunk.is_empty() {
            continue;
        }
        if let Some(d) = digester.as_deref_mut() {
            d.update(&chunk);
        }
        if let Some(s) = &sink
            && s.send(Ok(chunk.clone())).await.is_err()
        {
            return Err("storage stopped accepting the blob".to_string());
        }
        if let Some(prev) = held.replace(chunk) {
            let mut open = Vec::with_capacity(clients.len());
            for c in clients.drain(..) {
                if c.send(Ok(prev.clone())).await.is_ok() {
                    open.push(c);
                }
            }
            *clients = open;
        }
    }
    if let Some(size) = size
        && received != size
    {
        return Err(format!(
            "upstream sent {received} bytes of the {size} it declared"
        ));
    }
    Ok((held, received))
}

impl Proxy {
    /// A cache of `config.upstream` on `storage` (the server's storage).
    pub fn new(config: ProxyConfig, storage: Arc<dyn Storage>) -> Proxy {
        Proxy {
            upstream: config.upstream,
            registry: Arc::new(Registry::new(storage)),
            tag_ttl: config.tag_ttl,
            upstream_timeout: config.upstream_timeout,
            tags: Mutex::new(HashMap::new()),
            sizes: Mutex::new(HashMap::new()),
            inflight: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Remembers the sizes of the config and layers a manifest names.
    fn learn_sizes(&self, media_type: &str, bytes: &[u8]) {
        let Ok(AnyManifest::Manifest(m)) = AnyManifest::parse(Some(media_type), bytes) else {
            return;
        };
        let mut sizes = self.sizes.lock().unwrap_or_else(|e| e.into_inner());
        if sizes.len() >= SIZES_MAX {
            sizes.clear();
        }
        for d in std::iter::once(&m.config).chain(m.layers.iter()) {
            sizes.insert(d.digest.clone(), d.size);
        }
    }

    fn known_size(&self, d: &Digest) -> Option<u64> {
        let sizes = self.sizes.lock().unwrap_or_else(|e| e.into_inner());
        sizes.get(d).copied()
    }

    fn fresh_tag(&self, name: &str, tag: &str) -> Option<Digest> {
        let map = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(name.to_string(), tag.to_string()))
            .filter(|(_, at)| at.elapsed() < self.tag_ttl)
            .map(|(d, _)| d.clone())
    }

    fn remember_tag(&self, name: &str, tag: &str, d: Option<&Digest>) {
        let mut map = self.tags.lock().unwrap_or_else(|e| e.into_inner());
        let k = (name.to_string(), tag.to_string());
        match d {
            Some(d) if !self.tag_ttl.is_zero() => {
                if map.len() >= TAG_CACHE_MAX && !map.contains_key(&k) {
                    let ttl = self.tag_ttl;
                    map.retain(|_, (_, at)| at.elapsed() < ttl);
                    if map.len() >= TAG_CACHE_MAX {
                        map.clear();
                    }
                }
                map.insert(k, (d.clone(), Instant::now()));
            }
            _ => {
                map.remove(&k);
            }
        }
    }

    /// The local manifest `reference` of `name`, or `None` when it is not cached.
    async fn local_manifest(
        &self,
        name: &str,
        reference: &str,
    ) -> Result<Option<StoredManifest>, ApiError> {
        match self.registry.manifest_get(name, reference).await {
            Ok(m) => Ok(Some(m)),
            Err(RepoError::ManifestUnknown { .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Fetches manifest `d` of `name` from the upstream, checks it and stores it (tagged
    /// `tag` when given).
    async fn fetch_manifest(
        &self,
        name: &str,
        d: &Digest,
        tag: Option<&str>,
    ) -> Result<StoredManifest, ApiError> {
        let reference = d.to_string();
        let what = format!("manifest {name}@{d}");
        let m = self
            .deadline(&what, self.upstream.manifest(name, &reference))
            .await
            .map_err(upstream_error)?
            .ok_or_else(|| manifest_unknown(name, &reference))?;
        let media_type = check_manifest(name, d, &m)?;
        self.registry
            .manifest_store_cached(name, d, &media_type, m.bytes.clone(), tag)
            .await?;
        self.learn_sizes(&media_type, &m.bytes);
        tracing::info!(repository = name, digest = %d, "cached manifest from upstream");
        Ok(StoredManifest {
            bytes: m.bytes,
            digest: d.clone(),
            media_type,
        })
    }

    /// The manifest `reference` (tag or digest) of `name`: from the cache, or the upstream
    /// (then cached), as the module documentation says.
    pub async fn manifest(&self, name: &str, reference: &str) -> Result<StoredManifest, ApiError> {
        if reference.contains(':') {
            let d = parse_digest(reference)?;
            if let Some(m) = self.local_manifest(name, reference).await? {
                return Ok(m);
            }
            return self.fetch_manifest(name, &d, None).await;
        }
        if !names::valid_tag(reference) {
            // The local answer has the right error.
            return Ok(self.registry.manifest_get(name, reference).await?);
        }
        if let Some(d) = self.fresh_tag(name, reference)
            && let Some(m) = self.local_manifest(name, &d.to_string()).await?
        {
            return Ok(m);
        }
        let what = format!("manifest {name}:{reference}");
        let upstream = self.upstream.manifest_digest(name, reference);
        match self.deadline(&what, upstream).await {
            Ok(Some(d)) => {
                let m = match self.local_manifest(name, &d.to_string()).await? {
                    Some(m) => {
                        if self.registry.resolve(name, reference).await? != Some(d.clone()) {
                            self.registry
                                .manifest_store_cached(
                                    name,
                                    &d,
                                    &m.media_type,
                                    m.bytes.clone(),
                                    Some(reference),
                                )
                                .await?;
                        }
                        m
                    }
                    None => self.fetch_manifest(name, &d, Some(reference)).await?,
                };
                self.remember_tag(name, reference, Some(&d));
                Ok(m)
            }
            Ok(None) => {
                self.remember_tag(name, reference, None);
                Err(manifest_unknown(name, reference))
            }
            Err(e) => {
                tracing::warn!(
                    repository = name,
                    tag = reference,
                    "{e}; serving the cached copy"
                );
                match self.local_manifest(name, reference).await? {
                    Some(m) => Ok(m),
                    None => Err(upstream_error(e)),
                }
            }
        }
    }

    /// Every tag of `name`: the upstream's, sorted, or the cached ones when the upstream
    /// cannot be reached.
    pub async fn tags(&self, name: &str) -> Result<Vec<String>, ApiError> {
        let what = format!("tags of {name}");
        match self.deadline(&what, self.upstream.tags(name)).await {
            Ok(Some(mut tags)) => {
                tags.sort();
                tags.dedup();
                Ok(tags)
            }
            Ok(None) => Err(ApiError::new(
                Code::NameUnknown,
                format!("repository {name} is not known here or upstream"),
            )),
            Err(e) => {
                tracing::warn!(repository = name, "{e}; listing the cached tags");
                if self.registry.repository_exists(name).await? {
                    Ok(self.registry.tags(name).await?)
                } else {
                    Err(upstream_error(e))
                }
            }
        }
    }

    /// Makes blob `d` available locally in `name` without a transfer when the storage has
    /// it (linked here, or fetched for another repository). Returns whether it is.
    async fn blob_local(&self, name: &str, d: &Digest) -> Result<bool, ApiError> {
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

    async fn upstream_blob(&self, name: &str, d: &Digest) -> Result<UpstreamBlob, ApiError> {
        let what = format!("blob {name}@{d}");
        self.deadline(&what, self.upstream.blob(name, d))
            .await
            .map_err(upstream_error)?
            .ok_or_else(|| blob_unknown(name, d))
    }

    /// Runs an upstream request, giving up after [`ProxyConfig::upstream_timeout`] so that a
    /// hung upstream is treated like an unreachable one (then the cache serves what it has).
    /// A blob's body is not under this deadline, only the wait for its response; [`pump`]
    /// applies the same duration to it as an idle timeout.
    async fn deadline<T>(
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
    fn passthrough(&self, d: Digest, up: UpstreamBlob) -> Response {
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

/// Checks a manifest from the upstream against the digest asked for; returns its media type.
fn check_manifest(name: &str, d: &Digest, m: &UpstreamManifest) -> Result<String, ApiError> {
    let bad = |message: String| {
        upstream_error(UpstreamError::Invalid {
            what: format!("manifest {name}@{d}"),
            message,
        })
    };
    if m.bytes.len() as u64 > MANIFEST_MAX {
        return Err(bad(format!(
            "{} bytes is over the {MANIFEST_MAX}-byte limit",
            m.bytes.len()
        )));
    }
    let actual = Digest::of(d.algorithm(), &m.bytes);
    if actual != *d {
        return Err(bad(format!("content hashes to {actual}")));
    }
    let media_type = m.media_type.trim().to_ascii_lowercase();
    if !(media::is_index(&media_type) || media::is_manifest(&media_type)) {
        return Err(bad(format!("{media_type:?} is not a manifest media type")));
    }
    Ok(media_type)
}

fn blob_unknown(name: &str, d: &Digest) -> ApiError {
    ApiError::new(
        Code::BlobUnknown,
        format!("blob {d} is not in {name} here or upstream"),
    )
}

/// Releases the held-back chunk on success, or fails the clients' streams.
async fn finish_clients(clients: &[Client], d: &Digest, outcome: Result<Option<Bytes>, String>) {
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
async fn cache_blob(
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
fn blob_response(d: &Digest, size: Option<u64>, body: ByteStream<'static>) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_manifests_are_checked() {
        let body = Bytes::from_static(br#"{"schemaVersion":2}"#);
        let d = Digest::sha256_of(&body);
        let m = |bytes: Bytes, media_type: &str| UpstreamManifest {
            bytes,
            media_type: media_type.to_string(),
            digest: d.clone(),
        };
        let big = Bytes::from(vec![b' '; MANIFEST_MAX as usize + 1]);
        let cases: Vec<(UpstreamManifest, Result<&str, &str>)> = vec![
            (
                m(body.clone(), media::OCI_MANIFEST),
                Ok(media::OCI_MANIFEST),
            ),
            (
                m(body.clone(), "Application/Vnd.Oci.Image.Index.v1+json"),
                Ok(media::OCI_INDEX),
            ),
            (
                m(body.clone(), "application/octet-stream"),
                Err("not a manifest"),
            ),
            (m(body.slice(1..), media::OCI_MANIFEST), Err("hashes to")),
            (m(big, media::OCI_MANIFEST), Err("limit")),
        ];
        for (i, (manifest, want)) in cases.into_iter().enumerate() {
            match (check_manifest("app", &d, &manifest), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "case {i}"),
                (Err(e), Err(want)) => {
                    assert_eq!(e.status, 502, "case {i}");
                    assert!(e.message.contains(want), "case {i}: {}", e.message);
                }
                (got, want) => panic!("case {i}: got {got:?}, want {want:?}"),
            }
        }
    }

    fn chunks(items: Vec<io::Result<&'static [u8]>>) -> ByteStream<'static> {
        futures::stream::iter(items.into_iter().map(|r| r.map(Bytes::from_static))).boxed()
    }

    #[tokio::test]
    async fn pump_holds_back_the_last_chunk_and_checks_the_size() {
        let ok = || chunks(vec![Ok(b"ab"), Ok(b""), Ok(b"cd"), Ok(b"ef")]);
        let cases: Vec<(ByteStream<'static>, Option<u64>, Result<&str, &str>)> = vec![
            (ok(), Some(6), Ok("abcd")),
            (ok(), None, Ok("abcd")),
            (ok(), Some(5), Err("more than")),
            (ok(), Some(7), Err("6 bytes of the 7")),
            (
                chunks(vec![Ok(b"ab"), Err(io::Error::other("reset"))]),
                None,
                Err("reset"),
            ),
        ];
        for (i, (stream, size, want)) in cases.into_iter().enumerate() {
            let (tx, mut rx) = mpsc::channel(16);
            let (sink_tx, mut sink_rx) = mpsc::channel(16);
            let mut digester = oci::Algorithm::Sha256.digester();
            let mut clients = vec![tx];
            let got = pump(
                stream,
                Duration::from_secs(5),
                size,
                &mut clients,
                Some(sink_tx),
                Some(&mut digester),
            )
            .await;
            drop(clients);
            let mut sent = Vec::new();
            while let Some(Ok(c)) = rx.recv().await {
                sent.extend_from_slice(&c);
            }
            let mut stored = Vec::new();
            while let Some(Ok(c)) = sink_rx.recv().await {
                stored.extend_from_slice(&c);
            }
            match (got, want) {
                (Ok((held, n)), Ok(want)) => {
                    assert_eq!(String::from_utf8_lossy(&sent), want, "case {i}");
                    assert_eq!(held.as_deref(), Some(&b"ef"[..]), "case {i}");
                    assert_eq!(n, 6, "case {i}");
                    assert_eq!(stored, b"abcdef", "case {i}");
                    assert_eq!(digester.finish(), Digest::sha256_of(b"abcdef"), "case {i}");
                }
                (Err(msg), Err(want)) => assert!(msg.contains(want), "case {i}: {msg}"),
                (got, want) => panic!("case {i}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[tokio::test]
    async fn pump_fails_an_upstream_that_stalls_mid_blob() {
        // Two chunks, then nothing for ever: the transfer must fail after the idle timeout
        // instead of holding the client (and the cache upload) open.
        let stalled = futures::stream::iter(vec![Ok(Bytes::from_static(b"ab"))])
            .chain(futures::stream::pending())
            .boxed();
        let (tx, _rx) = mpsc::channel(16);
        let (sink_tx, mut sink_rx) = mpsc::channel(16);
        let mut clients = vec![tx];
        let started = Instant::now();
        let got = tokio::time::timeout(
            Duration::from_secs(10),
            pump(
                stalled,
                Duration::from_millis(300),
                Some(10),
                &mut clients,
                Some(sink_tx),
                None,
            ),
        )
        .await
        .expect("pump returns once the upstream is idle for the timeout");
        let msg = got.expect_err("a stalled upstream fails the transfer");
        assert!(
            msg.contains("no data for") && msg.contains("idle timeout"),
            "{msg}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        // The storage side is told too, so the cache upload is discarded, not committed.
        let mut storage_failed = false;
        while let Some(item) = sink_rx.recv().await {
            storage_failed |= item.is_err();
        }
        assert!(storage_failed);
    }
}
