//! Errors: storage failures, what went wrong with the registry's content ([`RepoError`]),
//! and the distribution-spec error codes the API answers with.

use std::io;
use std::time::Duration;

use oci::Digest;

/// A storage backend failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key is not a valid storage key.
    #[error("invalid storage key {key:?}")]
    InvalidKey {
        /// The rejected key.
        key: String,
    },
    /// No object at the key.
    #[error("no object at {key}")]
    NotFound {
        /// The key.
        key: String,
    },
    /// An append did not start where the object ends.
    #[error("append to {key} at offset {got}, but it holds {expected} bytes")]
    OffsetMismatch {
        /// The key.
        key: String,
        /// The object's current size.
        expected: u64,
        /// The offset the append asked for.
        got: u64,
    },
    /// An object was larger than the caller allows.
    #[error("object {key} is larger than {limit} bytes")]
    TooLarge {
        /// The key.
        key: String,
        /// The limit.
        limit: u64,
    },
    /// The body being written failed (the client went away, or sent too much).
    #[error("reading the request body: {source}")]
    Body {
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The storage configuration (an object-storage URL or option) is unusable.
    #[error("storage {what}: {message}")]
    Config {
        /// The URL or setting.
        what: String,
        /// What is wrong.
        message: String,
    },
    /// The backend's I/O failed.
    #[error("{op} {key}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The key (or path) involved.
        key: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// An error code of the distribution spec (the `code` field of an error body). A 4xx
/// response only ever carries one of the spec's fourteen codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// Blob unknown to registry.
    BlobUnknown,
    /// Blob upload invalid.
    BlobUploadInvalid,
    /// Blob upload unknown to registry.
    BlobUploadUnknown,
    /// Provided digest did not match uploaded content.
    DigestInvalid,
    /// Manifest references a manifest or blob unknown to registry.
    ManifestBlobUnknown,
    /// Manifest invalid.
    ManifestInvalid,
    /// Manifest unknown to registry.
    ManifestUnknown,
    /// Invalid repository name.
    NameInvalid,
    /// Repository name not known to registry.
    NameUnknown,
    /// Provided length did not match content length.
    SizeInvalid,
    /// Authentication required.
    Unauthorized,
    /// Requested access to the resource is denied.
    Denied,
    /// The operation is unsupported.
    Unsupported,
    /// Too many requests.
    TooManyRequests,
    /// The registry cannot serve now: its storage failed its health check (503, as
    /// distribution's `UNAVAILABLE`).
    Unavailable,
    /// A server-side failure (5xx only: the spec lists the codes of 4xx bodies, and this
    /// is not one of them).
    Unknown,
}

impl Code {
    /// The code as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BlobUnknown => "BLOB_UNKNOWN",
            Code::BlobUploadInvalid => "BLOB_UPLOAD_INVALID",
            Code::BlobUploadUnknown => "BLOB_UPLOAD_UNKNOWN",
            Code::DigestInvalid => "DIGEST_INVALID",
            Code::ManifestBlobUnknown => "MANIFEST_BLOB_UNKNOWN",
            Code::ManifestInvalid => "MANIFEST_INVALID",
            Code::ManifestUnknown => "MANIFEST_UNKNOWN",
            Code::NameInvalid => "NAME_INVALID",
            Code::NameUnknown => "NAME_UNKNOWN",
            Code::SizeInvalid => "SIZE_INVALID",
            Code::Unauthorized => "UNAUTHORIZED",
            Code::Denied => "DENIED",
            Code::Unsupported => "UNSUPPORTED",
            Code::TooManyRequests => "TOOMANYREQUESTS",
            Code::Unavailable => "UNAVAILABLE",
            Code::Unknown => "UNKNOWN",
        }
    }

    /// The HTTP status the code is usually answered with.
    pub fn status(self) -> u16 {
        match self {
            Code::BlobUnknown
            | Code::BlobUploadUnknown
            | Code::ManifestUnknown
            | Code::NameUnknown => 404,
            Code::Unauthorized => 401,
            Code::Denied => 403,
            Code::Unsupported => 405,
            Code::TooManyRequests => 429,
            Code::Unavailable => 503,
            Code::Unknown => 500,
            _ => 400,
        }
    }
}

/// An API error: a spec code, a message and an HTTP status, answered as
/// `{"errors":[{"code","message","detail"}]}`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", code.as_str())]
pub struct ApiError {
    /// The spec code.
    pub code: Code,
    /// The HTTP status.
    pub status: u16,
    /// A message for people.
    pub message: String,
    /// Extra detail (JSON), when any.
    pub detail: Option<serde_json::Value>,
}

impl ApiError {
    /// An error with the code's usual status.
    pub fn new(code: Code, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            status: code.status(),
            message: message.into(),
            detail: None,
        }
    }

    /// The same error with another HTTP status.
    pub fn with_status(mut self, status: u16) -> ApiError {
        self.status = status;
        self
    }

    /// The same error with a detail value.
    pub fn with_detail(mut self, detail: serde_json::Value) -> ApiError {
        self.detail = Some(detail);
        self
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> ApiError {
        match &e {
            StorageError::Body { .. } => ApiError::new(Code::BlobUploadInvalid, e.to_string()),
            StorageError::InvalidKey { .. } => ApiError::new(Code::NameInvalid, e.to_string()),
            _ => ApiError::new(Code::Unknown, e.to_string()),
        }
    }
}

