//! Test images built by hand, as bytes: tar layers, configs, manifests, indexes and OCI
//! layout directories. Nothing here uses strata's own code, so tests check strata against
//! an independent writer.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// `sha256:<hex>` of bytes.
pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// An uncompressed tar with the given regular files (mode 0644, mtime 0) and their parent dirs.
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut dirs = std::collections::BTreeSet::new();
    for (name, _) in files {
        let mut p = Path::new(name).parent();
        while let Some(d) = p.filter(|d| !d.as_os_str().is_empty()) {
            dirs.insert(d.to_path_buf());
            p = d.parent();
        }
    }
    for d in dirs {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_mtime(0);
        b.append_data(&mut h, format!("{}/", d.display()), std::io::empty())
            .unwrap();
    }
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(0);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// gzip of bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A descriptor as JSON.
pub fn desc(media_type: &str, data: &[u8]) -> Value {
    json!({"mediaType": media_type, "digest": sha256(data), "size": data.len()})
}

/// Pseudo-random bytes (incompressible, deterministic).
pub fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// One image: its layers (uncompressed tars), made into gzip blobs, a config and a manifest.
pub struct TestImage {
    /// gzip layer blobs.
    pub layers: Vec<Vec<u8>>,
    /// Config bytes.
    pub config: Vec<u8>,
    /// Manifest bytes.
    pub manifest: Vec<u8>,
}

impl TestImage {
    /// An OCI image for `arch` whose layers hold `layers` (each a list of files).
    pub fn new(arch: &str, layers: &[&[(&str, &[u8])]]) -> TestImage {
        let tars: Vec<Vec<u8>> = layers.iter().map(|files| tar_of(files)).collect();
        TestImage::from_tars(arch, &tars)
    }

    /// An OCI image for `arch` whose layers are these uncompressed tars.
    pub fn from_tars(arch: &str, tars: &[Vec<u8>]) -> TestImage {
        let gz: Vec<Vec<u8>> = tars.iter().map(|t| gzip(t)).collect();
        let diff_ids: Vec<String> = tars.iter().map(|t| sha256(t)).collect();
        let config = serde_json::to_vec(&json!({
            "architecture": arch, "os": "linux",
            "created": "2024-01-02T03:04:05Z",
            "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"], "Labels": {"test": arch}},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": diff_ids.iter().map(|_| json!({"created": "2024-01-02T03:04:05Z", "created_by": "test layer"})).collect::<Vec<_>>(),
        }))
        .unwrap();
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": desc("application/vnd.oci.image.config.v1+json", &config),
            "layers": gz.iter().map(|l| desc("application/vnd.oci.image.layer.v1.tar+gzip", l)).collect::<Vec<_>>(),
        }))
        .unwrap();
        TestImage {
            layers: gz,
            config,
            manifest,
        }
    }

    /// The manifest's digest.
    pub fn digest(&self) -> String {
        sha256(&self.manifest)
    }

    /// The config digest = Docker's image ID.
    pub fn id(&self) -> String {
        sha256(&self.config)
    }
}

/// An OCI image layout directory being written by a test.
pub struct Layout {
    /// Its path.
    pub dir: PathBuf,
    entries: Vec<Value>,
}

impl Layout {
    /// Creates the directory structure.
    pub fn create(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_path_buf(),
            entries: Vec::new(),
        }
    }

    /// Writes a blob; returns its digest.
    pub fn blob(&self, data: &[u8]) -> String {
        let d = sha256(data);
        std::fs::write(self.dir.join("blobs/sha256").join(&d[7..]), data).unwrap();
        d
    }

    /// Writes an image's blobs; returns its manifest descriptor.
    pub fn image(&self, img: &TestImage) -> Value {
        for l in &img.layers {
            self.blob(l);
        }
        self.blob(&img.config);
        self.blob(&img.manifest);
        desc("application/vnd.oci.image.manifest.v1+json", &img.manifest)
    }

    /// Writes an index over `(image, arch)` pairs; returns (index bytes, its descriptor).
    pub fn index(&self, images: &[(&TestImage, &str)]) -> (Vec<u8>, Value) {
        let manifests: Vec<Value> = images
            .iter()
            .map(|(img, arch)| {
                let mut d = self.image(img);
                d["platform"] = json!({"os": "linux", "architecture": arch});
                d
            })
            .collect();
        let bytes = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        }))
        .unwrap();
        self.blob(&bytes);
        let d = desc("application/vnd.oci.image.index.v1+json", &bytes);
        (bytes, d)
    }

    /// Names a descriptor in index.json (as `org.opencontainers.image.ref.name`).
    pub fn tag(&mut self, mut d: Value, name: &str) {
        d["annotations"] = json!({"org.opencontainers.image.ref.name": name});
        self.entries.push(d);
        let index = json!({"schemaVersion": 2, "manifests": self.entries});
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).unwrap(),
        )
        .unwrap();
    }
}

/// Every regular file of a gzip, zstd or plain layer tar as (path, contents), paths without `./`.
pub fn layer_files(layer: &[u8]) -> Vec<(String, Vec<u8>)> {
    use std::io::Read;
    let reader: Box<dyn Read> = if layer.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(layer))
    } else if layer.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Box::new(zstd::stream::read::Decoder::new(layer).unwrap())
    } else {
        Box::new(layer)
    };
    let mut out = Vec::new();
    let mut a = tar::Archive::new(reader);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type().is_file() {
            let p = e
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            out.push((p, data));
        }
    }
    out
}

/// The bytes of a small deterministic rootfs tar: /etc/hello and `extra` as /etc/extra.
pub fn rootfs_bytes(extra: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8], kind: tar::EntryType| {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append_data(&mut h, path, data).expect("append");
    };
    add("etc/", b"", tar::EntryType::Directory);
    add("etc/hello", b"hello\n", tar::EntryType::Regular);
    add("etc/extra", extra.as_bytes(), tar::EntryType::Regular);
    b.into_inner().expect("finish tar")
}

/// Checks an import's output (`sha256:<64 hex>\n`) and returns the ID.
pub fn image_id(stdout: &str) -> String {
    let id = stdout.trim_end();
    assert!(
        id.len() == 71 && id.starts_with("sha256:") && stdout.ends_with('\n'),
        "not an image ID: {stdout:?}"
    );
    id.to_string()
}

/// What becomes of a member's data (`None` drops the member).
pub type Rewrite<'a> = &'a dyn Fn(&str, &[u8]) -> Option<Vec<u8>>;

/// `tar` with each member's data passed through `f`.
pub fn rewrite(tar: &[u8], f: Rewrite<'_>) -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    for entry in tar::Archive::new(tar).entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        if let Some(data) = f(&name, &data) {
            let mut h = entry.header().clone();
            h.set_size(data.len() as u64);
            h.set_cksum();
            out.append(&h, &data[..]).unwrap();
        }
    }
    out.into_inner().unwrap()
}
