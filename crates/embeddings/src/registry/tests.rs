//! Tests of the registry: its configuration, building and look-ups.

use super::*;
use crate::MockEmbedder;
use secrecy::ExposeSecret;

fn mock(name: &str) -> Arc<dyn Embedder> {
    let mut m = MockEmbedder::new();
    m.expect_model().return_const(name.to_string());
    Arc::new(m)
}

#[test]
fn both_providers_deserialize_with_their_defaults() {
    let local: ModelConfig = serde_json::from_value(serde_json::json!({
        "provider": "local", "path": "m/x", "dimension": 384, "max_input_tokens": 256
    }))
    .unwrap();
    assert!(matches!(
        local.provider,
        ProviderConfig::Local {
            batch_size: 32,
            late_chunking: true,
            ..
        }
    ));
    let remote: ModelConfig = serde_json::from_value(serde_json::json!({
        "provider": "openai", "base_url": "http://localhost:1/v1", "api_key": "sk-x",
        "dimension": 1536, "max_input_tokens": 8191
    }))
    .unwrap();
    assert!(matches!(
        remote.provider,
        ProviderConfig::Openai {
            batch_size: 64,
            timeout_secs: 30,
            max_retries: 3,
            remote_model: None,
            ..
        }
    ));
    let bad = serde_json::from_value::<ModelConfig>(serde_json::json!({
        "provider": "magic", "dimension": 3, "max_input_tokens": 3
    }));
    assert!(bad.is_err());
}

#[test]
fn explicit_provider_settings_override_the_defaults() {
    let local: ModelConfig = serde_json::from_value(serde_json::json!({
        "provider": "local", "path": "models/all-minilm-l6-v2", "batch_size": 4,
        "dimension": 384, "max_input_tokens": 256, "late_chunking": false
    }))
    .unwrap();
    match local.provider {
        ProviderConfig::Local {
            path,
            batch_size,
            late_chunking,
        } => {
            assert_eq!(path, PathBuf::from("models/all-minilm-l6-v2"));
            assert_eq!(batch_size, 4);
            assert!(!late_chunking);
        }
        other @ (ProviderConfig::Static { .. } | ProviderConfig::Openai { .. }) => {
            panic!("unexpected {other:?}")
        }
    }
    let remote: ModelConfig = serde_json::from_value(serde_json::json!({
        "provider": "openai", "base_url": "https://api.example/v1", "api_key": "sk-x",
        "remote_model": "text-embedding-3-small", "batch_size": 8, "timeout_secs": 5,
        "max_retries": 0, "dimension": 1536, "max_input_tokens": 8191
    }))
    .unwrap();
    assert_eq!((remote.dimension, remote.max_input_tokens), (1536, 8191));
    match remote.provider {
        ProviderConfig::Openai {
            base_url,
            api_key,
            remote_model,
            batch_size,
            timeout_secs,
            max_retries,
        } => {
            assert_eq!(base_url, "https://api.example/v1");
            assert_eq!(
                api_key.as_ref().map(ExposeSecret::expose_secret),
                Some("sk-x")
            );
            assert_eq!(remote_model.as_deref(), Some("text-embedding-3-small"));
            assert_eq!((batch_size, timeout_secs, max_retries), (8, 5, 0));
        }
        other @ (ProviderConfig::Local { .. } | ProviderConfig::Static { .. }) => {
            panic!("unexpected {other:?}")
        }
    }
    let missing_path = serde_json::from_value::<ModelConfig>(serde_json::json!({
        "provider": "local", "dimension": 384, "max_input_tokens": 256
    }));
    assert!(missing_path.is_err());
}

#[test]
fn an_unknown_model_lists_the_configured_ones() {
    let reg = EmbedderRegistry::new(vec![mock("a"), mock("b")], "a").unwrap();
    let err = reg.get("c").unwrap_err().to_string();
    assert!(err.contains("'c'") && err.contains("a, b"), "{err}");
    assert_eq!(reg.names(), vec!["a", "b"]);
    assert_eq!(reg.default_model(), "a");
}

#[test]
fn the_default_model_must_be_configured() {
    let err = EmbedderRegistry::new(vec![mock("a")], "b").unwrap_err();
    assert!(
        matches!(&err, EmbedError::UnknownModel { name, known } if name == "b" && known == "a"),
        "{err:?}"
    );
}

#[test]
fn a_name_registered_twice_is_rejected() {
    let err = EmbedderRegistry::new(vec![mock("a"), mock("a")], "a").unwrap_err();
    assert!(err.to_string().contains("'a' is registered twice"), "{err}");
}

#[test]
fn the_api_key_does_not_show_in_debug_output() {
    let config: ModelConfig = serde_json::from_value(serde_json::json!({
        "provider": "openai", "base_url": "http://localhost:1/v1", "api_key": "sk-very-secret",
        "dimension": 3, "max_input_tokens": 10
    }))
    .unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("sk-very-secret"), "{shown}");
}

/// Model `m`, a local model whose directory does not exist.
fn missing_local_model() -> BTreeMap<String, ModelConfig> {
    let config = ModelConfig {
        dimension: 384,
        max_input_tokens: 256,
        provider: ProviderConfig::Local {
            path: "/no/such/dir".into(),
            batch_size: 8,
            late_chunking: true,
        },
    };
    BTreeMap::from([("m".to_string(), config)])
}

#[tokio::test]
async fn an_unconfigured_default_fails_before_any_model_is_loaded() {
    let models = missing_local_model();
    let err = EmbedderRegistry::from_config(&models, "other")
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            EmbedError::UnknownModel { name, known } if name == "other" && known == "m"
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_missing_local_model_directory_says_how_to_fetch_it() {
    let models = missing_local_model();
    let err = EmbedderRegistry::from_config(&models, "m")
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/no/such/dir") && err.contains("fetch-model.sh"),
        "{err}"
    );
}
