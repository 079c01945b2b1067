//! A file's chunks: deleted, trimmed and re-attributed together.

use crate::testkit::*;

/// `per_file` chunks `{f}:{i}` of each file `f`, reading "text".
fn files_chunks(files: &[&str], per_file: u32) -> Vec<Chunk> {
    files
        .iter()
        .flat_map(|f| (0..per_file).map(move |i| file_chunk(&format!("{f}:{i}"), f, i, "text")))
        .collect()
}

/// The ids of the collection's chunks, as listed.
async fn listed(store: &dyn VectorStore, spec: &CollectionSpec) -> Vec<String> {
    let chunks = store.list(spec, 100, 0).await.unwrap();
    chunks.into_iter().map(|c| c.id).collect()
}

pub async fn delete_files_removes_exactly_those_files(store: Arc<dyn VectorStore>) {
    let spec = fresh(store.as_ref()).await;
    let chunks = files_chunks(&["a", "b", "c"], 3);
    store.upsert(&spec, chunks).await.unwrap();
    let n = store
        .delete_files(&spec, &["a".into(), "c".into(), "zzz".into()])
        .await
        .unwrap();
    assert_eq!(n, 6);
    let left = listed(store.as_ref(), &spec).await;
    assert_eq!(left, ["b:0", "b:1", "b:2"]);
    let hits = store
        .search(&spec, &request(SearchQuery::Vector(vector(0)), 10))
        .await
        .unwrap();
    assert!(hits.iter().all(|h| h.chunk.file_id == "b"));
    store.drop_collection(&spec).await.unwrap();
}

pub async fn trimming_files_keeps_each_ones_chunks_below_its_count(store: Arc<dyn VectorStore>) {
    let spec = fresh(store.as_ref()).await;
    let chunks = files_chunks(&["a", "b", "c"], 4);
    store.upsert(&spec, chunks).await.unwrap();
    let files = [
        ("a".to_string(), 2),
        ("c".to_string(), 0),
        ("zzz".to_string(), 1),
    ];
    assert_eq!(store.trim_files(&spec, &files).await.unwrap(), 6);
    let left = listed(store.as_ref(), &spec).await;
    assert_eq!(left, ["a:0", "a:1", "b:0", "b:1", "b:2", "b:3"]);
    assert_eq!(store.trim_files(&spec, &[]).await.unwrap(), 0);
    store.drop_collection(&spec).await.unwrap();
    let missing = store.trim_files(&spec, &files).await.unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
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
