//! `strata registry serve` and `strata registry gc`: an OCI distribution registry from a
//! config file (TOML or YAML, as docker-registry takes `serve CONFIG`) and flags, which
//! override the file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use registry::config::{FileConfig, LogFormat, parse_duration};
use registry::storage::{FsStorage, ObjectStorage, Storage};

/// Where the registry keeps its content: flags shared by `serve` and `gc`.
#[derive(Debug, Clone, clap::Args)]
pub struct StorageArgs {
    /// The registry's config file: TOML, or YAML when it ends in .yml or .yaml.
    #[arg(value_name = "CONFIG")]
    pub config: Option<PathBuf>,
    /// Keep content in this directory (default: the config file's storage, else
    /// `registry/` under the store root, `--root`).
    #[arg(long, value_name = "DIR", conflicts_with = "storage")]
    pub root: Option<PathBuf>,
    /// Keep content in object storage: `s3://BUCKET[/PREFIX]`, `gs://…` or `az://…`.
    /// Several servers on one bucket share everything.
    #[arg(long, value_name = "URL")]
    pub storage: Option<String>,
    /// An object-storage option, `KEY=VALUE` (`endpoint`, `region`, `access_key_id`,
    /// `secret_access_key`, `allow_http`, …); repeatable. `AWS_*` variables apply too.
    #[arg(long = "storage-opt", value_name = "KEY=VALUE")]
    pub storage_opts: Vec<String>,
}

/// Flags of `strata registry serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryServeArgs {
    /// The config file and storage.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Address to listen on (default 127.0.0.1:5000, or the config's `http.addr`).
    #[arg(long)]
    pub addr: Option<SocketAddr>,
    /// Require HTTP basic auth against this htpasswd file (bcrypt entries, `htpasswd -B`).
    #[arg(long, value_name = "FILE")]
    pub htpasswd: Option<PathBuf>,
    /// The realm named in basic-auth challenges.
    #[arg(long, value_name = "REALM")]
    pub realm: Option<String>,
    /// Serve HTTPS with this certificate chain (PEM), with --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Collect garbage this often while serving (`30m`, `6h`); off unless set here or in
    /// the config's `gc.interval`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub gc_interval: Option<Duration>,
    /// Content younger than this is never collected (default 1h). Every server sharing
    /// the storage must use the same value.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub gc_grace: Option<Duration>,
    /// Run as a pull-through cache of this registry (`https://registry-1.docker.io`,
    /// `http://127.0.0.1:5000`): content is fetched on first pull and kept; pushes are
    /// refused.
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// User name for the upstream (default: the credentials `strata login` stored for it).
    #[arg(long, value_name = "USER", requires = "proxy")]
    pub proxy_username: Option<String>,
    /// Password for the upstream, with --proxy-username.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "STRATA_PROXY_PASSWORD",
        hide_env_values = true,
        requires = "proxy_username"
    )]
    pub proxy_password: Option<String>,
    /// Seconds a tag resolved upstream is trusted before asking again (0: ask every time).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub proxy_tag_ttl: u64,
    /// Close connections that send no complete request head for this long (default 30s,
    /// or the config's `http.header_timeout`).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub header_timeout: Option<Duration>,
}

/// Flags of `strata registry gc`.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryGcArgs {
    /// The config file and storage.
    #[command(flatten)]
    pub storage: StorageArgs,
    /// Content younger than this is kept (default: the config's `gc.grace`, else 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub grace: Option<Duration>,
    /// Remove upload sessions idle for longer than this (default 24h).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub upload_max_age: Option<Duration>,
    /// Also delete manifests that no tag refers to.
    #[arg(long)]
    pub delete_untagged: bool,
    /// Report what would be freed, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Reads the config file named by `args`, or the defaults when none is.
fn load_config(args: &StorageArgs) -> anyhow::Result<FileConfig> {
    match &args.config {
        Some(path) => Ok(FileConfig::load(path)?),
        None => Ok(FileConfig::default()),
    }
}

/// The log level and format a `registry serve CONFIG` asks for in its `[log]` section
/// (`None` when the command is not `registry serve` or the file says nothing); errors
/// in the file are reported when the command runs.
pub fn log_settings(args: &RegistryServeArgs) -> (Option<String>, Option<LogFormat>) {
    match load_config(&args.storage) {
        Ok(c) => (c.log.level, c.log.format),
        Err(_) => (None, None),
    }
}

