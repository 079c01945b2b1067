//! The OpenAI-compatible client against a wiremock server.

use std::time::Duration;

use embeddings::{EmbedError, Embedder, OpenAiEmbedder, OpenAiOptions};
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
            .map(|(i, t)| json!({"object": "embedding", "index": i, "embedding": [i as f32, t.as_str().unwrap().len() as f32, 0.0]}))
            .collect();
        ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": data}))
    }
}

fn texts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
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
    let err = OpenAiEmbedder::new(options(&server))
        .unwrap()
        .embed(&texts(&["x"]))
        .await
        .unwrap_err();
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
    let err = OpenAiEmbedder::new(options(&server))
        .unwrap()
        .embed(&texts(&["x"]))
        .await
        .unwrap_err();
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
