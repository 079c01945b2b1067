//! The OpenAI Vector Stores API objects, field for field as the official SDKs type them
//! (`openai.types.vector_store*`), plus the documented extension fields.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use validator::{Validate, ValidationError};

use crate::SearchMode;
use crate::filter::Filter;
use crate::platform::{ContentPart, ExpiresAfter};
use crate::validation;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCounts {
    pub in_progress: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub total: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorStoreStatus {
    Expired,
    InProgress,
    Completed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorStore {
    pub id: String,
    pub object: String,
    pub created_at: i64,
    pub name: String,
    pub usage_bytes: u64,
    pub file_counts: FileCounts,
    pub status: VectorStoreStatus,
    pub last_active_at: Option<i64>,
    pub metadata: Option<Map<String, Value>>,
    pub expires_after: Option<ExpiresAfter>,
    pub expires_at: Option<i64>,
}

/// `POST /v1/vector_stores`. `storage_backend` and `embedding_model` are extensions (the SDK's
/// `extra_body`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateVectorStore {
    #[validate(length(max = 256))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[validate(length(max = 512))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[validate(custom(function = "validation::string_metadata"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[validate(nested)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_after: Option<ExpiresAfter>,
    #[validate(length(max = 2000))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunking_strategy: Option<ChunkingStrategy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_backend: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedding_model: Option<String>,
}

/// A field that may be absent (leave as is), `null` (clear) or a value (set).
pub type Patch<T> = Option<Option<T>>;

fn patch<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Patch<T>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /v1/vector_stores/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpdateVectorStore {
    #[serde(
        default,
        deserialize_with = "patch",
        skip_serializing_if = "Option::is_none"
    )]
    #[validate(custom(function = "patch_name"))]
    pub name: Patch<String>,
    #[serde(
        default,
        deserialize_with = "patch",
        skip_serializing_if = "Option::is_none"
    )]
    #[validate(custom(function = "patch_metadata"))]
    pub metadata: Patch<Map<String, Value>>,
    #[serde(
        default,
        deserialize_with = "patch",
        skip_serializing_if = "Option::is_none"
    )]
    #[validate(custom(function = "patch_expiry"))]
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

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

/// Cursor-list query: `limit` 1..=100 (20), `order` (desc), `after`, `before`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    #[validate(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    pub order: Option<Order>,
    pub after: Option<String>,
    pub before: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListPage<T> {
    pub object: String,
    pub data: Vec<T>,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Deleted {
    pub id: String,
    pub object: String,
    pub deleted: bool,
}

/// A string or a list of strings.
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ranker {
    #[serde(rename = "none")]
    None,
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "default-2024-11-15")]
    Default20241115,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct SearchRankingOptions {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranker: Option<Ranker>,
    #[validate(range(min = 0.0, max = 1.0))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score_threshold: Option<f32>,
}

fn default_max_results() -> u32 {
    10
}

/// `POST /v1/vector_stores/{id}/search`. `search_mode` is an extension.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct SearchVectorStore {
    #[validate(custom(function = "query_rules"))]
    pub query: Query,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filters: Option<Filter>,
    #[serde(default = "default_max_results")]
    #[validate(range(min = 1, max = 50))]
    pub max_num_results: u32,
    #[validate(nested)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranking_options: Option<SearchRankingOptions>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrite_query: Option<bool>,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub file_id: String,
    pub filename: String,
    pub score: f32,
    pub attributes: Map<String, Value>,
    pub content: Vec<ContentPart>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResultsPage {
    pub object: String,
    pub search_query: Vec<String>,
    pub data: Vec<SearchHit>,
    pub has_more: bool,
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
pub struct FileObject {
    pub id: String,
    pub object: String,
    pub bytes: u64,
    pub created_at: i64,
    pub filename: String,
    pub purpose: String,
    pub status: String,
    pub expires_at: Option<i64>,
    pub status_details: Option<String>,
}

/// `GET /v1/files` query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct FileListQuery {
    pub purpose: Option<String>,
    #[validate(range(min = 1, max = 10000))]
    pub limit: Option<u32>,
    pub order: Option<Order>,
    pub after: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileLastError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticChunking {
    pub max_chunk_size_tokens: u32,
    pub chunk_overlap_tokens: u32,
}

/// How a file is split into chunks: asked for in a request (`auto` or `static`), and reported
/// in a [`VectorStoreFile`] as the `static` sizes it was split with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    InProgress,
    Completed,
    Failed,
    Cancelled,
}

/// `openai.types.vector_stores.VectorStoreFile`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VectorStoreFile {
    pub id: String,
    pub object: String,
    pub created_at: i64,
    pub vector_store_id: String,
    pub usage_bytes: u64,
    pub status: FileStatus,
    pub last_error: Option<FileLastError>,
    pub attributes: Option<Map<String, Value>>,
    pub chunking_strategy: Option<ChunkingStrategy>,
}

/// `POST /v1/vector_stores/{id}/files`, and one of the `files` of a file batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct AttachFile {
    #[validate(custom(function = "validation::not_blank"))]
    pub file_id: String,
    #[validate(custom(function = "validation::metadata"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
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
#[serde(deny_unknown_fields)]
pub struct UpdateAttachedFile {
    #[validate(custom(function = "validation::metadata"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
}

/// `GET /v1/vector_stores/{id}/files` query (also a batch's files).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct AttachedListQuery {
    #[validate(range(min = 1, max = 100))]
    pub limit: Option<u32>,
    pub order: Option<Order>,
    pub after: Option<String>,
    pub before: Option<String>,
    pub filter: Option<FileStatus>,
}

/// `POST /v1/vector_stores/{id}/file_batches`: `file_ids` or `files`, 1 to 2000.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateBatch {
    #[validate(length(min = 1, max = 2000))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_ids: Option<Vec<String>>,
    #[validate(length(min = 1, max = 2000), nested)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<AttachFile>>,
    #[validate(custom(function = "validation::metadata"))]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Map<String, Value>>,
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
pub struct FileBatch {
    pub id: String,
    pub object: String,
    pub created_at: i64,
    pub vector_store_id: String,
    pub status: BatchStatus,
    pub file_counts: FileCounts,
}

/// `GET /v1/vector_stores/{id}/files/{file_id}/content`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileContentPage {
    pub object: String,
    pub data: Vec<ContentPart>,
    pub has_more: bool,
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
