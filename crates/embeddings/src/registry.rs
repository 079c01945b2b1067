//! The model registry: model name → embedder, built once at start-up from configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::Embedder;
use crate::error::EmbedError;
use crate::local::LocalBertEmbedder;
use crate::metrics::Instrumented;
use crate::openai::{OpenAiEmbedder, OpenAiOptions};
use crate::static_model::StaticEmbedder;

#[derive(Debug, Clone, Deserialize)]
pub struct ModelConfig {
    pub dimension: usize,
    pub max_input_tokens: usize,
    #[serde(flatten)]
    pub provider: ProviderConfig,
}

fn default_local_batch() -> usize {
    32
}
fn default_remote_batch() -> usize {
    64
}
fn default_timeout() -> u64 {
    30
}
fn default_retries() -> u32 {
    3
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum ProviderConfig {
    /// A BERT sentence-embedding model in a directory (`config.json`, `tokenizer.json`,
    /// `model.safetensors`), run on the CPU.
    Local {
        path: PathBuf,
        #[serde(default = "default_local_batch")]
        batch_size: usize,
    },
    /// A static (Model2Vec) model in a directory (`config.json`, `tokenizer.json`,
    /// `model.safetensors`), e.g. potion-base-8M.
    Static { path: PathBuf },
    /// An OpenAI-compatible `POST {base_url}/embeddings`.
    Openai {
        base_url: String,
        #[serde(default)]
        api_key: Option<SecretString>,
        /// The model name sent to the API; the registered name when absent.
        #[serde(default)]
        remote_model: Option<String>,
        #[serde(default = "default_remote_batch")]
        batch_size: usize,
        #[serde(default = "default_timeout")]
        timeout_secs: u64,
        #[serde(default = "default_retries")]
        max_retries: u32,
    },
}

/// Immutable after it is built. Its models' calls are counted and timed ([`Instrumented`]).
#[derive(Debug, Clone)]
pub struct EmbedderRegistry {
    models: BTreeMap<String, Arc<dyn Embedder>>,
    default: String,
}

impl EmbedderRegistry {
    /// Builds every configured model (local ones are loaded here, off the async threads) and
    /// checks that each local model makes vectors of its configured dimension.
    pub async fn from_config(
        models: &BTreeMap<String, ModelConfig>,
        default_model: &str,
    ) -> Result<Self, EmbedError> {
        if !models.contains_key(default_model) {
            return Err(EmbedError::UnknownModel {
                name: default_model.to_string(),
                known: models.keys().cloned().collect::<Vec<_>>().join(", "),
            });
        }
        let mut built: Vec<Arc<dyn Embedder>> = Vec::new();
        for (name, config) in models {
            let embedder: Arc<dyn Embedder> = match &config.provider {
                ProviderConfig::Local { path, batch_size } => {
                    let (name, path, dim, max, batch) = (
                        name.clone(),
                        path.clone(),
                        config.dimension,
                        config.max_input_tokens,
                        *batch_size,
                    );
                    let model = tokio::task::spawn_blocking(move || {
                        LocalBertEmbedder::load(&name, &path, max, batch)
                    })
                    .await
                    .map_err(|e| EmbedError::internal("the model loader stopped", e))??;
                    check_dimension(&model, dim)?;
                    Arc::new(model)
                }
                ProviderConfig::Static { path } => {
                    let (name, path, max) = (name.clone(), path.clone(), config.max_input_tokens);
                    let model = tokio::task::spawn_blocking(move || {
                        StaticEmbedder::load(&name, &path, max)
                    })
                    .await
                    .map_err(|e| EmbedError::internal("the model loader stopped", e))??;
                    check_dimension(&model, config.dimension)?;
                    Arc::new(model)
                }
                ProviderConfig::Openai {
                    base_url,
                    api_key,
                    remote_model,
                    batch_size,
                    timeout_secs,
                    max_retries,
                } => Arc::new(OpenAiEmbedder::new(OpenAiOptions {
                    name: name.clone(),
                    remote_model: remote_model.clone().unwrap_or_else(|| name.clone()),
                    base_url: base_url.clone(),
                    api_key: api_key.clone(),
                    dimension: config.dimension,
                    max_input_tokens: config.max_input_tokens,
                    batch_size: *batch_size,
                    timeout: Duration::from_secs(*timeout_secs),
                    max_retries: *max_retries,
                    max_backoff: Duration::from_secs(30),
                })?),
            };
            built.push(embedder);
        }
        Self::new(built, default_model)
    }

    /// A registry of ready embedders, each under its own [`Embedder::model`] name, each put in
    /// an [`Instrumented`] so that its calls are counted and timed (hand it bare models, not
    /// ones taken from another registry).
    pub fn new(embedders: Vec<Arc<dyn Embedder>>, default_model: &str) -> Result<Self, EmbedError> {
        let mut models: BTreeMap<String, Arc<dyn Embedder>> = BTreeMap::new();
        for embedder in embedders {
            let embedder: Arc<dyn Embedder> = Arc::new(Instrumented::new(embedder));
            let name = embedder.model().to_string();
            if models.insert(name.clone(), embedder).is_some() {
                return Err(EmbedError::InvalidInput(format!(
                    "embedding model '{name}' is registered twice"
                )));
            }
        }
        if !models.contains_key(default_model) {
            return Err(unknown(default_model, &models));
        }
        Ok(Self {
            models,
            default: default_model.to_string(),
        })
    }

    /// The embedder registered as `name`; [`EmbedError::UnknownModel`] lists the registered names.
    pub fn get(&self, name: &str) -> Result<Arc<dyn Embedder>, EmbedError> {
        self.models
            .get(name)
            .cloned()
            .ok_or_else(|| unknown(name, &self.models))
    }

    /// The name of the model used when a request names none.
    pub fn default_model(&self) -> &str {
        &self.default
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.models.keys().cloned().collect()
    }
}

fn check_dimension(model: &dyn Embedder, configured: usize) -> Result<(), EmbedError> {
    if model.dimension() == configured {
        return Ok(());
    }
    Err(EmbedError::InvalidInput(format!(
        "model '{}' is configured with dimension {configured}, but makes {}-dimensional vectors",
        model.model(),
        model.dimension()
    )))
}

fn unknown(name: &str, models: &BTreeMap<String, Arc<dyn Embedder>>) -> EmbedError {
    EmbedError::UnknownModel {
        name: name.to_string(),
        known: models.keys().cloned().collect::<Vec<_>>().join(", "),
    }
}

#[cfg(test)]
mod tests {
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
            ProviderConfig::Local { batch_size: 32, .. }
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
            "dimension": 384, "max_input_tokens": 256
        }))
        .unwrap();
        match local.provider {
            ProviderConfig::Local { path, batch_size } => {
                assert_eq!(path, PathBuf::from("models/all-minilm-l6-v2"));
                assert_eq!(batch_size, 4);
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
}
