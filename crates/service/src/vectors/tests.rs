//! `VectorService` over mocks of the catalog, the back-ends and the models.

use embeddings::MockEmbedder;
use models::SearchMode;
use serde_json::Map;
use store_core::{DocumentPart, Hit, MockCatalog, MockVectorStore, SearchQuery, Tenant, now_unix};

use super::*;

fn tenant() -> Tenant {
    Tenant::new("t1", "acme")
}

fn record(model: Option<&str>) -> CollectionRecord {
    crate::testing::store_record(model, 3)
}

fn service(catalog: MockCatalog, store: MockVectorStore, embedder: MockEmbedder) -> VectorService {
    let stores = StoreRegistry::new(vec![Arc::new(store)], "pgvector").unwrap();
    let embedders = EmbedderRegistry::new(vec![Arc::new(embedder)], "m").unwrap();
    VectorService::new(
        Arc::new(catalog),
        stores,
        embedders,
        HybridOptions::default(),
    )
}

fn store() -> MockVectorStore {
    let mut s = MockVectorStore::new();
    s.expect_name().return_const("pgvector");
    s
}

fn embedder() -> MockEmbedder {
    let mut e = MockEmbedder::new();
    e.expect_model().return_const("m".to_string());
    e.expect_dimension().return_const(3usize);
    e.expect_max_input_tokens().return_const(256usize);
    e
}

fn doc(id: &str, vector: Option<Vec<f32>>) -> DocumentInput {
    DocumentInput {
        id: id.into(),
        file_id: id.into(),
        filename: None,
        chunk_index: 0,
        text: format!("text of {id}"),
        vector,
        attributes: Map::new(),
    }
}

#[tokio::test]
async fn a_failed_backend_create_removes_the_catalog_record() {
    let mut catalog = MockCatalog::new();
    catalog.expect_create_collection().returning(Ok);
    catalog
        .expect_delete_collection()
        .times(1)
        .returning(|_, _| Ok(()));
    let mut s = store();
    s.expect_create_collection().returning(|_| {
        Err(StoreError::unavailable(
            "down",
            std::io::Error::other("refused"),
        ))
    });
    let svc = service(catalog, s, embedder());
    let input = CreateCollectionInput {
        collection: "docs".into(),
        model: Some("m".into()),
        ..Default::default()
    };
    let err = svc.create_collection(&tenant(), input).await.unwrap_err();
    assert!(matches!(err, ServiceError::Unavailable { .. }), "{err:?}");
}

#[tokio::test]
async fn a_model_and_a_different_dimension_are_rejected() {
    let svc = service(MockCatalog::new(), store(), embedder());
    let input = CreateCollectionInput {
        collection: "docs".into(),
        model: Some("m".into()),
        dimension: Some(5),
        ..Default::default()
    };
    let err = svc.create_collection(&tenant(), input).await.unwrap_err();
    assert_eq!(err.field(), Some(&Field::Dimension));
}

#[tokio::test]
async fn an_unknown_model_is_the_model_field_s_fault() {
    let svc = service(MockCatalog::new(), store(), embedder());
    let input = CreateCollectionInput {
        collection: "docs".into(),
        model: Some("nope".into()),
        ..Default::default()
    };
    let err = svc.create_collection(&tenant(), input).await.unwrap_err();
    assert_eq!(err.field(), Some(&Field::Model));
}

