//! Rerankers and query rewriting on the OpenAI search, against local fakes of the Cohere and
//! TEI `/rerank` protocols and of an OpenAI-compatible chat model: the reranker's order and
//! scores (in 0..1), `ranker: "none"`, the fallback to the un-reranked order when the reranker
//! fails or is slow (counted in `/metrics`), and rewritten queries in `search_query`.

use std::time::Duration;

use e2e_tests::{TestApp, assert_envelope, own_database, spawn_app, spawn_app_with, test_settings};

use crate::search::{hits, ids, search_page, store_of};
use secrecy::SecretString;
use serde_json::{Value, json};
use vector_store_server::settings::{ChatModelSettings, RemoteAccess, RerankerSettings, Settings};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TEXTS: [&str; 4] = [
    "Cats are small domesticated carnivores kept as companions in many homes.",
    "A ledger records the debits and credits of an account, line by line.",
    "Felines groom themselves for hours and sleep through most of the day.",
    "The feline pets of the ledger office chase mice between the filing cabinets.",
];

/// A reranker that puts the documents mentioning a ledger first, in either protocol: Cohere's
/// with scores in 0..1, TEI's with raw logits.
struct FavoursLedgers {
    tei: bool,
}

impl Respond for FavoursLedgers {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().expect("a JSON body");
        let docs = body[if self.tei { "texts" } else { "documents" }]
            .as_array()
            .expect("the documents")
            .clone();
        let score = |i: usize, d: &Value| {
            let ledger = d.as_str().unwrap().contains("ledger");
            match (self.tei, ledger) {
                (false, true) => 0.9 - i as f64 / 100.0,
                (false, false) => 0.1 - i as f64 / 100.0,
                (true, true) => 4.0 - i as f64 / 10.0,
                (true, false) => -4.0 - i as f64 / 10.0,
            }
        };
        let mut scored: Vec<(usize, f64)> = docs
            .iter()
            .enumerate()
            .map(|(i, d)| (i, score(i, d)))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        if self.tei {
            let out: Vec<Value> = scored
                .iter()
                .map(|(i, s)| json!({"index": i, "score": s}))
                .collect();
            ResponseTemplate::new(200).set_body_json(out)
        } else {
            let out: Vec<Value> = scored
                .iter()
                .map(|(i, s)| json!({"index": i, "relevance_score": s}))
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({ "results": out }))
        }
    }
}

async fn fake_reranker(tei: bool) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/rerank"))
        .respond_with(FavoursLedgers { tei })
        .mount(&server)
        .await;
    server
}

fn with_reranker(server: &MockServer, protocol: &str, timeout_secs: f64) -> Settings {
    let mut s = test_settings();
    s.server.metrics_token = Some(SecretString::from("metrics-token"));
    s.rerankers.insert(
        "fake".into(),
        RerankerSettings {
            protocol: serde_json::from_value(json!(protocol)).unwrap(),
            url: format!("{}/v1/rerank", server.uri()),
            model: "rerank-small".into(),
            access: RemoteAccess {
                api_key: None,
                timeout_secs,
            },
        },
    );
    s.search.reranker = "fake".into();
    s
}

/// A store of the four paragraphs, a file each, ingested; its id and the files' ids in order.
async fn store_of_paragraphs(app: &TestApp) -> (String, Vec<String>) {
    store_of(app, &TEXTS).await
}

