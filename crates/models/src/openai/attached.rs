//! Files attached to vector stores: chunking, states, attach and batch requests, the file's
//! content pages.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use validator::Validate;

use super::{FileCounts, cursor_list_query};
use crate::platform::ContentPart;
use crate::validation;

#[cfg(feature = "openapi")]
use crate::openapi::{Attributes, DocumentAttributes, object};

/// Why a file failed to ingest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileLastError {
    /// `server_error`, `unsupported_file` or `invalid_file`.
    #[cfg_attr(feature = "openapi", schema(example = "unsupported_file"))]
    pub code: String,
    /// What went wrong.
    pub message: String,
}

/// The sizes a file is split with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StaticChunking {
    /// The most tokens one chunk holds, 100 to 4096.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 100, maximum = 4096, example = 800)
    )]
    pub max_chunk_size_tokens: u32,
    /// How many tokens neighbouring chunks share; at most half of `max_chunk_size_tokens`.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 2048, example = 400)
    )]
    pub chunk_overlap_tokens: u32,
}

/// How a file is split into chunks: asked for in a request (`auto` or `static`), and reported
/// in a [`VectorStoreFile`] as the `static` sizes it was split with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChunkingStrategy {
    /// A struct variant, so that `deny_unknown_fields` holds for it too.
    Auto {},
    Static {
        #[serde(rename = "static")]
        static_: StaticChunking,
    },
}

/// The state of a file in a vector store, or of a file batch ([`BatchStatus`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FileStatus {
    InProgress,
    Completed,
    Failed,
    Cancelled,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::InProgress => "in_progress",
            FileStatus::Completed => "completed",
            FileStatus::Failed => "failed",
            FileStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<FileStatus> {
        Some(match s {
            "in_progress" => FileStatus::InProgress,
            "completed" => FileStatus::Completed,
            "failed" => FileStatus::Failed,
            "cancelled" => FileStatus::Cancelled,
            _ => return None,
        })
    }
}

/// The state of a file batch, in a file's terms: cancelled once cancelled; otherwise in progress
/// while any of its files is, failed when every file failed, else completed.
pub type BatchStatus = FileStatus;

/// `openai.types.vector_stores.VectorStoreFile`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VectorStoreFile {
    /// The file's id (as in `/v1/files`).
    #[cfg_attr(feature = "openapi", schema(example = "file-abc123"))]
    pub id: String,
    /// Always `vector_store.file`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::vector_store_file))]
    pub object: String,
    /// When the file was attached (Unix seconds).
    pub created_at: i64,
    /// The store the file is attached to.
    pub vector_store_id: String,
    /// The bytes the file's chunks use in the store.
    pub usage_bytes: u64,
    pub status: FileStatus,
    /// Why the file failed; `null` unless it did.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_error: Option<FileLastError>,
    /// The file's attributes.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<DocumentAttributes>))]
    pub attributes: Option<Map<String, Value>>,
    /// The sizes the file was split with (always `static`).
    pub chunking_strategy: Option<ChunkingStrategy>,
}

/// `POST /v1/vector_stores/{id}/files`, and one of the `files` of a file batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AttachFile {
    /// The file to attach (an id from `/v1/files`).
    #[validate(custom(function = "validation::not_blank"))]
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub file_id: String,
    /// The file's attributes, for filters.
    #[validate(custom(function = "validation::metadata"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Attributes>))]
    pub attributes: Option<Map<String, Value>>,
    /// How the file is chunked; `auto` without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunking_strategy: Option<ChunkingStrategy>,
}

impl AttachFile {
    /// Attaches `file_id` with no attributes and the default chunking.
    pub fn new(file_id: impl Into<String>) -> Self {
        Self {
            file_id: file_id.into(),
            attributes: None,
            chunking_strategy: None,
        }
    }
}

/// `POST /v1/vector_stores/{id}/files/{file_id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateAttachedFile {
    /// The file's new attributes, in place of the old; none are kept without.
    #[validate(custom(function = "validation::metadata"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Attributes>))]
    pub attributes: Option<Map<String, Value>>,
}

cursor_list_query! {
    /// `GET /v1/vector_stores/{id}/files` query (also a batch's files).
    pub struct AttachedListQuery {
        /// Only the files in this state.
        #[cfg_attr(feature = "openapi", param(inline))]
        pub filter: Option<FileStatus>,
    }
}

/// `POST /v1/vector_stores/{id}/file_batches`: `file_ids` or `files`, 1 to 2000.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateBatch {
    /// The files to attach, sharing `attributes` and `chunking_strategy`; or give `files`.
    #[validate(length(min = 1, max = 2000))]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 2000))]
    pub file_ids: Option<Vec<String>>,
    /// The files to attach, each with its own attributes and chunking; or give `file_ids`.
    #[validate(length(min = 1, max = 2000), nested)]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 2000))]
    pub files: Option<Vec<AttachFile>>,
    /// The attributes of every file of `file_ids`.
    #[validate(custom(function = "validation::metadata"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Attributes>))]
    pub attributes: Option<Map<String, Value>>,
    /// How the files of `file_ids` are chunked; `auto` without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunking_strategy: Option<ChunkingStrategy>,
}

impl CreateBatch {
    /// A batch of `file_ids`, sharing no attributes and the default chunking.
    pub fn from_file_ids<S: Into<String>>(file_ids: impl IntoIterator<Item = S>) -> Self {
        Self {
            file_ids: Some(file_ids.into_iter().map(Into::into).collect()),
            ..Self::default()
        }
    }
}

/// `openai.types.vector_stores.VectorStoreFileBatch`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileBatch {
    /// The batch's id.
    #[cfg_attr(feature = "openapi", schema(example = "vsfb_abc123"))]
    pub id: String,
    /// Always `vector_store.files_batch`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::files_batch))]
    pub object: String,
    /// When the batch was made (Unix seconds).
    pub created_at: i64,
    /// The store the batch's files are attached to.
    pub vector_store_id: String,
    /// The state of its files together ([`BatchStatus`]).
    pub status: FileStatus,
    pub file_counts: FileCounts,
}

/// `GET /v1/vector_stores/{id}/files/{file_id}/content`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileContentPage {
    /// Always `vector_store.file_content.page`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::file_content_page))]
    pub object: String,
    /// The page's text (one part). A page holds at most `limits.max_response_bytes` of JSON.
    pub data: Vec<ContentPart>,
    /// Whether more of the text follows.
    pub has_more: bool,
    /// The `page` to ask for the next part of the text; `null` on the last page.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_page: Option<String>,
}
