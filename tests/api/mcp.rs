//! `/mcp` behind the API's doors, as seen over HTTP (the protocol itself is shown by the
//! official clients in `tests/mcp/`): the per-tenant rate limit and requests in flight, the
//! body limit, `mcp.enabled`, and `open` mode's refusal of foreign hosts.

use e2e_tests::{Reply, TestApp, assert_envelope, spawn_app_with, test_settings};
use serde_json::{Value, json};

fn initialize() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "e2e", "version": "1"}
        }
    })
}

async fn post_mcp(app: &TestApp, extra: &[(&str, &str)]) -> Reply {
    post_mcp_as(app, &app.key_a, extra).await
}

/// [`post_mcp`] with `key`.
async fn post_mcp_as(app: &TestApp, key: &str, extra: &[(&str, &str)]) -> Reply {
    let mut req = app
        .client
        .post(app.url("/mcp"))
        .bearer_auth(key)
        .header("accept", "application/json, text/event-stream")
        .json(&initialize());
    for (name, value) in extra {
        req = req.header(*name, *value);
    }
    app.send(req).await
}

#[tokio::test]
async fn mcp_requests_spend_the_tenants_rate_limit() {
    let mut settings = test_settings();
    settings.server.rate_limit_per_second = 1;
    settings.server.rate_limit_burst = 2;
    let app = spawn_app_with(settings).await;
    let first = post_mcp(&app, &[]).await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(
        first.body["result"]["serverInfo"]["name"],
        "vector-store-server"
    );
    assert_eq!(first.headers["x-ratelimit-limit-requests"], "2");
    let mut refused = None;
    for _ in 0..30 {
        let r = post_mcp(&app, &[]).await;
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let refused = refused.expect("never limited");
    let error = assert_envelope(&refused, 429);
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert!(refused.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn mcp_can_be_turned_off() {
    let mut settings = test_settings();
    settings.mcp.enabled = false;
    let app = spawn_app_with(settings).await;
    let r = post_mcp(&app, &[]).await;
    assert_envelope(&r, 404);
}

#[tokio::test]
async fn open_mode_refuses_mcp_for_a_foreign_host() {
    let mut settings = test_settings();
    settings.auth.mode = service::AuthMode::Open;
    let app = spawn_app_with(settings).await;
    let r = post_mcp(&app, &[]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post_mcp(&app, &[("host", "evil.example")]).await;
    assert_envelope(&r, 403);
}

#[tokio::test]
async fn a_body_over_the_json_limit_is_413_before_it_is_read() {
    let app = spawn_app_with(test_settings()).await;
    let body = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "upload_text", "arguments": {"text": "a".repeat(2 * 1024 * 1024)}}
    })
    .to_string();
    let r = app
        .send(
            app.client
                .post(app.url("/mcp"))
                .bearer_auth(&app.key_a)
                .header("accept", "application/json, text/event-stream")
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
    let error = assert_envelope(&r, 413);
    assert!(
        error["message"].as_str().unwrap().contains("1048576"),
        "{error:?}"
    );
}

#[tokio::test]
async fn mcp_requests_count_against_the_tenants_requests_in_flight() {
    use tokio::io::AsyncWriteExt;

    let mut settings = test_settings();
    settings.server.max_in_flight_per_tenant = 1;
    let app = spawn_app_with(settings).await;
    // A request whose body never ends holds the tenant's one request in flight.
    let host = app.address.trim_start_matches("http://");
    let mut held = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST /mcp HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {}\r\n\
         Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n\
         Content-Length: 1000\r\n\r\n{{\"jsonrpc\"",
        app.key_a
    );
    held.write_all(head.as_bytes()).await.unwrap();
    let mut refused = None;
    for _ in 0..50 {
        let r = post_mcp(&app, &[]).await;
        if r.status == 429 {
            refused = Some(r);
            break;
        }
        // Until the held request is in flight.
        assert_eq!(r.status, 200, "{}", r.body);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let refused = refused.expect("the held request never counted");
    assert_envelope(&refused, 429);
    // Another tenant is not held up by it.
    let other = post_mcp_as(&app, &app.key_b, &[]).await;
    assert_eq!(other.status, 200, "{}", other.body);
    drop(held);
}
