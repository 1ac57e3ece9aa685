//! The suite's HTTP layer (`conformance/api.go`): one request per call, each response
//! checked by the same expectations (status sets, headers, bodies) as the Go suite.

use std::collections::HashSet;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;

use super::data::{Algo, MT_OCI_IMAGE, MT_OCI_INDEX, MT_OCTET_STREAM, TestData};

/// Minimum chunk size the suite sends (`chunkMin`).
pub const CHUNK_MIN: usize = 1024;

/// A failed expectation; `unsupported` marks the suite's `errRegUnsupported` (a
/// registry falling back to an optional behaviour: the suite reports it as a skip).
#[derive(Clone, Debug)]
pub struct E {
    pub msg: String,
    pub unsupported: bool,
}

pub type R<T = ()> = Result<T, E>;

pub fn fail(msg: impl Into<String>) -> E {
    E {
        msg: msg.into(),
        unsupported: false,
    }
}

pub fn unsup(msg: impl Into<String>) -> E {
    E {
        msg: msg.into(),
        unsupported: true,
    }
}

/// `errors.Join`: none → Ok.
pub fn join(errs: Vec<E>) -> R {
    if errs.is_empty() {
        return Ok(());
    }
    Err(E {
        msg: errs
            .iter()
            .map(|e| e.msg.as_str())
            .collect::<Vec<_>>()
            .join("; "),
        unsupported: errs.iter().any(|e| e.unsupported),
    })
}

fn ctx(what: &str, e: E) -> E {
    E {
        msg: format!("{what}: {}", e.msg),
        unsupported: e.unsupported,
    }
}

/// A response, body read.
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, k: &str) -> Option<String> {
        self.headers
            .get(k)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn header_values(&self, k: &str) -> Vec<String> {
        self.headers
            .get_all(k)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }

    pub fn expect_status(&self, codes: &[u16]) -> Result<(), String> {
        if codes.contains(&self.status) {
            Ok(())
        } else {
            Err(format!(
                "unexpected status code, expected one of {codes:?}, received {} (body {})",
                self.status,
                short(&self.body)
            ))
        }
    }

    /// `apiExpectHeader`: `val` empty means "present".
    pub fn expect_header(&self, k: &str, val: &str) -> Result<(), String> {
        let cur = self.header_values(k);
        if val.is_empty() {
            if cur.is_empty() {
                return Err(format!("missing header {k:?}"));
            }
        } else if !cur.iter().any(|c| c == val) {
            return Err(format!(
                "header value mismatch for {k:?}, expected {val:?}, received {cur:?}"
            ));
        }
        Ok(())
    }

    pub fn expect_body(&self, b: &[u8]) -> Result<(), String> {
        if self.body == b {
            Ok(())
        } else {
            Err(format!(
                "body contents mismatch, expected {} bytes {}, received {} bytes {}",
                b.len(),
                short(b),
                self.body.len(),
                short(&self.body)
            ))
        }
    }
}

fn short(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) if s.len() <= 300 => format!("{s:?}"),
        Ok(s) => format!("{:?}...", &s[..s.floor_char_boundary(300)]),
        Err(_) => "<binary>".into(),
    }
}

/// Runs every check; all failures joined.
pub fn checks(list: Vec<Result<(), String>>) -> R {
    join(list.into_iter().filter_map(Result::err).map(fail).collect())
}

/// Request body.
pub enum Body {
    /// No body; POST/PUT/PATCH still send `Content-Length: 0`, as Go's client does.
    None,
    /// A body of known length.
    Bytes(Vec<u8>),
    /// A body of unknown length: chunked transfer encoding, as Go sends an `io.Reader`.
    Stream(Vec<u8>),
}

/// Suite HTTP client.
pub struct Client {
    pub http: reqwest::Client,
    pub base: url::Url,
    pub require_digest_header: bool,
}

/// Sets (replaces) a query parameter, as Go's `url.Values.Set`.
pub fn set_param(u: &url::Url, k: &str, v: &str) -> url::Url {
    let mut u = u.clone();
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(kk, _)| kk != k)
        .map(|(a, b)| (a.into_owned(), b.into_owned()))
        .collect();
    {
        let mut q = u.query_pairs_mut();
        q.clear();
        for (a, b) in &kept {
            q.append_pair(a, b);
        }
        q.append_pair(k, v);
    }
    u
}