async fn metrics(app: &TestApp) -> String {
    let r = app.metrics("metrics-token").await;
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

async fn reranks_in_both_protocols(tei: bool) {
    let fake = fake_reranker(tei).await;
    let protocol = if tei { "tei" } else { "cohere" };
    let app = spawn_app_with(with_reranker(&fake, protocol, 5.0)).await;
    let (store, files) = store_of_paragraphs(&app).await;
    let query = json!({"query": "cats kept as companions", "max_num_results": 4});

    let mut unranked = query.clone();
    unranked["ranking_options"] = json!({"ranker": "none"});
    let plain = hits(&search_page(&app, &store, unranked).await);
    assert_eq!(
        plain[0].0, files[0],
        "without the reranker the cat paragraph leads"
    );

    // `auto` is the default: the reranker's order and its scores, in 0..1.
    let reranked = hits(&search_page(&app, &store, query.clone()).await);
    let ledgers = [files[1].as_str(), files[3].as_str()];
    assert_eq!(reranked.len(), 4);
    assert!(
        ledgers.contains(&ids(&reranked)[0]) && ledgers.contains(&ids(&reranked)[1]),
        "{reranked:?}"
    );
    assert!(
        reranked.windows(2).all(|w| w[0].1 >= w[1].1),
        "{reranked:?}"
    );
    assert!(
        reranked.iter().all(|(_, s)| (0.0..=1.0).contains(s)),
        "{reranked:?}"
    );
    assert!(reranked[1].1 > 0.5 && reranked[2].1 < 0.5, "{reranked:?}");
    let mut named = query.clone();
    named["ranking_options"] = json!({"ranker": "default-2024-11-15"});
    assert_eq!(hits(&search_page(&app, &store, named).await), reranked);

    // The threshold holds against the reranker's scores; the count against its order.
    let mut cut = query.clone();
    cut["ranking_options"] = json!({"score_threshold": 0.5});
    let kept = hits(&search_page(&app, &store, cut).await);
    assert_eq!(ids(&kept), ids(&reranked)[..2].to_vec());
    let mut one = query.clone();
    one["max_num_results"] = json!(1);
    assert_eq!(
        ids(&hits(&search_page(&app, &store, one).await)),
        ids(&reranked)[..1].to_vec()
    );

    // The reranker saw every candidate, asked with the query.
    let asked = fake.received_requests().await.unwrap();
    let body: Value = asked[0].body_json().unwrap();
    assert_eq!(body["query"], "cats kept as companions");
    let docs = &body[if tei { "texts" } else { "documents" }];
    assert_eq!(docs.as_array().unwrap().len(), 4, "{body}");
    if !tei {
        assert_eq!(body["model"], "rerank-small");
    }
    let text = metrics(&app).await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("vector_store_reranks_total")
                && l.contains("outcome=\"reranked\"")
                && l.contains("reranker=\"fake\"")),
        "{text}"
    );
}

#[tokio::test]
async fn a_cohere_reranker_orders_the_hits_and_scores_them() {
    reranks_in_both_protocols(false).await;
}

#[tokio::test]
async fn a_tei_reranker_orders_the_hits_and_its_logits_become_scores_in_zero_to_one() {
    reranks_in_both_protocols(true).await;
}

#[tokio::test]
async fn a_reranker_that_fails_or_is_slow_leaves_the_order_as_it_was() {
    let slow = MockServer::start().await;
    Mock::given(path("/v1/rerank"))
        .respond_with(FavoursLedgers { tei: false }.delayed(Duration::from_secs(3)))
        .mount(&slow)
        .await;
    let app = spawn_app_with(with_reranker(&slow, "cohere", 0.5)).await;
    let (store, _) = store_of_paragraphs(&app).await;
    let body = |ranker: &str| {
        json!({
            "query": "cats kept as companions",
            "ranking_options": {"ranker": ranker},
        })
    };
    let plain = hits(&search_page(&app, &store, body("none")).await);
    let fallen_back = hits(&search_page(&app, &store, body("auto")).await);
    assert_eq!(fallen_back, plain);
    let text = metrics(&app).await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("vector_store_reranks_total")
                && l.contains("outcome=\"timeout\"")),
        "{text}"
    );
    drop(app);

    let broken = MockServer::start().await;
    Mock::given(path("/v1/rerank"))
        .respond_with(ResponseTemplate::new(500).set_body_string("out of memory"))
        .mount(&broken)
        .await;
    let app = spawn_app_with(with_reranker(&broken, "tei", 5.0)).await;
    let (store, _) = store_of_paragraphs(&app).await;
    let plain = hits(&search_page(&app, &store, body("none")).await);
    assert_eq!(hits(&search_page(&app, &store, body("auto")).await), plain);
    let text = metrics(&app).await;
    assert!(
        text.lines().any(
            |l| l.starts_with("vector_store_reranks_total") && l.contains("outcome=\"status\"")
        ),
        "{text}"
    );
}

trait Delayed: Sized {
    fn delayed(self, by: Duration) -> DelayedBy<Self>;
}

impl<R: Respond> Delayed for R {
    fn delayed(self, by: Duration) -> DelayedBy<Self> {
        DelayedBy(self, by)
    }
}

struct DelayedBy<R>(R, Duration);

impl<R: Respond> Respond for DelayedBy<R> {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.respond(request).set_delay(self.1)
    }
}

/// A chat model answering every query with `answer`, or failing with 503 when it is `None`.
async fn fake_chat(answer: Option<&str>) -> MockServer {
    let server = MockServer::start().await;
    let reply = match answer {
        Some(a) => ResponseTemplate::new(200).set_body_json(json!({
            "choices": [{"index": 0, "message": {"role": "assistant", "content": a}}]
        })),
        None => ResponseTemplate::new(503).set_body_json(json!({"error": {"message": "busy"}})),
    };
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(reply)
        .mount(&server)
        .await;
    server
}

