//! Searches without a filter run through statements each connection keeps prepared.

use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use serde_json::json;
use store_core::testkit::{chunk, fresh, request, vector};
use store_core::{Filter, SearchQuery, VectorStore};
use store_pgvector::{PgVectorOptions, PgVectorStore};

use crate::database_url;

#[derive(QueryableByName)]
struct Statement {
    #[diesel(sql_type = Text)]
    statement: String,
}

#[tokio::test]
async fn unfiltered_searches_reuse_one_prepared_statement_per_table_and_mode() {
    crate::pool().await; // migrated
    // One connection, so every query below runs on it.
    let pool = store_pgvector::connect(&database_url(), 1, &PgVectorOptions::default())
        .await
        .unwrap();
    let store = PgVectorStore::new(pool.clone());
    let spec = fresh(&store).await;
    let rows = || {
        vec![
            chunk("a", "amber lantern", vector(1), json!({"n": 1})),
            chunk("b", "brass lantern", vector(2), json!({"n": 2})),
        ]
    };
    store.upsert(&spec, rows()).await.unwrap();
    let by_vector = request(SearchQuery::Vector(vector(1)), 2);
    let by_keyword = request(SearchQuery::Keyword("lantern".into()), 2);
    let mut filtered = request(SearchQuery::Vector(vector(2)), 2);
    filtered.filter =
        Some(Filter::from_json(&json!({"type": "eq", "key": "n", "value": 2})).unwrap());
    for _ in 0..3 {
        assert_eq!(
            store.search(&spec, &by_vector).await.unwrap()[0].chunk.id,
            "a"
        );
        assert_eq!(store.search(&spec, &by_keyword).await.unwrap().len(), 2);
        let hits = store.search(&spec, &filtered).await.unwrap();
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].chunk.id, "b");
    }
    let kept = |pool: store_pgvector::Pool, table: String| async move {
        let mut conn = pool.get().await.unwrap();
        let all: Vec<Statement> = diesel::sql_query("SELECT statement FROM pg_prepared_statements")
            .load(&mut conn)
            .await
            .unwrap();
        all.into_iter()
            .filter(|s| s.statement.contains(&table))
            .map(|s| s.statement)
            .collect::<Vec<_>>()
    };
    let statements = kept(pool.clone(), spec.name.to_string()).await;
    assert_eq!(statements.len(), 2, "{statements:#?}");
    assert!(statements.iter().any(|s| s.contains("embedding <=> $1")));
    assert!(
        statements
            .iter()
            .any(|s| s.contains("to_tsvector($1::regconfig, $2)"))
    );

    // The table dropped and made again under the same name: the kept statements still serve.
    store.drop_collection(&spec).await.unwrap();
    store.create_collection(&spec).await.unwrap();
    store.upsert(&spec, rows()).await.unwrap();
    assert_eq!(
        store.search(&spec, &by_vector).await.unwrap()[0].chunk.id,
        "a"
    );
    assert_eq!(store.search(&spec, &by_keyword).await.unwrap().len(), 2);
    store.drop_collection(&spec).await.unwrap();
}

#[derive(QueryableByName)]
struct Backend {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

#[tokio::test]
async fn a_connection_is_replaced_after_its_uses() {
    let pool = store_pgvector::connect(&database_url(), 1, &PgVectorOptions::default())
        .await
        .unwrap();
    let pid = |pool: store_pgvector::Pool| async move {
        let mut conn = pool.get().await.unwrap();
        let b: Backend = diesel::sql_query("SELECT pg_backend_pid() AS pid")
            .get_result(&mut conn)
            .await
            .unwrap();
        b.pid
    };
    let first = pid(pool.clone()).await;
    assert_eq!(
        pid(pool.clone()).await,
        first,
        "the one connection is reused"
    );
    for _ in 0..store_pgvector::MAX_CONNECTION_USES {
        drop(pool.get().await.unwrap());
    }
    assert_ne!(
        pid(pool.clone()).await,
        first,
        "a new connection after its uses"
    );
}
