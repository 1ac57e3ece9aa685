//! The copy engine: one walk of manifests, platform choice, deduplicated parallel blob
//! transfer with verification and retries, for every pair of transports.
//!
//! ```no_run
//! # async fn f(src: &transport::LayoutSource, dst: &transport::LayoutDestination)
//! # -> Result<(), transport::TransportError> {
//! use transport::{copy, CopyOptions, PlatformChoice};
//! let opts = CopyOptions { platforms: PlatformChoice::All, ..CopyOptions::default() };
//! let report = copy(src, dst, &opts).await?;
//! println!("{} blobs copied, top {}", report.blobs_copied, report.top.digest);
//! # Ok(()) }
//! ```

mod blob;
mod config;
mod recompress;
mod tee;
mod verify;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use oci::{AnyManifest, Descriptor, Digest, Platform, media};

use crate::retry::{CopyFault, copy_retry};
use crate::{ImageDestination, ImageSource, ProgressEvent, TransportError};
use blob::{Outcome, copy_blob};
use verify::ProgressFn;

pub use tee::{FeedReader, LayerConsumer, LayerFeed, LayerTee, Verdict};

/// Which images of an index to copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum PlatformChoice {
    /// The one for the machine we run on.
    #[default]
    Host,
    /// The one for this platform.
    One(Platform),
    /// All of them, and the index itself, byte for byte.
    All,
    /// The ones for these platforms, and the index itself, byte for byte (its other
    /// entries are not copied: the destination holds a partial index, as a store does).
    /// A single-image source is copied whatever the list says.
    List(Vec<Platform>),
}

/// How to copy.
#[derive(Clone)]
pub struct CopyOptions {
    /// Which images of an index to copy (a single-image source is copied whatever this is).
    pub platforms: PlatformChoice,
    /// The name to give the top manifest at the destination.
    pub tag: Option<String>,
    /// How many blobs to transfer at once (at least 1).
    pub jobs: usize,
    /// Recompress layers that are compressed otherwise; manifests are then rewritten.
    pub recompress: Option<layer::Compression>,
    /// Called for each [`ProgressEvent`], from the copying task: keep it quick.
    pub progress: Option<Arc<dyn Fn(ProgressEvent) + Send + Sync>>,
    /// A repository on the destination registry to offer cross-repository mounts from.
    pub mount_from: Option<String>,
    /// How many times to retry a blob transfer whose stream broke (a stall is resumed once).
    /// Failed requests are retried by the registry client, not here.
    pub retries: u32,
    /// A second sink for layers as they download (pull's snapshot unpacker): see
    /// [`LayerTee`]. The bytes are read from the source once, for both sinks.
    pub tee: Option<Arc<dyn LayerTee>>,
}

impl Default for CopyOptions {
    fn default() -> CopyOptions {
        CopyOptions {
            platforms: PlatformChoice::Host,
            tag: None,
            jobs: 4,
            recompress: None,
            progress: None,
            mount_from: None,
            retries: 3,
            tee: None,
        }
    }
}

impl fmt::Debug for CopyOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CopyOptions")
            .field("platforms", &self.platforms)
            .field("tag", &self.tag)
            .field("jobs", &self.jobs)
            .field("recompress", &self.recompress)
            .field("progress", &self.progress.is_some())
            .field("mount_from", &self.mount_from)
            .field("retries", &self.retries)
            .field("tee", &self.tee.is_some())
            .finish()
    }
}

/// What a copy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyReport {
    /// The manifest or index written at the top of the destination (a platform's manifest
    /// when one was chosen from an index; a new digest when layers were recompressed).
    pub top: Descriptor,
    /// The digest of the top manifest or index at the source (the index when a platform was
    /// chosen from one: record it as the image's RepoDigest).
    pub source_digest: Digest,
    /// The top manifest or index at the source, whole (what signatures name).
    pub source: Descriptor,
    /// The image manifests written (not indexes), in the order written.
    pub manifests: Vec<Descriptor>,
    /// The config digest when a single image was copied.
    pub config: Option<Digest>,
    /// Whether manifests were rewritten (recompression): their digests differ from the source.
    pub rewritten: bool,
    /// Blobs transferred.
    pub blobs_copied: usize,
    /// Blobs the destination already had or mounted.
    pub blobs_skipped: usize,
    /// Bytes transferred.
    pub bytes_copied: u64,
}

