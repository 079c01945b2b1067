//! Vector stores: the object, its create and update requests, its file counts and status.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use validator::{Validate, ValidationError};

use super::ChunkingStrategy;
use crate::platform::ExpiresAfter;
use crate::validation;

#[cfg(feature = "openapi")]
use crate::openapi::{Metadata, object};

/// How many files of a vector store (or of a batch) are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileCounts {
    /// Files being ingested.
    pub in_progress: u64,
    /// Files ingested.
    pub completed: u64,
    /// Files that failed to ingest.
    pub failed: u64,
    /// Files whose ingestion was cancelled.
    pub cancelled: u64,
    /// All files.
    pub total: u64,
}

/// `completed` once a store is ready for use, `in_progress` while files are ingested, `expired`
/// past its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VectorStoreStatus {
    Expired,
    InProgress,
    Completed,
}

/// `openai.types.VectorStore`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VectorStore {
    /// The vector store's id.
    #[cfg_attr(feature = "openapi", schema(example = "vs_abc123"))]
    pub id: String,
    /// Always `vector_store`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::vector_store))]
    pub object: String,
    /// When the store was made (Unix seconds).
    pub created_at: i64,
    /// The store's name (empty when it has none).
    pub name: String,
    /// The bytes the store's files use.
    pub usage_bytes: u64,
    pub file_counts: FileCounts,
    pub status: VectorStoreStatus,
    /// When the store was last active (Unix seconds).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_active_at: Option<i64>,
    /// The store's metadata: string keys and string values (every surface takes only strings;
    /// a value stored otherwise before that rule is shown as its JSON text).
    #[cfg_attr(feature = "openapi", schema(required = true, value_type = Option<Metadata>))]
    pub metadata: Option<Map<String, Value>>,
    /// The store's expiry policy; `null` when it never expires.
    pub expires_after: Option<ExpiresAfter>,
    /// When the store expires (Unix seconds); `null` when it never does.
    pub expires_at: Option<i64>,
}

/// `POST /v1/vector_stores`. `storage_backend` and `embedding_model` are extensions (the SDK's
/// `extra_body`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateVectorStore {
    /// The store's name.
    #[validate(length(max = 256))]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 256))]
    pub name: Option<String>,
    /// A description of the store.
    #[validate(length(max = 512))]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub description: Option<String>,
    #[validate(custom(function = "validation::string_metadata"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Metadata>))]
    pub metadata: Option<Map<String, Value>>,
    /// When the store expires; it never does without.
    #[validate(nested)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_after: Option<ExpiresAfter>,
    /// Files (ids from `/v1/files`) to attach at once, at most 2000.
    #[validate(length(max = 2000))]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_items = 2000))]
    pub file_ids: Option<Vec<String>>,
    /// How `file_ids` are chunked; `auto` without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunking_strategy: Option<ChunkingStrategy>,
    /// Extension: the back-end that stores the vectors (one of the configured ones); the
    /// configured default without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_backend: Option<String>,
    /// Extension: the embedding model (one of the configured ones); the configured default
    /// without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
}

/// A field that may be absent (leave as is), `null` (clear) or a value (set).
pub type Patch<T> = Option<Option<T>>;

fn patch<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Patch<T>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /v1/vector_stores/{id}`: each field absent leaves it as is, `null` clears it, a value
/// sets it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateVectorStore {
    /// The store's new name; `null` clears it.
    #[serde(
        default,
        deserialize_with = "patch",
        skip_serializing_if = "Option::is_none"
    )]
    #[validate(custom(function = "patch_name"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, max_length = 256))]
    pub name: Patch<String>,
    /// The store's new metadata, in place of the old; `null` clears it.
    #[serde(
        default,
        deserialize_with = "patch",
        skip_serializing_if = "Option::is_none"
    )]
    #[validate(custom(function = "patch_metadata"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Metadata>))]
    pub metadata: Patch<Map<String, Value>>,
    /// The store's new expiry policy; `null` removes it.
    #[serde(
        default,
        deserialize_with = "patch",
        skip_serializing_if = "Option::is_none"
    )]
    #[validate(custom(function = "patch_expiry"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<ExpiresAfter>))]
    pub expires_after: Patch<ExpiresAfter>,
}

fn patch_name(v: &Patch<String>) -> Result<(), ValidationError> {
    match v {
        Some(Some(name)) if name.chars().count() > 256 => {
            Err(ValidationError::new("length")
                .with_message("must be at most 256 characters".into()))
        }
        _ => Ok(()),
    }
}

fn patch_metadata(v: &Patch<Map<String, Value>>) -> Result<(), ValidationError> {
    v.as_ref()
        .and_then(Option::as_ref)
        .map_or(Ok(()), validation::string_metadata)
}

fn patch_expiry(v: &Patch<ExpiresAfter>) -> Result<(), ValidationError> {
    match v {
        Some(Some(e)) if !(1..=365).contains(&e.days) => {
            Err(ValidationError::new("range").with_message("days must be between 1 and 365".into()))
        }
        _ => Ok(()),
    }
}
