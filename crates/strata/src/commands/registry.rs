//! Opening registry clients the way every distribution command needs them: stored
//! credentials, and TLS relaxed for `insecure-registries` and `--tls-verify=false`.

use std::sync::Arc;

use oci::Reference;
use transport::{CopyOptions, RegistryClient, RegistryOptions};

use super::Ctx;
use crate::progress::Progress;

/// A client for the registry of `r`.
pub fn client(ctx: &Ctx, r: &Reference, tls_verify: bool) -> anyhow::Result<RegistryClient> {
    client_for_host(ctx, r.domain(), tls_verify)
}

/// A client for `host` (`docker.io`, `localhost:5000`).
pub fn client_for_host(ctx: &Ctx, host: &str, tls_verify: bool) -> anyhow::Result<RegistryClient> {
    let credentials = transport::lookup_credentials(host)?;
    let opts = RegistryOptions {
        tls_verify: tls_verify && !ctx.config.is_insecure(host),
        credentials,
        ..RegistryOptions::default()
    };
    Ok(RegistryClient::new(host, opts)?)
}

/// Copy options that report progress to `progress`.
pub fn with_progress(opts: CopyOptions, progress: &Arc<Progress>) -> CopyOptions {
    let p = progress.clone();
    CopyOptions {
        progress: Some(Arc::new(move |e| p.handle(&e))),
        ..opts
    }
}

/// The registry-side name of a tag or digest (`v1`, `sha256:…`) a reference points at.
pub fn reference_string(r: &Reference) -> String {
    match (r.digest(), r.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => "latest".to_string(),
    }
}
