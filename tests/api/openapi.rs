//! The service describes itself: `/openapi.json`, Swagger UI at `/docs`, and `/metrics`.

use e2e_tests::{assert_envelope, spawn_app, spawn_app_with, test_settings};
use secrecy::SecretString;
use serde_json::json;
use vector_store_server::settings::Settings;

const TOKEN: &str = "a-metrics-token";

fn with_metrics_token() -> Settings {
    let mut settings = test_settings();
    settings.server.metrics_token = Some(SecretString::from(TOKEN));
    settings
}

/// The value of the sample `name{labels}` (labels as the exporter writes them), 0 when absent.
fn sample(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn the_document_is_served_without_a_key_and_names_every_surface() {
    let app = spawn_app().await;
    let r = app.send(app.client.get(app.url("/openapi.json"))).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["openapi"], "3.1.0");
    let paths = r.body["paths"].as_object().unwrap();
    for path in [
        "/v1/vector_stores/{id}/search",
        "/v1/files/{id}/content",
        "/v1/uploads/{upload_id}/parts",
        "/v1/api/collection",
        "/v2/collections/{collection}/search",
        "/health",
        "/ready",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    let search = &paths["/v1/vector_stores/{id}/search"]["post"];
    assert_eq!(search["operationId"], "searchVectorStore");
    for status in ["200", "400", "401", "404", "429", "500", "503"] {
        assert!(search["responses"].get(status).is_some(), "{status}");
    }
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = spawn_app().await;
    let index = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(index.status(), 200);
    assert_eq!(index.url().path(), "/docs/", "/docs redirects to the page");
    let html = index.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let init = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(init.status(), 200);
    let js = init.text().await.unwrap();
    assert!(
        js.contains("/openapi.json") && js.contains("validatorUrl"),
        "{js}"
    );
    let css = app
        .client
        .get(app.url("/docs/swagger-ui.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), 200);
}

#[tokio::test]
async fn with_keys_and_no_token_metrics_are_not_served() {
    let app = spawn_app().await;
    let r = app.call("GET", "/metrics", None).await;
    assert_envelope(&r, 404);
}

#[tokio::test]
async fn metrics_need_their_token_and_not_an_api_key() {
    let app = spawn_app_with(with_metrics_token()).await;
    let none = app.send(app.client.get(app.url("/metrics"))).await;
    assert_envelope(&none, 401);
    let api_key = app.call("GET", "/metrics", None).await;
    assert_envelope(&api_key, 401);
    let ok = app.metrics(TOKEN).await;
    assert_eq!(ok.status(), 200);
    assert!(
        ok.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_template_and_show_no_ids_or_keys() {
    let app = spawn_app_with(with_metrics_token()).await;
    let scrape = || async {
        let r = app.metrics(TOKEN).await;
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    };
    let missing = format!("vs_{}", uuid::Uuid::new_v4().simple());
    let line = concat!(
        r#"vector_store_http_requests_total{route="/v1/vector_stores/{id}","#,
        r#"method="GET",status="404"}"#
    );
    let before = sample(&scrape().await, line);
    for _ in 0..2 {
        let r = app
            .call("GET", &format!("/v1/vector_stores/{missing}"), None)
            .await;
        assert_envelope(&r, 404);
    }
    let r = app
        .call(
            "POST",
            "/v1/api/index",
            Some(
                json!({"collection": "metered", "documents": [{"id": "d", "content": "one text"}]}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let text = scrape().await;
    assert_eq!(sample(&text, line) - before, 2.0, "{text}");
    assert!(text.contains(
        "vector_store_http_request_duration_seconds_bucket{route=\"/v1/vector_stores/{id}\",\
         method=\"GET\",le="
    ));
    assert!(text.contains("vector_store_http_requests_in_flight"));
    assert!(
        text.contains("vector_store_embedding_texts_total{model="),
        "{text}"
    );
    assert!(
        text.contains("vector_store_backend_requests_total{backend="),
        "{text}"
    );
    assert!(text.contains("vector_store_db_pool_connections"), "{text}");
    assert!(
        text.contains("vector_store_ingestion_queue_depth"),
        "{text}"
    );
    for secret in [missing.as_str(), app.key_a.as_str(), TOKEN, "metered"] {
        assert!(!text.contains(secret), "{secret} shows in /metrics");
    }
}

#[tokio::test]
async fn the_console_serves_its_own_files_only_under_its_policy() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/console")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.url().path(),
        "/console/",
        "/console redirects to the page"
    );
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(policy.contains("default-src 'none'") && policy.contains("connect-src 'self'"));
    assert!(page.text().await.unwrap().contains("console.js"));
    for asset in ["/console/console.js", "/console/console.css"] {
        let r = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(r.status(), 200, "{asset}");
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    }
    // Nothing but its own files: no path escapes the fixed list.
    for crafted in [
        "/console/nope.js",
        "/console/..%2F..%2FCargo.toml",
        "/console/%2e%2e/Cargo.toml",
        "/console/index.html%00.js",
        &format!("/console/{}", "a".repeat(5000)),
    ] {
        let r = app.send(app.client.get(app.url(crafted))).await;
        assert_envelope(&r, 404);
    }
}

#[tokio::test]
async fn made_up_methods_share_one_label() {
    let app = spawn_app_with(with_metrics_token()).await;
    let client = reqwest::Client::new();
    for i in 0..2000 {
        let method = reqwest::Method::from_bytes(format!("AAAA{i}").as_bytes()).unwrap();
        let r = client.request(method, app.url("/")).send().await.unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    let text = app.metrics(TOKEN).await.text().await.unwrap();
    let methods: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|l| l.starts_with("vector_store_http_requests_total{"))
        .filter_map(|l| l.split("method=\"").nth(1)?.split('"').next())
        .collect();
    assert!(methods.contains("other"), "{methods:?}");
    assert!(methods.len() <= 12, "{methods:?}");
    assert!(!text.contains("AAAA"), "a made-up method became a label");
}
