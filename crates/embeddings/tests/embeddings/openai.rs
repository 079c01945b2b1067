//! The OpenAI-compatible client against a wiremock server.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use embeddings::{
    EmbedError, Embedder, EmbedderRegistry, ModelConfig, OpenAiEmbedder, OpenAiOptions,
    ProviderConfig,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn options(server: &MockServer) -> OpenAiOptions {
    OpenAiOptions {
        name: "remote".into(),
        remote_model: "text-embedding-3-small".into(),
        base_url: format!("{}/v1", server.uri()),
        api_key: Some(SecretString::from("sk-test".to_string())),
        dimension: 3,
        max_input_tokens: 20,
        batch_size: 2,
        timeout: Duration::from_secs(5),
        max_retries: 2,
        max_backoff: Duration::from_millis(50),
    }
}

/// Answers with one vector per input, `[index, len, 0]`, listed in reverse order.
struct Echo;

impl Respond for Echo {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let inputs = body["input"].as_array().unwrap();
        let data: Vec<Value> = inputs
            .iter()
            .enumerate()
            .rev()
            .map(|(i, t)| {
                json!({
                    "object": "embedding",
                    "index": i,
                    "embedding": [i as f32, t.as_str().unwrap().len() as f32, 0.0]
                })
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": data}))
    }
}

/// [`Echo`], answering only after its delay.
struct Delayed(Duration);

impl Respond for Delayed {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        Echo.respond(req).set_delay(self.0)
    }
}

/// What embedding "x" with the provider `server` fails with.
async fn embed_x(server: &MockServer) -> EmbedError {
    OpenAiEmbedder::new(options(server))
        .unwrap()
        .embed(&texts(&["x"]))
        .await
        .unwrap_err()
}

fn texts(v: &[&str]) -> Vec<String> {
    v.iter().map(std::string::ToString::to_string).collect()
}

#[tokio::test]
async fn batches_are_split_sent_with_the_key_and_reordered_by_index() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(header("authorization", "Bearer sk-test"))
        .and(body_partial_json(
            json!({"model": "text-embedding-3-small", "encoding_format": "float"}),
        ))
        .respond_with(Echo)
        .expect(3)
        .mount(&server)
        .await;
    let e = OpenAiEmbedder::new(options(&server)).unwrap();
    let out = e
        .embed(&texts(&["a", "bb", "ccc", "dddd", "eeeee"]))
        .await
        .unwrap();
    let lens: Vec<f32> = out.iter().map(|v| v[1]).collect();
    assert_eq!(lens, [1.0, 2.0, 3.0, 4.0, 5.0]);
    assert!(e.embed(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "0")
                .set_body_json(json!({"error": {"message": "slow down"}})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(Echo)
        .expect(1)
        .mount(&server)
        .await;
    let e = OpenAiEmbedder::new(options(&server)).unwrap();
    assert_eq!(e.embed(&texts(&["x"])).await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_wait_follows_retry_after_in_seconds() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(Echo)
        .expect(1)
        .mount(&server)
        .await;
    let mut opts = options(&server);
    opts.max_backoff = Duration::from_secs(10);
    let e = OpenAiEmbedder::new(opts).unwrap();
    let started = Instant::now();
    e.embed(&texts(&["x"])).await.unwrap();
    // Without the header the first backoff would be 200 ms.
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(950), "{waited:?}");
}

#[tokio::test]
async fn a_long_retry_after_is_capped() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "3600"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(Echo)
        .mount(&server)
        .await;
    let e = OpenAiEmbedder::new(options(&server)).unwrap();
    let started = Instant::now();
    e.embed(&texts(&["x"])).await.unwrap();
    let waited = started.elapsed();
    assert!(waited < Duration::from_secs(3), "{waited:?}");
}

#[tokio::test]
async fn server_errors_exhaust_the_retries_and_report_unavailable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503))
        .expect(3)
        .mount(&server)
        .await;
    let e = OpenAiEmbedder::new(options(&server)).unwrap();
    let err = e.embed(&texts(&["x"])).await.unwrap_err();
    assert!(matches!(err, EmbedError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("3 tries"), "{err}");
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    let server = MockServer::start().await;
    let mut opts = options(&server);
    opts.base_url = "http://127.0.0.1:1/v1".into();
    opts.max_retries = 1;
    let err = OpenAiEmbedder::new(opts)
        .unwrap()
        .embed(&texts(&["x"]))
        .await
        .unwrap_err();
    assert!(matches!(err, EmbedError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn a_400_is_not_retried_and_carries_the_providers_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": {"message": "model not found"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = embed_x(&server).await;
    assert!(
        matches!(&err, EmbedError::InvalidInput(m) if m.contains("model not found")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_vector_of_the_wrong_dimension_is_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [{"index": 0, "embedding": [1.0, 2.0]}]})),
        )
        .mount(&server)
        .await;
    let err = embed_x(&server).await;
    assert!(err.to_string().contains("2-dimensional"), "{err}");
}

