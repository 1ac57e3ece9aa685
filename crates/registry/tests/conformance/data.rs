//! Test data of the conformance suite: random blobs, gzip'd tar layers, image configs,
//! image manifests and indexes, shaped as `conformance/testdata.go` and `run.go`'s
//! `GenerateData` shape them (same options, same propagation of options from an index to
//! its child images).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use serde_json::{Map, Value, json};
use sha2::Digest as _;

pub const MT_EXAMPLE_CONF1: &str = "application/vnd.example.oci.conformance.v1";
pub const MT_EXAMPLE_CONF2: &str = "application/vnd.example.oci.conformance.v2";
pub const MT_OCTET_STREAM: &str = "application/octet-stream";
pub const MT_OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const MT_OCI_IMAGE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MT_OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MT_OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MT_OCI_LAYER_PRE: &str = "application/vnd.oci.image.layer.v1.";
pub const MT_OCI_LAYER_GZ: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MT_OCI_LAYER_ND: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
pub const MT_OCI_LAYER_ND_GZ: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
pub const MT_OCI_EMPTY_JSON: &str = "application/vnd.oci.empty.v1+json";

/// Digest algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algo {
    Sha256,
    Sha512,
}

impl Algo {
    pub fn name(self) -> &'static str {
        match self {
            Algo::Sha256 => "sha256",
            Algo::Sha512 => "sha512",
        }
    }

    pub fn digest(self, b: &[u8]) -> String {
        match self {
            Algo::Sha256 => format!("sha256:{}", hex::encode(sha2::Sha256::digest(b))),
            Algo::Sha512 => format!("sha512:{}", hex::encode(sha2::Sha512::digest(b))),
        }
    }

    pub fn of(digest: &str) -> Algo {
        if digest.starts_with("sha512:") {
            Algo::Sha512
        } else {
            Algo::Sha256
        }
    }
}

// ---- randomness (no rand crate in this workspace: splitmix64 over a seeded counter) ----

fn rand_u64() -> u64 {
    static SEED: OnceLock<u64> = OnceLock::new();
    static CTR: AtomicU64 = AtomicU64::new(0);
    let seed = *SEED.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        t ^ (u64::from(std::process::id()) << 32)
    });
    let mut z = seed.wrapping_add(
        CTR.fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15),
    );
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

pub fn rand_bytes(n: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        v.extend_from_slice(&rand_u64().to_le_bytes());
    }
    v.truncate(n);
    v
}

/// Like Go's `crypto/rand.Text()`: 26 characters of base32.
pub fn rand_text() -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    (0..26)
        .map(|_| A[(rand_u64() % 32) as usize] as char)
        .collect()
}

// ---- descriptors -----------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
}

pub fn plat(os: &str, arch: &str) -> Platform {
    Platform {
        os: os.into(),
        architecture: arch.into(),
    }
}

#[derive(Clone, Debug, Default)]
pub struct Desc {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub urls: Vec<String>,
    pub annotations: BTreeMap<String, String>,
    pub data: Option<Vec<u8>>,
    pub platform: Option<Platform>,
    pub artifact_type: String,
}

impl Desc {
    pub fn new(media_type: &str, digest: &str, size: u64) -> Desc {
        Desc {
            media_type: media_type.into(),
            digest: digest.into(),
            size,
            ..Desc::default()
        }
    }

    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("mediaType".into(), json!(self.media_type));
        m.insert("digest".into(), json!(self.digest));
        m.insert("size".into(), json!(self.size));
        if !self.urls.is_empty() {
            m.insert("urls".into(), json!(self.urls));
        }
        if !self.annotations.is_empty() {
            m.insert("annotations".into(), json!(self.annotations));
        }
        if let Some(d) = &self.data {
            m.insert(
                "data".into(),
                json!(base64::engine::general_purpose::STANDARD.encode(d)),
            );
        }
        if let Some(p) = &self.platform {
            m.insert(
                "platform".into(),
                json!({"architecture": p.architecture, "os": p.os}),
            );
        }
        if !self.artifact_type.is_empty() {
            m.insert("artifactType".into(), json!(self.artifact_type));
        }
        Value::Object(m)
    }
}

