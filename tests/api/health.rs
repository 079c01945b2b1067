//! Liveness, readiness and the response headers every reply carries.

use e2e_tests::{Proxy, assert_envelope, spawn_app, spawn_app_with, test_settings};
use secrecy::SecretString;
use serde_json::json;

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let ok = app.send(app.client.get(app.url("/health"))).await;
    let err = app.send(app.client.get(app.url("/nope"))).await;
    for r in [&ok, &err] {
        let id = r
            .headers
            .get("x-request-id")
            .expect("x-request-id")
            .to_str()
            .unwrap();
        assert!(id.starts_with("req_") && id.len() > 10);
    }
    assert_ne!(
        ok.headers.get("x-request-id"),
        err.headers.get("x-request-id")
    );
}

#[tokio::test]
async fn while_the_database_is_unreachable_ready_and_requests_are_503_and_then_recover() {
    let (proxy, via_proxy) =
        Proxy::in_front_of(&std::env::var("DATABASE_URL").unwrap(), 5432).await;
    let mut settings = test_settings();
    settings.database.url = Some(SecretString::from(via_proxy));
    // Its workers would lose any job they held when the link is cut: it runs none.
    settings.ingest.workers = 0;
    settings.server.metrics_token = Some(SecretString::from("metrics-token"));
    let app = spawn_app_with(settings).await;
    let r = app
        .call(
            "POST",
            "/v1/api/index",
            Some(json!({"collection": "c", "documents": [{"id": "d", "content": "kept safe"}]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    proxy.cut();
    let r = app.send(app.client.get(app.url("/ready"))).await;
    let e = assert_envelope(&r, 503);
    assert_eq!(e["type"], "server_error");
    let r = app.send(app.client.get(app.url("/health"))).await;
    assert_eq!(r.status, 200, "liveness does not depend on the database");
    // The metrics are served still, when they matter most; the gauges read from the database
    // keep their last values.
    let r = app.metrics("metrics-token").await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("vector_store_http_requests_total"), "{text}");
    let r = app
        .call("GET", "/v1/api/collection/data?collection=c", None)
        .await;
    // The key is cached, so the request reaches the store: 503, not 401 or 500.
    assert_envelope(&r, 503);

    proxy.restore();
    assert_eq!(
        app.wait_until_ready().await,
        200,
        "the service recovers by itself"
    );
    let r = app
        .call("GET", "/v1/api/collection/data?collection=c", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"][0]["content"], "kept safe");
}
