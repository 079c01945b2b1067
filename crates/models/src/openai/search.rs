//! Search: the query (one string or several), ranking options, the request and its hits.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use validator::{Validate, ValidationError};

use crate::SearchMode;
use crate::filter::Filter;
use crate::platform::ContentPart;
use crate::validation;

#[cfg(feature = "openapi")]
use crate::openapi::{DocumentAttributes, object};

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

/// The ranker of a search: `auto` (the default) and `default-2024-11-15` rerank the hits with
/// the configured reranker, when there is one; `none` never does.
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
    /// How a hybrid search weighs its two rankings; the configured weights without.
    #[validate(nested)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hybrid_search: Option<HybridSearchOptions>,
}

/// The weights of reciprocal rank fusion in a hybrid search: each ranking's share of a chunk's
/// score. Only their ratio matters; one may be 0, not both.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
#[validate(schema(function = "some_weight"))]
pub struct HybridSearchOptions {
    /// The weight of the ranking by embedding (vector) similarity, 0 to 100.
    #[validate(range(min = 0.0, max = 100.0))]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 100.0))]
    pub embedding_weight: f32,
    /// The weight of the ranking by keywords (BM25), 0 to 100.
    #[validate(range(min = 0.0, max = 100.0))]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 100.0))]
    pub text_weight: f32,
}

fn some_weight(w: &HybridSearchOptions) -> Result<(), ValidationError> {
    if w.embedding_weight > 0.0 || w.text_weight > 0.0 {
        Ok(())
    } else {
        Err(ValidationError::new("weights")
            .with_message("one of the weights must be above 0".into()))
    }
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
    #[serde(default = "crate::wire::search_results_default")]
    #[validate(range(min = 1, max = 50))]
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 1, maximum = 50, default = crate::wire::search_results_default)
    )]
    pub max_num_results: u32,
    #[validate(nested)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranking_options: Option<SearchRankingOptions>,
    /// Rewrite each query with the configured chat model before searching (`search_query`
    /// then holds the rewrites); without one, queries are searched as given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rewrite_query: Option<bool>,
    /// Extension: rank by vector similarity, keywords, or both fused (the default).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(default = "hybrid"))]
    pub search_mode: Option<SearchMode>,
}

/// The mode of an OpenAI search that names none: both rankings fused, which finds the most on
/// the benchmark's corpora (`docs/benchmarks.md`), as OpenAI's own search runs keyword and
/// semantic search together.
pub const DEFAULT_SEARCH_MODE: SearchMode = SearchMode::Hybrid;

impl SearchVectorStore {
    /// The mode asked for, or [`DEFAULT_SEARCH_MODE`].
    pub fn mode(&self) -> SearchMode {
        self.search_mode.unwrap_or(DEFAULT_SEARCH_MODE)
    }

    /// A search for `query` with every option at its default.
    pub fn new(query: impl Into<Query>) -> Self {
        Self {
            query: query.into(),
            filters: None,
            max_num_results: crate::wire::SEARCH_RESULTS_DEFAULT,
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
