//! Fidelity without a real cluster: every request the back-end sends, as its own code builds
//! it, is recorded on its way to the Elasticsearch-API server (`ELASTICSEARCH_URL`) and
//! type-checked against the official JavaScript client's request types for Elasticsearch 8.19
//! and 9.x ([`typescript`]). The server the tests run against accepts more than Elasticsearch
//! does; the client's types are written from Elasticsearch's own API specification.

mod recorder;
mod typescript;

use std::time::Duration;

use serde_json::{Value, json};
use store_core::testkit::{chunk, file_chunk, unique_spec, vector};
use store_core::{
    Chunk, CollectionSpec, ErrorKind, Filter, HybridOptions, SearchQuery, SearchRequest,
    VectorStore,
};
use store_elastic::{ElasticOptions, ElasticStore};

use self::recorder::{Recorded, Recorder};
use crate::options;

/// Chunks of the file listed past one page of a `search_after` walk.
const LONG_FILE_CHUNKS: u32 = 1_001;

/// A proxy to the test cluster, and a store sending through it.
async fn recording() -> (Recorder, ElasticStore) {
    let upstream = options().client().expect("a client for the test cluster");
    let recorder = Recorder::start(upstream).await;
    let store = through(&recorder, |_| {});
    (recorder, store)
}

/// A store sending through `recorder`, with `tweak`ed options.
fn through(recorder: &Recorder, tweak: impl FnOnce(&mut ElasticOptions)) -> ElasticStore {
    let mut options = ElasticOptions {
        url: recorder.url.clone(),
        username: None,
        password: None,
        api_key: None,
        insecure: false,
        ..options()
    };
    tweak(&mut options);
    ElasticStore::new(options).expect("a store")
}

/// Chunks with every kind of attribute value: strings, numbers, booleans, lists, nested
/// objects, nulls, keys Elasticsearch would misread.
fn attribute_chunks() -> Vec<Chunk> {
    let attributes = [
        json!({"lang": "en", "n": 5, "ok": true, "tags": ["a", 2, false], "a.b": 1.5}),
        json!({"lang": "fr", "n": 2.5, "ok": false, "nested": {"x": 1}, "gone": null}),
        json!({"year": 2020, "name": "m", "": "empty key", "50%": "x"}),
        json!({}),
    ];
    attributes
        .into_iter()
        .enumerate()
        .map(|(i, a)| {
            let mut c = chunk(&format!("c{i}"), "the quick brown fox", vector(i as u64), a);
            c.file_id = format!("f{}", i % 2);
            c.chunk_index = i as u32;
            c.filename = (i % 2 == 0).then(|| format!("file{i}.txt"));
            c
        })
        .collect()
}

/// One filter of every kind the filter model has, and compounds of them.
fn filters() -> Vec<Option<Filter>> {
    let parse = |v: Value| Some(Filter::from_json(&v).expect("a valid filter"));
    let mut all = vec![None];
    for (op, value) in [
        ("eq", json!("en")),
        ("eq", json!(5)),
        ("eq", json!(true)),
        ("ne", json!("en")),
        ("ne", json!(5)),
        ("gt", json!(1.5)),
        ("gte", json!(2020)),
        ("lt", json!("n")),
        ("lte", json!(2.5)),
        ("in", json!(["en", 5])),
        ("nin", json!(["fr", 2.5])),
    ] {
        all.push(parse(json!({"type": op, "key": "lang", "value": value})));
    }
    all.push(parse(json!({"type": "and", "filters": [
        {"type": "eq", "key": "lang", "value": "en"},
        {"type": "or", "filters": [
            {"type": "gte", "key": "n", "value": 2},
            {"type": "nin", "key": "tags", "value": ["a"]}
        ]}
    ]})));
    all.push(parse(json!({"type": "or", "filters": [
        {"type": "eq", "key": "a.b", "value": 1.5},
        {"type": "ne", "key": "ok", "value": false}
    ]})));
    all
}

