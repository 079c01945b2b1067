//! The platform collection API under `/v1/api`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use validator::{Validate, ValidationError};

use crate::SearchMode;
use crate::filter::Filter;
use crate::validation;

/// Most documents one `POST /v1/api/index` takes.
pub const MAX_DOCUMENTS: usize = 1000;
/// Most results one search returns.
pub const MAX_RESULTS: u32 = 50;

/// `{ "anchor": "last_active_at", "days": 1..=365 }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ExpiresAfter {
    pub anchor: ExpiryAnchor,
    #[validate(range(min = 1, max = 365))]
    pub days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryAnchor {
    LastActiveAt,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateCollection {
    #[validate(custom(function = "validation::collection_name"))]
    pub collection: String,
    #[validate(custom(function = "validation::not_blank"))]
    pub model_name: String,
    #[validate(length(max = 256))]
    pub name: Option<String>,
    #[validate(custom(function = "validation::metadata"))]
    pub metadata: Option<Map<String, Value>>,
    #[validate(nested)]
    pub expires_after: Option<ExpiresAfter>,
    pub storage_backend: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct DeleteCollection {
    #[validate(custom(function = "validation::collection_name"))]
    pub collection: String,
    pub storage_backend: Option<String>,
}

/// A collection as `GET /v1/api/collection` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionInfo {
    pub id: String,
    pub collection: String,
    pub name: Option<String>,
    pub model_name: Option<String>,
    pub storage_backend: String,
    pub dimension: usize,
    pub metadata: Map<String, Value>,
    pub expires_after: Option<ExpiresAfter>,
    pub created_at: i64,
    pub last_active_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionList {
    pub object: String,
    pub data: Vec<CollectionInfo>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct Document {
    #[validate(custom(function = "validation::id"))]
    pub id: Option<String>,
    #[validate(custom(function = "validation::not_blank"))]
    pub content: String,
    #[validate(custom(function = "validation::metadata"))]
    pub metadata: Option<Map<String, Value>>,
    #[validate(length(max = 64), custom(function = "validation::short_items"))]
    pub links: Option<Vec<String>>,
    #[validate(length(max = 64), custom(function = "validation::short_items"))]
    pub topics: Option<Vec<String>>,
    #[validate(length(max = 512))]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct IndexingPayload {
    pub storage_backend: Option<String>,
    #[validate(custom(function = "validation::collection_name"))]
    pub collection: String,
    #[validate(length(min = 1, max = 1000), nested, custom(function = "docs_clash"))]
    pub documents: Vec<Document>,
    #[validate(length(max = 256))]
    pub name: Option<String>,
    #[validate(custom(function = "validation::metadata"))]
    pub metadata: Option<Map<String, Value>>,
    #[validate(nested)]
    pub expires_after: Option<ExpiresAfter>,
}

fn docs_clash(docs: &[Document]) -> Result<(), ValidationError> {
    docs.iter().try_for_each(no_field_clash)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexResponse {
    pub message: String,
    pub collection: String,
    pub indexed: u64,
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RankingOptions {
    pub ranker: Option<crate::openai::Ranker>,
    #[validate(range(min = 0.0, max = 1.0))]
    pub score_threshold: Option<f32>,
}

fn default_max_results() -> u32 {
    10
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    #[validate(custom(function = "validation::collection_name"))]
    pub collection: String,
    #[validate(custom(function = "validation::not_blank"))]
    pub query: String,
    #[serde(default, with = "search_type")]
    pub search_type: SearchMode,
    pub filters: Option<Filter>,
    #[serde(default = "default_max_results")]
    #[validate(range(min = 1, max = 50))]
    pub max_num_results: u32,
    #[validate(nested)]
    pub ranking_options: Option<RankingOptions>,
    pub storage_backend: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
}

impl ContentPart {
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            kind: "text".into(),
            text: text.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResult {
    pub file_id: String,
    pub filename: Option<String>,
    pub score: f32,
    pub attributes: Option<Map<String, Value>>,
    pub content: Vec<ContentPart>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResponse {
    pub object: String,
    pub search_query: String,
    pub data: Vec<SearchResult>,
    pub has_more: bool,
    pub next_page: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    #[validate(custom(function = "validation::collection_name"))]
    pub collection: String,
    pub storage_backend: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct DeleteByIdsRequest {
    #[validate(custom(function = "validation::collection_name"))]
    pub collection: String,
    pub storage_backend: Option<String>,
    #[validate(length(min = 1, max = 1000), custom(function = "ids"))]
    pub index_ids: Vec<String>,
}

fn ids(list: &[String]) -> Result<(), ValidationError> {
    list.iter().try_for_each(|s| validation::id(s))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeleteResponse {
    pub message: String,
    pub collection: String,
    pub deleted: u64,
}

/// `GET /v1/api/collection/data` query string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct CollectionDataQuery {
    #[validate(custom(function = "validation::collection_name"))]
    pub collection: String,
    #[validate(range(min = 1, max = 1000))]
    pub limit: Option<u32>,
    pub offset: Option<u64>,
    pub storage_backend: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DocumentRow {
    pub id: String,
    pub content: String,
    pub metadata: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionData {
    pub object: String,
    pub collection: String,
    pub total: u64,
    pub limit: u32,
    pub offset: u64,
    pub data: Vec<DocumentRow>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::first_error;
    use serde_json::json;

    fn invalid<T: Validate + serde::de::DeserializeOwned>(v: Value) -> (String, String) {
        let t: T = serde_json::from_value(v).expect("parses");
        first_error(&t.validate().expect_err("must be invalid"))
    }

    #[test]
    fn search_defaults_to_semantic_and_ten_results() {
        let s: SearchRequest =
            serde_json::from_value(json!({"collection": "c", "query": "q"})).unwrap();
        assert_eq!(s.search_type, SearchMode::Vector);
        assert_eq!(s.max_num_results, 10);
        assert!(s.validate().is_ok());
    }

    #[test]
    fn max_num_results_is_bounded() {
        for n in [0, 51] {
            let (param, msg) = invalid::<SearchRequest>(
                json!({"collection": "c", "query": "q", "max_num_results": n}),
            );
            assert_eq!(param, "max_num_results");
            assert!(msg.contains("50"), "{msg}");
        }
    }

    #[test]
    fn score_threshold_is_bounded_and_its_param_is_nested() {
        let (param, _) = invalid::<SearchRequest>(
            json!({"collection": "c", "query": "q", "ranking_options": {"score_threshold": 1.5}}),
        );
        assert_eq!(param, "ranking_options.score_threshold");
    }

    #[test]
    fn a_blank_document_names_its_index() {
        let (param, msg) = invalid::<IndexingPayload>(json!({"collection": "c", "documents": [
            {"content": "fine"}, {"content": "   "}
        ]}));
        assert_eq!(param, "documents[1].content");
        assert!(msg.contains("blank"), "{msg}");
    }

    #[test]
    fn empty_documents_are_rejected() {
        let (param, _) = invalid::<IndexingPayload>(json!({"collection": "c", "documents": []}));
        assert_eq!(param, "documents");
    }

    #[test]
    fn unknown_search_types_and_fields_do_not_parse() {
        assert!(
            serde_json::from_value::<SearchRequest>(
                json!({"collection": "c", "query": "q", "search_type": "fuzzy"})
            )
            .is_err()
        );
        assert!(
            serde_json::from_value::<SearchRequest>(
                json!({"collection": "c", "query": "q", "k": 1})
            )
            .is_err()
        );
    }

    #[test]
    fn expires_after_takes_only_last_active_at_and_one_to_365_days() {
        let base = json!({"collection": "c", "model_name": "m"});
        let with = |e: Value| {
            let mut v = base.clone();
            v["expires_after"] = e;
            v
        };
        assert!(
            serde_json::from_value::<CreateCollection>(with(
                json!({"anchor": "created_at", "days": 1})
            ))
            .is_err()
        );
        let (param, _) =
            invalid::<CreateCollection>(with(json!({"anchor": "last_active_at", "days": 366})));
        assert_eq!(param, "expires_after.days");
        let ok: CreateCollection =
            serde_json::from_value(with(json!({"anchor": "last_active_at", "days": 365}))).unwrap();
        assert!(ok.validate().is_ok());
    }

    #[test]
    fn attributes_put_metadata_and_document_fields_at_the_top_level() {
        let d: Document = serde_json::from_value(json!({
            "content": "x", "metadata": {"lang": "en"}, "topics": ["a"], "author": "me"
        }))
        .unwrap();
        assert_eq!(
            Value::Object(d.attributes()),
            json!({"lang": "en", "topics": ["a"], "author": "me"})
        );
    }

    #[test]
    fn a_metadata_key_may_not_shadow_a_document_field() {
        let (param, msg) = invalid::<IndexingPayload>(json!({"collection": "c", "documents": [
            {"content": "x", "author": "a", "metadata": {"author": "b"}}
        ]}));
        assert_eq!(param, "documents");
        assert!(msg.contains("author"), "{msg}");
    }

    #[test]
    fn bad_collection_names_name_the_collection_param() {
        let (param, _) = invalid::<DeleteRequest>(json!({"collection": "Bad-Name"}));
        assert_eq!(param, "collection");
    }
}
