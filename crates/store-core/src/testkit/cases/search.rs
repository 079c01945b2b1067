//! Vector, keyword and hybrid search: ranking, k and the score threshold.

use crate::testkit::*;

pub async fn k_and_threshold_are_bounded_alike_and_k_zero_finds_nothing(
    store: Arc<dyn VectorStore>,
) {
    let spec = fresh(store.as_ref()).await;
    store
        .upsert(&spec, vec![chunk("a", "words", vector(1), json!({}))])
        .await
        .unwrap();
    let at_most = store
        .search(
            &spec,
            &request(SearchQuery::Vector(vector(1)), crate::MAX_K),
        )
        .await
        .unwrap();
    assert_eq!(ids(&at_most), ["a"]);
    let over = store
        .search(
            &spec,
            &request(SearchQuery::Vector(vector(1)), crate::MAX_K + 1),
        )
        .await
        .unwrap_err();
    assert_eq!(over.kind(), ErrorKind::InvalidInput);
    let zero = store
        .search(&spec, &request(SearchQuery::Keyword("words".into()), 0))
        .await
        .unwrap();
    assert!(zero.is_empty());
    let mut bad_threshold = request(SearchQuery::Vector(vector(1)), 3);
    bad_threshold.score_threshold = Some(1.5);
    let err = store.search(&spec, &bad_threshold).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let zero_vector = vec![0.0; DIM];
    let err = store
        .search(&spec, &request(SearchQuery::Vector(zero_vector.clone()), 3))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    let err = store
        .upsert(&spec, vec![chunk("z", "zero", zero_vector, json!({}))])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(
        store.count(&spec).await.unwrap(),
        1,
        "nothing more was written"
    );
    store.drop_collection(&spec).await.unwrap();
    let gone = store
        .search(&spec, &request(SearchQuery::Vector(vector(1)), 0))
        .await
        .unwrap_err();
    assert_eq!(
        gone.kind(),
        ErrorKind::NotFound,
        "k = 0 still needs the collection"
    );
}

pub async fn vector_search_ranks_the_exact_vector_first(store: Arc<dyn VectorStore>) {
    let spec = fresh(store.as_ref()).await;
    let chunks: Vec<Chunk> = (0..30)
        .map(|i| chunk(&format!("v{i}"), "text", vector(i), json!({})))
        .collect();
    store.upsert(&spec, chunks).await.unwrap();
    for target in [0u64, 7, 29] {
        let hits = store
            .search(&spec, &request(SearchQuery::Vector(vector(target)), 5))
            .await
            .unwrap();
        assert_eq!(hits.len(), 5);
        assert_eq!(hits[0].chunk.id, format!("v{target}"));
        assert!(
            (hits[0].score - 1.0).abs() < 1e-3,
            "exact match scores 1: {}",
            hits[0].score
        );
        assert_scores(&hits);
    }
    // The opposite vector scores near 0.
    let opposite: Vec<f32> = vector(3).iter().map(|x| -x).collect();
    let hits = store
        .search(&spec, &request(SearchQuery::Vector(opposite), 30))
        .await
        .unwrap();
    assert_eq!(hits.last().unwrap().chunk.id, "v3");
    assert!(hits.last().unwrap().score < 0.01);
    store.drop_collection(&spec).await.unwrap();
}

pub async fn every_mode_returns_at_most_k_hits(store: Arc<dyn VectorStore>) {
    let spec = fresh(store.as_ref()).await;
    let chunks: Vec<Chunk> = (0..12)
        .map(|i| {
            chunk(
                &format!("k{i:02}"),
                "common words here",
                vector(i),
                json!({}),
            )
        })
        .collect();
    store.upsert(&spec, chunks).await.unwrap();
    let modes = [
        SearchQuery::Vector(vector(3)),
        SearchQuery::Keyword("common words".into()),
        SearchQuery::Hybrid {
            vector: vector(3),
            text: "common words".into(),
        },
    ];
    for mode in modes {
        for (k, expected) in [(1, 1), (5, 5), (12, 12), (50, 12)] {
            let hits = store
                .search(&spec, &request(mode.clone(), k))
                .await
                .unwrap();
            assert_eq!(hits.len(), expected, "k = {k}, {mode:?}");
            assert_scores(&hits);
            let unique: BTreeSet<String> = ids(&hits).into_iter().collect();
            assert_eq!(unique.len(), hits.len(), "no chunk twice: {mode:?}");
        }
    }
    store.drop_collection(&spec).await.unwrap();
}

pub async fn keyword_search_finds_the_words(store: Arc<dyn VectorStore>) {
    let spec = fresh(store.as_ref()).await;
    store
        .upsert(
            &spec,
            vec![
                chunk(
                    "fox",
                    "The quick brown fox jumps over the lazy dog",
                    vector(1),
                    json!({}),
                ),
                chunk(
                    "cat",
                    "A cat sleeps on the warm windowsill",
                    vector(2),
                    json!({}),
                ),
                chunk(
                    "both",
                    "The fox and the cat are friends; the fox visits the cat daily",
                    vector(3),
                    json!({}),
                ),
                chunk(
                    "uni",
                    "The university agreed to publish the universe survey",
                    vector(4),
                    json!({}),
                ),
            ],
        )
        .await
        .unwrap();
    let hits = store
        .search(&spec, &request(SearchQuery::Keyword("fox".into()), 10))
        .await
        .unwrap();
    let got: BTreeSet<String> = ids(&hits).into_iter().collect();
    assert_eq!(got, BTreeSet::from(["fox".to_string(), "both".to_string()]));
    assert_scores(&hits);
    assert!(hits.iter().all(|h| h.score > 0.0));
    // Any of the words may match; the one holding both ranks first.
    let hits = store
        .search(&spec, &request(SearchQuery::Keyword("cat fox".into()), 10))
        .await
        .unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0].chunk.id, "both");
    // Words whose stems a stemmer would change again are still found.
    for word in ["university", "agreed", "universe", "University AGREED"] {
        let hits = store
            .search(&spec, &request(SearchQuery::Keyword(word.into()), 10))
            .await
            .unwrap();
        assert_eq!(ids(&hits), ["uni"], "{word}");
    }
    let none = store
        .search(&spec, &request(SearchQuery::Keyword("zebra".into()), 10))
        .await
        .unwrap();
    assert!(none.is_empty());
    store.drop_collection(&spec).await.unwrap();
}

