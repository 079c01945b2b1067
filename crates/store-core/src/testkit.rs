//! The back-end conformance suite. Every back-end crate runs it against its real server, from
//! one of its integration-test binaries (which need `tokio` as a dev-dependency):
//!
//! ```ignore
//! // an async fn ...
//! async fn store() -> std::sync::Arc<dyn store_core::VectorStore> { /* connect */ }
//! store_core::conformance_suite!(store);
//! // ... or an async closure
//! store_core::conformance_suite!(async || -> Arc<dyn VectorStore> { /* connect */ });
//! ```
//!
//! The factory is called once per case, on that case's runtime. Each case is its own
//! `#[tokio::test]` named after the function in [`cases`], works in its own uniquely named
//! collection (`t_<uuid>`, 8-d vectors) and drops it at the end. Filters are checked against
//! [`crate::filter::matches`], the reference semantics.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::filter::{Filter, matches};
use crate::store::{Chunk, CollectionSpec, HybridOptions, SearchQuery, SearchRequest, VectorStore};
use crate::{ErrorKind, Hit};

/// Generates one `#[tokio::test]` per conformance case, each calling `($factory)().await` for a
/// fresh `Arc<dyn VectorStore>`; `$factory` is the path of an async fn or an async closure.
#[macro_export]
macro_rules! conformance_suite {
    (@cases $factory:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store: ::std::sync::Arc<dyn $crate::VectorStore> = ($factory)().await;
                $crate::testkit::cases::$case(store).await;
            }
        )*
    };
    ($factory:expr $(,)?) => {
        $crate::conformance_suite!(@cases $factory;
            create_and_drop_are_idempotent,
            an_empty_collection_counts_lists_and_finds_nothing,
            upserts_round_trip_text_attributes_and_order,
            upserts_are_idempotent_by_id,
            repeated_ids_in_one_upsert_count_once_and_the_last_wins,
            wrong_dimensions_are_rejected,
            k_and_threshold_are_bounded_alike_and_k_zero_finds_nothing,
            a_missing_collection_is_not_found,
            vector_search_ranks_the_exact_vector_first,
            every_mode_returns_at_most_k_hits,
            every_filter_operator_matches_the_reference,
            a_selective_filter_still_returns_k_hits,
            keyword_search_finds_the_words,
            keyword_ranking_weighs_rare_words_and_repetition,
            hybrid_search_fuses_both_rankings,
            the_score_threshold_applies_in_every_mode,
            delete_files_removes_exactly_those_files,
            trimming_files_keeps_each_ones_chunks_below_its_count,
            file_attributes_change_in_place_for_that_file_only,
            every_back_end_refuses_the_same_edges_and_writes_nothing,
            delete_all_empties_but_keeps_the_collection,
            list_pages_with_limit_and_offset,
            unicode_round_trips_and_is_found_by_keyword,
        );
    };
}

pub const DIM: usize = 8;

/// A deterministic, never-zero vector.
pub fn vector(seed: u64) -> Vec<f32> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..DIM)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) as f32 / (1u64 << 31) as f32) * 2.0 - 1.0 + 1e-3
        })
        .collect()
}

pub fn chunk(id: &str, text: &str, vector: Vec<f32>, attributes: Value) -> Chunk {
    Chunk {
        id: id.to_string(),
        file_id: id.to_string(),
        filename: None,
        chunk_index: 0,
        text: text.to_string(),
        vector,
        attributes: attributes.as_object().cloned().unwrap_or_default(),
    }
}

/// A new, uniquely named collection.
pub async fn fresh(store: &dyn VectorStore) -> CollectionSpec {
    let spec = CollectionSpec {
        name: format!("t_{}", uuid::Uuid::new_v4().simple()),
        dimension: DIM,
    };
    store
        .create_collection(&spec)
        .await
        .expect("create collection");
    spec
}

pub fn request(mode: SearchQuery, k: usize) -> SearchRequest {
    SearchRequest {
        mode,
        filter: None,
        k,
        score_threshold: None,
        hybrid: HybridOptions::default(),
    }
}

fn ids(hits: &[Hit]) -> Vec<String> {
    hits.iter().map(|h| h.chunk.id.clone()).collect()
}

fn assert_scores(hits: &[Hit]) {
    for h in hits {
        assert!(
            (0.0..=1.0).contains(&h.score),
            "score {} out of 0..=1",
            h.score
        );
    }
    for w in hits.windows(2) {
        assert!(
            w[0].score >= w[1].score - 1e-6,
            "scores not descending: {} then {}",
            w[0].score,
            w[1].score
        );
    }
}

