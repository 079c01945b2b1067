//! A static embedding model (Model2Vec, e.g. potion-base-8M) run with `model2vec-rs`: a text's
//! vector is the mean of its tokens' rows of one table, normalised — no network of layers, so
//! it embeds tens of thousands of texts a second on one core, at some cost in quality (the
//! benchmark has both models' figures).
//!
//! Nothing is truncated: a text over `max_input_tokens` (word pieces, without special tokens) is
//! rejected like on every other model, and a text under it is read whole.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use model2vec_rs::model::StaticModel;
use tokenizers::Tokenizer;

use crate::Embedder;
use crate::error::EmbedError;
use crate::local::load_error;

#[derive(Clone)]
pub struct StaticEmbedder {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    model: StaticModel,
    /// The model's own `tokenizer.json`, to count tokens (model2vec-rs does not expose its own).
    tokenizer: Tokenizer,
    dimension: usize,
    max_tokens: usize,
}

impl std::fmt::Debug for StaticEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticEmbedder")
            .field("name", &self.inner.name)
            .field("dimension", &self.inner.dimension)
            .field("max_tokens", &self.inner.max_tokens)
            .finish()
    }
}

impl StaticEmbedder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`. Blocking.
    pub fn load(name: &str, dir: &Path, max_tokens: usize) -> Result<Self, EmbedError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| load_error(dir, what, e);
        if !dir.is_dir() {
            return Err(fail("the directory", &"it does not exist"));
        }
        let model = StaticModel::from_pretrained(dir, None, Some(true), None)
            .map_err(|e| fail("the model", &e))?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| fail("tokenizer.json", &e))?;
        tokenizer
            .with_truncation(None)
            .map_err(|e| fail("tokenizer.json", &e))?;
        tokenizer.with_padding(None);
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.to_string(),
                dimension: model.dim(),
                model,
                tokenizer,
                max_tokens,
            }),
        })
    }

    /// Word pieces of `text`, special tokens left out.
    pub fn count_tokens(&self, text: &str) -> Result<usize, EmbedError> {
        self.inner.count_tokens(text)
    }

    /// Embeds on the calling thread (call from a blocking thread).
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        for (index, text) in texts.iter().enumerate() {
            // A word piece is at least one character: a short text needs no counting.
            if text.chars().count() > self.inner.max_tokens {
                let tokens = self.inner.count_tokens(text)?;
                if tokens > self.inner.max_tokens {
                    return Err(EmbedError::InputTooLong {
                        index,
                        tokens,
                        max: self.inner.max_tokens,
                    });
                }
            }
        }
        Ok(self.inner.model.encode_with_args(texts, None, 1024))
    }
}

impl Inner {
    fn count_tokens(&self, text: &str) -> Result<usize, EmbedError> {
        self.tokenizer
            .encode(text, false)
            .map(|e| e.get_ids().len())
            .map_err(EmbedError::tokenizer)
    }
}

#[async_trait]
impl Embedder for StaticEmbedder {
    fn model(&self) -> &str {
        &self.inner.name
    }

    fn dimension(&self) -> usize {
        self.inner.dimension
    }

    fn max_input_tokens(&self) -> usize {
        self.inner.max_tokens
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let this = self.clone();
        let texts = texts.to_vec();
        crate::blocking("embedding", move || this.embed_blocking(&texts)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_directory_names_the_path_and_the_fetch_script() {
        let err = StaticEmbedder::load("m", Path::new("/no/such/model"), 512)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/no/such/model") && err.contains("scripts/fetch-model.sh"),
            "{err}"
        );
    }
}
