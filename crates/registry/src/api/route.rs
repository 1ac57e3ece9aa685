//! The `/v2/` paths: which resource a path names, read from the right because repository
//! names contain slashes.

use crate::error::{ApiError, Code};
use crate::names;

/// A parsed `/v2/` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags {
        /// Repository.
        name: String,
    },
    /// `/v2/<name>/manifests/<reference>`
    Manifest {
        /// Repository.
        name: String,
        /// Tag or digest.
        reference: String,
    },
    /// `/v2/<name>/blobs/<digest>`
    Blob {
        /// Repository.
        name: String,
        /// Digest (unparsed).
        digest: String,
    },
    /// `/v2/<name>/blobs/uploads/`
    UploadStart {
        /// Repository.
        name: String,
    },
    /// `/v2/<name>/blobs/uploads/<id>`
    Upload {
        /// Repository.
        name: String,
        /// Session id.
        id: String,
    },
    /// `/v2/<name>/referrers/<digest>`
    Referrers {
        /// Repository.
        name: String,
        /// Subject digest (unparsed).
        digest: String,
    },
}

impl Route {
    /// Parses the part of a path after `/v2/`. `None` is a path the API does not have;
    /// an invalid repository name is 400 `NAME_INVALID`.
    pub fn parse(path: &str) -> Result<Option<Route>, ApiError> {
        if path == "_catalog" {
            return Ok(Some(Route::Catalog));
        }
        let segs: Vec<&str> = path.split('/').collect();
        let n = segs.len();
        let name_of = |k: usize| -> Result<String, ApiError> {
            let name = segs[..n - k].join("/");
            if names::valid_name(&name) {
                Ok(name)
            } else {
                Err(ApiError::new(
                    Code::NameInvalid,
                    format!("invalid repository name {name:?}"),
                ))
            }
        };
        if n >= 3 && segs[n - 2] == "tags" && segs[n - 1] == "list" {
            return Ok(Some(Route::Tags { name: name_of(2)? }));
        }
        if n >= 4 && segs[n - 3] == "blobs" && segs[n - 2] == "uploads" {
            let name = name_of(3)?;
            return Ok(Some(if segs[n - 1].is_empty() {
                Route::UploadStart { name }
            } else {
                Route::Upload {
                    name,
                    id: segs[n - 1].to_string(),
                }
            }));
        }
        if n >= 3 && segs[n - 2] == "blobs" && segs[n - 1] == "uploads" {
            return Ok(Some(Route::UploadStart { name: name_of(2)? }));
        }
        if n >= 3 && !segs[n - 1].is_empty() {
            let last = segs[n - 1].to_string();
            match segs[n - 2] {
                "manifests" => {
                    return Ok(Some(Route::Manifest {
                        name: name_of(2)?,
                        reference: last,
                    }));
                }
                "blobs" => {
                    return Ok(Some(Route::Blob {
                        name: name_of(2)?,
                        digest: last,
                    }));
                }
                "referrers" => {
                    return Ok(Some(Route::Referrers {
                        name: name_of(2)?,
                        digest: last,
                    }));
                }
                _ => {}
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let m = |n: &str, r: &str| {
            Some(Route::Manifest {
                name: n.into(),
                reference: r.into(),
            })
        };
        let cases: Vec<(&str, Option<Route>)> = vec![
            ("_catalog", Some(Route::Catalog)),
            ("a/tags/list", Some(Route::Tags { name: "a".into() })),
            ("a/b/manifests/latest", m("a/b", "latest")),
            ("manifests/manifests/x", m("manifests", "x")),
            (
                "a/manifests/b/manifests/sha256:x",
                m("a/manifests/b", "sha256:x"),
            ),
            (
                "a/blobs/sha256:x",
                Some(Route::Blob {
                    name: "a".into(),
                    digest: "sha256:x".into(),
                }),
            ),
            (
                "a/blobs/uploads/",
                Some(Route::UploadStart { name: "a".into() }),
            ),
            (
                "a/blobs/uploads",
                Some(Route::UploadStart { name: "a".into() }),
            ),
            (
                "a/blobs/uploads/abc",
                Some(Route::Upload {
                    name: "a".into(),
                    id: "abc".into(),
                }),
            ),
            (
                "x/y/referrers/sha256:1",
                Some(Route::Referrers {
                    name: "x/y".into(),
                    digest: "sha256:1".into(),
                }),
            ),
            ("a/manifests/", None),
            ("a", None),
            ("a/other/thing", None),
        ];
        for (p, want) in cases {
            assert_eq!(Route::parse(p).unwrap(), want, "{p}");
        }
        for bad in [
            "../manifests/x",
            "a/../../b/manifests/x",
            "A/manifests/x",
            "a//b/blobs/uploads/",
            "/manifests/x",
            "a/./b/tags/list",
        ] {
            let e = Route::parse(bad).unwrap_err();
            assert_eq!(e.code, Code::NameInvalid, "{bad}");
        }
    }
}
