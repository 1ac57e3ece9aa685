//! The suite's test flow (`conformance/run.go`): `TestAll` and every `Test*` it calls, in
//! the same order, each recording one case per `TestPass`/`TestFail`/`TestSkip`.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::client::{Client, E, R, checks, fail, header_lists, map_contains_all, uniq};
use super::data::{Algo, Cfg, Gen, TestData};

/// The suite's `stateAPIType`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Api {
    TagList,
    TagDelete,
    TagDeleteAtomic,
    BlobCancel,
    BlobPush,
    BlobPostOnly,
    BlobPostPut,
    BlobPatchChunked,
    BlobPatchStream,
    BlobMountSource,
    BlobMountAnonymous,
    BlobGetFull,
    BlobGetRange,
    BlobHead,
    BlobDelete,
    BlobDeleteAtomic,
    ManifestPutDigest,
    ManifestPutTag,
    ManifestPutTagParam,
    ManifestPutSubject,
    ManifestGetDigest,
    ManifestGetTag,
    ManifestHeadDigest,
    ManifestHeadTag,
    ManifestDelete,
    ManifestDeleteAtomic,
    Referrers,
    Ping,
}

/// Case status, in `status.Set` order (a later one wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum St {
    /// Turned off by the profile (the suite's `statusDisabled`).
    Disabled,
    Pass,
    Skip,
    Fail,
}

/// One recorded case.
pub struct Case {
    pub name: String,
    pub status: St,
    pub reason: String,
}

/// (name, Range header, the 206 slice expected or None for a 416).
type RangeCase = (&'static str, &'static str, Option<(usize, usize)>);

const BLOB_APIS: [Api; 4] = [
    Api::BlobPostPut,
    Api::BlobPostOnly,
    Api::BlobPatchStream,
    Api::BlobPatchChunked,
];

/// Runner state (`runner` + `state`).
pub struct Runner {
    pub c: Client,
    pub cfg: Cfg,
    pub cases: Vec<Case>,
    path: Vec<String>,
    api_status: HashMap<Api, St>,
    blob_tested: HashSet<Api>,
    blob_tested_algo: HashMap<Algo, HashSet<Api>>,
}

impl Runner {
    pub fn new(c: Client, cfg: Cfg) -> Runner {
        Runner {
            c,
            cfg,
            cases: Vec::new(),
            path: Vec::new(),
            api_status: HashMap::new(),
            blob_tested: HashSet::new(),
            blob_tested_algo: HashMap::new(),
        }
    }

    pub fn enter(&mut self, name: &str) {
        self.path.push(name.to_string());
    }

    pub fn leave(&mut self) {
        self.path.pop();
    }

    /// Records one case named by the current path plus `name`.
    pub fn record(&mut self, name: &str, apis: &[Api], r: R) -> R {
        let status = match &r {
            Ok(()) => St::Pass,
            Err(e) if e.unsupported => St::Skip,
            Err(_) => St::Fail,
        };
        for a in apis {
            let s = self.api_status.entry(*a).or_insert(status);
            *s = (*s).max(status);
        }
        let mut full = self.path.join("/");
        if !full.is_empty() {
            full.push('/');
        }
        full.push_str(name);
        self.cases.push(Case {
            name: full,
            status,
            reason: r.as_ref().err().map(|e| e.msg.clone()).unwrap_or_default(),
        });
        r
    }

    /// A case checked by the suite's `APIRequire` being disabled: recorded as a skip.
    fn disabled(&mut self, name: &str, what: &str) -> R {
        let mut full = self.path.join("/");
        full.push('/');
        full.push_str(name);
        self.cases.push(Case {
            name: full,
            status: St::Disabled,
            reason: format!("api {what} is disabled in the configuration"),
        });
        Ok(())
    }

    // ---- TestAll -------------------------------------------------------------------

    pub async fn test_all(&mut self, repo: &str, repo2: &str) {
        let data = super::data::generate(self.cfg);
        self.enter("OCI Conformance Test");
        self.test_ping().await;
        self.test_empty(repo).await;
        for algo in [Algo::Sha256, Algo::Sha512] {
            self.test_blob_apis(algo, repo, repo2).await;
        }
        for mut td in data {
            let name = td.name.clone();
            self.enter(&name);
            self.test_push(&mut td, repo).await;
            self.test_list(&td, repo).await;
            self.test_head(&td, repo).await;
            self.test_pull(&td, repo).await;
            self.test_referrers(&td, repo).await;
            self.test_delete(&td, repo).await;
            self.leave();
        }
        self.test_manifest_errors(repo).await;
        self.leave();
    }

