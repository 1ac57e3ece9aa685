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
use crate::auth::{self, Guard, TokenAuth};
use crate::error::ServerError;
use crate::health::{Health, HealthOptions};
use crate::metrics::{self, Metrics};
use crate::repo::Registry;
use crate::storage::{FsStorage, Storage};
use crate::tls::TlsListener;

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
    /// Bearer tokens (Docker's token flow), checked with the keys of a [`TokenAuth`]
    /// built from a [`crate::auth::TokenConfig`]; its built-in endpoint serves `/token`.
    Token(Arc<TokenAuth>),
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
    /// Serve HTTPS with this certificate and key (plain HTTP when `None`).
    pub tls: Option<crate::tls::TlsFiles>,
    /// Mirror this upstream registry as a pull-through cache (see [`crate::proxy`]).
    pub proxy: Option<crate::proxy::ProxyConfig>,
    /// Garbage collection: `options.grace` is also this server's writer grace
    /// ([`Registry::set_gc_grace`]), so it must match every replica's.
    pub gc: crate::gc::GcOptions,
    /// Collect garbage this often while serving (never when `None`).
    pub gc_interval: Option<std::time::Duration>,
    /// How storage health is checked (see [`crate::health`]); `health.timeout` also
    /// bounds the check before the server starts listening.
    pub health: HealthOptions,
    /// Connections that send no complete request head for this long are closed
    /// (see [`crate::serve`]).
    pub header_timeout: std::time::Duration,
    /// Repositories that serve only signed manifests (see [`crate::signed`]).
    pub signed: Option<Arc<crate::signed::SignedPulls>>,
}

impl Config {
    /// A config listening on `listen`, storing under `root`, anonymous.
    pub fn new(listen: SocketAddr, root: impl Into<PathBuf>) -> Config {
        Config {
            listen,
            root: root.into(),
            auth: Auth::Anonymous,
            tls: None,
            proxy: None,
            gc: crate::gc::GcOptions::default(),
            gc_interval: None,
            health: HealthOptions::default(),
            header_timeout: crate::serve::DEFAULT_HEADER_TIMEOUT,
            signed: None,
        }
    }
}

/// The registry HTTP server.
#[derive(Debug)]
pub struct Server;

impl Server {
    /// The axum router of the whole API over `storage`, for embedding in another server.
    pub fn router(storage: Arc<dyn Storage>, auth: &Auth) -> Result<Router, ServerError> {
        Server::router_with_proxy(storage, auth, None)
    }

    /// Like [`Server::router`], as a pull-through cache of `proxy`'s upstream when given.
    pub fn router_with_proxy(
        storage: Arc<dyn Storage>,
        auth: &Auth,
        proxy: Option<&crate::proxy::ProxyConfig>,
    ) -> Result<Router, ServerError> {
        let health = Arc::new(Health::new(storage.clone(), HealthOptions::default()));
        Server::router_with(Registry::new(storage), auth, proxy, None, health)
    }

    /// The router over an existing [`Registry`] (configured by the caller).
    fn router_with(
        registry: Registry,
        auth: &Auth,
        proxy: Option<&crate::proxy::ProxyConfig>,
        signed: Option<Arc<crate::signed::SignedPulls>>,
        health: Arc<Health>,
    ) -> Result<Router, ServerError> {
        let proxy = proxy.map(|p| crate::proxy::Proxy::new(p.clone(), registry.storage().clone()));
        let app = Arc::new(App {
            registry,
            auth: Guard::new(auth)?,
            proxy,
            signed,
        });
        let metrics = Arc::new(Metrics::default());
        // Readiness: while storage fails its health check, the API answers 503.
        let v2 = Router::new()
            .route("/v2", get(api::base))
            .route("/v2/", get(api::base))
            .route("/v2/{*path}", any(api::dispatch))
            .route_layer(axum::middleware::from_fn_with_state(
                health.clone(),
                crate::health::readiness,
            ));
        Ok(Router::new()
            .merge(v2)
            .route("/healthz", get(crate::health::endpoint).with_state(health))
            .route(
                "/token",
                get(auth::endpoint::token).post(auth::endpoint::token),
            )
            .route("/metrics", get(metrics::serve).with_state(metrics.clone()))
            .layer(axum::middleware::from_fn_with_state(
                metrics,
                metrics::track,
            ))
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
        check_storage(storage.as_ref(), config.health.timeout).await?;
        let health = Arc::new(Health::new(storage.clone(), config.health));
        let registry = Registry::new(storage.clone());
        registry.set_gc_grace(config.gc.grace);
        let router = Server::router_with(
            registry,
            &config.auth,
            config.proxy.as_ref(),
            config.signed.clone(),
            health.clone(),
        )?;
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
        let fut: futures::future::BoxFuture<'static, std::io::Result<()>> = match &config.tls {
            Some(files) => {
                let tls = files.server_config()?;
                // Challenges name the token endpoint with the scheme clients came in on.
                let router = router.layer(axum::middleware::map_request(
                    |mut req: axum::extract::Request| async move {
                        req.extensions_mut()
                            .insert(crate::auth::RequestScheme("https"));
                        req
                    },
                ));
                let listener =
                    TlsListener::new(listener, tls).map_err(|source| ServerError::Bind {
                        addr: config.listen.to_string(),
                        source,
                    })?;
                Box::pin(crate::serve::serve(
                    listener,
                    router,
                    shutdown,
                    config.header_timeout,
                ))
            }
            None => {
                // TCP_NODELAY: a streamed blob goes out as a header write then body
                // writes; with Nagle on, the second small write waits for the client's
                // delayed ACK (~40 ms).
                let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                    if let Err(e) = tcp.set_nodelay(true) {
                        tracing::debug!("cannot set TCP_NODELAY: {e}");
                    }
                });
                Box::pin(crate::serve::serve(
                    listener,
                    router,
                    shutdown,
                    config.header_timeout,
                ))
            }
        };
        // The health poller stops with the server.
        let poll = health.spawn_poll();
        let fut: futures::future::BoxFuture<'static, std::io::Result<()>> = Box::pin(async move {
            let result = fut.await;
            poll.abort();
            result
        });
        let Some(every) = config.gc_interval else {
            return Ok((addr, fut));
        };
        // The collector needs no lock with the server's writers (see crate::gc), so it
        // works on its own handle to the storage; it stops with the server.
        let collector = Registry::new(storage);
        collector.set_gc_grace(config.gc.grace);
        let gc = crate::gc::spawn_periodic(Arc::new(collector), every, config.gc.clone());
        let fut: futures::future::BoxFuture<'static, std::io::Result<()>> = Box::pin(async move {
            let result = fut.await;
            gc.abort();
            result
        });
        Ok((addr, fut))
    }
}

/// Checks `storage` before the server listens: an unreachable endpoint, a missing bucket or
/// an unusable directory stops the start, rather than a server answering `/v2/` with 200
/// and every other request with 500.
async fn check_storage(
    storage: &dyn Storage,
    timeout: std::time::Duration,
) -> Result<(), ServerError> {
    let unusable = |message: String| ServerError::StorageUnavailable {
        backend: storage.describe(),
        message,
    };
    match tokio::time::timeout(timeout, storage.check()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(unusable(e.to_string())),
        Err(_) => Err(unusable(format!("no answer within {timeout:?}"))),
    }
}