/// Adds a query parameter, as Go's `url.Values.Add`.
pub fn add_param(u: &url::Url, k: &str, v: &str) -> url::Url {
    let mut u = u.clone();
    u.query_pairs_mut().append_pair(k, v);
    u
}

impl Client {
    pub fn url(&self, path: &str) -> url::Url {
        self.base.join(path).expect("url join")
    }

    pub async fn send(
        &self,
        method: &str,
        u: &url::Url,
        headers: &[(&str, &str)],
        body: Body,
    ) -> R<Resp> {
        let m = Method::from_bytes(method.as_bytes()).expect("method");
        let mut rb = self.http.request(m.clone(), u.clone());
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        rb = match body {
            Body::None => {
                if m == Method::POST || m == Method::PUT || m == Method::PATCH {
                    rb.body(Vec::<u8>::new())
                } else {
                    rb
                }
            }
            Body::Bytes(b) => rb.body(b),
            Body::Stream(b) => rb.body(reqwest::Body::wrap_stream(futures::stream::once(
                async move { Ok::<_, std::io::Error>(b) },
            ))),
        };
        let r = rb
            .send()
            .await
            .map_err(|e| fail(format!("{method} {u}: {e}")))?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let body = r
            .bytes()
            .await
            .map_err(|e| fail(format!("{method} {u}: reading body: {e}")))?
            .to_vec();
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    fn resolve(&self, u: &url::Url, loc: &str) -> R<url::Url> {
        u.join(loc)
            .map_err(|e| fail(format!("could not parse location header {loc:?}: {e}")))
    }

    /// `VerifyDigest`.
    pub fn verify_digest(&self, r: &Resp, dig: &str) -> R {
        match r.header("docker-content-digest") {
            None if self.require_digest_header => Err(fail(
                "registry did not return a Docker-Content-Digest header",
            )),
            Some(h) if !dig.is_empty() && h != dig => Err(fail(format!(
                "Docker-Content-Digest header value expected {dig:?}, received {h:?}"
            ))),
            _ => Ok(()),
        }
    }

    fn blob_url(&self, repo: &str, dig: &str) -> url::Url {
        self.url(&format!("/v2/{repo}/blobs/{dig}"))
    }

    fn uploads_url(&self, repo: &str) -> url::Url {
        self.url(&format!("/v2/{repo}/blobs/uploads/"))
    }

    pub async fn blob_delete(&self, repo: &str, dig: &str) -> R {
        let r = self
            .send("DELETE", &self.blob_url(repo, dig), &[], Body::None)
            .await?;
        checks(vec![r.expect_status(&[202, 404, 405])])
            .map_err(|e| ctx("blob delete failed", e))?;
        if r.status == 405 {
            return Err(unsup(format!("registry returned status {}", r.status)));
        }
        Ok(())
    }

    pub async fn blob_get(&self, repo: &str, dig: &str, headers: &[(&str, &str)]) -> R<Resp> {
        self.send("GET", &self.blob_url(repo, dig), headers, Body::None)
            .await
    }

    pub async fn blob_head(&self, repo: &str, dig: &str) -> R<Resp> {
        self.send("HEAD", &self.blob_url(repo, dig), &[], Body::None)
            .await
    }

    fn known_len(td: &TestData, dig: &str) -> Option<usize> {
        let empty = Algo::Sha256.digest(b"");
        td.blobs
            .get(dig)
            .filter(|v| !v.is_empty() || dig == empty)
            .map(Vec::len)
    }

    /// `BlobGetExistsFull`.
    pub async fn blob_get_exists_full(&self, repo: &str, dig: &str, td: &TestData) -> R {
        let r = self.blob_get(repo, dig, &[]).await?;
        let mut c = vec![r.expect_status(&[200])];
        if let Some(n) = Self::known_len(td, dig) {
            c.push(r.expect_body(&td.blobs[dig]));
            c.push(r.expect_header("content-length", &n.to_string()));
        }
        let mut errs = checks(c).err().into_iter().collect::<Vec<_>>();
        errs.extend(self.verify_digest(&r, dig).err());
        join(errs)
    }

    /// `BlobHeadExists`.
    pub async fn blob_head_exists(&self, repo: &str, dig: &str, td: &TestData) -> R {
        let r = self.blob_head(repo, dig).await?;
        let mut c = vec![r.expect_status(&[200]), r.expect_body(b"")];
        if let Some(n) = Self::known_len(td, dig) {
            c.push(r.expect_header("content-length", &n.to_string()));
        }
        let mut errs = checks(c).err().into_iter().collect::<Vec<_>>();
        errs.extend(self.verify_digest(&r, dig).err());
        join(errs)
    }

    /// `BlobMount` (`source` empty: anonymous mount).
    pub async fn blob_mount(&self, repo: &str, source: &str, dig: &str, td: &TestData) -> R {
        let body = td
            .blobs
            .get(dig)
            .ok_or_else(|| fail(format!("missing blob {dig}")))?
            .clone();
        let mut u = set_param(&self.uploads_url(repo), "mount", dig);
        if !source.is_empty() {
            u = set_param(&u, "from", source);
        }
        let r = self.send("POST", &u, &[], Body::None).await?;
        checks(vec![r.expect_status(&[201, 202])]).map_err(|e| ctx("blob post failed", e))?;
        let mut loc = r.header("location").unwrap_or_default();
        if loc.is_empty() {
            return Err(fail("blob post did not return a location"));
        }
        let mut errs = Vec::new();
        let mut resp = r;
        let mut uu = u.clone();
        if resp.status == 202 {
            uu = set_param(&self.resolve(&u, &loc)?, "digest", dig);
            let len = body.len().to_string();
            let r2 = self
                .send(
                    "PUT",
                    &uu,
                    &[("content-type", MT_OCTET_STREAM), ("content-length", &len)],
                    Body::Bytes(body.clone()),
                )
                .await?;
            checks(vec![r2.expect_status(&[201])]).map_err(|e| ctx("blob put failed", e))?;
            if let Some(l) = r2.header("location") {
                loc = l;
            }
            errs.push(unsup(format!(
                "registry returned status {}, fell back to blob POST+PUT",
                resp.status
            )));
            resp = r2;
        }
        self.verify_digest(&resp, dig)?;
        self.blob_verify_location(&uu, &loc, &body).await?;
        join(errs)
    }

    /// `BlobVerifyLocation`.
    pub async fn blob_verify_location(&self, u: &url::Url, loc: &str, body: &[u8]) -> R {
        if loc.is_empty() {
            return Err(fail("location header missing"));
        }
        let u = self.resolve(u, loc)?;
        let r = self.send("GET", &u, &[], Body::None).await?;
        checks(vec![r.expect_body(body), r.expect_status(&[200])])
            .map_err(|e| ctx("failed to verify returned location", e))
    }

    /// `BlobPatchChunked`; returns the `OCI-Chunk-Min-Length` header of the POST.
    pub async fn blob_patch_chunked(
        &self,
        repo: &str,
        dig: &str,
        td: &TestData,
        out_of_order: bool,
        put_last: bool,
        bad_digest: bool,
    ) -> R<Option<String>> {
        let body = td
            .blobs
            .get(dig)
            .ok_or_else(|| fail(format!("missing blob {dig}")))?
            .clone();
        let len = body.len();
        let mut u = self.uploads_url(repo);
        let r = self
            .send("POST", &u, &[("content-length", "0")], Body::None)
            .await?;
        checks(vec![r.expect_status(&[202])]).map_err(|e| ctx("blob post failed", e))?;
        let min_hdr = r.header("oci-chunk-min-length");
        let mut loc = r.header("location").unwrap_or_default();
        let mut chunk = len / 3 + 1;
        if let Some(m) = &min_hdr {
            let m: usize = m
                .trim()
                .parse()
                .map_err(|_| fail(format!("parsing OCI-Chunk-Min-Length size {m:?} failed")))?;
            chunk = chunk.max(m);
        }
        chunk = chunk.max(CHUNK_MIN).min(len);
        let mut last: i64 = -1;
        let mut final_resp: Option<Resp> = None;
        while last < len as i64 - 1 {
            if out_of_order {
                if loc.is_empty() {
                    return Err(fail("blob request did not return a location"));
                }
                u = self.resolve(&u, &loc)?;
                let mut bad_start = (last + 1) as usize + chunk;
                if bad_start >= len {
                    bad_start = 0;
                }
                let bad_last = (bad_start + chunk - 1).min(len - 1);
                let mut method = "PATCH";
                let mut bu = u.clone();
                if put_last && bad_last == len - 1 {
                    method = "PUT";
                    bu = set_param(&u, "digest", dig);
                }
                let cl = (bad_last - bad_start + 1).to_string();
                let cr = format!("{bad_start}-{bad_last}");
                let r = self
                    .send(
                        method,
                        &bu,
                        &[
                            ("content-length", &cl),
                            ("content-type", MT_OCTET_STREAM),
                            ("content-range", &cr),
                        ],
                        Body::Bytes(body[bad_start..=bad_last].to_vec()),
                    )
                    .await?;
                checks(vec![r.expect_status(&[416])])
                    .map_err(|e| ctx("blob out of order chunk", e))?;
                if let Some(l) = r.header("location") {
                    loc = l;
                }
                // recover with a GET to find the upload's state
                let r = self.send("GET", &bu, &[], Body::None).await?;
                checks(vec![r.expect_status(&[204])])
                    .map_err(|e| ctx("blob chunked upload get request", e))?;
                if let Some(l) = r.header("location") {
                    loc = l;
                }
                let range = r.header("range").unwrap_or_default();
                let Some(rest) = range.strip_prefix("0-") else {
                    return Err(fail(format!(
                        "content-range header is missing the 0- prefix: {range:?}"
                    )));
                };
                let n: i64 = rest.parse().map_err(|_| {
                    fail(format!(
                        "content-range header could not be parsed: {rest:?}"
                    ))
                })?;
                if last >= 0 && n != last {
                    return Err(fail(format!(
                        "content-range unexpected, received {rest:?}, expected \"0-{last}\""
                    )));
                }
            }
            if loc.is_empty() {
                return Err(fail("blob request did not return a location"));
            }
            u = self.resolve(&u, &loc)?;
            let start = (last + 1) as usize;
            let end = (start + chunk - 1).min(len - 1);
            last = end as i64;
            let cl = (end - start + 1).to_string();
            let cr = format!("{start}-{end}");
            let hdrs = [
                ("content-length", cl.as_str()),
                ("content-type", MT_OCTET_STREAM),
                ("content-range", cr.as_str()),
            ];
            let part = Body::Bytes(body[start..=end].to_vec());
            if put_last && end == len - 1 {
                u = set_param(&u, "digest", dig);
                let r = self.send("PUT", &u, &hdrs, part).await?;
                if bad_digest {
                    checks(vec![r.expect_status(&[400])])
                        .map_err(|e| ctx("blob patch failed", e))?;
                } else {
                    checks(vec![r.expect_status(&[201])])
                        .map_err(|e| ctx("blob patch failed", e))?;
                    if let Some(l) = r.header("location") {
                        loc = l;
                    }
                    final_resp = Some(r);
                }
            } else {
                let r = self.send("PATCH", &u, &hdrs, part).await?;
                checks(vec![r.expect_status(&[202])]).map_err(|e| ctx("blob patch failed", e))?;
                if let Some(l) = r.header("location") {
                    loc = l;
                }
            }
        }
        if !put_last {
            if loc.is_empty() {
                return Err(fail("blob patch did not return a location"));
            }
            u = set_param(&self.resolve(&u, &loc)?, "digest", dig);
            let r = self
                .send(
                    "PUT",
                    &u,
                    &[("content-length", "0"), ("content-type", MT_OCTET_STREAM)],
                    Body::None,
                )
                .await?;
            if bad_digest {
                checks(vec![r.expect_status(&[400])]).map_err(|e| ctx("blob put failed", e))?;
            } else {
                checks(vec![r.expect_status(&[201])]).map_err(|e| ctx("blob put failed", e))?;
                if let Some(l) = r.header("location") {
                    loc = l;
                }
                final_resp = Some(r);
            }
        }
        if bad_digest {
            return Ok(min_hdr);
        }
        if let Some(r) = &final_resp {
            self.verify_digest(r, dig)?;
        }
        self.blob_verify_location(&u, &loc, &body).await?;
        Ok(min_hdr)
    }

    /// `BlobPatchStream`.
    pub async fn blob_patch_stream(
        &self,
        repo: &str,
        dig: &str,
        td: &TestData,
        bad_digest: bool,
    ) -> R {
        let body = td
            .blobs
            .get(dig)
            .ok_or_else(|| fail(format!("missing blob {dig}")))?
            .clone();
        let u = self.uploads_url(repo);
        let r = self
            .send("POST", &u, &[("content-length", "0")], Body::None)
            .await?;
        checks(vec![r.expect_status(&[202])]).map_err(|e| ctx("blob post failed", e))?;
        let loc = r
            .header("location")
            .ok_or_else(|| fail("blob post did not return a location"))?;
        let u = self.resolve(&u, &loc)?;
        let r = self
            .send(
                "PATCH",
                &u,
                &[("content-type", MT_OCTET_STREAM)],
                Body::Stream(body.clone()),
            )
            .await?;
        checks(vec![r.expect_status(&[202])]).map_err(|e| ctx("blob patch failed", e))?;
        let loc = r
            .header("location")
            .ok_or_else(|| fail("blob patch did not return a location"))?;
        let u = set_param(&self.resolve(&u, &loc)?, "digest", dig);
        let r = self
            .send(
                "PUT",
                &u,
                &[("content-length", "0"), ("content-type", MT_OCTET_STREAM)],
                Body::None,
            )
            .await?;
        if bad_digest {
            return checks(vec![r.expect_status(&[400])]).map_err(|e| ctx("blob put failed", e));
        }
        checks(vec![
            r.expect_status(&[201]),
            r.expect_header("location", ""),
        ])
        .map_err(|e| ctx("blob put failed", e))?;
        self.verify_digest(&r, dig)?;
        self.blob_verify_location(&u, &r.header("location").unwrap_or_default(), &body)
            .await
    }

    /// `BlobPostCancel`.
    pub async fn blob_post_cancel(&self, repo: &str) -> R {
        let u = self.uploads_url(repo);
        let r = self.send("POST", &u, &[], Body::None).await?;
        checks(vec![r.expect_status(&[202])]).map_err(|e| ctx("blob post failed", e))?;
        let loc = r
            .header("location")
            .ok_or_else(|| fail("blob post did not return a location"))?;
        let u = self.resolve(&u, &loc)?;
        let r = self
            .send(
                "DELETE",
                &u,
                &[("content-length", "0")],
                Body::Bytes(Vec::new()),
            )
            .await?;
        checks(vec![r.expect_status(&[204])]).map_err(|e| ctx("blob cancel failed", e))
    }

    /// `BlobPostOnly`.
    pub async fn blob_post_only(
        &self,
        repo: &str,
        dig: &str,
        td: &TestData,
        bad_digest: bool,
    ) -> R {
        let body = td
            .blobs
            .get(dig)
            .ok_or_else(|| fail(format!("missing blob {dig}")))?
            .clone();
        let u = set_param(&self.uploads_url(repo), "digest", dig);
        let len = body.len().to_string();
        let hdrs = [
            ("content-length", len.as_str()),
            ("content-type", MT_OCTET_STREAM),
        ];
        let r = self
            .send("POST", &u, &hdrs, Body::Bytes(body.clone()))
            .await?;
        let c = if bad_digest {
            vec![r.expect_status(&[400, 202])]
        } else {
            vec![
                r.expect_status(&[201, 202]),
                r.expect_header("location", ""),
            ]
        };
        checks(c).map_err(|e| ctx("blob post failed", e))?;
        let loc = r.header("location").unwrap_or_default();
        if r.status == 202 {
            let u2 = set_param(&self.resolve(&u, &loc)?, "digest", dig);
            let r2 = self
                .send("PUT", &u2, &hdrs, Body::Bytes(body.clone()))
                .await?;
            let want = if bad_digest { 400 } else { 201 };
            checks(vec![r2.expect_status(&[want])]).map_err(|e| ctx("blob post failed", e))?;
            return Err(unsup(
                "registry does not support content in the POST, fallback to PUT",
            ));
        }
        if bad_digest {
            return Ok(());
        }
        self.verify_digest(&r, dig)?;
        self.blob_verify_location(&u, &loc, &body).await
    }

    /// `BlobPostPut`.
    pub async fn blob_post_put(&self, repo: &str, dig: &str, td: &TestData, bad_digest: bool) -> R {
        let body = td
            .blobs
            .get(dig)
            .ok_or_else(|| fail(format!("missing blob {dig}")))?
            .clone();
        let u = self.uploads_url(repo);
        let r = self.send("POST", &u, &[], Body::None).await?;
        checks(vec![r.expect_status(&[202])]).map_err(|e| ctx("blob post failed", e))?;
        let loc = r
            .header("location")
            .ok_or_else(|| fail("blob post did not return a location"))?;
        let u = set_param(&self.resolve(&u, &loc)?, "digest", dig);
        let len = body.len().to_string();
        let r = self
            .send(
                "PUT",
                &u,
                &[("content-length", &len), ("content-type", MT_OCTET_STREAM)],
                Body::Bytes(body.clone()),
            )
            .await?;
        if bad_digest {
            return checks(vec![r.expect_status(&[400])]).map_err(|e| ctx("blob put failed", e));
        }
        checks(vec![r.expect_status(&[201])]).map_err(|e| ctx("blob put failed", e))?;
        self.verify_digest(&r, dig)?;
        self.blob_verify_location(&u, &r.header("location").unwrap_or_default(), &body)
            .await
    }

    fn manifest_url(&self, repo: &str, reference: &str) -> url::Url {
        self.url(&format!("/v2/{repo}/manifests/{reference}"))
    }

    pub async fn manifest_delete(&self, repo: &str, reference: &str) -> R {
        let r = self
            .send(
                "DELETE",
                &self.manifest_url(repo, reference),
                &[],
                Body::None,
            )
            .await?;
        checks(vec![r.expect_status(&[202, 404, 400, 405])])
            .map_err(|e| ctx("manifest delete failed", e))?;
        if r.status == 400 || r.status == 405 {
            return Err(unsup(format!("registry returned status {}", r.status)));
        }
        Ok(())
    }

    pub async fn manifest_req(&self, method: &str, repo: &str, reference: &str) -> R<Resp> {
        let u = self.manifest_url(repo, reference);
        let accept = format!("{MT_OCI_INDEX}, {MT_OCI_IMAGE}");
        self.send(method, &u, &[("accept", &accept)], Body::None)
            .await
    }

    /// `ManifestGetExists` / `ManifestHeadExists`.
    pub async fn manifest_exists(
        &self,
        head: bool,
        repo: &str,
        reference: &str,
        dig: &str,
        td: &TestData,
    ) -> R {
        let r = self
            .manifest_req(if head { "HEAD" } else { "GET" }, repo, reference)
            .await?;
        let mut c = vec![r.expect_status(&[200])];
        if head {
            c.push(r.expect_body(b""));
        }
        if let Some(val) = td.manifests.get(dig).filter(|v| !v.is_empty()) {
            if !head {
                c.push(r.expect_body(val));
            }
            c.push(r.expect_header("content-type", &detect_media_type(val)));
            c.push(r.expect_header("content-length", &val.len().to_string()));
        }
        let mut errs = checks(c)
            .map_err(|e| {
                ctx(
                    if head {
                        "manifest head failed"
                    } else {
                        "manifest get failed"
                    },
                    e,
                )
            })
            .err()
            .into_iter()
            .collect::<Vec<_>>();
        errs.extend(self.verify_digest(&r, dig).err());
        join(errs)
    }

    /// `ManifestPut`; `tags` are `?tag=` parameters (and must come back as `OCI-Tag`).
    pub async fn manifest_put(
        &self,
        repo: &str,
        reference: &str,
        dig: &str,
        td: &TestData,
        bad_digest: bool,
        tags: &[String],
    ) -> R<Resp> {
        let body = td
            .manifests
            .get(dig)
            .ok_or_else(|| fail(format!("missing manifest {dig}")))?
            .clone();
        let mut u = self.manifest_url(repo, reference);
        for t in tags {
            u = add_param(&u, "tag", t);
        }
        let mt = detect_media_type(&body);
        let r = self
            .send(
                "PUT",
                &u,
                &[("content-type", &mt)],
                Body::Bytes(body.clone()),
            )
            .await?;
        let mut c = if bad_digest {
            vec![r.expect_status(&[400])]
        } else {
            vec![r.expect_status(&[201])]
        };
        if let Some(s) = detect_subject(&body) {
            c.push(r.expect_header("oci-subject", &s));
        }
        let mut errs: Vec<E> = checks(c)
            .map_err(|e| ctx("manifest put failed", e))
            .err()
            .into_iter()
            .collect();
        if bad_digest {
            return join(errs).map(|()| r);
        }
        if let Some(h) = r.header("docker-content-digest")
            && h != dig
        {
            errs.push(fail(format!(
                "Docker-Content-Digest header value expected {dig:?}, received {h:?}"
            )));
        }
        match r.header("location") {
            None => errs.push(fail("manifest put did not return a location")),
            Some(loc) => {
                let lu = self.resolve(&u, &loc)?;
                let accept = format!("{MT_OCI_INDEX}, {MT_OCI_IMAGE}");
                let g = self
                    .send("GET", &lu, &[("accept", &accept)], Body::None)
                    .await?;
                if let Err(e) = checks(vec![
                    g.expect_status(&[200]),
                    g.expect_header("content-type", &mt),
                    g.expect_header("content-length", &body.len().to_string()),
                    g.expect_body(&body),
                ]) {
                    errs.push(ctx("failed to verify returned location", e));
                }
            }
        }
        join(errs).map(|()| r)
    }

    /// `ReferrersList`: the index and the `OCI-Filters-Applied` header.
    pub async fn referrers(
        &self,
        repo: &str,
        dig: &str,
        artifact_type: Option<&str>,
    ) -> R<(Value, String)> {
        let mut u = self.url(&format!("/v2/{repo}/referrers/{dig}"));
        if let Some(at) = artifact_type {
            u = add_param(&u, "artifactType", at);
        }
        let r = self.send("GET", &u, &[], Body::None).await?;
        checks(vec![
            r.expect_header("content-type", MT_OCI_INDEX),
            r.expect_status(&[200]),
        ])?;
        let v: Value = serde_json::from_slice(&r.body)
            .map_err(|e| fail(format!("referrers body is not JSON: {e}")))?;
        if v["mediaType"] != MT_OCI_INDEX || v["schemaVersion"] != 2 {
            return Err(fail(
                "referrers response is not a valid OCI index (media type and schema version)",
            ));
        }
        Ok((v, r.header("oci-filters-applied").unwrap_or_default()))
    }

    /// `TagList`: 200 with a list, or 404.
    pub async fn tag_list(&self, repo: &str, last: Option<&str>) -> R<Vec<String>> {
        let mut u = self.url(&format!("/v2/{repo}/tags/list"));
        if let Some(l) = last {
            u = add_param(&u, "last", l);
        }
        let r = self.send("GET", &u, &[], Body::None).await?;
        match r.status {
            200 => {
                let v: Value = serde_json::from_slice(&r.body)
                    .map_err(|e| fail(format!("tag list is not JSON: {e}")))?;
                Ok(v["tags"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|t| t.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default())
            }
            404 => Ok(Vec::new()),
            s => Err(fail(format!(
                "response did not match any condition: status {s}, expected 200 or 404"
            ))),
        }
    }
}

#[derive(serde::Deserialize)]
struct Detect {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    subject: Option<DetectSubject>,
}

#[derive(serde::Deserialize)]
struct DetectSubject {
    digest: String,
}

pub fn detect_media_type(body: &[u8]) -> String {
    serde_json::from_slice::<Detect>(body)
        .ok()
        .and_then(|d| d.media_type)
        .unwrap_or_else(|| MT_OCI_IMAGE.into())
}

pub fn detect_subject(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Detect>(body)
        .ok()
        .and_then(|d| d.subject)
        .map(|s| s.digest)
}

/// Every entry of `want` present in `got`.
pub fn map_contains_all(got: &Value, want: &std::collections::BTreeMap<String, String>) -> bool {
    want.iter()
        .all(|(k, v)| got.get(k).and_then(Value::as_str) == Some(v.as_str()))
}

/// Whether the header value lists `name` (comma separated).
pub fn header_lists(values: &[String], name: &str) -> bool {
    values
        .iter()
        .any(|v| v.split(',').any(|s| s.trim() == name))
}

/// Distinct values.
pub fn uniq<T: std::hash::Hash + Eq + Clone>(v: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut seen = HashSet::new();
    v.into_iter().filter(|x| seen.insert(x.clone())).collect()
}
