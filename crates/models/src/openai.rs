//! The OpenAI Vector Stores API objects, field for field as the official SDKs type them
//! (`openai.types.vector_store*`), plus the documented extension fields.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use validator::{Validate, ValidationError};

use crate::SearchMode;
use crate::filter::Filter;
use crate::platform::{ContentPart, ExpiresAfter};
use crate::validation;

#[cfg(feature = "openapi")]
use crate::openapi::{Attributes, DocumentAttributes, Metadata, object};

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

/// The order of a list by `created_at`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

/// Cursor-list query: `limit` 1..=100 (20), `order` (desc), `after`, `before`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// How many objects a page holds, 1 to 100.
    #[validate(range(min = 1, max = 100))]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100, default = 20))]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100, default = 20))]
    pub limit: Option<u32>,
    /// The order by `created_at`.
    #[cfg_attr(feature = "openapi", schema(default = "desc"))]
    #[cfg_attr(feature = "openapi", param(schema_with = crate::openapi::order))]
    pub order: Option<Order>,
    /// The cursor: the id of the object the page starts after.
    pub after: Option<String>,
    /// The cursor: the id of the object the page ends before.
    pub before: Option<String>,
}

/// Which page of a file's content: `page`, the `next_page` of the page before (none: the first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct ContentQuery {
    /// The `next_page` of the page before; none for the first page.
    pub page: Option<String>,
}

/// A page of a cursor list (`openai.pagination.SyncCursorPage`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ListPage<T> {
    /// Always `list`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::list))]
    pub object: String,
    /// The page's objects.
    pub data: Vec<T>,
    /// The id of the page's first object; `null` when the page is empty.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub first_id: Option<String>,
    /// The id of the page's last object (the `after` of the next page); `null` when the page is
    /// empty.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub last_id: Option<String>,
    /// Whether more objects follow.
    pub has_more: bool,
}

impl<T> ListPage<T> {
    /// A page of `data`, its first and last ids taken with `id`.
    pub fn new(data: Vec<T>, has_more: bool, id: impl Fn(&T) -> &str) -> Self {
        Self {
            object: "list".into(),
            first_id: data.first().map(|x| id(x).to_string()),
            last_id: data.last().map(|x| id(x).to_string()),
            has_more,
            data,
        }
    }
}

/// What a deletion answers: a vector store (`vector_store.deleted`), a store's file
/// (`vector_store.file.deleted`), a file (`file`) or a raw collection (`collection.deleted`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deleted {
    /// The id of what was deleted.
    pub id: String,
    /// What was deleted.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::deleted))]
    pub object: String,
    /// Always `true`.
    pub deleted: bool,
}

/// A string or a list of strings: 1 to 10 queries, none blank. Its OpenAPI schema
/// (`SearchQuery`) is written by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Query {
    One(String),
    Many(Vec<String>),
}

impl From<&str> for Query {
    fn from(q: &str) -> Self {
        Query::One(q.to_string())
    }
}

impl From<String> for Query {
    fn from(q: String) -> Self {
        Query::One(q)
    }
}

impl From<Vec<String>> for Query {
    fn from(q: Vec<String>) -> Self {
        Query::Many(q)
    }
}

impl From<Vec<&str>> for Query {
    fn from(q: Vec<&str>) -> Self {
        Query::Many(q.into_iter().map(str::to_string).collect())
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Query {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use crate::openapi::string;
        use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder};
        let text = || string().min_length(Some(1)).pattern(Some(r"\S"));
        OneOfBuilder::new()
            .description(Some(
                "One query, or a list of 1 to 10 searched together; none may be empty or blank.",
            ))
            .item(text().examples(["How are refunds handled?"]))
            .item(
                ArrayBuilder::new()
                    .items(text())
                    .min_items(Some(1))
                    .max_items(Some(10)),
            )
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Query {
    fn name() -> std::borrow::Cow<'static, str> {
        "SearchQuery".into()
    }
}

impl Query {
    pub fn texts(&self) -> Vec<String> {
        match self {
            Query::One(s) => vec![s.clone()],
            Query::Many(v) => v.clone(),
        }
    }
}

fn query_rules(q: &Query) -> Result<(), ValidationError> {
    let texts = q.texts();
    if texts.is_empty() || texts.len() > 10 {
        return Err(ValidationError::new("length").with_message("must hold 1 to 10 queries".into()));
    }
    texts.iter().try_for_each(|t| validation::not_blank(t))
}

/// The ranker of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Ranker {
    #[serde(rename = "none")]
    None,
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "default-2024-11-15")]
    Default20241115,
}

/// How a search ranks and cuts its hits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SearchRankingOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranker: Option<Ranker>,
    /// Hits scoring below it are left out, 0 to 1.
    #[validate(range(min = 0.0, max = 1.0))]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub score_threshold: Option<f32>,
}

