//! Fixtures for the archive tests: images built in memory, an in-memory source, a small
//! copy driver over the traits, and a hand-written OCI layout directory for skopeo.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use oci::{Descriptor, Digest, Index, Manifest, media};
use tokio::io::AsyncReadExt;
use transport::{BlobStream, ImageDestination, ImageSource, TransportError};

/// An uncompressed layer tar holding `files`.
pub fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// An image made in the test: config, layers and manifest bytes.
#[derive(Clone, Debug)]
pub struct TestImage {
    pub config: Bytes,
    /// `(blob bytes, uncompressed bytes, descriptor)` base first.
    pub layers: Vec<(Bytes, Bytes, Descriptor)>,
    pub manifest: Bytes,
    pub desc: Descriptor,
}

impl TestImage {
    /// An image whose layers hold `seed`-dependent files; gzip layers when `gz`; an OCI
    /// manifest when `oci_types`, else Docker schema2.
    pub fn new(seed: &str, layers: usize, gz: bool, oci_types: bool) -> TestImage {
        let mut built = Vec::new();
        let mut diff_ids = Vec::new();
        for i in 0..layers {
            let content = format!("{seed} layer {i}\n").repeat(100 + i);
            let raw = layer_tar(&[(&format!("file-{seed}-{i}.txt"), content.as_bytes())]);
            diff_ids.push(Digest::sha256_of(&raw).to_string());
            let blob = if gz { gzip(&raw) } else { raw.clone() };
            let mt = match (gz, oci_types) {
                (true, true) => media::OCI_LAYER_GZIP,
                (false, true) => media::OCI_LAYER,
                (true, false) => media::DOCKER_LAYER_GZIP,
                (false, false) => media::DOCKER_LAYER,
            };
            let d = Descriptor::of_bytes(mt, &blob);
            built.push((Bytes::from(blob), Bytes::from(raw), d));
        }
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Env": [format!("SEED={seed}")], "Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": format!("test {seed}")}],
        });
        let config = Bytes::from(serde_json::to_vec(&config).unwrap());
        let (cmt, mmt) = if oci_types {
            (media::OCI_CONFIG, media::OCI_MANIFEST)
        } else {
            (media::DOCKER_CONFIG, media::DOCKER_MANIFEST)
        };
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(mmt.to_string()),
            artifact_type: None,
            config: Descriptor::of_bytes(cmt, &config),
            layers: built.iter().map(|l| l.2.clone()).collect(),
            subject: None,
            annotations: BTreeMap::new(),
        };
        let manifest = Bytes::from(manifest.to_vec());
        let desc = Descriptor::of_bytes(mmt, &manifest);
        TestImage {
            config,
            layers: built,
            manifest,
            desc,
        }
    }

    pub fn parsed(&self) -> Manifest {
        Manifest::from_slice(&self.manifest).unwrap()
    }

    /// This image as an in-memory source.
    pub fn source(&self) -> MemSource {
        let m = self.parsed();
        let mut blobs = HashMap::new();
        blobs.insert(m.config.digest.clone(), self.config.clone());
        for (b, _, d) in &self.layers {
            blobs.insert(d.digest.clone(), b.clone());
        }
        MemSource {
            top: self.desc.clone(),
            manifests: HashMap::from([(self.desc.digest.clone(), self.manifest.clone())]),
            blobs,
        }
    }

    pub fn diff_ids(&self) -> Vec<Digest> {
        self.layers
            .iter()
            .map(|(_, raw, _)| Digest::sha256_of(raw))
            .collect()
    }
}

/// An image source over bytes in memory.
pub struct MemSource {
    pub top: Descriptor,
    pub manifests: HashMap<Digest, Bytes>,
    pub blobs: HashMap<Digest, Bytes>,
}

impl ImageSource for MemSource {
    async fn resolve(&self) -> Result<Descriptor, TransportError> {
        Ok(self.top.clone())
    }
    async fn manifest(&self, d: &Descriptor) -> Result<Bytes, TransportError> {
        self.manifests
            .get(&d.digest)
            .cloned()
            .ok_or(TransportError::NotFound {
                what: d.digest.to_string(),
            })
    }
    async fn blob(&self, d: &Descriptor, offset: u64) -> Result<BlobStream, TransportError> {
        let b = self.blobs.get(&d.digest).ok_or(TransportError::NotFound {
            what: d.digest.to_string(),
        })?;
        Ok(Box::pin(std::io::Cursor::new(b.slice(offset as usize..))))
    }
}

