//! [`VectorService`]: vector stores (collections), their documents and search, over the
//! catalog, the back-end registry and the embedders. Its parts: `lifecycle` (create, update,
//! delete, expiry, readiness), `lookup` (finding a tenant's collections), `documents` (writes,
//! embedding, attribute keys) and `search`; the inputs every surface converts to are in
//! `inputs`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use embeddings::{EmbedError, Embedder, EmbedderRegistry};
use store_core::{
    Catalog, CollectionRecord, Field, HybridOptions, Runnable, StoreError, StoreRegistry,
    VectorStore,
};

use crate::error::ServiceError;
use crate::records::RecordCache;

/// `last_active_at` is written at most this often per collection, so that reads stay reads.
const TOUCH_INTERVAL_SECS: i64 = 60;

#[derive(Debug, Clone)]
pub struct VectorService {
    catalog: Arc<dyn Catalog>,
    stores: StoreRegistry,
    embedders: EmbedderRegistry,
    hybrid: HybridOptions,
    search_models: SearchModels,
    records: Arc<RecordCache>,
    limits: Limits,
    /// When every back-end last answered a readiness ping.
    ready_at: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
    /// Attribute keys known to be recorded for a collection, so that a write with no new key
    /// costs no catalog query.
    known_keys: Arc<std::sync::Mutex<HashMap<String, HashSet<String>>>>,
}

/// How long a successful readiness check is remembered.
pub const READY_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// What one request may make the service store or send, the same on every surface and
/// back-end (the stored-chunk limits themselves are in [`store_core::limits`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
pub struct Limits {
    /// The longest document (or chunk) text, in bytes; at most
    /// [`store_core::limits::MAX_TEXT_BYTES`].
    pub max_text_bytes: usize,
    /// The longest search query, in bytes.
    pub max_query_bytes: usize,
    /// The most text one search or list answer carries, in bytes: past it, the lowest-ranked
    /// hits (or the page's last documents) are left out.
    pub max_response_bytes: usize,
    /// The most `cl100k_base` tokens one `POST /v1/embeddings` embeds, its inputs together.
    #[serde(default = "default_embedding_tokens")]
    pub max_embedding_tokens: usize,
}

fn default_embedding_tokens() -> usize {
    8192
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_text_bytes: store_core::limits::DEFAULT_TEXT_BYTES,
            max_query_bytes: 4096,
            max_response_bytes: 16 * 1024 * 1024,
            max_embedding_tokens: default_embedding_tokens(),
        }
    }
}

mod across;
mod documents;
mod embed;
mod inputs;
mod lifecycle;
mod lookup;
mod search;
#[cfg(test)]
mod tests;

pub use across::MAX_SEARCHED_STORES;
pub use embed::{EmbedInput, Embedded};
pub use inputs::{CreateCollectionInput, CreateStoreInput, DocumentInput, SearchInput};
pub use search::{SearchModels, SearchQueries};

impl VectorService {
    pub fn new(
        catalog: Arc<dyn Catalog>,
        stores: StoreRegistry,
        embedders: EmbedderRegistry,
        hybrid: HybridOptions,
    ) -> Self {
        Self {
            catalog,
            stores,
            embedders,
            hybrid,
            search_models: SearchModels::default(),
            records: Arc::default(),
            limits: Limits::default(),
            ready_at: Arc::default(),
            known_keys: Arc::default(),
        }
    }

    /// The reranker and query rewriter searches may use.
    pub fn with_search_models(mut self, models: SearchModels) -> Self {
        self.search_models = models;
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn default_model(&self) -> &str {
        self.embedders.default_model()
    }

    pub fn stores(&self) -> &StoreRegistry {
        &self.stores
    }

    pub fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.catalog
    }

    /// The longest input the collection's model takes, in its tokens.
    pub fn model_max_tokens(&self, record: &CollectionRecord) -> Option<usize> {
        self.max_tokens_of(record.model.as_deref())
    }

    /// The longest input `model` takes, in its tokens (none for no model or an unknown one).
    pub fn max_tokens_of(&self, model: Option<&str>) -> Option<usize> {
        self.embedders
            .get(model?)
            .ok()
            .map(|e| e.max_input_tokens())
    }

    /// The embedding model of `record`, for callers that embed on their own terms.
    pub fn embedder_of(
        &self,
        record: &CollectionRecord,
    ) -> Result<Arc<dyn Embedder>, ServiceError> {
        self.collection_embedder(record, Field::QueryVector)
    }

    /// The back-ends and embedding models this server has: the jobs it can run.
    pub fn runnable(&self) -> Runnable {
        Runnable {
            backends: self.stores.names().into_iter().map(String::from).collect(),
            models: self.embedders.names(),
        }
    }

    /// The back-end that holds `record`'s chunks, for writes the caller sequences itself.
    pub fn backend_of(
        &self,
        record: &CollectionRecord,
    ) -> Result<Arc<dyn VectorStore>, ServiceError> {
        self.store(record)
    }

    fn store(&self, record: &CollectionRecord) -> Result<Arc<dyn VectorStore>, ServiceError> {
        self.stores.get(&record.backend).map_err(|_| {
            StoreError::Unavailable {
                message: format!(
                    "collection '{}' lives on the '{}' back-end, which this server does not have",
                    record.collection, record.backend
                ),
                source: None,
            }
            .into()
        })
    }

    fn embedder(&self, model: &str) -> Result<Arc<dyn Embedder>, ServiceError> {
        self.embedders
            .get(model)
            .map_err(|e| ServiceError::invalid(Field::Model, e.to_string()))
    }

    fn collection_embedder(
        &self,
        record: &CollectionRecord,
        vector_field: Field,
    ) -> Result<Arc<dyn Embedder>, ServiceError> {
        match &record.model {
            Some(m) => self.embedders.get(m).map_err(|e| {
                EmbedError::Unavailable {
                    message: format!(
                        "the model of collection '{}' is not configured",
                        record.collection
                    ),
                    source: Some(Box::new(e)),
                }
                .into()
            }),
            None => Err(ServiceError::invalid(
                vector_field,
                format!(
                    "collection '{}' has no embedding model: send vectors, not text",
                    record.collection
                ),
            )),
        }
    }
}

/// `e` as a service error; a text over the model's limit is told by `too_long`, given the
/// text's index in the request, its tokens and the limit.
fn embed_error(
    e: EmbedError,
    too_long: impl FnOnce(usize, usize, usize) -> ServiceError,
) -> ServiceError {
    match e {
        EmbedError::InputTooLong { index, tokens, max } => too_long(index, tokens, max),
        EmbedError::UnknownModel { .. }
        | EmbedError::InvalidInput(_)
        | EmbedError::Unavailable { .. }
        | EmbedError::Internal { .. } => e.into(),
    }
}
