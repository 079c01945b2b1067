//! The platform API (`/v1/api`) end to end.

use e2e_tests::{TestApp, assert_envelope, spawn_app};
use serde_json::{Value, json};

/// A dozen unrelated documents; each query below has one obviously relevant one.
pub fn corpus() -> Value {
    json!([
        {
            "id": "pasta",
            "content": "Boil the spaghetti in salted water for nine minutes, then toss it with \
                        tomato sauce and basil.",
            "metadata": {"category": "cooking", "year": 2021, "rating": 4.5},
            "topics": ["food", "italian"]
        },
        {
            "id": "volcano",
            "content": "Volcanic eruptions eject lava, ash and gases when magma rises through the \
                        Earth's crust.",
            "metadata": {"category": "science", "year": 2018},
            "topics": ["geology"]
        },
        {
            "id": "guitar",
            "content": "To tune a guitar, adjust each string's peg until its pitch matches the \
                        reference note.",
            "metadata": {"category": "music", "year": 2020}
        },
        {
            "id": "tax",
            "content": "Income tax returns must be filed before the deadline to avoid late \
                        penalties.",
            "metadata": {"category": "finance", "year": 2022}
        },
        {
            "id": "marathon",
            "content": "Training for a marathon requires long weekly runs and gradually \
                        increasing mileage.",
            "metadata": {"category": "sport", "year": 2019}
        },
        {
            "id": "photosynthesis",
            "content": "Plants convert sunlight, water and carbon dioxide into glucose and oxygen \
                        through photosynthesis.",
            "metadata": {"category": "science", "year": 2020},
            "author": "Ada"
        },
        {
            "id": "bitcoin",
            "content": "Bitcoin is a decentralized digital currency secured by a proof-of-work \
                        blockchain.",
            "metadata": {"category": "finance", "year": 2017}
        },
        {
            "id": "chess",
            "content": "In chess, castling moves the king two squares toward a rook, which jumps \
                        over it.",
            "metadata": {"category": "games", "year": 2016}
        },
        {
            "id": "rust",
            "content": "Rust's borrow checker enforces memory safety without a garbage collector.",
            "metadata": {"category": "software", "year": 2023},
            "links": ["https://www.rust-lang.org"]
        },
        {
            "id": "coffee",
            "content": "Espresso is brewed by forcing hot water through finely ground coffee \
                        beans under pressure.",
            "metadata": {"category": "cooking", "year": 2023, "rating": 3.0}
        },
        {
            "id": "whale",
            "content": "The blue whale is the largest animal known to have ever lived on Earth.",
            "metadata": {"category": "science", "year": 2015}
        },
        {
            "id": "paris",
            "content": "The Eiffel Tower in Paris was completed in 1889 for the World's Fair.",
            "metadata": {"category": "travel", "year": 2024, "draft": true}
        }
    ])
}