/// An operation on the registry's content ([`crate::repo`]) failed, in the content model's
/// own terms. The API answers each with a status and a spec code, in one place
/// (`impl From<RepoError> for ApiError`).
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The repository name is not one the spec allows.
    #[error("invalid repository name {name:?}")]
    NameInvalid {
        /// The name.
        name: String,
    },
    /// The tag is not one the spec allows.
    #[error("invalid tag {tag:?}: tags match [A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}")]
    TagInvalid {
        /// The tag.
        tag: String,
    },
    /// A digest given by the client is malformed.
    #[error("{reason}")]
    DigestInvalid {
        /// The text given.
        value: String,
        /// Why it is not a digest.
        reason: String,
    },
    /// The registry holds no blob with this digest.
    #[error("blob {digest} is not in the registry")]
    BlobUnknown {
        /// The blob.
        digest: Digest,
    },
    /// No upload session has this id.
    #[error("unknown upload {id:?}")]
    UploadUnknown {
        /// The session id.
        id: String,
    },
    /// A chunk does not start where the upload ends.
    #[error("chunk starts at {start} but the upload holds {size} bytes")]
    ChunkOutOfOrder {
        /// Where the chunk starts.
        start: u64,
        /// What the upload holds.
        size: u64,
    },
    /// Another writer appended to the upload between its size being read and this append.
    #[error("upload holds {size} bytes; another writer got there first")]
    AppendRaced {
        /// What the upload holds.
        size: u64,
    },
    /// An upload's content does not have the digest the client closed it with.
    #[error("content has digest {actual}, not {expected}")]
    ContentDigestMismatch {
        /// The digest the client gave.
        expected: Digest,
        /// The content's.
        actual: Digest,
    },
    /// The repository has no such manifest (or tag).
    #[error("manifest {name}:{reference} is unknown")]
    ManifestUnknown {
        /// The repository.
        name: String,
        /// The tag or digest.
        reference: String,
    },
    /// A manifest pushed by digest does not have that digest.
    #[error("manifest has digest {actual}, not {expected}")]
    ManifestDigestMismatch {
        /// The digest it was pushed as.
        expected: Digest,
        /// Its own.
        actual: Digest,
    },
    /// A manifest does not parse, or contradicts its Content-Type.
    #[error("{reason}")]
    ManifestInvalid {
        /// What is wrong.
        reason: String,
    },
    /// A manifest names a blob or manifest the repository does not have.
    #[error("manifest refers to {digest}, which is not in the repository")]
    ManifestBlobUnknown {
        /// What it names.
        digest: Digest,
    },
    /// A tag holds something other than a digest.
    #[error("corrupt tag {name}:{tag}: {reason}")]
    CorruptTag {
        /// The repository.
        name: String,
        /// The tag.
        tag: String,
        /// Why its content is not a digest.
        reason: String,
    },
    /// A garbage collector kept holding what a write depends on through every attempt.
    #[error("{what}: garbage collection is running on the same content; retry")]
    Busy {
        /// The write (`manifest push`, `linking a blob`).
        what: &'static str,
    },
    /// A manifest push took more than half the grace period between refreshing its
    /// references and committing (a collector that started meanwhile may not have seen them).
    #[error(
        "manifest push took {elapsed:?} between refreshing its references and committing, \
         more than half the {grace:?} garbage-collection grace period; retry"
    )]
    CommitTooSlow {
        /// The time taken.
        elapsed: Duration,
        /// The grace period.
        grace: Duration,
    },
    /// A referrer's descriptor could not be encoded.
    #[error("{0}")]
    Encode(#[from] serde_json::Error),
    /// The storage backend failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Starting the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The storage root could not be opened.
    #[error("opening registry storage: {0}")]
    Storage(#[from] StorageError),
    /// The storage backend did not answer its start-up check (unreachable endpoint,
    /// missing bucket, unwritable directory), so the server refuses to start.
    #[error("registry storage {backend} is not usable: {message}")]
    StorageUnavailable {
        /// The backend: a directory or a bucket URL (never credentials).
        backend: String,
        /// What failed.
        message: String,
    },
    /// The listen address could not be bound.
    #[error("listening on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The htpasswd file could not be read or parsed.
    #[error("htpasswd file {path}: {message}")]
    Htpasswd {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The TLS certificate or key could not be used.
    #[error("TLS file {path}: {message}")]
    Tls {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// Garbage collection failed.
#[derive(Debug, thiserror::Error)]
pub enum GcError {
    /// The storage backend failed.
    #[error("garbage collection: {0}")]
    Storage(#[from] StorageError),
    /// A registry operation failed (a corrupt link or key).
    #[error("garbage collection: {0}")]
    Registry(#[from] RepoError),
}
