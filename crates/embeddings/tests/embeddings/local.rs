//! The built-in model against vectors from the reference implementation.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use embeddings::{
    EmbedError, Embedder, EmbedderRegistry, LocalBertEmbedder, ModelConfig, ProviderConfig,
};
use serde_json::Value;
use tokio::sync::OnceCell;

static MODEL: OnceCell<Arc<LocalBertEmbedder>> = OnceCell::const_new();

fn model_dir() -> PathBuf {
    std::env::var_os("VECTOR_STORE_MODELS_DIR")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
            PathBuf::from,
        )
        .join("all-minilm-l6-v2")
}

/// The model, loaded once for the whole binary. A missing model fails the test, never skips it.
pub async fn model() -> Arc<LocalBertEmbedder> {
    MODEL
        .get_or_init(|| async {
            let dir = model_dir();
            let started = Instant::now();
            let loaded = tokio::task::spawn_blocking(move || {
                LocalBertEmbedder::load("all-minilm-l6-v2", &dir, 256, 32)
            })
            .await
            .unwrap();
            let model = loaded.unwrap_or_else(|e| {
                panic!(
                    "the built-in model is missing from {}: run scripts/fetch-model.sh ({e})",
                    model_dir().display()
                )
            });
            eprintln!("model loaded in {:?}", started.elapsed());
            Arc::new(model)
        })
        .await
        .clone()
}

pub struct Case {
    pub text: String,
    pub tokens: usize,
    /// How close a 128-token truncation of this text comes to the reference, when recorded.
    cosine_if_truncated: Option<f32>,
    pub vector: Vec<f32>,
}

pub fn reference() -> Vec<Case> {
    let raw = include_str!("../fixtures/reference_vectors.json");
    let v: Value = serde_json::from_str(raw).unwrap();
    v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| Case {
            text: c["text"].as_str().unwrap().to_string(),
            tokens: c["tokens"].as_u64().unwrap() as usize,
            cosine_if_truncated: c["cosine_if_truncated_at_128"].as_f64().map(|x| x as f32),
            vector: c["vector"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect(),
        })
        .collect()
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn the_fixture_covers_short_unicode_empty_and_past_128_token_texts() {
    let cases = reference();
    assert!(cases.len() >= 6);
    assert!(cases.iter().any(|c| c.text.is_empty()));
    assert!(cases.iter().any(|c| !c.text.is_ascii()));
    assert!(cases.iter().all(|c| c.vector.len() == 384));
    let long = cases
        .iter()
        .find(|c| c.tokens > 128)
        .expect("a text past 128 tokens");
    assert!((180..=240).contains(&long.tokens), "{}", long.tokens);
    // The 0.999 threshold below would catch a model that truncates at 128 tokens.
    let truncated = long
        .cosine_if_truncated
        .expect("recorded for the long text");
    assert!(truncated < 0.99, "{truncated}");
}

#[tokio::test]
async fn the_tokenizer_counts_tokens_like_the_reference() {
    let m = model().await;
    for case in reference() {
        assert_eq!(
            m.count_tokens(&case.text).unwrap(),
            case.tokens,
            "{:?}",
            case.text
        );
    }
}

#[tokio::test]
async fn the_built_in_model_agrees_with_the_reference_in_a_batch_and_one_by_one() {
    let m = model().await;
    let cases = reference();
    let texts: Vec<String> = cases.iter().map(|c| c.text.clone()).collect();
    let batch = m.embed(&texts).await.unwrap();
    assert_eq!(batch.len(), cases.len());
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
        .embed(&["one".to_string(), "two words".to_string(), String::new()])
        .await
        .unwrap();
    assert_eq!(out.len(), 3);
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
async fn the_first_of_several_over_long_texts_is_the_one_reported() {
    let m = model().await;
    let texts = vec![
        "short".to_string(),
        "word ".repeat(280),
        "also short".to_string(),
        "word ".repeat(400),
    ];
    match m.embed(&texts).await {
        Err(EmbedError::InputTooLong { index, tokens, .. }) => {
            assert_eq!((index, tokens), (1, 282));
        }
        other => panic!("expected InputTooLong, got {other:?}"),
    }
}

#[tokio::test]
async fn an_over_long_text_in_a_later_batch_is_reported_before_any_batch_runs() {
    let m = model().await;
    let mut texts = vec!["short".to_string(); 40];
    texts.push("word ".repeat(300));
    let started = Instant::now();
    match m.embed(&texts).await {
        Err(EmbedError::InputTooLong { index, .. }) => assert_eq!(index, 40),
        other => panic!("expected InputTooLong, got {other:?}"),
    }
    eprintln!("rejected after {:?}", started.elapsed());
}

#[tokio::test]
async fn a_batch_of_64_short_sentences_gives_the_same_vector_at_every_position() {
    let m = model().await;
    let texts: Vec<String> = (0..64)
        .map(|i| {
            if i % 2 == 0 {
                "The quick brown fox jumps over the lazy dog.".to_string()
            } else {
                format!("Sentence number {i} about vector search and embeddings.")
            }
        })
        .collect();
    let started = Instant::now();
    let out = m.embed(&texts).await.unwrap();
    let elapsed = started.elapsed();
    eprintln!(
        "64 short sentences in {elapsed:?}: {:.0} sentences/s",
        64.0 / elapsed.as_secs_f64()
    );
    assert_eq!(out.len(), 64);
    let fox = &reference()[0];
    assert_eq!(fox.text, texts[0]);
    for v in out.iter().step_by(2) {
        assert!(cosine(v, &fox.vector) >= 0.999);
    }
}

#[tokio::test]
async fn the_registry_loads_the_built_in_model_and_checks_its_dimension() {
    let config = |dimension| {
        BTreeMap::from([(
            "all-minilm-l6-v2".to_string(),
            ModelConfig {
                dimension,
                max_input_tokens: 256,
                provider: ProviderConfig::Local {
                    path: model_dir(),
                    batch_size: 16,
                    late_chunking: true,
                },
            },
        )])
    };
    let registry = EmbedderRegistry::from_config(&config(384), "all-minilm-l6-v2")
        .await
        .unwrap_or_else(|e| panic!("run scripts/fetch-model.sh ({e})"));
    let embedder = registry.get("all-minilm-l6-v2").unwrap();
    assert_eq!(
        (embedder.dimension(), embedder.max_input_tokens()),
        (384, 256)
    );
    let v = embedder.embed(&["hello".to_string()]).await.unwrap();
    assert_eq!(v[0].len(), 384);

    let err = EmbedderRegistry::from_config(&config(768), "all-minilm-l6-v2")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("dimension 768"), "{err}");
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
