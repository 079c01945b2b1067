//! The raw `/v2` API for power users: collections with an explicit dimension (a model is
//! optional), documents with caller-supplied vectors, and search by vector or text.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use validator::{Validate, ValidationError};

use crate::SearchMode;
use crate::filter::Filter;
use crate::validation;

#[cfg(feature = "openapi")]
use crate::openapi::{Attributes, DocumentAttributes, Metadata, object};

/// The largest dimension a collection may have (pgvector's HNSW limit for `vector`).
pub const MAX_DIMENSION: usize = 2000;
/// Most documents one upsert takes.
pub const MAX_UPSERT: usize = 1000;
/// Most hits one search returns, on every surface and back-end.
pub const MAX_K: u32 = 100;

/// `POST /v2/collections`: `dimension`, `model` or both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateRawCollection {
    #[validate(custom(function = "validation::collection_name"))]
    /// The collection's name: a lowercase letter, then up to 62 lowercase letters, digits or
    /// underscores.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[a-z][a-z0-9_]{0,62}$", example = "embeddings")
    )]
    pub collection: String,
    /// Required unless `model` is given; must match the model's when both are.
    #[validate(range(min = 1, max = 2000))]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 2000))]
    pub dimension: Option<usize>,
    /// The embedding model that embeds texts given without a vector (one of the configured ones).
    pub model: Option<String>,
    #[validate(length(max = 256))]
    /// A display name.
    #[cfg_attr(feature = "openapi", schema(max_length = 256))]
    pub name: Option<String>,
    /// The collection's metadata: string values only, as on every surface that shows it.
    #[validate(custom(function = "validation::string_metadata"))]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Metadata>))]
    pub metadata: Option<Map<String, Value>>,
    /// The back-end that stores the vectors; the configured default without.
    pub storage_backend: Option<String>,
}

/// A raw collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RawCollection {
    /// The collection's id.
    pub id: String,
    /// Always `collection`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::collection))]
    pub object: String,
    /// The collection's name.
    pub collection: String,
    pub name: Option<String>,
    /// The embedding model; `null` when the collection has none.
    pub model: Option<String>,
    /// The dimension of the vectors.
    pub dimension: usize,
    /// The back-end that stores the vectors.
    pub storage_backend: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Attributes))]
    pub metadata: Map<String, Value>,
    /// When the collection was made (Unix seconds).
    pub created_at: i64,
    /// When the collection was last active (Unix seconds).
    pub last_active_at: i64,
}

/// The caller's raw collections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RawCollectionList {
    /// Always `list`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::list))]
    pub object: String,
    pub data: Vec<RawCollection>,
}

/// One document: its text, and its vector or none to have it embedded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RawDocument {
    #[validate(custom(function = "validation::id"))]
    /// The document's id, 1 to 256 characters; a stored document with it is replaced.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 256))]
    pub id: String,
    #[validate(custom(function = "validation::not_blank"))]
    /// The document's text.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub text: String,
    /// Embedded with the collection's model when absent.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 2000))]
    pub vector: Option<Vec<f32>>,
    #[validate(custom(function = "validation::metadata"))]
    /// The document's attributes, for filters.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Attributes>))]
    pub attributes: Option<Map<String, Value>>,
}

/// `POST /v2/collections/{collection}/documents`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpsertDocuments {
    #[validate(length(min = 1, max = 1000), nested, custom(function = "unique_ids"))]
    /// 1 to 1000 documents with distinct ids.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1000))]
    pub documents: Vec<RawDocument>,
}

fn unique_ids(docs: &[RawDocument]) -> Result<(), ValidationError> {
    match validation::first_duplicate(docs.iter().map(|d| d.id.as_str())) {
        Some(i) => Err(ValidationError::new("duplicate_id")
            .with_message(format!("id '{}' appears more than once", docs[i].id).into())),
        None => Ok(()),
    }
}

/// What an upsert wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpsertResponse {
    /// Always `upsert.result`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::upsert_result))]
    pub object: String,
    /// How many documents were written.
    pub upserted: u64,
}

/// `POST /v2/collections/{collection}/documents/delete`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeleteDocuments {
    #[validate(length(min = 1, max = 1000))]
    /// 1 to 1000 document ids.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 1000))]
    pub ids: Vec<String>,
}

/// What a deletion removed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteDocumentsResponse {
    /// Always `delete.result`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::delete_result))]
    pub object: String,
    /// How many documents were deleted.
    pub deleted: u64,
}

