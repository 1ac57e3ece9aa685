//! The `conformance` suite (tests/conformance.rs) on the object-storage backend: the same tests, each
//! server on `ObjectStorage` over s3s-fs (a real S3 server) on 127.0.0.1. `common::backend`
//! picks the backend from this binary's crate name.

#[path = "conformance.rs"]
mod conformance;
