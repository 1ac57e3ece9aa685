//! Fixture images built in the test: configs, tar layers, manifests, indexes and layouts,
//! plus sources that misbehave on purpose.

#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use oci::{Descriptor, Digest, Platform, media};
use tokio::io::{AsyncRead, ReadBuf};
use transport::{BlobStream, ImageSource, LayoutSource, OciLayout, TransportError};

/// A tar with these regular files.
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(0);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Writes `bytes` as a blob of the layout at `root`.
pub fn put_blob(root: &Path, media_type: &str, bytes: &[u8]) -> Descriptor {
    let d = Descriptor::of_bytes(media_type, bytes);
    let dir = root.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(d.digest.hex()), bytes).unwrap();
    d
}

/// An image with one gzip layer holding `files`, for `arch`; returns its manifest
/// descriptor (with the platform set, for use in an index) and its layer descriptor.
pub fn image(root: &Path, arch: &str, files: &[(&str, &[u8])]) -> (Descriptor, Descriptor) {
    let tar = tar_of(files);
    let diff_id = Digest::sha256_of(&tar);
    let layer = put_blob(root, media::OCI_LAYER_GZIP, &gzip(&tar));
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "config": { "Cmd": ["/bin/sh"] },
        "rootfs": { "type": "layers", "diff_ids": [diff_id.to_string()] },
        "history": [{ "created_by": "test" }],
    });
    let config = put_blob(
        root,
        media::OCI_CONFIG,
        &serde_json::to_vec(&config).unwrap(),
    );
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": config,
        "layers": [layer],
    });
    let mut m = put_blob(
        root,
        media::OCI_MANIFEST,
        &serde_json::to_vec_pretty(&manifest).unwrap(),
    );
    m.platform = Some(Platform {
        os: "linux".into(),
        architecture: arch.into(),
        ..Platform::default()
    });
    (m, layer)
}

/// An index over `manifests` (pretty-printed, so a re-serialisation would change it).
pub fn index(root: &Path, manifests: &[Descriptor]) -> Descriptor {
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_INDEX,
        "manifests": manifests,
    });
    put_blob(
        root,
        media::OCI_INDEX,
        &serde_json::to_vec_pretty(&index).unwrap(),
    )
}

