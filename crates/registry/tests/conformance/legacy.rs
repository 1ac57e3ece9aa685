//! The suite's previous, ginkgo-based form (`conformance/0{1,2,3,4}_*_test.go` and
//! `setup.go` before the redesign): the four workflows pull, push, content discovery and
//! content management, each an ordered list of `g.Specify` cases with the same test data
//! (configs and manifests per workflow, the fixed gzip layer, the chunked blob, the
//! referrers artifacts, the cross-mount namespace) and the same expectations.

use base64::Engine as _;
use serde_json::{Value, json};

use super::client::{Body, Client, R, Resp, checks, fail};
use super::data::{Algo, rand_bytes, rand_text};
use super::runner::{Case, St};

const LAYER_B64: &str = "H4sIAAAAAAAAA+3OQQrCMBCF4a49xXgBSUnaHMCTRBptQRNpp6i3t0UEV7oqIv7fYgbmzeJpHHSjVy0WZCa1c/MufWVe94N3RWlrZ72x3k/30nhbFWKWLPU0Dhp6keJ8im//PuU/6pZH2WVtYx8b0Sz7LjWSR5VLG6YRBumSzOlGtjkd+qDjMWiX07Befbs7AAAAAAAAAAAAAAAAAPyzO34MnqoAKAAA";
const MT_IMAGE: &str = "application/vnd.oci.image.manifest.v1+json";
const MT_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MT_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const ANN: &str = "org.opencontainers.conformance.test";
const ART_A: &str = "application/vnd.nhl.peanut.butter.bagel";
const ART_B: &str = "application/vnd.nba.strawberry.jam.croissant";

/// A blob or manifest with its digest.
#[derive(Clone)]
pub struct Blob {
    pub bytes: Vec<u8>,
    pub digest: String,
}

fn blob(bytes: Vec<u8>) -> Blob {
    Blob {
        digest: Algo::Sha256.digest(&bytes),
        bytes,
    }
}

fn pretty(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).expect("json")
}

fn desc(mt: &str, b: &Blob) -> Value {
    json!({"mediaType": mt, "digest": b.digest, "size": b.bytes.len()})
}

/// `setup.go`'s data.
pub struct Setup {
    pub configs: Vec<Blob>,
    pub manifests: Vec<Blob>,
    pub layer: Blob,
    pub empty_layer_manifest: Blob,
    pub blob_a: Blob,
    pub blob_b: Blob,
    pub empty_json: Blob,
    pub ref_blob_a: Blob,
    pub ref_blob_b: Blob,
    pub refs_a_config: Blob,
    pub refs_b_config: Blob,
    pub refs_a_layer: Blob,
    pub refs_b_layer: Blob,
    pub refs_c_layer: Blob,
    pub refs_index: Blob,
    /// Expected annotation value per referrer digest.
    pub ann: Vec<(String, String)>,
    pub dummy: String,
}

impl Setup {
    pub fn new() -> Setup {
        let b64 = base64::engine::general_purpose::STANDARD;
        let layer = blob(b64.decode(LAYER_B64).expect("layer base64"));
        let configs: Vec<Blob> = (0..5)
            .map(|_| {
                blob(pretty(&json!({
                    "architecture": "amd64",
                    "os": "linux",
                    "rootfs": {"type": "layers", "diff_ids": []},
                    "author": rand_text(),
                })))
            })
            .collect();
        let config_desc = |c: &Blob| {
            json!({
                "mediaType": MT_CONFIG,
                "digest": c.digest,
                "size": c.bytes.len(),
                "data": b64.encode(&c.bytes),
                "newUnspecifiedField": b64.encode(b"hello world"),
            })
        };
        let manifests: Vec<Blob> = configs
            .iter()
            .map(|c| {
                blob(pretty(&json!({
                    "schemaVersion": 2,
                    "mediaType": MT_IMAGE,
                    "config": config_desc(c),
                    "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", &layer)],
                })))
            })
            .collect();
        let empty_layer_manifest = blob(pretty(&json!({
            "schemaVersion": 2,
            "config": config_desc(&configs[1]),
            "layers": [],
        })));
        let empty_json = blob(b"{}".to_vec());
        let ref_blob_a = blob(b"NHL Peanut Butter on my NHL bagel".to_vec());
        let ref_blob_b = blob(b"NBA Strawberry Jam on my NBA croissant".to_vec());
        let subj4 = desc(MT_IMAGE, &manifests[4]);
        let subj3 = desc(MT_IMAGE, &manifests[3]);
        let empty_desc = desc("application/vnd.oci.empty.v1+json", &empty_json);
        let mut ann = Vec::new();
        let mut art = |v: Value, a: Option<&str>| {
            let b = blob(pretty(&v));
            if let Some(a) = a {
                ann.push((b.digest.clone(), a.to_string()));
            }
            b
        };
        let refs_a_config = art(
            json!({"schemaVersion": 2, "mediaType": MT_IMAGE, "config": desc(ART_A, &ref_blob_a),
                "subject": subj4, "layers": [empty_desc], "annotations": {ANN: "test config a"}}),
            Some("test config a"),
        );
        let refs_b_config = art(
            json!({"schemaVersion": 2, "mediaType": MT_IMAGE, "config": desc(ART_B, &ref_blob_b),
                "subject": subj4, "layers": [empty_desc], "annotations": {ANN: "test config b"}}),
            Some("test config b"),
        );
        let refs_a_layer = art(
            json!({"schemaVersion": 2, "mediaType": MT_IMAGE, "artifactType": ART_A, "config": empty_desc,
                "subject": subj4, "layers": [desc(ART_A, &ref_blob_a)], "annotations": {ANN: "test layer a"}}),
            Some("test layer a"),
        );
        let refs_b_layer = art(
            json!({"schemaVersion": 2, "mediaType": MT_IMAGE, "artifactType": ART_B, "config": empty_desc,
                "subject": subj4, "layers": [desc(ART_B, &ref_blob_b)], "annotations": {ANN: "test layer b"}}),
            Some("test layer b"),
        );
        let refs_c_layer = art(
            json!({"schemaVersion": 2, "mediaType": MT_IMAGE, "artifactType": ART_B, "config": empty_desc,
                "subject": subj3, "layers": [desc(ART_B, &ref_blob_b)]}),
            None,
        );
        let refs_index = art(
            json!({"schemaVersion": 2, "mediaType": MT_INDEX, "artifactType": "application/vnd.food.stand",
                "manifests": [desc(MT_IMAGE, &refs_a_config), desc(MT_IMAGE, &refs_a_layer)],
                "subject": subj4, "annotations": {ANN: "test index"}}),
            Some("test index"),
        );
        let blob_a = blob(rand_bytes(42));
        let blob_b = blob(rand_bytes(42));
        Setup {
            configs,
            manifests,
            layer,
            empty_layer_manifest,
            blob_a,
            blob_b,
            empty_json,
            ref_blob_a,
            ref_blob_b,
            refs_a_config,
            refs_b_config,
            refs_a_layer,
            refs_b_layer,
            refs_c_layer,
            refs_index,
            ann,
            dummy: Algo::Sha256.digest(b"hello world"),
        }
    }
}

