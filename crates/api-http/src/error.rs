//! The crate's one error type and its single mapping to HTTP: every failure leaves as the OpenAI
//! envelope `{"error": {"message", "type", "param", "code"}}`. Each surface names the request
//! fields of the service's errors in its own words ([`Surface`]): the platform's and the raw
//! API's routes answer with [`SurfaceError`] of theirs, the OpenAI routes with [`ApiError`],
//! which names fields the OpenAI way.

use std::fmt;
use std::marker::PhantomData;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use models::{ErrorBody, ErrorEnvelope};
use service::{DocumentPart, Field, ServiceError};

use service::error_chain;

/// How one wire surface names the fields of its requests, for the envelope's `param`.
pub trait Surface: 'static {
    fn param(field: &Field) -> String;
}

/// The OpenAI surface: `/v1/vector_stores`, `/v1/files` and `/v1/uploads`.
pub enum OpenAi {}
/// The platform's collection API under `/v1/api`.
pub enum Platform {}
/// The raw `/v2` API.
pub enum Raw {}

impl Surface for OpenAi {
    #[allow(
        clippy::wildcard_enum_match_arm,
        reason = "a surface renames a few fields; every other keeps its common name"
    )]
    fn param(field: &Field) -> String {
        match field {
            Field::Model => "embedding_model".into(),
            Field::QueryVector => "query".into(),
            other => other.common_name(),
        }
    }
}

impl Surface for Platform {
    #[allow(
        clippy::wildcard_enum_match_arm,
        reason = "a surface renames a few fields; every other keeps its common name"
    )]
    fn param(field: &Field) -> String {
        match field {
            Field::Model => "model_name".into(),
            Field::QueryVector => "query".into(),
            Field::Document {
                index,
                part: DocumentPart::Text,
            } => format!("documents[{index}].content"),
            Field::Document {
                index,
                part: DocumentPart::Attributes,
            } => format!("documents[{index}].metadata"),
            other => other.common_name(),
        }
    }
}

impl Surface for Raw {
    #[allow(
        clippy::wildcard_enum_match_arm,
        reason = "a surface renames a few fields; every other keeps its common name"
    )]
    fn param(field: &Field) -> String {
        match field {
            Field::Query => "text".into(),
            Field::Filter => "filter".into(),
            Field::MaxResults => "k".into(),
            Field::ScoreThreshold => "score_threshold".into(),
            other => other.common_name(),
        }
    }
}

/// An [`ApiError`] of a route of surface `S`, whose fields `S` names.
pub struct SurfaceError<S> {
    pub error: ApiError,
    surface: PhantomData<fn() -> S>,
}

impl<S> From<ApiError> for SurfaceError<S> {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            surface: PhantomData,
        }
    }
}

impl<S> From<ServiceError> for SurfaceError<S> {
    fn from(e: ServiceError) -> Self {
        ApiError::Service(e).into()
    }
}

impl<S> fmt::Debug for SurfaceError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.error, f)
    }
}

impl<S> fmt::Display for SurfaceError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<S: Surface> ResponseError for SurfaceError<S> {
    fn status_code(&self) -> StatusCode {
        self.error.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        self.error.response::<S>()
    }
}

