//! `POST /v1/embeddings`: texts (or `cl100k_base` token arrays) in, vectors out, as floats or
//! base64.

use serde::{Deserialize, Serialize};
use validator::{Validate, ValidationError};

use crate::wire::MAX_EMBEDDING_INPUTS;

#[cfg(feature = "openapi")]
use crate::openapi::object;

/// What to embed: a text, a list of texts, a list of tokens, or a list of token lists (tokens
/// of OpenAI's `cl100k_base` encoding, as some clients send them). 1 to 2048 inputs, none empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum EmbeddingInput {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

impl EmbeddingInput {
    /// Whether it is one input (a text or a token array), not a list of them: an error then
    /// names `input`, not `input[i]`.
    pub fn is_single(&self) -> bool {
        matches!(self, EmbeddingInput::Text(_) | EmbeddingInput::Tokens(_))
    }

    /// How many inputs it holds.
    pub fn len(&self) -> usize {
        match self {
            EmbeddingInput::Text(_) | EmbeddingInput::Tokens(_) => 1,
            EmbeddingInput::Texts(t) => t.len(),
            EmbeddingInput::TokenLists(t) => t.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn input_rules(input: &EmbeddingInput) -> Result<(), ValidationError> {
    if input.is_empty() || input.len() > MAX_EMBEDDING_INPUTS {
        return Err(ValidationError::new("length").with_message(
            format!(
                "must hold 1 to {MAX_EMBEDDING_INPUTS} inputs, not {}",
                input.len()
            )
            .into(),
        ));
    }
    let empty = match input {
        EmbeddingInput::Text(t) => t.is_empty(),
        EmbeddingInput::Texts(t) => t.iter().any(String::is_empty),
        EmbeddingInput::Tokens(t) => t.is_empty(),
        EmbeddingInput::TokenLists(t) => t.iter().any(Vec::is_empty),
    };
    if empty {
        return Err(ValidationError::new("empty").with_message("an input is empty".into()));
    }
    Ok(())
}

/// How the vectors are written: as lists of numbers, or as base64 of their little-endian
/// 32-bit floats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    #[default]
    Float,
    Base64,
}

/// `POST /v1/embeddings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateEmbedding {
    #[validate(custom(function = "input_rules"))]
    pub input: EmbeddingInput,
    /// A configured embedding model, such as the built-in `all-minilm-l6-v2` or
    /// `potion-base-8m`.
    #[cfg_attr(feature = "openapi", schema(examples("all-minilm-l6-v2")))]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<EncodingFormat>,
    /// The vectors' dimension; only the model's own is accepted (neither built-in model can
    /// be shortened).
    #[validate(range(min = 1))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// Accepted for compatibility; not stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// A vector: numbers, or base64 of their little-endian 32-bit floats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum EmbeddingVector {
    Float(Vec<f32>),
    Base64(String),
}

/// The vector of one input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Embedding {
    /// Always `embedding`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::embedding))]
    pub object: String,
    /// The input's place in the request.
    pub index: u32,
    pub embedding: EmbeddingVector,
}

/// Tokens of the inputs, counted in `cl100k_base` as OpenAI counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmbeddingUsage {
    pub prompt_tokens: u64,
    pub total_tokens: u64,
}

/// The answer of `POST /v1/embeddings`: a vector per input, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmbeddingsPage {
    /// Always `list`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::list))]
    pub object: String,
    pub data: Vec<Embedding>,
    /// The model that made them.
    pub model: String,
    pub usage: EmbeddingUsage,
}
