//! Image signatures in cosign's format.
//!
//! - [`keys`]: ECDSA P-256 key pairs in cosign's files (the scrypt + secretbox encrypted
//!   private key, the SPKI public key), read and written byte-compatibly with cosign and
//!   sigstore-rs.
//! - [`payload`]: the "simple signing" payload a signature is made over, and the
//!   annotation checks of `verify -a`.
//! - [`tag_scheme`]: the `sha256-<hex>.sig` signature manifest that holds one layer per
//!   signature.
//! - [`repo`]: where signatures live ([`repo::SignatureRepo`]), and a registry repository;
//!   [`layout_repo`]: an OCI image layout directory; [`any_repo`]: either, chosen at run
//!   time.
//! - [`sign`] and [`verify`]: the two operations, over a [`repo::SignatureRepo`].
//! - [`dsse`], [`statement`], [`bundle`]: the sigstore bundle form (v0.3): an in-toto
//!   statement in a DSSE envelope, key-based (no certificate, no transparency log), and
//!   the decision whether one verifies; [`referrer`]: how a bundle is attached to the
//!   image (referrers API, or the `sha256-<hex>` tag schema where a registry lacks it).
//!   Attestations (`strata attest`: an SBOM as the predicate) use the same machinery:
//!   signed, a bundle of another predicate type; unsigned, an in-toto statement referrer.
//! - [`policy`]: the trust policy file (containers-policy.json's shape) and its rules;
//!   [`admit`] applies it to an image.
//! - [`carry`]: signatures following an image copied to another repository.

pub mod admit;
pub mod any_repo;
pub mod bundle;
pub mod bundle_repo;
pub mod carry;
pub mod dsse;
mod error;
pub mod keys;
pub mod layout_repo;
pub mod payload;
pub mod policy;
pub mod referrer;
pub mod repo;
pub mod sign;
pub mod statement;
pub mod tag_scheme;
pub mod verify;

pub use error::TrustError;
pub use keys::{KeyPair, PrivateKey, PublicKey};
