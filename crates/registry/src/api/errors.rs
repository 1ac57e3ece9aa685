//! The one place where what went wrong with the registry's content ([`RepoError`]) becomes
//! an HTTP status and a distribution-spec error code.

use serde_json::json;

use crate::error::{ApiError, Code, RepoError};

impl From<RepoError> for ApiError {
    fn from(e: RepoError) -> ApiError {
        let message = e.to_string();
        match e {
            RepoError::NameInvalid { .. } => ApiError::new(Code::NameInvalid, message),
            RepoError::TagInvalid { .. } | RepoError::ManifestInvalid { .. } => {
                ApiError::new(Code::ManifestInvalid, message)
            }
            RepoError::DigestInvalid { .. } | RepoError::ManifestDigestMismatch { .. } => {
                ApiError::new(Code::DigestInvalid, message)
            }
            RepoError::ContentDigestMismatch { expected, actual } => {
                ApiError::new(Code::DigestInvalid, message).with_detail(
                    json!({ "expected": expected.to_string(), "actual": actual.to_string() }),
                )
            }
            RepoError::BlobUnknown { .. } => ApiError::new(Code::BlobUnknown, message),
            RepoError::UploadUnknown { .. } => ApiError::new(Code::BlobUploadUnknown, message),
            // 416 Range Not Satisfiable, as distribution answers a chunk out of order.
            RepoError::ChunkOutOfOrder { .. } | RepoError::AppendRaced { .. } => {
                ApiError::new(Code::BlobUploadInvalid, message).with_status(416)
            }
            RepoError::ManifestUnknown { .. } => ApiError::new(Code::ManifestUnknown, message),
            RepoError::ManifestBlobUnknown { digest } => {
                ApiError::new(Code::ManifestBlobUnknown, message)
                    .with_detail(json!({ "digest": digest.to_string() }))
            }
            // A collector in the way: 503, which clients retry.
            RepoError::Busy { .. } | RepoError::CommitTooSlow { .. } => {
                ApiError::new(Code::Unknown, message).with_status(503)
            }
            RepoError::CorruptTag { .. } | RepoError::Encode(_) => {
                ApiError::new(Code::Unknown, message)
            }
            RepoError::Storage(e) => ApiError::from(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_domain_error_has_its_status_and_code() {
        let d: oci::Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        let cases: Vec<(RepoError, u16, Code)> = vec![
            (
                RepoError::NameInvalid { name: "A".into() },
                400,
                Code::NameInvalid,
            ),
            (
                RepoError::TagInvalid { tag: "-".into() },
                400,
                Code::ManifestInvalid,
            ),
            (
                RepoError::BlobUnknown { digest: d.clone() },
                404,
                Code::BlobUnknown,
            ),
            (
                RepoError::UploadUnknown { id: "x".into() },
                404,
                Code::BlobUploadUnknown,
            ),
            (
                RepoError::ChunkOutOfOrder { start: 1, size: 0 },
                416,
                Code::BlobUploadInvalid,
            ),
            (
                RepoError::AppendRaced { size: 3 },
                416,
                Code::BlobUploadInvalid,
            ),
            (
                RepoError::ManifestUnknown {
                    name: "a".into(),
                    reference: "v1".into(),
                },
                404,
                Code::ManifestUnknown,
            ),
            (
                RepoError::ManifestBlobUnknown { digest: d.clone() },
                400,
                Code::ManifestBlobUnknown,
            ),
            (
                RepoError::Busy {
                    what: "manifest push",
                },
                503,
                Code::Unknown,
            ),
            (
                RepoError::Storage(crate::StorageError::InvalidKey { key: "..".into() }),
                400,
                Code::NameInvalid,
            ),
        ];
        for (e, status, code) in cases {
            let what = format!("{e:?}");
            let a = ApiError::from(e);
            assert_eq!((a.status, a.code), (status, code), "{what}");
        }
        let a = ApiError::from(RepoError::ContentDigestMismatch {
            expected: d.clone(),
            actual: d.clone(),
        });
        assert_eq!(a.code, Code::DigestInvalid);
        assert_eq!(a.detail.unwrap()["expected"], d.to_string());
    }
}