/// One workflow's run: requests against `<name>` = `ns`, cases recorded in order.
pub struct Flow {
    pub c: Client,
    pub ns: String,
    pub cases: Vec<Case>,
}

fn is2xx(r: &Resp) -> Result<(), String> {
    if (200..300).contains(&r.status) {
        Ok(())
    } else {
        Err(format!("status {} is not 2xx", r.status))
    }
}

fn tags_of(r: &Resp) -> Vec<String> {
    serde_json::from_slice::<Value>(&r.body)
        .ok()
        .and_then(|v| v["tags"].as_array().cloned())
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn ok_if(cond: bool, msg: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(msg()) }
}

impl Flow {
    fn rec(&mut self, name: &str, r: R) {
        let status = if r.is_ok() { St::Pass } else { St::Fail };
        self.cases.push(Case {
            name: name.into(),
            status,
            reason: r.err().map(|e| e.msg).unwrap_or_default(),
        });
    }

    fn path(&self, p: &str) -> String {
        p.replace("<name>", &self.ns)
    }

    async fn req(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Body) -> R<Resp> {
        let u = self.c.url(&self.path(path));
        self.c.send(method, &u, headers, body).await
    }

    async fn at(&self, method: &str, loc: &str, headers: &[(&str, &str)], body: Body) -> R<Resp> {
        let u = self
            .c
            .url("/")
            .join(loc)
            .map_err(|e| fail(format!("location {loc:?}: {e}")))?;
        self.c.send(method, &u, headers, body).await
    }