/// Opens the storage flags and the config file name, and says what it is.
fn open_storage(
    ctx: &super::Ctx,
    args: &StorageArgs,
    file: &FileConfig,
) -> anyhow::Result<(Arc<dyn Storage>, String)> {
    let object = |url: &str, options: BTreeMap<String, String>| -> anyhow::Result<_> {
        let storage = ObjectStorage::from_url(url, options)
            .with_context(|| format!("opening object storage {url}"))?;
        Ok((Arc::new(storage) as Arc<dyn Storage>, url.to_string()))
    };
    let fs = |root: &Path| -> anyhow::Result<_> {
        let storage = FsStorage::new(root)
            .with_context(|| format!("opening registry storage {}", root.display()))?;
        Ok((
            Arc::new(storage) as Arc<dyn Storage>,
            root.display().to_string(),
        ))
    };
    // The file's options, then the flags' on top.
    let options = |mut options: BTreeMap<String, String>| -> anyhow::Result<_> {
        for kv in &args.storage_opts {
            let (k, v) = kv
                .split_once('=')
                .with_context(|| format!("--storage-opt {kv:?}: expected KEY=VALUE"))?;
            options.insert(k.to_string(), v.to_string());
        }
        Ok(options)
    };
    let file_options = || {
        file.storage
            .object
            .as_ref()
            .map(|o| o.options.clone())
            .unwrap_or_default()
    };
    if let Some(url) = &args.storage {
        return object(url, options(file_options())?);
    }
    if !args.storage_opts.is_empty() && file.storage.object.is_none() {
        anyhow::bail!("--storage-opt needs object storage (--storage URL or [storage.object])");
    }
    if let Some(root) = &args.root {
        return fs(root);
    }
    if let Some(o) = &file.storage.object {
        return object(&o.url, options(file_options())?);
    }
    match &file.storage.filesystem {
        Some(f) => fs(&f.root),
        None => fs(&store::Layout::new(&ctx.root).registry_dir()),
    }
}

/// The authentication the flags and the file ask for, and its name for the banner.
fn auth(
    args: &RegistryServeArgs,
    file: &FileConfig,
) -> anyhow::Result<(registry::Auth, &'static str)> {
    let realm = || {
        args.realm
            .clone()
            .or_else(|| file.auth.htpasswd.as_ref().map(|h| h.realm.clone()))
            .unwrap_or_else(|| "strata-registry".to_string())
    };
    if let Some(path) = &args.htpasswd {
        return Ok((
            registry::Auth::Htpasswd {
                path: path.clone(),
                realm: realm(),
            },
            "htpasswd",
        ));
    }
    if let Some(h) = &file.auth.htpasswd {
        return Ok((
            registry::Auth::Htpasswd {
                path: h.path.clone(),
                realm: realm(),
            },
            "htpasswd",
        ));
    }
    if let Some(t) = &file.auth.token {
        let token = registry::auth::TokenAuth::new(t).context("setting up token auth")?;
        return Ok((registry::Auth::Token(Arc::new(token)), "bearer token"));
    }
    Ok((registry::Auth::Anonymous, "anonymous"))
}

/// GC options from the file, then the flags.
fn gc_options(
    file: &FileConfig,
    grace: Option<Duration>,
    upload_max_age: Option<Duration>,
) -> registry::gc::GcOptions {
    let mut o = registry::gc::GcOptions::default();
    if let Some(g) = grace.or(file.gc.grace) {
        o.grace = g;
    }
    if let Some(a) = upload_max_age.or(file.gc.upload_max_age) {
        o.upload_max_age = a;
    }
    o.delete_untagged = file.gc.delete_untagged;
    o
}

/// The pull-through cache configuration of `--proxy`, with its credentials.
fn proxy_config(args: &RegistryServeArgs) -> anyhow::Result<Option<registry::proxy::ProxyConfig>> {
    let Some(url) = &args.proxy else {
        return Ok(None);
    };
    let (host, _) = crate::upstream::parse_upstream_url(url)?;
    let credentials = match (&args.proxy_username, &args.proxy_password) {
        (Some(username), Some(password)) => Some(transport::credentials::Credentials::Basic {
            username: username.clone(),
            password: password.clone(),
        }),
        (Some(_), None) => {
            anyhow::bail!("--proxy-username needs --proxy-password (or STRATA_PROXY_PASSWORD)")
        }
        _ => transport::lookup_credentials(&host)
            .with_context(|| format!("reading stored credentials for {host}"))?,
    };
    let upstream = crate::upstream::RegistryUpstream::new(url, credentials)?;
    let mut config = registry::proxy::ProxyConfig::new(upstream.into_dyn());
    config.tag_ttl = std::time::Duration::from_secs(args.proxy_tag_ttl);
    // The wait for an upstream answer and the idle timeout of its blobs follow the client's.
    config.upstream_timeout = super::registry::idle_timeout()?;
    Ok(Some(config))
}

