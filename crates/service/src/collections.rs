//! Collections, documents and search over the catalog, the back-end registry and the embedders.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use embeddings::{EmbedError, Embedder, EmbedderRegistry};
use models::SearchMode;
use serde_json::{Map, Value};
use store_core::{
    Catalog, Chunk, CollectionRecord, CollectionUpdate, DocumentPart, Field, Filter, Hit,
    HybridOptions, NewCollection, PageRequest, Runnable, SearchQuery, SearchRequest, StoreError,
    StoreRegistry, StoredChunk, Tenant, VectorStore, now_unix,
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
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_text_bytes: store_core::limits::DEFAULT_TEXT_BYTES,
            max_query_bytes: 4096,
            max_response_bytes: 16 * 1024 * 1024,
        }
    }
}

/// The longest prefix of `items` whose texts fit in `budget` bytes (at least one item).
fn fit<T>(mut items: Vec<T>, budget: usize, text: impl Fn(&T) -> usize) -> Vec<T> {
    let mut used = 0;
    let keep = items
        .iter()
        .position(|item| {
            used += text(item);
            used > budget
        })
        .map_or(items.len(), |over| over.max(1));
    items.truncate(keep);
    items
}

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
}

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
            records: Arc::default(),
            limits: Limits::default(),
            ready_at: Arc::default(),
            known_keys: Arc::default(),
        }
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// A search query within the limits.
    fn check_query(&self, text: &str) -> Result<(), ServiceError> {
        if text.len() > self.limits.max_query_bytes {
            return Err(ServiceError::invalid(
                Field::Query,
                format!(
                    "the query is {} bytes long; queries are at most {} bytes",
                    text.len(),
                    self.limits.max_query_bytes
                ),
            ));
        }
        if text.contains('\0') {
            return Err(ServiceError::invalid(
                Field::Query,
                "the query contains a NUL character (U+0000)",
            ));
        }
        Ok(())
    }

    pub fn default_model(&self) -> &str {
        self.embedders.default_model()
    }

    pub fn stores(&self) -> &StoreRegistry {
        &self.stores
    }

    /// Succeeds when the catalog and every back-end answer.
    /// Whether the catalog and every back-end answer. A success is remembered for
    /// [`READY_TTL`], so that `/ready` polled by many callers costs the back-ends one ping each
    /// in that time.
    pub async fn ready(&self) -> Result<(), ServiceError> {
        if self
            .ready_at
            .lock()
            .ok()
            .and_then(|at| *at)
            .is_some_and(|at| at.elapsed() < READY_TTL)
        {
            return Ok(());
        }
        self.catalog.ping().await?;
        for store in self.stores.all() {
            store.ping().await?;
        }
        if let Ok(mut at) = self.ready_at.lock() {
            *at = Some(std::time::Instant::now());
        }
        Ok(())
    }

    /// Frees the chunks of collections whose expiry has passed (at most `limit` of them) and
    /// returns how many were freed. The records stay, reporting `expired`; a collection whose
    /// back-end fails now is tried again by the next sweep.
    pub async fn sweep_expired(&self, limit: usize) -> Result<usize, ServiceError> {
        // Collections on a back-end this server lacks are another server's to sweep.
        let backends = self.stores.names().into_iter().map(String::from).collect();
        let expired = self
            .catalog
            .expired_collections(now_unix(), backends, limit)
            .await?;
        let mut freed = 0;
        for record in &expired {
            let store = self.store(record)?;
            let deleted = store.delete_all(&record.spec()).await;
            match self.written(record, deleted).await {
                Ok(_) | Err(ServiceError::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(collection = %record.id, error = %e,
                        "could not free the chunks of an expired collection");
                    continue;
                }
            }
            self.catalog
                .mark_chunks_freed(&record.id, now_unix())
                .await?;
            freed += 1;
        }
        Ok(freed)
    }

    pub async fn create_collection(
        &self,
        tenant: &Tenant,
        input: CreateCollectionInput,
    ) -> Result<CollectionRecord, ServiceError> {
        let backend = input
            .backend
            .as_deref()
            .unwrap_or(self.stores.default_name());
        let store = self.stores.get(backend)?;
        let dimension = match (&input.model, input.dimension) {
            (Some(model), dimension) => {
                let embedder = self.embedder(model)?;
                match dimension {
                    Some(d) if d != embedder.dimension() => {
                        return Err(ServiceError::invalid(
                            Field::Dimension,
                            format!(
                                "model '{model}' makes {}-dimensional vectors, not {d}",
                                embedder.dimension()
                            ),
                        ));
                    }
                    _ => embedder.dimension(),
                }
            }
            (None, Some(d)) => d,
            (None, None) => {
                return Err(ServiceError::invalid(
                    Field::Dimension,
                    "a collection without a model needs a dimension",
                ));
            }
        };
        // Time-ordered ids: cursor pages are id ranges.
        let id = format!("vs_{}", uuid::Uuid::now_v7().simple());
        let collection = if input.collection.is_empty() {
            id.clone()
        } else {
            input.collection
        };
        let record = self
            .catalog
            .create_collection(NewCollection {
                id,
                tenant_id: tenant.id.clone(),
                collection,
                name: input.name,
                backend: store.name().to_string(),
                model: input.model,
                dimension,
                metadata: input.metadata,
                expires_after_days: input.expires_after_days,
            })
            .await?;
        if let Err(e) = store.create_collection(&record.spec()).await {
            if let Err(cleanup) = self.catalog.delete_collection(&tenant.id, &record.id).await {
                tracing::error!(collection = %record.id, error = %cleanup, "could not remove the catalog record of a collection whose creation failed");
            }
            return Err(e.into());
        }
        Ok(record)
    }

    /// The tenant's collection by name. A named back-end must be the one it lives on.
    pub async fn collection(
        &self,
        tenant: &Tenant,
        name: &str,
        backend: Option<&str>,
    ) -> Result<CollectionRecord, ServiceError> {
        if let Some(b) = backend {
            self.stores.get(b)?;
        }
        let record = match self.records.by_name(&tenant.id, name) {
            Some(r) => r,
            None => {
                let r = self
                    .catalog
                    .get_collection_by_name(&tenant.id, name)
                    .await?;
                self.records.put(&r);
                r
            }
        };
        if let Some(b) = backend
            && b != record.backend
        {
            return Err(ServiceError::invalid(
                Field::Backend,
                format!(
                    "collection '{name}' lives on the '{}' back-end, not '{b}'",
                    record.backend
                ),
            ));
        }
        self.touch(&record).await;
        Ok(record)
    }

    /// Whether the tenant has a collection of this name.
    pub async fn find_collection(
        &self,
        tenant: &Tenant,
        name: &str,
        backend: Option<&str>,
    ) -> Result<Option<CollectionRecord>, ServiceError> {
        match self.collection(tenant, name, backend).await {
            Ok(r) => Ok(Some(r)),
            Err(ServiceError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The tenant's collection by id.
    pub async fn collection_by_id(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<CollectionRecord, ServiceError> {
        let record = match self.records.by_id(&tenant.id, id) {
            Some(r) => r,
            None => {
                let r = self.catalog.get_collection(&tenant.id, id).await?;
                self.records.put(&r);
                r
            }
        };
        self.touch(&record).await;
        Ok(record)
    }

    pub async fn page_collections(
        &self,
        tenant: &Tenant,
        page: PageRequest,
    ) -> Result<(Vec<CollectionRecord>, bool), ServiceError> {
        Ok(self.catalog.page_collections(&tenant.id, page).await?)
    }

    pub async fn update_collection(
        &self,
        tenant: &Tenant,
        record: &CollectionRecord,
        update: CollectionUpdate,
    ) -> Result<CollectionRecord, ServiceError> {
        // As on OpenAI, an expired store stays expired.
        if update.expires_after_days.is_some() && Self::is_expired(record) {
            return Err(ServiceError::invalid(
                Field::ExpiresAfter,
                format!(
                    "vector store '{}' has expired; its expiry can no longer be changed",
                    record.id
                ),
            ));
        }
        self.records.forget(record);
        let updated = self
            .catalog
            .update_collection(&tenant.id, &record.id, update)
            .await?;
        self.records.forget(&updated);
        Ok(updated)
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

    /// Every chunk of one file, in order.
    pub async fn file_chunks(
        &self,
        record: &CollectionRecord,
        file_id: &str,
    ) -> Result<Vec<StoredChunk>, ServiceError> {
        Ok(self
            .store(record)?
            .file_chunks(&record.spec(), file_id)
            .await?)
    }

    pub fn catalog(&self) -> &Arc<dyn Catalog> {
        &self.catalog
    }

    /// Bytes of text stored in the collection.
    pub async fn usage_bytes(&self, record: &CollectionRecord) -> Result<u64, ServiceError> {
        Ok(self.store(record)?.usage_bytes(&record.spec()).await?)
    }

    /// Whether the collection went unused for longer than its `expires_after`.
    pub fn is_expired(record: &CollectionRecord) -> bool {
        record.expires_at().is_some_and(|at| now_unix() > at)
    }

    /// Runs one search per query and merges the hits by chunk, keeping each chunk's best score.
    pub async fn search_many(
        &self,
        record: &CollectionRecord,
        queries: Vec<String>,
        template: SearchInput,
    ) -> Result<Vec<Hit>, ServiceError> {
        let k = template.k;
        for text in &queries {
            self.check_query(text)?;
        }
        let mut merged: Vec<Hit> = Vec::new();
        for text in queries {
            let input = SearchInput {
                text: Some(text),
                ..template.clone()
            };
            for hit in self.search(record, input).await? {
                match merged.iter_mut().find(|h| h.chunk.id == hit.chunk.id) {
                    Some(existing) if existing.score < hit.score => *existing = hit,
                    Some(_) => {}
                    None => merged.push(hit),
                }
            }
        }
        merged.sort_by(|a, b| b.score.total_cmp(&a.score));
        merged.truncate(k);
        Ok(merged)
    }

    pub async fn list_collections(
        &self,
        tenant: &Tenant,
    ) -> Result<Vec<CollectionRecord>, ServiceError> {
        Ok(self.catalog.list_collections(&tenant.id).await?)
    }

    pub async fn delete_collection(
        &self,
        tenant: &Tenant,
        record: &CollectionRecord,
    ) -> Result<(), ServiceError> {
        self.records.forget(record);
        self.store(record)?.drop_collection(&record.spec()).await?;
        self.catalog
            .delete_collection(&tenant.id, &record.id)
            .await?;
        self.records.forget(record);
        Ok(())
    }

    /// Stores documents, embedding those without a vector.
    pub async fn upsert(
        &self,
        record: &CollectionRecord,
        docs: Vec<DocumentInput>,
    ) -> Result<u64, ServiceError> {
        let chunks = self.embed_documents(record, docs).await?;
        let written = self.store(record)?.upsert(&record.spec(), chunks).await;
        self.written(record, written).await
    }

    /// Stores documents into the tenant's collection `input.collection` (on `input.backend`),
    /// creating it from `input` first when there is none. Each document id appears once.
    pub async fn index(
        &self,
        tenant: &Tenant,
        input: CreateCollectionInput,
        docs: Vec<DocumentInput>,
    ) -> Result<(CollectionRecord, u64), ServiceError> {
        if let Some(i) = models::validation::first_duplicate(docs.iter().map(|d| d.id.as_str())) {
            return Err(ServiceError::invalid(
                Field::Documents,
                format!("id '{}' appears more than once", docs[i].id),
            ));
        }
        let backend = input.backend.as_deref();
        let record = match self
            .find_collection(tenant, &input.collection, backend)
            .await?
        {
            Some(r) => r,
            None => self.create_collection(tenant, input).await?,
        };
        let indexed = self.upsert(&record, docs).await?;
        Ok((record, indexed))
    }

    /// The chunks of `docs`, each with its vector: the given one, checked, or its text
    /// embedded with the collection's model. Each document is held to the limits first, and
    /// its attribute keys are admitted to the collection's count (the only thing recorded:
    /// no chunk is stored).
    pub async fn embed_documents(
        &self,
        record: &CollectionRecord,
        docs: Vec<DocumentInput>,
    ) -> Result<Vec<Chunk>, ServiceError> {
        self.check_expiry(record)?;
        for (i, d) in docs.iter().enumerate() {
            store_core::limits::document(
                &d.id,
                &d.file_id,
                d.filename.as_deref(),
                &d.text,
                &d.attributes,
                self.limits.max_text_bytes,
            )
            .map_err(|e| {
                let field = Field::Document {
                    index: i,
                    part: e.field,
                };
                ServiceError::invalid(field, format!("document {i}: {e}"))
            })?;
            if let Some(v) = &d.vector {
                let field = Field::Document {
                    index: i,
                    part: DocumentPart::Vector,
                };
                store_core::check_vector(v, record.dimension, field)?;
            }
        }
        self.admit_attribute_keys(record, docs.iter().map(|d| &d.attributes))
            .await?;
        let missing: Vec<usize> = (0..docs.len())
            .filter(|&i| docs[i].vector.is_none())
            .collect();
        let mut embedded = Vec::new();
        if !missing.is_empty() {
            let embedder = self.collection_embedder(
                record,
                Field::Document {
                    index: missing[0],
                    part: DocumentPart::Vector,
                },
            )?;
            let texts: Vec<String> = missing.iter().map(|&i| docs[i].text.clone()).collect();
            embedded = embedder.embed(&texts).await.map_err(|e| match e {
                EmbedError::InputTooLong { index, tokens, max } => ServiceError::invalid(
                    Field::Document {
                        index: missing[index],
                        part: DocumentPart::Text,
                    },
                    format!(
                        "the text of document {} is {tokens} tokens long, over the limit of {max} tokens of model '{}'; split it into smaller documents",
                        missing[index],
                        embedder.model()
                    ),
                ),
                other => other.into(),
            })?;
            if let Some(j) = embedded.iter().position(|v| is_zero(v)) {
                return Err(ServiceError::invalid(
                    Field::Document {
                        index: missing[j],
                        part: DocumentPart::Text,
                    },
                    no_vector(
                        &format!("the text of document {}", missing[j]),
                        embedder.model(),
                    ),
                ));
            }
        }
        let mut embedded = embedded.into_iter();
        let mut chunks = Vec::with_capacity(docs.len());
        for d in docs {
            let vector = match d.vector {
                Some(v) => v,
                None => embedded.next().ok_or_else(|| {
                    ServiceError::internal_msg("the embedder returned too few vectors")
                })?,
            };
            chunks.push(Chunk {
                id: d.id,
                file_id: d.file_id,
                filename: d.filename,
                chunk_index: d.chunk_index,
                text: d.text,
                vector,
                attributes: d.attributes,
            });
        }
        Ok(chunks)
    }

    /// Records the attribute keys `attributes` use in `record`, refusing (as invalid) a write that
    /// would take the collection over [`store_core::limits::MAX_ATTRIBUTE_KEYS`].
    pub async fn admit_attribute_keys<'a>(
        &self,
        record: &CollectionRecord,
        attributes: impl IntoIterator<Item = &'a Map<String, Value>>,
    ) -> Result<(), ServiceError> {
        let mut keys: HashSet<String> = attributes
            .into_iter()
            .flat_map(|a| a.keys().cloned())
            .collect();
        if let Ok(known) = self.known_keys.lock()
            && let Some(known) = known.get(&record.id)
        {
            keys.retain(|k| !known.contains(k));
        }
        if keys.is_empty() {
            return Ok(());
        }
        self.catalog
            .add_attribute_keys(
                &record.id,
                keys.iter().cloned().collect(),
                store_core::limits::MAX_ATTRIBUTE_KEYS,
            )
            .await?;
        if let Ok(mut known) = self.known_keys.lock() {
            if known.len() > 10_000 {
                known.clear();
            }
            known.entry(record.id.clone()).or_default().extend(keys);
        }
        Ok(())
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

    pub async fn delete_files(
        &self,
        record: &CollectionRecord,
        file_ids: &[String],
    ) -> Result<u64, ServiceError> {
        let deleted = self
            .store(record)?
            .delete_files(&record.spec(), file_ids)
            .await;
        self.written(record, deleted).await
    }

    pub async fn delete_all(&self, record: &CollectionRecord) -> Result<u64, ServiceError> {
        let deleted = self.store(record)?.delete_all(&record.spec()).await;
        self.written(record, deleted).await
    }

    /// A page of stored chunks and the total count.
    pub async fn list_documents(
        &self,
        record: &CollectionRecord,
        limit: usize,
        offset: usize,
    ) -> Result<(Vec<StoredChunk>, u64), ServiceError> {
        let store = self.store(record)?;
        let spec = record.spec();
        let rows = store.list(&spec, limit, offset).await?;
        let total = store.count(&spec).await?;
        let rows = fit(rows, self.limits.max_response_bytes, |c| c.text.len());
        Ok((rows, total))
    }

    pub async fn search(
        &self,
        record: &CollectionRecord,
        input: SearchInput,
    ) -> Result<Vec<Hit>, ServiceError> {
        self.check_expiry(record)?;
        let store = self.store(record)?;
        if let Some(v) = &input.vector {
            store_core::check_vector(v, record.dimension, Field::QueryVector)?;
        }
        let text = input.text.filter(|t| !t.trim().is_empty());
        if let Some(t) = &text {
            self.check_query(t)?;
        }
        let mode = match input.mode {
            SearchMode::Vector => SearchQuery::Vector(
                self.query_vector(record, input.vector, text.as_deref())
                    .await?,
            ),
            SearchMode::Keyword => SearchQuery::Keyword(text.ok_or_else(|| {
                ServiceError::invalid(Field::Query, "keyword search needs a text query")
            })?),
            SearchMode::Hybrid => {
                let text = text.ok_or_else(|| {
                    ServiceError::invalid(Field::Query, "hybrid search needs a text query")
                })?;
                let vector = self.query_vector(record, input.vector, Some(&text)).await?;
                SearchQuery::Hybrid { vector, text }
            }
        };
        let hybrid = match input.weights {
            Some((vector_weight, keyword_weight)) => HybridOptions {
                vector_weight,
                keyword_weight,
                ..self.hybrid
            },
            None => self.hybrid,
        };
        let request = SearchRequest {
            mode,
            filter: input.filter,
            k: input.k,
            score_threshold: input.score_threshold,
            hybrid,
        };
        let hits = store.search(&record.spec(), &request).await?;
        Ok(fit(hits, self.limits.max_response_bytes, |h| {
            h.chunk.text.len()
        }))
    }

    async fn query_vector(
        &self,
        record: &CollectionRecord,
        vector: Option<Vec<f32>>,
        text: Option<&str>,
    ) -> Result<Vec<f32>, ServiceError> {
        if let Some(v) = vector {
            return Ok(v);
        }
        let text = text.ok_or_else(|| {
            ServiceError::invalid(
                Field::QueryVector,
                "vector search needs a vector or a text query",
            )
        })?;
        let embedder = self.collection_embedder(record, Field::QueryVector)?;
        let mut vectors = embedder
            .embed(&[text.to_string()])
            .await
            .map_err(|e| match e {
                EmbedError::InputTooLong { tokens, max, .. } => ServiceError::invalid(
                    Field::Query,
                    format!("the query is {tokens} tokens long, over the limit of {max} tokens of model '{}'", embedder.model()),
                ),
                other => other.into(),
            })?;
        let vector = vectors
            .pop()
            .ok_or_else(|| StoreError::internal_msg("the embedder returned no vector"))?;
        if is_zero(&vector) {
            return Err(ServiceError::invalid(
                Field::Query,
                no_vector("the query", embedder.model()),
            ));
        }
        Ok(vector)
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

    fn check_expiry(&self, record: &CollectionRecord) -> Result<(), ServiceError> {
        if Self::is_expired(record) {
            return Err(ServiceError::invalid_body(format!(
                "collection '{}' expired after {} days without use",
                record.collection,
                record.expires_after_days.unwrap_or_default()
            )));
        }
        Ok(())
    }

    async fn touch(&self, record: &CollectionRecord) {
        if now_unix() - record.last_active_at >= TOUCH_INTERVAL_SECS {
            match self
                .catalog
                .touch_collection(&record.tenant_id, &record.id)
                .await
            {
                // The catalog decides (an expired collection is not revived): read it again.
                Ok(()) => self.records.forget(record),
                Err(e) => {
                    tracing::warn!(collection = %record.id, error = %e, "could not update last_active_at")
                }
            }
        }
    }
}

fn is_zero(v: &[f32]) -> bool {
    v.iter().all(|x| *x == 0.0)
}

/// Why a text embedded into the zero vector cannot be stored or searched with.
fn no_vector(what: &str, model: &str) -> String {
    format!(
        "{what} holds no word that model '{model}' knows: its vector is zero, which has no cosine similarity"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use embeddings::MockEmbedder;
    use store_core::{MockCatalog, MockVectorStore};

    fn tenant() -> Tenant {
        Tenant::new("t1", "acme")
    }

    fn record(model: Option<&str>) -> CollectionRecord {
        CollectionRecord {
            id: "vs_1".into(),
            tenant_id: "t1".into(),
            collection: "docs".into(),
            name: None,
            backend: "pgvector".into(),
            model: model.map(Into::into),
            dimension: 3,
            metadata: Map::new(),
            expires_after_days: None,
            created_at: 0,
            last_active_at: now_unix(),
        }
    }

    fn service(
        catalog: MockCatalog,
        store: MockVectorStore,
        embedder: MockEmbedder,
    ) -> VectorService {
        let stores = StoreRegistry::new(vec![Arc::new(store)], "pgvector").unwrap();
        let embedders = EmbedderRegistry::new(vec![Arc::new(embedder)], "m").unwrap();
        VectorService::new(
            Arc::new(catalog),
            stores,
            embedders,
            HybridOptions::default(),
        )
    }

    fn store() -> MockVectorStore {
        let mut s = MockVectorStore::new();
        s.expect_name().return_const("pgvector");
        s
    }

    fn embedder() -> MockEmbedder {
        let mut e = MockEmbedder::new();
        e.expect_model().return_const("m".to_string());
        e.expect_dimension().return_const(3usize);
        e.expect_max_input_tokens().return_const(256usize);
        e
    }

    fn doc(id: &str, vector: Option<Vec<f32>>) -> DocumentInput {
        DocumentInput {
            id: id.into(),
            file_id: id.into(),
            filename: None,
            chunk_index: 0,
            text: format!("text of {id}"),
            vector,
            attributes: Map::new(),
        }
    }

    #[tokio::test]
    async fn a_failed_backend_create_removes_the_catalog_record() {
        let mut catalog = MockCatalog::new();
        catalog.expect_create_collection().returning(|n| {
            Ok(CollectionRecord {
                id: n.id,
                tenant_id: n.tenant_id,
                collection: n.collection,
                name: None,
                backend: n.backend,
                model: n.model,
                dimension: n.dimension,
                metadata: n.metadata,
                expires_after_days: None,
                created_at: 0,
                last_active_at: 0,
            })
        });
        catalog
            .expect_delete_collection()
            .times(1)
            .returning(|_, _| Ok(()));
        let mut s = store();
        s.expect_create_collection().returning(|_| {
            Err(StoreError::unavailable(
                "down",
                std::io::Error::other("refused"),
            ))
        });
        let svc = service(catalog, s, embedder());
        let input = CreateCollectionInput {
            collection: "docs".into(),
            model: Some("m".into()),
            ..Default::default()
        };
        let err = svc.create_collection(&tenant(), input).await.unwrap_err();
        assert!(matches!(err, ServiceError::Unavailable { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn a_model_and_a_different_dimension_are_rejected() {
        let svc = service(MockCatalog::new(), store(), embedder());
        let input = CreateCollectionInput {
            collection: "docs".into(),
            model: Some("m".into()),
            dimension: Some(5),
            ..Default::default()
        };
        let err = svc.create_collection(&tenant(), input).await.unwrap_err();
        assert_eq!(err.field(), Some(&Field::Dimension));
    }

    #[tokio::test]
    async fn an_unknown_model_is_the_model_field_s_fault() {
        let svc = service(MockCatalog::new(), store(), embedder());
        let input = CreateCollectionInput {
            collection: "docs".into(),
            model: Some("nope".into()),
            ..Default::default()
        };
        let err = svc.create_collection(&tenant(), input).await.unwrap_err();
        assert_eq!(err.field(), Some(&Field::Model));
    }

    #[tokio::test]
    async fn only_documents_without_vectors_are_embedded() {
        let mut e = embedder();
        e.expect_embed()
            .withf(|texts| texts == ["text of b".to_string()])
            .returning(|_| Ok(vec![vec![0.0, 1.0, 0.0]]));
        let mut s = store();
        s.expect_upsert()
            .withf(|_, chunks| {
                chunks.len() == 2
                    && chunks[0].vector == vec![1.0, 0.0, 0.0]
                    && chunks[1].vector == vec![0.0, 1.0, 0.0]
            })
            .returning(|_, c| Ok(c.len() as u64));
        // The write is recorded as one that may have changed the collection's usage.
        let mut catalog = MockCatalog::new();
        catalog
            .expect_chunks_changed()
            .withf(|id| id == "vs_1")
            .times(1)
            .returning(|_| Ok(()));
        let svc = service(catalog, s, e);
        let n = svc
            .upsert(
                &record(Some("m")),
                vec![doc("a", Some(vec![1.0, 0.0, 0.0])), doc("b", None)],
            )
            .await
            .unwrap();
        assert_eq!(n, 2);
    }

    #[tokio::test]
    async fn a_text_the_model_gives_no_direction_is_refused_by_its_field() {
        let mut e = embedder();
        e.expect_embed()
            .returning(|texts| Ok(texts.iter().map(|_| vec![0.0, 0.0, 0.0]).collect()));
        let svc = service(MockCatalog::new(), store(), e);
        let docs = vec![doc("a", Some(vec![1.0, 0.0, 0.0])), doc("b", None)];
        let err = svc.upsert(&record(Some("m")), docs).await.unwrap_err();
        assert_eq!(
            err.field(),
            Some(&Field::Document {
                index: 1,
                part: DocumentPart::Text
            })
        );
        assert!(err.to_string().contains("no word that model"), "{err}");
        let input = SearchInput {
            mode: SearchMode::Vector,
            text: Some("🐋".into()),
            vector: None,
            filter: None,
            k: 3,
            score_threshold: None,
            weights: None,
        };
        let err = svc.search(&record(Some("m")), input).await.unwrap_err();
        assert_eq!(err.field(), Some(&Field::Query));
    }

    #[tokio::test]
    async fn an_over_long_text_is_named_by_its_document_index() {
        let mut e = embedder();
        e.expect_embed().returning(|_| {
            Err(EmbedError::InputTooLong {
                index: 1,
                tokens: 300,
                max: 256,
            })
        });
        let svc = service(MockCatalog::new(), store(), e);
        let docs = vec![
            doc("a", Some(vec![1.0, 0.0, 0.0])),
            doc("b", None),
            doc("c", None),
        ];
        let err = svc.upsert(&record(Some("m")), docs).await.unwrap_err();
        assert_eq!(
            err.field(),
            Some(&Field::Document {
                index: 2,
                part: DocumentPart::Text
            })
        );
        assert!(err.to_string().contains("300"));
    }

    #[tokio::test]
    async fn wrong_dimension_zero_and_non_finite_vectors_never_reach_the_store() {
        let svc = service(MockCatalog::new(), store(), embedder());
        for v in [vec![1.0, 0.0], vec![0.0, 0.0, 0.0]] {
            let err = svc
                .upsert(&record(None), vec![doc("a", Some(v))])
                .await
                .unwrap_err();
            assert_eq!(
                err.field(),
                Some(&Field::Document {
                    index: 0,
                    part: DocumentPart::Vector
                })
            );
        }
        let input = SearchInput {
            mode: SearchMode::Vector,
            text: None,
            vector: Some(vec![f32::NAN, 1.0, 1.0]),
            filter: None,
            k: 3,
            score_threshold: None,
            weights: None,
        };
        assert!(svc.search(&record(None), input).await.is_err());
    }

    #[tokio::test]
    async fn text_into_a_collection_without_a_model_is_a_client_error() {
        let svc = service(MockCatalog::new(), store(), embedder());
        let err = svc
            .upsert(&record(None), vec![doc("a", None)])
            .await
            .unwrap_err();
        assert!(err.is_caller_fault(), "{err:?}");
        assert!(err.to_string().contains("no embedding model"));
    }

    #[tokio::test]
    async fn naming_another_backend_says_where_the_collection_lives() {
        let mut catalog = MockCatalog::new();
        catalog
            .expect_get_collection_by_name()
            .returning(|_, _| Ok(record(Some("m"))));
        let mut s1 = store();
        s1.expect_name().return_const("pgvector");
        let mut s2 = MockVectorStore::new();
        s2.expect_name().return_const("elasticsearch");
        let stores = StoreRegistry::new(vec![Arc::new(s1), Arc::new(s2)], "pgvector").unwrap();
        let embedders = EmbedderRegistry::new(vec![Arc::new(embedder())], "m").unwrap();
        let svc = VectorService::new(
            Arc::new(catalog),
            stores,
            embedders,
            HybridOptions::default(),
        );
        let err = svc
            .collection(&tenant(), "docs", Some("elasticsearch"))
            .await
            .unwrap_err();
        assert_eq!(err.field(), Some(&Field::Backend));
        assert!(err.to_string().contains("'pgvector'"), "{err}");
    }

    #[tokio::test]
    async fn an_expired_collection_refuses_searches() {
        let svc = service(MockCatalog::new(), store(), embedder());
        let mut r = record(Some("m"));
        r.expires_after_days = Some(1);
        r.last_active_at = now_unix() - 2 * 86_400;
        let input = SearchInput {
            mode: SearchMode::Keyword,
            text: Some("x".into()),
            vector: None,
            filter: None,
            k: 3,
            score_threshold: None,
            weights: None,
        };
        let err = svc.search(&r, input).await.unwrap_err();
        assert!(err.to_string().contains("expired"));
    }

    fn expired(id: &str) -> CollectionRecord {
        let mut r = record(Some("m"));
        r.id = id.into();
        r.expires_after_days = Some(1);
        r.last_active_at = now_unix() - 2 * 86_400;
        r
    }

    #[tokio::test]
    async fn the_sweep_frees_expired_collections_and_marks_only_those_it_freed() {
        let mut catalog = MockCatalog::new();
        catalog.expect_expired_collections().returning(|_, _, _| {
            Ok(vec![
                expired("vs_gone"),
                expired("vs_fails"),
                expired("vs_ok"),
            ])
        });
        catalog
            .expect_mark_chunks_freed()
            .withf(|id, _| id == "vs_gone" || id == "vs_ok")
            .times(2)
            .returning(|_, _| Ok(()));
        // Every store whose chunks were deleted, or may have been in part, is counted again.
        catalog
            .expect_chunks_changed()
            .times(3)
            .returning(|_| Ok(()));
        let mut s = store();
        s.expect_delete_all()
            .returning(|spec| match spec.name.as_str() {
                "vs_gone" => Err(StoreError::not_found("collection", "vs_gone")),
                "vs_fails" => Err(StoreError::Unavailable {
                    message: "down".into(),
                    source: None,
                }),
                _ => Ok(7),
            });
        let svc = service(catalog, s, embedder());
        assert_eq!(svc.sweep_expired(100).await.unwrap(), 2);
    }
}
