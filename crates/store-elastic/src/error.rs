//! The crate's error type, and how it becomes a [`StoreError`].

use std::time::Duration;

use serde_json::Value;
use store_core::StoreError;

/// Error types that mean "too busy now": worth a longer wait before trying again.
const OVERLOAD_TYPES: [&str; 2] = [
    "es_rejected_execution_exception",
    "circuit_breaking_exception",
];

/// Failure types of a shard (or of a by-query step) that pass by themselves: a node leaving,
/// a shard moving, a full queue.
const PASSING_TYPES: [&str; 9] = [
    "es_rejected_execution_exception",
    "circuit_breaking_exception",
    "node_disconnected_exception",
    "node_not_connected_exception",
    "node_closed_exception",
    "no_shard_available_action_exception",
    "unavailable_shards_exception",
    "shard_not_found_exception",
    "connect_transport_exception",
];

#[derive(Debug, thiserror::Error)]
pub(crate) enum ElasticError {
    /// The request did not get an answer (connection refused, timeout, TLS).
    #[error("Elasticsearch did not answer: {0}")]
    Transport(#[from] elasticsearch::Error),
    /// The cluster answered with an error status and a JSON body.
    #[error("Elasticsearch answered {status}: {kind}: {reason}")]
    Response {
        status: u16,
        kind: String,
        reason: String,
        /// A circuit breaker that tripped with `durability: PERMANENT`: it needs an operator,
        /// trying again does not help.
        permanent: bool,
        /// The answer's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// An error status whose body is not JSON (a proxy's page, Elasticsearch's empty 413): the
    /// status and the start of the body.
    #[error("Elasticsearch (or a proxy before it) answered {status}: {excerpt:?}")]
    Status {
        status: u16,
        excerpt: String,
        retry_after: Option<Duration>,
    },
    /// The answer was not what the API documents.
    #[error("unexpected answer from Elasticsearch: {0}")]
    Decode(String),
    /// A cluster task outlasted the wait for it; it was left running.
    #[error("Elasticsearch task {task} still runs after {secs} s; its work may yet complete")]
    StillRunning { task: String, secs: u64 },
}

impl ElasticError {
    /// An error status with the cluster's `error.type` and `error.reason` (or, for a by-query
    /// answer without `error`, those of its first failure).
    pub(crate) fn response(status: u16, body: &Value) -> Self {
        let cause = body
            .get("error")
            .filter(|e| e.is_object())
            .or_else(|| first_failure_cause(body));
        match cause {
            Some(cause) => Self::caused(status, cause),
            None => ElasticError::Response {
                status,
                kind: String::new(),
                reason: body
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                permanent: false,
                retry_after: None,
            },
        }
    }

    /// An error of `status` for an `ErrorCause` object (`type`, `reason`, and for a circuit
    /// breaker `durability`).
    pub(crate) fn caused(status: u16, cause: &Value) -> Self {
        let text = |k: &str| {
            cause
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        ElasticError::Response {
            status,
            kind: text("type"),
            reason: text("reason"),
            permanent: text("durability") == "PERMANENT",
            retry_after: None,
        }
    }

    /// The status a failure without one has: passing failures as 503 (429 when the cluster
    /// is busy), the others as 500.
    pub(crate) fn status_of(kind: &str) -> u16 {
        if kind == "es_rejected_execution_exception" {
            429
        } else if PASSING_TYPES.contains(&kind) {
            503
        } else {
            500
        }
    }

    /// The same error, with the wait the answer's `Retry-After` asked for.
    pub(crate) fn with_retry_after(mut self, after: Option<Duration>) -> Self {
        match &mut self {
            ElasticError::Response { retry_after, .. }
            | ElasticError::Status { retry_after, .. } => {
                *retry_after = after;
            }
            ElasticError::Transport(_)
            | ElasticError::Decode(_)
            | ElasticError::StillRunning { .. } => {}
        }
        self
    }

    /// The wait the cluster asked for before the next try.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            ElasticError::Response { retry_after, .. }
            | ElasticError::Status { retry_after, .. } => *retry_after,
            ElasticError::Transport(_)
            | ElasticError::Decode(_)
            | ElasticError::StillRunning { .. } => None,
        }
    }

    /// The answer's HTTP status, when there was an answer.
    pub(crate) fn status(&self) -> Option<u16> {
        match self {
            ElasticError::Response { status, .. } | ElasticError::Status { status, .. } => {
                Some(*status)
            }
            ElasticError::Transport(_)
            | ElasticError::Decode(_)
            | ElasticError::StillRunning { .. } => None,
        }
    }

    /// Worth trying again: no answer, overloaded, or a node on its way. A circuit breaker that
    /// tripped for good is not.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            ElasticError::Transport(_) => true,
            ElasticError::Response {
                permanent: true, ..
            } => false,
            ElasticError::Response { status, kind, .. } => {
                matches!(status, 429 | 502 | 503 | 504) || OVERLOAD_TYPES.contains(&kind.as_str())
            }
            ElasticError::Status { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            // Starting the work again would run it twice.
            ElasticError::StillRunning { .. } | ElasticError::Decode(_) => false,
        }
    }

