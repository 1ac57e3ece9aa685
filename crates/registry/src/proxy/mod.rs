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

mod blobs;
mod flight;
mod manifests;
mod upstream;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oci::{AnyManifest, Digest};

use crate::error::{ApiError, Code};
use crate::repo::Registry;
use crate::storage::Storage;

use flight::Inflight;
pub use upstream::{Upstream, UpstreamBlob, UpstreamError, UpstreamManifest};

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
}