/// How many of an index's platforms an error lists.
const MAX_LISTED_PLATFORMS: usize = 20;

/// How deep indexes may nest (an index of indexes of manifests is 2).
const MAX_DEPTH: usize = 4;

/// A manifest or index to write, with its exact bytes.
struct Node {
    desc: Descriptor,
    bytes: Bytes,
    parsed: AnyManifest,
}

/// Shared state of one copy.
struct Ctx<'a> {
    opts: &'a CopyOptions,
    progress: Option<ProgressFn>,
    /// Image configs fetched and checked before any blob was written, by digest.
    configs: HashMap<Digest, Bytes>,
}

impl Ctx<'_> {
    fn emit(&self, e: ProgressEvent) {
        if let Some(p) = &self.progress {
            p(e);
        }
    }

    /// Runs `f` again while it fails in a way a new attempt may fix (see
    /// [`copy_retry`]); `blob` says whether `f` moves a blob (a stall is resumed only then).
    async fn retry<T, F, Fut>(&self, blob: bool, mut f: F) -> Result<T, TransportError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, TransportError>>,
    {
        let mut attempt = 0u32;
        loop {
            match f().await {
                Err(e) => match copy_retry(copy_fault(&e, blob), attempt, self.opts.retries) {
                    Some(delay) => {
                        tracing::debug!(error = %e, "retrying");
                        attempt += 1;
                        tokio::time::sleep(delay).await;
                    }
                    None => return Err(e),
                },
                ok => return ok,
            }
        }
    }
}

/// Copies the image `src` names into `dst`: see the module doc and [`CopyOptions`].
///
/// Order of writes: every blob (configs and layers, deduplicated, `opts.jobs` at once), then
/// manifests children before parents with `opts.tag` on the top one, then
/// [`ImageDestination::commit`]. Every manifest and blob is checked against its digest and
/// size; a mismatch fails the copy and leaves nothing of that blob at the destination.
pub async fn copy<S: ImageSource, D: ImageDestination>(
    src: &S,
    dst: &D,
    opts: &CopyOptions,
) -> Result<CopyReport, TransportError> {
    let mut ctx = Ctx {
        opts,
        progress: opts.progress.clone(),
        configs: HashMap::new(),
    };
    let top = ctx.retry(false, || src.resolve()).await?;
    ctx.emit(ProgressEvent::Resolved {
        digest: top.digest.clone(),
        media_type: top.media_type.clone(),
    });
    let bytes = fetch_manifest(&ctx, src, &top).await?;
    let parsed = AnyManifest::parse(Some(&top.media_type), &bytes)?;

    // Post-order: children before parents, the top last.
    let mut nodes = Vec::new();
    match (parsed, &opts.platforms) {
        (AnyManifest::Index(index), PlatformChoice::Host | PlatformChoice::One(_)) => {
            let want = match &opts.platforms {
                PlatformChoice::One(p) => p.clone(),
                _ => Platform::host(),
            };
            let entry = choose_entry(&index.manifests, &want, &top)?;
            nodes.push(fetch_entry(&ctx, src, entry, &want).await?);
        }
        (AnyManifest::Index(index), PlatformChoice::List(wanted)) => {
            let mut chosen = HashSet::new();
            for want in wanted {
                let entry = choose_entry(&index.manifests, want, &top)?;
                if chosen.insert(entry.digest.clone()) {
                    nodes.push(fetch_entry(&ctx, src, entry, want).await?);
                }
            }
            // The index last, byte for byte: the destination's image is the index.
            nodes.push(Node {
                desc: top.clone(),
                parsed: AnyManifest::Index(index),
                bytes,
            });
        }
        (parsed, _) => {
            walk(&ctx, src, top.clone(), bytes, parsed, 0, &mut nodes).await?;
        }
    }

    // Every blob once, in manifest order.
    let mut seen = HashSet::new();
    let mut blobs = Vec::new();
    for node in &nodes {
        if let AnyManifest::Manifest(m) = &node.parsed {
            for d in std::iter::once(&m.config).chain(&m.layers) {
                if seen.insert(d.digest.clone()) {
                    blobs.push(d.clone());
                }
            }
        }
    }

    // Configs are small: fetch and check them before writing anything, so a document that
    // is not what its media type says leaves no trace at the destination. A tee gets the
    // config of every image with a layer to download, even when the destination has it.
    for node in &nodes {
        if let AnyManifest::Manifest(m) = &node.parsed
            && config::is_image_config(&m.config.media_type)
        {
            if !ctx.configs.contains_key(&m.config.digest)
                && (!ctx.retry(false, || dst.has_blob(&m.config)).await?
                    || (opts.tee.is_some() && !has_all(&ctx, dst, &m.layers).await?))
            {
                let bytes = config::fetch(&ctx, src, &m.config, &node.desc.digest).await?;
                ctx.configs.insert(m.config.digest.clone(), bytes);
            }
            if let (Some(tee), Some(config)) = (&opts.tee, ctx.configs.get(&m.config.digest)) {
                tee.image(m, config);
            }
        }
    }
    let ctx = ctx;

    let outcomes: Vec<Outcome> = futures::stream::iter(blobs.iter())
        .map(|d| copy_blob(&ctx, src, dst, d))
        .buffer_unordered(opts.jobs.max(1))
        .try_collect()
        .await?;

    let mut report = CopyReport {
        top: top.clone(),
        source_digest: top.digest.clone(),
        source: top.clone(),
        manifests: Vec::new(),
        config: None,
        rewritten: false,
        blobs_copied: 0,
        blobs_skipped: 0,
        bytes_copied: 0,
    };
    let mut replaced: HashMap<Digest, Descriptor> = HashMap::new();
    for o in outcomes {
        if o.transferred {
            report.blobs_copied += 1;
        } else {
            report.blobs_skipped += 1;
        }
        report.bytes_copied += o.bytes;
        if let Some(new) = o.replaced_by {
            replaced.insert(o.digest, new);
        }
    }

    let last = nodes.len().saturating_sub(1);
    for (i, node) in nodes.into_iter().enumerate() {
        let (desc, bytes) = if replaced.is_empty() {
            (node.desc, node.bytes)
        } else {
            let (desc, bytes) = recompress::rewrite(&node.desc, &node.bytes, &replaced)?;
            if desc.digest != node.desc.digest {
                report.rewritten = true;
                replaced.insert(node.desc.digest.clone(), desc.clone());
            }
            (desc, bytes)
        };
        let tag = if i == last { opts.tag.as_deref() } else { None };
        ctx.retry(false, || dst.put_manifest(&desc, bytes.clone(), tag))
            .await?;
        ctx.emit(ProgressEvent::ManifestWritten {
            digest: desc.digest.clone(),
        });
        if let AnyManifest::Manifest(m) = &node.parsed {
            report.manifests.push(desc.clone());
            report.config = Some(m.config.digest.clone());
        }
        if i == last {
            report.top = desc;
        }
    }
    if report.manifests.len() != 1 {
        report.config = None;
    }
    dst.commit().await?;
    Ok(report)
}

