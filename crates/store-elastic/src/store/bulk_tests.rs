//! Chunk writes against a scripted cluster: a write that times out, one the cluster finds too
//! large.

use serde_json::json;
use store_core::{CollectionSpec, ErrorKind};

use super::super::fake::{self, Reply, Seen};

fn chunk(id: &str) -> store_core::Chunk {
    store_core::testkit::chunk(id, "text", vec![1.0, 0.0], json!({}))
}

/// The `_bulk` lines of a request, as sent.
fn bulk_ids(seen: &Seen) -> Vec<String> {
    seen.body
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|l| {
            l.pointer("/index/_id")
                .and_then(|v| v.as_str().map(String::from))
        })
        .collect()
}

#[tokio::test]
async fn a_write_that_timed_out_returns_once_its_task_is_gone() {
    // The `_bulk` never answers in time; its task is listed by the first three looks.
    let (url, log) = fake::cluster(|seen| {
        let last = seen.last().unwrap();
        if last.path().ends_with("/_bulk") {
            return Reply::Hang;
        }
        let opaque = seen[0].header("x-opaque-id").unwrap_or_default();
        let looks = seen.iter().filter(|s| s.path() == "/_tasks").count();
        if looks <= 3 {
            Reply::Json(
                200,
                json!({"nodes": {"n": {"tasks": {"n:1": {
                    "action": "indices:data/write/bulk", "headers": {"X-Opaque-Id": opaque}
                }}}}}),
            )
        } else {
            Reply::Json(200, json!({"nodes": {}}))
        }
    })
    .await;
    let store = fake::store(url, 1, 0);
    let spec = CollectionSpec::new("c", 2).unwrap();
    let e = store
        .bulk(&spec, "idx", &[chunk("a:0")], Some(7))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    let paths: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|s| s.path().into())
        .collect();
    assert_eq!(
        paths,
        ["/idx/_bulk", "/_tasks", "/_tasks", "/_tasks", "/_tasks"]
    );
}

#[tokio::test]
async fn a_write_too_large_for_the_cluster_is_sent_in_halves_down_to_the_chunk_at_fault() {
    // Elasticsearch's own 413 has an empty body. This cluster takes at most two chunks per
    // request, and never the chunk "big".
    let (url, log) = fake::cluster(|seen| {
        let ids = bulk_ids(seen.last().unwrap());
        if ids.len() > 2 || ids.iter().any(|i| i == "big") {
            return Reply::Raw {
                status: 413,
                headers: vec![],
                body: String::new(),
            };
        }
        let items: Vec<_> = ids
            .iter()
            .map(|i| json!({"index": {"_id": i, "status": 201, "result": "created"}}))
            .collect();
        Reply::Json(200, json!({"took": 1, "errors": false, "items": items}))
    })
    .await;
    let store = fake::store(url, 5, 0);
    let spec = CollectionSpec::new("c", 2).unwrap();
    let five: Vec<_> = (0..5).map(|i| chunk(&format!("a:{i}"))).collect();
    store.bulk(&spec, "idx", &five, None).await.unwrap();
    let written: Vec<Vec<String>> = log
        .lock()
        .unwrap()
        .iter()
        .map(bulk_ids)
        .filter(|ids| ids.len() <= 2)
        .collect();
    assert_eq!(
        written,
        [vec!["a:0", "a:1"], vec!["a:2"], vec!["a:3", "a:4"]]
    );

    let e = store
        .bulk(&spec, "idx", &[chunk("b:0"), chunk("big")], None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    assert!(e.to_string().contains("'big'"), "{e}");
    assert!(e.to_string().contains("http.max_content_length"), "{e}");
}