fn modes() -> [SearchQuery; 3] {
    [
        SearchQuery::Vector(vector(1)),
        SearchQuery::Keyword("quick fox".into()),
        SearchQuery::Hybrid {
            vector: vector(2),
            text: "brown".into(),
        },
    ]
}

/// Calls every operation of the store, each on the paths that send different requests, and
/// returns what it sent.
async fn drive_every_operation() -> Vec<Recorded> {
    let (recorder, store) = recording().await;
    store.ping().await.expect("ping");
    let spec = unique_spec();
    store.create_collection(&spec).await.expect("create");
    store.create_collection(&spec).await.expect("create again");
    let chunks = attribute_chunks();
    assert_eq!(
        store.upsert(&spec, chunks.clone()).await.expect("upsert"),
        4
    );
    store
        .upsert_claimed(&spec, chunks[..2].to_vec(), 7)
        .await
        .expect("an upsert under a claim");
    search_every_way(&store, &spec).await;
    assert_eq!(store.count(&spec).await.expect("count"), 4);
    assert!(store.usage_bytes(&spec).await.expect("usage") > 0);
    list_every_way(&store, &spec).await;
    let mut attributes = serde_json::Map::new();
    attributes.insert("lang".into(), json!("de"));
    attributes.insert("n".into(), json!([1, 2]));
    store
        .set_file_attributes(&spec, "f0", attributes)
        .await
        .expect("set attributes");
    store
        .trim_files(&spec, &[("f0".into(), 1), ("f1".into(), 3)])
        .await
        .expect("trim");
    store.trim_files(&spec, &[]).await.expect("trim nothing");
    store
        .delete_files(&spec, &["f1".into(), "none".into()])
        .await
        .expect("delete files");
    store
        .delete_files(&spec, &[])
        .await
        .expect("delete nothing");
    a_write_that_times_out(&recorder, &spec).await;
    store.delete_all(&spec).await.expect("delete all");
    store.drop_collection(&spec).await.expect("drop");
    store.drop_collection(&spec).await.expect("drop again");
    let e = store.count(&spec).await.expect_err("a dropped collection");
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    recorder.take()
}

async fn search_every_way(store: &ElasticStore, spec: &CollectionSpec) {
    for filter in filters() {
        for mode in modes() {
            let request = SearchRequest {
                mode,
                filter: filter.clone(),
                k: 3,
                score_threshold: Some(0.01),
                hybrid: HybridOptions::default(),
            };
            store.search(spec, &request).await.expect("a search");
        }
    }
    let nothing = store_core::testkit::request(SearchQuery::Vector(vector(1)), 0);
    assert!(
        store
            .search(spec, &nothing)
            .await
            .expect("k = 0")
            .is_empty()
    );
}

/// Pages within the result window, a page past it (walked with `search_after`), and every
/// chunk of a file longer than one `search_after` page.
async fn list_every_way(store: &ElasticStore, spec: &CollectionSpec) {
    assert_eq!(store.list(spec, 3, 0).await.expect("a page").len(), 3);
    assert_eq!(store.list(spec, 3, 2).await.expect("a page").len(), 2);
    assert!(store.list(spec, 0, 0).await.expect("nothing").is_empty());
    let long: Vec<Chunk> = (0..LONG_FILE_CHUNKS)
        .map(|i| file_chunk(&format!("long:{i}"), "long", i, "a line of a long file"))
        .collect();
    store.upsert(spec, long).await.expect("a long file");
    let all = store.file_chunks(spec, "long").await.expect("its chunks");
    assert_eq!(all.len(), LONG_FILE_CHUNKS as usize);
    assert!(
        store
            .list(spec, 2, 10_000)
            .await
            .expect("past the window")
            .is_empty()
    );
    store
        .delete_files(spec, &["long".into()])
        .await
        .expect("the long file deleted");
}

/// A `_bulk` held back past the client's timeout: the store then asks for the write's tasks.
async fn a_write_that_times_out(recorder: &Recorder, spec: &CollectionSpec) {
    let impatient = through(recorder, |o| {
        o.timeout_secs = 2;
        o.retries = 0;
    });
    recorder.hold("/_bulk", Duration::from_secs(3));
    let late = chunk("late", "late words", vector(9), json!({}));
    let e = impatient
        .upsert(spec, vec![late])
        .await
        .expect_err("a timeout");
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    recorder.release();
    // The held write still lands; it must before the collection is emptied and dropped.
    recorder.idle().await;
}

