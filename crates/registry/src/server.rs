//! Binding and running the HTTP server.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::routing::{any, get};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::api::{self, App};
use crate::auth::Htpasswd;
use crate::error::ServerError;
use crate::repo::Registry;
use crate::storage::{FsStorage, Storage};

/// How clients authenticate.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// Anyone may pull and push (the default, for a local registry).
    #[default]
    Anonymous,
    /// HTTP basic auth against an htpasswd file of bcrypt hashes.
    Htpasswd {
        /// The htpasswd file.
        path: PathBuf,
        /// The realm named in the `WWW-Authenticate` challenge.
        realm: String,
    },
}

/// What a server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// The address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The root directory of the filesystem storage.
    pub root: PathBuf,
    /// Authentication.
    pub auth: Auth,
}

impl Config {
    /// A config listening on `listen`, storing under `root`, anonymous.
    pub fn new(listen: SocketAddr, root: impl Into<PathBuf>) -> Config {
        Config {
            listen,
            root: root.into(),
            auth: Auth::Anonymous,
        }
    }
}

/// The registry HTTP server.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// The axum router of the whole API over `storage`, for embedding in another server.
    pub fn router(storage: Arc<dyn Storage>, auth: &Auth) -> Result<Router, ServerError> {
        let (htpasswd, realm) = match auth {
            Auth::Anonymous => (None, String::new()),
            Auth::Htpasswd { path, realm } => (Some(Htpasswd::load(path)?), realm.clone()),
        };
        let app = Arc::new(App {
            registry: Registry::new(storage),
            htpasswd,
            realm,
        });
        Ok(Router::new()
            .route("/v2", get(api::base))
            .route("/v2/", get(api::base))
            .route("/v2/{*path}", any(api::dispatch))
            .route("/healthz", get(api::health))
            .layer(
                TraceLayer::new_for_http()
                    .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                    .on_response(DefaultOnResponse::new().level(Level::INFO)),
            )
            .with_state(app))
    }

    /// Binds `config.listen` and returns the bound address and the future that serves
    /// until it is dropped or fails.
    pub async fn bind(
        config: Config,
    ) -> Result<
        (
            SocketAddr,
            impl Future<Output = std::io::Result<()>> + Send + 'static,
        ),
        ServerError,
    > {
        Server::bind_with_shutdown(config, std::future::pending()).await
    }

    /// Like [`Server::bind`], but the server stops accepting when `shutdown` completes and
    /// the future ends once in-flight requests finish.
    pub async fn bind_with_shutdown(
        config: Config,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<
        (
            SocketAddr,
            impl Future<Output = std::io::Result<()>> + Send + 'static,
        ),
        ServerError,
    > {
        let storage: Arc<dyn Storage> = Arc::new(FsStorage::new(&config.root)?);
        Server::bind_storage(config, storage, shutdown).await
    }

    /// Like [`Server::bind_with_shutdown`], on a storage backend of the caller's choosing
    /// (`config.root` is not used).
    pub async fn bind_storage(
        config: Config,
        storage: Arc<dyn Storage>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<
        (
            SocketAddr,
            impl Future<Output = std::io::Result<()>> + Send + 'static,
        ),
        ServerError,
    > {
        let router = Server::router(storage, &config.auth)?;
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServerError::Bind {
                addr: config.listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.listen.to_string(),
            source,
        })?;
        // TCP_NODELAY: a streamed blob goes out as a header write then body writes; with
        // Nagle on, the second small write waits for the client's delayed ACK (~40 ms).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("cannot set TCP_NODELAY: {e}");
            }
        });
        let fut = axum::serve(listener, router)
            .with_graceful_shutdown(shutdown)
            .into_future();
        Ok((addr, fut))
    }
}
