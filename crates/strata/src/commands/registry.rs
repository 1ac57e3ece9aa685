//! Opening registry clients the way every distribution command needs them: stored
//! credentials, and TLS relaxed for `insecure-registries` and `--tls-verify=false`.

use std::sync::Arc;
use std::time::Duration;

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
        ..with_timeouts(RegistryOptions::default())?
    };
    Ok(RegistryClient::new(host, opts)?)
}

/// The idle timeout of registry transfers: `STRATA_REGISTRY_IDLE_TIMEOUT` (a duration such
/// as `5s`, `500ms` or `1m30s`, or plain seconds), else [`transport::DEFAULT_IDLE_TIMEOUT`].
pub fn idle_timeout() -> anyhow::Result<Duration> {
    let name = transport::IDLE_TIMEOUT_ENV;
    let Some(value) = std::env::var_os(name) else {
        return Ok(transport::DEFAULT_IDLE_TIMEOUT);
    };
    let value = value.to_string_lossy();
    let value = value.trim();
    let parsed = match value.parse::<u64>() {
        Ok(secs) => Ok(Duration::from_secs(secs)),
        Err(_) => humantime::parse_duration(value).map_err(|e| e.to_string()),
    };
    match parsed {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => anyhow::bail!("{name}={value:?}: the idle timeout must be above zero"),
        Err(e) => anyhow::bail!("{name}={value:?}: {e} (use a duration such as 30s or 2m)"),
    }
}

/// `opts` with the idle timeout of [`idle_timeout`] and a small-object deadline of twice it.
pub fn with_timeouts(opts: RegistryOptions) -> anyhow::Result<RegistryOptions> {
    let idle = idle_timeout()?;
    Ok(RegistryOptions {
        idle_timeout: idle,
        deadline: idle * 2,
        ..opts
    })
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
