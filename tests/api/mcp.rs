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

#[tokio::test]
async fn a_tool_still_running_after_its_client_left_holds_the_turn_in_flight() {
    use std::time::Duration;

    use secrecy::SecretString;
    use vector_store_server::settings::{ChatModelSettings, RemoteAccess};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    // A chat model that takes 3 s to rewrite a query.
    let chat = MockServer::start().await;
    let answer =
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": "q"}}]});
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(answer)
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&chat)
        .await;
    let mut settings = test_settings();
    settings.server.max_in_flight_per_tenant = 1;
    settings.server.metrics_token = Some(SecretString::from("metrics-token"));
    settings.chat_models.insert(
        "slow".into(),
        ChatModelSettings {
            base_url: format!("{}/v1", chat.uri()),
            model: "slow-chat".into(),
            access: RemoteAccess {
                api_key: Some(SecretString::from("sk-chat")),
                timeout_secs: 10.0,
            },
        },
    );
    settings.search.query_rewriter = "slow".into();
    let app = spawn_app_with(settings).await;
    let store = app
        .call("POST", "/v1/vector_stores", Some(json!({"name": "s"})))
        .await;
    assert_eq!(store.status, 200, "{}", store.body);
    let call = json!({
        "jsonrpc": "2.0", "id": 2, "method": "tools/call",
        "params": {"name": "search_vector_store", "arguments": {
            "vector_store_ids": [store.body["id"]], "query": "q", "rewrite_query": true
        }}
    });
    // The client gives up while the tool waits for the chat model.
    let gave_up = app
        .client
        .post(app.url("/mcp"))
        .bearer_auth(&app.key_a)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-06-18")
        .timeout(Duration::from_millis(800))
        .json(&call)
        .send()
        .await;
    assert!(gave_up.is_err(), "{gave_up:?}");
    assert_eq!(chat.received_requests().await.unwrap().len(), 1);
    // The request is still in flight while its tool runs: the tenant's next request is let in
    // (it waits for a turn) only once the tool has ended, and so was counted.
    let next = post_mcp(&app, &[]).await;
    assert_eq!(next.status, 200, "{}", next.body);
    let text = app.metrics("metrics-token").await.text().await.unwrap();
    let ended = text.lines().find(|l| {
        l.starts_with("vector_store_mcp_tool_calls_total")
            && l.contains("tool=\"search_vector_store\"")
    });
    assert!(ended.is_some_and(|l| l.ends_with(" 1")), "{text}");
}
