//! `strata registry serve`: runs an OCI distribution registry until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;

/// Flags of `strata registry serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub addr: SocketAddr,
    /// Directory to keep the registry's content in (default: `registry/` under the store
    /// root, `--root`).
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Require HTTP basic auth against this htpasswd file (bcrypt entries, `htpasswd -B`).
    #[arg(long, value_name = "FILE")]
    pub htpasswd: Option<PathBuf>,
    /// The realm named in authentication challenges.
    #[arg(long, default_value = "strata-registry")]
    pub realm: String,
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
    let root = args
        .root
        .clone()
        .unwrap_or_else(|| ctx.root.join("registry"));
    let auth = match &args.htpasswd {
        Some(path) => registry::Auth::Htpasswd {
            path: path.clone(),
            realm: args.realm.clone(),
        },
        None => registry::Auth::Anonymous,
    };
    let config = registry::Config {
        listen: args.addr,
        root: root.clone(),
        auth,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let (addr, serve) = registry::Server::bind_with_shutdown(config, shutdown_signal())
            .await
            .context("starting the registry")?;
        eprintln!(
            "strata registry listening on http://{addr} (content in {}, auth: {})",
            root.display(),
            if args.htpasswd.is_some() {
                "htpasswd"
            } else {
                "anonymous"
            }
        );
        serve.await.context("serving the registry")
    })
}