pub async fn seed(app: &TestApp, collection: &str) {
    let r = app
        .call(
            "POST",
            "/v1/api/collection",
            Some(json!({
                "collection": collection,
                "model_name": "all-minilm-l6-v2",
                "name": "Test docs",
                "metadata": {"team": "search"}
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .call(
            "POST",
            "/v1/api/index",
            Some(json!({"collection": collection, "documents": corpus()})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["indexed"], 12);
}

pub async fn search(app: &TestApp, body: Value) -> Value {
    let r = app.call("POST", "/v1/api/search", Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

fn ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["file_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn semantic_search_ranks_the_relevant_document_first() {
    let app = spawn_app().await;
    seed(&app, "docs").await;
    for (query, expected) in [
        ("how do plants make food from light", "photosynthesis"),
        ("what is the biggest creature on the planet", "whale"),
        ("making a cup of strong coffee", "coffee"),
        ("cryptocurrency mining", "bitcoin"),
        ("memory safety in programming languages", "rust"),
    ] {
        let page = search(&app, json!({"collection": "docs", "query": query})).await;
        assert_eq!(page["object"], "vector_store.search_results.page");
        assert_eq!(page["search_query"], query);
        let hits = ids(&page);
        assert_eq!(hits[0], expected, "query {query:?} ranked {hits:?}");
        assert_eq!(hits.len(), 10);
        let scores: Vec<f64> = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["score"].as_f64().unwrap())
            .collect();
        assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
        assert!(scores.iter().all(|s| (0.0..=1.0).contains(s)), "{scores:?}");
    }
    let page = search(
        &app,
        json!({"collection": "docs", "query": "plants sunlight"}),
    )
    .await;
    let top = &page["data"][0];
    assert_eq!(
        top["content"],
        json!([{
            "type": "text",
            "text": "Plants convert sunlight, water and carbon dioxide into glucose and oxygen \
                     through photosynthesis."
        }])
    );
    assert_eq!(top["attributes"]["category"], "science");
    assert_eq!(top["attributes"]["author"], "Ada");
}

#[tokio::test]
async fn full_text_and_hybrid_search_behave() {
    let app = spawn_app().await;
    seed(&app, "docs").await;
    let page = search(
        &app,
        json!({"collection": "docs", "query": "castling rook", "search_type": "full_text"}),
    )
    .await;
    assert_eq!(
        ids(&page),
        vec!["chess"],
        "only the chess document holds these words"
    );
    let page = search(
        &app,
        json!({"collection": "docs", "query": "zzzqqq", "search_type": "full_text"}),
    )
    .await;
    assert!(ids(&page).is_empty());
    let page = search(
        &app,
        json!({
            "collection": "docs",
            "query": "Eiffel Tower landmark",
            "search_type": "hybrid",
            "max_num_results": 3
        }),
    )
    .await;
    let hits = ids(&page);
    assert_eq!(hits[0], "paris");
    assert!(hits.len() <= 3);
    let top = page["data"][0]["score"].as_f64().unwrap();
    assert!(
        top > 0.9 && top <= 1.0,
        "first in both lists scores near 1: {top}"
    );
}

#[tokio::test]
async fn filters_narrow_results() {
    let app = spawn_app().await;
    seed(&app, "docs").await;
    let q = |filters: Value| {
        json!({
            "collection": "docs",
            "query": "science and nature",
            "filters": filters,
            "max_num_results": 50
        })
    };
    let page = search(
        &app,
        q(json!({"type": "eq", "key": "category", "value": "science"})),
    )
    .await;
    let mut got = ids(&page);
    got.sort();
    assert_eq!(got, vec!["photosynthesis", "volcano", "whale"]);
    let page = search(
        &app,
        q(json!({"type": "and", "filters": [
            {"type": "eq", "key": "category", "value": "cooking"},
            {"type": "gte", "key": "rating", "value": 4}
        ]})),
    )
    .await;
    assert_eq!(ids(&page), vec!["pasta"]);
    let page = search(
        &app,
        q(json!({"type": "or", "filters": [
            {"type": "in", "key": "category", "value": ["travel", "games"]},
            {"type": "eq", "key": "topics", "value": "geology"}
        ]})),
    )
    .await;
    let mut got = ids(&page);
    got.sort();
    assert_eq!(got, vec!["chess", "paris", "volcano"]);
    let page = search(&app, q(json!({"type": "lt", "key": "year", "value": 2017}))).await;
    let mut got = ids(&page);
    got.sort();
    assert_eq!(got, vec!["chess", "whale"]);
    let page = search(
        &app,
        q(json!({"type": "nin", "key": "category", "value": ["science", "cooking", "finance"]})),
    )
    .await;
    let mut got = ids(&page);
    got.sort();
    assert_eq!(got, vec!["chess", "guitar", "marathon", "paris", "rust"]);
    let page = search(
        &app,
        q(json!({"type": "ne", "key": "draft", "value": true})),
    )
    .await;
    assert_eq!(ids(&page).len(), 11);
}

#[tokio::test]
async fn score_threshold_and_max_num_results_are_honoured() {
    let app = spawn_app().await;
    seed(&app, "docs").await;
    let page = search(
        &app,
        json!({"collection": "docs", "query": "blue whale", "max_num_results": 2}),
    )
    .await;
    assert_eq!(ids(&page).len(), 2);
    let page = search(
        &app,
        json!({
            "collection": "docs",
            "query": "blue whale",
            "max_num_results": 50,
            "ranking_options": {"score_threshold": 0.7}
        }),
    )
    .await;
    let scores: Vec<f64> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["score"].as_f64().unwrap())
        .collect();
    assert!(!scores.is_empty() && scores.len() < 12, "{scores:?}");
    assert!(scores.iter().all(|s| *s >= 0.7), "{scores:?}");
}

#[tokio::test]
async fn the_whole_collection_lifecycle() {
    let app = spawn_app().await;
    seed(&app, "life").await;

    let list = app.call("GET", "/v1/api/collection", None).await;
    assert_eq!(list.status, 200);
    let data = list.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1);
    assert_eq!(data[0]["collection"], "life");
    assert_eq!(data[0]["model_name"], "all-minilm-l6-v2");
    assert_eq!(data[0]["storage_backend"], e2e_tests::backend());
    assert_eq!(data[0]["dimension"], 384);
    assert_eq!(data[0]["metadata"], json!({"team": "search"}));
    assert!(data[0]["id"].as_str().unwrap().starts_with("vs_"));

    let page = app
        .call(
            "GET",
            "/v1/api/collection/data?collection=life&limit=5&offset=10",
            None,
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.body["total"], 12);
    assert_eq!(page.body["data"].as_array().unwrap().len(), 2);

    // Re-indexing the same id replaces it.
    let r = app.call("POST", "/v1/api/index", Some(json!({"collection": "life", "documents": [
        {"id": "whale", "content": "Blue whales eat krill.", "metadata": {"category": "biology"}}
    ]}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let page = app
        .call(
            "GET",
            "/v1/api/collection/data?collection=life&limit=100",
            None,
        )
        .await;
    assert_eq!(page.body["total"], 12);
    let whale = page.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["id"] == "whale")
        .unwrap()
        .clone();
    assert_eq!(whale["content"], "Blue whales eat krill.");
    assert_eq!(whale["metadata"], json!({"category": "biology"}));

    let r = app
        .call(
            "DELETE",
            "/v1/api/collection/delete_by_ids",
            Some(json!({"collection": "life", "index_ids": ["whale", "chess", "no-such-id"]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["deleted"], 2);
    let page = app
        .call(
            "GET",
            "/v1/api/collection/data?collection=life&limit=100",
            None,
        )
        .await;
    assert_eq!(page.body["total"], 10);
    let left: Vec<&str> = page.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap())
        .collect();
    assert!(!left.contains(&"whale") && !left.contains(&"chess") && left.contains(&"paris"));

    let r = app
        .call(
            "DELETE",
            "/v1/api/delete_index",
            Some(json!({"collection": "life"})),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["deleted"], 10);
    let page = search(&app, json!({"collection": "life", "query": "anything"})).await;
    assert!(
        ids(&page).is_empty(),
        "an emptied collection still searches, with no hits"
    );

    let r = app
        .call(
            "DELETE",
            "/v1/api/collection/delete",
            Some(json!({"collection": "life"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .call(
            "POST",
            "/v1/api/search",
            Some(json!({"collection": "life", "query": "x"})),
        )
        .await;
    assert_envelope(&r, 404);
    let list = app.call("GET", "/v1/api/collection", None).await;
    assert!(list.body["data"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn indexing_into_a_new_collection_creates_it_with_the_default_model() {
    let app = spawn_app().await;
    let r = app
        .call(
            "POST",
            "/v1/api/index",
            Some(json!({
                "collection": "fresh",
                "name": "Fresh",
                "documents": [{"content": "naïve café ☕ in 東京"}]
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["ids"][0].as_str().unwrap().to_string();
    let page = search(
        &app,
        json!({"collection": "fresh", "query": "coffee shop in Tokyo"}),
    )
    .await;
    assert_eq!(page["data"][0]["file_id"], id);
    assert_eq!(
        page["data"][0]["content"][0]["text"],
        "naïve café ☕ in 東京"
    );
    let r = app
        .call(
            "POST",
            "/v1/api/collection/create",
            Some(json!({"collection": "fresh", "model_name": "all-minilm-l6-v2"})),
        )
        .await;
    let e = assert_envelope(&r, 409);
    assert!(e["message"].as_str().unwrap().contains("fresh"));
    assert_eq!(r.headers.get("x-should-retry").unwrap(), "false");
}