/// The filter dataset: numbers, strings, booleans, lists and missing keys.
fn filter_data() -> Vec<Chunk> {
    let colours = ["red", "green", "blue", "Red", "éclair"];
    (0..40u64)
        .map(|i| {
            let mut a = Map::new();
            if i % 7 != 0 {
                a.insert("n".into(), json!(i as f64 / 2.0));
            }
            if i % 5 != 0 {
                a.insert("colour".into(), json!(colours[(i % 5) as usize]));
            }
            a.insert("even".into(), json!(i % 2 == 0));
            if i % 3 == 0 {
                a.insert("tags".into(), json!([format!("t{}", i % 4), "shared"]));
            }
            if i % 11 == 0 {
                a.insert("n_as_text".into(), json!(i.to_string()));
            }
            chunk(
                &format!("c{i:02}"),
                &format!("chunk number {i}"),
                vector(i),
                Value::Object(a),
            )
        })
        .collect()
}

fn filters() -> Vec<Value> {
    vec![
        json!({"type": "eq", "key": "colour", "value": "red"}),
        json!({"type": "eq", "key": "colour", "value": "Red"}),
        json!({"type": "eq", "key": "colour", "value": "éclair"}),
        json!({"type": "eq", "key": "n", "value": 3}),
        json!({"type": "eq", "key": "n", "value": 3.5}),
        json!({"type": "eq", "key": "even", "value": true}),
        json!({"type": "eq", "key": "tags", "value": "shared"}),
        json!({"type": "eq", "key": "tags", "value": "t1"}),
        json!({"type": "eq", "key": "n_as_text", "value": 22}),
        json!({"type": "eq", "key": "n_as_text", "value": "22"}),
        json!({"type": "ne", "key": "colour", "value": "blue"}),
        json!({"type": "ne", "key": "even", "value": false}),
        json!({"type": "ne", "key": "tags", "value": "shared"}),
        json!({"type": "gt", "key": "n", "value": 10}),
        json!({"type": "gte", "key": "n", "value": 10}),
        json!({"type": "lt", "key": "n", "value": 2.5}),
        json!({"type": "lte", "key": "n", "value": 2.5}),
        json!({"type": "gt", "key": "colour", "value": "green"}),
        json!({"type": "lte", "key": "colour", "value": "blue"}),
        json!({"type": "gt", "key": "n_as_text", "value": 5}),
        json!({"type": "gte", "key": "tags", "value": "t2"}),
        json!({"type": "in", "key": "colour", "value": ["red", "blue"]}),
        json!({"type": "in", "key": "n", "value": [1, 2, 3, "3"]}),
        json!({"type": "in", "key": "tags", "value": ["t0", "t3"]}),
        json!({"type": "nin", "key": "colour", "value": ["red", "blue"]}),
        json!({"type": "nin", "key": "tags", "value": ["shared"]}),
        json!({"type": "and", "filters": [
            {"type": "eq", "key": "even", "value": true},
            {"type": "gte", "key": "n", "value": 5}
        ]}),
        json!({"type": "or", "filters": [
            {"type": "eq", "key": "colour", "value": "green"},
            {"type": "lt", "key": "n", "value": 1}
        ]}),
        json!({"type": "and", "filters": [
            {"type": "or", "filters": [
                {"type": "in", "key": "colour", "value": ["red", "green"]},
                {"type": "eq", "key": "tags", "value": "shared"}
            ]},
            {"type": "ne", "key": "even", "value": true},
            {"type": "or", "filters": [
                {"type": "nin", "key": "n", "value": [0.5, 1.5]},
                {"type": "gt", "key": "n", "value": 100}
            ]}
        ]}),
        json!({"type": "eq", "key": "absent", "value": 1}),
        json!({"type": "ne", "key": "absent", "value": 1}),
    ]
}

/// The cases; the macro gives each a test.
pub mod cases {
    use super::*;

    pub async fn create_and_drop_are_idempotent(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        store
            .create_collection(&spec)
            .await
            .expect("creating again is a no-op");
        store
            .upsert(&spec, vec![chunk("a", "x", vector(1), json!({}))])
            .await
            .unwrap();
        store
            .create_collection(&spec)
            .await
            .expect("creating again keeps the data");
        assert_eq!(store.count(&spec).await.unwrap(), 1);
        store.drop_collection(&spec).await.unwrap();
        store
            .drop_collection(&spec)
            .await
            .expect("dropping again is a no-op");
        let err = store.count(&spec).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }

