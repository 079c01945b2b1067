//! The built-in model against vectors from the reference implementation.

use std::path::PathBuf;
use std::sync::Arc;

use embeddings::{EmbedError, Embedder, LocalBertEmbedder};
use serde_json::Value;
use tokio::sync::OnceCell;

static MODEL: OnceCell<Arc<LocalBertEmbedder>> = OnceCell::const_new();

fn model_dir() -> PathBuf {
    std::env::var_os("VECTOR_STORE_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"))
        .join("all-minilm-l6-v2")
}

async fn model() -> Arc<LocalBertEmbedder> {
    MODEL
        .get_or_init(|| async {
            let dir = model_dir();
            let loaded = tokio::task::spawn_blocking(move || {
                LocalBertEmbedder::load("all-minilm-l6-v2", &dir, 256, 32)
            })
            .await
            .unwrap();
            Arc::new(loaded.unwrap_or_else(|e| {
                panic!("the built-in model is missing: run scripts/fetch-model.sh ({e})")
            }))
        })
        .await
        .clone()
}

struct Case {
    text: String,
    tokens: usize,
    vector: Vec<f32>,
}

fn reference() -> Vec<Case> {
    let raw = include_str!("../fixtures/reference_vectors.json");
    let v: Value = serde_json::from_str(raw).unwrap();
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            text: c["text"].as_str().unwrap().to_string(),
            tokens: c["tokens"].as_u64().unwrap() as usize,
            vector: c["vector"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect(),
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[tokio::test]
async fn the_built_in_model_agrees_with_the_reference_in_a_batch_and_one_by_one() {
    let m = model().await;
    let cases = reference();
    assert!(
        cases.iter().any(|c| c.tokens > 128),
        "the fixture holds a text past 128 tokens"
    );
    let texts: Vec<String> = cases.iter().map(|c| c.text.clone()).collect();
    let batch = m.embed(&texts).await.unwrap();
    for (case, got) in cases.iter().zip(&batch) {
        let c = cosine(got, &case.vector);
        assert!(c >= 0.999, "batch: cosine {c} for {:?}", case.text);
    }
    for case in &cases {
        let one = m.embed(std::slice::from_ref(&case.text)).await.unwrap();
        let c = cosine(&one[0], &case.vector);
        assert!(c >= 0.999, "alone: cosine {c} for {:?}", case.text);
    }
}

#[tokio::test]
async fn vectors_are_unit_length_and_384_dimensional() {
    let m = model().await;
    assert_eq!(m.dimension(), 384);
    let out = m
        .embed(&["one".to_string(), "two words".to_string()])
        .await
        .unwrap();
    for v in out {
        assert_eq!(v.len(), 384);
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
    assert!(m.embed(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_text_over_256_tokens_is_rejected_naming_its_index() {
    let m = model().await;
    let texts = vec![
        "short".to_string(),
        "fine too".to_string(),
        "word ".repeat(300),
    ];
    match m.embed(&texts).await {
        Err(EmbedError::InputTooLong { index, tokens, max }) => {
            assert_eq!((index, max), (2, 256));
            assert_eq!(tokens, 302, "300 words plus [CLS] and [SEP]");
        }
        other => panic!("expected InputTooLong, got {other:?}"),
    }
    // 254 words + 2 special tokens is exactly the limit.
    assert!(m.embed(&["word ".repeat(254)]).await.is_ok());
}

#[tokio::test]
async fn similar_sentences_are_closer_than_unrelated_ones() {
    let m = model().await;
    let v = m
        .embed(&[
            "A cat sits on the mat.".into(),
            "A kitten rests on a rug.".into(),
            "Stock prices fell sharply.".into(),
        ])
        .await
        .unwrap();
    assert!(cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.2);
}