fn default_max_results() -> u32 {
    10
}

/// `POST /v1/vector_stores/{id}/search`. `search_mode` is an extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SearchVectorStore {
    #[validate(custom(function = "query_rules"))]
    pub query: Query,
    /// Only chunks whose attributes match.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filter>,
    /// The most hits to return, 1 to 50.
    #[serde(default = "default_max_results")]
    #[validate(range(min = 1, max = 50))]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 50, default = 10))]
    pub max_num_results: u32,
    #[validate(nested)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranking_options: Option<SearchRankingOptions>,
    /// Accepted for compatibility; queries are searched as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrite_query: Option<bool>,
    /// Extension: rank by vector similarity (the default), keywords or both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_mode: Option<SearchMode>,
}

impl SearchVectorStore {
    /// A search for `query` with every option at its default.
    pub fn new(query: impl Into<Query>) -> Self {
        Self {
            query: query.into(),
            filters: None,
            max_num_results: default_max_results(),
            ranking_options: None,
            rewrite_query: None,
            search_mode: None,
        }
    }
}

/// One hit of a search (`openai.types.VectorStoreSearchResponse`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    /// The file the chunk is of.
    pub file_id: String,
    /// The file's name (its id when it has none).
    pub filename: String,
    /// The chunk's score: higher is more relevant.
    pub score: f32,
    /// The file's attributes.
    #[cfg_attr(feature = "openapi", schema(value_type = DocumentAttributes))]
    pub attributes: Map<String, Value>,
    /// The chunk's text.
    pub content: Vec<ContentPart>,
}

/// The hits of a search, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResultsPage {
    /// Always `vector_store.search_results.page`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::search_results_page))]
    pub object: String,
    /// The queries searched.
    pub search_query: Vec<String>,
    /// The hits.
    pub data: Vec<SearchHit>,
    /// Always `false`: one page holds every hit.
    pub has_more: bool,
    /// Always `null`.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub next_page: Option<String>,
}

/// The purposes `POST /v1/files` accepts.
pub const FILE_PURPOSES: [&str; 6] = [
    "assistants",
    "batch",
    "fine-tune",
    "vision",
    "user_data",
    "evals",
];

/// `openai.types.FileObject`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileObject {
    /// The file's id.
    #[cfg_attr(feature = "openapi", schema(example = "file-abc123"))]
    pub id: String,
    /// Always `file`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::file))]
    pub object: String,
    /// The file's size in bytes.
    pub bytes: u64,
    /// When the file was uploaded (Unix seconds).
    pub created_at: i64,
    /// The file's name.
    pub filename: String,
    /// The purpose the file was uploaded for.
    #[cfg_attr(feature = "openapi", schema(schema_with = file_purpose))]
    pub purpose: String,
    /// Deprecated by OpenAI; always `processed` here.
    #[cfg_attr(feature = "openapi", schema(schema_with = file_status))]
    pub status: String,
    /// When the file expires (Unix seconds); `null` when it never does.
    pub expires_at: Option<i64>,
    /// Deprecated by OpenAI; always `null` here.
    pub status_details: Option<String>,
}

#[cfg(feature = "openapi")]
fn file_purpose() -> utoipa::openapi::schema::Object {
    crate::openapi::one_of_strings(&FILE_PURPOSES)
}

#[cfg(feature = "openapi")]
fn file_status() -> utoipa::openapi::schema::Object {
    crate::openapi::one_of_strings(&["uploaded", "processed", "error"])
}

/// `GET /v1/files` query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct FileListQuery {
    /// Only the files of this purpose.
    pub purpose: Option<String>,
    /// How many objects a page holds, 1 to 10000.
    #[validate(range(min = 1, max = 10000))]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 10000, default = 10000)
    )]
    #[cfg_attr(
        feature = "openapi",
        param(minimum = 1, maximum = 10000, default = 10000)
    )]
    pub limit: Option<u32>,
    /// The order by `created_at`.
    #[cfg_attr(feature = "openapi", schema(default = "desc"))]
    #[cfg_attr(feature = "openapi", param(schema_with = crate::openapi::order))]
    pub order: Option<Order>,
    /// The cursor: the id of the object the page starts after.
    pub after: Option<String>,
}

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

/// The state of a file in a vector store.
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

/// The state of a file batch: cancelled once cancelled; otherwise in progress while any of its
/// files is, failed when every file failed, else completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    InProgress,
    Completed,
    Failed,
    Cancelled,
}

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

