//! Tests of the OpenAI payloads: their JSON shapes and checks.

use serde_json::Map;
use validator::Validate;

use super::*;
use crate::validation::first_error;
use serde_json::json;

#[test]
fn a_chunking_strategy_is_auto_or_static_and_nothing_more() {
    let auto: ChunkingStrategy = serde_json::from_value(json!({"type": "auto"})).unwrap();
    assert_eq!(auto, ChunkingStrategy::Auto {});
    assert_eq!(serde_json::to_value(auto).unwrap(), json!({"type": "auto"}));
    let sized = json!({
        "type": "static",
        "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50}
    });
    let s: ChunkingStrategy = serde_json::from_value(sized.clone()).unwrap();
    assert_eq!(serde_json::to_value(s).unwrap(), sized);
    for bad in [
        json!({"type": "auto", "extra": 1}),
        json!({"type": "static"}),
        json!({"type": "static", "static": {"max_chunk_size_tokens": 200}}),
        json!({"type": "other"}),
    ] {
        assert!(
            serde_json::from_value::<ChunkingStrategy>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn update_tells_absent_from_null() {
    let u: UpdateVectorStore = serde_json::from_value(json!({"name": null})).unwrap();
    assert_eq!(u.name, Some(None));
    assert_eq!(u.metadata, None);
    let u: UpdateVectorStore = serde_json::from_value(json!({"metadata": {"a": "b"}})).unwrap();
    assert!(matches!(u.metadata, Some(Some(_))));
}

#[test]
fn vector_store_metadata_takes_strings_only() {
    let c: CreateVectorStore = serde_json::from_value(json!({"metadata": {"n": 1}})).unwrap();
    assert_eq!(first_error(&c.validate().unwrap_err()).0, "metadata");
    let u: UpdateVectorStore = serde_json::from_value(json!({"metadata": {"n": 1}})).unwrap();
    assert_eq!(first_error(&u.validate().unwrap_err()).0, "metadata");
}

#[test]
fn queries_are_one_or_many_and_never_blank() {
    let s: SearchVectorStore = serde_json::from_value(json!({"query": ["a", "b"]})).unwrap();
    assert_eq!(s.query.texts(), ["a", "b"]);
    assert_eq!(s.max_num_results, 10);
    for bad in [
        json!({"query": []}),
        json!({"query": " "}),
        json!({"query": ["a", ""]}),
    ] {
        let s: SearchVectorStore = serde_json::from_value(bad).unwrap();
        assert_eq!(first_error(&s.validate().unwrap_err()).0, "query");
    }
    assert!(serde_json::from_value::<SearchVectorStore>(json!({"query": 3})).is_err());
}

#[test]
fn rankers_are_the_three_documented_ones() {
    for r in ["none", "auto", "default-2024-11-15"] {
        let o: SearchRankingOptions = serde_json::from_value(json!({"ranker": r})).unwrap();
        assert!(o.ranker.is_some());
    }
    assert!(serde_json::from_value::<SearchRankingOptions>(json!({"ranker": "best"})).is_err());
}

#[test]
fn requests_serialize_only_the_fields_that_are_set() {
    let c = CreateVectorStore {
        name: Some("n".into()),
        ..Default::default()
    };
    assert_eq!(serde_json::to_value(&c).unwrap(), json!({"name": "n"}));
    let s = SearchVectorStore::new(vec!["a", "b"]);
    assert_eq!(
        serde_json::to_value(&s).unwrap(),
        json!({"query": ["a", "b"], "max_num_results": 10})
    );
    assert_eq!(
        serde_json::to_value(AttachFile::new("file-1")).unwrap(),
        json!({"file_id": "file-1"})
    );
    assert_eq!(
        serde_json::to_value(CreateBatch::from_file_ids(["f1", "f2"])).unwrap(),
        json!({"file_ids": ["f1", "f2"]})
    );
}

#[test]
fn an_update_round_trips_absent_null_and_set_fields() {
    let u = UpdateVectorStore {
        name: Some(None),
        metadata: Some(Some(Map::from_iter([("a".into(), json!("b"))]))),
        expires_after: None,
    };
    let v = serde_json::to_value(&u).unwrap();
    assert_eq!(v, json!({"name": null, "metadata": {"a": "b"}}));
    assert_eq!(serde_json::from_value::<UpdateVectorStore>(v).unwrap(), u);
}

#[test]
fn list_limits_are_one_to_a_hundred() {
    let q = ListQuery {
        limit: Some(101),
        order: None,
        after: None,
        before: None,
    };
    assert_eq!(first_error(&q.validate().unwrap_err()).0, "limit");
}

#[test]
fn an_upload_has_openai_s_shape_and_its_requests_take_nothing_more() {
    let upload = Upload {
        id: "upload_1".into(),
        object: "upload".into(),
        bytes: 3,
        created_at: 1,
        expires_at: 3601,
        filename: "a.txt".into(),
        purpose: "assistants".into(),
        status: UploadStatus::Pending,
        file: None,
    };
    let json = serde_json::to_value(&upload).unwrap();
    assert_eq!(json["status"], "pending");
    assert!(json["file"].is_null() && json.as_object().unwrap().contains_key("file"));
    let create: CreateUpload = serde_json::from_value(json!({
        "bytes": 3, "filename": "a.txt", "mime_type": "text/plain", "purpose": "assistants",
        "expires_after": {"anchor": "created_at", "seconds": 3600}
    }))
    .unwrap();
    assert_eq!(create.expires_after.unwrap().seconds, 3600);
    for bad in [
        json!({"bytes": 3, "filename": "a", "mime_type": "text/plain", "purpose": "x", "n": 1}),
        json!({"bytes": -1, "filename": "a", "mime_type": "text/plain", "purpose": "x"}),
    ] {
        assert!(
            serde_json::from_value::<CreateUpload>(bad.clone()).is_err(),
            "{bad}"
        );
    }
    let complete: CompleteUpload = serde_json::from_value(json!({"part_ids": ["part_1"]})).unwrap();
    assert!(complete.validate().is_ok() && complete.md5.is_none());
}