/// Keyword ranking is BM25-like on every back-end: a word found in few documents weighs
/// more than one found in many, and a word said more often counts for more.
pub async fn keyword_ranking_weighs_rare_words_and_repetition(store: Arc<dyn VectorStore>) {
    let spec = fresh(store.as_ref()).await;
    let mut chunks: Vec<Chunk> = (0..8)
        .map(|i| {
            chunk(
                &format!("common{i}"),
                &format!("garden tools and garden chairs, listing {i}"),
                vector(10 + i),
                json!({}),
            )
        })
        .collect();
    chunks.push(chunk(
        "rare",
        "an heirloom sundial for the lawn",
        vector(1),
        json!({}),
    ));
    chunks.push(chunk(
        "once",
        "a sundial of bronze with a plain face",
        vector(2),
        json!({}),
    ));
    chunks.push(chunk(
        "twice",
        "a sundial of slate, a sundial face",
        vector(3),
        json!({}),
    ));
    store.upsert(&spec, chunks).await.unwrap();
    // "garden" is said twice in eight documents; "heirloom" once, in one.
    let hits = store
        .search(
            &spec,
            &request(SearchQuery::Keyword("garden heirloom".into()), 10),
        )
        .await
        .unwrap();
    assert_eq!(hits.len(), 9);
    assert_eq!(hits[0].chunk.id, "rare", "{:?}", ids(&hits));
    assert_scores(&hits);
    // Same length, one saying "sundial" twice.
    let hits = store
        .search(&spec, &request(SearchQuery::Keyword("sundial".into()), 10))
        .await
        .unwrap();
    assert_eq!(hits.len(), 3);
    assert_eq!(hits[0].chunk.id, "twice", "{:?}", ids(&hits));
    store.drop_collection(&spec).await.unwrap();
}

pub async fn hybrid_search_fuses_both_rankings(store: Arc<dyn VectorStore>) {
    let spec = fresh(store.as_ref()).await;
    store
        .upsert(
            &spec,
            vec![
                chunk("match", "alpha beta gamma", vector(1), json!({})),
                chunk("words", "alpha delta epsilon", vector(50), json!({})),
                chunk(
                    "near",
                    "unrelated text",
                    vector(1).iter().map(|x| x * 0.9 + 0.01).collect(),
                    json!({}),
                ),
                chunk("far", "nothing here", vector(77), json!({})),
            ],
        )
        .await
        .unwrap();
    let hits = store
        .search(
            &spec,
            &request(
                SearchQuery::Hybrid {
                    vector: vector(1),
                    text: "alpha gamma".into(),
                },
                10,
            ),
        )
        .await
        .unwrap();
    assert_eq!(hits[0].chunk.id, "match");
    assert!(
        (hits[0].score - 1.0).abs() < 1e-4,
        "first in both lists scores 1: {}",
        hits[0].score
    );
    assert_scores(&hits);
    let got: BTreeSet<String> = ids(&hits).into_iter().collect();
    assert!(got.contains("words") && got.contains("near"), "{got:?}");
    store.drop_collection(&spec).await.unwrap();
}

pub async fn the_score_threshold_applies_in_every_mode(store: Arc<dyn VectorStore>) {
    let spec = fresh(store.as_ref()).await;
    let chunks: Vec<Chunk> = (0..20)
        .map(|i| {
            chunk(
                &format!("t{i}"),
                &format!("shared word {}", "x ".repeat(i as usize)),
                vector(i),
                json!({}),
            )
        })
        .collect();
    store.upsert(&spec, chunks).await.unwrap();
    for mode in [
        SearchQuery::Vector(vector(4)),
        SearchQuery::Keyword("shared word".into()),
        SearchQuery::Hybrid {
            vector: vector(4),
            text: "shared word".into(),
        },
    ] {
        let all = store
            .search(&spec, &request(mode.clone(), 20))
            .await
            .unwrap();
        assert!(all.len() >= 5, "{mode:?}");
        let cut = all[all.len() / 2].score;
        let mut req = request(mode.clone(), 20);
        req.score_threshold = Some(cut);
        let kept = store.search(&spec, &req).await.unwrap();
        assert!(
            !kept.is_empty() && kept.len() < all.len() || all.iter().all(|h| h.score >= cut),
            "{mode:?}"
        );
        assert!(kept.iter().all(|h| h.score >= cut), "{mode:?}");
        req.score_threshold = Some(1.0);
        let top = store.search(&spec, &req).await.unwrap();
        assert!(top.iter().all(|h| h.score >= 1.0 - 1e-6), "{mode:?}");
    }
    store.drop_collection(&spec).await.unwrap();
}