#[tokio::test]
async fn only_documents_without_vectors_are_embedded() {
    let mut e = embedder();
    e.expect_embed()
        .withf(|texts| texts == ["text of b".to_string()])
        .returning(|_| Ok(vec![vec![0.0, 1.0, 0.0]]));
    let mut s = store();
    s.expect_upsert()
        .withf(|_, chunks| {
            chunks.len() == 2
                && chunks[0].vector == vec![1.0, 0.0, 0.0]
                && chunks[1].vector == vec![0.0, 1.0, 0.0]
        })
        .returning(|_, c| Ok(c.len() as u64));
    // The write is recorded as one that may have changed the collection's usage.
    let mut catalog = MockCatalog::new();
    catalog
        .expect_chunks_changed()
        .withf(|id| id == "vs_1")
        .times(1)
        .returning(|_| Ok(()));
    let svc = service(catalog, s, e);
    let n = svc
        .upsert(
            &record(Some("m")),
            vec![doc("a", Some(vec![1.0, 0.0, 0.0])), doc("b", None)],
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
}

#[tokio::test]
async fn a_text_the_model_gives_no_direction_is_refused_by_its_field() {
    let mut e = embedder();
    e.expect_embed()
        .returning(|texts| Ok(texts.iter().map(|_| vec![0.0, 0.0, 0.0]).collect()));
    let svc = service(MockCatalog::new(), store(), e);
    let docs = vec![doc("a", Some(vec![1.0, 0.0, 0.0])), doc("b", None)];
    let err = svc.upsert(&record(Some("m")), docs).await.unwrap_err();
    assert_eq!(
        err.field(),
        Some(&Field::Document {
            index: 1,
            part: DocumentPart::Text
        })
    );
    assert!(err.to_string().contains("no word that model"), "{err}");
    let input = SearchInput {
        mode: SearchMode::Vector,
        text: Some("🐋".into()),
        vector: None,
        filter: None,
        k: 3,
        score_threshold: None,
        weights: None,
        rerank: false,
    };
    let err = svc.search(&record(Some("m")), input).await.unwrap_err();
    assert_eq!(err.field(), Some(&Field::Query));
}

#[tokio::test]
async fn an_over_long_text_is_named_by_its_document_index() {
    let mut e = embedder();
    e.expect_embed().returning(|_| {
        Err(EmbedError::InputTooLong {
            index: 1,
            tokens: 300,
            max: 256,
        })
    });
    let svc = service(MockCatalog::new(), store(), e);
    let docs = vec![
        doc("a", Some(vec![1.0, 0.0, 0.0])),
        doc("b", None),
        doc("c", None),
    ];
    let err = svc.upsert(&record(Some("m")), docs).await.unwrap_err();
    assert_eq!(
        err.field(),
        Some(&Field::Document {
            index: 2,
            part: DocumentPart::Text
        })
    );
    assert!(err.to_string().contains("300"));
}

#[tokio::test]
async fn wrong_dimension_zero_and_non_finite_vectors_never_reach_the_store() {
    let svc = service(MockCatalog::new(), store(), embedder());
    for v in [vec![1.0, 0.0], vec![0.0, 0.0, 0.0]] {
        let err = svc
            .upsert(&record(None), vec![doc("a", Some(v))])
            .await
            .unwrap_err();
        assert_eq!(
            err.field(),
            Some(&Field::Document {
                index: 0,
                part: DocumentPart::Vector
            })
        );
    }
    let input = SearchInput {
        mode: SearchMode::Vector,
        text: None,
        vector: Some(vec![f32::NAN, 1.0, 1.0]),
        filter: None,
        k: 3,
        score_threshold: None,
        weights: None,
        rerank: false,
    };
    assert!(svc.search(&record(None), input).await.is_err());
}

#[tokio::test]
async fn text_into_a_collection_without_a_model_is_a_client_error() {
    let svc = service(MockCatalog::new(), store(), embedder());
    let err = svc
        .upsert(&record(None), vec![doc("a", None)])
        .await
        .unwrap_err();
    assert!(err.is_caller_fault(), "{err:?}");
    assert!(err.to_string().contains("no embedding model"));
}

#[tokio::test]
async fn naming_another_backend_says_where_the_collection_lives() {
    let mut catalog = MockCatalog::new();
    catalog
        .expect_get_collection_by_name()
        .returning(|_, _| Ok(record(Some("m"))));
    let mut s1 = store();
    s1.expect_name().return_const("pgvector");
    let mut s2 = MockVectorStore::new();
    s2.expect_name().return_const("elasticsearch");
    let stores = StoreRegistry::new(vec![Arc::new(s1), Arc::new(s2)], "pgvector").unwrap();
    let embedders = EmbedderRegistry::new(vec![Arc::new(embedder())], "m").unwrap();
    let svc = VectorService::new(
        Arc::new(catalog),
        stores,
        embedders,
        HybridOptions::default(),
    );
    let err = svc
        .collection(&tenant(), "docs", Some("elasticsearch"))
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some(&Field::Backend));
    assert!(err.to_string().contains("'pgvector'"), "{err}");
}

#[tokio::test]
async fn an_expired_collection_refuses_searches() {
    let svc = service(MockCatalog::new(), store(), embedder());
    let mut r = record(Some("m"));
    r.expires_after_days = Some(1);
    r.last_active_at = now_unix() - 2 * 86_400;
    let input = SearchInput {
        mode: SearchMode::Keyword,
        text: Some("x".into()),
        vector: None,
        filter: None,
        k: 3,
        score_threshold: None,
        weights: None,
        rerank: false,
    };
    let err = svc.search(&r, input).await.unwrap_err();
    assert!(err.to_string().contains("expired"));
}

fn expired(id: &str) -> CollectionRecord {
    let mut r = record(Some("m"));
    r.id = id.into();
    r.expires_after_days = Some(1);
    r.last_active_at = now_unix() - 2 * 86_400;
    r
}

