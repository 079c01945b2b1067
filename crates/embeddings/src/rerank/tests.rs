//! Both rerank protocols against a local fake: requests, order, scores in 0..1, failures.

use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{bearer_token, body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;

fn options(server: &MockServer, protocol: RerankProtocol, timeout: Duration) -> RerankerOptions {
    RerankerOptions {
        name: "fake".into(),
        protocol,
        url: format!("{}/v1/rerank", server.uri()),
        model: "rerank-small".into(),
        api_key: Some("sk-test".to_string().into()),
        timeout,
    }
}

/// A reranker of `protocol` at `server`, waiting 5 s for it.
fn reranker(server: &MockServer, protocol: RerankProtocol) -> HttpReranker {
    HttpReranker::new(options(server, protocol, Duration::from_secs(5)))
}

fn docs() -> Vec<String> {
    ["cats", "dogs", "birds"].map(String::from).to_vec()
}

#[test]
fn scores_in_range_are_kept_and_sorted() {
    let r = ranked(vec![(0, 0.2), (1, 0.9), (2, 0.5)], 3).unwrap();
    assert_eq!(r, vec![(1, 0.9), (2, 0.5), (0, 0.2)]);
}

#[test]
fn logits_go_through_the_logistic_function_in_order() {
    let r = ranked(vec![(0, -3.0), (1, 4.0), (2, 0.5)], 3).unwrap();
    let order: Vec<usize> = r.iter().map(|(i, _)| *i).collect();
    assert_eq!(order, vec![1, 2, 0]);
    assert!((r[0].1 - 1.0 / (1.0 + (-4.0f32).exp())).abs() < 1e-6);
    assert!(r.iter().all(|(_, s)| (0.0..=1.0).contains(s)));
}

#[test]
fn documents_left_out_follow_scored_zero() {
    let r = ranked(vec![(2, 0.7)], 3).unwrap();
    assert_eq!(r, vec![(2, 0.7), (0, 0.0), (1, 0.0)]);
}

#[test]
fn bad_indexes_are_refused() {
    assert!(ranked(vec![(3, 0.5)], 3).unwrap_err().contains("index 3"));
    assert!(ranked(vec![], 3).unwrap_err().contains("none of the 3"));
    assert_eq!(ranked(vec![], 0).unwrap(), []);
    assert!(
        ranked(vec![(1, 0.5), (1, 0.4)], 3)
            .unwrap_err()
            .contains("twice")
    );
}

#[tokio::test]
async fn cohere_protocol_sends_documents_and_reads_relevance_scores() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/rerank"))
        .and(bearer_token("sk-test"))
        .and(body_partial_json(json!({
            "model": "rerank-small", "query": "pets that fly",
            "documents": ["cats", "dogs", "birds"], "top_n": 3,
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [
                {"index": 2, "relevance_score": 0.98},
                {"index": 0, "relevance_score": 0.10},
                {"index": 1, "relevance_score": 0.05},
            ]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let r = reranker(&server, RerankProtocol::Cohere);
    let out = r.rerank("pets that fly", &docs()).await.unwrap();
    assert_eq!(out, vec![(2, 0.98), (0, 0.10), (1, 0.05)]);
}

#[tokio::test]
async fn tei_protocol_sends_texts_and_maps_raw_scores_into_zero_to_one() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/rerank"))
        .and(body_partial_json(json!({
            "query": "pets that fly", "texts": ["cats", "dogs", "birds"],
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"index": 1, "score": -2.0},
            {"index": 2, "score": 6.0},
            {"index": 0, "score": 1.5},
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let r = reranker(&server, RerankProtocol::Tei);
    let out = r.rerank("pets that fly", &docs()).await.unwrap();
    assert_eq!(out.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [2, 0, 1]);
    assert!(out.iter().all(|(_, s)| *s > 0.0 && *s < 1.0));
}

/// A TEI server with its default `max_client_batch_size` (32): more texts are 413; each text
/// `doc N` scores N / 10 - 2.5 (a logit).
struct Tei;

impl wiremock::Respond for Tei {
    fn respond(&self, request: &wiremock::Request) -> ResponseTemplate {
        let body: serde_json::Value = request.body_json().unwrap();
        let texts = body["texts"].as_array().unwrap();
        if texts.len() > 32 {
            return ResponseTemplate::new(413).set_body_json(json!({"error": "batch too large"}));
        }
        let scored: Vec<_> = (texts.iter().enumerate())
            .map(|(i, t)| {
                let n: f64 = t.as_str().unwrap()[4..].parse().unwrap();
                json!({"index": i, "score": n / 10.0 - 2.5})
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(scored)
    }
}

#[tokio::test]
async fn tei_protocol_sends_at_most_32_texts_a_request() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/rerank"))
        .respond_with(Tei)
        .expect(2)
        .mount(&server)
        .await;
    let r = reranker(&server, RerankProtocol::Tei);
    let documents: Vec<String> = (0..50).map(|n| format!("doc {n}")).collect();
    let out = r.rerank("q", &documents).await.unwrap();
    let order: Vec<usize> = out.iter().map(|(i, _)| *i).collect();
    assert_eq!(order, (0..50).rev().collect::<Vec<_>>());
}

#[tokio::test]
async fn failures_are_typed_by_reason() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/rerank"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(Duration::from_secs(2)),
        )
        .mount(&server)
        .await;
    let slow = HttpReranker::new(options(
        &server,
        RerankProtocol::Tei,
        Duration::from_millis(200),
    ));
    let e = slow.rerank("q", &docs()).await.unwrap_err();
    assert_eq!(e.reason(), "timeout", "{e}");

    let server = MockServer::start().await;
    Mock::given(path("/v1/rerank"))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!({"error": {"message": "warming up"}})),
        )
        .mount(&server)
        .await;
    let down = reranker(&server, RerankProtocol::Cohere);
    let e = down.rerank("q", &docs()).await.unwrap_err();
    assert_eq!(e.reason(), "status");
    assert!(e.to_string().contains("warming up"), "{e}");

    let server = MockServer::start().await;
    Mock::given(path("/v1/rerank"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"results": [{"index": 9, "relevance_score": 0.5}]})),
        )
        .mount(&server)
        .await;
    let wrong = reranker(&server, RerankProtocol::Cohere);
    let e = wrong.rerank("q", &docs()).await.unwrap_err();
    assert_eq!(e.reason(), "answer");
}
