//! Per-tenant rate limits: 429 in the OpenAI envelope with `retry-after`, one bucket per tenant,
//! bad keys never reaching (or fooling) the limiter, health checks never limited.

use std::time::{Duration, Instant};

use e2e_tests::{Reply, TestApp, assert_envelope, spawn_app_with, test_settings};

const PER_SECOND: u32 = 1;
const BURST: u32 = 3;

async fn spawn_limited_app(mode: service::AuthMode) -> TestApp {
    let mut settings = test_settings();
    settings.server.rate_limit_per_second = PER_SECOND;
    settings.server.rate_limit_burst = BURST;
    settings.auth.mode = mode;
    spawn_app_with(settings).await
}

fn header<'r>(reply: &'r Reply, name: &str) -> &'r str {
    reply
        .headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .unwrap()
}

/// Sends `send` until it is refused: the `left` requests still in the bucket pass, and then at
/// most the requests refilled meanwhile (the suite shares two cores, so this may take a while).
/// Returns the 429.
async fn exhaust<F, Fut>(left: u32, send: F) -> Reply
where
    F: Fn() -> Fut,
    Fut: Future<Output = Reply>,
{
    let started = Instant::now();
    let mut passed = 0u32;
    loop {
        let r = send().await;
        if r.status == 429 {
            let refilled = started.elapsed().as_secs() as u32 * PER_SECOND + PER_SECOND;
            assert!(
                passed >= left && passed <= left + refilled,
                "{passed} requests passed before the first 429"
            );
            return r;
        }
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(header(&r, "x-ratelimit-limit-requests"), BURST.to_string());
        passed += 1;
        assert!(passed <= left + 30, "never limited");
    }
}

#[tokio::test]
async fn over_the_limit_is_429_with_retry_after_until_the_wait_is_over() {
    let app = spawn_limited_app(service::AuthMode::Keys).await;
    let list = || app.call("GET", "/v1/vector_stores", None);

    let first = list().await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(header(&first, "x-ratelimit-limit-requests"), "3");
    assert!(
        header(&first, "x-ratelimit-remaining-requests")
            .parse::<u32>()
            .unwrap()
            < BURST
    );

    let refused = exhaust(BURST - 1, list).await;
    let error = assert_envelope(&refused, 429);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("Rate limit reached"),
        "{error:?}"
    );
    assert_eq!(error["type"], "requests");
    assert_eq!(error["param"], serde_json::Value::Null);
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert!(header(&refused, "x-request-id").starts_with("req_"));
    assert_eq!(header(&refused, "x-ratelimit-remaining-requests"), "0");
    let retry_after: u64 = header(&refused, "retry-after").parse().unwrap();
    let retry_after_ms: u64 = header(&refused, "retry-after-ms").parse().unwrap();
    assert_eq!(retry_after, 1, "one request a second");
    assert!(
        (1..=1000).contains(&retry_after_ms) && retry_after_ms <= retry_after * 1000,
        "{retry_after_ms}"
    );

    // Another tenant has its own bucket.
    let other = app
        .call_as(&app.key_b, "GET", "/v1/vector_stores", None)
        .await;
    assert_eq!(other.status, 200, "{}", other.body);
    assert_eq!(header(&other, "x-ratelimit-remaining-requests"), "2");

    // A bad key is 401 before any limiting, whatever the state of the buckets.
    for _ in 0..5 {
        let bad = app
            .call_as("vsk_not_a_key", "GET", "/v1/vector_stores", None)
            .await;
        assert_eq!(assert_envelope(&bad, 401)["code"], "invalid_api_key");
    }

    // The health checks are never limited.
    for path in ["/health", "/ready"] {
        for _ in 0..10 {
            let r = app.send(app.client.get(app.url(path))).await;
            assert_eq!(r.status, 200, "{path}");
        }
    }

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let again = list().await;
    assert_eq!(again.status, 200, "after retry-after: {}", again.body);
}

#[tokio::test]
async fn in_open_mode_made_up_keys_share_the_default_tenants_bucket() {
    let app = spawn_limited_app(service::AuthMode::Open).await;
    let no_key = app.send(app.client.get(app.url("/v1/vector_stores"))).await;
    assert_eq!(no_key.status, 200, "{}", no_key.body);
    // Every request brings a key of its own; none of them earns a fresh bucket.
    let refused = exhaust(BURST - 1, || {
        let key = format!("sk-made-up-{}", uuid::Uuid::new_v4().simple());
        app.send(
            app.client
                .get(app.url("/v1/vector_stores"))
                .bearer_auth(key),
        )
    })
    .await;
    assert_eq!(
        assert_envelope(&refused, 429)["code"],
        "rate_limit_exceeded"
    );
}
