//! Embedding texts with any configured model, for callers who embed on their side what the
//! store embeds on its own (`POST /v1/embeddings`).

use embeddings::EmbedError;
use embeddings::openai::{count_tokens, decode_tokens};
use models::openai::{CreateEmbedding, EmbeddingInput};
use store_core::Field;

use super::{VectorService, embed_error};
use crate::error::ServiceError;

/// Texts to embed with a model.
#[derive(Debug, Clone)]
pub struct EmbedInput {
    pub model: String,
    pub input: EmbeddingInput,
    /// The dimension asked for; the model's own when `None`.
    pub dimensions: Option<usize>,
}

impl From<CreateEmbedding> for EmbedInput {
    fn from(c: CreateEmbedding) -> Self {
        Self {
            model: c.model,
            input: c.input,
            dimensions: c.dimensions.map(|d| d as usize),
        }
    }
}

/// A vector per input, in order, and the inputs' `cl100k_base` tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    pub model: String,
    pub vectors: Vec<Vec<f32>>,
    pub tokens: usize,
}

impl VectorService {
    /// Embeds each input with `input.model`. An unknown model is not found; token arrays are
    /// decoded as `cl100k_base`; an input over the model's token limit or the text limit is
    /// refused by its place, and inputs over `max_embedding_tokens` together as a whole: the
    /// model is shared, so one request holds it for a bounded time.
    pub async fn embed(&self, input: EmbedInput) -> Result<Embedded, ServiceError> {
        let embedder = self.embedders.get(&input.model).map_err(|e| match e {
            EmbedError::UnknownModel { name, .. } => ServiceError::NotFound {
                kind: "model",
                id: name,
            },
            e @ (EmbedError::InputTooLong { .. }
            | EmbedError::InvalidInput(_)
            | EmbedError::Unavailable { .. }
            | EmbedError::Internal { .. }) => e.into(),
        })?;
        if let Some(d) = input.dimensions
            && d != embedder.dimension()
        {
            return Err(ServiceError::invalid(
                Field::Dimensions,
                format!(
                    "model '{}' makes {}-dimensional vectors and cannot make {d}-dimensional ones",
                    input.model,
                    embedder.dimension()
                ),
            ));
        }
        let (texts, tokens) = self.embedding_texts(input.input)?;
        let vectors = embedder.embed(&texts).await.map_err(|e| {
            embed_error(e, |index, tokens, max| {
                ServiceError::invalid(
                    Field::Input(Some(index)),
                    format!(
                        "input {index} is {tokens} tokens long, over the limit of {max} tokens \
                         of model '{}'",
                        input.model
                    ),
                )
            })
        })?;
        Ok(Embedded {
            model: input.model,
            vectors,
            tokens,
        })
    }

    /// The texts of `input`, each within the text limit, and their `cl100k_base` tokens.
    fn embedding_texts(&self, input: EmbeddingInput) -> Result<(Vec<String>, usize), ServiceError> {
        let field = |i: usize, one: bool| Field::Input((!one).then_some(i));
        let decode = |i: usize, one: bool, t: Vec<u32>| {
            decode_tokens(&t)
                .map(|text| (text, t.len()))
                .ok_or_else(|| {
                    ServiceError::invalid(
                        field(i, one),
                        "the tokens are not cl100k_base tokens of UTF-8 text",
                    )
                })
        };
        let counted = |t: String| {
            let n = count_tokens(&t);
            Ok((t, n))
        };
        type Item = Result<(String, usize), ServiceError>;
        let (one, items): (bool, Vec<Item>) = match input {
            EmbeddingInput::Text(t) => (true, vec![counted(t)]),
            EmbeddingInput::Texts(ts) => (false, ts.into_iter().map(counted).collect()),
            EmbeddingInput::Tokens(t) => (true, vec![decode(0, true, t)]),
            EmbeddingInput::TokenLists(ts) => (
                false,
                ts.into_iter()
                    .enumerate()
                    .map(|(i, t)| decode(i, false, t))
                    .collect(),
            ),
        };
        let mut texts = Vec::with_capacity(items.len());
        let mut tokens = 0;
        for (i, item) in items.into_iter().enumerate() {
            let (text, n) = item?;
            if text.len() > self.limits.max_text_bytes {
                return Err(ServiceError::invalid(
                    field(i, one),
                    format!(
                        "the input is {} bytes long; inputs are at most {} bytes",
                        text.len(),
                        self.limits.max_text_bytes
                    ),
                ));
            }
            tokens += n;
            if tokens > self.limits.max_embedding_tokens {
                return Err(ServiceError::invalid(
                    Field::Input(None),
                    format!(
                        "the inputs are over {} tokens together; one request embeds at most {} \
                         (cl100k_base tokens)",
                        self.limits.max_embedding_tokens, self.limits.max_embedding_tokens
                    ),
                ));
            }
            texts.push(text);
        }
        Ok((texts, tokens))
    }
}
