//! Health and readiness: whether the storage backend answers.
//!
//! As docker-registry's `storagedriver` health check: the backend is checked every
//! [`HealthOptions::interval`] (and on a `/healthz` request when the last check is more
//! than [`FRESH`] old); after [`HealthOptions::threshold`] failures in a row the registry is
//! unhealthy, `/healthz` answers 503 and so does every `/v2/` request (distribution's
//! `UNAVAILABLE` error), until one check succeeds again. What failed goes to the log,
//! never to clients.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, Code};
use crate::storage::Storage;

/// A check younger than this is reused by `/healthz` rather than repeated, so probes
/// cannot load the backend.
pub const FRESH: Duration = Duration::from_secs(1);

/// How storage is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthOptions {
    /// Time between background checks (distribution's default, 10 s).
    pub interval: Duration,
    /// Failed checks in a row that make the registry unhealthy (at least 1).
    pub threshold: u32,
    /// How long one check may take before it counts as failed.
    pub timeout: Duration,
}

impl Default for HealthOptions {
    fn default() -> HealthOptions {
        HealthOptions {
            interval: Duration::from_secs(10),
            threshold: 3,
            timeout: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Default)]
struct Checks {
    /// When the last check ended.
    checked: Option<Instant>,
    /// Failed checks since the last success.
    failures: u32,
}

/// The health of one server's storage.
pub struct Health {
    storage: Arc<dyn Storage>,
    options: HealthOptions,
    state: Mutex<Checks>,
    /// Held while a check runs, so concurrent probes share one check.
    checking: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("backend", &self.storage.describe())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Health {
    /// Health of `storage`, healthy until a check says otherwise (the server checks
    /// storage before it starts listening).
    pub fn new(storage: Arc<dyn Storage>, options: HealthOptions) -> Health {
        Health {
            storage,
            options,
            state: Mutex::new(Checks::default()),
            checking: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Checks> {
        // The state is two numbers, consistent even if a holder panicked.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the last checks leave the registry in service.
    pub fn healthy(&self) -> bool {
        self.lock().failures < self.options.threshold.max(1)
    }

    /// Checks storage now unless a check ended less than `fresh` ago, and says whether
    /// the registry is healthy.
    pub async fn refresh(&self, fresh: Duration) -> bool {
        let _one = self.checking.lock().await;
        if self.lock().checked.is_some_and(|t| t.elapsed() < fresh) {
            return self.healthy();
        }
        let result = match tokio::time::timeout(self.options.timeout, self.storage.check()).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(_) => Err(format!("no answer within {:?}", self.options.timeout)),
        };
        let was = self.healthy();
        {
            let mut s = self.lock();
            s.checked = Some(Instant::now());
            match &result {
                Ok(()) => s.failures = 0,
                Err(_) => s.failures = s.failures.saturating_add(1),
            }
        }
        let now = self.healthy();
        let backend = self.storage.describe();
        match (&result, was, now) {
            (Err(e), _, true) => tracing::warn!("storage {backend} health check failed: {e}"),
            (Err(e), true, false) => tracing::error!(
                "storage {backend} failed {} health checks in a row, refusing requests \
                 with 503: {e}",
                self.options.threshold.max(1)
            ),
            (Err(e), false, false) => tracing::debug!("storage {backend} still failing: {e}"),
            (Ok(()), false, true) => {
                tracing::info!("storage {backend} answers again, serving requests")
            }
            _ => {}
        }
        now
    }

    /// Checks storage every interval until the task is aborted.
    pub fn spawn_poll(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let health = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(health.options.interval).await;
                // Fresh enough if a probe checked during the interval's second half.
                health.refresh(health.options.interval / 2).await;
            }
        })
    }
}

/// `/healthz`: 200 while storage answers, else 503 (what failed is in the log).
pub async fn endpoint(State(health): State<Arc<Health>>) -> Response {
    if health.refresh(FRESH).await {
        (axum::http::StatusCode::OK, "ok\n").into_response()
    } else {
        (
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "storage unavailable\n",
        )
            .into_response()
    }
}

/// Middleware in front of `/v2/`: 503 `UNAVAILABLE` while storage is unhealthy.
pub async fn readiness(State(health): State<Arc<Health>>, req: Request, next: Next) -> Response {
    if health.healthy() {
        return next.run(req).await;
    }
    ApiError::new(Code::Unavailable, "service unavailable")
        .with_detail(serde_json::json!(
            "storage health check failed: please see /healthz"
        ))
        .into_response()
}
