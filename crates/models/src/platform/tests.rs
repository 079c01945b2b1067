//! Tests of the platform API's payloads: their JSON shapes and checks.

use super::*;
use crate::validation::first_error;
use serde_json::json;

fn invalid<T: Validate + serde::de::DeserializeOwned>(v: Value) -> (String, String) {
    let t: T = serde_json::from_value(v).expect("parses");
    first_error(&t.validate().expect_err("must be invalid"))
}

#[test]
fn search_defaults_to_semantic_and_ten_results() {
    let s: SearchRequest =
        serde_json::from_value(json!({"collection": "c", "query": "q"})).unwrap();
    assert_eq!(s.search_type, SearchMode::Vector);
    assert_eq!(s.max_num_results, 10);
    assert!(s.validate().is_ok());
}

#[test]
fn max_num_results_is_bounded() {
    for n in [0, 51] {
        let (param, msg) = invalid::<SearchRequest>(
            json!({"collection": "c", "query": "q", "max_num_results": n}),
        );
        assert_eq!(param, "max_num_results");
        assert!(msg.contains("50"), "{msg}");
    }
}

#[test]
fn score_threshold_is_bounded_and_its_param_is_nested() {
    let (param, _) = invalid::<SearchRequest>(
        json!({"collection": "c", "query": "q", "ranking_options": {"score_threshold": 1.5}}),
    );
    assert_eq!(param, "ranking_options.score_threshold");
}

#[test]
fn a_blank_document_names_its_index() {
    let (param, msg) = invalid::<IndexingPayload>(json!({"collection": "c", "documents": [
        {"content": "fine"}, {"content": "   "}
    ]}));
    assert_eq!(param, "documents[1].content");
    assert!(msg.contains("blank"), "{msg}");
}

#[test]
fn empty_documents_are_rejected() {
    let (param, _) = invalid::<IndexingPayload>(json!({"collection": "c", "documents": []}));
    assert_eq!(param, "documents");
}

#[test]
fn unknown_search_types_and_fields_do_not_parse() {
    assert!(
        serde_json::from_value::<SearchRequest>(
            json!({"collection": "c", "query": "q", "search_type": "fuzzy"})
        )
        .is_err()
    );
    assert!(
        serde_json::from_value::<SearchRequest>(json!({"collection": "c", "query": "q", "k": 1}))
            .is_err()
    );
}

#[test]
fn expires_after_takes_only_last_active_at_and_one_to_365_days() {
    let base = json!({"collection": "c", "model_name": "m"});
    let with = |e: Value| {
        let mut v = base.clone();
        v["expires_after"] = e;
        v
    };
    assert!(
        serde_json::from_value::<CreateCollection>(with(
            json!({"anchor": "created_at", "days": 1})
        ))
        .is_err()
    );
    let (param, _) =
        invalid::<CreateCollection>(with(json!({"anchor": "last_active_at", "days": 366})));
    assert_eq!(param, "expires_after.days");
    let ok: CreateCollection =
        serde_json::from_value(with(json!({"anchor": "last_active_at", "days": 365}))).unwrap();
    assert!(ok.validate().is_ok());
}

#[test]
fn attributes_put_metadata_and_document_fields_at_the_top_level() {
    let d: Document = serde_json::from_value(json!({
        "content": "x", "metadata": {"lang": "en"}, "topics": ["a"], "author": "me"
    }))
    .unwrap();
    assert_eq!(
        Value::Object(d.attributes()),
        json!({"lang": "en", "topics": ["a"], "author": "me"})
    );
}

#[test]
fn a_metadata_key_may_not_shadow_a_document_field() {
    let (param, msg) = invalid::<IndexingPayload>(json!({"collection": "c", "documents": [
        {"content": "x", "author": "a", "metadata": {"author": "b"}}
    ]}));
    assert_eq!(param, "documents");
    assert!(msg.contains("author"), "{msg}");
}

#[test]
fn bad_collection_names_name_the_collection_param() {
    let (param, _) = invalid::<DeleteRequest>(json!({"collection": "Bad-Name"}));
    assert_eq!(param, "collection");
}