    pub async fn test_ping(&mut self) {
        let u = self.c.url("/v2/");
        let r = self
            .c
            .send("GET", &u, &[], super::client::Body::None)
            .await
            .map(|_| ());
        let _ = self.record("ping", &[Api::Ping], r);
    }

    pub async fn test_empty(&mut self, repo: &str) {
        self.enter("empty");
        let r = self.c.tag_list(repo, None).await.map(|_| ());
        let _ = self.record("tag list", &[Api::TagList], r);
        let subj = Algo::Sha256.digest(super::data::rand_text().as_bytes());
        let r = self.c.referrers(repo, &subj, None).await.map(|_| ());
        let _ = self.record("referrers", &[Api::Referrers], r);
        self.leave();
    }

    // ---- blob APIs -----------------------------------------------------------------

    pub async fn test_blob_apis(&mut self, algo: Algo, repo: &str, repo2: &str) {
        self.enter(&format!("{} blobs", algo.name()));
        let mut td = TestData::new(&format!("blobs-{}", algo.name()));
        let mut names: Vec<&str> = vec![
            "post only",
            "post+put",
            "chunked single",
            "stream",
            "mount",
            "mount anonymous",
            "mount missing",
            "post cancel",
        ];
        let mut digests: HashMap<String, String> = HashMap::new();
        for n in &names {
            let (d, _) = td.gen_blob(&Gen::default().size(512).algo(algo));
            digests.insert((*n).to_string(), d);
        }
        // a blob that was never pushed
        self.enter("get-missing");
        let r = match self.c.blob_get(repo, &digests["post cancel"], &[]).await {
            Ok(resp) => checks(vec![resp.expect_status(&[404])]),
            Err(e) => Err(e),
        };
        let _ = self.record("blob-get", &[Api::BlobGetFull], r);
        self.leave();

        names.extend([
            "chunked multi",
            "chunked multi and put chunk",
            "chunked out-of-order",
            "chunked out-of-order and put chunk",
        ]);
        let mut min_chunk = super::client::CHUNK_MIN;
        for name in names {
            self.enter(name);
            let mut dig = digests.get(name).cloned().unwrap_or_default();
            let multi = |td: &mut TestData, min_chunk: usize| {
                td.gen_blob(&Gen::default().size(min_chunk * 3 - 5).algo(algo))
                    .0
            };
            let (api, r) = match name {
                "post only" => (
                    Api::BlobPostOnly,
                    self.t_post_only(&td, repo, &dig, false).await,
                ),
                "post+put" => (
                    Api::BlobPostPut,
                    self.t_post_put(&td, repo, &dig, false).await,
                ),
                "chunked single" => {
                    let r = self
                        .c
                        .blob_patch_chunked(repo, &dig, &td, false, false, false)
                        .await;
                    if let Ok(Some(m)) = &r
                        && let Ok(m) = m.trim().parse::<usize>()
                        && m > min_chunk
                    {
                        min_chunk = m;
                    }
                    let r = r.map(|_| ());
                    (
                        Api::BlobPatchChunked,
                        self.record(
                            "blob-patch-chunked",
                            &[Api::BlobPatchChunked, Api::BlobPush],
                            r,
                        ),
                    )
                }
                "chunked multi" => {
                    dig = multi(&mut td, min_chunk);
                    (
                        Api::BlobPatchChunked,
                        self.t_chunked(&td, repo, &dig, false, false, false).await,
                    )
                }
                "chunked multi and put chunk" => {
                    dig = multi(&mut td, min_chunk);
                    (
                        Api::BlobPatchChunked,
                        self.t_chunked(&td, repo, &dig, false, true, false).await,
                    )
                }
                "chunked out-of-order" => {
                    dig = multi(&mut td, min_chunk);
                    (
                        Api::BlobPatchChunked,
                        self.t_chunked(&td, repo, &dig, true, false, false).await,
                    )
                }
                "chunked out-of-order and put chunk" => {
                    dig = multi(&mut td, min_chunk);
                    (
                        Api::BlobPatchChunked,
                        self.t_chunked(&td, repo, &dig, true, true, false).await,
                    )
                }
                "stream" => (
                    Api::BlobPatchStream,
                    self.t_stream(&td, repo, &dig, false).await,
                ),
                "post cancel" => {
                    let r = if self.cfg.upload_cancel {
                        let r = self.c.blob_post_cancel(repo).await;
                        self.record("blob-post-cancel", &[Api::BlobPush, Api::BlobCancel], r)
                    } else {
                        self.disabled("blob-post-cancel", "Blob upload cancel")
                    };
                    (Api::BlobPostPut, r)
                }
                "mount" => {
                    let _ = self.push_blob_any(&td, repo2, &dig, false).await;
                    let r = self.c.blob_mount(repo, repo2, &dig, &td).await;
                    (
                        Api::BlobMountSource,
                        self.record("blob-mount", &[Api::BlobMountSource], r),
                    )
                }
                "mount anonymous" => {
                    let _ = self.push_blob_any(&td, repo2, &dig, false).await;
                    let r = if self.cfg.mount_anonymous {
                        let r = self.c.blob_mount(repo, "", &dig, &td).await;
                        self.record("blob-mount-anonymous", &[Api::BlobMountAnonymous], r)
                    } else {
                        self.disabled("blob-mount-anonymous", "Blob anonymous mount")
                    };
                    (Api::BlobMountAnonymous, r)
                }
                "mount missing" => {
                    let r = match self.c.blob_mount(repo, repo2, &dig, &td).await {
                        Err(e) if e.unsupported => Ok(()),
                        Ok(()) => Err(fail("blob mount of missing blob incorrectly succeeded")),
                        Err(e) => Err(e),
                    };
                    (
                        Api::TagList,
                        self.record("blob-mount", &[Api::BlobMountSource], r),
                    )
                }
                other => panic!("unknown blob api test {other}"),
            };
            self.blob_tested.insert(api);
            self.blob_tested_algo.entry(algo).or_default().insert(api);
            if r.is_ok() && name != "post cancel" {
                self.t_head_blob(&td, repo, &dig).await;
                self.t_pull_blob(&td, repo, &dig).await;
            }
            self.t_delete_blob(repo, &dig).await;
            if name == "mount" || name == "mount anonymous" {
                self.t_delete_blob(repo2, &dig).await;
            }
            self.leave();
        }

        self.test_ranges(&mut td, algo, repo).await;

        // well known blob contents
        for (name, val) in [("empty", Vec::new()), ("emptyJSON", b"{}".to_vec())] {
            let dig = algo.digest(&val);
            td.blobs.insert(dig.clone(), val);
            self.enter(name);
            let _ = self.push_blob_any(&td, repo, &dig, false).await;
            self.t_head_blob(&td, repo, &dig).await;
            self.t_pull_blob(&td, repo, &dig).await;
            self.t_delete_blob(repo, &dig).await;
            self.leave();
        }

        // pushes whose bytes do not match their digest
        let bad = [
            "bad digest post only",
            "bad digest post+put",
            "bad digest chunked",
            "bad digest chunked and put chunk",
            "bad digest stream",
        ];
        for name in bad {
            let (d, _) = td.gen_blob(&Gen::default().size(min_chunk * 3 - 5).algo(algo));
            td.blobs
                .get_mut(&d)
                .expect("blob just generated")
                .extend_from_slice(b"oh no");
            digests.insert(name.to_string(), d);
        }
        for name in bad {
            self.enter(name);
            let dig = digests[name].clone();
            let _ = match name {
                "bad digest post only" => self.t_post_only(&td, repo, &dig, true).await,
                "bad digest post+put" => self.t_post_put(&td, repo, &dig, true).await,
                // the suite sends this one without its PutLastChunk flag, too
                "bad digest chunked" | "bad digest chunked and put chunk" => {
                    self.t_chunked(&td, repo, &dig, false, false, true).await
                }
                _ => self.t_stream(&td, repo, &dig, true).await,
            };
            self.leave();
        }
        self.leave();
    }