/// Request types the driver must have reached, or it no longer covers the back-end.
const REACHED: [&str; 10] = [
    "InfoRequest",
    "IndicesGetMappingRequest",
    "IndicesCreateRequest",
    "IndicesDeleteRequest",
    "SearchRequest",
    "CountRequest",
    "BulkRequest<ChunkDocument>",
    "DeleteByQueryRequest",
    "UpdateByQueryRequest",
    "TasksListRequest",
];

#[tokio::test]
async fn every_request_body_has_the_official_clients_types() {
    let requests = drive_every_operation().await;
    let kinds: Vec<&str> = requests
        .iter()
        .filter_map(|r| typescript::endpoint(&r.method, &r.path).ok())
        .map(|e| e.type_name)
        .collect();
    for kind in REACHED {
        assert!(kinds.contains(&kind), "no {kind} was sent: {kinds:?}");
    }
    assert!(
        requests
            .iter()
            .any(|r| String::from_utf8_lossy(&r.body).contains("\"search_after\"")),
        "no list walked past a page with search_after"
    );
    let (files, checked) = typescript::check("every_request", &requests, |t| t);
    if let Err(errors) = checked {
        panic!(
            "request bodies the Elasticsearch client's types refuse (modules: {files:?}):\n\
             {errors}"
        );
    }
}

#[tokio::test]
async fn a_planted_typo_fails_the_check() {
    let (recorder, store) = recording().await;
    let spec = unique_spec();
    store.create_collection(&spec).await.expect("create");
    store
        .upsert(&spec, attribute_chunks())
        .await
        .expect("upsert");
    let filter = filters().pop().expect("a filter");
    let request = SearchRequest {
        filter,
        ..store_core::testkit::request(SearchQuery::Vector(vector(1)), 3)
    };
    store.search(&spec, &request).await.expect("a search");
    store.drop_collection(&spec).await.expect("drop");
    let requests = recorder.take();
    let plant = |text: String| {
        assert!(
            text.contains("\"num_candidates\":") && text.contains("\"similarity\": \"cosine\"")
        );
        text.replace("\"num_candidates\":", "\"num_candidate\":")
            .replace("\"similarity\": \"cosine\"", "\"similarity\": \"cosin\"")
    };
    let (_, checked) = typescript::check("planted_typo", &requests, plant);
    let errors = checked.expect_err("tsc passed a misspelt key and a wrong enum value");
    let lines: Vec<&str> = errors.lines().filter(|l| l.contains("error TS")).collect();
    for client in typescript::CLIENTS {
        let of = |what: &str| {
            lines
                .iter()
                .filter(|l| l.contains(&format!(".{client}.ts(")) && l.contains(what))
                .count()
        };
        assert_eq!(of("\"num_candidate\""), 1, "{client}:\n{errors}");
        assert_eq!(of("\"cosin\""), 1, "{client}:\n{errors}");
    }
    assert_eq!(lines.len(), 4, "only the planted errors:\n{errors}");
}

#[test]
fn a_request_to_an_endpoint_without_a_type_fails_the_check() {
    let unknown = Recorded {
        method: "POST".into(),
        path: "/vstest_x/_reindex".into(),
        params: Vec::new(),
        body: b"{}".to_vec(),
    };
    let e = typescript::module("es9", &[unknown]).expect_err("an unknown endpoint");
    assert!(
        e.contains("no request type is known for POST /vstest_x/_reindex"),
        "{e}"
    );
    let search = typescript::endpoint("POST", "/vstest_x/_search").expect("a search");
    assert_eq!(search.type_name, "SearchRequest");
    let task = typescript::endpoint("GET", "/_tasks/n1%3A42").expect("a task");
    assert_eq!(task.type_name, "TasksGetRequest");
}
