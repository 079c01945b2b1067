//! Behaviour particular to the Elasticsearch back-end.

use serde_json::json;
use store_core::testkit::{DIM, chunk, fresh, request, unique_spec, vector};
use store_core::{CollectionSpec, ErrorKind, SearchQuery, VectorStore};
use store_elastic::{ElasticOptions, ElasticStore};

use crate::{elastic, options};

#[tokio::test]
async fn an_unreachable_cluster_is_unavailable_for_every_call() {
    let store = ElasticStore::new(ElasticOptions {
        url: "http://127.0.0.1:9".into(),
        retries: 1,
        timeout_secs: 2,
        ..options()
    })
    .unwrap();
    let spec = CollectionSpec::new("t_down", DIM).unwrap();
    assert_eq!(
        store.ping().await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert_eq!(
        store.create_collection(&spec).await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    assert_eq!(
        store.count(&spec).await.unwrap_err().kind(),
        ErrorKind::Unavailable
    );
    let e = store
        .search(&spec, &request(SearchQuery::Vector(vector(1)), 3))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
}

#[tokio::test]
async fn the_reachable_cluster_answers_a_ping() {
    elastic().ping().await.expect("ping");
}

#[tokio::test]
async fn a_second_create_with_another_dimension_is_a_conflict() {
    let store = elastic();
    let spec = fresh(&store).await;
    let other = CollectionSpec {
        dimension: DIM + 1,
        ..spec.clone()
    };
    let e = store.create_collection(&other).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    store.drop_collection(&spec).await.unwrap();
}

#[tokio::test]
async fn an_upsert_never_creates_a_missing_index() {
    let store = elastic();
    let spec = unique_spec();
    let e = store
        .upsert(&spec, vec![chunk("a", "x", vector(1), json!({}))])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    // Still missing: nothing made an index with a guessed mapping.
    assert_eq!(
        store.count(&spec).await.unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[tokio::test]
async fn zero_vectors_and_overlong_ids_are_refused_before_anything_is_written() {
    let store = elastic();
    let spec = fresh(&store).await;
    for c in [
        chunk("z", "x", vec![0.0; DIM], json!({})),
        chunk(&"i".repeat(513), "x", vector(1), json!({})),
    ] {
        let e = store.upsert(&spec, vec![c]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    }
    assert_eq!(store.count(&spec).await.unwrap(), 0);
    store.drop_collection(&spec).await.unwrap();
}

#[tokio::test]
async fn a_key_holding_several_types_and_keys_with_dots_filter_like_the_reference() {
    let store = elastic();
    let spec = fresh(&store).await;
    store
        .upsert(
            &spec,
            vec![
                chunk(
                    "s",
                    "a",
                    vector(1),
                    json!({"v": "10", "a.b": "x", "": "empty"}),
                ),
                chunk("n", "b", vector(2), json!({"v": 10, "a": {"b": "x"}})),
            ],
        )
        .await
        .expect("one key may be a string here and a number there, and a key may be empty");
    let find = |filter: serde_json::Value| {
        let store = store.clone();
        let spec = spec.clone();
        async move {
            let mut req = request(SearchQuery::Vector(vector(1)), 10);
            req.filter = Some(store_core::Filter::from_json(&filter).unwrap());
            let mut ids: Vec<String> = store
                .search(&spec, &req)
                .await
                .unwrap()
                .into_iter()
                .map(|h| h.chunk.id)
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(
        find(json!({"type": "eq", "key": "v", "value": 10})).await,
        ["n"]
    );
    assert_eq!(
        find(json!({"type": "eq", "key": "v", "value": "10"})).await,
        ["s"]
    );
    assert_eq!(
        find(json!({"type": "eq", "key": "a.b", "value": "x"})).await,
        ["s"]
    );
    assert_eq!(
        find(json!({"type": "ne", "key": "a.b", "value": "x"})).await,
        ["n"],
        "a nested object is not the dotted key"
    );
    store.drop_collection(&spec).await.unwrap();
}

#[tokio::test]
async fn listing_beyond_the_result_window_walks_the_index() {
    let store = ElasticStore::new(ElasticOptions {
        bulk_batch_size: 2_000,
        ..options()
    })
    .unwrap();
    let spec = fresh(&store).await;
    let n = 10_050u64;
    let chunks: Vec<_> = (0..n)
        .map(|i| chunk(&format!("w{i:05}"), "t", vector(i + 1), json!({})))
        .collect();
    assert_eq!(store.upsert(&spec, chunks).await.unwrap(), n);
    let page = store.list(&spec, 100, 10_000).await.unwrap();
    let ids: Vec<String> = page.into_iter().map(|c| c.id).collect();
    let expected: Vec<String> = (10_000..n).map(|i| format!("w{i:05}")).collect();
    assert_eq!(ids, expected);
    assert_eq!(store.file_chunks(&spec, "w00007").await.unwrap().len(), 1);
    store.drop_collection(&spec).await.unwrap();
}

#[tokio::test]
async fn numbers_filter_by_value_whatever_their_json_spelling() {
    // Real Elasticsearch compares a `term` on a `double` field by value; the Elasticsearch-API
    // server of `make test` compares the JSON spelling (5 ≠ 5.0). Equality is sent as a `range`
    // with equal bounds, exact on both, and this test holds either way.
    let store = elastic();
    let spec = fresh(&store).await;
    store
        .upsert(
            &spec,
            vec![
                chunk("int", "same words", vector(1), json!({"n": 5})),
                chunk("float", "same words", vector(2), json!({"n": 5.0})),
                chunk("other", "same words", vector(3), json!({"n": 5.5})),
            ],
        )
        .await
        .unwrap();
    for value in [json!(5), json!(5.0)] {
        for filter in [
            json!({"type": "eq", "key": "n", "value": value}),
            json!({"type": "in", "key": "n", "value": [value, 99]}),
        ] {
            let mut req = request(SearchQuery::Keyword("words".into()), 10);
            req.filter = Some(store_core::Filter::from_json(&filter).unwrap());
            let mut ids: Vec<String> = store
                .search(&spec, &req)
                .await
                .unwrap()
                .into_iter()
                .map(|h| h.chunk.id)
                .collect();
            ids.sort();
            assert_eq!(ids, ["float", "int"], "{filter}");
        }
    }
    store.drop_collection(&spec).await.unwrap();
}

/// Chunk `i` of file `f`, whose text says which write made it.
fn file_chunk(i: u32, text: &str) -> store_core::Chunk {
    store_core::testkit::file_chunk(&format!("f:{i}"), "f", i, text)
}

#[tokio::test]
async fn a_late_write_of_an_older_claim_never_replaces_a_later_ones_chunks() {
    let store = elastic();
    let spec = fresh(&store).await;
    let later = vec![file_chunk(0, "later"), file_chunk(1, "later")];
    assert_eq!(store.upsert_claimed(&spec, later, 9).await.unwrap(), 2);
    // The older claim's write lands now: its chunk 0 and 1 are refused, its chunk 2 is new.
    let older = (0..3).map(|i| file_chunk(i, "older")).collect();
    store.upsert_claimed(&spec, older, 8).await.unwrap();
    // The same generation's write again (a retried request) changes nothing.
    let again = vec![file_chunk(0, "again")];
    store.upsert_claimed(&spec, again, 9).await.unwrap();
    let texts = |chunks: Vec<store_core::StoredChunk>| -> Vec<String> {
        chunks.into_iter().map(|c| c.text).collect()
    };
    assert_eq!(
        texts(store.file_chunks(&spec, "f").await.unwrap()),
        ["later", "later", "older"]
    );
    // The later claim's completion trims what lies beyond its own chunks.
    store.trim_files(&spec, &[("f".into(), 2)]).await.unwrap();
    assert_eq!(
        texts(store.file_chunks(&spec, "f").await.unwrap()),
        ["later", "later"]
    );
    store.drop_collection(&spec).await.unwrap();
}
