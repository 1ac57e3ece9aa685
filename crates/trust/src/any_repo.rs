//! [`AnyRepo`]: a registry repository or an OCI layout, chosen at run time (a copy's two
//! ends, `sign`/`verify` of an address), behind one [`SignatureRepo`].

use oci::Descriptor;

use crate::TrustError;
use crate::layout_repo::LayoutRepo;
use crate::repo::{RegistryRepo, SignatureRepo};

/// Where signatures can live.
#[derive(Debug)]
pub enum AnyRepo {
    /// A repository in a registry.
    Registry(RegistryRepo),
    /// An OCI image layout directory.
    Layout(LayoutRepo),
}

impl SignatureRepo for AnyRepo {
    async fn resolve(&self, reference: &str) -> Result<Option<Descriptor>, TrustError> {
        match self {
            AnyRepo::Registry(r) => r.resolve(reference).await,
            AnyRepo::Layout(r) => r.resolve(reference).await,
        }
    }

    async fn manifest(&self, d: &Descriptor) -> Result<Vec<u8>, TrustError> {
        match self {
            AnyRepo::Registry(r) => r.manifest(d).await,
            AnyRepo::Layout(r) => r.manifest(d).await,
        }
    }

    async fn blob(&self, d: &Descriptor) -> Result<Vec<u8>, TrustError> {
        match self {
            AnyRepo::Registry(r) => r.blob(d).await,
            AnyRepo::Layout(r) => r.blob(d).await,
        }
    }

    async fn put_blob(&self, d: &Descriptor, bytes: Vec<u8>) -> Result<(), TrustError> {
        match self {
            AnyRepo::Registry(r) => r.put_blob(d, bytes).await,
            AnyRepo::Layout(r) => r.put_blob(d, bytes).await,
        }
    }

    async fn put_manifest(
        &self,
        d: &Descriptor,
        bytes: Vec<u8>,
        tag: &str,
    ) -> Result<(), TrustError> {
        match self {
            AnyRepo::Registry(r) => r.put_manifest(d, bytes, tag).await,
            AnyRepo::Layout(r) => r.put_manifest(d, bytes, tag).await,
        }
    }

    async fn put_manifest_untagged(
        &self,
        d: &Descriptor,
        bytes: Vec<u8>,
    ) -> Result<(), TrustError> {
        match self {
            AnyRepo::Registry(r) => r.put_manifest_untagged(d, bytes).await,
            AnyRepo::Layout(r) => r.put_manifest_untagged(d, bytes).await,
        }
    }

    async fn referrers(
        &self,
        subject: &Descriptor,
        artifact_type: Option<&str>,
    ) -> Result<Option<Vec<Descriptor>>, TrustError> {
        match self {
            AnyRepo::Registry(r) => r.referrers(subject, artifact_type).await,
            AnyRepo::Layout(r) => r.referrers(subject, artifact_type).await,
        }
    }
}
