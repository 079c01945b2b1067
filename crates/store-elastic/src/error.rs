//! The crate's error type, and how it becomes a [`StoreError`].

use serde_json::Value;
use store_core::StoreError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum ElasticError {
    /// The request did not get an answer (connection refused, timeout, TLS).
    #[error("Elasticsearch did not answer: {0}")]
    Transport(#[from] elasticsearch::Error),
    /// The cluster answered with an error status.
    #[error("Elasticsearch answered {status}: {kind}: {reason}")]
    Response {
        status: u16,
        kind: String,
        reason: String,
    },
    /// The answer was not what the API documents.
    #[error("unexpected answer from Elasticsearch: {0}")]
    Decode(String),
}

impl ElasticError {
    /// An error status with the cluster's `error.type` and `error.reason`.
    pub(crate) fn response(status: u16, body: &Value) -> Self {
        let text = |p: &str| {
            body.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        ElasticError::Response {
            status,
            kind: text("/error/type"),
            reason: text("/error/reason"),
        }
    }

    /// Worth trying again: no answer, overloaded, or a node on its way.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            ElasticError::Transport(_) => true,
            ElasticError::Response { status, .. } => matches!(status, 429 | 502 | 503 | 504),
            ElasticError::Decode(_) => false,
        }
    }

    fn is_missing_index(&self) -> bool {
        matches!(self, ElasticError::Response { status: 404, kind, .. }
            if kind.is_empty() || kind == "index_not_found_exception")
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
            ElasticError::Response {
                status: 401 | 403, ..
            } => StoreError::unavailable("Elasticsearch refused this server's credentials", self),
            ElasticError::Transport(_)
            | ElasticError::Response { .. }
            | ElasticError::Decode(_)
                if self.is_transient() =>
            {
                StoreError::unavailable("the Elasticsearch cluster is unavailable", self)
            }
            ElasticError::Transport(_)
            | ElasticError::Response { .. }
            | ElasticError::Decode(_) => {
                StoreError::internal("an Elasticsearch request failed", self)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use store_core::ErrorKind;

    fn response(status: u16, kind: &str) -> ElasticError {
        ElasticError::response(status, &json!({"error": {"type": kind, "reason": "why"}}))
    }

    #[test]
    fn each_answer_maps_to_its_store_error_kind() {
        let cases = [
            (
                response(404, "index_not_found_exception"),
                ErrorKind::NotFound,
            ),
            (response(400, "parsing_exception"), ErrorKind::InvalidInput),
            (response(401, "security_exception"), ErrorKind::Unavailable),
            (
                response(429, "es_rejected_execution_exception"),
                ErrorKind::Unavailable,
            ),
            (response(503, "no_shard_available"), ErrorKind::Unavailable),
            (response(500, "exception"), ErrorKind::Internal),
            (ElasticError::Decode("x".into()), ErrorKind::Internal),
        ];
        for (e, kind) in cases {
            let text = e.to_string();
            assert_eq!(e.into_store("c").kind(), kind, "{text}");
        }
    }

    #[test]
    fn the_reason_of_a_refusal_reaches_the_message() {
        let e = response(400, "illegal_argument_exception").into_store("c");
        assert!(e.to_string().contains("why"), "{e}");
    }
}
