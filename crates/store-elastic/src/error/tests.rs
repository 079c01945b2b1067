//! How the cluster's answers become errors, with the shapes Elasticsearch sends.

use super::*;
use serde_json::json;
use store_core::ErrorKind;

fn response(status: u16, kind: &str) -> ElasticError {
    ElasticError::response(status, &json!({"error": {"type": kind, "reason": "why"}}))
}

#[test]
fn each_answer_maps_to_its_store_error_kind() {
    let status = |status, excerpt: &str| ElasticError::Status {
        status,
        excerpt: excerpt.into(),
        retry_after: None,
    };
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
        (
            response(409, "version_conflict_engine_exception"),
            ErrorKind::Conflict,
        ),
        (ElasticError::Decode("x".into()), ErrorKind::Internal),
        (
            status(502, "<html>Bad Gateway</html>"),
            ErrorKind::Unavailable,
        ),
        (status(413, ""), ErrorKind::InvalidInput),
        (status(404, "<html>not here</html>"), ErrorKind::Internal),
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

#[test]
fn a_too_large_request_says_so() {
    let e = ElasticError::Status {
        status: 413,
        excerpt: String::new(),
        retry_after: None,
    };
    assert!(!e.is_transient());
    let e = e.into_store("c");
    assert!(e.to_string().contains("http.max_content_length"), "{e}");
}

/// As Elasticsearch writes a `CircuitBreakingException`: 429 when transient, 500 when not.
fn breaker(status: u16, durability: &str) -> ElasticError {
    ElasticError::response(
        status,
        &json!({
            "error": {
                "root_cause": [{"type": "circuit_breaking_exception",
                    "reason": "[parent] Data too large", "bytes_wanted": 1_073_741_900u64,
                    "bytes_limit": 1_073_741_824u64, "durability": durability}],
                "type": "circuit_breaking_exception",
                "reason": "[parent] Data too large, data for [<http_request>] would be larger \
                           than limit",
                "bytes_wanted": 1_073_741_900u64,
                "bytes_limit": 1_073_741_824u64,
                "durability": durability
            },
            "status": status
        }),
    )
}

#[test]
fn a_circuit_breaker_that_tripped_for_good_is_not_tried_again() {
    for status in [429, 500] {
        let e = breaker(status, "PERMANENT");
        assert!(!e.is_transient(), "{e}");
        let e = e.into_store("c");
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(e.to_string().contains("PERMANENT"), "{e}");
    }
    let e = breaker(429, "TRANSIENT");
    assert!(e.is_transient() && e.is_overload(), "{e}");
    assert_eq!(e.into_store("c").kind(), ErrorKind::Unavailable);
}

#[test]
fn a_rejection_is_an_overload_and_a_gateway_error_a_passing_failure() {
    assert!(response(429, "es_rejected_execution_exception").is_overload());
    let gateway = ElasticError::Status {
        status: 504,
        excerpt: "<html><body><h1>504 Gateway Time-out</h1></body></html>".into(),
        retry_after: None,
    };
    assert!(gateway.is_transient() && !gateway.is_overload() && gateway.is_timeout());
}

#[test]
fn a_by_query_answer_without_an_error_object_reports_its_first_failure() {
    // A `_delete_by_query` that failed on a bulk step answers with the failure's status and
    // no `error`.
    let body = json!({
        "took": 147, "timed_out": false, "total": 119, "deleted": 20, "batches": 1,
        "version_conflicts": 0, "noops": 0,
        "retries": {"bulk": 0, "search": 0},
        "throttled_millis": 0, "requests_per_second": -1.0, "throttled_until_millis": 0,
        "failures": [{
            "index": "vectorstore_c", "id": "f:3",
            "cause": {"type": "document_missing_exception",
                      "reason": "[f:3]: document missing", "index": "vectorstore_c"},
            "status": 404
        }]
    });
    let e = ElasticError::response(404, &body);
    assert!(e.to_string().contains("document missing"), "{e}");
    let e = e.into_store("c");
    assert_eq!(
        e.kind(),
        ErrorKind::Internal,
        "not a missing collection: {e}"
    );
    let search_failure = json!({"failures": [{
        "index": "vectorstore_c", "shard": 0, "node": "n1", "status": 503,
        "reason": {"type": "no_shard_available_action_exception", "reason": "No shard available"}
    }]});
    assert!(ElasticError::response(503, &search_failure).is_transient());
}

#[test]
fn an_answer_from_some_of_the_shards_is_an_error_passing_when_its_reasons_are() {
    let reply = |kind: &str| {
        json!({
            "took": 5, "timed_out": false,
            "_shards": {"total": 3, "successful": 2, "skipped": 0, "failed": 1, "failures": [{
                "shard": 1, "index": "vectorstore_c", "node": "n2",
                "reason": {"type": kind, "reason": "shard failed"}
            }]},
            "hits": {"total": {"value": 0, "relation": "eq"}, "max_score": null, "hits": []}
        })
    };
    let e = ElasticError::of_partial(&reply("node_disconnected_exception")).unwrap();
    assert!(e.is_transient(), "{e}");
    assert!(e.to_string().contains("1 of 3 shards failed"), "{e}");
    let e = ElasticError::of_partial(&reply("query_shard_exception")).unwrap();
    assert!(!e.is_transient(), "{e}");
    let whole = json!({"_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
        "count": 4});
    assert!(ElasticError::of_partial(&whole).is_none());
    let timed_out = json!({"timed_out": true, "_shards": {"total": 1, "failed": 0}});
    assert!(ElasticError::of_partial(&timed_out).unwrap().is_transient());
}
