//! Filters, attributes and search text travel as bound parameters only: hostile keys and values
//! are stored, matched and searched for exactly, and nothing else happens.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use store_core::filter::matches;
use store_core::testkit::{chunk, fresh, request, vector};
use store_core::{Catalog, Filter, SearchQuery};
use store_pgvector::PgCatalog;

use crate::{pool, store};

const EVIL_KEY: &str = "k'); DROP TABLE tenants; --";
const EVIL_VALUES: [&str; 6] = [
    "'; DROP TABLE api_keys; --",
    "\" OR 1=1 --",
    "$1 $2 ::jsonb \\' \\\\",
    "}{ ]['",
    "x' || pg_sleep(5) || '",
    "%s %d {}",
];

#[tokio::test]
async fn hostile_filter_keys_and_values_match_exactly_and_harm_nothing() {
    let store = store().await;
    let spec = fresh(store.as_ref()).await;
    let mut data = Vec::new();
    for (i, v) in EVIL_VALUES.iter().enumerate() {
        data.push(chunk(
            &format!("e{i}"),
            v,
            vector(i as u64),
            json!({ EVIL_KEY: v, "list": [v, "plain"] }),
        ));
    }
    data.push(chunk(
        "plain",
        "plain text",
        vector(99),
        json!({"other": 1}),
    ));
    store.upsert(&spec, data.clone()).await.unwrap();

    let mut filters: Vec<Value> = Vec::new();
    for v in EVIL_VALUES {
        filters.push(json!({"type": "eq", "key": EVIL_KEY, "value": v}));
        filters.push(json!({"type": "ne", "key": EVIL_KEY, "value": v}));
        filters.push(json!({"type": "eq", "key": "list", "value": v}));
        filters.push(json!({"type": "gt", "key": EVIL_KEY, "value": v}));
        filters.push(json!({"type": "lte", "key": "list", "value": v}));
    }
    filters.push(json!({"type": "in", "key": EVIL_KEY, "value": EVIL_VALUES}));
    filters.push(json!({"type": "nin", "key": EVIL_KEY, "value": EVIL_VALUES}));
    for raw in filters {
        let filter = Filter::from_json(&raw).expect("valid filter");
        let expected: BTreeSet<String> = data
            .iter()
            .filter(|c| matches(&filter, &c.attributes))
            .map(|c| c.id.clone())
            .collect();
        let mut req = request(SearchQuery::Vector(vector(1)), 100);
        req.filter = Some(filter);
        let got: BTreeSet<String> = store
            .search(&spec, &req)
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.chunk.id)
            .collect();
        assert_eq!(got, expected, "filter {raw}");
    }
    // The one with a given value is exactly that one, attributes intact.
    let mut req = request(SearchQuery::Vector(vector(1)), 100);
    req.filter = Some(
        Filter::from_json(&json!({"type": "eq", "key": EVIL_KEY, "value": EVIL_VALUES[0]}))
            .unwrap(),
    );
    let hits = store.search(&spec, &req).await.unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].chunk.text, EVIL_VALUES[0]);
    assert_eq!(hits[0].chunk.attributes[EVIL_KEY], json!(EVIL_VALUES[0]));

    // Nothing was dropped.
    assert_eq!(store.count(&spec).await.unwrap(), 7);
    let catalog = PgCatalog::new(pool().await);
    catalog.ensure_tenant("injection-probe").await.unwrap();
    catalog.list_api_keys().await.unwrap();
    store.drop_collection(&spec).await.unwrap();
}

#[tokio::test]
async fn any_search_text_is_a_query_not_syntax() {
    let store = store().await;
    let spec = fresh(store.as_ref()).await;
    store
        .upsert(
            &spec,
            vec![
                chunk("a", "alpha & beta | gamma", vector(1), json!({})),
                chunk(
                    "b",
                    "well-known o'neil c++ foo@example.com",
                    vector(2),
                    json!({}),
                ),
            ],
        )
        .await
        .unwrap();
    let texts = [
        "a & b",
        "a | b",
        "!alpha",
        "alpha:*",
        "'",
        "''",
        "\\",
        "(",
        ")",
        "<->",
        "<2>",
        "\"quoted phrase\"",
        "&amp;",
        "1.5e10",
        "o'neil",
        "well-known",
        "foo@example.com",
        "https://example.com/x?y=1&z=2",
        "'; DROP TABLE tenants; --",
        "",
        "   ",
        "the a an",
        "🍮 東京",
    ];
    for text in texts {
        for mode in [
            SearchQuery::Keyword(text.into()),
            SearchQuery::Hybrid {
                vector: vector(1),
                text: text.into(),
            },
        ] {
            let hits = store.search(&spec, &request(mode.clone(), 5)).await;
            assert!(hits.is_ok(), "{mode:?}: {hits:?}");
        }
    }
    let hits = store
        .search(&spec, &request(SearchQuery::Keyword("o'neil".into()), 5))
        .await
        .unwrap();
    assert_eq!(hits.first().map(|h| h.chunk.id.as_str()), Some("b"));
    let hits = store
        .search(
            &spec,
            &request(SearchQuery::Keyword("well-known".into()), 5),
        )
        .await
        .unwrap();
    assert_eq!(hits.first().map(|h| h.chunk.id.as_str()), Some("b"));
    store.drop_collection(&spec).await.unwrap();
}
