//! The OpenAI search's ranking options: hybrid weights honoured on every back-end, bad ones
//! refused with the field they came from.

use e2e_tests::{TestApp, assert_envelope, spawn_app};
use serde_json::{Value, json};

/// A store of `texts`, a file each (`p0.txt`, …), ingested; its id and the files' ids in
/// order.
pub(crate) async fn store_of(app: &TestApp, texts: &[&str]) -> (String, Vec<String>) {
    let store = app.vector_store("paragraphs").await;
    let mut files = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let file = app
            .upload(&app.key_a, &format!("p{i}.txt"), text.as_bytes().to_vec())
            .await;
        app.attach(&store, json!({ "file_id": file })).await;
        let done = app.wait_for_file(&store, &file).await;
        assert_eq!(done["status"], "completed", "{done}");
        files.push(file);
    }
    (store, files)
}

/// A store of six one-paragraph files, ingested; its id.
async fn store_of_paragraphs(app: &TestApp) -> String {
    let texts = [
        "Cats are small domesticated carnivores kept as companions in many homes.",
        "A ledger records the debits and credits of an account, line by line.",
        "Felines groom themselves for hours and sleep through most of the day.",
        "Tax forms ask for the income of the year and the deductions claimed.",
        "Dogs were the first animals people tamed, long before farming began.",
        "The feline pets of the ledger office chase mice between the filing cabinets.",
    ];
    store_of(app, &texts).await.0
}

/// The answer of an OpenAI search of `store`, which must succeed.
pub(crate) async fn search_page(app: &TestApp, store: &str, body: Value) -> Value {
    let r = app
        .call(
            "POST",
            &format!("/v1/vector_stores/{store}/search"),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

/// The file ids and scores of a search's hits.
pub(crate) fn hits(page: &Value) -> Vec<(String, f64)> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["file_id"].as_str().unwrap().to_string(),
                h["score"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// The file ids and scores of a search of `store`.
async fn search(app: &TestApp, store: &str, body: Value) -> Vec<(String, f64)> {
    hits(&search_page(app, store, body).await)
}

pub(crate) fn ids(hits: &[(String, f64)]) -> Vec<&str> {
    hits.iter().map(|(id, _)| id.as_str()).collect()
}

#[tokio::test]
async fn hybrid_weights_of_one_ranking_alone_give_that_rankings_order() {
    let app = spawn_app().await;
    let store = store_of_paragraphs(&app).await;
    let query = "feline pets";
    let by = |mode: &str| json!({"query": query, "search_mode": mode});
    let weighted = |embedding: f64, text: f64| {
        json!({"query": query, "search_mode": "hybrid", "ranking_options": {
            "hybrid_search": {"embedding_weight": embedding, "text_weight": text}}})
    };
    let vector = search(&app, &store, by("vector")).await;
    let keyword = search(&app, &store, by("keyword")).await;
    assert!(
        !keyword.is_empty() && keyword.len() < vector.len(),
        "{keyword:?}"
    );

    // The embedding's ranking alone: the vector order, the best at 1.
    let only_vector = search(&app, &store, weighted(1.0, 0.0)).await;
    assert_eq!(ids(&only_vector), ids(&vector));
    assert!((only_vector[0].1 - 1.0).abs() < 1e-6, "{only_vector:?}");

    // The keywords' ranking alone: the keyword hits first, in their order; the others score 0.
    let only_text = search(&app, &store, weighted(0.0, 1.0)).await;
    assert_eq!(ids(&only_text[..keyword.len()]), ids(&keyword));
    assert!(
        only_text[keyword.len()..].iter().all(|(_, s)| *s == 0.0),
        "{only_text:?}"
    );

    // Only the ratio matters.
    let scaled = search(&app, &store, weighted(30.0, 0.0)).await;
    assert_eq!(ids(&scaled), ids(&vector));

    // The weights change nothing outside hybrid search.
    let mut vector_weighted = weighted(0.0, 1.0);
    vector_weighted["search_mode"] = json!("vector");
    assert_eq!(
        ids(&search(&app, &store, vector_weighted).await),
        ids(&vector)
    );
}

#[tokio::test]
async fn bad_hybrid_weights_are_refused_with_their_field() {
    let app = spawn_app().await;
    let store = app.vector_store("bad weights").await;
    let path = format!("/v1/vector_stores/{store}/search");
    let cases = [
        (
            json!({"embedding_weight": -1, "text_weight": 1}),
            "ranking_options.hybrid_search.embedding_weight",
        ),
        (
            json!({"embedding_weight": 1, "text_weight": 101}),
            "ranking_options.hybrid_search.text_weight",
        ),
        (
            json!({"embedding_weight": 0, "text_weight": 0}),
            "ranking_options.hybrid_search",
        ),
        // A missing field is named in the message; the param is the object that lacks it.
        (
            json!({"embedding_weight": 1}),
            "ranking_options.hybrid_search",
        ),
        (
            json!({"embedding_weight": "1", "text_weight": 1}),
            "ranking_options.hybrid_search.embedding_weight",
        ),
        (
            json!({"embedding_weight": 1, "text_weight": 1, "rrf_k": 60}),
            "ranking_options.hybrid_search.rrf_k",
        ),
    ];
    for (weights, param) in cases {
        let body = json!({"query": "q", "ranking_options": {"hybrid_search": weights}});
        let r = app.call("POST", &path, Some(body)).await;
        let error = assert_envelope(&r, 400);
        assert_eq!(
            error["param"].as_str(),
            Some(param),
            "{weights}: {}",
            r.body
        );
    }
}
