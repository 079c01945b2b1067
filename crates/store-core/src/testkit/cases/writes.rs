//! Upserts and listings: what is written is read back, by id, in order.

use crate::testkit::*;

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

pub async fn repeated_ids_in_one_upsert_count_once_and_the_last_wins(store: Arc<dyn VectorStore>) {
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
    req.filter =
        Some(Filter::from_json(&json!({"type": "eq", "key": "città", "value": "Zürich"})).unwrap());
    assert_eq!(ids(&store.search(&spec, &req).await.unwrap()), ["üñí"]);
    store.drop_collection(&spec).await.unwrap();
}
