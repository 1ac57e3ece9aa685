//! Image signatures in cosign's format.
//!
//! - [`keys`]: ECDSA P-256 key pairs in cosign's files (the scrypt + secretbox encrypted
//!   private key, the SPKI public key), read and written byte-compatibly with cosign and
//!   sigstore-rs.
//! - [`payload`]: the "simple signing" payload a signature is made over, and the
//!   annotation checks of `verify -a`.
//! - [`tag_scheme`]: the `sha256-<hex>.sig` signature manifest that holds one layer per
//!   signature.
//! - [`repo`]: where signatures live ([`repo::SignatureRepo`]); a registry repository today,
//!   an OCI layout later.
//! - [`sign`] and [`verify`]: the two operations, over a [`repo::SignatureRepo`].
//!
//! The bundle form (referrers API) and the policy are to come as siblings of
//! [`tag_scheme`] and [`verify`]; nothing here assumes the tag scheme is the only one.

mod error;
pub mod keys;
pub mod payload;
pub mod repo;
pub mod sign;
pub mod tag_scheme;
pub mod verify;

pub use error::TrustError;
pub use keys::{KeyPair, PrivateKey, PublicKey};