    async fn test_ranges(&mut self, td: &mut TestData, algo: Algo, repo: &str) {
        self.enter("range requests");
        let n = 2048usize;
        let (dig, body) = td.gen_blob(&Gen::default().size(n).algo(algo));
        if let Err(e) = self.push_blob_any(td, repo, &dig, false).await {
            let _ = self.record(
                "setup",
                &[Api::BlobGetRange],
                Err(E {
                    msg: e.msg,
                    unsupported: true,
                }),
            );
            self.leave();
            return;
        }
        let tests: [RangeCase; 6] = [
            ("range 500-1499", "bytes=500-1499", Some((500, 1500))),
            ("range 500-", "bytes=500-", Some((500, n))),
            ("range -500", "bytes=-500", Some((n - 500, n))),
            ("range 2000-5000", "bytes=2000-5000", Some((2000, n))),
            ("range 500-0", "bytes=500-0", None),
            ("range 5000-10000", "bytes=5000-10000", None),
        ];
        for (name, range, want) in tests {
            self.enter(name);
            let r = match self.c.blob_get(repo, &dig, &[("range", range)]).await {
                Err(e) => Err(e),
                Ok(resp) => {
                    let primary = match want {
                        Some((a, b)) => checks(vec![
                            resp.expect_body(&body[a..b]),
                            resp.expect_status(&[206]),
                            resp.expect_header("content-length", &(b - a).to_string()),
                            resp.expect_header(
                                "content-range",
                                &format!("bytes {a}-{}/{n}", b - 1),
                            )
                            .or_else(|_| {
                                resp.expect_header(
                                    "content-range",
                                    &format!("bytes {a}-{}/*", b - 1),
                                )
                            }),
                        ]),
                        None => checks(vec![resp.expect_status(&[416])]),
                    };
                    match primary {
                        Ok(()) => Ok(()),
                        Err(e) => {
                            let fallback = checks(vec![
                                resp.expect_status(&[200]),
                                resp.expect_header("content-length", &n.to_string()),
                                resp.expect_body(&body),
                            ]);
                            if fallback.is_ok() {
                                Err(E {
                                    msg: "range request unsupported, full blob returned".into(),
                                    unsupported: true,
                                })
                            } else {
                                Err(fail(format!(
                                    "response did not match any condition: {}",
                                    e.msg
                                )))
                            }
                        }
                    }
                }
            };
            let _ = self.record("blob-get-range", &[Api::BlobGetRange], r);
            self.leave();
        }
        self.t_delete_blob(repo, &dig).await;
        self.leave();
    }

