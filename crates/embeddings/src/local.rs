//! The built-in model: a BERT sentence encoder (all-MiniLM-L6-v2) run on the CPU.
//!
//! Matches sentence-transformers: no truncation at 128 tokens and no padding (the packaged
//! `tokenizer.json` has both built in and they are overridden here), mean pooling, L2
//! normalisation. Texts over `max_input_tokens` (counting `[CLS]` and `[SEP]`) are rejected,
//! never silently truncated.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use tokenizers::{Encoding, Tokenizer};

use crate::bert::{BertConfig, Encoder};
use crate::error::EmbedError;
use crate::kernels::normalise;
use crate::lane::{Forward, Lane};
use crate::{Embedder, check_spans, late, span_texts};

#[derive(Clone)]
pub struct LocalBertEmbedder {
    inner: Arc<Inner>,
    late_chunking: bool,
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

/// The hidden states of a text's tokens: each token's byte offsets in the text and its state.
#[derive(Debug, Clone)]
pub struct TokenStates {
    pub offsets: Vec<(usize, usize)>,
    pub states: Vec<Vec<f32>>,
}

impl std::fmt::Debug for LocalBertEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBertEmbedder")
            .field("name", &self.inner.name)
            .field("dimension", &self.inner.dimension)
            .field("max_tokens", &self.inner.max_tokens)
            .field("late_chunking", &self.late_chunking)
            .finish()
    }
}