/// How a hybrid search weighs its two rankings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HybridWeights {
    #[validate(range(min = 0.0, max = 100.0))]
    /// The weight of the vector ranking, 0 to 100.
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 100.0))]
    pub vector_weight: f32,
    #[validate(range(min = 0.0, max = 100.0))]
    /// The weight of the keyword ranking, 0 to 100.
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 100.0))]
    pub keyword_weight: f32,
}

/// Search by `vector` or by `text` (embedded with the collection's model); `hybrid` needs text
/// and takes a vector too if given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RawSearch {
    /// The query vector, of the collection's dimension.
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 2000))]
    pub vector: Option<Vec<f32>>,
    #[validate(custom(function = "validation::not_blank"))]
    /// The query text: embedded with the collection's model for `vector`, matched by keywords for
    /// `keyword`.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub text: Option<String>,
    #[serde(default)]
    /// How hits are ranked.
    #[cfg_attr(feature = "openapi", schema(default = "vector"))]
    pub mode: SearchMode,
    /// Only documents whose attributes match.
    pub filter: Option<Filter>,
    #[serde(default = "crate::wire::search_results_default")]
    #[validate(range(min = 1, max = MAX_K))]
    /// The most hits, 1 to 100.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 100, default = crate::wire::search_results_default)
    )]
    pub k: u32,
    #[validate(range(min = 0.0, max = 1.0))]
    /// Hits scoring below it are left out, 0 to 1.
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub score_threshold: Option<f32>,
    #[validate(nested)]
    /// The weights of a `hybrid` search; the configured ones without.
    pub hybrid: Option<HybridWeights>,
}

/// One hit of a raw search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RawHit {
    /// The document's id.
    pub id: String,
    /// The file the document is of (its id when it is not of a file).
    pub file_id: String,
    /// The score: higher is more relevant.
    pub score: f32,
    pub text: String,
    #[cfg_attr(feature = "openapi", schema(value_type = DocumentAttributes))]
    pub attributes: Map<String, Value>,
}

/// The hits of a raw search, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RawSearchResponse {
    /// Always `list`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::list))]
    pub object: String,
    pub data: Vec<RawHit>,
}

/// A page of documents: `limit` and `offset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema, utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
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
}

/// One stored document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RawDocumentRow {
    pub id: String,
    pub file_id: String,
    pub text: String,
    #[cfg_attr(feature = "openapi", schema(value_type = DocumentAttributes))]
    pub attributes: Map<String, Value>,
}

/// A page of a collection's documents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RawDocumentPage {
    /// Always `list`.
    #[cfg_attr(feature = "openapi", schema(schema_with = object::list))]
    pub object: String,
    /// How many documents the collection holds.
    pub total: u64,
    pub data: Vec<RawDocumentRow>,
}

impl PageQuery {
    /// The page size asked for, or the default.
    pub fn page_size(&self) -> u32 {
        self.limit.unwrap_or(crate::wire::page::DOCUMENTS_DEFAULT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::first_error;
    use serde_json::json;

    #[test]
    fn duplicate_ids_in_one_upsert_are_rejected() {
        let u: UpsertDocuments = serde_json::from_value(json!({"documents": [
            {"id": "a", "text": "x"}, {"id": "a", "text": "y"}
        ]}))
        .unwrap();
        let (param, msg) = first_error(&u.validate().unwrap_err());
        assert_eq!(param, "documents");
        assert!(msg.contains("'a'"));
    }

    #[test]
    fn dimension_is_bounded() {
        for d in [0, 2001] {
            let c: CreateRawCollection =
                serde_json::from_value(json!({"collection": "c", "dimension": d})).unwrap();
            assert_eq!(first_error(&c.validate().unwrap_err()).0, "dimension");
        }
    }

    #[test]
    fn search_defaults_to_vector_mode_and_k_ten() {
        let s: RawSearch = serde_json::from_value(json!({"vector": [0.1, 0.2]})).unwrap();
        assert_eq!(s.mode, SearchMode::Vector);
        assert_eq!(s.k, 10);
        assert!(s.validate().is_ok());
        let s: RawSearch = serde_json::from_value(json!({"text": "x", "k": 101})).unwrap();
        assert_eq!(first_error(&s.validate().unwrap_err()).0, "k");
    }
}
