//! The raw `/v2` API: explicit dimensions, caller-supplied vectors, three search modes.

use e2e_tests::{assert_envelope, spawn_app};
use serde_json::json;

#[tokio::test]
async fn raw_collections_take_caller_vectors_and_search_three_ways() {
    let app = spawn_app().await;
    let r = app
        .call(
            "POST",
            "/v2/collections",
            Some(json!({"collection": "raw3", "dimension": 3})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["model"], json!(null));
    assert_eq!(r.body["dimension"], 3);

    let r = app
        .call(
            "POST",
            "/v2/collections/raw3/documents",
            Some(json!({"documents": [
                {
                    "id": "x",
                    "text": "points along the x axis",
                    "vector": [1.0, 0.0, 0.0],
                    "attributes": {"axis": "x", "n": 1}
                },
                {
                    "id": "y",
                    "text": "points along the y axis",
                    "vector": [0.0, 1.0, 0.0],
                    "attributes": {"axis": "y", "n": 2}
                },
                {
                    "id": "xy",
                    "text": "diagonal between x and y",
                    "vector": [0.7, 0.7, 0.0],
                    "attributes": {"axis": "xy", "n": 3}
                }
            ]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["upserted"], 3);

    let r = app
        .call(
            "POST",
            "/v2/collections/raw3/search",
            Some(json!({"vector": [1.0, 0.0, 0.0], "k": 2})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let hits = r.body["data"].as_array().unwrap();
    assert_eq!(hits.len(), 2);
    assert_eq!(hits[0]["id"], "x");
    assert!((hits[0]["score"].as_f64().unwrap() - 1.0).abs() < 1e-4);
    assert_eq!(hits[1]["id"], "xy");

    let r = app.call(
        "POST",
        "/v2/collections/raw3/search",
        Some(json!({"vector": [1.0, 0.0, 0.0], "filter": {"type": "gt", "key": "n", "value": 1}}))
    ).await;
    let ids: Vec<&str> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["xy", "y"]);

    let r = app
        .call(
            "POST",
            "/v2/collections/raw3/search",
            Some(json!({"mode": "keyword", "text": "diagonal"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"][0]["id"], "xy");

    let r = app
        .call(
            "POST",
            "/v2/collections/raw3/search",
            Some(json!({"mode": "hybrid", "text": "diagonal", "vector": [0.7, 0.7, 0.0]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"][0]["id"], "xy");

    // Text alone cannot be searched by vector in a collection without a model.
    let r = app
        .call(
            "POST",
            "/v2/collections/raw3/search",
            Some(json!({"text": "diagonal"})),
        )
        .await;
    assert_envelope(&r, 400);

    let r = app
        .call("GET", "/v2/collections/raw3/documents?limit=2", None)
        .await;
    assert_eq!(r.body["total"], 3);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);

    let r = app
        .call(
            "POST",
            "/v2/collections/raw3/documents/delete",
            Some(json!({"ids": ["y"]})),
        )
        .await;
    assert_eq!(r.body["deleted"], 1);
    let r = app.call("DELETE", "/v2/collections/raw3", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["deleted"], true);
    let r = app.call("GET", "/v2/collections/raw3", None).await;
    assert_envelope(&r, 404);
}

#[tokio::test]
async fn raw_collections_with_a_model_embed_text_and_appear_in_the_platform_api() {
    let app = spawn_app().await;
    let r = app
        .call(
            "POST",
            "/v2/collections",
            Some(json!({"collection": "withmodel", "model": "all-minilm-l6-v2"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["dimension"], 384);
    let r = app
        .call(
            "POST",
            "/v2/collections/withmodel/documents",
            Some(json!({"documents": [
                {"id": "a", "text": "The cat sat on the mat."},
                {"id": "b", "text": "Stock markets fell sharply today."}
            ]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .call(
            "POST",
            "/v2/collections/withmodel/search",
            Some(json!({"text": "a kitten resting on a rug", "k": 1})),
        )
        .await;
    assert_eq!(r.body["data"][0]["id"], "a");
    let list = app.call("GET", "/v1/api/collection", None).await;
    assert_eq!(list.body["data"][0]["collection"], "withmodel");
    let r = app
        .call(
            "POST",
            "/v2/collections",
            Some(json!({"collection": "mismatch", "model": "all-minilm-l6-v2", "dimension": 3})),
        )
        .await;
    let e = assert_envelope(&r, 400);
    assert_eq!(e["param"], "dimension");
}

#[tokio::test]
async fn the_key_is_checked_first_then_the_request_then_the_collection() {
    let app = spawn_app().await;
    // No valid key: 401, whatever else is wrong (a bad query, a bad body, no such collection).
    let r = app
        .call_as(
            "vsk_not_a_key",
            "GET",
            "/v2/collections/nowhere/documents?limit=0",
            None,
        )
        .await;
    assert_envelope(&r, 401);
    let r = app
        .call_as(
            "vsk_not_a_key",
            "POST",
            "/v2/collections/nowhere/search",
            Some(json!({"k": "many"})),
        )
        .await;
    assert_envelope(&r, 401);
    // A valid key: the request is read before the collection is looked up, on both APIs.
    let r = app
        .call("GET", "/v2/collections/nowhere/documents?limit=0", None)
        .await;
    assert_eq!(assert_envelope(&r, 400)["param"], "limit");
    let r = app
        .call(
            "POST",
            "/v2/collections/nowhere/search",
            Some(json!({"k": 0})),
        )
        .await;
    assert_eq!(assert_envelope(&r, 400)["param"], "k");
    let r = app
        .call(
            "POST",
            "/v1/api/search",
            Some(json!({"collection": "nowhere", "query": "x", "max_num_results": 0})),
        )
        .await;
    assert_eq!(assert_envelope(&r, 400)["param"], "max_num_results");
    let r = app
        .call(
            "POST",
            "/v2/collections/nowhere/search",
            Some(json!({"text": "x"})),
        )
        .await;
    assert_envelope(&r, 404);
}