    // ---- blob push wrappers (each one case) --------------------------------------------

    async fn t_post_only(&mut self, td: &TestData, repo: &str, dig: &str, bad: bool) -> R {
        let r = self.c.blob_post_only(repo, dig, td, bad).await;
        self.record("blob-post-only", &[Api::BlobPostOnly, Api::BlobPush], r)
    }

    async fn t_post_put(&mut self, td: &TestData, repo: &str, dig: &str, bad: bool) -> R {
        let r = self.c.blob_post_put(repo, dig, td, bad).await;
        self.record("blob-post-put", &[Api::BlobPostPut, Api::BlobPush], r)
    }

    async fn t_stream(&mut self, td: &TestData, repo: &str, dig: &str, bad: bool) -> R {
        let r = self.c.blob_patch_stream(repo, dig, td, bad).await;
        self.record(
            "blob-patch-stream",
            &[Api::BlobPatchStream, Api::BlobPush],
            r,
        )
    }

    async fn t_chunked(
        &mut self,
        td: &TestData,
        repo: &str,
        dig: &str,
        ooo: bool,
        put_last: bool,
        bad: bool,
    ) -> R {
        let r = self
            .c
            .blob_patch_chunked(repo, dig, td, ooo, put_last, bad)
            .await
            .map(|_| ());
        self.record(
            "blob-patch-chunked",
            &[Api::BlobPatchChunked, Api::BlobPush],
            r,
        )
    }