    /// The cluster is too busy (429, a full queue, a transient circuit breaker): the next try
    /// waits longer.
    pub(crate) fn is_overload(&self) -> bool {
        self.is_transient()
            && match self {
                ElasticError::Response { status, kind, .. } => {
                    *status == 429 || OVERLOAD_TYPES.contains(&kind.as_str())
                }
                ElasticError::Status { status, .. } => *status == 429,
                ElasticError::Transport(_)
                | ElasticError::Decode(_)
                | ElasticError::StillRunning { .. } => false,
            }
    }

    /// The request took longer than the client waits: it may still run in the cluster.
    pub(crate) fn is_timeout(&self) -> bool {
        match self {
            ElasticError::Transport(e) => e.is_timeout(),
            ElasticError::Status { status, .. } | ElasticError::Response { status, .. } => {
                *status == 504
            }
            ElasticError::StillRunning { .. } => true,
            ElasticError::Decode(_) => false,
        }
    }

    fn is_missing_index(&self) -> bool {
        matches!(self, ElasticError::Response { status: 404, kind, .. }
            if kind == "index_not_found_exception")
    }

    /// The store error for a request about `collection`.
    pub(crate) fn into_store(self, collection: &str) -> StoreError {
        if self.is_missing_index() {
            return StoreError::not_found("collection", collection);
        }
        match &self {
            ElasticError::Response {
                status: 400,
                reason,
                ..
            } => StoreError::invalid(format!(
                "the Elasticsearch back-end refused the request: {reason}"
            )),
            ElasticError::Response { status: 413, .. }
            | ElasticError::Status { status: 413, .. } => StoreError::invalid(
                "the request is larger than the Elasticsearch cluster accepts (its \
                     http.max_content_length)",
            ),
            ElasticError::Response {
                status: 409,
                reason,
                ..
            } => StoreError::conflict(format!(
                "chunks of collection {collection} changed meanwhile ({reason}); try again"
            )),
            ElasticError::Response {
                status: 401 | 403, ..
            }
            | ElasticError::Status {
                status: 401 | 403, ..
            } => StoreError::unavailable(
                "Elasticsearch refused this server's credentials or their privileges",
                self,
            ),
            ElasticError::Response {
                permanent: true, ..
            } => StoreError::internal(
                "an Elasticsearch circuit breaker tripped for good (durability PERMANENT): the \
                 cluster needs more memory or less load",
                self,
            ),
            ElasticError::StillRunning { .. } => StoreError::unavailable(
                "an Elasticsearch task outlasted the wait for it (storage.elasticsearch.\
                 task_timeout_secs); it was left running",
                self,
            ),
            ElasticError::Transport(_)
            | ElasticError::Response { .. }
            | ElasticError::Status { .. }
            | ElasticError::Decode(_)
                if self.is_transient() =>
            {
                StoreError::unavailable("the Elasticsearch cluster is unavailable", self)
            }
            ElasticError::Transport(_)
            | ElasticError::Response { .. }
            | ElasticError::Status { .. }
            | ElasticError::Decode(_) => {
                StoreError::internal("an Elasticsearch request failed", self)
            }
        }
    }
}

impl ElasticError {
    /// The error a search or count answer of 200 is when it is not whole: some shards failed
    /// (passing when every failure's reason is) or timed out.
    pub(crate) fn of_partial(reply: &Value) -> Option<Self> {
        let failed = reply
            .pointer("/_shards/failed")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if failed > 0 {
            let total = reply
                .pointer("/_shards/total")
                .and_then(Value::as_u64)
                .unwrap_or(failed);
            let reasons: Vec<&Value> = reply
                .pointer("/_shards/failures")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|f| f.get("reason"))
                .collect();
            let text = |r: &Value, k: &str| r.get(k).and_then(Value::as_str).map(str::to_string);
            let passing = reasons.iter().all(|r| {
                let kind = text(r, "type").unwrap_or_default();
                Self::status_of(&kind) != 500
                    && text(r, "durability").as_deref() != Some("PERMANENT")
            });
            let first = reasons.first().copied().unwrap_or(&Value::Null);
            return Some(ElasticError::Response {
                status: if passing { 503 } else { 500 },
                kind: text(first, "type").unwrap_or_else(|| "shard_failure".into()),
                reason: format!(
                    "{failed} of {total} shards failed: {}",
                    text(first, "reason").unwrap_or_else(|| "no reason given".into())
                ),
                permanent: false,
                retry_after: None,
            });
        }
        (reply.get("timed_out") == Some(&Value::Bool(true))).then(|| ElasticError::Response {
            status: 503,
            kind: "timeout".into(),
            reason: "the request timed out on some shards: its answer is not whole".into(),
            permanent: false,
            retry_after: None,
        })
    }
}

/// The `cause` (bulk step) or `reason` (search step) of a by-query answer's first failure.
fn first_failure_cause(body: &Value) -> Option<&Value> {
    let first = body.get("failures")?.as_array()?.first()?;
    first
        .get("cause")
        .or_else(|| first.get("reason"))
        .filter(|c| c.is_object())
}

#[cfg(test)]
mod tests;