#[tokio::test]
async fn the_sweep_frees_expired_collections_and_marks_only_those_it_freed() {
    let mut catalog = MockCatalog::new();
    catalog.expect_expired_collections().returning(|_, _, _| {
        Ok(vec![
            expired("vs_gone"),
            expired("vs_fails"),
            expired("vs_ok"),
        ])
    });
    catalog
        .expect_mark_chunks_freed()
        .withf(|id, _| id == "vs_gone" || id == "vs_ok")
        .times(2)
        .returning(|_, _| Ok(()));
    // Every store whose chunks were deleted, or may have been in part, is counted again.
    catalog
        .expect_chunks_changed()
        .times(3)
        .returning(|_| Ok(()));
    let mut s = store();
    s.expect_delete_all()
        .returning(|spec| match spec.name.as_str() {
            "vs_gone" => Err(StoreError::not_found("collection", "vs_gone")),
            "vs_fails" => Err(StoreError::Unavailable {
                message: "down".into(),
                source: None,
            }),
            _ => Ok(7),
        });
    let svc = service(catalog, s, embedder());
    assert_eq!(svc.sweep_expired(100).await.unwrap(), 2);
}

/// `n` stores, `vs_1` … `vs_n`, of the model `m`.
fn stores(n: usize) -> Vec<CollectionRecord> {
    (1..=n)
        .map(|i| CollectionRecord {
            id: format!("vs_{i}"),
            ..record(Some("m"))
        })
        .collect()
}

/// A search of `mode` for `k` hits, with nothing else asked.
fn template(mode: SearchMode, k: usize) -> SearchInput {
    SearchInput {
        mode,
        text: None,
        vector: None,
        filter: None,
        k,
        score_threshold: None,
        weights: None,
        rerank: false,
    }
}

#[tokio::test]
async fn several_stores_are_searched_with_each_query_embedded_once_per_model() {
    let mut e = embedder();
    e.expect_embed()
        .times(2)
        .returning(|texts| Ok(texts.iter().map(|_| vec![1.0, 0.0, 0.0]).collect()));
    let mut s = store();
    // Each store's hit scores by the store (vs_1 0.1, vs_2 0.2, vs_3 0.3).
    s.expect_search().times(6).returning(|spec, request| {
        assert!(matches!(&request.mode, SearchQuery::Vector(v) if v == &[1.0, 0.0, 0.0]));
        let n: f32 = spec.name.as_str()[3..].parse().unwrap();
        Ok(vec![Hit::sample(&format!("{}-c", spec.name), n / 10.0)])
    });
    let svc = service(MockCatalog::new(), s, e);
    let stores = stores(3);
    let template = template(SearchMode::Vector, 2);
    let hits = svc
        .search_stores(&stores, vec!["a".into(), "b".into()], template)
        .await
        .unwrap();
    let found: Vec<(&str, f32)> = hits.iter().map(|(s, h)| (s.as_str(), h.score)).collect();
    assert_eq!(found, [("vs_3", 0.3), ("vs_2", 0.2)]);
}

#[tokio::test]
async fn the_best_hits_of_many_stores_survive_what_is_cut_on_the_way() {
    let mut e = embedder();
    e.expect_embed()
        .times(1)
        .returning(|texts| Ok(texts.iter().map(|_| vec![1.0, 0.0, 0.0]).collect()));
    let mut s = store();
    // Store vs_i holds three hits scoring about i / 100, the stores come shuffled: the best
    // are vs_39's, then vs_38's.
    s.expect_search().times(40).returning(|spec, _| {
        let n: f32 = spec.name.as_str()[3..].parse().unwrap();
        Ok((0..3)
            .map(|j| Hit::sample(&format!("{}-{j}", spec.name), (n + j as f32 / 10.0) / 100.0))
            .collect())
    });
    let svc = service(MockCatalog::new(), s, e);
    let stores: Vec<CollectionRecord> = (0..40)
        .map(|i| CollectionRecord {
            id: format!("vs_{}", (i * 37) % 40),
            ..record(Some("m"))
        })
        .collect();
    let hits = svc
        .search_stores(&stores, vec!["q".into()], template(SearchMode::Vector, 4))
        .await
        .unwrap();
    let found: Vec<&str> = hits.iter().map(|(_, h)| h.chunk.id.as_str()).collect();
    assert_eq!(found, ["vs_39-2", "vs_39-1", "vs_39-0", "vs_38-2"]);
}