/// Makes `root` a layout whose index.json lists `entries` with their names.
pub fn layout(root: &Path, entries: &[(Descriptor, Option<&str>)]) -> OciLayout {
    std::fs::create_dir_all(root.join("blobs/sha256")).unwrap();
    std::fs::write(
        root.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    let manifests: Vec<Descriptor> = entries
        .iter()
        .map(|(d, name)| {
            let mut d = d.clone();
            d.platform = None;
            if let Some(n) = name {
                d.annotations
                    .insert(transport::REF_NAME_ANNOTATION.into(), n.to_string());
            }
            d
        })
        .collect();
    let index = serde_json::json!({ "schemaVersion": 2, "manifests": manifests });
    std::fs::write(root.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    OciLayout::open(root).unwrap()
}

/// The parsed index.json of a layout.
pub fn index_json(root: &Path) -> oci::Index {
    oci::Index::from_slice(&std::fs::read(root.join("index.json")).unwrap()).unwrap()
}

/// The names of the files in `blobs/sha256` (temp files included).
pub fn blob_files(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("blobs/sha256"))
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

pub fn path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// How a [`Misbehaving`] source lies about one blob.
#[derive(Debug, Clone)]
pub enum Lie {
    /// Serves these bytes instead.
    Bytes(Vec<u8>),
    /// Serves these bytes as the manifest instead.
    Manifest(Vec<u8>),
    /// The first `times` streams fail with a connection reset after `after` bytes.
    FailAfter { after: usize, times: usize },
    /// Cannot start a blob at an offset (as a registry without range support).
    NoRange,
}

/// A layout source that lies about the blob `target`.
pub struct Misbehaving {
    pub inner: LayoutSource,
    pub target: Digest,
    pub lie: Lie,
    pub failures: AtomicUsize,
    pub offsets: Mutex<Vec<u64>>,
}

impl Misbehaving {
    pub fn new(inner: LayoutSource, target: Digest, lie: Lie) -> Misbehaving {
        Misbehaving {
            inner,
            target,
            lie,
            failures: AtomicUsize::new(0),
            offsets: Mutex::new(Vec::new()),
        }
    }
}

impl ImageSource for Misbehaving {
    async fn resolve(&self) -> Result<Descriptor, TransportError> {
        self.inner.resolve().await
    }

    async fn manifest(&self, d: &Descriptor) -> Result<Bytes, TransportError> {
        match &self.lie {
            Lie::Manifest(b) if d.digest == self.target => Ok(Bytes::from(b.clone())),
            _ => self.inner.manifest(d).await,
        }
    }

    async fn blob(&self, d: &Descriptor, offset: u64) -> Result<BlobStream, TransportError> {
        if d.digest != self.target {
            return self.inner.blob(d, offset).await;
        }
        self.offsets.lock().unwrap().push(offset);
        match &self.lie {
            Lie::Bytes(b) => Ok(Box::pin(std::io::Cursor::new(b.clone()))),
            Lie::Manifest(_) => self.inner.blob(d, offset).await,
            Lie::NoRange if offset > 0 => Err(TransportError::RangeUnsupported),
            Lie::NoRange => self.inner.blob(d, offset).await,
            Lie::FailAfter { after, times } => {
                let inner = self.inner.blob(d, offset).await?;
                if self.failures.fetch_add(1, Ordering::SeqCst) < *times {
                    Ok(Box::pin(Breaking {
                        inner,
                        left: *after,
                    }))
                } else {
                    Ok(inner)
                }
            }
        }
    }
}

/// Passes `left` bytes on, then fails as a dropped connection would.
struct Breaking {
    inner: BlobStream,
    left: usize,
}

impl AsyncRead for Breaking {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.left == 0 {
            return Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "connection reset by test",
            )));
        }
        let want = self.left.min(buf.remaining());
        let mut tmp = vec![0u8; want];
        let mut rb = ReadBuf::new(&mut tmp);
        match self.inner.as_mut().poll_read(cx, &mut rb) {
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                buf.put_slice(rb.filled());
                self.left -= n;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

/// A destination that keeps everything in memory and checks nothing itself, so only the
/// copy engine's own verification stands between a lying source and it. It counts how
/// many blob writes run at once.
#[derive(Default)]
pub struct Sink {
    pub blobs: Mutex<std::collections::HashMap<Digest, Vec<u8>>>,
    pub manifests: Mutex<Vec<(Descriptor, Option<String>)>>,
    pub active: AtomicUsize,
    pub max_active: AtomicUsize,
    pub delay_ms: u64,
    pub commits: AtomicUsize,
    /// Blobs a cross-repository mount finds; `mount_blob` records the repositories asked.
    pub mountable: Vec<Digest>,
    pub mounts_from: Mutex<Vec<String>>,
}

impl transport::ImageDestination for Sink {
    async fn has_blob(&self, d: &Descriptor) -> Result<bool, TransportError> {
        Ok(self.blobs.lock().unwrap().contains_key(&d.digest))
    }

    async fn mount_blob(&self, d: &Descriptor, from_repo: &str) -> Result<bool, TransportError> {
        self.mounts_from.lock().unwrap().push(from_repo.to_string());
        if self.mountable.contains(&d.digest) {
            self.blobs
                .lock()
                .unwrap()
                .insert(d.digest.clone(), Vec::new());
            return Ok(true);
        }
        Ok(false)
    }

    async fn put_blob(&self, d: &Descriptor, mut stream: BlobStream) -> Result<(), TransportError> {
        use tokio::io::AsyncReadExt;
        let now = self.active.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_active.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(self.delay_ms)).await;
        let mut data = Vec::new();
        let read = stream.read_to_end(&mut data).await;
        self.active.fetch_sub(1, Ordering::SeqCst);
        read.map_err(|source| TransportError::Stream {
            what: "sink".into(),
            source,
        })?;
        self.blobs.lock().unwrap().insert(d.digest.clone(), data);
        Ok(())
    }

    async fn put_manifest(
        &self,
        d: &Descriptor,
        _bytes: Bytes,
        tag: Option<&str>,
    ) -> Result<(), TransportError> {
        self.manifests
            .lock()
            .unwrap()
            .push((d.clone(), tag.map(str::to_string)));
        Ok(())
    }

    async fn commit(&self) -> Result<(), TransportError> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// `n` bytes that gzip cannot shrink (xorshift).
pub fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
