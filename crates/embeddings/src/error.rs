//! The one error type of the embeddings crate.

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("unknown embedding model '{name}'; configured models: {known}")]
    UnknownModel { name: String, known: String },
    #[error("input {index} is {tokens} tokens long, over the model's limit of {max} tokens")]
    InputTooLong {
        index: usize,
        tokens: usize,
        max: usize,
    },
    #[error("{0}")]
    InvalidInput(String),
    /// The provider did not answer, or answered with a retryable failure after every retry.
    #[error("embedding provider unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    #[error("embedding failed: {message}")]
    Internal {
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl EmbedError {
    pub fn internal(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        EmbedError::Internal {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    pub fn internal_msg(message: impl Into<String>) -> Self {
        EmbedError::Internal {
            message: message.into(),
            source: None,
        }
    }

    /// A tokenizer that failed on a text.
    pub(crate) fn tokenizer(error: impl std::fmt::Display) -> Self {
        Self::internal_msg(format!("tokenization failed: {error}"))
    }
}
