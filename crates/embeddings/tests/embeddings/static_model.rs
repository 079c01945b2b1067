//! The static model (potion-base-8M, run with model2vec-rs), from the weights that
//! scripts/fetch-model.sh puts in place.

use std::collections::BTreeMap;
use std::path::PathBuf;

use embeddings::{EmbedError, EmbedderRegistry, ModelConfig, ProviderConfig};

fn model_dir() -> PathBuf {
    std::env::var_os("VECTOR_STORE_MODELS_DIR")
        .map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../models"),
            PathBuf::from,
        )
        .join("potion-base-8m")
}

async fn registry(
    dimension: usize,
    max_input_tokens: usize,
) -> Result<EmbedderRegistry, EmbedError> {
    let config = BTreeMap::from([(
        "potion-base-8m".to_string(),
        ModelConfig {
            dimension,
            max_input_tokens,
            provider: ProviderConfig::Static { path: model_dir() },
        },
    )]);
    EmbedderRegistry::from_config(&config, "potion-base-8m").await
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[tokio::test]
async fn the_static_model_makes_unit_vectors_that_keep_meaning() {
    let registry = registry(256, 512)
        .await
        .unwrap_or_else(|e| panic!("run scripts/fetch-model.sh ({e})"));
    let m = registry.get("potion-base-8m").unwrap();
    let texts: Vec<String> = [
        "A cat sleeps on the warm windowsill.",
        "The kitten is napping by the sunny window.",
        "Quarterly revenue grew by eight percent.",
        "",
        "Ünïcödé façade — naïve café",
    ]
    .iter()
    .map(std::string::ToString::to_string)
    .collect();
    let v = m.embed(&texts).await.unwrap();
    assert_eq!(v.len(), texts.len());
    for (t, x) in texts.iter().zip(&v) {
        assert_eq!(x.len(), 256);
        assert!(x.iter().all(|f| f.is_finite()), "{t:?}");
    }
    for x in [&v[0], &v[1], &v[2], &v[4]] {
        let norm: f32 = x.iter().map(|f| f * f).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
    assert!(
        cosine(&v[0], &v[1]) > cosine(&v[0], &v[2]) + 0.1,
        "{} vs {}",
        cosine(&v[0], &v[1]),
        cosine(&v[0], &v[2])
    );
    // The same text gives the same vector alone and in a batch.
    let alone = m.embed(&texts[1..2]).await.unwrap();
    assert!(cosine(&alone[0], &v[1]) > 0.9999);
}

#[tokio::test]
async fn a_text_over_the_limit_is_rejected_naming_its_index_never_truncated() {
    let registry = registry(256, 16).await.unwrap();
    let m = registry.get("potion-base-8m").unwrap();
    let texts = vec![
        "short enough".to_string(),
        "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen \
         sixteen seventeen"
            .to_string(),
    ];
    match m.embed(&texts).await {
        Err(EmbedError::InputTooLong { index, tokens, max }) => {
            assert_eq!((index, max), (1, 16));
            assert!(tokens > 16, "{tokens}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_wrong_dimension_is_refused_when_the_registry_is_built() {
    let err = registry(384, 512).await.unwrap_err();
    assert!(err.to_string().contains("dimension 384"), "{err}");
}
