//! The raw `/v2` API for power users: collections with an explicit dimension (a model is
//! optional), documents with caller-supplied vectors, and search by vector or text.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use validator::{Validate, ValidationError};

use crate::SearchMode;
use crate::filter::Filter;
use crate::validation;

/// The largest dimension a collection may have (pgvector's HNSW limit for `vector`).
pub const MAX_DIMENSION: usize = 2000;
/// Most documents one upsert takes.
pub const MAX_UPSERT: usize = 1000;
/// Most hits one search returns, on every surface and back-end.
pub const MAX_K: u32 = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateRawCollection {
    #[validate(custom(function = "validation::collection_name"))]
    pub collection: String,
    /// Required unless `model` is given; must match the model's when both are.
    #[validate(range(min = 1, max = 2000))]
    pub dimension: Option<usize>,
    pub model: Option<String>,
    #[validate(length(max = 256))]
    pub name: Option<String>,
    #[validate(custom(function = "validation::metadata"))]
    pub metadata: Option<Map<String, Value>>,
    pub storage_backend: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawCollection {
    pub id: String,
    pub object: String,
    pub collection: String,
    pub name: Option<String>,
    pub model: Option<String>,
    pub dimension: usize,
    pub storage_backend: String,
    pub metadata: Map<String, Value>,
    pub created_at: i64,
    pub last_active_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawCollectionList {
    pub object: String,
    pub data: Vec<RawCollection>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RawDocument {
    #[validate(custom(function = "validation::id"))]
    pub id: String,
    #[validate(custom(function = "validation::not_blank"))]
    pub text: String,
    /// Embedded with the collection's model when absent.
    pub vector: Option<Vec<f32>>,
    #[validate(custom(function = "validation::metadata"))]
    pub attributes: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct UpsertDocuments {
    #[validate(length(min = 1, max = 1000), nested, custom(function = "unique_ids"))]
    pub documents: Vec<RawDocument>,
}

fn unique_ids(docs: &[RawDocument]) -> Result<(), ValidationError> {
    match crate::validation::first_duplicate(docs.iter().map(|d| d.id.as_str())) {
        Some(i) => Err(ValidationError::new("duplicate_id")
            .with_message(format!("id '{}' appears more than once", docs[i].id).into())),
        None => Ok(()),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpsertResponse {
    pub object: String,
    pub upserted: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct DeleteDocuments {
    #[validate(length(min = 1, max = 1000))]
    pub ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteDocumentsResponse {
    pub object: String,
    pub deleted: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct HybridWeights {
    #[validate(range(min = 0.0, max = 100.0))]
    pub vector_weight: f32,
    #[validate(range(min = 0.0, max = 100.0))]
    pub keyword_weight: f32,
}

fn default_k() -> u32 {
    10
}

/// Search by `vector` or by `text` (embedded with the collection's model); `hybrid` needs text
/// and takes a vector too if given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RawSearch {
    pub vector: Option<Vec<f32>>,
    #[validate(custom(function = "validation::not_blank"))]
    pub text: Option<String>,
    #[serde(default)]
    pub mode: SearchMode,
    pub filter: Option<Filter>,
    #[serde(default = "default_k")]
    #[validate(range(min = 1, max = MAX_K))]
    pub k: u32,
    #[validate(range(min = 0.0, max = 1.0))]
    pub score_threshold: Option<f32>,
    #[validate(nested)]
    pub hybrid: Option<HybridWeights>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawHit {
    pub id: String,
    pub file_id: String,
    pub score: f32,
    pub text: String,
    pub attributes: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawSearchResponse {
    pub object: String,
    pub data: Vec<RawHit>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    #[validate(range(min = 1, max = 1000))]
    pub limit: Option<u32>,
    pub offset: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawDocumentRow {
    pub id: String,
    pub file_id: String,
    pub text: String,
    pub attributes: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawDocumentPage {
    pub object: String,
    pub total: u64,
    pub data: Vec<RawDocumentRow>,
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
