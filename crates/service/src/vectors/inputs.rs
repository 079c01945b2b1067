//! What every surface converts its request bodies into.

use models::SearchMode;
use serde_json::{Map, Value};
use store_core::Filter;

#[derive(Debug, Clone, Default)]
pub struct CreateCollectionInput {
    /// The per-tenant name; empty means the collection's id (vector stores have no name of
    /// their own).
    pub collection: String,
    pub name: Option<String>,
    /// The embedding model; `None` for a raw collection of caller-supplied vectors.
    pub model: Option<String>,
    /// Required without a model; must match the model's with one.
    pub dimension: Option<usize>,
    pub metadata: Map<String, Value>,
    pub expires_after_days: Option<u32>,
    pub backend: Option<String>,
}

impl From<models::platform::CreateCollection> for CreateCollectionInput {
    fn from(c: models::platform::CreateCollection) -> Self {
        Self {
            collection: c.collection,
            name: c.name,
            model: Some(c.model_name),
            dimension: None,
            metadata: c.metadata.unwrap_or_default(),
            expires_after_days: c.expires_after.map(|e| e.days),
            backend: c.storage_backend,
        }
    }
}

impl From<models::raw::CreateRawCollection> for CreateCollectionInput {
    fn from(c: models::raw::CreateRawCollection) -> Self {
        Self {
            collection: c.collection,
            name: c.name,
            model: c.model,
            dimension: c.dimension,
            metadata: c.metadata.unwrap_or_default(),
            expires_after_days: None,
            backend: c.storage_backend,
        }
    }
}

/// One document (or chunk) to store; without a vector, its text is embedded with the
/// collection's model.
#[derive(Debug, Clone)]
pub struct DocumentInput {
    pub id: String,
    pub file_id: String,
    pub filename: Option<String>,
    pub chunk_index: u32,
    pub text: String,
    pub vector: Option<Vec<f32>>,
    pub attributes: Map<String, Value>,
}

/// A platform document; one without an id gets a new one.
impl From<&models::platform::Document> for DocumentInput {
    fn from(d: &models::platform::Document) -> Self {
        let id =
            d.id.clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        Self {
            file_id: id.clone(),
            id,
            filename: None,
            chunk_index: 0,
            text: d.content.clone(),
            vector: None,
            attributes: d.attributes(),
        }
    }
}

impl From<models::raw::RawDocument> for DocumentInput {
    fn from(d: models::raw::RawDocument) -> Self {
        Self {
            file_id: d.id.clone(),
            id: d.id,
            filename: None,
            chunk_index: 0,
            text: d.text,
            vector: d.vector,
            attributes: d.attributes.unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct SearchInput {
    pub mode: SearchMode,
    pub text: Option<String>,
    pub vector: Option<Vec<f32>>,
    pub filter: Option<Filter>,
    pub k: usize,
    pub score_threshold: Option<f32>,
    /// (vector weight, keyword weight) for hybrid search; the configured ones when `None`.
    pub weights: Option<(f32, f32)>,
    /// Whether the configured reranker, if there is one, reorders a text search's hits
    /// (OpenAI's `ranker: auto`).
    pub rerank: bool,
}

impl From<models::raw::RawSearch> for SearchInput {
    fn from(s: models::raw::RawSearch) -> Self {
        Self {
            mode: s.mode,
            text: s.text,
            vector: s.vector,
            filter: s.filter,
            k: s.k as usize,
            score_threshold: s.score_threshold,
            weights: s.hybrid.map(|h| (h.vector_weight, h.keyword_weight)),
            rerank: false,
        }
    }
}

impl From<&models::platform::SearchRequest> for SearchInput {
    fn from(s: &models::platform::SearchRequest) -> Self {
        Self {
            mode: s.search_type,
            text: Some(s.query.clone()),
            vector: None,
            filter: s.filters.clone(),
            k: s.max_num_results as usize,
            score_threshold: s.ranking_options.as_ref().and_then(|r| r.score_threshold),
            weights: None,
            rerank: false,
        }
    }
}

/// What an OpenAI search asks of each of its queries; [`SearchInput::text`] is left to each.
impl From<&models::openai::SearchVectorStore> for SearchInput {
    fn from(s: &models::openai::SearchVectorStore) -> Self {
        let ranking = s.ranking_options.clone().unwrap_or_default();
        Self {
            mode: s.mode(),
            text: None,
            vector: None,
            filter: s.filters.clone(),
            k: s.max_num_results as usize,
            score_threshold: ranking.score_threshold,
            weights: ranking
                .hybrid_search
                .map(|w| (w.embedding_weight, w.text_weight)),
            rerank: ranking.ranker != Some(models::openai::Ranker::None),
        }
    }
}

/// A vector store made with files attached (OpenAI's `POST /v1/vector_stores`): the collection,
/// made with the service's default model when none is named, and the files, each split by
/// `chunking_strategy`.
#[derive(Debug, Clone)]
pub struct CreateStoreInput {
    pub collection: CreateCollectionInput,
    pub file_ids: Vec<String>,
    pub chunking_strategy: Option<models::openai::ChunkingStrategy>,
}

impl From<models::openai::CreateVectorStore> for CreateStoreInput {
    fn from(c: models::openai::CreateVectorStore) -> Self {
        Self {
            collection: CreateCollectionInput {
                collection: String::new(),
                name: c.name,
                model: c.embedding_model,
                dimension: None,
                metadata: c.metadata.unwrap_or_default(),
                expires_after_days: c.expires_after.map(|e| e.days),
                backend: c.storage_backend,
            },
            file_ids: c.file_ids.unwrap_or_default(),
            chunking_strategy: c.chunking_strategy,
        }
    }
}
