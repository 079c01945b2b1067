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
fn default_late_chunking() -> bool {
    true
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
        /// A file's chunks are read in the context of the text around them, each token once
        /// (see [`Embedder::embed_spans`]).
        #[serde(default = "default_late_chunking")]
        late_chunking: bool,
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
                ProviderConfig::Local {
                    path,
                    batch_size,
                    late_chunking,
                } => {
                    let (name, path, dim, max, batch, late) = (
                        name.clone(),
                        path.clone(),
                        config.dimension,
                        config.max_input_tokens,
                        *batch_size,
                        *late_chunking,
                    );
                    let model = crate::blocking("model loader", move || {
                        LocalBertEmbedder::load(&name, &path, max, batch)
                            .map(|m| m.with_late_chunking(late))
                    })
                    .await?;
                    check_dimension(&model, dim)?;
                    Arc::new(model)
                }
                ProviderConfig::Static { path } => {
                    let (name, path, max) = (name.clone(), path.clone(), config.max_input_tokens);
                    let model = crate::blocking("model loader", move || {
                        StaticEmbedder::load(&name, &path, max)
                    })
                    .await?;
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
mod tests;