/// `GET /v1/vector_stores/{id}/files` query (also a batch's files).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct AttachedListQuery {
    /// How many objects a page holds, 1 to 100.
    #[validate(range(min = 1, max = 100))]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100, default = 20))]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100, default = 20))]
    pub limit: Option<u32>,
    /// The order by `created_at`.
    #[cfg_attr(feature = "openapi", schema(default = "desc"))]
    #[cfg_attr(feature = "openapi", param(schema_with = crate::openapi::order))]
    pub order: Option<Order>,
    /// The cursor: the id of the object the page starts after.
    pub after: Option<String>,
    /// The cursor: the id of the object the page ends before.
    pub before: Option<String>,
    /// Only the files in this state.
    #[cfg_attr(feature = "openapi", param(inline))]
    pub filter: Option<FileStatus>,
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
    pub status: BatchStatus,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::first_error;
    use serde_json::json;

    #[test]
    fn a_chunking_strategy_is_auto_or_static_and_nothing_more() {
        let auto: ChunkingStrategy = serde_json::from_value(json!({"type": "auto"})).unwrap();
        assert_eq!(auto, ChunkingStrategy::Auto {});
        assert_eq!(serde_json::to_value(auto).unwrap(), json!({"type": "auto"}));
        let sized = json!({"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 50}});
        let s: ChunkingStrategy = serde_json::from_value(sized.clone()).unwrap();
        assert_eq!(serde_json::to_value(s).unwrap(), sized);
        for bad in [
            json!({"type": "auto", "extra": 1}),
            json!({"type": "static"}),
            json!({"type": "static", "static": {"max_chunk_size_tokens": 200}}),
            json!({"type": "other"}),
        ] {
            assert!(
                serde_json::from_value::<ChunkingStrategy>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn update_tells_absent_from_null() {
        let u: UpdateVectorStore = serde_json::from_value(json!({"name": null})).unwrap();
        assert_eq!(u.name, Some(None));
        assert_eq!(u.metadata, None);
        let u: UpdateVectorStore = serde_json::from_value(json!({"metadata": {"a": "b"}})).unwrap();
        assert!(matches!(u.metadata, Some(Some(_))));
    }

    #[test]
    fn vector_store_metadata_takes_strings_only() {
        let c: CreateVectorStore = serde_json::from_value(json!({"metadata": {"n": 1}})).unwrap();
        assert_eq!(first_error(&c.validate().unwrap_err()).0, "metadata");
        let u: UpdateVectorStore = serde_json::from_value(json!({"metadata": {"n": 1}})).unwrap();
        assert_eq!(first_error(&u.validate().unwrap_err()).0, "metadata");
    }

    #[test]
    fn queries_are_one_or_many_and_never_blank() {
        let s: SearchVectorStore = serde_json::from_value(json!({"query": ["a", "b"]})).unwrap();
        assert_eq!(s.query.texts(), ["a", "b"]);
        assert_eq!(s.max_num_results, 10);
        for bad in [
            json!({"query": []}),
            json!({"query": " "}),
            json!({"query": ["a", ""]}),
        ] {
            let s: SearchVectorStore = serde_json::from_value(bad).unwrap();
            assert_eq!(first_error(&s.validate().unwrap_err()).0, "query");
        }
        assert!(serde_json::from_value::<SearchVectorStore>(json!({"query": 3})).is_err());
    }

    #[test]
    fn rankers_are_the_three_documented_ones() {
        for r in ["none", "auto", "default-2024-11-15"] {
            let o: SearchRankingOptions = serde_json::from_value(json!({"ranker": r})).unwrap();
            assert!(o.ranker.is_some());
        }
        assert!(serde_json::from_value::<SearchRankingOptions>(json!({"ranker": "best"})).is_err());
    }

    #[test]
    fn requests_serialize_only_the_fields_that_are_set() {
        let c = CreateVectorStore {
            name: Some("n".into()),
            ..Default::default()
        };
        assert_eq!(serde_json::to_value(&c).unwrap(), json!({"name": "n"}));
        let s = SearchVectorStore::new(vec!["a", "b"]);
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"query": ["a", "b"], "max_num_results": 10})
        );
        assert_eq!(
            serde_json::to_value(AttachFile::new("file-1")).unwrap(),
            json!({"file_id": "file-1"})
        );
        assert_eq!(
            serde_json::to_value(CreateBatch::from_file_ids(["f1", "f2"])).unwrap(),
            json!({"file_ids": ["f1", "f2"]})
        );
    }

    #[test]
    fn an_update_round_trips_absent_null_and_set_fields() {
        let u = UpdateVectorStore {
            name: Some(None),
            metadata: Some(Some(Map::from_iter([("a".into(), json!("b"))]))),
            expires_after: None,
        };
        let v = serde_json::to_value(&u).unwrap();
        assert_eq!(v, json!({"name": null, "metadata": {"a": "b"}}));
        assert_eq!(serde_json::from_value::<UpdateVectorStore>(v).unwrap(), u);
    }

    #[test]
    fn list_limits_are_one_to_a_hundred() {
        let q = ListQuery {
            limit: Some(101),
            order: None,
            after: None,
            before: None,
        };
        assert_eq!(first_error(&q.validate().unwrap_err()).0, "limit");
    }
}