/// The entry of an index that stands for `want` (see [`oci::choose`]), or the error that
/// lists the platforms the index has.
fn choose_entry<'a>(
    entries: &'a [Descriptor],
    want: &Platform,
    top: &Descriptor,
) -> Result<&'a Descriptor, TransportError> {
    if let Some(entry) = oci::choose(entries, want) {
        return Ok(entry);
    }
    let mut available: Vec<String> = entries
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .filter(|p| !p.is_unknown())
        // Platform strings come from the index: escape them, and list a few.
        .map(|p| crate::error::printable(&p.to_string(), 100))
        .collect();
    available.dedup();
    if available.len() > MAX_LISTED_PLATFORMS {
        available.truncate(MAX_LISTED_PLATFORMS);
        available.push("…".to_string());
    }
    Err(TransportError::NoMatchingPlatform {
        platform: want.to_string(),
        reference: format!("index {}", top.digest),
        available: if available.is_empty() {
            "no platforms".into()
        } else {
            available.join(", ")
        },
    })
}

/// Fetches the image manifest `entry` an index lists for `want`; an entry that is itself
/// an index is refused (only a copy of all platforms walks nested indexes).
async fn fetch_entry<S: ImageSource>(
    ctx: &Ctx<'_>,
    src: &S,
    entry: &Descriptor,
    want: &Platform,
) -> Result<Node, TransportError> {
    let bytes = fetch_manifest(ctx, src, entry).await?;
    let parsed = AnyManifest::parse(Some(&entry.media_type), &bytes)?;
    if matches!(parsed, AnyManifest::Index(_)) {
        return Err(TransportError::Invalid {
            what: format!("manifest {}", entry.digest),
            detail: format!("the entry for {want} is itself an index; copy all platforms instead"),
        });
    }
    Ok(Node {
        desc: entry.clone(),
        bytes,
        parsed,
    })
}