    /// `TestPushBlobAny`: untested APIs first, then untested for this algorithm, then
    /// passing ones; stops at the first success.
    pub async fn push_blob_any(&mut self, td: &TestData, repo: &str, dig: &str, bad: bool) -> R {
        let algo = Algo::of(dig);
        let tested_algo = self.blob_tested_algo.entry(algo).or_default().clone();
        let mut order: Vec<Api> = BLOB_APIS
            .iter()
            .copied()
            .filter(|a| !self.blob_tested.contains(a))
            .collect();
        order.extend(
            BLOB_APIS
                .iter()
                .copied()
                .filter(|a| !tested_algo.contains(a)),
        );
        order.extend(
            BLOB_APIS
                .iter()
                .copied()
                .filter(|a| self.api_status.get(a) == Some(&St::Pass)),
        );
        order.extend(BLOB_APIS);
        let mut errs = Vec::new();
        for api in uniq(order) {
            let r = match api {
                Api::BlobPostPut => self.t_post_put(td, repo, dig, bad).await,
                Api::BlobPostOnly => self.t_post_only(td, repo, dig, bad).await,
                Api::BlobPatchStream => self.t_stream(td, repo, dig, bad).await,
                _ => self.t_chunked(td, repo, dig, false, false, bad).await,
            };
            self.blob_tested.insert(api);
            self.blob_tested_algo.entry(algo).or_default().insert(api);
            match r {
                Ok(()) => return Ok(()),
                Err(e) => errs.push(e),
            }
        }
        super::client::join(errs)
    }

    async fn t_head_blob(&mut self, td: &TestData, repo: &str, dig: &str) {
        let r = self.c.blob_head_exists(repo, dig, td).await;
        let _ = self.record("blob-head", &[Api::BlobHead], r);
    }

    async fn t_pull_blob(&mut self, td: &TestData, repo: &str, dig: &str) {
        let r = self.c.blob_get_exists_full(repo, dig, td).await;
        let _ = self.record("blob-get", &[Api::BlobGetFull], r);
    }