/// What was read from a source: manifest bytes and parsed, config and layer blobs, all
/// verified against their digests.
pub struct ReadImage {
    pub desc: Descriptor,
    pub manifest_bytes: Bytes,
    pub manifest: Manifest,
    pub config: Bytes,
    pub layers: Vec<Bytes>,
}

pub async fn read_blob(src: &impl ImageSource, d: &Descriptor) -> Result<Bytes, TransportError> {
    let mut s = src.blob(d, 0).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)
        .await
        .map_err(|source| TransportError::Stream {
            what: d.digest.to_string(),
            source,
        })?;
    if buf.len() as u64 != d.size {
        return Err(TransportError::SizeMismatch {
            what: d.digest.to_string(),
            expected: d.size,
            actual: buf.len() as u64,
        });
    }
    let actual = Digest::sha256_of(&buf);
    if actual != d.digest {
        return Err(TransportError::DigestMismatch {
            what: d.digest.to_string(),
            expected: d.digest.clone(),
            actual,
        });
    }
    Ok(Bytes::from(buf))
}

/// Reads and verifies a whole single-manifest image.
pub async fn read_image(src: &impl ImageSource) -> Result<ReadImage, TransportError> {
    let desc = src.resolve().await?;
    let manifest_bytes = src.manifest(&desc).await?;
    assert_eq!(
        Digest::sha256_of(&manifest_bytes),
        desc.digest,
        "manifest digest"
    );
    assert_eq!(manifest_bytes.len() as u64, desc.size, "manifest size");
    let manifest = Manifest::from_slice(&manifest_bytes)?;
    let config = read_blob(src, &manifest.config).await?;
    let mut layers = Vec::new();
    for l in &manifest.layers {
        layers.push(read_blob(src, l).await?);
    }
    Ok(ReadImage {
        desc,
        manifest_bytes,
        manifest,
        config,
        layers,
    })
}

/// Copies one single-manifest image through the traits (no commit).
pub async fn copy_image(
    src: &impl ImageSource,
    dst: &impl ImageDestination,
    tag: Option<&str>,
) -> Result<Descriptor, TransportError> {
    let top = src.resolve().await?;
    let bytes = src.manifest(&top).await?;
    let m = Manifest::from_slice(&bytes)?;
    for d in std::iter::once(&m.config).chain(&m.layers) {
        if !dst.has_blob(d).await? {
            let s = src.blob(d, 0).await?;
            dst.put_blob(d, s).await?;
        }
    }
    dst.put_manifest(&top, bytes, tag).await?;
    Ok(top)
}

/// Writes an OCI layout directory by hand holding `images` as `(image, tag)`.
pub fn write_layout(dir: &Path, images: &[(&TestImage, &str)]) {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let mut entries = Vec::new();
    for (img, tag) in images {
        let m = img.parsed();
        std::fs::write(blobs.join(m.config.digest.hex()), &img.config).unwrap();
        for (b, _, d) in &img.layers {
            std::fs::write(blobs.join(d.digest.hex()), b).unwrap();
        }
        std::fs::write(blobs.join(img.desc.digest.hex()), &img.manifest).unwrap();
        let mut d = img.desc.clone();
        d.annotations
            .insert("org.opencontainers.image.ref.name".into(), tag.to_string());
        entries.push(d);
    }
    let index = Index {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.to_string()),
        artifact_type: None,
        manifests: entries,
        subject: None,
        annotations: BTreeMap::new(),
    };
    std::fs::write(dir.join("index.json"), index.to_vec()).unwrap();
}

/// Lists a tar's entries (path, type, link target).
pub fn tar_listing(path: &Path) -> Vec<(String, tar::EntryType, Option<String>)> {
    let f = std::fs::File::open(path).unwrap();
    let mut a = tar::Archive::new(f);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                e.header().entry_type(),
                e.link_name()
                    .unwrap()
                    .map(|l| l.to_string_lossy().into_owned()),
            )
        })
        .collect()
}

/// Reads one file out of a tar.
pub fn tar_file(path: &Path, name: &str) -> Vec<u8> {
    use std::io::Read;
    let f = std::fs::File::open(path).unwrap();
    let mut a = tar::Archive::new(f);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy() == name {
            let mut v = Vec::new();
            e.read_to_end(&mut v).unwrap();
            return v;
        }
    }
    panic!("{name} not in {}", path.display());
}

/// Builds a tar from `(path, content)` files and `(path, target)` symlinks.
pub fn build_tar(files: &[(&str, &[u8])], symlinks: &[(&str, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    for (name, target) in symlinks {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_mode(0o777);
        b.append_link(&mut h, name, target).unwrap();
    }
    b.into_inner().unwrap()
}
