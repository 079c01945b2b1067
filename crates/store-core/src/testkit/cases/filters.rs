//! Attribute filters, against the reference semantics.

use crate::testkit::*;

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