fn with_rewriter(server: &MockServer) -> Settings {
    let mut s = test_settings();
    s.server.metrics_token = Some(SecretString::from("metrics-token"));
    s.chat_models.insert(
        "fake".into(),
        ChatModelSettings {
            base_url: format!("{}/v1", server.uri()),
            model: "small-chat".into(),
            access: RemoteAccess {
                api_key: Some(SecretString::from("sk-chat")),
                timeout_secs: 5.0,
            },
        },
    );
    s.search.query_rewriter = "fake".into();
    s
}

/// The texts the server's embedding models have embedded so far, all models together.
async fn embedded_texts(app: &TestApp) -> f64 {
    metrics(app)
        .await
        .lines()
        .filter(|l| l.starts_with("vector_store_embedding_texts_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn rewrite_query_searches_and_returns_the_rewritten_query() {
    let chat = fake_chat(Some("\"ledger of debits and credits\"")).await;
    // A database of its own: the app's workers embed no other test's files, so the count of
    // texts embedded is this test's.
    let mut settings = with_rewriter(&chat);
    settings.database.url = Some(SecretString::from(own_database("rewrite").await));
    let app = spawn_app_with(settings).await;
    let (store, files) = store_of_paragraphs(&app).await;
    let question = "hi! where do I write down what my account spends?";

    let before = embedded_texts(&app).await;
    let page = search_page(
        &app,
        &store,
        json!({"query": question, "rewrite_query": true}),
    )
    .await;
    assert_eq!(
        page["search_query"],
        json!(["ledger of debits and credits"])
    );
    // The rewrite is embedded once: its check and its search share the vector.
    assert_eq!(embedded_texts(&app).await - before, 1.0);
    assert_eq!(hits(&page)[0].0, files[1], "{page}");
    let asked: Value = chat.received_requests().await.unwrap()[0]
        .body_json()
        .unwrap();
    assert_eq!(asked["model"], "small-chat");
    assert_eq!(
        asked["messages"][1],
        json!({"role": "user", "content": question})
    );
    assert_eq!(asked["messages"][0]["role"], "system");

    // Not asked: searched as given.
    let page = search_page(&app, &store, json!({"query": question})).await;
    assert_eq!(page["search_query"], json!([question]));
    assert_eq!(chat.received_requests().await.unwrap().len(), 1);
    let text = metrics(&app).await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("vector_store_query_rewrites_total")
                && l.contains("outcome=\"rewritten\"")),
        "{text}"
    );

    // A rewrite the store's model cannot read whole (over its 256 tokens) is not searched: the
    // query is, as given.
    let long = fake_chat(Some(&"ledger ".repeat(400))).await;
    let app_long = spawn_app_with(with_rewriter(&long)).await;
    let (store_long, _) = store_of_paragraphs(&app_long).await;
    let page = search_page(
        &app_long,
        &store_long,
        json!({"query": question, "rewrite_query": true}),
    )
    .await;
    assert_eq!(page["search_query"], json!([question]), "{page}");

    // A query over the limit is refused before anything is sent to the chat model.
    let r = app
        .call(
            "POST",
            &format!("/v1/vector_stores/{store}/search"),
            Some(json!({"query": "x".repeat(5000), "rewrite_query": true})),
        )
        .await;
    assert_eq!(assert_envelope(&r, 400)["param"], "query");
    assert_eq!(chat.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn without_a_working_rewriter_queries_are_searched_as_given() {
    let app = spawn_app().await;
    let (store, _) = store_of_paragraphs(&app).await;
    let page = search_page(
        &app,
        &store,
        json!({"query": ["felines", "ledgers"], "rewrite_query": true}),
    )
    .await;
    assert_eq!(page["search_query"], json!(["felines", "ledgers"]));
    drop(app);

    let chat = fake_chat(None).await;
    let app = spawn_app_with(with_rewriter(&chat)).await;
    let (store, _) = store_of_paragraphs(&app).await;
    let page = search_page(
        &app,
        &store,
        json!({"query": "felines", "rewrite_query": true}),
    )
    .await;
    assert_eq!(page["search_query"], json!(["felines"]));
    assert!(!hits(&page).is_empty());
    let text = metrics(&app).await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("vector_store_query_rewrites_total")
                && l.contains("outcome=\"status\"")),
        "{text}"
    );
}