    pub async fn an_empty_collection_counts_lists_and_finds_nothing(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        assert_eq!(store.count(&spec).await.unwrap(), 0);
        assert_eq!(store.usage_bytes(&spec).await.unwrap(), 0);
        assert!(store.list(&spec, 10, 0).await.unwrap().is_empty());
        assert!(store.file_chunks(&spec, "nope").await.unwrap().is_empty());
        for mode in [
            SearchQuery::Vector(vector(1)),
            SearchQuery::Keyword("anything".into()),
            SearchQuery::Hybrid {
                vector: vector(1),
                text: "anything".into(),
            },
        ] {
            assert!(
                store
                    .search(&spec, &request(mode, 5))
                    .await
                    .unwrap()
                    .is_empty()
            );
        }
        assert_eq!(store.delete_all(&spec).await.unwrap(), 0);
        assert_eq!(store.delete_files(&spec, &["x".into()]).await.unwrap(), 0);
        assert_eq!(store.upsert(&spec, vec![]).await.unwrap(), 0);
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn upserts_round_trip_text_attributes_and_order(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        let mut chunks = Vec::new();
        for (file, parts) in [("f2", 2u32), ("f1", 3)] {
            for i in (0..parts).rev() {
                chunks.push(Chunk {
                    id: format!("{file}:{i}"),
                    file_id: file.into(),
                    filename: Some(format!("{file}.txt")),
                    chunk_index: i,
                    text: format!("part {i} of {file}"),
                    vector: vector(u64::from(i) + 10),
                    attributes: json!({"file": file, "i": i, "ok": true})
                        .as_object()
                        .cloned()
                        .unwrap(),
                });
            }
        }
        assert_eq!(store.upsert(&spec, chunks).await.unwrap(), 5);
        let rows = store.list(&spec, 100, 0).await.unwrap();
        let order: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(order, ["f1:0", "f1:1", "f1:2", "f2:0", "f2:1"]);
        assert_eq!(rows[1].text, "part 1 of f1");
        assert_eq!(rows[1].filename.as_deref(), Some("f1.txt"));
        assert_eq!(rows[1].chunk_index, 1);
        assert_eq!(
            Value::Object(rows[1].attributes.clone()),
            json!({"file": "f1", "i": 1, "ok": true})
        );
        let bytes: usize = rows.iter().map(|r| r.text.len()).sum();
        assert_eq!(store.usage_bytes(&spec).await.unwrap(), bytes as u64);
        let f2 = store.file_chunks(&spec, "f2").await.unwrap();
        assert_eq!(f2.iter().map(|c| c.chunk_index).collect::<Vec<_>>(), [0, 1]);
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn upserts_are_idempotent_by_id(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        store
            .upsert(&spec, vec![chunk("a", "first", vector(1), json!({"v": 1}))])
            .await
            .unwrap();
        store
            .upsert(
                &spec,
                vec![chunk("a", "second", vector(2), json!({"v": 2}))],
            )
            .await
            .unwrap();
        // The same id twice in one call: the last one wins.
        store
            .upsert(
                &spec,
                vec![
                    chunk("b", "old", vector(3), json!({})),
                    chunk("b", "new", vector(4), json!({})),
                ],
            )
            .await
            .unwrap();
        assert_eq!(store.count(&spec).await.unwrap(), 2);
        let rows = store.list(&spec, 10, 0).await.unwrap();
        assert_eq!(rows[0].text, "second");
        assert_eq!(Value::Object(rows[0].attributes.clone()), json!({"v": 2}));
        assert_eq!(rows[1].text, "new");
        let hits = store
            .search(&spec, &request(SearchQuery::Vector(vector(2)), 1))
            .await
            .unwrap();
        assert_eq!(ids(&hits), ["a"], "the replaced vector is the one searched");
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn repeated_ids_in_one_upsert_count_once_and_the_last_wins(
        store: Arc<dyn VectorStore>,
    ) {
        let spec = fresh(store.as_ref()).await;
        let written = store
            .upsert(
                &spec,
                vec![
                    chunk("b", "old", vector(1), json!({"v": 1})),
                    chunk("a", "only", vector(2), json!({})),
                    chunk("b", "new", vector(3), json!({"v": 3})),
                ],
            )
            .await
            .unwrap();
        assert_eq!(written, 2, "one row per id");
        assert_eq!(store.count(&spec).await.unwrap(), 2);
        let rows = store.list(&spec, 10, 0).await.unwrap();
        let got: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r.id.as_str(), r.text.as_str()))
            .collect();
        assert_eq!(got, [("a", "only"), ("b", "new")]);
        assert_eq!(Value::Object(rows[1].attributes.clone()), json!({"v": 3}));
        let hits = store
            .search(&spec, &request(SearchQuery::Vector(vector(3)), 1))
            .await
            .unwrap();
        assert_eq!(ids(&hits), ["b"], "the last vector given is the one stored");
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn k_and_threshold_are_bounded_alike_and_k_zero_finds_nothing(
        store: Arc<dyn VectorStore>,
    ) {
        let spec = fresh(store.as_ref()).await;
        store
            .upsert(&spec, vec![chunk("a", "words", vector(1), json!({}))])
            .await
            .unwrap();
        let at_most = store
            .search(
                &spec,
                &request(SearchQuery::Vector(vector(1)), crate::MAX_K),
            )
            .await
            .unwrap();
        assert_eq!(ids(&at_most), ["a"]);
        let over = store
            .search(
                &spec,
                &request(SearchQuery::Vector(vector(1)), crate::MAX_K + 1),
            )
            .await
            .unwrap_err();
        assert_eq!(over.kind(), ErrorKind::InvalidInput);
        let zero = store
            .search(&spec, &request(SearchQuery::Keyword("words".into()), 0))
            .await
            .unwrap();
        assert!(zero.is_empty());
        let mut bad_threshold = request(SearchQuery::Vector(vector(1)), 3);
        bad_threshold.score_threshold = Some(1.5);
        let err = store.search(&spec, &bad_threshold).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let zero_vector = vec![0.0; DIM];
        let err = store
            .search(&spec, &request(SearchQuery::Vector(zero_vector.clone()), 3))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        let err = store
            .upsert(&spec, vec![chunk("z", "zero", zero_vector, json!({}))])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        assert_eq!(
            store.count(&spec).await.unwrap(),
            1,
            "nothing more was written"
        );
        store.drop_collection(&spec).await.unwrap();
        let gone = store
            .search(&spec, &request(SearchQuery::Vector(vector(1)), 0))
            .await
            .unwrap_err();
        assert_eq!(
            gone.kind(),
            ErrorKind::NotFound,
            "k = 0 still needs the collection"
        );
    }

    pub async fn wrong_dimensions_are_rejected(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        let short = vec![1.0; DIM - 1];
        let err = store
            .upsert(&spec, vec![chunk("a", "x", short.clone(), json!({}))])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput);
        for mode in [
            SearchQuery::Vector(short.clone()),
            SearchQuery::Hybrid {
                vector: short,
                text: "x".into(),
            },
        ] {
            let err = store.search(&spec, &request(mode, 3)).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidInput);
        }
        assert_eq!(store.count(&spec).await.unwrap(), 0, "nothing was written");
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn a_missing_collection_is_not_found(store: Arc<dyn VectorStore>) {
        let spec = CollectionSpec {
            name: format!("t_{}", uuid::Uuid::new_v4().simple()),
            dimension: DIM,
        };
        let e = store
            .upsert(&spec, vec![chunk("a", "x", vector(1), json!({}))])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = store
            .search(&spec, &request(SearchQuery::Vector(vector(1)), 3))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            store.count(&spec).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            store.list(&spec, 1, 0).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
        assert_eq!(
            store.delete_all(&spec).await.unwrap_err().kind(),
            ErrorKind::NotFound
        );
    }

    pub async fn vector_search_ranks_the_exact_vector_first(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        let chunks: Vec<Chunk> = (0..30)
            .map(|i| chunk(&format!("v{i}"), "text", vector(i), json!({})))
            .collect();
        store.upsert(&spec, chunks).await.unwrap();
        for target in [0u64, 7, 29] {
            let hits = store
                .search(&spec, &request(SearchQuery::Vector(vector(target)), 5))
                .await
                .unwrap();
            assert_eq!(hits.len(), 5);
            assert_eq!(hits[0].chunk.id, format!("v{target}"));
            assert!(
                (hits[0].score - 1.0).abs() < 1e-3,
                "exact match scores 1: {}",
                hits[0].score
            );
            assert_scores(&hits);
        }
        // The opposite vector scores near 0.
        let opposite: Vec<f32> = vector(3).iter().map(|x| -x).collect();
        let hits = store
            .search(&spec, &request(SearchQuery::Vector(opposite), 30))
            .await
            .unwrap();
        assert_eq!(hits.last().unwrap().chunk.id, "v3");
        assert!(hits.last().unwrap().score < 0.01);
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn every_mode_returns_at_most_k_hits(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        let chunks: Vec<Chunk> = (0..12)
            .map(|i| {
                chunk(
                    &format!("k{i:02}"),
                    "common words here",
                    vector(i),
                    json!({}),
                )
            })
            .collect();
        store.upsert(&spec, chunks).await.unwrap();
        let modes = [
            SearchQuery::Vector(vector(3)),
            SearchQuery::Keyword("common words".into()),
            SearchQuery::Hybrid {
                vector: vector(3),
                text: "common words".into(),
            },
        ];
        for mode in modes {
            for (k, expected) in [(1, 1), (5, 5), (12, 12), (50, 12)] {
                let hits = store
                    .search(&spec, &request(mode.clone(), k))
                    .await
                    .unwrap();
                assert_eq!(hits.len(), expected, "k = {k}, {mode:?}");
                assert_scores(&hits);
                let unique: BTreeSet<String> = ids(&hits).into_iter().collect();
                assert_eq!(unique.len(), hits.len(), "no chunk twice: {mode:?}");
            }
        }
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn every_filter_operator_matches_the_reference(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        let data = filter_data();
        store.upsert(&spec, data.clone()).await.unwrap();
        for raw in filters() {
            let filter = Filter::from_json(&raw).expect("valid filter");
            let expected: BTreeSet<String> = data
                .iter()
                .filter(|c| matches(&filter, &c.attributes))
                .map(|c| c.id.clone())
                .collect();
            for mode in [
                SearchQuery::Vector(vector(99)),
                SearchQuery::Keyword("chunk number".into()),
            ] {
                let mut req = request(mode, 100);
                req.filter = Some(filter.clone());
                let got: BTreeSet<String> = ids(&store.search(&spec, &req).await.unwrap())
                    .into_iter()
                    .collect();
                assert_eq!(got, expected, "filter {raw}");
            }
        }
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn a_selective_filter_still_returns_k_hits(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        let chunks: Vec<Chunk> = (0..1000u64)
            .map(|i| {
                chunk(
                    &format!("s{i}"),
                    "text",
                    vector(i),
                    json!({"rare": i % 67 == 0}),
                )
            })
            .collect();
        store.upsert(&spec, chunks).await.unwrap();
        let mut req = request(SearchQuery::Vector(vector(5)), 10);
        req.filter =
            Some(Filter::from_json(&json!({"type": "eq", "key": "rare", "value": true})).unwrap());
        let hits = store.search(&spec, &req).await.unwrap();
        assert_eq!(hits.len(), 10, "15 rows match; k = 10 must be filled");
        assert!(
            hits.iter()
                .all(|h| h.chunk.attributes["rare"] == json!(true))
        );
        assert_scores(&hits);
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn keyword_search_finds_the_words(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        store
            .upsert(
                &spec,
                vec![
                    chunk(
                        "fox",
                        "The quick brown fox jumps over the lazy dog",
                        vector(1),
                        json!({}),
                    ),
                    chunk(
                        "cat",
                        "A cat sleeps on the warm windowsill",
                        vector(2),
                        json!({}),
                    ),
                    chunk(
                        "both",
                        "The fox and the cat are friends; the fox visits the cat daily",
                        vector(3),
                        json!({}),
                    ),
                    chunk(
                        "uni",
                        "The university agreed to publish the universe survey",
                        vector(4),
                        json!({}),
                    ),
                ],
            )
            .await
            .unwrap();
        let hits = store
            .search(&spec, &request(SearchQuery::Keyword("fox".into()), 10))
            .await
            .unwrap();
        let got: BTreeSet<String> = ids(&hits).into_iter().collect();
        assert_eq!(got, BTreeSet::from(["fox".to_string(), "both".to_string()]));
        assert_scores(&hits);
        assert!(hits.iter().all(|h| h.score > 0.0));
        // Any of the words may match; the one holding both ranks first.
        let hits = store
            .search(&spec, &request(SearchQuery::Keyword("cat fox".into()), 10))
            .await
            .unwrap();
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[0].chunk.id, "both");
        // Words whose stems a stemmer would change again are still found.
        for word in ["university", "agreed", "universe", "University AGREED"] {
            let hits = store
                .search(&spec, &request(SearchQuery::Keyword(word.into()), 10))
                .await
                .unwrap();
            assert_eq!(ids(&hits), ["uni"], "{word}");
        }
        let none = store
            .search(&spec, &request(SearchQuery::Keyword("zebra".into()), 10))
            .await
            .unwrap();
        assert!(none.is_empty());
        store.drop_collection(&spec).await.unwrap();
    }

    /// Keyword ranking is BM25-like on every back-end: a word found in few documents weighs
    /// more than one found in many, and a word said more often counts for more.
    pub async fn keyword_ranking_weighs_rare_words_and_repetition(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        let mut chunks: Vec<Chunk> = (0..8)
            .map(|i| {
                chunk(
                    &format!("common{i}"),
                    &format!("garden tools and garden chairs, listing {i}"),
                    vector(10 + i),
                    json!({}),
                )
            })
            .collect();
        chunks.push(chunk(
            "rare",
            "an heirloom sundial for the lawn",
            vector(1),
            json!({}),
        ));
        chunks.push(chunk(
            "once",
            "a sundial of bronze with a plain face",
            vector(2),
            json!({}),
        ));
        chunks.push(chunk(
            "twice",
            "a sundial of slate, a sundial face",
            vector(3),
            json!({}),
        ));
        store.upsert(&spec, chunks).await.unwrap();
        // "garden" is said twice in eight documents; "heirloom" once, in one.
        let hits = store
            .search(
                &spec,
                &request(SearchQuery::Keyword("garden heirloom".into()), 10),
            )
            .await
            .unwrap();
        assert_eq!(hits.len(), 9);
        assert_eq!(hits[0].chunk.id, "rare", "{:?}", ids(&hits));
        assert_scores(&hits);
        // Same length, one saying "sundial" twice.
        let hits = store
            .search(&spec, &request(SearchQuery::Keyword("sundial".into()), 10))
            .await
            .unwrap();
        assert_eq!(hits.len(), 3);
        assert_eq!(hits[0].chunk.id, "twice", "{:?}", ids(&hits));
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn hybrid_search_fuses_both_rankings(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        store
            .upsert(
                &spec,
                vec![
                    chunk("match", "alpha beta gamma", vector(1), json!({})),
                    chunk("words", "alpha delta epsilon", vector(50), json!({})),
                    chunk(
                        "near",
                        "unrelated text",
                        vector(1).iter().map(|x| x * 0.9 + 0.01).collect(),
                        json!({}),
                    ),
                    chunk("far", "nothing here", vector(77), json!({})),
                ],
            )
            .await
            .unwrap();
        let hits = store
            .search(
                &spec,
                &request(
                    SearchQuery::Hybrid {
                        vector: vector(1),
                        text: "alpha gamma".into(),
                    },
                    10,
                ),
            )
            .await
            .unwrap();
        assert_eq!(hits[0].chunk.id, "match");
        assert!(
            (hits[0].score - 1.0).abs() < 1e-4,
            "first in both lists scores 1: {}",
            hits[0].score
        );
        assert_scores(&hits);
        let got: BTreeSet<String> = ids(&hits).into_iter().collect();
        assert!(got.contains("words") && got.contains("near"), "{got:?}");
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn the_score_threshold_applies_in_every_mode(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        let chunks: Vec<Chunk> = (0..20)
            .map(|i| {
                chunk(
                    &format!("t{i}"),
                    &format!("shared word {}", "x ".repeat(i as usize)),
                    vector(i),
                    json!({}),
                )
            })
            .collect();
        store.upsert(&spec, chunks).await.unwrap();
        for mode in [
            SearchQuery::Vector(vector(4)),
            SearchQuery::Keyword("shared word".into()),
            SearchQuery::Hybrid {
                vector: vector(4),
                text: "shared word".into(),
            },
        ] {
            let all = store
                .search(&spec, &request(mode.clone(), 20))
                .await
                .unwrap();
            assert!(all.len() >= 5, "{mode:?}");
            let cut = all[all.len() / 2].score;
            let mut req = request(mode.clone(), 20);
            req.score_threshold = Some(cut);
            let kept = store.search(&spec, &req).await.unwrap();
            assert!(
                !kept.is_empty() && kept.len() < all.len() || all.iter().all(|h| h.score >= cut),
                "{mode:?}"
            );
            assert!(kept.iter().all(|h| h.score >= cut), "{mode:?}");
            req.score_threshold = Some(1.0);
            let top = store.search(&spec, &req).await.unwrap();
            assert!(top.iter().all(|h| h.score >= 1.0 - 1e-6), "{mode:?}");
        }
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn delete_files_removes_exactly_those_files(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        let mut chunks = Vec::new();
        for f in ["a", "b", "c"] {
            for i in 0..3u32 {
                let mut c = chunk(&format!("{f}{i}"), "text", vector(u64::from(i)), json!({}));
                c.file_id = f.into();
                c.chunk_index = i;
                chunks.push(c);
            }
        }
        store.upsert(&spec, chunks).await.unwrap();
        let n = store
            .delete_files(&spec, &["a".into(), "c".into(), "zzz".into()])
            .await
            .unwrap();
        assert_eq!(n, 6);
        let left: Vec<String> = store
            .list(&spec, 100, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(left, ["b0", "b1", "b2"]);
        let hits = store
            .search(&spec, &request(SearchQuery::Vector(vector(0)), 10))
            .await
            .unwrap();
        assert!(hits.iter().all(|h| h.chunk.file_id == "b"));
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn trimming_files_keeps_each_ones_chunks_below_its_count(
        store: Arc<dyn VectorStore>,
    ) {
        let spec = fresh(store.as_ref()).await;
        let mut chunks = Vec::new();
        for f in ["a", "b", "c"] {
            for i in 0..4u32 {
                let mut c = chunk(&format!("{f}:{i}"), "text", vector(u64::from(i)), json!({}));
                c.file_id = f.into();
                c.chunk_index = i;
                chunks.push(c);
            }
        }
        store.upsert(&spec, chunks).await.unwrap();
        let files = [
            ("a".to_string(), 2),
            ("c".to_string(), 0),
            ("zzz".to_string(), 1),
        ];
        assert_eq!(store.trim_files(&spec, &files).await.unwrap(), 6);
        let left: Vec<String> = store
            .list(&spec, 100, 0)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(left, ["a:0", "a:1", "b:0", "b:1", "b:2", "b:3"]);
        assert_eq!(store.trim_files(&spec, &[]).await.unwrap(), 0);
        store.drop_collection(&spec).await.unwrap();
        let missing = store.trim_files(&spec, &files).await.unwrap_err();
        assert_eq!(missing.kind(), crate::ErrorKind::NotFound);
    }

    pub async fn file_attributes_change_in_place_for_that_file_only(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        let mut chunks = Vec::new();
        for f in ["a", "b"] {
            for i in 0..3u32 {
                let mut c = chunk(
                    &format!("{f}{i}"),
                    "text about tides",
                    vector(u64::from(i)),
                    json!({"team": "old", "n": 1}),
                );
                c.file_id = f.into();
                c.chunk_index = i;
                chunks.push(c);
            }
        }
        store.upsert(&spec, chunks).await.unwrap();
        let new = json!({"team": "new", "year": 2026, "tags": ["x", "y"]});
        let n = store
            .set_file_attributes(&spec, "a", new.as_object().cloned().unwrap())
            .await
            .unwrap();
        assert_eq!(n, 3);
        for c in store.list(&spec, 100, 0).await.unwrap() {
            let want = if c.file_id == "a" {
                new.clone()
            } else {
                json!({"team": "old", "n": 1})
            };
            assert_eq!(Value::Object(c.attributes), want, "{}", c.id);
        }
        // Filters see the new attributes, and no longer the old ones.
        let search = |filter: Value| {
            let store = store.clone();
            let spec = spec.clone();
            async move {
                let mut req = request(SearchQuery::Vector(vector(0)), 10);
                req.filter = Some(Filter::from_json(&filter).unwrap());
                let mut found: Vec<String> = ids(&store.search(&spec, &req).await.unwrap());
                found.sort();
                found
            }
        };
        assert_eq!(
            search(json!({"type": "eq", "key": "year", "value": 2026})).await,
            ["a0", "a1", "a2"]
        );
        assert_eq!(
            search(json!({"type": "eq", "key": "tags", "value": "y"})).await,
            ["a0", "a1", "a2"]
        );
        assert_eq!(
            search(json!({"type": "eq", "key": "team", "value": "old"})).await,
            ["b0", "b1", "b2"]
        );
        assert_eq!(
            store
                .set_file_attributes(&spec, "nobody", Map::new())
                .await
                .unwrap(),
            0
        );
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn every_back_end_refuses_the_same_edges_and_writes_nothing(
        store: Arc<dyn VectorStore>,
    ) {
        use crate::limits::{MAX_ATTRIBUTE_STRING_CHARS, MAX_TEXT_BYTES};
        let spec = fresh(store.as_ref()).await;
        let ok = || chunk("ok", "fine", vector(1), json!({}));
        let mut nul_text = ok();
        nul_text.text = "a\u{0}b".into();
        let mut nul_key = ok();
        nul_key.attributes = json!({"k\u{0}": 1}).as_object().cloned().unwrap();
        let mut emoji_id = ok();
        emoji_id.id = "😀".repeat(200);
        let mut long_text = ok();
        long_text.text = "x".repeat(MAX_TEXT_BYTES + 1);
        let mut long_value = ok();
        long_value.attributes = json!({"k": "v".repeat(MAX_ATTRIBUTE_STRING_CHARS + 1)})
            .as_object()
            .cloned()
            .unwrap();
        for (what, bad) in [
            ("NUL in text", nul_text),
            ("NUL in an attribute key", nul_key),
            ("an id of 800 bytes", emoji_id),
            ("text over the cap", long_text),
            ("an attribute string over the keyword limit", long_value),
        ] {
            let err = store.upsert(&spec, vec![ok(), bad]).await.expect_err(what);
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{what}: {err}");
            assert_eq!(
                store.count(&spec).await.unwrap(),
                0,
                "{what}: nothing written"
            );
        }
        // At the edges, every back-end stores them.
        let mut at_edges = ok();
        at_edges.id = "é".repeat(256);
        // Distinct five-letter words up to the cap: the largest full-text index a text can need.
        let mut words = String::with_capacity(MAX_TEXT_BYTES);
        let mut n: u64 = 7;
        while words.len() + 6 + 4 <= MAX_TEXT_BYTES {
            n = n
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut x = n >> 20;
            for _ in 0..5 {
                words.push((b'a' + (x % 26) as u8) as char);
                x /= 26;
            }
            words.push(' ');
        }
        at_edges.text = format!("{words}word");
        at_edges.attributes = json!({"k": "v".repeat(MAX_ATTRIBUTE_STRING_CHARS)})
            .as_object()
            .cloned()
            .unwrap();
        store.upsert(&spec, vec![at_edges]).await.unwrap();
        assert_eq!(store.count(&spec).await.unwrap(), 1);
        let mut req = request(SearchQuery::Keyword("word".into()), 5);
        req.filter = Some(
            Filter::from_json(&json!({"type": "eq", "key": "k", "value": "v".repeat(512)}))
                .unwrap(),
        );
        // A filter string of 512 characters does not equal the 8191 stored: no hit, no error.
        assert!(store.search(&spec, &req).await.unwrap().is_empty());
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn delete_all_empties_but_keeps_the_collection(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        let chunks: Vec<Chunk> = (0..5)
            .map(|i| chunk(&format!("d{i}"), "text", vector(i), json!({})))
            .collect();
        store.upsert(&spec, chunks).await.unwrap();
        assert_eq!(store.delete_all(&spec).await.unwrap(), 5);
        assert_eq!(store.count(&spec).await.unwrap(), 0);
        store
            .upsert(&spec, vec![chunk("again", "text", vector(1), json!({}))])
            .await
            .unwrap();
        assert_eq!(store.count(&spec).await.unwrap(), 1);
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn list_pages_with_limit_and_offset(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        let chunks: Vec<Chunk> = (0..25)
            .map(|i| chunk(&format!("p{i:02}"), "text", vector(i), json!({})))
            .collect();
        store.upsert(&spec, chunks).await.unwrap();
        let mut seen = Vec::new();
        let mut offset = 0;
        loop {
            let page = store.list(&spec, 10, offset).await.unwrap();
            if page.is_empty() {
                break;
            }
            assert!(page.len() <= 10);
            offset += page.len();
            seen.extend(page.into_iter().map(|c| c.id));
        }
        let expected: Vec<String> = (0..25).map(|i| format!("p{i:02}")).collect();
        assert_eq!(seen, expected);
        assert!(store.list(&spec, 10, 1000).await.unwrap().is_empty());
        store.drop_collection(&spec).await.unwrap();
    }

    pub async fn unicode_round_trips_and_is_found_by_keyword(store: Arc<dyn VectorStore>) {
        let spec = fresh(store.as_ref()).await;
        let text = "Crème brûlée à la française 🍮 — 東京タワー, Zürich \u{1F600}";
        let attrs = json!({"città": "Zürich", "emoji": "🍮"});
        store
            .upsert(
                &spec,
                vec![
                    chunk("üñí", text, vector(1), attrs.clone()),
                    chunk("plain", "nothing special", vector(2), json!({})),
                ],
            )
            .await
            .unwrap();
        let rows = store.list(&spec, 10, 0).await.unwrap();
        let row = rows.iter().find(|r| r.id == "üñí").expect("unicode id");
        assert_eq!(row.text, text);
        let bytes = (text.len() + "nothing special".len()) as u64;
        assert_eq!(
            store.usage_bytes(&spec).await.unwrap(),
            bytes,
            "usage counts UTF-8 bytes"
        );
        assert_eq!(Value::Object(row.attributes.clone()), attrs);
        let hits = store
            .search(&spec, &request(SearchQuery::Keyword("brûlée".into()), 5))
            .await
            .unwrap();
        assert_eq!(ids(&hits), ["üñí"]);
        let mut req = request(SearchQuery::Vector(vector(2)), 5);
        req.filter = Some(
            Filter::from_json(&json!({"type": "eq", "key": "città", "value": "Zürich"})).unwrap(),
        );
        assert_eq!(ids(&store.search(&spec, &req).await.unwrap()), ["üñí"]);
        store.drop_collection(&spec).await.unwrap();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// A case written in [`super::cases`] but left out of [`conformance_suite!`] would never
    /// run on any back-end: the two lists must be the same.
    #[test]
    fn the_suite_runs_every_case_written() {
        let source = include_str!("testkit.rs");
        let (head, cases) = source
            .split_once("pub mod cases {")
            .expect("the cases module");
        let listed = head
            .split_once("conformance_suite!(@cases $factory;")
            .and_then(|(_, rest)| rest.split_once(");"))
            .expect("the macro's case list")
            .0;
        let listed: BTreeSet<&str> = listed
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let written: BTreeSet<&str> = cases
            .lines()
            .filter_map(|l| l.strip_prefix("    pub async fn "))
            .filter_map(|l| l.split_once('('))
            .map(|(name, _)| name)
            .collect();
        assert!(
            written.contains("create_and_drop_are_idempotent"),
            "{written:?}"
        );
        assert_eq!(listed, written);
    }
}