/// A failure of a request: the service's, or one of HTTP's own (a body, path or query that
/// does not parse, an unknown route, a body over the limit).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("{message}")]
    Invalid {
        message: String,
        param: Option<String>,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A request the server refuses whoever sends it (a browser page of another site, in
    /// `open` auth mode).
    #[error("{0}")]
    Forbidden(String),
}

impl From<service::RateLimited> for ApiError {
    fn from(e: service::RateLimited) -> Self {
        ApiError::Service(e.into())
    }
}

impl From<service::TooManyInFlight> for ApiError {
    fn from(e: service::TooManyInFlight) -> Self {
        ApiError::Service(e.into())
    }
}

impl ApiError {
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Invalid {
            message: message.into(),
            param: Some(param.into()),
        }
    }

    pub fn invalid_body(message: impl Into<String>) -> Self {
        ApiError::Invalid {
            message: message.into(),
            param: None,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::Service(ServiceError::internal_msg(message))
    }

    /// The class that decides status, type and code.
    pub fn class(&self) -> Class {
        match self {
            ApiError::Service(e) => match e {
                ServiceError::NotFound { .. } => Class::NotFound,
                ServiceError::Invalid { .. } => Class::InvalidRequest,
                ServiceError::Conflict(_) => Class::Conflict,
                ServiceError::Unauthorized(_) => Class::Unauthorized,
                ServiceError::TooLarge(_) => Class::PayloadTooLarge,
                ServiceError::QuotaExceeded { .. } => Class::QuotaExceeded,
                ServiceError::InsufficientStorage(_) => Class::InsufficientStorage,
                ServiceError::TooManyInFlight(busy) if busy.server_wide => Class::Unavailable,
                ServiceError::RateLimited(_) | ServiceError::TooManyInFlight(_) => {
                    Class::RateLimited
                }
                ServiceError::Unavailable { .. } => Class::Unavailable,
                ServiceError::Internal { .. } => Class::Internal,
            },
            ApiError::Invalid { .. } => Class::InvalidRequest,
            ApiError::NotFound(_) => Class::NotFound,
            ApiError::MethodNotAllowed(_) => Class::MethodNotAllowed,
            ApiError::PayloadTooLarge(_) => Class::PayloadTooLarge,
            ApiError::Forbidden(_) => Class::Forbidden,
        }
    }

    fn param<S: Surface>(&self) -> Option<String> {
        match self {
            ApiError::Invalid { param, .. } => param.clone(),
            ApiError::Service(e) => e.field().map(S::param),
            ApiError::NotFound(_)
            | ApiError::MethodNotAllowed(_)
            | ApiError::PayloadTooLarge(_)
            | ApiError::Forbidden(_) => None,
        }
    }

    /// The envelope sent for this error on the OpenAI surface.
    pub fn envelope(&self) -> ErrorEnvelope {
        self.envelope_on::<OpenAi>()
    }

    /// The envelope sent for this error on surface `S`. Server faults get a generic message;
    /// their cause is logged, never sent.
    pub fn envelope_on<S: Surface>(&self) -> ErrorEnvelope {
        let row = self.class().row();
        let message = match self.class() {
            Class::Internal => "The server had an error while processing your request.".into(),
            // Says only what the caller can act on: try again shortly.
            Class::Unavailable
                if matches!(self, ApiError::Service(ServiceError::TooManyInFlight(_))) =>
            {
                self.to_string()
            }
            // The cause (which may name internal hosts) is logged, never sent.
            Class::Unavailable => {
                "A storage or embedding back-end is unavailable; please try again shortly.".into()
            }
            Class::InvalidRequest
            | Class::Unauthorized
            | Class::Forbidden
            | Class::NotFound
            | Class::MethodNotAllowed
            | Class::Conflict
            | Class::PayloadTooLarge
            | Class::QuotaExceeded
            | Class::RateLimited
            | Class::InsufficientStorage => self.to_string(),
        };
        ErrorEnvelope {
            error: ErrorBody {
                message,
                kind: row.kind.into(),
                param: self.param::<S>(),
                code: row.code.map(Into::into),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    InvalidRequest,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    QuotaExceeded,
    RateLimited,
    InsufficientStorage,
    Unavailable,
    Internal,
}

pub struct Row {
    pub class: Class,
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: Option<&'static str>,
}

/// The API's whole error vocabulary: class → (HTTP status, envelope `type`, envelope `code`).
pub const ERROR_TABLE: [Row; 12] = [
    Row {
        class: Class::InvalidRequest,
        status: StatusCode::BAD_REQUEST,
        kind: "invalid_request_error",
        code: None,
    },
    Row {
        class: Class::Unauthorized,
        status: StatusCode::UNAUTHORIZED,
        kind: "invalid_request_error",
        code: Some("invalid_api_key"),
    },
    Row {
        class: Class::Forbidden,
        status: StatusCode::FORBIDDEN,
        kind: "invalid_request_error",
        code: Some("forbidden"),
    },
    Row {
        class: Class::NotFound,
        status: StatusCode::NOT_FOUND,
        kind: "invalid_request_error",
        code: Some("not_found"),
    },
    Row {
        class: Class::MethodNotAllowed,
        status: StatusCode::METHOD_NOT_ALLOWED,
        kind: "invalid_request_error",
        code: Some("method_not_allowed"),
    },
    Row {
        class: Class::Conflict,
        status: StatusCode::CONFLICT,
        kind: "invalid_request_error",
        code: Some("conflict"),
    },
    Row {
        class: Class::PayloadTooLarge,
        status: StatusCode::PAYLOAD_TOO_LARGE,
        kind: "invalid_request_error",
        code: Some("payload_too_large"),
    },
    Row {
        class: Class::QuotaExceeded,
        status: StatusCode::FORBIDDEN,
        kind: "invalid_request_error",
        code: Some("quota_exceeded"),
    },
    Row {
        class: Class::RateLimited,
        status: StatusCode::TOO_MANY_REQUESTS,
        kind: "requests",
        code: Some("rate_limit_exceeded"),
    },
    Row {
        class: Class::InsufficientStorage,
        status: StatusCode::INSUFFICIENT_STORAGE,
        kind: "server_error",
        code: Some("insufficient_storage"),
    },
    Row {
        class: Class::Unavailable,
        status: StatusCode::SERVICE_UNAVAILABLE,
        kind: "server_error",
        code: Some("service_unavailable"),
    },
    Row {
        class: Class::Internal,
        status: StatusCode::INTERNAL_SERVER_ERROR,
        kind: "server_error",
        code: None,
    },
];

impl Class {
    pub fn row(self) -> &'static Row {
        ERROR_TABLE
            .iter()
            .find(|r| r.class == self)
            .unwrap_or(&ERROR_TABLE[ERROR_TABLE.len() - 1])
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.class().row().status
    }

    fn error_response(&self) -> HttpResponse {
        self.response::<OpenAi>()
    }
}

impl ApiError {
    /// The response for this error on surface `S`.
    fn response<S: Surface>(&self) -> HttpResponse {
        let class = self.class();
        let busy = matches!(self, ApiError::Service(ServiceError::TooManyInFlight(_)));
        if matches!(class, Class::Internal | Class::Unavailable) && !busy {
            tracing::error!(error = %error_chain(self), "request failed");
        }
        let mut res = HttpResponse::build(class.row().status);
        if class == Class::Conflict {
            res.insert_header(("x-should-retry", "false"));
        }
        if class == Class::Unavailable {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        if busy && class != Class::Unavailable {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        if let ApiError::Service(ServiceError::RateLimited(limited)) = self {
            res.insert_header((header::RETRY_AFTER, limited.retry_after_secs()))
                .insert_header(("retry-after-ms", limited.retry_after_ms()))
                .insert_header((LIMIT_HEADER, limited.limit))
                .insert_header((REMAINING_HEADER, 0));
        }
        res.json(self.envelope_on::<S>())
    }
}

/// The size of the caller's request bucket, sent with every response to an authenticated request.
pub const LIMIT_HEADER: &str = "x-ratelimit-limit-requests";
/// How many more requests the caller may make right now.
pub const REMAINING_HEADER: &str = "x-ratelimit-remaining-requests";

#[cfg(test)]
mod tests;