#[tokio::test]
async fn over_long_input_is_rejected_before_any_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Echo)
        .expect(0)
        .mount(&server)
        .await;
    let e = OpenAiEmbedder::new(options(&server)).unwrap();
    let long = "token ".repeat(50);
    let err = e.embed(&texts(&["short", &long])).await.unwrap_err();
    assert!(
        matches!(
            err,
            EmbedError::InputTooLong {
                index: 1,
                max: 20,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn without_a_key_no_authorization_header_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Echo)
        .expect(1)
        .mount(&server)
        .await;
    let mut opts = options(&server);
    opts.api_key = None;
    OpenAiEmbedder::new(opts)
        .unwrap()
        .embed(&texts(&["x"]))
        .await
        .unwrap();
    let received = server.received_requests().await.unwrap();
    assert!(received[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn the_registry_sends_the_registered_name_unless_a_remote_model_is_set() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_partial_json(json!({"model": "my-embedder"})))
        .respond_with(Echo)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_partial_json(json!({"model": "upstream-name"})))
        .respond_with(Echo)
        .expect(1)
        .mount(&server)
        .await;
    let remote = |remote_model: Option<&str>| ModelConfig {
        dimension: 3,
        max_input_tokens: 100,
        provider: ProviderConfig::Openai {
            base_url: format!("{}/v1/", server.uri()),
            api_key: None,
            remote_model: remote_model.map(str::to_string),
            batch_size: 64,
            timeout_secs: 5,
            max_retries: 0,
        },
    };
    let models = BTreeMap::from([
        ("my-embedder".to_string(), remote(None)),
        ("renamed".to_string(), remote(Some("upstream-name"))),
    ]);
    let registry = EmbedderRegistry::from_config(&models, "my-embedder")
        .await
        .unwrap();
    assert_eq!(registry.names(), ["my-embedder", "renamed"]);
    for name in registry.names() {
        let v = registry
            .get(&name)
            .unwrap()
            .embed(&texts(&["x"]))
            .await
            .unwrap();
        assert_eq!(v.len(), 1);
    }
}

#[tokio::test]
async fn a_request_that_times_out_is_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Delayed(Duration::from_secs(2)))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(Echo)
        .expect(1)
        .mount(&server)
        .await;
    let mut opts = options(&server);
    opts.timeout = Duration::from_millis(300);
    let out = OpenAiEmbedder::new(opts)
        .unwrap()
        .embed(&texts(&["x"]))
        .await
        .unwrap();
    assert_eq!(out.len(), 1);
}

#[tokio::test]
async fn a_call_of_many_batches_ends_when_one_request_and_its_retries_would_have() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Delayed(Duration::from_millis(400)))
        .mount(&server)
        .await;
    // Each request answers in time, but sixteen, four at a time, take 1.6 s, past the call's
    // 0.8 s.
    let mut opts = options(&server);
    opts.batch_size = 1;
    opts.timeout = Duration::from_millis(800);
    opts.max_retries = 0;
    let many: Vec<String> = (0..16).map(|i| i.to_string()).collect();
    let err = OpenAiEmbedder::new(opts)
        .unwrap()
        .embed(&many)
        .await
        .unwrap_err();
    let EmbedError::Unavailable { message, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(message.contains("16 texts within 0.8 s"), "{message}");
}

#[tokio::test]
async fn four_batches_of_a_call_are_sent_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(Delayed(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let mut opts = options(&server);
    opts.batch_size = 1;
    opts.timeout = Duration::from_secs(20);
    let model = OpenAiEmbedder::new(opts).unwrap();
    let call = tokio::spawn(async move { model.embed(&texts(&["a", "b", "c", "d", "e"])).await });
    // None is answered for ten seconds: one request at a time would have sent one by then.
    let started = Instant::now();
    let mut sent = 0;
    while sent < 4 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        sent = server.received_requests().await.unwrap().len();
    }
    assert_eq!(sent, 4, "four requests in flight");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        4,
        "and no more"
    );
    call.abort();
}

#[tokio::test]
async fn the_providers_refusal_of_this_servers_key_or_model_is_unavailable_not_the_callers_fault() {
    for status in [401u16, 403, 404] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_json(json!({"error": {"message": "Incorrect API key provided"}})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let err = embed_x(&server).await;
        assert!(
            matches!(err, EmbedError::Unavailable { .. }),
            "{status}: {err:?}"
        );
    }
}

#[tokio::test]
async fn an_answer_larger_than_its_vectors_can_be_is_refused() {
    let server = MockServer::start().await;
    let padding = "x".repeat(3 << 20);
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"data": [{"index": 0, "embedding": [1.0, 0.0, 0.0]}], "padding": padding}),
        ))
        .mount(&server)
        .await;
    let err = embed_x(&server).await;
    assert!(
        matches!(&err, EmbedError::Unavailable { message, .. } if message.contains("larger than")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_provider_answer_that_is_no_answer_to_the_request_is_unavailable() {
    // Unreadable, an index past the inputs, an input left out: the provider's fault (503), not
    // this server's (500).
    for answer in [
        ResponseTemplate::new(200).set_body_raw("{\"data\": [", "application/json"),
        ResponseTemplate::new(200)
            .set_body_json(json!({"data": [{"index": 5, "embedding": [1.0, 0.0, 0.0]}]})),
        ResponseTemplate::new(200).set_body_json(json!({"data": []})),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(answer)
            .mount(&server)
            .await;
        let err = embed_x(&server).await;
        assert!(matches!(err, EmbedError::Unavailable { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn a_vector_with_a_number_past_f32s_range_is_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            r#"{"data": [{"index": 0, "embedding": [1e39, 0.0, 0.0]}]}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let err = embed_x(&server).await;
    assert!(err.to_string().contains("not finite"), "{err}");
}