/// A built-in model's file (`what`) in `path` that does not load, and how to fetch it.
pub(crate) fn load_error(path: &Path, what: &str, e: impl std::fmt::Display) -> EmbedError {
    EmbedError::internal_msg(format!(
        "could not load {what} of the model in {}: {e} (run scripts/fetch-model.sh to fetch the \
         built-in models)",
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
            late_chunking: false,
        })
    }

    /// With late chunking on, [`Embedder::embed_spans`] reads each span in the context of
    /// the text around it (see [`crate::late`]); off, it embeds each span's text alone.
    pub fn with_late_chunking(self, on: bool) -> Self {
        Self {
            late_chunking: on,
            ..self
        }
    }

    /// Tokens of `text` as the model sees it, `[CLS]` and `[SEP]` included.
    pub fn count_tokens(&self, text: &str) -> Result<usize, EmbedError> {
        let encoding = self
            .inner
            .tokenizer
            .encode(text, true)
            .map_err(EmbedError::tokenizer)?;
        Ok(real_tokens(&encoding))
    }

    /// The last hidden state of each token of `text` read alone, `[CLS]` and `[SEP]` included
    /// (offsets `(0, 0)`), as the model pools them into the text's vector.
    pub async fn token_states(&self, text: &str) -> Result<TokenStates, EmbedError> {
        let (inner, owned) = (Arc::clone(&self.inner), text.to_string());
        let encoding = crate::blocking("tokenizer", move || {
            let mut encodings = inner.encode(vec![owned.as_str()])?;
            encodings
                .pop()
                .ok_or_else(|| EmbedError::internal_msg("the tokenizer gave no encoding"))
        })
        .await?;
        let rows = self
            .inner
            .lane
            .token_states(vec![encoding.get_ids().to_vec()])
            .await?
            .pop()
            .unwrap_or_default();
        Ok(TokenStates {
            offsets: encoding.get_offsets().to_vec(),
            states: rows
                .chunks_exact(self.inner.dimension)
                .map(<[f32]>::to_vec)
                .collect(),
        })
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
    /// Late chunking of `spans` of `text`: the text's tokens read once, in the windows of
    /// [`late::plan`], a lane batch of windows at a time (so memory stays bounded whatever the
    /// text), and each span's tokens pooled.
    async fn embed_spans(
        self: Arc<Self>,
        text: String,
        spans: Vec<Range<usize>>,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let this = self.clone();
        let (ids, plan, specials) = crate::blocking("tokenizer", move || {
            let encoding = this
                .tokenizer
                .encode(text.as_str(), false)
                .map_err(EmbedError::tokenizer)?;
            let specials = this.specials()?;
            let window = this.max_tokens.saturating_sub(2).max(1);
            let plan = late::plan(&text, encoding.get_offsets(), &spans, window);
            Ok((encoding.get_ids().to_vec(), plan, specials))
        })
        .await?;
        let h = self.dimension;
        let mut sums = vec![vec![0f32; h]; plan.rows.len()];
        // Which spans pool rows of each window.
        let mut readers: Vec<Vec<(usize, Range<usize>)>> = vec![Vec::new(); plan.windows.len()];
        for (span, rows) in plan.rows.iter().enumerate() {
            for (w, r) in rows {
                readers[*w].push((span, r.clone()));
            }
        }
        for (group, windows) in plan.windows.chunks(self.batch_size).enumerate() {
            let sequences: Vec<Vec<u32>> = windows
                .iter()
                .map(|w| {
                    let mut s = Vec::with_capacity(w.len() + 2);
                    s.push(specials.0);
                    s.extend_from_slice(&ids[w.clone()]);
                    s.push(specials.1);
                    s
                })
                .collect();
            let states = self.lane.token_states(sequences).await?;
            for (k, states) in states.iter().enumerate() {
                for (span, rows) in &readers[group * self.batch_size + k] {
                    let read = states.get(rows.start * h..rows.end * h).ok_or_else(|| {
                        EmbedError::internal_msg("the model gave fewer token states than tokens")
                    })?;
                    let sum = &mut sums[*span];
                    for row in read.chunks_exact(h) {
                        sum.iter_mut().zip(row).for_each(|(s, x)| *s += x);
                    }
                }
            }
        }
        // A span holding no token (only what the tokenizer drops) is read alone, as the model
        // reads any text.
        let empty: Vec<usize> = (0..sums.len())
            .filter(|&i| plan.rows[i].is_empty())
            .collect();
        if !empty.is_empty() {
            let alone = self
                .lane
                .embed(vec![vec![specials.0, specials.1]; empty.len()])
                .await?;
            for (i, v) in empty.into_iter().zip(alone) {
                sums[i] = v;
            }
        }
        sums.iter_mut().for_each(|v| normalise(v));
        Ok(sums)
    }

    /// The ids of `[CLS]` and `[SEP]` (what the tokenizer puts around a text).
    fn specials(&self) -> Result<(u32, u32), EmbedError> {
        let empty = self
            .tokenizer
            .encode("", true)
            .map_err(EmbedError::tokenizer)?;
        match empty.get_ids() {
            [first, .., last] => Ok((*first, *last)),
            _ => Err(EmbedError::internal_msg(
                "the tokenizer adds no [CLS] and [SEP] around a text",
            )),
        }
    }

    /// The encoding of every text, `[CLS]`/`[SEP]` added, never truncated nor padded; the
    /// first text over the limit is an error.
    fn encode(&self, texts: Vec<&str>) -> Result<Vec<Encoding>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts, true)
            .map_err(EmbedError::tokenizer)?;
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
        Ok(encodings)
    }

    /// The token ids of every text, as [`Inner::encode`] has them.
    fn tokenize(&self, texts: &[String]) -> Result<Vec<Vec<u32>>, EmbedError> {
        let encodings = self.encode(texts.iter().map(String::as_str).collect())?;
        Ok(encodings
            .into_iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    fn forward(&self, sequences: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.model
            .embed(sequences)
            .map_err(|e| EmbedError::internal("the model failed", e))
    }
}

impl Forward for Encoder {
    fn forward(&self, sequences: &[&[u32]], states: &[bool]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.run(sequences, states)
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
        let (inner, texts) = (Arc::clone(&self.inner), texts.to_vec());
        let ids = crate::blocking("tokenizer", move || inner.tokenize(&texts)).await?;
        self.inner.lane.embed(ids).await
    }

    fn late_chunking(&self) -> bool {
        self.late_chunking
    }

    async fn embed_spans(
        &self,
        text: &str,
        spans: &[Range<usize>],
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        if !self.late_chunking {
            return self.embed(&span_texts(text, spans)?).await;
        }
        // Checked here: the plan takes spans as they are.
        check_spans(text, spans)?;
        if spans.is_empty() {
            return Ok(Vec::new());
        }
        self.inner
            .clone()
            .embed_spans(text.to_string(), spans.to_vec())
            .await
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
