//! Expiry: once a vector store's `expires_at` has passed, the background sweep frees its chunks;
//! the store stays, reporting `expired`, and refuses searches.

use diesel_async::RunQueryDsl;
use e2e_tests::{assert_envelope, spawn_app_with, test_settings};
use serde_json::json;

/// Moves a collection's last use `days` into the past, straight in the catalog.
async fn age(id: &str, days: i64) {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let pool = store_pgvector::connect(&url, 1, &Default::default())
        .await
        .expect("connect");
    let mut conn = pool.get().await.expect("connection");
    diesel::sql_query("UPDATE collections SET last_active_at = last_active_at - $2 WHERE id = $1")
        .bind::<diesel::sql_types::Text, _>(id.to_string())
        .bind::<diesel::sql_types::BigInt, _>(days * 86_400)
        .execute(&mut conn)
        .await
        .expect("update");
}

#[tokio::test]
async fn the_sweep_frees_the_chunks_of_an_expired_store_and_keeps_it_expired() {
    let mut settings = test_settings();
    settings.ingest.expiry_sweep_secs = 1;
    let app = spawn_app_with(settings).await;
    let mut ids = Vec::new();
    for name in ["expiring", "kept"] {
        let r = app
            .call(
                "POST",
                "/v1/vector_stores",
                Some(
                    json!({"name": name, "expires_after": {"anchor": "last_active_at", "days": 1}}),
                ),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        let r = app
            .call(
                "POST",
                &format!("/v2/collections/{id}/documents"),
                Some(json!({"documents": [
                    {"id": "a", "text": "Glaciers carve valleys over thousands of years."},
                    {"id": "b", "text": "Sourdough bread rises with wild yeast."}
                ]})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        ids.push(id);
    }
    let store = |id: String| {
        let app = &app;
        async move {
            app.call("GET", &format!("/v1/vector_stores/{id}"), None)
                .await
        }
    };
    assert!(
        store(ids[0].clone()).await.body["usage_bytes"]
            .as_u64()
            .unwrap()
            > 0
    );

    age(&ids[0], 2).await;
    let mut freed = None;
    for _ in 0..300 {
        let r = store(ids[0].clone()).await;
        // The record edited behind the service's back is seen within its cache's TTL.
        if r.body["usage_bytes"] == 0 && r.body["status"] == "expired" {
            freed = Some(r);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let r = freed.expect("the sweep freed the expired store's chunks");
    assert_eq!(r.body["status"], "expired", "{}", r.body);
    let r = app
        .call(
            "POST",
            &format!("/v1/vector_stores/{}/search", ids[0]),
            Some(json!({"query": "glaciers"})),
        )
        .await;
    let e = assert_envelope(&r, 400);
    assert!(e["message"].as_str().unwrap().contains("expired"), "{e:?}");

    // The store that did not expire keeps its chunks and answers.
    let r = app
        .call(
            "POST",
            &format!("/v1/vector_stores/{}/search", ids[1]),
            Some(json!({"query": "glaciers"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
    let r = store(ids[1].clone()).await;
    assert_eq!(r.body["status"], "completed");
    assert!(r.body["usage_bytes"].as_u64().unwrap() > 0);
}

#[tokio::test]
async fn an_update_of_an_expired_store_changes_its_name_and_leaves_it_expired() {
    let app = spawn_app_with(test_settings()).await;
    let r = app
        .call(
            "POST",
            "/v1/vector_stores",
            Some(json!({"name": "old", "expires_after": {"anchor": "last_active_at", "days": 1}})),
        )
        .await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/v1/vector_stores/{id}");
    age(&id, 2).await;
    let mut before = json!(null);
    for _ in 0..100 {
        before = app.call("GET", &path, None).await.body;
        if before["status"] == "expired" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(before["status"], "expired", "{before}");

    let r = app
        .call(
            "POST",
            &path,
            Some(json!({"name": "renamed", "metadata": {"k": "v"}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "renamed");
    assert_eq!(r.body["metadata"], json!({"k": "v"}));
    assert_eq!(r.body["status"], "expired", "an update does not revive it");
    assert_eq!(r.body["last_active_at"], before["last_active_at"]);
    assert_eq!(r.body["expires_at"], before["expires_at"]);

    let r = app
        .call(
            "POST",
            &path,
            Some(json!({"expires_after": {"anchor": "last_active_at", "days": 365}})),
        )
        .await;
    let e = assert_envelope(&r, 400);
    assert_eq!(e["param"], "expires_after");
    assert_eq!(app.call("GET", &path, None).await.body["status"], "expired");
}
