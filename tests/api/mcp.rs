//! `/mcp` behind the API's doors, as seen over HTTP (the protocol itself is shown by the
//! official clients in `tests/mcp/`): the per-tenant rate limit, `mcp.enabled`, and `open`
//! mode's refusal of foreign hosts.

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
    let mut req = app
        .client
        .post(app.url("/mcp"))
        .bearer_auth(&app.key_a)
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