/// Resolves when the process gets SIGINT or SIGTERM.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!("cannot watch for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// Serves the registry until SIGINT or SIGTERM, then lets requests in flight finish.
pub fn run(ctx: &super::Ctx, args: &RegistryServeArgs) -> anyhow::Result<()> {
    let file = load_config(&args.storage)?;
    let listen = args
        .addr
        .or(file.http.addr)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5000)));
    let mut config = registry::Config::new(listen, PathBuf::new());
    let auth_name;
    (config.auth, auth_name) = auth(args, &file)?;
    config.tls = match (&args.tls_cert, &args.tls_key) {
        (Some(certificate), Some(key)) => Some(registry::tls::TlsFiles {
            certificate: certificate.clone(),
            key: key.clone(),
        }),
        _ => file.http.tls.clone(),
    };
    config.gc = gc_options(&file, args.gc_grace, None);
    config.gc_interval = args.gc_interval.or(file.gc.interval);
    config.health = file.health.options();
    if let Some(t) = args.header_timeout.or(file.http.header_timeout) {
        config.header_timeout = t;
    }
    let mut args = args.clone();
    if args.proxy.is_none()
        && let Some(p) = &file.proxy
    {
        args.proxy = Some(p.remote_url.clone());
        args.proxy_username = args.proxy_username.or(p.username.clone());
        args.proxy_password = args.proxy_password.or(p.password.clone());
    }
    config.proxy = proxy_config(&args)?;
    config.signed = registry::signed::SignedPulls::load(&file.trust)
        .map_err(|e| {
            anyhow::anyhow!(
                "registry config {}: {e}",
                args.storage
                    .config
                    .as_deref()
                    .map_or_else(String::new, |p| p.display().to_string())
            )
        })?
        .map(Arc::new);
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    match registry::serve::raise_open_file_limit() {
        Ok((before, after)) if before != after => tracing::info!(
            "open-file limit raised from {} to {}",
            limit_text(before),
            limit_text(after)
        ),
        Ok((_, now)) => tracing::debug!("open-file limit {}", limit_text(now)),
        Err(e) => tracing::warn!("cannot raise the open-file limit: {e}"),
    }
    super::util::block_on(async {
        let (storage, place) = open_storage(ctx, &args.storage, &file)?;
        let gc = config
            .gc_interval
            .map(|every| format!(", gc every {}s", every.as_secs()))
            .unwrap_or_default();
        let (addr, serve) = registry::Server::bind_storage(config, storage, shutdown_signal())
            .await
            .context("starting the registry")?;
        // Through the log, so a JSON log stays all JSON.
        tracing::info!(
            "strata registry listening on {scheme}://{addr} (content in {place}, auth: {auth_name}{gc})"
        );
        if let Some(url) = &args.proxy {
            tracing::info!("pull-through cache of {url}: pushes and deletes are refused");
        }
        serve.await.context("serving the registry")
    })?
}

/// A resource limit for the log (`None` is unlimited).
fn limit_text(limit: Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_string(), |n| n.to_string())
}

/// Collects garbage once, online (servers may keep serving), and prints what it freed.
pub fn gc(ctx: &super::Ctx, args: &RegistryGcArgs) -> anyhow::Result<()> {
    let file = load_config(&args.storage)?;
    let mut options = gc_options(&file, args.grace, args.upload_max_age);
    options.delete_untagged |= args.delete_untagged;
    options.dry_run = args.dry_run;
    super::util::block_on(async {
        let (storage, place) = open_storage(ctx, &args.storage, &file)?;
        let registry = registry::repo::Registry::new(storage);
        // This process pushes nothing: its own writer grace need not match.
        registry.set_gc_grace(options.grace);
        let r = registry::gc::collect(&registry, &options)
            .await
            .with_context(|| format!("collecting garbage in {place}"))?;
        let verb = if r.dry_run { "would free" } else { "freed" };
        println!(
            "{verb} {} blobs ({} bytes), {} manifests, {} upload sessions; kept {} blobs ({} too young to judge)",
            r.blobs_deleted,
            r.bytes_freed,
            r.manifests_deleted,
            r.uploads_removed,
            r.blobs_kept,
            r.blobs_spared
        );
        Ok(())
    })?
}
