//! Failures map to the right [`store_core::ErrorKind`].

use serde_json::json;
use store_core::testkit::{DIM, chunk, fresh, unique_spec, vector};
use store_core::{CollectionSpec, ErrorKind, VectorStore};
use store_pgvector::{PgVectorOptions, PgVectorStore};

use crate::{pool, store};

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Nothing listens on port 1 of the loopback address.
    let Err(err) = store_pgvector::connect(
        "postgres://nobody@127.0.0.1:1/nothing",
        1,
        &PgVectorOptions::default(),
    )
    .await
    else {
        panic!("connected to a closed port");
    };
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    let err = store_pgvector::migrate("postgres://nobody@127.0.0.1:1/nothing")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}

#[tokio::test]
async fn a_text_search_configuration_that_is_not_a_name_stops_connecting() {
    let options = PgVectorOptions {
        text_search_config: "english'; DROP TABLE tenants; --".into(),
        ..PgVectorOptions::default()
    };
    let Err(err) = store_pgvector::connect(&crate::database_url(), 1, &options).await else {
        panic!("connected with a configuration name that is SQL");
    };
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert!(
        matches!(
            &err,
            store_core::StoreError::InvalidInput {
                field: Some(store_core::Field::Setting(s)),
                ..
            } if s == "storage.pgvector.text_search_config"
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_missing_collection_is_not_found_by_its_name() {
    let store = store().await;
    let spec = CollectionSpec::new("t_never_created_here", DIM).unwrap();
    for err in [
        store.count(&spec).await.unwrap_err(),
        store.usage_bytes(&spec).await.unwrap_err(),
        store.file_chunks(&spec, "f").await.unwrap_err(),
        store.delete_files(&spec, &["f".into()]).await.unwrap_err(),
        store
            .search(
                &spec,
                &store_core::testkit::request(store_core::SearchQuery::Keyword("x".into()), 0),
            )
            .await
            .unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
        assert!(err.to_string().contains("t_never_created_here"), "{err}");
    }
}

#[tokio::test]
async fn a_different_dimension_for_an_existing_collection_is_a_conflict() {
    let store = store().await;
    let spec = fresh(store.as_ref()).await;
    let err = store
        .create_collection(&CollectionSpec::new(&spec.name, DIM + 1).unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conflict, "{err}");
    store.drop_collection(&spec).await.unwrap();
}

#[tokio::test]
async fn names_that_are_not_plain_identifiers_and_bad_dimensions_are_invalid() {
    let store = store().await;
    for (name, dimension) in [
        ("Robert'); DROP TABLE tenants; --", DIM),
        ("UPPER", DIM),
        ("ok_name", 0),
        ("ok_name", 2001),
    ] {
        // A bad name is refused before it reaches the store, a bad dimension by the store.
        let err = match CollectionSpec::new(name, dimension) {
            Ok(spec) => store.create_collection(&spec).await.unwrap_err(),
            Err(e) => e,
        };
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{name}: {err}");
    }
}

#[tokio::test]
async fn non_finite_vectors_are_invalid_and_nothing_is_written() {
    let store = store().await;
    let spec = fresh(store.as_ref()).await;
    let mut v = vector(1);
    v[2] = f32::NAN;
    let err = store
        .upsert(
            &spec,
            vec![
                chunk("ok", "x", vector(2), json!({})),
                chunk("nan", "x", v, json!({})),
            ],
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert_eq!(store.count(&spec).await.unwrap(), 0);
    store.drop_collection(&spec).await.unwrap();
}

#[tokio::test]
async fn concurrent_creates_of_one_collection_all_succeed() {
    let pool = pool().await;
    let a = PgVectorStore::new(pool.clone());
    let b = PgVectorStore::new(pool);
    let spec = unique_spec();
    let (x, y) = tokio::join!(a.create_collection(&spec), b.create_collection(&spec));
    x.unwrap();
    y.unwrap();
    a.drop_collection(&spec).await.unwrap();
}

#[tokio::test]
async fn a_large_upsert_spans_several_batches_in_one_transaction() {
    let pool = pool().await;
    let store = PgVectorStore::with_options(
        pool,
        PgVectorOptions {
            upsert_batch: 7,
            ..PgVectorOptions::default()
        },
    );
    let spec = fresh(&store).await;
    let chunks = (0..100u64)
        .map(|i| chunk(&format!("b{i:03}"), "batched", vector(i), json!({"i": i})))
        .collect();
    assert_eq!(store.upsert(&spec, chunks).await.unwrap(), 100);
    assert_eq!(store.count(&spec).await.unwrap(), 100);
    let rows = store.list(&spec, 1000, 0).await.unwrap();
    assert_eq!(rows.len(), 100);
    assert_eq!(rows[42].attributes["i"], json!(42));
    // A NUL character, which PostgreSQL cannot store, in a later batch: nothing is written.
    let mut chunks: Vec<_> = (0..20u64)
        .map(|i| chunk(&format!("n{i:03}"), "new", vector(i), json!({})))
        .collect();
    chunks[15].text = "nul \u{0} byte".into();
    let err = store.upsert(&spec, chunks).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    assert_eq!(store.count(&spec).await.unwrap(), 100, "all or nothing");
    store.drop_collection(&spec).await.unwrap();
}

#[tokio::test]
async fn a_store_over_a_pool_with_other_session_settings_sets_its_own_per_search() {
    // Connections that start with a narrow search (ef_search 10, few tuples scanned) ...
    let pool = store_pgvector::connect(
        &crate::database_url(),
        2,
        &PgVectorOptions {
            ef_search: 10,
            max_scan_tuples: 10,
            ..PgVectorOptions::default()
        },
    )
    .await
    .unwrap();
    // ... still fill k under a selective filter for a store with the default options.
    let store: std::sync::Arc<dyn VectorStore> = std::sync::Arc::new(PgVectorStore::with_options(
        pool,
        PgVectorOptions::default(),
    ));
    store_core::testkit::cases::a_selective_filter_still_returns_k_hits(store).await;
}

#[tokio::test]
async fn a_statement_over_the_timeout_is_cancelled_by_the_server() {
    use diesel_async::RunQueryDsl;
    pool().await; // migrated
    let options = PgVectorOptions {
        statement_timeout_ms: 200,
        ..PgVectorOptions::default()
    };
    let pool = store_pgvector::connect(&crate::database_url(), 1, &options)
        .await
        .unwrap();
    let mut conn = pool.get().await.unwrap();
    let started = std::time::Instant::now();
    let err = diesel::sql_query("SELECT pg_sleep(5)")
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("statement timeout"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
}
