//! Online garbage collection: what is freed, what is kept, and a push storm with GC
//! running all along.

mod common;

use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use oci::Digest;
use registry::gc::{self, GcOptions, GcReport};
use registry::repo::Registry;
use registry::storage::{ByteStream, FsStorage, Key, Meta, Storage};
use registry::{ApiError, StorageError};
use serde_json::json;

use common::sha256;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn options(grace: Duration) -> GcOptions {
    GcOptions {
        grace,
        ..GcOptions::default()
    }
}

/// How much coarser than the filesystem's this backend's `modified` times are: object
/// stores answer `Last-Modified` to the second.
fn slack() -> Duration {
    match common::backend() {
        common::Backend::Fs => Duration::ZERO,
        common::Backend::Object => Duration::from_millis(1100),
    }
}

/// A grace period of at least `ms`, and at least twice the clock resolution.
fn grace_of(ms: u64) -> Duration {
    Duration::from_millis(ms).max(2 * slack() + Duration::from_millis(300))
}

/// Waits until what was written before now is older than `grace` on the storage clock.
async fn outlive(grace: Duration) {
    tokio::time::sleep(grace + slack() + Duration::from_millis(200)).await;
}

/// A registry on `storage` honouring `grace` as a writer.
fn registry_on(storage: Arc<dyn Storage>, grace: Duration) -> Registry {
    let r = Registry::new(storage);
    r.set_gc_grace(grace);
    r
}

/// A second "process" on the server's storage (its own backend instance).
fn storage_of(s: &common::TestServer) -> Arc<dyn Storage> {
    match &s.s3 {
        Some(s3) => Arc::new(s3.storage("")),
        None => Arc::new(FsStorage::new(s.dir.path().join("root")).unwrap()),
    }
}

/// Storage on this binary's backend under `dir`, and the S3 server behind it (keep it).
fn new_storage(dir: &Path) -> (Arc<dyn Storage>, Option<common::s3::S3Server>) {
    match common::backend() {
        common::Backend::Fs => (Arc::new(FsStorage::new(dir.join("root")).unwrap()), None),
        common::Backend::Object => {
            let s3 = common::s3::S3Server::start(dir, "root");
            (Arc::new(s3.storage("")), Some(s3))
        }
    }
}

/// Every blob digest in `storage`.
async fn blobs_in(storage: &dyn Storage) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let root = Key::new("blobs").unwrap();
    for alg in storage.list(&root).await.unwrap() {
        let a = root.join(&alg).unwrap();
        for xx in storage.list(&a).await.unwrap() {
            for hex in storage.list(&a.join(&xx).unwrap()).await.unwrap() {
                out.insert(format!("{alg}:{hex}"));
            }
        }
    }
    out
}

fn manifest(config: &[u8], layers: &[&[u8]], subject: Option<(&str, usize)>) -> Vec<u8> {
    let mut m = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256(config), "size": config.len()},
        "layers": layers.iter().map(|l| json!({
            "mediaType": OCI_LAYER, "digest": sha256(l), "size": l.len()
        })).collect::<Vec<_>>(),
    });
    if let Some((d, size)) = subject {
        m["subject"] = json!({"mediaType": OCI_MANIFEST, "digest": d, "size": size});
        m["artifactType"] = json!("application/vnd.example.sig");
    }
    serde_json::to_vec(&m).unwrap()
}

fn index(children: &[&[u8]]) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": children.iter().map(|c| json!({
            "mediaType": OCI_MANIFEST, "digest": sha256(c), "size": c.len(),
            "platform": {"architecture": "amd64", "os": "linux"}
        })).collect::<Vec<_>>(),
    }))
    .unwrap()
}