// ---- generator options (genOptS) -------------------------------------------------------

#[derive(Clone, Default)]
pub struct Gen {
    pub algo: Option<Algo>,
    pub annotations: Option<BTreeMap<String, String>>,
    pub annotation_uniq: bool,
    pub artifact_type: Option<String>,
    pub blob_size: Option<usize>,
    pub uncompressed: bool,
    pub config_bytes: Option<Vec<u8>>,
    pub config_media_type: Option<String>,
    pub descriptor_media_type: Option<String>,
    pub extra_field: bool,
    pub layer_bytes: Option<Vec<u8>>,
    pub layer_count: Option<usize>,
    pub layer_media_type: Option<String>,
    pub platform: Option<Platform>,
    pub platforms: Option<Vec<Option<Platform>>>,
    pub set_data: bool,
    pub subject: Option<Desc>,
    pub tag: Option<String>,
}

impl Gen {
    pub fn tag(mut self, t: &str) -> Gen {
        self.tag = Some(t.into());
        self
    }
    pub fn algo(mut self, a: Algo) -> Gen {
        self.algo = Some(a);
        self
    }
    pub fn size(mut self, n: usize) -> Gen {
        self.blob_size = Some(n);
        self
    }
    pub fn platforms(mut self, p: Vec<Option<Platform>>) -> Gen {
        self.platforms = Some(p);
        self
    }
    pub fn two_platforms(self) -> Gen {
        self.platforms(vec![
            Some(plat("linux", "amd64")),
            Some(plat("linux", "arm64")),
        ])
    }
    pub fn artifact(mut self, artifact_type: &str, layer_media_type: &str) -> Gen {
        self.artifact_type = Some(artifact_type.into());
        self.config_media_type = Some(MT_OCI_EMPTY_JSON.into());
        self.config_bytes = Some(b"{}".to_vec());
        self.layer_count = Some(1);
        self.layer_media_type = Some(layer_media_type.into());
        self
    }
    pub fn conformance_annotation(mut self) -> Gen {
        let mut a = self.annotations.take().unwrap_or_default();
        a.insert(
            "org.opencontainers.conformance".into(),
            "hello conformance test".into(),
        );
        self.annotations = Some(a);
        self.annotation_uniq = true;
        self
    }
    fn algo_or_default(&self) -> Algo {
        self.algo.unwrap_or(Algo::Sha256)
    }
}

fn with_extra_field(mut v: Value) -> Value {
    if let Value::Object(m) = &mut v {
        m.insert(format!("org.{}", rand_text()), json!(rand_text()));
    }
    v
}

// ---- test data sets --------------------------------------------------------------------

/// One data set (`testData`).
#[derive(Default)]
pub struct TestData {
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub tag_pushed: HashSet<String>,
    pub desc: HashMap<String, Desc>,
    pub blobs: BTreeMap<String, Vec<u8>>,
    pub manifests: HashMap<String, Vec<u8>>,
    pub man_order: Vec<String>,
    pub referrers: BTreeMap<String, Vec<Desc>>,
    /// Manifests not to pull (`SkipPullTest`).
    pub skip_pull: HashSet<String>,
    /// Manifests whose push must be refused (`ExpectBadDigest`).
    pub bad_digest: HashSet<String>,
    /// Manifests pushed by digest with `?tag=` parameters (`TagParam`).
    pub tag_param: HashSet<String>,
}

impl TestData {
    pub fn new(name: &str) -> TestData {
        TestData {
            name: name.into(),
            ..TestData::default()
        }
    }

