//! The errors of signing and verifying, each naming the key file or image it is about.

use std::path::PathBuf;

/// What went wrong with a key, a signature or the registry holding them.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// A key file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key's bytes are not a key we understand.
    #[error("{what}: {detail}")]
    BadKey {
        /// The key (a file name, or "private key").
        what: String,
        /// Why it was refused.
        detail: String,
    },
    /// The password does not open the encrypted private key.
    #[error("{what}: decrypting the private key failed: wrong password?")]
    WrongPassword {
        /// The key.
        what: String,
    },
    /// A signature document (payload, manifest) is malformed.
    #[error("{what}: {detail}")]
    BadDocument {
        /// Which document (the image, the signature tag).
        what: String,
        /// Why.
        detail: String,
    },
    /// No signature of the image verified; `reasons` says why each candidate failed.
    #[error("no matching signatures for {image}: {}", reasons.join("; "))]
    NoMatchingSignatures {
        /// The image.
        image: String,
        /// One line per rejected signature, or why there were none.
        reasons: Vec<String>,
    },
    /// The trust policy does not admit the image.
    #[error("{image}: refused by the trust policy {} (rule {scope}, {requirement}): {why}", policy.display())]
    Refused {
        /// The image.
        image: String,
        /// The policy file.
        policy: PathBuf,
        /// The scope whose rule refused it (`default`, or the scope as written).
        scope: String,
        /// The requirement's type (`reject`, `signedBy`).
        requirement: String,
        /// Why it does not hold.
        why: String,
    },
    /// Talking to the registry failed.
    #[error(transparent)]
    Transport(#[from] transport::TransportError),
    /// A reference or manifest could not be parsed.
    #[error(transparent)]
    Oci(#[from] oci::OciError),
}
