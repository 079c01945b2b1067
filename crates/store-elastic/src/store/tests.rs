//! Tests of the store's checks and index names, without a cluster.

use super::transport::backoff;
use super::*;
use std::time::Duration;

#[test]
fn vectors_must_have_the_dimension_finite_components_and_a_direction() {
    let spec = CollectionSpec::new("c", 2).unwrap();
    assert!(spec.check_vector(&[1.0, 0.0]).is_ok());
    for bad in [vec![1.0], vec![f32::NAN, 1.0], vec![0.0, 0.0]] {
        assert!(spec.check_vector(&bad).is_err(), "{bad:?}");
    }
}

#[test]
fn only_plain_lowercase_names_become_indices() {
    let store = ElasticStore::new(ElasticOptions {
        url: "http://127.0.0.1:1".into(),
        ..Default::default()
    })
    .unwrap();
    let spec = |name: &str| CollectionSpec::new(name, 3);
    assert_eq!(store.index(&spec("vs_a1").unwrap()), "vectorstore_vs_a1");
    for bad in ["", "Abc", "a-b", "a/b", "..", "a b", "ü"] {
        assert!(spec(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn back_off_doubles_and_is_capped() {
    assert_eq!(backoff(0), Duration::from_millis(100));
    assert_eq!(backoff(2), Duration::from_millis(400));
    assert_eq!(backoff(40), backoff(6));
}

/// Reads against a scripted cluster, with answers the emulator does not give.
mod cluster {
    use std::time::Instant;

    use serde_json::json;
    use store_core::VectorStore;

    use super::super::fake::{self, Reply};
    use super::*;

    fn hit(id: &str) -> Value {
        // A sorted search answers `_score: null`.
        json!({"_index": "vectorstore_c", "_id": id, "_score": null, "sort": [id],
            "_source": {"chunk_id": id, "file_id": "f", "filename": null, "chunk_index": 0,
                "text": "t", "attributes": {}}})
    }

    fn search_reply(failed: u64, hits: Vec<Value>) -> Value {
        let mut shards = json!({"total": 2, "successful": 2 - failed, "skipped": 0,
            "failed": failed});
        if failed > 0 {
            shards["failures"] = json!([{"shard": 1, "index": "vectorstore_c", "node": "n2",
                "reason": {"type": "node_disconnected_exception",
                    "reason": "[n2][10.0.0.2:9300][indices:data/read/search[phase/query]] \
                               disconnected"}}]);
        }
        json!({"took": 3, "timed_out": false, "_shards": shards,
            "hits": {"total": {"value": hits.len(), "relation": "eq"}, "max_score": null,
                "hits": hits}})
    }

    fn spec() -> CollectionSpec {
        CollectionSpec::new("c", 2).unwrap()
    }

    #[tokio::test]
    async fn searches_ask_for_every_shard_and_a_partial_answer_is_an_error() {
        let (url, log) = fake::cluster(|seen| {
            let last = seen.last().unwrap();
            match last.path() {
                "/vectorstore_c/_count" => Reply::Json(
                    200,
                    json!({"count": 3, "_shards": {"total": 2, "successful": 1, "skipped": 0,
                        "failed": 1, "failures": [{"shard": 0, "index": "vectorstore_c",
                        "node": "n1", "reason": {"type": "query_shard_exception",
                        "reason": "failed to create query"}}]}}),
                ),
                _ if seen.len() == 1 => Reply::Json(200, search_reply(1, vec![hit("a")])),
                _ => Reply::Json(200, search_reply(0, vec![hit("a"), hit("b")])),
            }
        })
        .await;
        let store = fake::store(url, 5, 0);
        let e = store.list(&spec(), 10, 0).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
        let listed = store.list(&spec(), 10, 0).await.unwrap();
        assert_eq!(listed.len(), 2, "hits with a null score are read");
        let e = store.count(&spec()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
        let seen = log.lock().unwrap().clone();
        assert!(
            seen.iter()
                .filter(|s| s.path().ends_with("/_search"))
                .all(|s| s.param("allow_partial_search_results") == Some("false"))
        );
        assert_eq!(
            seen.iter()
                .find(|s| s.path().ends_with("/_count"))
                .unwrap()
                .param("allow_partial_search_results"),
            None,
            "_count does not take it"
        );
    }

    #[tokio::test]
    async fn a_rejection_waits_as_retry_after_asks_and_a_proxy_page_is_tried_again() {
        let (url, log) = fake::cluster(|seen| match seen.len() {
            1 => Reply::Raw {
                status: 429,
                headers: vec![
                    ("content-type", "application/json".into()),
                    ("retry-after", "1".into()),
                ],
                body: json!({"error": {"type": "es_rejected_execution_exception",
                    "reason": "rejected execution of coordinating operation"}, "status": 429})
                .to_string(),
            },
            2 => Reply::Raw {
                status: 503,
                headers: vec![("content-type", "text/html".into())],
                body: "<html><body><h1>503 Service Unavailable</h1></body></html>".into(),
            },
            _ => Reply::Json(
                200,
                json!({"count": 3, "_shards": {"total": 1, "failed": 0}}),
            ),
        })
        .await;
        let store = fake::store(url, 5, 3);
        let started = Instant::now();
        assert_eq!(store.count(&spec()).await.unwrap(), 3);
        assert!(started.elapsed() >= Duration::from_secs(1));
        assert_eq!(log.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_circuit_breaker_that_tripped_for_good_is_not_tried_again() {
        let (url, log) = fake::cluster(|_| {
            Reply::Json(
                500,
                json!({"error": {"root_cause": [{"type": "circuit_breaking_exception",
                    "reason": "[fielddata] Data too large", "bytes_wanted": 1_000_000,
                    "bytes_limit": 900_000, "durability": "PERMANENT"}],
                    "type": "circuit_breaking_exception",
                    "reason": "[fielddata] Data too large", "bytes_wanted": 1_000_000,
                    "bytes_limit": 900_000, "durability": "PERMANENT"}, "status": 500}),
            )
        })
        .await;
        let store = fake::store(url, 5, 3);
        let e = store.count(&spec()).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
        assert_eq!(log.lock().unwrap().len(), 1);
    }
}