    pub fn add_blob(&mut self, b: Vec<u8>, g: &Gen) -> String {
        let dig = g.algo_or_default().digest(&b);
        let mt = g
            .descriptor_media_type
            .clone()
            .unwrap_or_else(|| MT_OCTET_STREAM.into());
        let mut d = Desc::new(&mt, &dig, b.len() as u64);
        if g.set_data {
            d.data = Some(b.clone());
        }
        self.desc.insert(dig.clone(), d);
        self.blobs.insert(dig.clone(), b);
        dig
    }

    pub fn gen_blob(&mut self, g: &Gen) -> (String, Vec<u8>) {
        let b = rand_bytes(g.blob_size.unwrap_or(2048));
        let dig = self.add_blob(b.clone(), g);
        (dig, b)
    }

    /// A tar layer with one file; returns (compressed digest, uncompressed digest).
    pub fn gen_layer(&mut self, file_num: usize, g: &Gen) -> (String, String) {
        let algo = g.algo_or_default();
        let content = format!(
            "Conformance test file contents for file number {file_num}.\nTodays lucky number is {}\n",
            rand_u64() >> 1
        );
        let mut tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(
            &mut h,
            format!("./conformance-{file_num}.txt"),
            content.as_bytes(),
        )
        .expect("tar append");
        let uncomp = tar.into_inner().expect("tar finish");
        let (body, mt) = if g.uncompressed {
            (uncomp.clone(), MT_OCI_LAYER)
        } else {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&uncomp).expect("gzip");
            (gz.finish().expect("gzip finish"), MT_OCI_LAYER_GZ)
        };
        let dig_c = algo.digest(&body);
        let dig_u = algo.digest(&uncomp);
        let mut dc = Desc::new(mt, &dig_c, body.len() as u64);
        if g.set_data {
            dc.data = Some(body.clone());
        }
        self.desc.insert(dig_c.clone(), dc);
        self.blobs.insert(dig_c.clone(), body);
        if !self.desc.contains_key(&dig_u) {
            let mut du = Desc::new(MT_OCI_LAYER, &dig_u, uncomp.len() as u64);
            if g.set_data {
                du.data = Some(uncomp.clone());
            }
            self.desc.insert(dig_u.clone(), du);
        }
        (dig_c, dig_u)
    }

    pub fn gen_config(&mut self, p: &Platform, diff_ids: &[String], g: &Gen) -> String {
        let algo = g.algo_or_default();
        let mut v = json!({
            "author": "OCI Conformance Test",
            "architecture": p.architecture,
            "os": p.os,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        if g.extra_field {
            v = with_extra_field(v);
        }
        let body = serde_json::to_vec(&v).expect("json");
        let dig = algo.digest(&body);
        let mt = g
            .config_media_type
            .clone()
            .unwrap_or_else(|| MT_OCI_CONFIG.into());
        let mut d = Desc::new(&mt, &dig, body.len() as u64);
        if g.set_data {
            d.data = Some(body.clone());
        }
        self.desc.insert(dig.clone(), d);
        self.blobs.insert(dig.clone(), body);
        dig
    }

    fn annotations_for(g: &Gen) -> BTreeMap<String, String> {
        let mut a = g.annotations.clone().unwrap_or_default();
        if g.annotation_uniq {
            a.insert(format!("org.example.{}", rand_text()), rand_text());
        }
        a
    }

    fn register(
        &mut self,
        body: Vec<u8>,
        mt: &str,
        at: &str,
        annotations: BTreeMap<String, String>,
        g: &Gen,
    ) -> String {
        let dig = g.algo_or_default().digest(&body);
        let mut d = Desc::new(mt, &dig, body.len() as u64);
        if g.set_data {
            d.data = Some(body.clone());
        }
        self.desc.insert(dig.clone(), d);
        if let Some(s) = &g.subject {
            let mut r = Desc::new(mt, &dig, body.len() as u64);
            r.artifact_type = at.into();
            r.annotations = annotations;
            self.referrers.entry(s.digest.clone()).or_default().push(r);
        }
        if let Some(t) = &g.tag {
            self.tags.insert(t.clone(), dig.clone());
        }
        self.manifests.insert(dig.clone(), body);
        self.man_order.push(dig.clone());
        dig
    }

    pub fn gen_manifest(&mut self, conf: &Desc, layers: &[Desc], g: &Gen) -> String {
        let mut m = Map::new();
        m.insert("schemaVersion".into(), json!(2));
        m.insert("mediaType".into(), json!(MT_OCI_IMAGE));
        if let Some(at) = &g.artifact_type {
            m.insert("artifactType".into(), json!(at));
        }
        m.insert("config".into(), conf.to_json());
        m.insert(
            "layers".into(),
            Value::Array(layers.iter().map(Desc::to_json).collect()),
        );
        if let Some(s) = &g.subject {
            m.insert("subject".into(), s.to_json());
        }
        let annotations = Self::annotations_for(g);
        if !annotations.is_empty() {
            m.insert("annotations".into(), json!(annotations));
        }
        let mut v = Value::Object(m);
        if g.extra_field {
            v = with_extra_field(v);
        }
        let body = serde_json::to_vec(&v).expect("json");
        let at = g
            .artifact_type
            .clone()
            .unwrap_or_else(|| conf.media_type.clone());
        self.register(body, MT_OCI_IMAGE, &at, annotations, g)
    }

    /// An image with layers and a config (`genManifestFull`).
    pub fn gen_manifest_full(&mut self, g: &Gen) -> String {
        let layer_count = g.layer_count.unwrap_or(2);
        let platform = g.platform.clone().unwrap_or_else(|| plat("linux", "amd64"));
        let mut comp = Vec::new();
        let mut uncomp = Vec::new();
        for l in 0..layer_count {
            match &g.layer_media_type {
                Some(lmt) if !lmt.starts_with(MT_OCI_LAYER_PRE) => {
                    let mut lg = g.clone();
                    lg.descriptor_media_type = Some(lmt.clone());
                    let dig = match &g.layer_bytes {
                        Some(b) => self.add_blob(b.clone(), &lg),
                        None => self.gen_blob(&lg).0,
                    };
                    comp.push(dig.clone());
                    uncomp.push(dig);
                }
                _ => {
                    let (c, u) = self.gen_layer(l, g);
                    comp.push(c);
                    uncomp.push(u);
                }
            }
        }
        let cdig = match &g.config_media_type {
            None => self.gen_config(&platform, &uncomp, g),
            Some(m) if m == MT_OCI_CONFIG => self.gen_config(&platform, &uncomp, g),
            Some(m) => {
                let mut cg = g.clone();
                cg.descriptor_media_type = Some(m.clone());
                self.add_blob(g.config_bytes.clone().unwrap_or_default(), &cg)
            }
        };
        let layers: Vec<Desc> = comp.iter().map(|d| self.desc[d].clone()).collect();
        let conf = self.desc[&cdig].clone();
        self.gen_manifest(&conf, &layers, g)
    }

    pub fn gen_index(
        &mut self,
        platforms: &[Option<Platform>],
        manifests: &[String],
        g: &Gen,
    ) -> String {
        assert_eq!(platforms.len(), manifests.len());
        let mut m = Map::new();
        m.insert("schemaVersion".into(), json!(2));
        m.insert("mediaType".into(), json!(MT_OCI_INDEX));
        if let Some(at) = &g.artifact_type {
            m.insert("artifactType".into(), json!(at));
        }
        let entries: Vec<Value> = manifests
            .iter()
            .zip(platforms)
            .map(|(d, p)| {
                let mut d = self.desc[d].clone();
                d.platform = p.clone();
                d.to_json()
            })
            .collect();
        m.insert("manifests".into(), Value::Array(entries));
        if let Some(s) = &g.subject {
            m.insert("subject".into(), s.to_json());
        }
        let annotations = Self::annotations_for(g);
        if !annotations.is_empty() {
            m.insert("annotations".into(), json!(annotations));
        }
        let mut v = Value::Object(m);
        if g.extra_field {
            v = with_extra_field(v);
        }
        let body = serde_json::to_vec(&v).expect("json");
        let at = g.artifact_type.clone().unwrap_or_default();
        self.register(body, MT_OCI_INDEX, &at, annotations, g)
    }

    /// An index of images, the images included (`genIndexFull`).
    pub fn gen_index_full(&mut self, g: &Gen) -> String {
        let platforms = g
            .platforms
            .clone()
            .unwrap_or_else(|| vec![Some(plat("linux", "amd64")), Some(plat("linux", "arm64"))]);
        let mut imgs = Vec::new();
        for p in &platforms {
            let mut ig = g.clone();
            ig.platform = p.clone();
            imgs.push(self.gen_manifest_full(&ig));
        }
        self.gen_index(&platforms, &imgs, g)
    }
}

/// Suite switches (the `config` defaults of version "1.1", plus the "1.1+dev" extras).
#[derive(Clone, Copy)]
pub struct Cfg {
    pub upload_cancel: bool,
    pub digest_header: bool,
    pub tag_param: bool,
    pub mount_anonymous: bool,
}

/// `GenerateData`: every data set, in the suite's order.
pub fn generate(cfg: Cfg) -> Vec<TestData> {
    let mut out = Vec::new();

    let mut td = TestData::new("image");
    td.gen_manifest_full(&Gen::default().tag("image"));
    out.push(td);

    let mut td = TestData::new("image-uncompressed");
    let mut g = Gen::default().tag("image-uncompressed");
    g.uncompressed = true;
    td.gen_manifest_full(&g);
    out.push(td);

    let mut td = TestData::new("large-manifest");
    let mut g = Gen::default().tag("large-manifest");
    g.annotations = Some(
        (0..390)
            .map(|i| (format!("large-annotation-{i}"), "A".repeat(10000)))
            .collect(),
    );
    td.gen_manifest_full(&g);
    out.push(td);

    let mut td = TestData::new("index");
    td.gen_index_full(&Gen::default().tag("index").two_platforms());
    out.push(td);

    let mut td = TestData::new("nested-index");
    let d1 = td.gen_index_full(&Gen::default().two_platforms());
    let d2 = td.gen_index_full(&Gen::default().two_platforms());
    td.gen_index(
        &[None, None],
        &[d1, d2],
        &Gen::default().tag("index-of-index"),
    );
    out.push(td);

    let mut td = TestData::new("empty-index");
    td.gen_index_full(&Gen::default().tag("index").platforms(vec![]));
    out.push(td);

    let mut td = TestData::new("artifact");
    td.gen_manifest_full(
        &Gen::default()
            .tag("artifact")
            .artifact(MT_EXAMPLE_CONF1, MT_EXAMPLE_CONF1),
    );
    out.push(td);

    let mut td = TestData::new("artifact-index");
    td.gen_index_full(
        &Gen::default()
            .tag("artifact-index")
            .two_platforms()
            .artifact(MT_EXAMPLE_CONF1, MT_EXAMPLE_CONF1),
    );
    out.push(td);

    let mut td = TestData::new("artifact-without-layers");
    let mut g = Gen::default()
        .tag("artifact-without-layers")
        .artifact(MT_EXAMPLE_CONF1, MT_OCI_EMPTY_JSON);
    g.layer_bytes = Some(b"{}".to_vec());
    td.gen_manifest_full(&g);
    out.push(td);

    let mut td = TestData::new("artifacts-with-subject");
    let subj = td.gen_manifest_full(&Gen::default().tag("image"));
    let subj = td.desc[&subj].clone();
    td.gen_manifest_full(&Gen {
        subject: Some(subj.clone()),
        ..Gen::default()
    });
    let mut g = Gen::default()
        .artifact(MT_EXAMPLE_CONF1, MT_EXAMPLE_CONF1)
        .conformance_annotation()
        .tag("tagged-artifact1");
    g.subject = Some(subj.clone());
    td.gen_manifest_full(&g);
    let mut g = Gen::default()
        .artifact(MT_EXAMPLE_CONF2, MT_OCTET_STREAM)
        .conformance_annotation()
        .tag("tagged-artifact2");
    g.subject = Some(subj);
    td.gen_manifest_full(&g);
    out.push(td);

    let mut td = TestData::new("index-with-subject");
    let subj = td.gen_index_full(&Gen::default().tag("index"));
    let subj = td.desc[&subj].clone();
    let mut g = Gen::default()
        .artifact(MT_EXAMPLE_CONF1, MT_EXAMPLE_CONF1)
        .conformance_annotation()
        .tag("tagged-artifact");
    g.subject = Some(subj);
    td.gen_index_full(&g);
    out.push(td);

    let mut td = TestData::new("missing-subject");
    let subj = Desc::new(MT_OCI_IMAGE, &Algo::Sha256.digest(b"missing content"), 123);
    let mut g = Gen::default()
        .artifact(MT_EXAMPLE_CONF1, MT_EXAMPLE_CONF1)
        .conformance_annotation()
        .tag("tagged-artifact");
    g.subject = Some(subj);
    td.gen_manifest_full(&g);
    out.push(td);

    let mut td = TestData::new("data-field");
    let mut g = Gen::default().tag("data-field");
    g.set_data = true;
    td.gen_manifest_full(&g);
    out.push(td);

    let mut td = TestData::new("non-distributable-layers");
    let mut layers = Vec::new();
    let mut diff_ids = Vec::new();
    diff_ids.push(Algo::Sha256.digest(&rand_bytes(256)));
    let dig = Algo::Sha256.digest(&rand_bytes(256));
    let mut l = Desc::new(MT_OCI_LAYER_ND_GZ, &dig, 123_456);
    l.urls = vec![format!(
        "https://store.example.com/blobs/sha256/{}",
        &dig[7..]
    )];
    layers.push(l);
    let dig = Algo::Sha256.digest(&rand_bytes(256));
    diff_ids.push(dig.clone());
    let mut l = Desc::new(MT_OCI_LAYER_ND, &dig, 12_345);
    l.urls = vec![format!(
        "https://store.example.com/blobs/sha256/{}",
        &dig[7..]
    )];
    layers.push(l);
    let (c, u) = td.gen_layer(1, &Gen::default());
    diff_ids.push(u);
    layers.push(td.desc[&c].clone());
    let cdig = td.gen_config(&plat("linux", "amd64"), &diff_ids, &Gen::default());
    let conf = td.desc[&cdig].clone();
    td.gen_manifest(
        &conf,
        &layers,
        &Gen::default().tag("non-distributable-image"),
    );
    out.push(td);

    let mut td = TestData::new("custom-fields");
    let mut g = Gen::default().tag("custom-fields").two_platforms();
    g.extra_field = true;
    td.gen_index_full(&g);
    out.push(td);

    let mut td = TestData::new("no-layers");
    let mut g = Gen::default().tag("no-layers");
    g.layer_count = Some(0);
    td.gen_manifest_full(&g);
    out.push(td);

    let mut td = TestData::new("sha512");
    td.gen_index_full(&Gen::default().algo(Algo::Sha512));
    out.push(td);

    if cfg.tag_param {
        for (name, algo) in [
            ("tag-param-sha256", Algo::Sha256),
            ("tag-param-sha512", Algo::Sha512),
        ] {
            let mut td = TestData::new(name);
            td.gen_index_full(&Gen::default().tag(name).algo(algo));
            for (i, dig) in td.man_order.clone().into_iter().enumerate() {
                td.tags.insert(format!("{name}-{i}"), dig.clone());
                td.tag_param.insert(dig);
            }
            out.push(td);
        }
    }

    let mut td = TestData::new("bad-digest-image");
    let dig = td.gen_manifest_full(&Gen::default());
    td.skip_pull.insert(dig.clone());
    td.bad_digest.insert(dig.clone());
    td.manifests
        .get_mut(&dig)
        .expect("manifest just generated")
        .extend_from_slice(b"  ");
    out.push(td);

    out
}
