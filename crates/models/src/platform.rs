//! The platform collection API under `/v1/api`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use validator::{Validate, ValidationError};

use crate::SearchMode;
use crate::filter::Filter;
use crate::validation;

#[cfg(feature = "openapi")]
use crate::openapi::{Attributes, DocumentAttributes, Metadata, SearchType, object};

/// Most documents one `POST /v1/api/index` takes.
pub const MAX_DOCUMENTS: usize = 1000;
/// Most results one search returns.
pub const MAX_RESULTS: u32 = 50;

/// When a store expires: `days` (1 to 365) after its last activity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ExpiresAfter {
    /// Always `last_active_at`: the days count from the store's last activity.
    pub anchor: ExpiryAnchor,
    #[validate(range(min = 1, max = 365))]
    /// Days after the anchor time, 1 to 365.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 365))]
    pub days: u32,
}

/// The time an expiry counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExpiryAnchor {
    LastActiveAt,
}

/// Creates a collection with its embedding model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    #[validate(custom(function = "validation::collection_name"))]
    /// The collection's name: a lowercase letter, then up to 62 lowercase letters, digits or
    /// underscores.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[a-z][a-z0-9_]{0,62}$", example = "handbook")
    )]
    pub collection: String,
    #[validate(custom(function = "validation::not_blank"))]
    /// The embedding model (one of the configured ones).
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub model_name: String,
    #[validate(length(max = 256))]
    /// A display name.
    #[cfg_attr(feature = "openapi", schema(max_length = 256))]
    pub name: Option<String>,
    /// The collection's metadata: string values only, as on every surface that shows it.
    #[validate(custom(function = "validation::string_metadata"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Metadata>))]
    pub metadata: Option<Map<String, Value>>,
    #[validate(nested)]
    /// When the collection expires; it never does without.
    pub expires_after: Option<ExpiresAfter>,
    /// The back-end that stores the vectors; the configured default without.
    pub storage_backend: Option<String>,
}

/// Deletes a collection and everything in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeleteCollection {
    #[validate(custom(function = "validation::collection_name"))]
    /// The collection's name.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[a-z][a-z0-9_]{0,62}$", example = "handbook")
    )]
    pub collection: String,
    /// The back-end the collection is on; any without.
    pub storage_backend: Option<String>,
}

/// A collection as `GET /v1/api/collection` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectionInfo {
    /// The collection's id (its vector store id).
    pub id: String,
    /// The collection's name.
    pub collection: String,
    /// The display name.
    pub name: Option<String>,
    /// The embedding model; `null` for a raw collection without one.
    pub model_name: Option<String>,
    /// The back-end that stores the vectors.
    pub storage_backend: String,
    /// The dimension of the vectors.
    pub dimension: usize,
    #[cfg_attr(feature = "openapi", schema(value_type = Attributes))]
    pub metadata: Map<String, Value>,
    pub expires_after: Option<ExpiresAfter>,
    /// When the collection was made (Unix seconds).
    pub created_at: i64,
    /// When the collection was last active (Unix seconds).
    pub last_active_at: i64,
}

/// The caller's collections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectionList {
    /// Always `list`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::list))]
    pub object: String,
    pub data: Vec<CollectionInfo>,
}

/// One document to index: its text, metadata and the platform's own fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Document {
    #[validate(custom(function = "validation::id"))]
    /// The document's id, 1 to 256 characters; a new one is made without. A document with the id
    /// of a stored one replaces it.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 256))]
    pub id: Option<String>,
    #[validate(custom(function = "validation::not_blank"))]
    /// The text to embed and index.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub content: String,
    #[validate(custom(function = "validation::metadata"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Attributes>))]
    pub metadata: Option<Map<String, Value>>,
    #[validate(length(max = 64), custom(function = "validation::short_items"))]
    /// Up to 64 links, each at most 512 characters.
    #[cfg_attr(feature = "openapi", schema(max_items = 64))]
    pub links: Option<Vec<String>>,
    #[validate(length(max = 64), custom(function = "validation::short_items"))]
    /// Up to 64 topics, each at most 512 characters.
    #[cfg_attr(feature = "openapi", schema(max_items = 64))]
    pub topics: Option<Vec<String>>,
    #[validate(length(max = 512))]
    /// The author.
    #[cfg_attr(feature = "openapi", schema(max_length = 512))]
    pub author: Option<String>,
}

/// The keys of a document's own fields that also appear in its attributes.
pub const DOCUMENT_FIELDS: [&str; 3] = ["links", "topics", "author"];

impl Document {
    /// The attributes a hit reports and filters match: the metadata keys at the top level, plus
    /// `links`, `topics` and `author` when present.
    pub fn attributes(&self) -> Map<String, Value> {
        let mut attrs = self.metadata.clone().unwrap_or_default();
        if let Some(links) = &self.links {
            attrs.insert("links".into(), Value::from(links.clone()));
        }
        if let Some(topics) = &self.topics {
            attrs.insert("topics".into(), Value::from(topics.clone()));
        }
        if let Some(author) = &self.author {
            attrs.insert("author".into(), Value::from(author.clone()));
        }
        attrs
    }
}

