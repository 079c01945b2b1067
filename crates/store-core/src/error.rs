//! The one error type of the storage layer.

use std::fmt;

use crate::field::Field;

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure a [`StoreError`] is, without any transport detail. The HTTP layer maps
/// each kind to a status exactly once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    InvalidInput,
    Conflict,
    QuotaExceeded,
    Unavailable,
    Internal,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            ErrorKind::NotFound => "not found",
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::Conflict => "conflict",
            ErrorKind::QuotaExceeded => "quota exceeded",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Internal => "internal",
        };
        f.write_str(s)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no {what} with id '{id}'")]
    NotFound { what: &'static str, id: String },
    #[error("{message}")]
    InvalidInput {
        message: String,
        field: Option<Field>,
    },
    #[error("{0}")]
    Conflict(String),
    /// Making the object would take its tenant over one of its quotas.
    #[error("{}", crate::quota::exceeded(*quota, *limit))]
    QuotaExceeded {
        quota: crate::quota::Quota,
        limit: u64,
    },
    #[error("storage back-end unavailable: {message}")]
    Unavailable {
        message: String,
        #[source]
        source: Option<Source>,
    },
    #[error("storage failure: {message}")]
    Internal {
        message: String,
        #[source]
        source: Option<Source>,
    },
}

pub type StoreResult<T> = Result<T, StoreError>;

impl StoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            StoreError::NotFound { .. } => ErrorKind::NotFound,
            StoreError::InvalidInput { .. } => ErrorKind::InvalidInput,
            StoreError::Conflict(_) => ErrorKind::Conflict,
            StoreError::QuotaExceeded { .. } => ErrorKind::QuotaExceeded,
            StoreError::Unavailable { .. } => ErrorKind::Unavailable,
            StoreError::Internal { .. } => ErrorKind::Internal,
        }
    }

    pub fn not_found(what: &'static str, id: impl Into<String>) -> Self {
        StoreError::NotFound {
            what,
            id: id.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        StoreError::InvalidInput {
            message: message.into(),
            field: None,
        }
    }

    /// Invalid input in one field.
    pub fn invalid_field(field: Field, message: impl Into<String>) -> Self {
        StoreError::InvalidInput {
            message: message.into(),
            field: Some(field),
        }
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        StoreError::Conflict(message.into())
    }

    pub fn unavailable(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Unavailable {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    pub fn internal(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        StoreError::Internal {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }

    pub fn internal_msg(message: impl Into<String>) -> Self {
        StoreError::Internal {
            message: message.into(),
            source: None,
        }
    }

    /// The vector handed in as `field` does not have the collection's dimension.
    pub fn dimension_mismatch(field: Field, expected: usize, got: usize) -> Self {
        let message =
            format!("{field} has dimension {got}, but the collection's dimension is {expected}");
        StoreError::invalid_field(field, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::DocumentPart;

    #[test]
    fn every_constructor_reports_its_kind() {
        assert_eq!(
            StoreError::not_found("collection", "x").kind(),
            ErrorKind::NotFound
        );
        assert_eq!(StoreError::invalid("bad").kind(), ErrorKind::InvalidInput);
        assert_eq!(StoreError::conflict("dup").kind(), ErrorKind::Conflict);
        let io = std::io::Error::other("refused");
        assert_eq!(
            StoreError::unavailable("down", io).kind(),
            ErrorKind::Unavailable
        );
        assert_eq!(StoreError::internal_msg("boom").kind(), ErrorKind::Internal);
    }

    #[test]
    fn dimension_mismatch_names_both_dimensions_and_the_vector_param() {
        let e = StoreError::dimension_mismatch(Field::Chunk(DocumentPart::Vector), 384, 3);
        assert!(e.to_string().contains("384") && e.to_string().contains('3'));
        match e {
            StoreError::InvalidInput { field, .. } => {
                assert_eq!(field, Some(Field::Chunk(DocumentPart::Vector)));
            }
            other @ (StoreError::NotFound { .. }
            | StoreError::Conflict(_)
            | StoreError::QuotaExceeded { .. }
            | StoreError::Unavailable { .. }
            | StoreError::Internal { .. }) => panic!("unexpected {other:?}"),
        }
    }
}