#[tokio::test]
async fn the_hits_of_several_queries_are_cut_to_the_response_together_as_json() {
    use crate::vectors::search::json_len;

    assert_eq!(json_len("a\"é\u{1}\n"), 1 + 2 + 2 + 6 + 6);
    let mut e = embedder();
    e.expect_embed()
        .returning(|texts| Ok(texts.iter().map(|_| vec![1.0, 0.0, 0.0]).collect()));
    let mut s = store();
    // Each query finds a chunk of 100 control characters, 600 bytes as JSON.
    let n = std::sync::atomic::AtomicUsize::new(0);
    s.expect_search().returning(move |_, _| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut hit = Hit::sample(&format!("c{i}"), 0.5);
        hit.chunk.text = "\u{1}".repeat(100);
        Ok(vec![hit])
    });
    let limits = Limits {
        max_response_bytes: 1000,
        ..Limits::default()
    };
    let svc = service(MockCatalog::new(), s, e).with_limits(limits);
    let queries = vec!["a".to_string(), "b".to_string()];
    let one = svc
        .search_many(
            &record(Some("m")),
            queries.clone(),
            template(SearchMode::Vector, 10),
        )
        .await
        .unwrap();
    assert_eq!(one.len(), 1, "two hits of 600 bytes are over 1000");
    let several = svc
        .search_stores(&stores(2), queries, template(SearchMode::Vector, 10))
        .await
        .unwrap();
    assert_eq!(several.len(), 1);
}

#[tokio::test]
async fn embeddings_whose_answer_would_be_over_the_response_limit_are_refused_unembedded() {
    // The mock expects no embedding: 3 inputs of 3 numbers may take 144 bytes, over 100.
    let limits = Limits {
        max_response_bytes: 100,
        ..Limits::default()
    };
    let svc = service(MockCatalog::new(), store(), embedder()).with_limits(limits);
    let input = models::openai::EmbeddingInput::Texts(vec!["a".into(), "b".into(), "c".into()]);
    let err = svc
        .embed(crate::EmbedInput {
            model: "m".into(),
            input,
            dimensions: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.field(), Some(&Field::Input(None)), "{err}");
    assert!(err.to_string().contains("send fewer inputs"), "{err}");
}

#[tokio::test]
async fn more_stores_than_one_search_reaches_are_refused_before_any_is_searched() {
    // The mocks expect no embedding and no search.
    let svc = service(MockCatalog::new(), store(), embedder());
    let err = svc
        .search_stores(
            &stores(51),
            vec!["q".into()],
            template(SearchMode::Hybrid, 10),
        )
        .await
        .unwrap_err();
    assert!(err.is_caller_fault(), "{err}");
    assert!(
        err.to_string().contains("at most 50 vector stores"),
        "{err}"
    );
    assert!(
        svc.search_stores(&stores(50), vec![], template(SearchMode::Vector, 1))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_hybrid_search_of_several_stores_fuses_their_hits_together() {
    let mut e = embedder();
    e.expect_embed()
        .times(1)
        .returning(|texts| Ok(texts.iter().map(|_| vec![1.0, 0.0, 0.0]).collect()));
    let mut s = store();
    // vs_1 holds a chunk that matches well; vs_2 one that matches poorly, though it is the
    // best of its store in both lists (so a hybrid search of vs_2 alone scores it 1).
    s.expect_search().times(4).returning(|spec, request| {
        let hit = match (spec.name.as_str(), &request.mode) {
            ("vs_1", SearchQuery::Vector(_)) => Hit::sample("c", 0.9),
            ("vs_1", SearchQuery::Keyword(_)) => Hit::sample("c", 0.8),
            ("vs_2", SearchQuery::Vector(_)) => Hit::sample("c", 0.55),
            ("vs_2", SearchQuery::Keyword(_)) => Hit::sample("c", 0.1),
            other => panic!("unexpected search {other:?}"),
        };
        // The same chunk id in two stores is two chunks.
        Ok(vec![hit])
    });
    let svc = service(MockCatalog::new(), s, e);
    let stores = stores(2);
    let template = template(SearchMode::Hybrid, 10);
    let hits = svc
        .search_stores(&stores, vec!["q".into()], template)
        .await
        .unwrap();
    let found: Vec<(&str, &str, f32)> = hits
        .iter()
        .map(|(s, h)| (s.as_str(), h.chunk.id.as_str(), h.score))
        .collect();
    assert_eq!(found, [("vs_1", "c", 1.0), ("vs_2", "c", 0.0)]);
}

#[tokio::test]
async fn a_blank_query_of_several_stores_is_refused_as_one_stores_is() {
    let svc = service(MockCatalog::new(), store(), embedder());
    let stores = stores(2);
    for mode in [SearchMode::Hybrid, SearchMode::Vector, SearchMode::Keyword] {
        let template = template(mode, 10);
        let one = svc
            .search_many(&stores[0], vec![" ".into()], template.clone())
            .await
            .unwrap_err();
        let several = svc
            .search_stores(&stores, vec![" ".into()], template)
            .await
            .unwrap_err();
        assert_eq!(several.to_string(), one.to_string(), "{mode:?}");
        assert!(several.is_caller_fault(), "{several}");
    }
}
