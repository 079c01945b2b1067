//! The service's one error type. Each variant says what went wrong in the service's terms; the
//! wire surfaces map each to their own status and envelope, once.

use embeddings::EmbedError;
use store_core::{Field, StoreError};

use crate::{RateLimited, TooManyInFlight};

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

pub type ServiceResult<T> = Result<T, ServiceError>;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// No object of this kind with this id belongs to the caller.
    #[error("no {kind} with id '{id}'")]
    NotFound { kind: &'static str, id: String },
    /// The caller's input is not acceptable; `field` is the part of the request it came from,
    /// when one is.
    #[error("{message}")]
    Invalid {
        field: Option<Field>,
        message: String,
    },
    /// The request contradicts what is stored (e.g. a name already taken).
    #[error("{0}")]
    Conflict(String),
    /// No valid API key.
    #[error("{0}")]
    Unauthorized(String),
    /// An upload over the configured size.
    #[error("{0}")]
    TooLarge(String),
    /// The caller's tenant would go over one of its quotas.
    #[error("{message}")]
    QuotaExceeded {
        quota: store_core::Quota,
        message: String,
    },
    /// The server's file storage is below its free-space watermark: nothing more is stored
    /// until space is freed.
    #[error("{0}")]
    InsufficientStorage(String),
    #[error(transparent)]
    RateLimited(#[from] RateLimited),
    #[error(transparent)]
    TooManyInFlight(#[from] TooManyInFlight),
    /// A storage or embedding back-end did not answer; trying again later may succeed.
    #[error("{message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Source>,
    },
    /// A fault of the service or a back-end; its cause is for the log, never for the caller.
    #[error("{message}")]
    Internal {
        message: String,
        #[source]
        source: Option<Source>,
    },
}

impl ServiceError {
    pub fn invalid(field: Field, message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            field: Some(field),
            message: message.into(),
        }
    }

    pub fn invalid_body(message: impl Into<String>) -> Self {
        ServiceError::Invalid {
            field: None,
            message: message.into(),
        }
    }

    pub fn internal_msg(message: impl Into<String>) -> Self {
        ServiceError::Internal {
            message: message.into(),
            source: None,
        }
    }

    /// What was asked for does not exist (or is another tenant's).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ServiceError::NotFound { .. })
    }

    /// The part of the request an invalid input came from, when one is known.
    pub fn field(&self) -> Option<&Field> {
        match self {
            ServiceError::Invalid { field, .. } => field.as_ref(),
            ServiceError::NotFound { .. }
            | ServiceError::Conflict(_)
            | ServiceError::Unauthorized(_)
            | ServiceError::TooLarge(_)
            | ServiceError::QuotaExceeded { .. }
            | ServiceError::InsufficientStorage(_)
            | ServiceError::RateLimited(_)
            | ServiceError::TooManyInFlight(_)
            | ServiceError::Unavailable { .. }
            | ServiceError::Internal { .. } => None,
        }
    }

    /// Whether the server or a back-end was at fault: the cause is for the log, and the caller
    /// is told only that there was one.
    pub fn is_server_fault(&self) -> bool {
        matches!(
            self,
            ServiceError::Internal { .. } | ServiceError::Unavailable { .. }
        )
    }

    /// Whether the input was at fault (so that trying the same again fails the same way).
    pub fn is_caller_fault(&self) -> bool {
        matches!(self, ServiceError::Invalid { .. })
    }
}

/// The error and all its sources, for the log.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, id } => ServiceError::NotFound { kind: what, id },
            StoreError::InvalidInput { message, field } => ServiceError::Invalid { field, message },
            StoreError::Conflict(message) => ServiceError::Conflict(message),
            e @ StoreError::QuotaExceeded { quota, .. } => ServiceError::QuotaExceeded {
                quota,
                message: e.to_string(),
            },
            StoreError::Unavailable { message, source } => ServiceError::Unavailable {
                message: format!("storage back-end unavailable: {message}"),
                source,
            },
            StoreError::Internal { message, source } => ServiceError::Internal {
                message: format!("storage failure: {message}"),
                source,
            },
        }
    }
}

impl From<EmbedError> for ServiceError {
    fn from(e: EmbedError) -> Self {
        match e {
            EmbedError::UnknownModel { .. } => ServiceError::invalid(Field::Model, e.to_string()),
            EmbedError::InputTooLong { .. } => ServiceError::invalid_body(e.to_string()),
            EmbedError::InvalidInput(message) => ServiceError::invalid_body(message),
            EmbedError::Unavailable { message, source } => ServiceError::Unavailable {
                message: format!("embedding provider unavailable: {message}"),
                source,
            },
            EmbedError::Internal { message, source } => ServiceError::Internal {
                message: format!("embedding failed: {message}"),
                source,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_keep_their_kind_message_and_param() {
        let e = ServiceError::from(StoreError::not_found("collection", "c1"));
        assert!(matches!(&e, ServiceError::NotFound { kind: "collection", id } if id == "c1"));
        assert_eq!(e.to_string(), "no collection with id 'c1'");
        let e = ServiceError::from(StoreError::dimension_mismatch(
            Field::Chunk(store_core::DocumentPart::Vector),
            3,
            2,
        ));
        assert_eq!(
            e.field(),
            Some(&Field::Chunk(store_core::DocumentPart::Vector))
        );
        let e = ServiceError::from(StoreError::unavailable(
            "down",
            std::io::Error::other("refused"),
        ));
        assert_eq!(e.to_string(), "storage back-end unavailable: down");
        assert_eq!(
            std::error::Error::source(&e).map(std::string::ToString::to_string),
            Some("refused".into())
        );
    }

    #[test]
    fn embedding_errors_become_the_service_s_own() {
        let e = ServiceError::from(EmbedError::UnknownModel {
            name: "x".into(),
            known: "a, b".into(),
        });
        assert_eq!(e.field(), Some(&Field::Model));
        let e = ServiceError::from(EmbedError::InputTooLong {
            index: 2,
            tokens: 300,
            max: 256,
        });
        assert_eq!(
            e.to_string(),
            "input 2 is 300 tokens long, over the model's limit of 256 tokens"
        );
        let e = ServiceError::from(EmbedError::Unavailable {
            message: "timeout".into(),
            source: None,
        });
        assert!(matches!(e, ServiceError::Unavailable { .. }));
    }
}
