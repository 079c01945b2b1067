//! Models behind traits: embedders, and the rerankers and chat models a search can use.
//!
//! - [`Embedder`]: turns texts into vectors of a fixed dimension, rejecting texts longer than the
//!   model's maximum input tokens;
//! - [`EmbedderRegistry`]: model name → embedder, built once from configuration ([`ModelConfig`]),
//!   each model's calls counted and timed ([`metrics`]);
//! - providers: [`LocalBertEmbedder`], the built-in all-MiniLM-L6-v2 run in pure Rust (no Python,
//!   no network; one thread per model runs it, batching concurrent requests; a file's chunks
//!   read in context, each token once, by [`Embedder::embed_spans`]: late chunking),
//!   [`StaticEmbedder`], a static Model2Vec model (potion-base-8M) for speed, and
//!   [`OpenAiEmbedder`], a client of any OpenAI-compatible `/embeddings` endpoint (OpenAI, vLLM,
//!   TEI, Ollama).
//! - [`Reranker`] ([`HttpReranker`]: the Cohere/Jina/vLLM and TEI `/rerank` protocols) and
//!   [`QueryRewriter`] ([`ChatRewriter`]: an OpenAI-compatible chat model), reached over HTTP,
//!   failing with a [`RemoteError`].
//!
//! Features: `mocks` (mockall mocks of [`Embedder`], [`Reranker`] and [`QueryRewriter`]).

mod bert;
pub mod chat;
pub mod error;
mod kernels;
mod lane;
mod late;
pub mod local;
pub mod metrics;
pub mod openai;
pub mod registry;
mod remote;
pub mod rerank;
pub mod static_model;

pub use chat::{ChatOptions, ChatRewriter, QueryRewriter};
pub use error::EmbedError;
pub use local::LocalBertEmbedder;
pub use openai::{OpenAiEmbedder, OpenAiOptions};
pub use registry::{EmbedderRegistry, ModelConfig, ProviderConfig};
pub use remote::RemoteError;
pub use rerank::{HttpReranker, RerankProtocol, Reranker, RerankerOptions};
pub use static_model::StaticEmbedder;

use std::fmt::Debug;
use std::ops::Range;

use async_trait::async_trait;

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Embedder: Send + Sync + Debug + 'static {
    /// The model's registered name.
    fn model(&self) -> &str;
    /// The dimension of every vector it returns.
    fn dimension(&self) -> usize;
    /// The longest input it takes, in its own tokens.
    fn max_input_tokens(&self) -> usize;
    /// One vector per text, in order. A text over `max_input_tokens` is
    /// [`EmbedError::InputTooLong`] naming its index; an empty list gives an empty list.
    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// Whether [`embed_spans`](Self::embed_spans) reads each span in the context of the text
    /// around it (late chunking).
    fn late_chunking(&self) -> bool {
        false
    }
    /// One vector per span of `text` (byte ranges on character boundaries, overlapping or
    /// not). A model that does late chunking encodes the text once, in windows as long as it
    /// reads, and pools each span's tokens, however long the span; any other embeds each
    /// span's text as [`embed`](Self::embed) does.
    async fn embed_spans(
        &self,
        text: &str,
        spans: &[Range<usize>],
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.embed(&span_texts(text, spans)?).await
    }
}

/// Runs `work` (tokenising, loading or running a model) on the blocking threads, off the async
/// ones; `what` names it in the error if its task dies.
pub(crate) async fn blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> Result<T, EmbedError> + Send + 'static,
) -> Result<T, EmbedError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| EmbedError::internal(format!("the {what} task stopped"), e))?
}

/// The text of each span of `text`; a span outside it or off a character boundary is
/// [`EmbedError::InvalidInput`].
pub fn span_texts(text: &str, spans: &[Range<usize>]) -> Result<Vec<String>, EmbedError> {
    check_spans(text, spans)?;
    Ok(spans.iter().map(|r| text[r.clone()].to_string()).collect())
}

/// Whether every span is a slice of `text` ([`EmbedError::InvalidInput`] names the first that
/// is not).
pub fn check_spans(text: &str, spans: &[Range<usize>]) -> Result<(), EmbedError> {
    match spans.iter().find(|r| text.get((*r).clone()).is_none()) {
        None => Ok(()),
        Some(r) => Err(EmbedError::InvalidInput(format!(
            "span {}..{} is not a slice of a text of {} bytes",
            r.start,
            r.end,
            text.len()
        ))),
    }
}