    async fn at_digest(
        &self,
        method: &str,
        loc: &str,
        digest: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> R<Resp> {
        let u = self
            .c
            .url("/")
            .join(loc)
            .map_err(|e| fail(format!("location {loc:?}: {e}")))?;
        let u = super::client::set_param(&u, "digest", digest);
        self.c.send(method, &u, headers, body).await
    }

    /// POST then PUT with the whole blob; the PUT's response.
    async fn push(&self, b: &Blob) -> R<Resp> {
        let r = self
            .req("POST", "/v2/<name>/blobs/uploads/", &[], Body::None)
            .await?;
        let loc = r
            .header("location")
            .ok_or_else(|| fail("POST without Location"))?;
        let len = b.bytes.len().to_string();
        self.at_digest(
            "PUT",
            &loc,
            &b.digest,
            &[
                ("content-type", "application/octet-stream"),
                ("content-length", &len),
            ],
            Body::Bytes(b.bytes.clone()),
        )
        .await
    }

    async fn put_manifest(&self, reference: &str, mt: &str, m: &Blob) -> R<Resp> {
        self.req(
            "PUT",
            &format!("/v2/<name>/manifests/{reference}"),
            &[("content-type", mt)],
            Body::Bytes(m.bytes.clone()),
        )
        .await
    }

    async fn status_in(
        &mut self,
        name: &str,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        want: &[u16],
    ) {
        let r = self.req(method, path, headers, Body::None).await;
        self.rec(name, r.and_then(|r| checks(vec![r.expect_status(want)])));
    }

    fn digest_header(r: &Resp, want: &str) -> Result<(), String> {
        match r.header("docker-content-digest") {
            Some(h) if h != want => Err(format!("Docker-Content-Digest {h:?}, expected {want:?}")),
            _ => Ok(()),
        }
    }

    async fn delete_any(&mut self, name: &str, path: &str, allow_404: bool) {
        let r = self.req("DELETE", path, &[], Body::None).await;
        self.rec(
            name,
            r.and_then(|r| {
                checks(vec![ok_if(
                    (200..300).contains(&r.status)
                        || r.status == 405
                        || (allow_404 && r.status == 404),
                    || format!("status {}", r.status),
                )])
            }),
        );
    }

    // ---- 01 pull --------------------------------------------------------------------

    pub async fn pull(&mut self, s: &Setup) {
        let tag = "tagtest0";
        for (name, b) in [
            ("Setup/Populate registry with test blob", &s.configs[0]),
            ("Setup/Populate registry with test blob", &s.configs[1]),
            ("Setup/Populate registry with test layer", &s.layer),
        ] {
            let r = self.push(b).await;
            self.rec(name, r.and_then(|r| checks(vec![is2xx(&r)])));
        }
        let r = self.put_manifest(tag, MT_IMAGE, &s.manifests[0]).await;
        self.rec(
            "Setup/Populate registry with test manifest",
            r.and_then(|r| checks(vec![is2xx(&r)])),
        );
        let r = self
            .put_manifest(&s.manifests[1].digest, MT_IMAGE, &s.manifests[1])
            .await;
        self.rec(
            "Setup/Populate registry with test manifest",
            r.and_then(|r| checks(vec![is2xx(&r)])),
        );

        let dummy = s.dummy.clone();
        self.status_in(
            "Pull blobs/HEAD request to nonexistent blob should result in 404 response",
            "HEAD",
            &format!("/v2/<name>/blobs/{dummy}"),
            &[],
            &[404],
        )
        .await;
        let c0 = s.configs[0].digest.clone();
        let r = self
            .req("HEAD", &format!("/v2/<name>/blobs/{c0}"), &[], Body::None)
            .await;
        self.rec(
            "Pull blobs/HEAD request to existing blob should yield 200",
            r.and_then(|r| checks(vec![r.expect_status(&[200]), Self::digest_header(&r, &c0)])),
        );
        self.status_in(
            "Pull blobs/GET nonexistent blob should result in 404 response",
            "GET",
            &format!("/v2/<name>/blobs/{dummy}"),
            &[],
            &[404],
        )
        .await;
        self.status_in(
            "Pull blobs/GET request to existing blob URL should yield 200",
            "GET",
            &format!("/v2/<name>/blobs/{c0}"),
            &[],
            &[200],
        )
        .await;

        let accept = [("accept", MT_IMAGE)];
        self.status_in(
            "Pull manifests/HEAD request to nonexistent manifest should return 404",
            "HEAD",
            "/v2/<name>/manifests/.INVALID_MANIFEST_NAME",
            &[],
            &[404],
        )
        .await;
        for (i, m) in s.manifests[..2].iter().enumerate() {
            let r = self
                .req(
                    "HEAD",
                    &format!("/v2/<name>/manifests/{}", m.digest),
                    &accept,
                    Body::None,
                )
                .await;
            self.rec(
                &format!("Pull manifests/HEAD request to manifest[{i}] path (digest) should yield 200 response"),
                r.and_then(|r| checks(vec![r.expect_status(&[200]), Self::digest_header(&r, &m.digest)])),
            );
        }
        let r = self
            .req(
                "HEAD",
                &format!("/v2/<name>/manifests/{tag}"),
                &accept,
                Body::None,
            )
            .await;
        self.rec(
            "Pull manifests/HEAD request to manifest path (tag) should yield 200 response",
            r.and_then(|r| {
                checks(vec![
                    r.expect_status(&[200]),
                    Self::digest_header(&r, &s.manifests[0].digest),
                ])
            }),
        );
        self.status_in(
            "Pull manifests/GET nonexistent manifest should return 404",
            "GET",
            "/v2/<name>/manifests/.INVALID_MANIFEST_NAME",
            &[],
            &[404],
        )
        .await;
        for (i, m) in s.manifests[..2].iter().enumerate() {
            self.status_in(
                &format!("Pull manifests/GET request to manifest[{i}] path (digest) should yield 200 response"),
                "GET",
                &format!("/v2/<name>/manifests/{}", m.digest),
                &accept,
                &[200],
            )
            .await;
        }
        self.status_in(
            "Pull manifests/GET request to manifest path (tag) should yield 200 response",
            "GET",
            &format!("/v2/<name>/manifests/{tag}"),
            &accept,
            &[200],
        )
        .await;

        let r = self
            .req(
                "GET",
                "/v2/<name>/manifests/sha256:totallywrong",
                &[("content-type", MT_IMAGE)],
                Body::Bytes(b"blablabla".to_vec()),
            )
            .await;
        self.rec(
            "Error codes/400 response body should contain OCI-conforming JSON message",
            r.and_then(|r| {
                let mut c = vec![r.expect_status(&[400, 404])];
                if r.status == 400 {
                    c.push(error_code_known(&r));
                }
                checks(c)
            }),
        );

        for (i, m) in s.manifests[..2].iter().enumerate() {
            let r = self
                .req(
                    "DELETE",
                    &format!("/v2/<name>/manifests/{}", m.digest),
                    &[],
                    Body::None,
                )
                .await;
            self.rec(
                &format!("Teardown/Delete manifest[{i}] created in setup"),
                r.and_then(|r| {
                    checks(vec![ok_if(
                        (200..300).contains(&r.status) || r.status == 405,
                        || format!("status {}", r.status),
                    )])
                }),
            );
        }
        for (name, d) in [
            (
                "Teardown/Delete config[0] blob created in setup",
                s.configs[0].digest.clone(),
            ),
            (
                "Teardown/Delete config[1] blob created in setup",
                s.configs[1].digest.clone(),
            ),
            (
                "Teardown/Delete layer blob created in setup",
                s.layer.digest.clone(),
            ),
        ] {
            self.delete_any(name, &format!("/v2/<name>/blobs/{d}"), true)
                .await;
        }
    }

    // ---- 02 push --------------------------------------------------------------------

    pub async fn push_flow(&mut self, s: &Setup, crossmount: &str) {
        let oct = ("content-type", "application/octet-stream");
        // streamed
        let mut last: Option<Resp> = None;
        let r = async {
            let r = self
                .req("POST", "/v2/<name>/blobs/uploads/", &[], Body::None)
                .await?;
            let loc = r
                .header("location")
                .ok_or_else(|| fail("POST without Location"))?;
            let r = self
                .at("PATCH", &loc, &[oct], Body::Stream(s.blob_a.bytes.clone()))
                .await?;
            checks(vec![r.expect_status(&[202])])?;
            Ok(r)
        }
        .await;
        self.rec(
            "Blob Upload Streamed/PATCH request with blob in body should yield 202 response",
            r.map(|r| {
                last = Some(r);
            }),
        );
        let r = async {
            let l = last
                .as_ref()
                .and_then(|r| r.header("location"))
                .ok_or_else(|| fail("no prior response"))?;
            // the Go client sends this PUT with no body: Content-Length 0 on the wire
            let r = self
                .at_digest("PUT", &l, &s.blob_a.digest, &[oct], Body::None)
                .await?;
            checks(vec![
                r.expect_status(&[201]),
                r.expect_header("location", ""),
            ])
        }
        .await;
        self.rec(
            "Blob Upload Streamed/PUT request to session URL with digest should yield 201 response",
            r,
        );

        // monolithic
        let dummy = s.dummy.clone();
        self.status_in(
            "Blob Upload Monolithic/GET nonexistent blob should result in 404 response",
            "GET",
            &format!("/v2/<name>/blobs/{dummy}"),
            &[],
            &[404],
        )
        .await;
        let c1 = s.configs[1].clone();
        let len = c1.bytes.len().to_string();
        let r = self
            .req(
                "POST",
                &format!("/v2/<name>/blobs/uploads/?digest={}", c1.digest),
                &[oct, ("content-length", &len)],
                Body::Bytes(c1.bytes.clone()),
            )
            .await;
        let mut post_status = 0;
        self.rec(
            "Blob Upload Monolithic/POST request with digest and blob should yield a 201 or 202",
            r.and_then(|r| {
                post_status = r.status;
                checks(vec![
                    r.expect_header("location", ""),
                    r.expect_status(&[201, 202]),
                ])
            }),
        );
        let want = if post_status == 202 { 404 } else { 200 };
        self.status_in(
            "Blob Upload Monolithic/GET request to blob URL from prior request should yield 200 or 404 based on response code",
            "GET",
            &format!("/v2/<name>/blobs/{}", c1.digest),
            &[],
            &[want],
        )
        .await;
        let r = self
            .req("POST", "/v2/<name>/blobs/uploads/", &[], Body::None)
            .await;
        let session = r.as_ref().ok().and_then(|r| r.header("location"));
        self.rec(
            "Blob Upload Monolithic/POST request should yield a session ID",
            r.and_then(|r| checks(vec![r.expect_status(&[202])])),
        );
        let r = async {
            let l = session.ok_or_else(|| fail("no session"))?;
            let r = self
                .at_digest(
                    "PUT",
                    &l,
                    &c1.digest,
                    &[oct, ("content-length", &len)],
                    Body::Bytes(c1.bytes.clone()),
                )
                .await?;
            checks(vec![
                r.expect_header("location", ""),
                r.expect_status(&[201]),
            ])
        }
        .await;
        self.rec(
            "Blob Upload Monolithic/PUT upload of a blob should yield a 201 Response",
            r,
        );
        self.status_in(
            "Blob Upload Monolithic/GET request to existing blob should yield 200 response",
            "GET",
            &format!("/v2/<name>/blobs/{}", c1.digest),
            &[],
            &[200],
        )
        .await;
        let r = self.push(&s.layer).await;
        self.rec(
            "Blob Upload Monolithic/PUT upload of a layer blob should yield a 201 Response",
            r.and_then(|r| {
                checks(vec![
                    r.expect_header("location", ""),
                    r.expect_status(&[201]),
                ])
            }),
        );
        self.status_in(
            "Blob Upload Monolithic/GET request to existing layer should yield 200 response",
            "GET",
            &format!("/v2/<name>/blobs/{}", s.layer.digest),
            &[],
            &[200],
        )
        .await;

        // chunked: two chunks of a 42-byte blob (bigger if the registry asks for more)
        let mut b = s.blob_b.bytes.clone();
        let r = self
            .req(
                "POST",
                "/v2/<name>/blobs/uploads/",
                &[("content-length", "0")],
                Body::None,
            )
            .await;
        let r = async {
            let r = r?;
            let loc = r
                .header("location")
                .ok_or_else(|| fail("POST without Location"))?;
            if let Some(min) = r
                .header("oci-chunk-min-length")
                .and_then(|m| m.parse::<usize>().ok())
                && min > b.len() / 2 + 1
            {
                b = rand_bytes(min * 2 - 2);
            }
            let (c1, c2) = b.split_at(b.len() / 2 + 1);
            let len2 = c2.len().to_string();
            let range2 = format!("{}-{}", c1.len(), b.len() - 1);
            let r = self
                .at(
                    "PATCH",
                    &loc,
                    &[oct, ("content-length", &len2), ("content-range", &range2)],
                    Body::Bytes(c2.to_vec()),
                )
                .await?;
            checks(vec![r.expect_status(&[416])])
        }
        .await;
        self.rec(
            "Blob Upload Chunked/Out-of-order blob upload should return 416",
            r,
        );
        let bd = Algo::Sha256.digest(&b);
        let (c1, c2) = b.split_at(b.len() / 2 + 1);
        let range1 = format!("0-{}", c1.len() - 1);
        let len1 = c1.len().to_string();
        let mut prev: Option<String> = None;
        let mut last_loc: Option<String> = None;
        let r = async {
            let r = self
                .req(
                    "POST",
                    "/v2/<name>/blobs/uploads/",
                    &[("content-length", "0")],
                    Body::None,
                )
                .await?;
            let loc = r
                .header("location")
                .ok_or_else(|| fail("POST without Location"))?;
            prev = Some(loc.clone());
            let r = self
                .at(
                    "PATCH",
                    &loc,
                    &[oct, ("content-length", &len1), ("content-range", &range1)],
                    Body::Bytes(c1.to_vec()),
                )
                .await?;
            last_loc = r.header("location");
            checks(vec![
                r.expect_status(&[202]),
                r.expect_header("range", &range1),
            ])
        }
        .await;
        self.rec(
            "Blob Upload Chunked/PATCH request with first chunk should return 202",
            r,
        );
        let prev_loc = prev.clone().unwrap_or_default();
        let r = self
            .at(
                "PATCH",
                &prev_loc,
                &[oct, ("content-length", &len1), ("content-range", &range1)],
                Body::Bytes(c1.to_vec()),
            )
            .await;
        self.rec(
            "Blob Upload Chunked/Retry previous blob chunk should return 416",
            r.and_then(|r| checks(vec![r.expect_status(&[416])])),
        );
        let r = self.at("GET", &prev_loc, &[], Body::None).await;
        if let Ok(r) = &r
            && let Some(l) = r.header("location")
        {
            last_loc = Some(l);
        }
        self.rec(
            "Blob Upload Chunked/Get on stale blob upload should return 204 with a range and location",
            r.and_then(|r| checks(vec![r.expect_status(&[204]), r.expect_header("location", ""), r.expect_header("range", &range1)])),
        );
        let len2 = c2.len().to_string();
        let range2 = format!("{}-{}", c1.len(), b.len() - 1);
        let l = last_loc.clone().unwrap_or_default();
        let r = self
            .at(
                "PATCH",
                &l,
                &[("content-length", &len2), ("content-range", &range2), oct],
                Body::Bytes(c2.to_vec()),
            )
            .await;
        if let Ok(r) = &r
            && let Some(l) = r.header("location")
        {
            last_loc = Some(l);
        }
        self.rec(
            "Blob Upload Chunked/PATCH request with second chunk should return 202",
            r.and_then(|r| {
                checks(vec![
                    r.expect_status(&[202]),
                    r.expect_header("range", &format!("0-{}", b.len() - 1)),
                    r.expect_header("location", ""),
                ])
            }),
        );
        let l = last_loc.clone().unwrap_or_default();
        let r = self
            .at_digest("PUT", &l, &bd, &[("content-length", "0"), oct], Body::None)
            .await;
        self.rec(
            "Blob Upload Chunked/PUT request with digest should return 201",
            r.and_then(|r| {
                checks(vec![
                    r.expect_status(&[201]),
                    r.expect_header("location", ""),
                ])
            }),
        );

        // cross-repository mount
        let r = self
            .c
            .send(
                "POST",
                &self
                    .c
                    .url(&format!("/v2/{crossmount}/blobs/uploads/?mount={dummy}")),
                &[],
                Body::None,
            )
            .await;
        self.rec(
            "Cross-Repository Blob Mount/Cross-mounting of a blob without the from argument should yield session id",
            r.and_then(|r| checks(vec![r.expect_status(&[202]), r.expect_header("location", "")])),
        );
        let u = self.c.url(&format!(
            "/v2/{crossmount}/blobs/uploads/?mount={}&from={}",
            s.blob_a.digest, self.ns
        ));
        let r = self.c.send("POST", &u, &[], Body::None).await;
        let mount = r
            .as_ref()
            .ok()
            .map(|r| (r.status, r.header("location").unwrap_or_default()));
        self.rec(
            "Cross-Repository Blob Mount/POST request to mount another repository's blob should return 201 or 202",
            r.and_then(|r| checks(vec![r.expect_status(&[201, 202])])),
        );
        match mount {
            Some((201, loc)) => {
                let want = format!("/v2/{crossmount}/blobs/{}", s.blob_a.digest);
                let rel = loc
                    .strip_prefix(self.c.base.as_str().trim_end_matches('/'))
                    .unwrap_or(&loc)
                    .to_string();
                let r = self.at("GET", &loc, &[], Body::None).await;
                self.rec(
                    "Cross-Repository Blob Mount/GET request to test digest within cross-mount namespace should return 200",
                    r.and_then(|r| {
                        checks(vec![ok_if(rel == want, || format!("location {rel:?}, expected {want:?}")), r.expect_status(&[200])])
                    }),
                );
            }
            Some((202, loc)) => {
                let prefix = format!("/v2/{crossmount}/blobs/uploads/");
                self.rec(
                    "Cross-Repository Blob Mount/Cross-mounting of nonexistent blob should yield session id",
                    checks(vec![ok_if(loc.contains(&prefix), || format!("location {loc:?}"))]),
                );
            }
            _ => {}
        }

        // manifests
        self.status_in(
            "Manifest Upload/GET nonexistent manifest should return 404",
            "GET",
            "/v2/<name>/manifests/.INVALID_MANIFEST_NAME",
            &[],
            &[404],
        )
        .await;
        let mut errs = Vec::new();
        for i in 0..4 {
            match self
                .put_manifest(&format!("test{i}"), MT_IMAGE, &s.manifests[1])
                .await
            {
                Ok(r) => {
                    if let Err(e) = checks(vec![
                        r.expect_header("location", ""),
                        r.expect_status(&[201]),
                    ]) {
                        errs.push(e);
                    }
                }
                Err(e) => errs.push(e),
            }
        }
        self.rec(
            "Manifest Upload/PUT should accept a manifest upload",
            super::client::join(errs),
        );
        let r = self
            .put_manifest("emptylayer", MT_IMAGE, &s.empty_layer_manifest)
            .await;
        self.rec(
            "Manifest Upload/Registry should accept a manifest upload with no layers",
            r.and_then(|r| {
                checks(vec![
                    r.expect_status(&[201]),
                    r.expect_header("location", ""),
                ])
            }),
        );
        self.status_in(
            "Manifest Upload/GET request to manifest URL (digest) should yield 200 response",
            "GET",
            &format!("/v2/<name>/manifests/{}", s.manifests[1].digest),
            &[("accept", MT_IMAGE)],
            &[200],
        )
        .await;

        let r = self
            .req(
                "DELETE",
                &format!("/v2/<name>/manifests/{}", s.manifests[1].digest),
                &[],
                Body::None,
            )
            .await;
        let r2 = self
            .req(
                "DELETE",
                &format!("/v2/<name>/manifests/{}", s.empty_layer_manifest.digest),
                &[],
                Body::None,
            )
            .await;
        let ok = |r: &Resp| {
            ok_if((200..300).contains(&r.status) || r.status == 405, || {
                format!("status {}", r.status)
            })
        };
        self.rec(
            "Teardown/Delete manifest created in tests",
            r.and_then(|r| r2.and_then(|r2| checks(vec![ok(&r), ok(&r2)]))),
        );
        self.delete_any(
            "Teardown/Delete config blob created in tests",
            &format!("/v2/<name>/blobs/{}", s.configs[1].digest),
            true,
        )
        .await;
        self.delete_any(
            "Teardown/Delete layer blob created in setup",
            &format!("/v2/<name>/blobs/{}", s.layer.digest),
            true,
        )
        .await;
    }

    // ---- 03 content discovery -----------------------------------------------------------

    pub async fn discovery(&mut self, s: &Setup) {
        let r = self.push(&s.configs[2]).await;
        self.rec(
            "Setup/Populate registry with test blob",
            r.and_then(|r| checks(vec![is2xx(&r)])),
        );
        let r = self.push(&s.layer).await;
        self.rec(
            "Setup/Populate registry with test layer",
            r.and_then(|r| checks(vec![is2xx(&r)])),
        );
        let mut errs = Vec::new();
        for i in 0..4 {
            for tag in [format!("test{i}"), format!("TEST{i}")] {
                match self.put_manifest(&tag, MT_IMAGE, &s.manifests[2]).await {
                    Ok(r) => errs.extend(checks(vec![is2xx(&r)]).err()),
                    Err(e) => errs.push(e),
                }
            }
        }
        self.rec(
            "Setup/Populate registry with test tags",
            super::client::join(errs),
        );

        // references setup
        let r = async {
            let mut c = Vec::new();
            for b in [&s.empty_json, &s.ref_blob_a] {
                c.push(is2xx(&self.push(b).await?));
            }
            let subj = s.manifests[4].digest.as_str();
            for m in [&s.refs_a_config, &s.refs_a_layer] {
                let r = self.put_manifest(&m.digest, MT_IMAGE, m).await?;
                c.extend([is2xx(&r), r.expect_header("oci-subject", subj)]);
            }
            let r = self
                .put_manifest(&s.refs_index.digest, MT_INDEX, &s.refs_index)
                .await?;
            c.extend([is2xx(&r), r.expect_header("oci-subject", subj)]);
            for b in [&s.configs[4], &s.layer] {
                c.push(is2xx(&self.push(b).await?));
            }
            c.push(is2xx(
                &self
                    .put_manifest("tagtest0", MT_IMAGE, &s.manifests[4])
                    .await?,
            ));
            c.push(is2xx(&self.push(&s.ref_blob_b).await?));
            for m in [&s.refs_b_config, &s.refs_b_layer] {
                let r = self.put_manifest(&m.digest, MT_IMAGE, m).await?;
                c.extend([is2xx(&r), r.expect_header("oci-subject", subj)]);
            }
            let r = self
                .put_manifest(&s.refs_c_layer.digest, MT_IMAGE, &s.refs_c_layer)
                .await?;
            c.extend([
                is2xx(&r),
                r.expect_header("oci-subject", &s.manifests[3].digest),
            ]);
            checks(c)
        }
        .await;
        self.rec("Setup/References setup", r);

        // tags
        let r = self
            .req("GET", "/v2/<name>/tags/list", &[], Body::None)
            .await;
        let mut tags = r.as_ref().map(tags_of).unwrap_or_default();
        let num = tags.len();
        self.rec(
            "Test content discovery endpoints (listing tags)/GET request to list tags should yield 200 response and be in sorted order",
            r.and_then(|r| {
                let mut lexical = tags.clone();
                lexical.sort_by_key(|t| t.to_lowercase());
                let mut ascii = tags.clone();
                ascii.sort();
                checks(vec![r.expect_status(&[200]), ok_if(tags == lexical || tags == ascii, || format!("tags {tags:?}"))])
            }),
        );
        let n = num / 2;
        let r = self
            .req(
                "GET",
                &format!("/v2/<name>/tags/list?n={n}"),
                &[],
                Body::None,
            )
            .await;
        self.rec(
            "Test content discovery endpoints (listing tags)/GET number of tags should be limitable by `n` query parameter",
            r.and_then(|r| {
                tags = tags_of(&r);
                checks(vec![r.expect_status(&[200]), ok_if(tags.len() == n, || format!("{} tags, expected {n}", tags.len()))])
            }),
        );
        let r = async {
            let r = self
                .req(
                    "GET",
                    &format!("/v2/<name>/tags/list?n={n}"),
                    &[],
                    Body::None,
                )
                .await?;
            checks(vec![r.expect_status(&[200])])?;
            let t = tags_of(&r);
            let last = t
                .get(n.wrapping_sub(1))
                .cloned()
                .ok_or_else(|| fail("too few tags"))?;
            let r = self
                .req(
                    "GET",
                    &format!("/v2/<name>/tags/list?n={n}&last={last}"),
                    &[],
                    Body::None,
                )
                .await?;
            let t = tags_of(&r);
            checks(vec![
                r.expect_status(&[200]),
                ok_if(!t.contains(&last), || format!("{last:?} in {t:?}")),
            ])
        }
        .await;
        self.rec("Test content discovery endpoints (listing tags)/GET start of tag is set by `last` query parameter", r);

        // referrers
        let pre = "Test content discovery endpoints (listing references)/";
        let referrers = |r: &Resp| -> Result<Vec<Value>, String> {
            r.expect_status(&[200])?;
            r.expect_header("content-type", MT_INDEX)?;
            let v: Value = serde_json::from_slice(&r.body).map_err(|e| format!("not JSON: {e}"))?;
            Ok(v["manifests"].as_array().cloned().unwrap_or_default())
        };
        let ann_ok = |list: &[Value]| -> Result<(), String> {
            for m in list {
                let a = m["annotations"].as_object().cloned().unwrap_or_default();
                let d = m["digest"].as_str().unwrap_or_default();
                let want = s.ann.iter().find(|(k, _)| k == d).map(|(_, v)| v.as_str());
                if a.len() != 1 || a.get(ANN).and_then(Value::as_str) != want {
                    return Err(format!("annotations of {d}: {a:?}, expected {want:?}"));
                }
            }
            Ok(())
        };
        let r = self
            .req(
                "GET",
                &format!("/v2/<name>/referrers/{}", s.dummy),
                &[],
                Body::None,
            )
            .await;
        self.rec(
            &format!("{pre}GET request to nonexistent blob should result in empty 200 response"),
            r.and_then(|r| {
                checks(vec![
                    referrers(&r).and_then(|l| ok_if(l.is_empty(), || format!("{l:?}"))),
                ])
            }),
        );
        let m4 = s.manifests[4].digest.clone();
        let r = self
            .req(
                "GET",
                &format!("/v2/<name>/referrers/{m4}"),
                &[],
                Body::None,
            )
            .await;
        self.rec(
            &format!("{pre}GET request to existing blob should yield 200"),
            r.and_then(|r| {
                checks(vec![referrers(&r).and_then(|l| {
                    ok_if(l.len() == 5, || {
                        format!("{} referrers, expected 5", l.len())
                    })?;
                    ok_if(l[0]["digest"] != l[1]["digest"], || {
                        "duplicate entries".into()
                    })?;
                    ann_ok(&l)
                })])
            }),
        );
        let r = self
            .req(
                "GET",
                &format!("/v2/<name>/referrers/{m4}?artifactType={ART_A}"),
                &[],
                Body::None,
            )
            .await;
        self.rec(
            &format!("{pre}GET request to existing blob with filter should yield 200"),
            r.and_then(|r| {
                let applied = r.header("oci-filters-applied");
                checks(vec![referrers(&r).and_then(|l| {
                    let want = if applied.is_some() { 2 } else { 5 };
                    ok_if(l.len() == want, || {
                        format!("{} referrers, expected {want}", l.len())
                    })?;
                    if let Some(a) = &applied {
                        ok_if(a == "artifactType", || format!("OCI-Filters-Applied {a:?}"))?;
                    }
                    ann_ok(&l)
                })])
            }),
        );
        let r = self
            .req(
                "GET",
                &format!("/v2/<name>/referrers/{}", s.manifests[3].digest),
                &[],
                Body::None,
            )
            .await;
        self.rec(
            &format!("{pre}GET request to missing manifest should yield 200"),
            r.and_then(|r| {
                checks(vec![referrers(&r).and_then(|l| {
                    ok_if(
                        l.len() == 1 && l[0]["digest"] == s.refs_c_layer.digest.as_str(),
                        || format!("{l:?}"),
                    )
                })])
            }),
        );

        // teardown
        let mut errs = Vec::new();
        for d in [
            &s.refs_index.digest,
            &s.manifests[2].digest,
            &s.manifests[4].digest,
            &s.refs_a_config.digest,
            &s.refs_a_layer.digest,
            &s.refs_b_config.digest,
            &s.refs_b_layer.digest,
            &s.refs_c_layer.digest,
        ] {
            match self
                .req(
                    "DELETE",
                    &format!("/v2/<name>/manifests/{d}"),
                    &[],
                    Body::None,
                )
                .await
            {
                Ok(r) => errs.extend(
                    checks(vec![ok_if(
                        (200..300).contains(&r.status) || r.status == 404 || r.status == 405,
                        || format!("status {}", r.status),
                    )])
                    .err(),
                ),
                Err(e) => errs.push(e),
            }
        }
        self.rec(
            "Teardown/Delete created manifest & associated tags",
            super::client::join(errs),
        );
        self.delete_any(
            "Teardown/Delete config blob created in tests",
            &format!("/v2/<name>/blobs/{}", s.configs[2].digest),
            true,
        )
        .await;
        self.delete_any(
            "Teardown/Delete layer blob created in setup",
            &format!("/v2/<name>/blobs/{}", s.layer.digest),
            true,
        )
        .await;
        let mut errs = Vec::new();
        for d in [
            &s.configs[4].digest,
            &s.ref_blob_a.digest,
            &s.ref_blob_b.digest,
            &s.empty_json.digest,
        ] {
            match self
                .req("DELETE", &format!("/v2/<name>/blobs/{d}"), &[], Body::None)
                .await
            {
                Ok(r) => errs.extend(
                    checks(vec![ok_if(
                        (200..300).contains(&r.status) || r.status == 404 || r.status == 405,
                        || format!("status {}", r.status),
                    )])
                    .err(),
                ),
                Err(e) => errs.push(e),
            }
        }
        self.rec("Teardown/References teardown", super::client::join(errs));
    }

    // ---- 04 content management ----------------------------------------------------------

    pub async fn management(&mut self, s: &Setup) {
        let tag = "tagtest0";
        let r = self.push(&s.configs[3]).await;
        self.rec(
            "Setup/Populate registry with test config blob",
            r.and_then(|r| checks(vec![is2xx(&r)])),
        );
        let r = self.push(&s.layer).await;
        self.rec(
            "Setup/Populate registry with test layer",
            r.and_then(|r| checks(vec![is2xx(&r)])),
        );
        let r = self.put_manifest(tag, MT_IMAGE, &s.manifests[3]).await;
        self.rec(
            "Setup/Populate registry with test tag",
            r.and_then(|r| checks(vec![is2xx(&r)])),
        );
        let r = self
            .req("GET", "/v2/<name>/tags/list", &[], Body::None)
            .await;
        let num = r.as_ref().map(tags_of).map(|t| t.len()).unwrap_or(0);
        self.rec(
            "Setup/Check how many tags there are before anything gets deleted",
            r.and_then(|r| checks(vec![r.expect_status(&[200])])),
        );

        let r = self
            .req(
                "DELETE",
                &format!("/v2/<name>/manifests/{tag}"),
                &[],
                Body::None,
            )
            .await;
        self.rec(
            "Manifest delete/DELETE request to manifest tag should return 202, unless tag deletion is disallowed (400/405)",
            r.and_then(|r| {
                let mut c = vec![r.expect_status(&[400, 202, 405])];
                if r.status == 400 {
                    c.push(error_code(&r, "UNSUPPORTED"));
                }
                checks(c)
            }),
        );
        let m3 = s.manifests[3].digest.clone();
        self.status_in(
            "Manifest delete/DELETE request to manifest (digest) should yield 202 response unless already deleted",
            "DELETE",
            &format!("/v2/<name>/manifests/{m3}"),
            &[],
            &[202, 404],
        )
        .await;
        self.status_in(
            "Manifest delete/GET request to deleted manifest URL should yield 404 response, unless delete is disallowed",
            "GET",
            &format!("/v2/<name>/manifests/{m3}"),
            &[],
            &[404, 200],
        )
        .await;
        let r = self
            .req("GET", "/v2/<name>/tags/list", &[], Body::None)
            .await;
        self.rec(
            "Manifest delete/GET request to tags list should reflect manifest deletion",
            r.and_then(|r| {
                let want = num.saturating_sub(1);
                let mut c = vec![r.expect_status(&[404, 200])];
                if r.status == 200 {
                    let t = tags_of(&r);
                    c.push(ok_if(t.len() == want, || {
                        format!("{} tags, expected {want}", t.len())
                    }));
                } else {
                    c.push(ok_if(want == 0, || {
                        format!("404 with {want} tags expected")
                    }));
                }
                checks(c)
            }),
        );
        let mut allowed = true;
        let r = async {
            let r = self
                .req(
                    "DELETE",
                    &format!("/v2/<name>/blobs/{}", s.configs[3].digest),
                    &[],
                    Body::None,
                )
                .await?;
            checks(vec![r.expect_status(&[202, 404, 405])])?;
            let r = self
                .req(
                    "DELETE",
                    &format!("/v2/<name>/blobs/{}", s.layer.digest),
                    &[],
                    Body::None,
                )
                .await?;
            allowed = r.status != 405;
            checks(vec![r.expect_status(&[202, 404, 405])])
        }
        .await;
        self.rec(
            "Blob delete/DELETE request to blob URL should yield 202 response",
            r,
        );
        if allowed {
            self.status_in(
                "Blob delete/GET request to deleted blob URL should yield 404 response",
                "GET",
                &format!("/v2/<name>/blobs/{}", s.configs[3].digest),
                &[],
                &[404],
            )
            .await;
        }
    }
}

const ERROR_CODES: [&str; 15] = [
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "MANIFEST_UNVERIFIED",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "TAG_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
];

fn first_error_code(r: &Resp) -> Result<String, String> {
    let v: Value =
        serde_json::from_slice(&r.body).map_err(|e| format!("error body is not JSON: {e}"))?;
    v["errors"][0]["code"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no errors[0].code in {v}"))
}

fn error_code_known(r: &Resp) -> Result<(), String> {
    let c = first_error_code(r)?;
    ok_if(ERROR_CODES.contains(&c.as_str()), || {
        format!("unknown error code {c}")
    })
}

fn error_code(r: &Resp, want: &str) -> Result<(), String> {
    let c = first_error_code(r)?;
    ok_if(c == want, || format!("error code {c}, expected {want}"))
}
