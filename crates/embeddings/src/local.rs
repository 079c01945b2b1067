//! The built-in model: a BERT sentence encoder (all-MiniLM-L6-v2) run on the CPU.
//!
//! Matches sentence-transformers: no truncation at 128 tokens and no padding (the packaged
//! `tokenizer.json` has both built in and they are overridden here), mean pooling, L2
//! normalisation. Texts over `max_input_tokens` (counting `[CLS]` and `[SEP]`) are rejected,
//! never silently truncated.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use tokenizers::{Encoding, Tokenizer};

use crate::Embedder;
use crate::bert::{BertConfig, Encoder};
use crate::error::EmbedError;
use crate::lane::{Forward, Lane};

#[derive(Clone)]
pub struct LocalBertEmbedder {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    model: Arc<Encoder>,
    lane: Lane,
    tokenizer: Tokenizer,
    dimension: usize,
    max_tokens: usize,
    batch_size: usize,
}

impl std::fmt::Debug for LocalBertEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBertEmbedder")
            .field("name", &self.inner.name)
            .field("dimension", &self.inner.dimension)
            .field("max_tokens", &self.inner.max_tokens)
            .finish()
    }
}

fn load_error(path: &Path, what: &str, e: impl std::fmt::Display) -> EmbedError {
    EmbedError::internal_msg(format!(
        "could not load {what} of the model in {}: {e} (run scripts/fetch-model.sh to fetch the \
         built-in model)",
        path.display()
    ))
}

impl LocalBertEmbedder {
    /// Loads `config.json`, `tokenizer.json` and `model.safetensors` from `dir`. Blocking.
    pub fn load(
        name: &str,
        dir: &Path,
        max_tokens: usize,
        batch_size: usize,
    ) -> Result<Self, EmbedError> {
        if !dir.is_dir() {
            return Err(load_error(dir, "the directory", "it does not exist"));
        }
        let config: BertConfig = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| load_error(dir, "config.json", e))
            .and_then(|s| {
                serde_json::from_str(&s).map_err(|e| load_error(dir, "config.json", e))
            })?;
        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| load_error(dir, "tokenizer.json", e))?;
        tokenizer
            .with_truncation(None)
            .map_err(|e| load_error(dir, "tokenizer.json", e))?;
        tokenizer.with_padding(None);
        let weights = std::fs::read(dir.join("model.safetensors"))
            .map_err(|e| load_error(dir, "model.safetensors", e))?;
        let model = Arc::new(
            Encoder::load(&config, &weights).map_err(|e| load_error(dir, "the weights", e))?,
        );
        let dimension = model.hidden_size();
        let max_tokens = max_tokens.min(model.max_positions());
        Ok(Self {
            inner: Arc::new(Inner {
                name: name.to_string(),
                lane: Lane::start(name, model.clone(), batch_size),
                model,
                tokenizer,
                dimension,
                max_tokens,
                batch_size: batch_size.max(1),
            }),
        })
    }

    /// Tokens of `text` as the model sees it, `[CLS]` and `[SEP]` included.
    pub fn count_tokens(&self, text: &str) -> Result<usize, EmbedError> {
        let encoding = self
            .inner
            .tokenizer
            .encode(text, true)
            .map_err(|e| EmbedError::internal_msg(format!("tokenization failed: {e}")))?;
        Ok(real_tokens(&encoding))
    }

    /// Embeds on the calling thread (call from a blocking thread), apart from the model's
    /// own lane: what a single-purpose process, such as a benchmark, uses. Every text is
    /// tokenized and checked against the limit before the model runs on any of them; the first
    /// over-long text is the one reported. The vectors are in the order of `texts`.
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let ids = self.inner.tokenize(texts)?;
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let mut out = vec![Vec::new(); texts.len()];
        for batch in order.chunks(self.inner.batch_size) {
            let sequences: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_slice()).collect();
            for (&index, vector) in batch.iter().zip(self.inner.forward(&sequences)?) {
                out[index] = vector;
            }
        }
        Ok(out)
    }
}

impl Inner {
    /// The token ids of every text, `[CLS]`/`[SEP]` added, never truncated nor padded; the
    /// first text over the limit is an error.
    fn tokenize(&self, texts: &[String]) -> Result<Vec<Vec<u32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.iter().map(String::as_str).collect::<Vec<_>>(), true)
            .map_err(|e| EmbedError::internal_msg(format!("tokenization failed: {e}")))?;
        if let Some((index, e)) = encodings
            .iter()
            .enumerate()
            .find(|(_, e)| real_tokens(e) > self.max_tokens)
        {
            return Err(EmbedError::InputTooLong {
                index,
                tokens: real_tokens(e),
                max: self.max_tokens,
            });
        }
        Ok(encodings
            .into_iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    fn forward(&self, sequences: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.model.forward(sequences)
    }
}

impl Forward for Encoder {
    fn forward(&self, sequences: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed(sequences)
            .map_err(|e| EmbedError::internal("the model failed", e))
    }
}

fn real_tokens(encoding: &Encoding) -> usize {
    encoding.get_ids().len()
}

#[async_trait]
impl Embedder for LocalBertEmbedder {
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
        let ids = tokio::task::spawn_blocking(move || this.inner.tokenize(&texts))
            .await
            .map_err(|e| EmbedError::internal("the tokenizer task stopped", e))??;
        self.inner.lane.embed(ids).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedder_can_be_shared_across_threads() {
        fn shareable<T: Send + Sync + 'static>() {}
        shareable::<LocalBertEmbedder>();
    }

    #[test]
    fn a_missing_directory_names_the_path_and_the_fetch_script() {
        let err = LocalBertEmbedder::load("m", Path::new("/no/such/model"), 256, 32)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/no/such/model") && err.contains("scripts/fetch-model.sh"),
            "{err}"
        );
    }

    #[test]
    fn an_empty_model_directory_names_the_missing_file() {
        let dir = std::env::temp_dir().join(format!("embeddings-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let err = LocalBertEmbedder::load("m", &dir, 256, 32)
            .unwrap_err()
            .to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(
            err.contains("config.json") && err.contains("scripts/fetch-model.sh"),
            "{err}"
        );
    }
}
