//! The error type of the `transport` crate.

use std::path::PathBuf;

use oci::Digest;

/// Errors from reading or writing images anywhere.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The image, manifest or blob does not exist at the source.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, with where (`manifest localhost:5000/app:v1`).
        what: String,
    },
    /// Content whose digest is not the one it was asked for.
    #[error("{what}: content hashes to {actual}, expected {expected}")]
    DigestMismatch {
        /// What was being transferred.
        what: String,
        /// The digest asked for.
        expected: Digest,
        /// The digest of what arrived.
        actual: Digest,
    },
    /// Content of another length than declared.
    #[error("{what}: got {actual} bytes, expected {expected}")]
    SizeMismatch {
        /// What was being transferred.
        what: String,
        /// The declared size.
        expected: u64,
        /// What arrived.
        actual: u64,
    },
    /// The registry refused our credentials or we have none.
    #[error(
        "{registry}: authentication required or refused: {detail} (run `strata login {registry}`)"
    )]
    Unauthorized {
        /// The registry host.
        registry: String,
        /// What the registry said.
        detail: String,
    },
    /// A registry answered with an error status.
    #[error("{method} {url}: {status}: {detail}")]
    Registry {
        /// HTTP method.
        method: String,
        /// The URL asked.
        url: String,
        /// HTTP status code.
        status: u16,
        /// The error body or its summary.
        detail: String,
    },
    /// A network failure talking to a registry. The message is the URL and the root cause
    /// (`connection refused`, `too many redirects`), once: reqwest's own wording repeats
    /// the URL at every level of its error chain.
    #[error("{url}: {}", root_cause(error))]
    Http {
        /// The URL asked.
        url: String,
        /// The client error (not a `source`: its chain is already in the message).
        error: reqwest::Error,
    },
    /// A transfer stalled (no byte for the idle timeout) or a small object missed its
    /// deadline.
    #[error("{what} from {registry}: {detail}")]
    TimedOut {
        /// What was being transferred (`blob sha256:…`, `manifest app:v1`).
        what: String,
        /// The registry host.
        registry: String,
        /// Which timeout ran out, and how to change it.
        detail: String,
    },
    /// The source cannot start a blob at an offset.
    #[error("resuming a transfer is not supported by this source")]
    RangeUnsupported,
    /// No manifest in an index matches the platform asked for.
    #[error("no image for platform {platform} in {reference} (it has: {available})")]
    NoMatchingPlatform {
        /// The platform asked for.
        platform: String,
        /// The image.
        reference: String,
        /// The platforms it has.
        available: String,
    },
    /// Malformed content (a manifest, an archive's index).
    #[error("{what}: {detail}")]
    Invalid {
        /// What was being read, with where.
        what: String,
        /// What is wrong with it.
        detail: String,
    },
    /// A file-system error, with the path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An I/O error on a stream with no single path.
    #[error("{what}: {source}")]
    Stream {
        /// What was being read or written.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The registry knows who we are but refuses the operation (HTTP 403).
    #[error(
        "{method} {url}: 403 access denied: {detail} (check the repository name and that your account may access it)"
    )]
    Denied {
        /// HTTP method.
        method: String,
        /// The URL asked.
        url: String,
        /// What the registry said.
        detail: String,
    },
    /// Reading or writing stored registry credentials failed (config.json, a credential helper).
    #[error("credentials for {registry}: {detail}")]
    Credentials {
        /// The registry host.
        registry: String,
        /// What went wrong, with the file or helper.
        detail: String,
    },
    /// An error from the OCI model.
    #[error(transparent)]
    Oci(#[from] oci::OciError),
    /// An error from the local store.
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl TransportError {
    /// Whether the thing asked for does not exist (exit code and messages differ).
    pub fn is_not_found(&self) -> bool {
        matches!(self, TransportError::NotFound { .. })
            || matches!(self, TransportError::Registry { status: 404, .. })
    }

    /// Whether retrying the same request may succeed (network hiccups, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            TransportError::Http { error: source, .. } if is_tls_failure(source) => false,
            TransportError::Http { error: source, .. } => {
                source.is_timeout()
                    || source.is_connect()
                    || source.is_request()
                    || source.is_body()
                    || source.is_decode()
            }
            TransportError::Registry { status, .. } => *status >= 500 || *status == 429,
            TransportError::Stream { .. } | TransportError::TimedOut { .. } => true,
            _ => false,
        }
    }
}

/// Whether a request failed on TLS: the handshake, or a certificate the client refuses
/// (untrusted, expired, for another name). Asking again gets the same answer, so it is
/// not retried. rustls's errors reach us through hyper's and the I/O layer's wrappers, as
/// text at the innermost level.
pub(crate) fn is_tls_failure(e: &reqwest::Error) -> bool {
    let mut next = std::error::Error::source(e);
    while let Some(s) = next {
        let text = s.to_string();
        if text.contains("invalid peer certificate")
            || text.contains("certificate")
            || text.contains("tls handshake")
            || text.contains("received corrupt message")
            || text.contains("peer is incompatible")
        {
            return true;
        }
        next = s.source();
    }
    false
}

/// The innermost causes of a reqwest error, joined with `: ` (`client error (Connect): tcp
/// connect error: Connection refused (os error 111)`), or its own message when it has none.
fn root_cause(e: &reqwest::Error) -> String {
    let mut causes = Vec::new();
    let mut next = std::error::Error::source(e);
    while let Some(c) = next {
        causes.push(c.to_string());
        next = c.source();
    }
    // Each level's message repeats the levels below it in some errors: keep the first
    // level whose text is not already contained in the previous one.
    causes.dedup_by(|later, earlier| earlier.contains(later.as_str()));
    if causes.is_empty() {
        e.to_string()
    } else {
        causes.join(": ")
    }
}

/// `text` made safe for a terminal: control characters (escape sequences, NULs, newlines)
/// escaped as `\u{1b}`, cut to `max` characters with `…`. Input bytes that are not UTF-8
/// arrive here as U+FFFD from a lossy conversion.
pub(crate) fn printable(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// `error: cause: cause`, for errors folded into a `detail` string (reqwest's and zip's
/// own messages leave their causes out).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
