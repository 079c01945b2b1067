//! Embedding texts with any configured model, for callers who embed on their side what the
//! store embeds on its own (`POST /v1/embeddings`).

use embeddings::EmbedError;
use embeddings::openai::{count_tokens, decode_tokens};
use models::openai::{CreateEmbedding, EmbeddingInput};
use store_core::Field;

use super::{Limits, VectorService, embed_error};
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
        let one = input.input.is_single();
        // Counting tokens takes time in proportion to the text: off the request threads.
        let limits = self.limits;
        let (texts, tokens) =
            tokio::task::spawn_blocking(move || embedding_texts(&limits, input.input))
                .await
                .map_err(|e| {
                    ServiceError::internal_msg(format!("counting tokens stopped: {e}"))
                })??;
        // A number is at most 16 bytes of JSON (base64 takes less): the answer must fit.
        let answer = texts.len() * embedder.dimension() * 16;
        if answer > self.limits.max_response_bytes {
            return Err(ServiceError::invalid(
                Field::Input(None),
                format!(
                    "the vectors of {} inputs of model '{}' would take up to {answer} bytes, over \
                     the {} an answer may; send fewer inputs",
                    texts.len(),
                    input.model,
                    self.limits.max_response_bytes
                ),
            ));
        }
        let vectors = embedder.embed(&texts).await.map_err(|e| {
            embed_error(e, |index, tokens, max| {
                let which = match one {
                    true => "the input".to_string(),
                    false => format!("input {index}"),
                };
                ServiceError::invalid(
                    Field::Input((!one).then_some(index)),
                    format!(
                        "{which} is {tokens} tokens long, over the limit of {max} tokens of \
                         model '{}'",
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
}

/// The texts of `input`, each within the text limit, and their `cl100k_base` tokens, at
/// most `max_embedding_tokens` together. Each input is measured before it is tokenised or
/// decoded, and the first over a limit ends the work.
fn embedding_texts(
    limits: &Limits,
    input: EmbeddingInput,
) -> Result<(Vec<String>, usize), ServiceError> {
    enum Raw {
        Text(String),
        Tokens(Vec<u32>),
    }
    let one = input.is_single();
    let raw: Vec<Raw> = match input {
        EmbeddingInput::Text(t) => vec![Raw::Text(t)],
        EmbeddingInput::Texts(ts) => ts.into_iter().map(Raw::Text).collect(),
        EmbeddingInput::Tokens(t) => vec![Raw::Tokens(t)],
        EmbeddingInput::TokenLists(ts) => ts.into_iter().map(Raw::Tokens).collect(),
    };
    let max_tokens = limits.max_embedding_tokens;
    let over_tokens = || {
        ServiceError::invalid(
            Field::Input(None),
            format!(
                "the inputs are over {max_tokens} tokens together; one request embeds at \
                 most {max_tokens} (cl100k_base tokens)"
            ),
        )
    };
    let mut texts = Vec::with_capacity(raw.len());
    let mut tokens = 0;
    for (i, item) in raw.into_iter().enumerate() {
        let field = Field::Input((!one).then_some(i));
        let (text, n) = match item {
            Raw::Text(text) => {
                if text.len() > limits.max_text_bytes {
                    return Err(ServiceError::invalid(
                        field,
                        format!(
                            "the input is {} bytes long; inputs are at most {} bytes",
                            text.len(),
                            limits.max_text_bytes
                        ),
                    ));
                }
                let n = count_tokens(&text);
                (text, n)
            }
            Raw::Tokens(t) => {
                if tokens + t.len() > max_tokens {
                    return Err(over_tokens());
                }
                let text = decode_tokens(&t).ok_or_else(|| {
                    ServiceError::invalid(field, "the tokens are not cl100k_base tokens")
                })?;
                (text, t.len())
            }
        };
        tokens += n;
        if tokens > max_tokens {
            return Err(over_tokens());
        }
        texts.push(text);
    }
    Ok((texts, tokens))
}
