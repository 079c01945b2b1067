//! Creating, dropping and emptying collections; what every back-end refuses.

use crate::testkit::*;

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

pub async fn a_missing_collection_is_not_found(store: Arc<dyn VectorStore>) {
    let spec = unique_spec();
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

pub async fn every_back_end_refuses_the_same_edges_and_writes_nothing(store: Arc<dyn VectorStore>) {
    use crate::limits::{MAX_ATTRIBUTE_STRING_UNITS as MAX_UNITS, MAX_TEXT_BYTES};
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
    long_value.attributes = json!({"k": "v".repeat(MAX_UNITS + 1)})
        .as_object()
        .cloned()
        .unwrap();
    // Fewer characters than the limit, more UTF-16 units: what Elasticsearch counts.
    let mut long_emoji = ok();
    long_emoji.attributes = json!({"k": "😀".repeat(MAX_UNITS.div_ceil(2))})
        .as_object()
        .cloned()
        .unwrap();
    for (what, bad) in [
        ("NUL in text", nul_text),
        ("NUL in an attribute key", nul_key),
        ("an id of 800 bytes", emoji_id),
        ("text over the cap", long_text),
        ("an attribute string over the keyword limit", long_value),
        (
            "an attribute string of emoji over the keyword limit",
            long_emoji,
        ),
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
    let emoji_at_edge = format!("{}v", "😀".repeat(MAX_UNITS / 2));
    at_edges.attributes = json!({"k": "v".repeat(MAX_UNITS), "e": emoji_at_edge})
        .as_object()
        .cloned()
        .unwrap();
    store.upsert(&spec, vec![at_edges]).await.unwrap();
    assert_eq!(store.count(&spec).await.unwrap(), 1);
    let mut req = request(SearchQuery::Keyword("word".into()), 5);
    req.filter = Some(
        Filter::from_json(&json!({"type": "eq", "key": "k", "value": "v".repeat(512)})).unwrap(),
    );
    // A filter string of 512 characters does not equal the 8191 stored: no hit, no error.
    assert!(store.search(&spec, &req).await.unwrap().is_empty());
    // The longest strings are indexed for filters on every back-end, emoji or not.
    for key in ["k", "e"] {
        req.filter =
            Some(Filter::from_json(&json!({"type": "gt", "key": key, "value": "a"})).unwrap());
        let hits = store.search(&spec, &req).await.unwrap();
        assert_eq!(
            hits.len(),
            1,
            "a range on the longest {key} string finds it"
        );
    }
    store.drop_collection(&spec).await.unwrap();
}