/// Pulls `reference` of `name` over HTTP: the manifest, and every blob it (or its
/// children) names, each verified against its digest.
async fn pull_http(s: &common::TestServer, name: &str, reference: &str) {
    let r = s
        .client
        .get(s.url(&format!("/v2/{name}/manifests/{reference}")))
        .header("accept", format!("{OCI_MANIFEST}, {OCI_INDEX}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "manifest {name}:{reference}");
    let body = r.bytes().await.unwrap();
    let refs = gc::references(None, &body);
    for d in &refs.blobs {
        let r = s
            .client
            .get(s.url(&format!("/v2/{name}/blobs/{d}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "blob {d} of {name}:{reference}");
        let data = r.bytes().await.unwrap();
        assert_eq!(sha256(&data), d.to_string(), "blob {d} content");
    }
    for d in &refs.manifests {
        Box::pin(pull_http(s, name, &d.to_string())).await;
    }
}

async fn blob_status(s: &common::TestServer, name: &str, d: &str) -> u16 {
    s.client
        .head(s.url(&format!("/v2/{name}/blobs/{d}")))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn put(s: &common::TestServer, name: &str, reference: &str, mt: &str, body: &[u8]) {
    let r = s.put_manifest(name, reference, mt, body).await;
    assert_eq!(r.status(), 201, "put {name}:{reference}");
}

/// What the HTTP tests push: see `push_fixture`.
struct Fixture {
    kept_blobs: Vec<String>,
    orphans: Vec<(String, u64)>,
    untagged: Vec<String>,
    pulls: Vec<(String, String)>,
}

/// Pushes, into `gc/a`: an orphan blob; a tagged image; a digest-only image; an index
/// (tagged) whose child is pushed by digest only; a referrer of the tagged image; an
/// image tagged twice then untagged once; an image deleted by digest.
async fn push_fixture(s: &common::TestServer) -> Fixture {
    let n = "gc/a";
    let mut kept = Vec::new();
    let mut orphans = Vec::new();
    let mut pulls = Vec::new();
    let orphan = b"never referenced".to_vec();
    orphans.push((s.push_blob(n, &orphan).await, orphan.len() as u64));

    let image = |tag: &'static str, i: u8| {
        let config = format!("{{\"config\":{i}}}").into_bytes();
        let layer = vec![i; 1000 + i as usize];
        (tag, config, layer)
    };
    // Tagged image.
    let (_, c1, l1) = image("v1", 1);
    let m1 = manifest(&c1, &[&l1], None);
    for b in [&c1, &l1] {
        kept.push(s.push_blob(n, b).await);
    }
    put(s, n, "v1", OCI_MANIFEST, &m1).await;
    kept.push(sha256(&m1));
    pulls.push((n.to_string(), "v1".to_string()));
    // Digest-only image.
    let (_, c2, l2) = image("", 2);
    let m2 = manifest(&c2, &[&l2], None);
    for b in [&c2, &l2] {
        kept.push(s.push_blob(n, b).await);
    }
    put(s, n, &sha256(&m2), OCI_MANIFEST, &m2).await;
    kept.push(sha256(&m2));
    pulls.push((n.to_string(), sha256(&m2)));
    // An index, tagged, whose child is only referenced by digest.
    let (_, c3, l3) = image("", 3);
    let m3 = manifest(&c3, &[&l3], None);
    for b in [&c3, &l3] {
        kept.push(s.push_blob(n, b).await);
    }
    put(s, n, &sha256(&m3), OCI_MANIFEST, &m3).await;
    let i3 = index(&[&m3]);
    put(s, n, "multi", OCI_INDEX, &i3).await;
    kept.push(sha256(&m3));
    kept.push(sha256(&i3));
    pulls.push((n.to_string(), "multi".to_string()));
    // A referrer of the tagged image (a signature-like artifact), by digest.
    let c4 = b"{}".to_vec();
    let l4 = b"signature payload".to_vec();
    let m4 = manifest(&c4, &[&l4], Some((&sha256(&m1), m1.len())));
    for b in [&c4, &l4] {
        kept.push(s.push_blob(n, b).await);
    }
    put(s, n, &sha256(&m4), OCI_MANIFEST, &m4).await;
    kept.push(sha256(&m4));
    pulls.push((n.to_string(), sha256(&m4)));
    // Tagged twice, one tag deleted: the other keeps it.
    let (_, c6, l6) = image("", 6);
    let m6 = manifest(&c6, &[&l6], None);
    for b in [&c6, &l6] {
        kept.push(s.push_blob(n, b).await);
    }
    put(s, n, "t6", OCI_MANIFEST, &m6).await;
    put(s, n, "t6b", OCI_MANIFEST, &m6).await;
    let r = s
        .client
        .delete(s.url(&format!("/v2/{n}/manifests/t6")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    kept.push(sha256(&m6));
    pulls.push((n.to_string(), "t6b".to_string()));
    // Pushed, then deleted by digest: its config, layer and manifest are garbage.
    let (_, c5, l5) = image("", 5);
    let m5 = manifest(&c5, &[&l5], None);
    for b in [&c5, &l5] {
        orphans.push((s.push_blob(n, b).await, b.len() as u64));
    }
    put(s, n, "gone", OCI_MANIFEST, &m5).await;
    orphans.push((sha256(&m5), m5.len() as u64));
    let r = s
        .client
        .delete(s.url(&format!("/v2/{n}/manifests/{}", sha256(&m5))))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    Fixture {
        kept_blobs: kept,
        orphans,
        untagged: vec![sha256(&m2)],
        pulls,
    }
}

#[tokio::test]
async fn frees_unreferenced_and_keeps_referenced() {
    let s = common::start().await;
    let fx = push_fixture(&s).await;
    let grace = grace_of(800);
    let gcr = registry_on(storage_of(&s), grace);
    let before = blobs_in(&**gcr.storage()).await;
    assert_eq!(before.len(), fx.kept_blobs.len() + fx.orphans.len());
    // A link to a blob that is not there (an upload that died between linking and moving
    // its content in).
    let dangling = Key::new(format!(
        "repositories/gc/a/_layers/sha256/{}",
        "d".repeat(64)
    ))
    .unwrap();
    registry::storage::put_bytes(&**gcr.storage(), &dangling, Bytes::from("x"))
        .await
        .unwrap();

    // Within the grace period nothing goes.
    let r = gc::collect(&gcr, &options(Duration::from_secs(3600)))
        .await
        .unwrap();
    assert_eq!(r.blobs_deleted, 0, "{r:?}");
    assert_eq!(r.blobs_spared, fx.orphans.len() as u64, "{r:?}");
    assert_eq!(blobs_in(&**gcr.storage()).await, before);

    outlive(grace).await;
    // A dry run reports and deletes nothing.
    let dry = gc::collect(
        &gcr,
        &GcOptions {
            dry_run: true,
            ..options(grace)
        },
    )
    .await
    .unwrap();
    let freed: u64 = fx.orphans.iter().map(|o| o.1).sum();
    assert!(dry.dry_run);
    assert_eq!(dry.blobs_deleted, fx.orphans.len() as u64, "{dry:?}");
    assert_eq!(dry.bytes_freed, freed);
    assert_eq!(blobs_in(&**gcr.storage()).await, before);

    let r = gc::collect(&gcr, &options(grace)).await.unwrap();
    assert_eq!(
        r,
        GcReport {
            blobs_deleted: fx.orphans.len() as u64,
            bytes_freed: freed,
            // orphan, c5 and l5 were linked in gc/a (the deleted manifest has no layer
            // link), and the dangling link goes
            links_removed: 4,
            manifests_deleted: 0,
            uploads_removed: 0,
            blobs_kept: fx.kept_blobs.len() as u64,
            blobs_spared: 0,
            dry_run: false,
        }
    );
    assert!(
        !registry::storage::exists(&**gcr.storage(), &dangling)
            .await
            .unwrap()
    );
    let after = blobs_in(&**gcr.storage()).await;
    let kept: BTreeSet<String> = fx.kept_blobs.iter().cloned().collect();
    assert_eq!(after, kept);
    for (d, _) in &fx.orphans {
        assert_eq!(blob_status(&s, "gc/a", d).await, 404, "{d}");
    }
    for (n, reference) in &fx.pulls {
        pull_http(&s, n, reference).await;
    }
    // The referrer is still listed.
    let r = s
        .client
        .get(s.url(&format!(
            "/v2/gc/a/referrers/{}",
            sha256(&manifest(b"{\"config\":1}", &[&[1u8; 1001][..]], None))
        )))
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["manifests"].as_array().unwrap().len(), 1, "{v}");

    // A second run finds nothing more.
    let again = gc::collect(&gcr, &options(grace)).await.unwrap();
    assert_eq!(again.blobs_deleted, 0);
    assert_eq!(again.blobs_kept, kept.len() as u64);
}

#[tokio::test]
async fn delete_untagged_removes_unreachable_manifests_only() {
    let s = common::start().await;
    let fx = push_fixture(&s).await;
    let grace = grace_of(500);
    let gcr = registry_on(storage_of(&s), grace);
    outlive(grace).await;
    let r = gc::collect(
        &gcr,
        &GcOptions {
            delete_untagged: true,
            ..options(grace)
        },
    )
    .await
    .unwrap();
    // Only the digest-only image goes (the index child and the referrer are reachable),
    // and with it its manifest, config and layer.
    assert_eq!(r.manifests_deleted, fx.untagged.len() as u64, "{r:?}");
    assert_eq!(r.blobs_deleted, fx.orphans.len() as u64 + 3, "{r:?}");
    let m2 = &fx.untagged[0];
    let st = s
        .client
        .get(s.url(&format!("/v2/gc/a/manifests/{m2}")))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(st, 404);
    for (n, reference) in fx.pulls.iter().filter(|p| &p.1 != m2) {
        pull_http(&s, n, reference).await;
    }
}

#[tokio::test]
async fn stale_uploads_go_and_live_ones_stay() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _s3) = new_storage(dir.path());
    let grace = grace_of(300);
    let max_age = Duration::from_millis(500) + slack();
    let reg = registry_on(storage, grace);
    let old = reg
        .upload_start("up/a", oci::Algorithm::Sha256)
        .await
        .unwrap();
    tokio::time::sleep(max_age + slack() + Duration::from_millis(200)).await;
    let live = reg
        .upload_start("up/a", oci::Algorithm::Sha256)
        .await
        .unwrap();
    reg.upload_append("up/a", &live, Some(0), body(b"hello "))
        .await
        .unwrap();
    let r = gc::collect(
        &reg,
        &GcOptions {
            upload_max_age: max_age,
            ..options(grace)
        },
    )
    .await
    .unwrap();
    assert_eq!(r.uploads_removed, 1, "{r:?}");
    assert!(reg.upload_size("up/a", &old).await.is_err());
    reg.upload_append("up/a", &live, Some(6), body(b"world"))
        .await
        .unwrap();
    let d: Digest = sha256(b"hello world").parse().unwrap();
    reg.upload_finish("up/a", &live, &d, None).await.unwrap();
    assert_eq!(reg.blob_size("up/a", &d).await.unwrap(), Some(11));
}

// ---- registry-level helpers (no HTTP) ----------------------------------------------------

fn body(data: &[u8]) -> ByteStream<'static> {
    let data = Bytes::copy_from_slice(data);
    futures::stream::once(async move { Ok(data) }).boxed()
}

async fn push_blob(reg: &Registry, name: &str, data: &[u8], chunked: bool) -> Digest {
    let d: Digest = sha256(data).parse().unwrap();
    let id = reg.upload_start(name, d.algorithm()).await.unwrap();
    if chunked {
        let mut off = 0u64;
        for chunk in data.chunks(data.len().div_ceil(3).max(1)) {
            off = reg
                .upload_append(name, &id, Some(off), body(chunk))
                .await
                .unwrap();
        }
        reg.upload_finish(name, &id, &d, None).await.unwrap();
    } else {
        reg.upload_finish(name, &id, &d, Some(body(data)))
            .await
            .unwrap();
    }
    d
}

/// Reads a whole blob through the registry and checks its digest.
async fn pull_blob(reg: &Registry, name: &str, d: &Digest) -> Result<(), String> {
    if reg
        .blob_size(name, d)
        .await
        .map_err(|e| e.to_string())?
        .is_none()
    {
        return Err(format!("{name}: blob {d} is not linked or missing"));
    }
    let mut s = reg.blob_read(d, None).await.map_err(|e| e.to_string())?;
    let mut h = d.algorithm().digester();
    while let Some(c) = s.next().await {
        h.update(&c.map_err(|e| e.to_string())?);
    }
    let got = h.finish();
    if got != *d {
        return Err(format!("{name}: blob {d} has digest {got}"));
    }
    Ok(())
}

/// Pulls a manifest and everything it refers to.
async fn pull(reg: &Registry, name: &str, reference: &str) -> Result<(), String> {
    let m = reg
        .manifest_get(name, reference)
        .await
        .map_err(|e| format!("{name}:{reference}: {e}"))?;
    let refs = gc::references(Some(&m.media_type), &m.bytes);
    for d in &refs.blobs {
        pull_blob(reg, name, d).await?;
    }
    for d in &refs.manifests {
        Box::pin(pull(reg, name, &d.to_string())).await?;
    }
    Ok(())
}

fn status(e: &ApiError) -> u16 {
    e.status
}

/// Puts a manifest, retrying the retryable refusals (503) a few times.
async fn put_retrying(
    reg: &Registry,
    name: &str,
    reference: &str,
    mt: &str,
    bytes: &[u8],
) -> Result<(), ApiError> {
    let mut last = None;
    for _ in 0..3 {
        match reg
            .manifest_put(
                name,
                reference,
                Some(mt),
                Bytes::copy_from_slice(bytes),
                &[],
            )
            .await
        {
            Ok(_) => return Ok(()),
            // Judged as the API answers it: the domain error mapped to a status and code.
            Err(e) => match ApiError::from(e) {
                e if status(&e) == 503 => last = Some(e),
                e => return Err(e),
            },
        }
    }
    Err(last.unwrap())
}

/// Content generator: deterministic, distinct per (task, image, what).
fn content(task: usize, image: usize, what: &str, len: usize) -> Vec<u8> {
    let seed = format!("{task}/{image}/{what}/");
    seed.bytes().cycle().take(len.max(seed.len())).collect()
}

/// Aborts tasks when dropped (also while a failing test unwinds).
struct AbortOnDrop(Vec<tokio::task::AbortHandle>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.iter().for_each(|h| h.abort());
    }
}

#[derive(Default)]
struct StormLog {
    /// (repository, reference) of every manifest pushed and not deleted.
    live: Vec<(String, String)>,
    /// Blobs no live manifest refers to once the storm is over (by construction).
    orphans: BTreeSet<String>,
    /// Blobs of deleted images found collected when a later manifest wanted them again
    /// (and uploaded anew).
    revived_after_collection: u64,
    /// Deleted manifests pushed again (their own bytes may have been collected before).
    revives: u64,
    /// Pushes refused because their blobs were collected during a long pause.
    refused: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gc_during_push_storm_loses_nothing_and_frees_orphans() {
    // Smaller on the object backend, where every operation is an HTTP request.
    let (tasks_n, images_n) = match common::backend() {
        common::Backend::Fs => (8, 20),
        common::Backend::Object => (4, 12),
    };
    const SHARED: usize = 6;
    let grace = grace_of(1500);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (storage, _s3) = new_storage(dir.path());
    let second = || -> Arc<dyn Storage> {
        match &_s3 {
            Some(s3) => Arc::new(s3.storage("")),
            None => Arc::new(FsStorage::new(dir.path().join("root")).unwrap()),
        }
    };
    // Two writer "processes" and one collector, sharing only the storage directory. The
    // collector's deletions are slowed down, so writers often act between its decision and
    // its deletion.
    let writers: Vec<Arc<Registry>> = vec![
        Arc::new(registry_on(storage.clone(), grace)),
        Arc::new(registry_on(second(), grace)),
    ];
    let slowed = Arc::new(Stalling {
        inner: second(),
        stall_ms: AtomicU64::new(0),
        delete_delay_ms: AtomicU64::new(40),
    });
    let gcr = Arc::new(registry_on(slowed.clone(), grace));

    // Shared layers, pushed once into a base repository and tagged there.
    let shared: Vec<Vec<u8>> = (0..SHARED)
        .map(|i| content(99, i, "shared", 20_000 + i * 1000))
        .collect();
    let base_config = b"{\"base\":true}".to_vec();
    push_blob(&writers[0], "storm/base", &base_config, false).await;
    for l in &shared {
        push_blob(&writers[0], "storm/base", l, true).await;
    }
    let layer_refs: Vec<&[u8]> = shared.iter().map(|l| l.as_slice()).collect();
    let base = manifest(&base_config, &layer_refs, None);
    put_retrying(&writers[0], "storm/base", "latest", OCI_MANIFEST, &base)
        .await
        .unwrap();

    let done = Arc::new(AtomicBool::new(false));
    let live_list: Arc<std::sync::Mutex<Vec<(String, String)>>> = Arc::new(std::sync::Mutex::new(
        vec![("storm/base".into(), "latest".into())],
    ));

    // The collector, running again and again with a short grace.
    let gc_task = {
        let gcr = gcr.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut reports = Vec::new();
            for _ in 0..400 {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                reports.push(gc::collect(&gcr, &options(grace)).await.unwrap());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            reports
        })
    };
    // A puller: every manifest known to be live must be pullable at any moment.
    let puller = {
        let reg = writers[1].clone();
        let done = done.clone();
        let live = live_list.clone();
        tokio::spawn(async move {
            let mut pulls = 0u64;
            let mut i = 0usize;
            while !done.load(Ordering::SeqCst) && pulls < 100_000 {
                let item = {
                    let l = live.lock().unwrap();
                    l.get(i % l.len()).cloned()
                };
                i += 7;
                if let Some((n, r)) = item {
                    pull(&reg, &n, &r)
                        .await
                        .unwrap_or_else(|e| panic!("pull during storm: {e}"));
                    pulls += 1;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            pulls
        })
    };

    // If the test fails, stop the background tasks before the storage directory goes.
    let _abort = AbortOnDrop(vec![gc_task.abort_handle(), puller.abort_handle()]);
    let mut tasks = Vec::new();
    for t in 0..tasks_n {
        let reg = writers[t % 2].clone();
        let shared = shared.clone();
        let live = live_list.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("storm/t{t}");
            let mut log = StormLog::default();
            let mut images = Vec::new();
            let mut pending: Option<(Vec<u8>, Vec<u8>, Vec<u8>)> = None;
            for i in 0..images_n {
                if i % 7 == 6
                    && let Some((rc, ru, rm)) = pending.take()
                {
                    // Revive the blobs of the image deleted three images ago, after about
                    // the grace period: the collector may be deleting them right now. The
                    // push either commits (and the blobs stay) or is refused with
                    // MANIFEST_BLOB_UNKNOWN (and they are uploaded again).
                    tokio::time::sleep(Duration::from_millis(1100 + 100 * t as u64)).await;
                    // The very manifest deleted before, pushed again: its own bytes may be
                    // being collected too.
                    let tag = format!("r{i}");
                    let mut committed = false;
                    for _ in 0..4 {
                        match put_retrying(&reg, &name, &tag, OCI_MANIFEST, &rm).await {
                            Ok(()) => {
                                committed = true;
                                break;
                            }
                            Err(e) if e.code.as_str() == "MANIFEST_BLOB_UNKNOWN" => {
                                for b in [&rc, &ru] {
                                    let d: Digest = sha256(b).parse().unwrap();
                                    if reg.blob_size(&name, &d).await.unwrap().is_none() {
                                        log.revived_after_collection += 1;
                                        push_blob(&reg, &name, b, false).await;
                                    }
                                }
                            }
                            Err(e) => panic!("revive {name}:{tag}: {e}"),
                        }
                    }
                    assert!(committed, "revive {name}:{tag} never committed");
                    log.orphans.remove(&sha256(&rc));
                    log.orphans.remove(&sha256(&ru));
                    log.orphans.remove(&sha256(&rm));
                    log.revives += 1;
                    live.lock().unwrap().push((name.clone(), tag.clone()));
                    log.live.push((name.clone(), tag));
                }
                let config = content(t, i, "config", 200);
                let unique = content(t, i, "layer", 3000 + 97 * i);
                let sh = &shared[(t + i) % SHARED];
                let chunked = (t + i) % 2 == 0;
                push_blob(&reg, &name, &config, chunked).await;
                push_blob(&reg, &name, &unique, !chunked).await;
                let shd: Digest = sha256(sh).parse().unwrap();
                if i % 3 == 0 {
                    // Upload the shared layer again (refreshes it).
                    push_blob(&reg, &name, sh, chunked).await;
                } else {
                    assert!(
                        reg.blob_mount(&name, Some("storm/base"), &shd)
                            .await
                            .unwrap(),
                        "mount {shd}"
                    );
                }
                if i % 4 == 1 {
                    let orphan = content(t, i, "orphan", 500);
                    push_blob(&reg, &name, &orphan, chunked).await;
                    log.orphans.insert(sha256(&orphan));
                }
                if i % 5 == 2 {
                    // A pause between upload and manifest push, shorter than the grace.
                    tokio::time::sleep(Duration::from_millis(200 + 150 * (i as u64 % 4))).await;
                }
                let long_pause = i % 5 == 4;
                if long_pause {
                    // A pause longer than the grace: the blobs may be collected meanwhile,
                    // and then the push must be refused rather than committed.
                    let ms = grace.as_millis() as u64 + 100 * (t as u64 % 5);
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                let m = manifest(&config, &[&unique, sh], None);
                let tag = format!("i{i}");
                match put_retrying(&reg, &name, &tag, OCI_MANIFEST, &m).await {
                    Ok(()) => {}
                    Err(e) if long_pause && e.code.as_str() == "MANIFEST_BLOB_UNKNOWN" => {
                        log.refused += 1;
                        log.orphans.insert(sha256(&config));
                        log.orphans.insert(sha256(&unique));
                        continue;
                    }
                    Err(e) => panic!("push {name}:{tag}: {e}"),
                }
                if i % 7 == 3 {
                    // Deleted by digest: its config, unique layer and manifest are garbage.
                    reg.manifest_delete(&name, &sha256(&m)).await.unwrap();
                    log.orphans.insert(sha256(&config));
                    log.orphans.insert(sha256(&unique));
                    log.orphans.insert(sha256(&m));
                    pending = Some((config.clone(), unique.clone(), m.clone()));
                } else {
                    live.lock().unwrap().push((name.clone(), tag.clone()));
                    log.live.push((name.clone(), tag));
                    images.push(m);
                }
            }
            // An index over the first few live images, tagged.
            let children: Vec<&[u8]> = images.iter().take(3).map(|m| m.as_slice()).collect();
            let idx = index(&children);
            put_retrying(&reg, &name, "all", OCI_INDEX, &idx)
                .await
                .unwrap_or_else(|e| panic!("push index {name}: {e}"));
            live.lock().unwrap().push((name.clone(), "all".into()));
            log.live.push((name.clone(), "all".into()));
            log
        }));
    }
    let mut logs = Vec::new();
    for t in tasks {
        logs.push(t.await.unwrap());
    }
    // Let the collector run over the settled state a little more, then stop it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    done.store(true, Ordering::SeqCst);
    let mut reports = gc_task.await.unwrap();
    let pulls = puller.await.unwrap();
    assert!(
        reports.len() >= 3,
        "the collector ran {} times",
        reports.len()
    );
    assert!(pulls > 0);

    // Everything pushed and not deleted is whole.
    let reader = registry_on(second(), grace);
    let live: Vec<(String, String)> = logs.iter().flat_map(|l| l.live.clone()).collect();
    for (n, r) in &live {
        pull(&reader, n, r).await.unwrap();
    }
    pull(&reader, "storm/base", "latest").await.unwrap();

    // After the grace period, a final run frees every orphan, and nothing else.
    outlive(grace).await;
    slowed.delete_delay_ms.store(0, Ordering::SeqCst);
    reports.push(gc::collect(&gcr, &options(grace)).await.unwrap());
    let orphans: BTreeSet<String> = logs.iter().flat_map(|l| l.orphans.clone()).collect();
    let on_disk = blobs_in(&*storage).await;
    let leftover: Vec<&String> = on_disk.intersection(&orphans).collect();
    assert!(
        leftover.is_empty(),
        "orphans not freed: {leftover:?}; last run {:?}",
        reports.last()
    );
    let deleted: u64 = reports.iter().map(|r| r.blobs_deleted).sum();
    let revived: u64 = logs.iter().map(|l| l.revived_after_collection).sum();
    let refused: u64 = logs.iter().map(|l| l.refused).sum();
    let during: u64 = reports[..reports.len() - 1]
        .iter()
        .map(|r| r.blobs_deleted)
        .sum();
    eprintln!(
        "storm: {} collections, {during} blobs freed during the storm, {deleted} in all, \
         {} orphans, {revived} revived after collection, {refused} pushes refused, {pulls} pulls",
        reports.len(),
        orphans.len()
    );
    // Each orphan is freed once; a revived blob was freed before it was uploaded again;
    // a revived manifest's bytes may have been freed before the push wrote them again.
    let revives: u64 = logs.iter().map(|l| l.revives).sum();
    let least = orphans.len() as u64 + revived;
    assert!(
        (least..=least + revives).contains(&deleted),
        "{deleted} blobs freed; expected {least} to {}",
        least + revives
    );
    assert!(
        during > 0,
        "the collector freed nothing while the storm ran"
    );
    assert_eq!(
        reports.last().unwrap().blobs_kept,
        on_disk.len() as u64,
        "{:?}",
        reports.last()
    );
    for (n, r) in &live {
        pull(&reader, n, r).await.unwrap();
    }
    // A hang guard, not a benchmark: it took 40-140 s depending on the machine's load.
    assert!(
        started.elapsed() < Duration::from_secs(600),
        "storm took {:?}",
        started.elapsed()
    );
}

// ---- a stalled manifest push ----------------------------------------------------------

/// Storage that can stall the hold check writers make between refreshing a manifest's
/// references and committing it, and slow a collector's blob deletions down (widening the
/// window in which a collector has decided and not yet deleted).
struct Stalling {
    inner: Arc<dyn Storage>,
    stall_ms: AtomicU64,
    delete_delay_ms: AtomicU64,
}

impl Storage for Stalling {
    fn meta<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Option<Meta>, StorageError>> {
        self.inner.meta(key)
    }
    fn get<'a>(
        &'a self,
        key: &'a Key,
        range: Option<Range<u64>>,
    ) -> BoxFuture<'a, Result<ByteStream<'static>, StorageError>> {
        self.inner.get(key, range)
    }
    fn put<'a>(
        &'a self,
        key: &'a Key,
        body: ByteStream<'a>,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        self.inner.put(key, body)
    }
    fn append<'a>(
        &'a self,
        key: &'a Key,
        offset: u64,
        body: ByteStream<'a>,
    ) -> BoxFuture<'a, Result<u64, StorageError>> {
        self.inner.append(key, offset, body)
    }
    fn rename<'a>(&'a self, from: &'a Key, to: &'a Key) -> BoxFuture<'a, Result<(), StorageError>> {
        self.inner.rename(from, to)
    }
    fn delete<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<bool, StorageError>> {
        Box::pin(async move {
            let ms = self.delete_delay_ms.load(Ordering::SeqCst);
            if key.as_str().starts_with("blobs/") && ms > 0 {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            self.inner.delete(key).await
        })
    }
    fn list<'a>(&'a self, key: &'a Key) -> BoxFuture<'a, Result<Vec<String>, StorageError>> {
        Box::pin(async move {
            let ms = self.stall_ms.load(Ordering::SeqCst);
            if key.as_str() == "gc/holds" && ms > 0 {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            self.inner.list(key).await
        })
    }
}

#[tokio::test]
async fn stalled_manifest_push_is_refused_not_committed() {
    let dir = tempfile::tempdir().unwrap();
    let (inner, _s3) = new_storage(dir.path());
    let storage = Arc::new(Stalling {
        inner,
        stall_ms: AtomicU64::new(0),
        delete_delay_ms: AtomicU64::new(0),
    });
    let reg = Registry::new(storage.clone());
    let grace = Duration::from_millis(1000);
    reg.set_gc_grace(grace);
    let config = b"{\"stall\":1}".to_vec();
    let layer = vec![7u8; 4096];
    push_blob(&reg, "st/a", &config, false).await;
    push_blob(&reg, "st/a", &layer, true).await;
    let m = manifest(&config, &[&layer], None);

    // Stalled beyond half the grace between touching and committing: refused with a
    // retryable 503, and nothing is committed.
    storage.stall_ms.store(700, Ordering::SeqCst);
    let e = reg
        .manifest_put(
            "st/a",
            "v1",
            Some(OCI_MANIFEST),
            Bytes::from(m.clone()),
            &[],
        )
        .await
        .unwrap_err();
    let e = ApiError::from(e);
    assert_eq!(e.status, 503, "{e}");
    assert_eq!(reg.resolve("st/a", "v1").await.unwrap(), None);
    let d: Digest = sha256(&m).parse().unwrap();
    assert_eq!(reg.resolve("st/a", &d.to_string()).await.unwrap(), None);

    // A short stall is fine.
    storage.stall_ms.store(100, Ordering::SeqCst);
    reg.manifest_put(
        "st/a",
        "v1",
        Some(OCI_MANIFEST),
        Bytes::from(m.clone()),
        &[],
    )
    .await
    .unwrap();
    assert_eq!(reg.resolve("st/a", "v1").await.unwrap(), Some(d));
}

#[tokio::test]
async fn writers_wait_for_a_collectors_hold() {
    let dir = tempfile::tempdir().unwrap();
    let (storage, _s3) = new_storage(dir.path());
    let reg = Arc::new(registry_on(storage, Duration::from_secs(10)));
    let config = b"{\"hold\":1}".to_vec();
    let layer = vec![9u8; 2048];
    let cd = push_blob(&reg, "h/a", &config, false).await;
    let ld = push_blob(&reg, "h/a", &layer, false).await;
    let m = manifest(&config, &[&layer], None);
    let hold = Key::new("gc/holds/testrun-s0").unwrap();
    let storage = reg.storage().clone();

    // A hold on the layer: the push waits until it is released, then commits.
    registry::storage::put_bytes(&*storage, &hold, Bytes::from(format!("{ld}\n")))
        .await
        .unwrap();
    let t = Instant::now();
    let push = {
        let reg = reg.clone();
        let m = m.clone();
        tokio::spawn(async move {
            reg.manifest_put("h/a", "v1", Some(OCI_MANIFEST), Bytes::from(m), &[])
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!push.is_finished(), "the push did not wait for the hold");
    storage.delete(&hold).await.unwrap();
    push.await.unwrap().unwrap();
    assert!(t.elapsed() >= Duration::from_millis(300));

    // A collector deletes the config while holding it: the waiting push is refused with
    // MANIFEST_BLOB_UNKNOWN instead of committing a manifest whose blob is gone.
    let m2 = manifest(&config, &[], None);
    registry::storage::put_bytes(&*storage, &hold, Bytes::from(format!("{cd}\n")))
        .await
        .unwrap();
    let push = {
        let reg = reg.clone();
        let m2 = m2.clone();
        tokio::spawn(async move {
            reg.manifest_put("h/a", "v2", Some(OCI_MANIFEST), Bytes::from(m2), &[])
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let hex = cd.hex();
    storage
        .delete(&Key::new(format!("blobs/sha256/{}/{hex}", &hex[..2])).unwrap())
        .await
        .unwrap();
    storage
        .delete(&Key::new(format!("repositories/h/a/_layers/sha256/{hex}")).unwrap())
        .await
        .unwrap();
    storage.delete(&hold).await.unwrap();
    let e = ApiError::from(push.await.unwrap().unwrap_err());
    assert_eq!(e.code.as_str(), "MANIFEST_BLOB_UNKNOWN", "{e}");
    assert_eq!(reg.resolve("h/a", "v2").await.unwrap(), None);
}

// ---- reference extraction (pure) ----------------------------------------------------

#[test]
fn references_of_every_manifest_type() {
    let d = |c: char| format!("sha256:{}", std::iter::repeat_n(c, 64).collect::<String>());
    let docker_manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": d('a'), "size": 1},
        "layers": [
            {"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": d('b'), "size": 1},
            {"mediaType": "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", "digest": d('c'), "size": 1, "urls": ["https://example.com/c"]}
        ]
    });
    let docker_list = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": d('d'), "size": 1,
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "digest": d('e'), "size": 1,
             "platform": {"architecture": "arm64", "os": "linux"}}
        ]
    });
    let oci_manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": d('a'), "size": 1},
        "layers": [{"mediaType": OCI_LAYER, "digest": d('b'), "size": 1}],
        "annotations": {"digest": d('9')}
    });
    let oci_artifact = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": d('4'), "size": 2},
        "layers": [{"mediaType": "application/spdx+json", "digest": d('5'), "size": 1}],
        "subject": {"mediaType": OCI_MANIFEST, "digest": d('6'), "size": 1}
    });
    let oci_index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": d('d'), "size": 1},
            {"mediaType": OCI_INDEX, "digest": d('e'), "size": 1}
        ],
        "subject": {"mediaType": OCI_MANIFEST, "digest": d('6'), "size": 1}
    });
    let schema1 = json!({
        "schemaVersion": 1,
        "name": "x", "tag": "y", "architecture": "amd64",
        "fsLayers": [{"blobSum": d('7')}, {"blobSum": d('8')}],
        "history": []
    });
    type Case = (
        &'static str,
        Option<&'static str>,
        serde_json::Value,
        &'static [char],
        &'static [char],
        Option<char>,
    );
    let cases: Vec<Case> = vec![
        (
            "docker v2",
            Some("application/vnd.docker.distribution.manifest.v2+json"),
            docker_manifest.clone(),
            &['a', 'b', 'c'],
            &[],
            None,
        ),
        (
            "docker v2, no media type given",
            None,
            docker_manifest,
            &['a', 'b', 'c'],
            &[],
            None,
        ),
        (
            "docker list",
            Some("application/vnd.docker.distribution.manifest.list.v2+json"),
            docker_list,
            &[],
            &['d', 'e'],
            None,
        ),
        (
            "oci manifest (annotations ignored)",
            Some(OCI_MANIFEST),
            oci_manifest,
            &['a', 'b'],
            &[],
            None,
        ),
        (
            "oci artifact with subject",
            Some(OCI_MANIFEST),
            oci_artifact,
            &['4', '5'],
            &[],
            Some('6'),
        ),
        (
            "oci index with subject",
            Some(OCI_INDEX),
            oci_index,
            &[],
            &['d', 'e'],
            Some('6'),
        ),
        (
            "schema1 (unparsed: digests found anyway)",
            Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
            schema1,
            &['7', '8'],
            &[],
            None,
        ),
        ("not json", None, json!("just a string"), &[], &[], None),
    ];
    for (what, mt, v, blobs, manifests, subject) in cases {
        let refs = gc::references(mt, &serde_json::to_vec(&v).unwrap());
        let want_blobs: BTreeSet<Digest> = blobs.iter().map(|c| d(*c).parse().unwrap()).collect();
        let want_manifests: BTreeSet<Digest> =
            manifests.iter().map(|c| d(*c).parse().unwrap()).collect();
        assert_eq!(refs.blobs, want_blobs, "{what}: blobs");
        assert_eq!(refs.manifests, want_manifests, "{what}: manifests");
        assert_eq!(
            refs.subject,
            subject.map(|c| d(c).parse().unwrap()),
            "{what}: subject"
        );
    }
    assert_eq!(
        gc::references(None, b"{not json"),
        gc::References::default()
    );
}