fn no_field_clash(doc: &Document) -> Result<(), ValidationError> {
    let Some(meta) = &doc.metadata else {
        return Ok(());
    };
    let given = [
        doc.links.is_some(),
        doc.topics.is_some(),
        doc.author.is_some(),
    ];
    for (field, is_given) in DOCUMENT_FIELDS.iter().zip(given) {
        if is_given && meta.contains_key(*field) {
            return Err(ValidationError::new("clash").with_message(
                format!("metadata key '{field}' clashes with the document's own '{field}' field")
                    .into(),
            ));
        }
    }
    Ok(())
}

/// `POST /v1/api/index`: documents to embed and store in a collection (created if need be).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct IndexingPayload {
    /// The back-end of a collection this call creates; the configured default without.
    pub storage_backend: Option<String>,
    #[validate(custom(function = "validation::collection_name"))]
    /// The collection; it is created (with the default model) when it does not exist.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[a-z][a-z0-9_]{0,62}$", example = "handbook")
    )]
    pub collection: String,
    #[validate(length(min = 1, max = 1000), nested, custom(function = "docs_clash"))]
    /// 1 to 1000 documents.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1000))]
    pub documents: Vec<Document>,
    #[validate(length(max = 256))]
    /// The display name of a collection this call creates.
    #[cfg_attr(feature = "openapi", schema(max_length = 256))]
    pub name: Option<String>,
    /// The metadata of a collection this call creates: string values only.
    #[validate(custom(function = "validation::string_metadata"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Metadata>))]
    pub metadata: Option<Map<String, Value>>,
    #[validate(nested)]
    /// The expiry of a collection this call creates.
    pub expires_after: Option<ExpiresAfter>,
}

fn docs_clash(docs: &[Document]) -> Result<(), ValidationError> {
    docs.iter().try_for_each(no_field_clash)
}

/// What an indexing call stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IndexResponse {
    pub message: String,
    pub collection: String,
    /// How many documents were indexed.
    pub indexed: u64,
    /// The documents' ids, in order.
    pub ids: Vec<String>,
}

/// [`SearchMode`] in the platform's words: `semantic`, `full_text`, `hybrid`.
pub mod search_type {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::SearchMode;

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Name {
        Semantic,
        FullText,
        Hybrid,
    }

    pub fn serialize<S: Serializer>(mode: &SearchMode, s: S) -> Result<S::Ok, S::Error> {
        match mode {
            SearchMode::Vector => Name::Semantic,
            SearchMode::Keyword => Name::FullText,
            SearchMode::Hybrid => Name::Hybrid,
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SearchMode, D::Error> {
        Ok(match Name::deserialize(d)? {
            Name::Semantic => SearchMode::Vector,
            Name::FullText => SearchMode::Keyword,
            Name::Hybrid => SearchMode::Hybrid,
        })
    }
}

/// How a search ranks and cuts its hits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RankingOptions {
    pub ranker: Option<crate::openai::Ranker>,
    #[validate(range(min = 0.0, max = 1.0))]
    /// Hits scoring below it are left out, 0 to 1.
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub score_threshold: Option<f32>,
}

/// `POST /v1/api/search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    #[validate(custom(function = "validation::collection_name"))]
    /// The collection to search.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[a-z][a-z0-9_]{0,62}$", example = "handbook")
    )]
    pub collection: String,
    #[validate(custom(function = "validation::not_blank"))]
    /// The query.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub query: String,
    #[serde(default, with = "search_type")]
    /// `semantic` (by vectors, the default), `full_text` (by keywords) or `hybrid`.
    #[cfg_attr(feature = "openapi", schema(value_type = SearchType))]
    pub search_type: SearchMode,
    /// Only documents whose attributes match.
    pub filters: Option<Filter>,
    #[serde(default = "crate::wire::search_results_default")]
    #[validate(range(min = 1, max = 50))]
    /// The most hits, 1 to 50.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 50, default = crate::wire::search_results_default)
    )]
    pub max_num_results: u32,
    #[validate(nested)]
    pub ranking_options: Option<RankingOptions>,
    /// The back-end the collection is on; any without.
    pub storage_backend: Option<String>,
}

/// A piece of text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ContentPart {
    #[serde(rename = "type")]
    /// Always `text`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::text))]
    pub kind: String,
    pub text: String,
}

impl ContentPart {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            kind: crate::wire::object::TEXT.into(),
            text: text.into(),
        }
    }
}

/// One hit of a search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResult {
    /// The document's id (its file's, for a file of a vector store).
    pub file_id: String,
    pub filename: Option<String>,
    /// The score: higher is more relevant.
    pub score: f32,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<DocumentAttributes>))]
    pub attributes: Option<Map<String, Value>>,
    pub content: Vec<ContentPart>,
}

