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

/// Chunk `index` of file `file`, with id `id`.
pub fn file_chunk(id: &str, file: &str, index: u32, text: &str) -> Chunk {
    Chunk {
        file_id: file.into(),
        chunk_index: index,
        ..chunk(id, text, vector(u64::from(index)), json!({}))
    }
}

/// A uniquely named collection of [`DIM`] dimensions, not yet created.
pub fn unique_spec() -> CollectionSpec {
    CollectionSpec::new(&format!("t_{}", uuid::Uuid::new_v4().simple()), DIM).unwrap()
}

/// A new, uniquely named collection.
pub async fn fresh(store: &dyn VectorStore) -> CollectionSpec {
    let spec = unique_spec();
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

pub mod cases;

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// A case written in [`super::cases`] but left out of [`conformance_suite!`] would never
    /// run on any back-end: the two lists must be the same.
    #[test]
    fn the_suite_runs_every_case_written() {
        let head = include_str!("testkit.rs");
        let cases = [
            include_str!("testkit/cases/files.rs"),
            include_str!("testkit/cases/filters.rs"),
            include_str!("testkit/cases/lifecycle.rs"),
            include_str!("testkit/cases/search.rs"),
            include_str!("testkit/cases/writes.rs"),
        ]
        .concat();
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
            .filter_map(|l| l.strip_prefix("pub async fn "))
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
