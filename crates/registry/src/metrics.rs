//! Prometheus metrics: request counts, latencies, bytes and requests in flight, served as
//! text at `/metrics`.
//!
//! Labels are bounded by construction (a fixed set of methods and routes, and status
//! codes), so a client cannot grow the label space by inventing paths or repository names.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

/// The route a path belongs to, as a metrics label.
pub fn route_label(path: &str) -> &'static str {
    let Some(rest) = path.strip_prefix("/v2") else {
        return match path {
            "/healthz" => "healthz",
            "/metrics" => "metrics",
            "/token" => "token",
            _ => "other",
        };
    };
    let rest = rest.trim_start_matches('/');
    if rest.is_empty() {
        return "base";
    }
    if rest == "_catalog" {
        return "catalog";
    }
    let segs: Vec<&str> = rest.split('/').collect();
    let n = segs.len();
    let at = |i: usize| if i < n { segs[n - 1 - i] } else { "" };
    if n >= 3 && at(1) == "tags" && at(0) == "list" {
        "tags"
    } else if (n >= 4 && at(2) == "blobs" && at(1) == "uploads")
        || (n >= 3 && at(1) == "blobs" && at(0) == "uploads")
    {
        "blob_upload"
    } else if n >= 3 && at(1) == "blobs" {
        "blob"
    } else if n >= 3 && at(1) == "manifests" {
        "manifest"
    } else if n >= 3 && at(1) == "referrers" {
        "referrers"
    } else {
        "other"
    }
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::POST => "POST",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                self.counts[i] += 1;
            }
        }
        self.sum += secs;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Tables {
    requests: BTreeMap<(&'static str, &'static str, u16), u64>,
    latency: BTreeMap<(&'static str, &'static str), Histogram>,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    tables: Mutex<Tables>,
    in_flight: AtomicI64,
    bytes_received: AtomicU64,
    bytes_sent: AtomicU64,
    started: Instant,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            tables: Mutex::default(),
            in_flight: AtomicI64::new(0),
            bytes_received: AtomicU64::new(0),
            bytes_sent: AtomicU64::new(0),
            started: Instant::now(),
        }
    }
}

impl Metrics {
    /// Records one finished request.
    pub fn record(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        secs: f64,
        received: u64,
        sent: u64,
    ) {
        self.record_labelled(
            method_label(method),
            route_label(path),
            status,
            secs,
            received,
            sent,
        );
    }

    fn record_labelled(
        &self,
        m: &'static str,
        r: &'static str,
        status: StatusCode,
        secs: f64,
        received: u64,
        sent: u64,
    ) {
        self.bytes_received.fetch_add(received, Ordering::Relaxed);
        self.bytes_sent.fetch_add(sent, Ordering::Relaxed);
        let mut t = self.tables.lock().unwrap_or_else(|e| e.into_inner());
        *t.requests.entry((m, r, status.as_u16())).or_default() += 1;
        t.latency.entry((m, r)).or_default().observe(secs);
    }