/// Whether the destination has every one of `blobs`.
async fn has_all<D: ImageDestination>(
    ctx: &Ctx<'_>,
    dst: &D,
    blobs: &[Descriptor],
) -> Result<bool, TransportError> {
    for b in blobs {
        if !ctx.retry(false, || dst.has_blob(b)).await? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Fetches a manifest or index and checks its size and digest.
async fn fetch_manifest<S: ImageSource>(
    ctx: &Ctx<'_>,
    src: &S,
    d: &Descriptor,
) -> Result<Bytes, TransportError> {
    let bytes = ctx.retry(false, || src.manifest(d)).await?;
    let what = || format!("manifest {}", d.digest);
    if bytes.len() as u64 != d.size {
        return Err(TransportError::SizeMismatch {
            what: what(),
            expected: d.size,
            actual: bytes.len() as u64,
        });
    }
    let actual = Digest::of(d.digest.algorithm(), &bytes);
    if actual != d.digest {
        return Err(TransportError::DigestMismatch {
            what: what(),
            expected: d.digest.clone(),
            actual,
        });
    }
    Ok(bytes)
}

/// Adds `desc` and, for an index, every entry below it, to `nodes` in post-order.
fn walk<'a, S: ImageSource>(
    ctx: &'a Ctx<'a>,
    src: &'a S,
    desc: Descriptor,
    bytes: Bytes,
    parsed: AnyManifest,
    depth: usize,
    nodes: &'a mut Vec<Node>,
) -> futures::future::BoxFuture<'a, Result<(), TransportError>> {
    Box::pin(async move {
        if let AnyManifest::Index(index) = &parsed {
            if depth >= MAX_DEPTH {
                return Err(TransportError::Invalid {
                    what: format!("index {}", desc.digest),
                    detail: format!("indexes nest more than {MAX_DEPTH} deep"),
                });
            }
            for entry in &index.manifests {
                if !media::is_index(&entry.media_type)
                    && !media::is_manifest(&entry.media_type)
                    && !entry.media_type.ends_with("+json")
                {
                    return Err(TransportError::Invalid {
                        what: format!("index {}", desc.digest),
                        detail: format!(
                            "entry {} has media type {:?}, not a manifest",
                            entry.digest, entry.media_type
                        ),
                    });
                }
                let b = fetch_manifest(ctx, src, entry).await?;
                let p = AnyManifest::parse(Some(&entry.media_type), &b)?;
                walk(ctx, src, entry.clone(), b, p, depth + 1, nodes).await?;
            }
        }
        nodes.push(Node {
            desc,
            bytes,
            parsed,
        });
        Ok(())
    })
}

/// The error for a source stream that failed: its own [`TransportError`] when it carries one
/// (a stall, named with the registry and the timeout), else the I/O error.
fn source_error(what: String, source: std::io::Error) -> TransportError {
    if source
        .get_ref()
        .is_some_and(|inner| inner.is::<TransportError>())
    {
        if let Some(inner) = source.into_inner()
            && let Ok(e) = inner.downcast::<TransportError>()
        {
            return *e;
        }
        // Unreachable: the inner error was checked to be a TransportError.
        return TransportError::Stream {
            what,
            source: std::io::Error::other("the source stream failed"),
        };
    }
    TransportError::Stream { what, source }
}

/// How [`copy_retry`] sees an error. Failed requests were retried by the registry client
/// already; only a stream that broke mid-way, or a blob that stalled, gets another attempt.
fn copy_fault(e: &TransportError, blob: bool) -> CopyFault {
    match e {
        TransportError::TimedOut { .. } if blob => CopyFault::Stalled,
        TransportError::Stream { source, .. } if source.kind() == std::io::ErrorKind::TimedOut => {
            if blob {
                CopyFault::Stalled
            } else {
                CopyFault::Final
            }
        }
        TransportError::Stream { .. } => CopyFault::Broken,
        TransportError::Http { error: source, .. }
            if !source.is_connect()
                && !source.is_timeout()
                // A body cut short surfaces as a decode error from reqwest's body stream.
                && (source.is_body() || source.is_decode() || source.is_request()) =>
        {
            CopyFault::Broken
        }
        _ => CopyFault::Final,
    }
}
