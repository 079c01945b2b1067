//! Vector stores' usage and file counts as the catalog keeps them: a list page reads them in
//! one look-up, a single store is counted again after writes, and the background count brings
//! the list up to date.

use e2e_tests::spawn_app;
use serde_json::{Value, json};

#[tokio::test]
async fn usage_is_exact_for_one_store_and_catches_up_in_lists() {
    let app = spawn_app().await;
    let mut expected = Vec::new();
    for n in 1..=3usize {
        let store = app.vector_store(&format!("usage{n}")).await;
        let docs: Vec<Value> = (0..n)
            .map(|i| {
                json!({
                    "id": format!("d{i}"),
                    "text": format!("chunk {i} of store {n}: lighthouses")
                })
            })
            .collect();
        let bytes: usize = docs.iter().map(|d| d["text"].as_str().unwrap().len()).sum();
        let r = app
            .call(
                "POST",
                &format!("/v2/collections/{store}/documents"),
                Some(json!({"documents": docs})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        // One store, read after the write: counted again at once.
        let r = app
            .call("GET", &format!("/v1/vector_stores/{store}"), None)
            .await;
        assert_eq!(r.body["usage_bytes"], bytes, "{}", r.body);
        expected.push((store, bytes));
    }
    // A delete changes it too.
    let (first, _) = &expected[0];
    let r = app
        .call(
            "POST",
            &format!("/v2/collections/{first}/documents/delete"),
            Some(json!({"ids": ["d0"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    expected[0].1 = 0;
    // The list shows each store's usage once the background count caught up (every 2 s).
    let mut seen = Value::Null;
    for _ in 0..100 {
        let r = app.call("GET", "/v1/vector_stores?limit=100", None).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let data = r.body["data"].as_array().unwrap();
        let all = expected.iter().all(|(id, bytes)| {
            data.iter()
                .any(|s| s["id"] == id.as_str() && s["usage_bytes"] == *bytes)
        });
        if all {
            for s in data {
                assert_eq!(s["file_counts"]["total"], 0, "{s}");
                assert_eq!(s["status"], "completed", "{s}");
            }
            return;
        }
        seen = r.body;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the list never showed {expected:?}: {seen}");
}
