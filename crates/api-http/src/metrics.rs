//! Prometheus metrics: the exporter behind the `metrics` facade that the other crates record
//! into, the HTTP layer's own request metrics, and who may read `GET /metrics`.
//!
//! Requests are labelled by route *template* (`/v1/vector_stores/{id}`), never by the path a
//! caller sent, so no id, name or key reaches a label; a request no route matched is
//! `unmatched`.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use secrecy::{ExposeSecret, SecretString};
use service::AuthMode;

use crate::error::ApiError;

pub const REQUESTS: &str = "vector_store_http_requests_total";
pub const DURATION: &str = "vector_store_http_request_duration_seconds";
pub const IN_FLIGHT: &str = "vector_store_http_requests_in_flight";

/// Bucket bounds in seconds of every `*_seconds` histogram: from a cached lookup to a slow
/// ingestion batch.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// How often the recorder's histogram samples are folded into their buckets. Until then each
/// sample is kept on its own: without this upkeep, memory would grow with every request
/// between two scrapes (for ever when nobody scrapes).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's recorder, installed at the first call, with a thread of its own that runs
/// its upkeep every [`UPKEEP_EVERY`]. A process can have one global recorder: if another was
/// installed first (a host program of this crate's), its metrics are not ours to render and
/// `/metrics` shows only what this handle saw (nothing).
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .expect("bucket bounds are not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed: /metrics stays empty");
        }
        describe();
        let upkeep = handle.clone();
        let started = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(e) = started {
            tracing::error!(error = %e, "could not start the metrics upkeep thread");
        }
        handle
    })
}

/// The label of an HTTP method: one of the standard methods, or `other` (a client may send any
/// token as a method, and each would otherwise be a series of its own, kept for ever).
pub fn method_label(method: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .iter()
        .find(|m| **m == method)
        .copied()
        .unwrap_or("other")
}

fn describe() {
    describe_counter!(
        REQUESTS,
        "HTTP requests answered, by route template, method and status."
    );
    describe_histogram!(
        DURATION,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by route template and method."
    );
    describe_gauge!(IN_FLIGHT, "HTTP requests being answered now.");
    service::metrics::describe();
    api_mcp::describe_metrics();
}

/// One request in progress: counted in flight until dropped, then observed with its status.
pub struct RequestTimer {
    started: std::time::Instant,
    method: &'static str,
}

impl RequestTimer {
    pub fn start(method: &str) -> Self {
        gauge!(IN_FLIGHT).increment(1.0);
        Self {
            started: std::time::Instant::now(),
            method: method_label(method),
        }
    }

    /// The request was answered by the route `template` (None: no route matched).
    pub fn finish(self, template: Option<&str>, status: u16) -> Duration {
        let elapsed = self.started.elapsed();
        let route = template.unwrap_or("unmatched").to_string();
        counter!(
            REQUESTS,
            "route" => route.clone(),
            "method" => self.method,
            "status" => status.to_string()
        )
        .increment(1);
        histogram!(DURATION, "route" => route, "method" => self.method)
            .record(elapsed.as_secs_f64());
        elapsed
    }
}

impl Drop for RequestTimer {
    fn drop(&mut self) {
        gauge!(IN_FLIGHT).decrement(1.0);
    }
}

/// Who may read `GET /metrics`.
#[derive(Debug, Clone)]
pub enum MetricsAccess {
    /// Anyone who reaches the port (auth mode `open`, which listens on loopback only).
    Public,
    /// A caller with `Authorization: Bearer <server.metrics_token>`.
    Token(SecretString),
    /// No one: API keys are on and no metrics token is set.
    Off,
}

impl MetricsAccess {
    pub fn new(mode: AuthMode, token: Option<&SecretString>) -> Self {
        match (token.filter(|t| !t.expose_secret().is_empty()), mode) {
            (Some(token), _) => Self::Token(token.clone()),
            (None, AuthMode::Open) => Self::Public,
            (None, AuthMode::Keys) => Self::Off,
        }
    }

    /// Whether a request with this bearer token may read the metrics: when they are off, the
    /// route is not there (404); a wrong or missing token is 401.
    pub fn check(&self, bearer: Option<&str>) -> Result<(), ApiError> {
        match self {
            Self::Public => Ok(()),
            Self::Off => Err(ApiError::NotFound(
                "Unknown request URL: GET /metrics (set server.metrics_token to serve it)".into(),
            )),
            Self::Token(token) => match bearer {
                Some(given)
                    if constant_time_eq(given.as_bytes(), token.expose_secret().as_bytes()) =>
                {
                    Ok(())
                }
                _ => Err(ApiError::Service(service::ServiceError::Unauthorized(
                    "GET /metrics needs Authorization: Bearer <server.metrics_token>".into(),
                ))),
            },
        }
    }
}

/// Compares two secrets in time that depends on their lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_the_standard_ones_or_other() {
        assert_eq!(method_label("GET"), "GET");
        assert_eq!(method_label("PATCH"), "PATCH");
        for made_up in ["AAAA1", "get", "", "GET ", "PROPFIND"] {
            assert_eq!(method_label(made_up), "other", "{made_up:?}");
        }
    }

    #[test]
    fn metrics_are_public_only_without_keys_and_a_token_guards_them_in_both_modes() {
        use actix_web::ResponseError;
        let status = |r: Result<(), ApiError>| r.map_err(|e| e.status_code().as_u16());
        assert_eq!(
            status(MetricsAccess::new(AuthMode::Open, None).check(None)),
            Ok(())
        );
        assert_eq!(
            status(MetricsAccess::new(AuthMode::Keys, None).check(Some("x"))),
            Err(404)
        );
        let empty = SecretString::from("");
        assert_eq!(
            status(MetricsAccess::new(AuthMode::Keys, Some(&empty)).check(Some(""))),
            Err(404)
        );
        let token = SecretString::from("s3cret");
        for mode in [AuthMode::Open, AuthMode::Keys] {
            let access = MetricsAccess::new(mode, Some(&token));
            assert_eq!(status(access.check(Some("s3cret"))), Ok(()));
            assert_eq!(status(access.check(Some("s3cre"))), Err(401));
            assert_eq!(status(access.check(None)), Err(401));
        }
    }
}