    /// The metrics in Prometheus' text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let t = {
            let t = self.tables.lock().unwrap_or_else(|e| e.into_inner());
            Tables {
                requests: t.requests.clone(),
                latency: t.latency.clone(),
            }
        };
        out.push_str("# HELP registry_http_requests_total HTTP requests served.\n");
        out.push_str("# TYPE registry_http_requests_total counter\n");
        for ((m, r, code), n) in &t.requests {
            let _ = writeln!(
                out,
                "registry_http_requests_total{{method=\"{m}\",route=\"{r}\",code=\"{code}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP registry_http_request_duration_seconds Time to the response's headers.\n",
        );
        out.push_str("# TYPE registry_http_request_duration_seconds histogram\n");
        for ((m, r), h) in &t.latency {
            let labels = format!("method=\"{m}\",route=\"{r}\"");
            for (le, n) in BUCKETS.iter().zip(h.counts) {
                let _ = writeln!(
                    out,
                    "registry_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "registry_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "registry_http_request_duration_seconds_sum{{{labels}}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "registry_http_request_duration_seconds_count{{{labels}}} {}",
                h.count
            );
        }
        let gauges = [
            (
                "registry_http_requests_in_flight",
                "gauge",
                "Requests being handled.",
                self.in_flight.load(Ordering::Relaxed).to_string(),
            ),
            (
                "registry_http_request_body_bytes_total",
                "counter",
                "Declared request body bytes (Content-Length).",
                self.bytes_received.load(Ordering::Relaxed).to_string(),
            ),
            (
                "registry_http_response_body_bytes_total",
                "counter",
                "Declared response body bytes (Content-Length).",
                self.bytes_sent.load(Ordering::Relaxed).to_string(),
            ),
            (
                "registry_uptime_seconds",
                "gauge",
                "Seconds since the server started.",
                format!("{:.3}", self.started.elapsed().as_secs_f64()),
            ),
        ];
        for (name, kind, help, value) in gauges {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
        out
    }
}

fn content_length(h: &axum::http::HeaderMap) -> u64 {
    h.get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Middleware that records every request into the metrics.
pub async fn track(
    State(metrics): State<std::sync::Arc<Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    // Labels are taken before the request moves on, so the path is not copied.
    let route = route_label(req.uri().path());
    let received = content_length(req.headers());
    metrics.in_flight.fetch_add(1, Ordering::Relaxed);
    let resp = next.run(req).await;
    metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
    let sent = if method == Method::HEAD {
        0
    } else {
        content_length(resp.headers())
    };
    metrics.record_labelled(
        method_label(&method),
        route,
        resp.status(),
        start.elapsed().as_secs_f64(),
        received,
        sent,
    );
    resp
}

/// The `/metrics` endpoint.
pub async fn serve(State(metrics): State<std::sync::Arc<Metrics>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let cases = [
            ("/v2/", "base"),
            ("/v2", "base"),
            ("/v2/_catalog", "catalog"),
            ("/v2/a/b/tags/list", "tags"),
            ("/v2/a/manifests/latest", "manifest"),
            ("/v2/a/b/c/manifests/sha256:00", "manifest"),
            ("/v2/a/blobs/sha256:00", "blob"),
            ("/v2/a/blobs/uploads/", "blob_upload"),
            ("/v2/a/blobs/uploads", "blob_upload"),
            ("/v2/a/blobs/uploads/abc", "blob_upload"),
            ("/v2/blobs/uploads/abc", "other"),
            ("/v2/a/referrers/sha256:00", "referrers"),
            ("/v2/a/nope", "other"),
            ("/healthz", "healthz"),
            ("/metrics", "metrics"),
            ("/token", "token"),
            ("/etc/passwd", "other"),
        ];
        for (path, want) in cases {
            assert_eq!(route_label(path), want, "{path}");
        }
    }

    #[test]
    fn exposition() {
        let m = Metrics::default();
        m.record(
            &Method::GET,
            "/v2/a/manifests/x",
            StatusCode::OK,
            0.002,
            0,
            10,
        );
        m.record(&Method::GET, "/v2/a/manifests/y", StatusCode::OK, 3.0, 0, 5);
        m.record(
            &Method::PUT,
            "/v2/a/manifests/y",
            StatusCode::CREATED,
            0.01,
            7,
            0,
        );
        let text = m.render();
        assert!(text.contains(
            "registry_http_requests_total{method=\"GET\",route=\"manifest\",code=\"200\"} 2"
        ));
        assert!(text.contains(
            "registry_http_requests_total{method=\"PUT\",route=\"manifest\",code=\"201\"} 1"
        ));
        assert!(text.contains("registry_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"0.0025\"} 1"));
        assert!(text.contains("registry_http_request_duration_seconds_bucket{method=\"GET\",route=\"manifest\",le=\"+Inf\"} 2"));
        assert!(text.contains("registry_http_request_body_bytes_total 7"));
        assert!(text.contains("registry_http_response_body_bytes_total 15"));
    }
}