    /// `TestDeleteBlob`: one case (the suite's leaf `blob-delete`) holding the delete and
    /// the check that it is atomic (HEAD 404 right after).
    async fn t_delete_blob(&mut self, repo: &str, dig: &str) {
        let r = match self.c.blob_delete(repo, dig).await {
            Ok(()) => match self.c.blob_head(repo, dig).await {
                Ok(resp) => checks(vec![resp.expect_status(&[404])])
                    .map_err(|e| fail(format!("blob still there after delete: {}", e.msg))),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let _ = self.record("blob-delete", &[Api::BlobDelete, Api::BlobDeleteAtomic], r);
    }

    // ---- data sets -----------------------------------------------------------------

    async fn test_push(&mut self, td: &mut TestData, repo: &str) {
        self.enter("push");
        for dig in td.blobs.keys().cloned().collect::<Vec<_>>() {
            let _ = self.push_blob_any(td, repo, &dig, false).await;
        }
        for dig in td.man_order.clone() {
            self.t_push_manifest_digest(td, repo, &dig).await;
        }
        for (tag, dig) in td.tags.clone() {
            if td.tag_pushed.contains(&tag) {
                continue;
            }
            let mut apis = vec![Api::ManifestPutTag];
            if super::client::detect_subject(&td.manifests[&dig]).is_some() {
                apis.push(Api::ManifestPutSubject);
            }
            let r = self
                .c
                .manifest_put(repo, &tag, &dig, td, td.bad_digest.contains(&dig), &[])
                .await
                .map(|_| ());
            if r.is_ok() {
                td.tag_pushed.insert(tag.clone());
            }
            let _ = self.record(&format!("manifest-by-tag {tag}"), &apis, r);
        }
        self.leave();
    }

    async fn t_push_manifest_digest(&mut self, td: &mut TestData, repo: &str, dig: &str) {
        let mut apis = vec![Api::ManifestPutDigest];
        if super::client::detect_subject(&td.manifests[dig]).is_some() {
            apis.push(Api::ManifestPutSubject);
        }
        let tags: Vec<String> = if td.tag_param.contains(dig) {
            apis.push(Api::ManifestPutTagParam);
            td.tags
                .iter()
                .filter(|(_, d)| d.as_str() == dig)
                .map(|(t, _)| t.clone())
                .collect()
        } else {
            Vec::new()
        };
        let bad = td.bad_digest.contains(dig);
        let r = match self.c.manifest_put(repo, dig, dig, td, bad, &tags).await {
            Err(e) => Err(e),
            Ok(resp) => {
                let values = resp.header_values("oci-tag");
                let mut missing = Vec::new();
                for t in &tags {
                    if header_lists(&values, t) {
                        td.tag_pushed.insert(t.clone());
                    } else {
                        missing.push(t.clone());
                    }
                }
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(E {
                        msg: format!("header missing OCI-Tag: {missing:?}"),
                        unsupported: true,
                    })
                }
            }
        };
        let _ = self.record(&format!("manifest-by-digest {dig}"), &apis, r);
    }

    async fn test_list(&mut self, td: &TestData, repo: &str) {
        let r = async {
            let list = self.c.tag_list(repo, None).await?;
            let mut errs = Vec::new();
            for t in td.tags.keys() {
                if !list.contains(t) {
                    errs.push(fail(format!("missing tag {t:?} from listing")));
                }
            }
            if list.len() >= 2 {
                let mut sorted = list.clone();
                sorted.sort();
                let end = sorted.len() / 2;
                let last = sorted[end - 1].clone();
                let partial = self.c.tag_list(repo, Some(&last)).await?;
                for t in &sorted[..end] {
                    if partial.contains(t) {
                        errs.push(fail(format!(
                            "tag {t:?} returned when last set to {last:?}"
                        )));
                    }
                }
                for t in &sorted[end..] {
                    if !partial.contains(t) {
                        errs.push(fail(format!("tag {t:?} missing when last set to {last:?}")));
                    }
                }
            }
            super::client::join(errs)
        }
        .await;
        let _ = self.record("tag-list", &[Api::TagList], r);
    }

    async fn test_head(&mut self, td: &TestData, repo: &str) {
        self.enter("head");
        for (tag, dig) in &td.tags {
            if td.skip_pull.contains(dig) {
                continue;
            }
            let r = self.c.manifest_exists(true, repo, tag, dig, td).await;
            let _ = self.record(
                &format!("manifest-head-by-tag {tag}"),
                &[Api::ManifestHeadTag],
                r,
            );
        }
        for dig in &td.man_order {
            if td.skip_pull.contains(dig) {
                continue;
            }
            let r = self.c.manifest_exists(true, repo, dig, dig, td).await;
            let _ = self.record(
                &format!("manifest-head-by-digest {dig}"),
                &[Api::ManifestHeadDigest],
                r,
            );
        }
        for dig in td.blobs.keys() {
            self.t_head_blob(td, repo, dig).await;
        }
        self.leave();
    }

    async fn test_pull(&mut self, td: &TestData, repo: &str) {
        self.enter("pull");
        for (tag, dig) in &td.tags {
            if td.skip_pull.contains(dig) {
                continue;
            }
            let r = self.c.manifest_exists(false, repo, tag, dig, td).await;
            let _ = self.record(&format!("manifest-by-tag {tag}"), &[Api::ManifestGetTag], r);
        }
        for dig in &td.man_order {
            if td.skip_pull.contains(dig) {
                continue;
            }
            let r = self.c.manifest_exists(false, repo, dig, dig, td).await;
            let _ = self.record(
                &format!("manifest-by-digest {dig}"),
                &[Api::ManifestGetDigest],
                r,
            );
        }
        for dig in td.blobs.keys() {
            self.t_pull_blob(td, repo, dig).await;
        }
        self.leave();
    }

    async fn test_referrers(&mut self, td: &TestData, repo: &str) {
        if td.referrers.is_empty() {
            return;
        }
        let mut errs = Vec::new();
        let matches = |v: &Value, goal: &super::data::Desc| {
            v["digest"] == goal.digest.as_str()
                && v["mediaType"] == goal.media_type.as_str()
                && v["size"] == goal.size
                && v.get("artifactType").and_then(Value::as_str).unwrap_or("") == goal.artifact_type
                && map_contains_all(&v["annotations"], &goal.annotations)
        };
        for (subj, goals) in &td.referrers {
            match self.c.referrers(repo, subj, None).await {
                Err(e) => errs.push(e),
                Ok((idx, _)) => {
                    let list = idx["manifests"].as_array().cloned().unwrap_or_default();
                    for g in goals {
                        if !list.iter().any(|v| matches(v, g)) {
                            errs.push(fail(format!(
                                "entry missing from referrers list, subject {subj}, referrer {} ({})",
                                g.digest, g.artifact_type
                            )));
                        }
                    }
                }
            }
            let ats = uniq(goals.iter().map(|g| g.artifact_type.clone()));
            for at in ats {
                match self.c.referrers(repo, subj, Some(&at)).await {
                    Err(e) => errs.push(e),
                    Ok((idx, filters)) => {
                        let applied = filters.split(',').any(|f| f.trim() == "artifactType");
                        if !applied {
                            errs.push(E {
                                msg: "registry does not set the expected OCI-Filters-Applied header for the artifactType".into(),
                                unsupported: true,
                            });
                        }
                        let list = idx["manifests"].as_array().cloned().unwrap_or_default();
                        for g in goals {
                            if (!applied || g.artifact_type == at)
                                && !list.iter().any(|v| matches(v, g))
                            {
                                errs.push(fail(format!(
                                    "entry missing from filtered referrers list, subject {subj}, referrer {}",
                                    g.digest
                                )));
                            }
                        }
                        if applied {
                            for v in &list {
                                if v.get("artifactType").and_then(Value::as_str).unwrap_or("") != at
                                {
                                    errs.push(fail(format!(
                                        "referrers filter for artifactType {at} included descriptor {v}"
                                    )));
                                }
                            }
                        }
                    }
                }
            }
        }
        let r = super::client::join(errs);
        let _ = self.record("referrers", &[Api::Referrers], r);
    }

    async fn test_delete(&mut self, td: &TestData, repo: &str) {
        self.enter("delete");
        for tag in td.tags.keys() {
            if !td.tag_pushed.contains(tag) {
                continue;
            }
            let r = match self.c.manifest_delete(repo, tag).await {
                Ok(()) => match self.c.manifest_req("HEAD", repo, tag).await {
                    Ok(resp) => checks(vec![resp.expect_status(&[404])])
                        .map_err(|e| fail(format!("tag still there after delete: {}", e.msg))),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            let _ = self.record(
                &format!("tag-delete {tag}"),
                &[Api::TagDelete, Api::TagDeleteAtomic],
                r,
            );
        }
        for dig in td.man_order.iter().rev() {
            self.t_delete_manifest(repo, dig).await;
        }
        for dig in td.blobs.keys() {
            self.t_delete_blob(repo, dig).await;
        }
        self.leave();
    }

    async fn t_delete_manifest(&mut self, repo: &str, dig: &str) {
        let r = match self.c.manifest_delete(repo, dig).await {
            Ok(()) => match self.c.manifest_req("HEAD", repo, dig).await {
                Ok(resp) => checks(vec![resp.expect_status(&[404])])
                    .map_err(|e| fail(format!("manifest still there after delete: {}", e.msg))),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let _ = self.record(
            &format!("manifest-delete {dig}"),
            &[Api::ManifestDelete, Api::ManifestDeleteAtomic],
            r,
        );
    }

    // ---- manifest errors -------------------------------------------------------------

    pub async fn test_manifest_errors(&mut self, repo: &str) {
        self.enter("missing-manifest");
        let dig = Algo::Sha256.digest(&super::data::rand_bytes(1024));
        let r = match self.c.manifest_req("GET", repo, &dig).await {
            Ok(resp) => checks(vec![resp.expect_status(&[404])]),
            Err(e) => Err(e),
        };
        let _ = self.record("by-digest", &[Api::ManifestGetDigest], r);
        let tag = format!(
            "missing-{}",
            super::data::rand_text()
                .to_lowercase()
                .chars()
                .take(20)
                .collect::<String>()
        );
        let r = match self.c.manifest_req("GET", repo, &tag).await {
            Ok(resp) => checks(vec![resp.expect_status(&[404])]),
            Err(e) => Err(e),
        };
        let _ = self.record("by-tag", &[Api::ManifestGetTag], r);
        self.leave();

        self.enter("invalid-digest-format");
        let mut td = TestData::new("invalid-manifest-digest");
        let man = td.gen_manifest_full(&Gen {
            layer_count: Some(1),
            ..Gen::default()
        });
        for dig in td.blobs.keys().cloned().collect::<Vec<_>>() {
            let _ = self.push_blob_any(&td, repo, &dig, false).await;
        }
        let r = self
            .c
            .manifest_put(repo, "sha256:baddigeststring", &man, &td, true, &[])
            .await
            .map(|_| ());
        let _ = self.record("manifest-put", &[Api::ManifestPutDigest], r);
        let r = match self
            .c
            .manifest_req("GET", repo, "sha256:baddigeststring")
            .await
        {
            Ok(resp) => checks(vec![resp.expect_status(&[404, 400])]),
            Err(e) => Err(e),
        };
        let _ = self.record("manifest-get", &[Api::ManifestGetDigest], r);
        self.test_delete(&td, repo).await;
        self.leave();
    }
}
