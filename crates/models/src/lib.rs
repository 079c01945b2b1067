//! Wire payloads of the service: the platform collection API (`/v1/api`), the raw API (`/v2`),
//! the OpenAI attribute-filter grammar, shared validation rules and the error envelope.
//!
//! Types only (serde + validator); no web framework, runtime or database. Every request type
//! implements [`validator::Validate`]; [`validation::first_error`] turns a failure into the
//! `(param, message)` pair the error envelope carries.
//!
//! With the `openapi` feature, every wire type also implements `utoipa::ToSchema` (and the
//! query-string types `utoipa::IntoParams`), for the HTTP layer's OpenAPI document; the
//! [`openapi`] module holds the schemas written by hand.

pub mod error;
pub mod filter;
pub mod openai;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod platform;
pub mod raw;
pub mod validation;
pub mod walk;
pub mod wire;

pub use error::{ErrorBody, ErrorEnvelope};
pub use filter::Filter;

use serde::{Deserialize, Serialize};

/// How a search ranks chunks, on every surface: by vector similarity, by keywords (BM25), or
/// both fused. The raw and OpenAI surfaces call them `vector`, `keyword` and `hybrid`; the
/// platform's `search_type` calls them `semantic`, `full_text` and `hybrid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SearchMode {
    /// By vector similarity.
    #[default]
    Vector,
    /// By keywords (BM25).
    Keyword,
    /// Both, fused.
    Hybrid,
}