/// The hits of a search, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResponse {
    /// Always `vector_store.search_results.page`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::search_results_page))]
    pub object: String,
    pub search_query: String,
    pub data: Vec<SearchResult>,
    pub has_more: bool,
    pub next_page: Option<String>,
}

/// Deletes every document of a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    #[validate(custom(function = "validation::collection_name"))]
    /// The collection to delete.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[a-z][a-z0-9_]{0,62}$", example = "handbook")
    )]
    pub collection: String,
    /// The back-end the collection is on; any without.
    pub storage_backend: Option<String>,
}

/// Deletes documents of a collection by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeleteByIdsRequest {
    #[validate(custom(function = "validation::collection_name"))]
    /// The collection to delete documents from.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[a-z][a-z0-9_]{0,62}$", example = "handbook")
    )]
    pub collection: String,
    /// The back-end the collection is on; any without.
    pub storage_backend: Option<String>,
    #[validate(length(min = 1, max = 1000), custom(function = "ids"))]
    /// 1 to 1000 document ids.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1000))]
    pub index_ids: Vec<String>,
}

fn ids(list: &[String]) -> Result<(), ValidationError> {
    list.iter().try_for_each(|s| validation::id(s))
}

/// What a deletion removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteResponse {
    pub message: String,
    pub collection: String,
    /// How many documents were deleted.
    pub deleted: u64,
}

/// `GET /v1/api/collection/data` query string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct CollectionDataQuery {
    #[validate(custom(function = "validation::collection_name"))]
    /// The collection to read.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[a-z][a-z0-9_]{0,62}$", example = "handbook")
    )]
    #[cfg_attr(
        feature = "openapi",
        param(pattern = "^[a-z][a-z0-9_]{0,62}$", example = "handbook")
    )]
    pub collection: String,
    #[validate(range(min = 1, max = 1000))]
    /// How many documents a page holds, 1 to 1000.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 1000, default = 100)
    )]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 1000, default = 100))]
    pub limit: Option<u32>,
    /// How many documents to skip.
    #[cfg_attr(feature = "openapi", schema(default = 0))]
    #[cfg_attr(feature = "openapi", param(default = 0))]
    pub offset: Option<u64>,
    /// The back-end the collection is on; any without.
    pub storage_backend: Option<String>,
}

/// One stored document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentRow {
    pub id: String,
    pub content: String,
    /// The document's attributes.
    #[cfg_attr(feature = "openapi", schema(value_type = DocumentAttributes))]
    pub metadata: Map<String, Value>,
}

/// A page of a collection's documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CollectionData {
    /// Always `list`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::list))]
    pub object: String,
    pub collection: String,
    /// How many documents the collection holds.
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
    pub data: Vec<DocumentRow>,
}

/// An API key of the caller's tenant, as `/v1/api/keys` reports it: never the key itself, which
/// is shown once, when it is created.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    /// The key's id (`key_…`), for revoking it.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "key_0b6c2f0c9d8e4f7a9a1b2c3d4e5f6a7b")
    )]
    pub id: String,
    /// Always `api_key`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::api_key))]
    pub object: String,
    /// The key's first characters, to recognise it by.
    #[cfg_attr(feature = "openapi", schema(example = "vsk_AbC123"))]
    pub prefix: String,
    /// When the key was made (Unix seconds).
    pub created_at: i64,
    /// When the key was revoked (Unix seconds); `null` while it is active.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub revoked_at: Option<i64>,
}

/// A key just made: the [`ApiKey`] and, this once, the key itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedApiKey {
    #[serde(flatten)]
    pub record: ApiKey,
    /// The key, to send as `Authorization: Bearer <key>`. It is stored hashed and never shown
    /// again.
    #[cfg_attr(feature = "openapi", schema(example = "vsk_AbC123..."))]
    pub key: String,
}

/// A page of the caller's tenant's keys, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyList {
    /// Always `list`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::list))]
    pub object: String,
    pub data: Vec<ApiKey>,
    /// Whether more keys follow: ask for them with `after` set to the last key's id.
    pub has_more: bool,
}

/// Which page of the caller's keys: `limit` 1 to 100 (100), `after` a key's id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct KeysQuery {
    /// How many keys a page holds, 1 to 100.
    #[validate(range(min = 1, max = 100))]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 100, default = 100))]
    #[cfg_attr(feature = "openapi", param(minimum = 1, maximum = 100, default = 100))]
    pub limit: Option<u32>,
    /// The id of the key the page starts after.
    pub after: Option<String>,
}

impl CollectionDataQuery {
    /// The page size asked for, or the default.
    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(crate::wire::page::DOCUMENTS_DEFAULT)
    }
}

impl KeysQuery {
    /// The page size asked for, or the default.
    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(crate::wire::page::KEYS_DEFAULT)
    }
}

#[cfg(test)]
mod tests;
