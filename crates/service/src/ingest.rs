//! Files attached to vector stores: attaching queues a durable job; [`Ingestor`] workers claim
//! jobs, extract text (once per file, in the [`Sandbox`] for third-party parsers), chunk it,
//! embed and store the chunks under deterministic ids (`{file_id}:{index}`), and end the job
//! `completed` or `failed` with `last_error`. Chunk writes run fenced by the claim's token, so a
//! worker whose claim was taken over cannot change the file's chunks.
//!
//! A job is counted in [`crate::metrics::INGESTION_JOBS`] where its end is written, once: by
//! the worker whose claim `finish` accepted (`completed`, with its chunks and file bytes, or
//! `failed`), or by [`IngestService::cancel_batch`] for the files it cancelled. A job whose tries
//! were used up by workers that died is claimed doomed: its holder removes what earlier tries
//! wrote and ends it `failed`, counted so.

use std::sync::Arc;
use std::time::Duration;

use models::openai::{
    AttachFile, BatchStatus, ChunkingStrategy, CreateBatch, StaticChunking, VectorStoreStatus,
};
use serde_json::{Map, Value};
use store_core::{
    AttachedFile, AttachedPage, Batch, Chunk, Claim, ClaimRequest, CollectionRecord, FencedWork,
    Field, FileRecord, FileStatus, IngestCatalog, JobOutcome, LastError, Runnable, StatusCounts,
    Tenant, now_unix,
};

use embeddings::{EmbedError, Embedder};
use tokio_util::sync::CancellationToken;

use crate::error::ServiceError;
use crate::sandbox::{Failure, Sandbox};
use crate::text;
use crate::{CreateCollectionInput, DocumentInput, FileService, VectorService};

/// Passing faults (a back-end or the embedding provider unavailable) a job is retried after,
/// by default. With the back-off of [`store_core::retry_delay_secs`], 20 retries span about
/// an hour.
pub const DEFAULT_MAX_RETRIES: u32 = 20;

/// `auto` chunking: 800 tokens with 400 of overlap, narrowed to what the model takes.
pub const AUTO_MAX_TOKENS: u32 = 800;
pub const AUTO_OVERLAP_TOKENS: u32 = 400;

/// Chunk sizes (cl100k tokens) for a model that takes `model_max` of its own tokens: half is
/// kept as headroom, since its tokenizer may split finer than cl100k (code and URLs do).
pub fn auto_chunking(model_max: Option<usize>) -> (u32, u32) {
    let fit = model_max.map_or(AUTO_MAX_TOKENS, |m| {
        ((m / 2) as u32).clamp(16, AUTO_MAX_TOKENS)
    });
    (
        fit,
        if fit == AUTO_MAX_TOKENS {
            AUTO_OVERLAP_TOKENS
        } else {
            fit / 2
        },
    )
}

/// The (max tokens, overlap tokens) of a `chunking_strategy`, which the request named as
/// `field`. Every size OpenAI takes is taken; a chunk longer than the model reads is embedded in
/// windows ([`embed_windows`]).
pub fn chunking(
    strategy: Option<ChunkingStrategy>,
    model_max: Option<usize>,
    field: Field,
) -> Result<(u32, u32), ServiceError> {
    let bad = |m: &str| ServiceError::invalid(field.clone(), m.to_string());
    match strategy {
        None | Some(ChunkingStrategy::Auto {}) => Ok(auto_chunking(model_max)),
        Some(ChunkingStrategy::Static {
            static_:
                StaticChunking {
                    max_chunk_size_tokens: max,
                    chunk_overlap_tokens: overlap,
                },
        }) => {
            if !(100..=4096).contains(&max) {
                return Err(bad(
                    "static.max_chunk_size_tokens must be between 100 and 4096",
                ));
            }
            if overlap > max / 2 {
                return Err(bad(
                    "static.chunk_overlap_tokens must not exceed half of max_chunk_size_tokens",
                ));
            }
            Ok((max, overlap))
        }
    }
}

/// The state of a batch, from its files' counts.
pub fn batch_status(batch: &Batch, counts: &StatusCounts) -> BatchStatus {
    if batch.cancelled {
        BatchStatus::Cancelled
    } else if counts.in_progress > 0 {
        BatchStatus::InProgress
    } else if counts.total() > 0 && counts.failed == counts.total() {
        BatchStatus::Failed
    } else {
        BatchStatus::Completed
    }
}

/// A vector store's size, its files' counts and its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreState {
    pub usage_bytes: u64,
    pub counts: StatusCounts,
    pub status: VectorStoreStatus,
}

impl StoreState {
    fn of(store: &CollectionRecord, counts: StatusCounts) -> Self {
        let status = if VectorService::is_expired(store) {
            VectorStoreStatus::Expired
        } else if counts.in_progress > 0 {
            VectorStoreStatus::InProgress
        } else {
            VectorStoreStatus::Completed
        };
        StoreState {
            usage_bytes: counts.usage_bytes,
            counts,
            status,
        }
    }
}

#[derive(Debug, Clone)]
pub struct IngestService {
    pub vectors: VectorService,
    pub files: FileService,
    pub catalog: Arc<dyn IngestCatalog>,
    sandbox: Arc<Sandbox>,
}

impl IngestService {
    pub fn new(
        vectors: VectorService,
        files: FileService,
        catalog: Arc<dyn IngestCatalog>,
        sandbox: Sandbox,
    ) -> Self {
        Self {
            vectors,
            files,
            catalog,
            sandbox: Arc::new(sandbox),
        }
    }

    /// The text of `file`: kept from an earlier extraction, or extracted now and kept.
    pub async fn text_of(&self, file: &FileRecord) -> Result<String, Failure> {
        let server = |e: ServiceError| Failure::Server(crate::error::error_chain(&e));
        let blobs = self.files.blobs();
        if let Some(text) = blobs.read_text(&file.id).await.map_err(server)? {
            return Ok(text);
        }
        let bytes = blobs.open(&file.id).await.map_err(server)?;
        let text = self
            .sandbox
            .extract(&file.filename, bytes, file.bytes)
            .await?;
        blobs.write_text(&file.id, &text).await.map_err(server)?;
        Ok(text)
    }

    /// Builds the attachment of one file to the store `store_id` whose model takes
    /// `model_max` tokens, checking that the file is the tenant's and its chunking is valid;
    /// `field` is where the request named the file, `chunking_field` its chunking.
    async fn prepare(
        &self,
        tenant: &Tenant,
        store_id: &str,
        model_max: Option<usize>,
        req: AttachFile,
        (field, chunking_field): (Field, Field),
    ) -> Result<AttachedFile, ServiceError> {
        let file = self
            .files
            .get(tenant, &req.file_id)
            .await
            .map_err(|e| match e {
                ServiceError::NotFound { .. } => {
                    ServiceError::invalid(field, format!("no file with id '{}'", req.file_id))
                }
                other => other,
            })?;
        let (max, overlap) = chunking(req.chunking_strategy, model_max, chunking_field)?;
        Ok(AttachedFile {
            vector_store_id: store_id.to_string(),
            file_id: file.id,
            tenant_id: tenant.id.clone(),
            batch_id: None,
            status: FileStatus::InProgress,
            last_error: None,
            attributes: req.attributes.unwrap_or_default(),
            max_chunk_tokens: max,
            overlap_tokens: overlap,
            usage_bytes: 0,
            created_at: now_unix(),
            attempts: 0,
            retries: 0,
        })
    }

    /// Attaches one file to `store`, queueing its ingestion.
    pub async fn attach_file(
        &self,
        tenant: &Tenant,
        store: &CollectionRecord,
        req: AttachFile,
    ) -> Result<AttachedFile, ServiceError> {
        let model_max = self.vectors.model_max_tokens(store);
        let file = self
            .prepare(
                tenant,
                &store.id,
                model_max,
                req,
                (Field::FileId, Field::ChunkingStrategy),
            )
            .await?;
        Ok(self.catalog.attach(file).await?)
    }

    /// Creates a collection with `file_ids` attached (each split by `chunking_strategy`). Every
    /// file is checked before the collection is made; when one cannot be attached after all,
    /// the collection (and what was attached to it) is removed again.
    pub async fn create_store(
        &self,
        tenant: &Tenant,
        input: CreateCollectionInput,
        file_ids: Vec<String>,
        chunking_strategy: Option<ChunkingStrategy>,
    ) -> Result<CollectionRecord, ServiceError> {
        let model_max = self.vectors.max_tokens_of(input.model.as_deref());
        let mut files = Vec::with_capacity(file_ids.len());
        for (i, file_id) in file_ids.into_iter().enumerate() {
            let req = AttachFile {
                file_id,
                attributes: None,
                chunking_strategy,
            };
            files.push(
                self.prepare(
                    tenant,
                    "",
                    model_max,
                    req,
                    (Field::FileIds(i), Field::ChunkingStrategy),
                )
                .await?,
            );
        }
        let record = self.vectors.create_collection(tenant, input).await?;
        for f in files {
            let file = AttachedFile {
                vector_store_id: record.id.clone(),
                ..f
            };
            if let Err(e) = self.catalog.attach(file).await {
                if let Err(undo) = self.vectors.delete_collection(tenant, &record).await {
                    tracing::error!(collection = %record.id, error = %crate::error::error_chain(&undo),
                        "could not remove a vector store whose files could not be attached");
                }
                return Err(e.into());
            }
        }
        Ok(record)
    }

    /// A store's size, file counts and state, its size counted again first when writes may
    /// have changed it.
    pub async fn store_state(&self, store: &CollectionRecord) -> Result<StoreState, ServiceError> {
        Ok(StoreState::of(store, self.vectors.stats(store).await?))
    }

    /// The size, file counts and state of each of a page of stores, in one look-up whatever
    /// they hold (a size that writes changed a moment ago may show its last count).
    pub async fn store_states(
        &self,
        stores: &[CollectionRecord],
    ) -> Result<Vec<StoreState>, ServiceError> {
        let stats = self.vectors.page_stats(stores).await?;
        Ok(stores
            .iter()
            .zip(stats)
            .map(|(store, counts)| StoreState::of(store, counts))
            .collect())
    }

    /// A batch's file counts and state.
    pub async fn batch_state(
        &self,
        store: &CollectionRecord,
        batch: &Batch,
    ) -> Result<(StatusCounts, BatchStatus), ServiceError> {
        let counts = self.counts(store, Some(batch.id.clone())).await?;
        Ok((counts, batch_status(batch, &counts)))
    }

    pub async fn attached(
        &self,
        tenant: &Tenant,
        store: &CollectionRecord,
        file_id: &str,
    ) -> Result<AttachedFile, ServiceError> {
        Ok(self
            .catalog
            .attached(&tenant.id, &store.id, file_id)
            .await?)
    }

    pub async fn page(
        &self,
        tenant: &Tenant,
        store: &CollectionRecord,
        page: AttachedPage,
    ) -> Result<(Vec<AttachedFile>, bool), ServiceError> {
        Ok(self
            .catalog
            .page_attached(&tenant.id, &store.id, page)
            .await?)
    }

    /// New attributes apply to the file's chunks too. A completed file's chunks are updated in
    /// place and it stays `completed`; a file still being ingested starts again with them (the
    /// running worker's claim ends, and its writes with it).
    pub async fn set_attributes(
        &self,
        tenant: &Tenant,
        store: &CollectionRecord,
        file_id: &str,
        attributes: Map<String, Value>,
    ) -> Result<AttachedFile, ServiceError> {
        let current = self
            .catalog
            .attached(&tenant.id, &store.id, file_id)
            .await?;
        match current.status {
            FileStatus::Completed => {
                self.vectors
                    .admit_attribute_keys(store, [&attributes])
                    .await?;
                self.vectors
                    .backend_of(store)?
                    .set_file_attributes(&store.spec(), file_id, attributes.clone())
                    .await?;
                Ok(self
                    .catalog
                    .set_attributes(&tenant.id, &store.id, file_id, attributes)
                    .await?)
            }
            FileStatus::InProgress => Ok(self
                .catalog
                .attach(AttachedFile {
                    attributes,
                    ..current
                })
                .await?),
            FileStatus::Failed | FileStatus::Cancelled => Ok(self
                .catalog
                .set_attributes(&tenant.id, &store.id, file_id, attributes)
                .await?),
        }
    }

    /// Removes the file from the store, and its chunks; the file itself stays.
    pub async fn detach(
        &self,
        tenant: &Tenant,
        store: &CollectionRecord,
        file_id: &str,
    ) -> Result<(), ServiceError> {
        self.catalog.detach(&tenant.id, &store.id, file_id).await?;
        self.vectors
            .delete_files(store, &[file_id.to_string()])
            .await?;
        Ok(())
    }

    /// A page of the text of an attached file, as extracted for ingestion (never parsed again
    /// here): from byte `offset` (0, or a page's `next`), as much as fits in `max` bytes once
    /// written as a JSON string; and the offset of the next page, if any.
    pub async fn content(
        &self,
        tenant: &Tenant,
        store: &CollectionRecord,
        file_id: &str,
        offset: u64,
        max: usize,
    ) -> Result<(String, Option<u64>), ServiceError> {
        let attached = self
            .catalog
            .attached(&tenant.id, &store.id, file_id)
            .await?;
        let file = self.files.get(tenant, file_id).await?;
        let max = max.max(64);
        if let Some((text, more)) = self
            .files
            .blobs()
            .read_text_range(&file.id, offset, max)
            .await?
        {
            return Ok(page_of(&text, offset, more, max));
        }
        match attached.status {
            // Ingested before texts were kept: extracted (in the sandbox) this once.
            FileStatus::Completed => {
                let text = self.text_of(&file).await.map_err(|e| match e {
                    Failure::Server(m) => ServiceError::internal_msg(m),
                    Failure::Invalid(m) | Failure::Unsupported(m) => {
                        ServiceError::invalid(Field::FileId, m)
                    }
                })?;
                let start = usize::try_from(offset)
                    .unwrap_or(usize::MAX)
                    .min(text.len());
                if !text.is_char_boundary(start) {
                    return Err(ServiceError::invalid_body(
                        "the page does not start where a character does",
                    ));
                }
                Ok(page_of(&text[start..], offset, false, max))
            }
            status => Err(ServiceError::invalid(
                Field::FileId,
                format!(
                    "the content of file '{file_id}' is available once it has been processed; it is {}",
                    status.as_str()
                ),
            )),
        }
    }

    pub async fn counts(
        &self,
        store: &CollectionRecord,
        batch_id: Option<String>,
    ) -> Result<StatusCounts, ServiceError> {
        Ok(self.catalog.counts(&store.id, batch_id).await?)
    }

    /// Attaches a batch of files: `file_ids` (sharing the batch's attributes and chunking) or
    /// `files` (each with its own, falling back to the batch's), never both; a file at most once.
    pub async fn create_batch(
        &self,
        tenant: &Tenant,
        store: &CollectionRecord,
        req: CreateBatch,
    ) -> Result<Batch, ServiceError> {
        let shared = req.attributes.unwrap_or_default();
        // Each file with where the request named it and its chunking.
        let requests: Vec<(AttachFile, (Field, Field))> = match (req.file_ids, req.files) {
            (Some(ids), None) => ids
                .into_iter()
                .enumerate()
                .map(|(i, file_id)| {
                    let file = AttachFile {
                        file_id,
                        attributes: Some(shared.clone()),
                        chunking_strategy: req.chunking_strategy,
                    };
                    (file, (Field::FileIds(i), Field::ChunkingStrategy))
                })
                .collect(),
            (None, Some(files)) => files
                .into_iter()
                .enumerate()
                .map(|(i, f)| {
                    let chunking_field = match f.chunking_strategy {
                        Some(_) => Field::FileChunkingStrategy(i),
                        None => Field::ChunkingStrategy,
                    };
                    let file = AttachFile {
                        attributes: f.attributes.or_else(|| Some(shared.clone())),
                        chunking_strategy: f.chunking_strategy.or(req.chunking_strategy),
                        file_id: f.file_id,
                    };
                    (file, (Field::Files(i), chunking_field))
                })
                .collect(),
            _ => {
                return Err(ServiceError::invalid(
                    Field::FileList,
                    "send either file_ids or files, not both and not neither",
                ));
            }
        };
        if let Some(i) =
            models::validation::first_duplicate(requests.iter().map(|(r, _)| r.file_id.as_str()))
        {
            let (file, (field, _)) = &requests[i];
            let message = format!("file '{}' appears more than once", file.file_id);
            return Err(ServiceError::invalid(field.clone(), message));
        }
        let batch = Batch {
            id: format!("vsfb_{}", uuid::Uuid::now_v7().simple()),
            vector_store_id: store.id.clone(),
            tenant_id: tenant.id.clone(),
            created_at: now_unix(),
            cancelled: false,
        };
        let model_max = self.vectors.model_max_tokens(store);
        let mut files = Vec::with_capacity(requests.len());
        for (req, fields) in requests {
            let file = self
                .prepare(tenant, &store.id, model_max, req, fields)
                .await?;
            files.push(AttachedFile {
                batch_id: Some(batch.id.clone()),
                ..file
            });
        }
        Ok(self.catalog.create_batch(batch, files).await?)
    }

    pub async fn batch(
        &self,
        tenant: &Tenant,
        store: &CollectionRecord,
        batch_id: &str,
    ) -> Result<Batch, ServiceError> {
        Ok(self.catalog.batch(&tenant.id, &store.id, batch_id).await?)
    }

    /// Cancels the batch and its files still queued or running.
    pub async fn cancel_batch(
        &self,
        tenant: &Tenant,
        store: &CollectionRecord,
        batch_id: &str,
    ) -> Result<Batch, ServiceError> {
        let (batch, cancelled) = self
            .catalog
            .cancel_batch(&tenant.id, &store.id, batch_id)
            .await?;
        crate::metrics::jobs_ended(FileStatus::Cancelled, cancelled);
        Ok(batch)
    }

    /// Sets the gauges that are sampled rather than kept up to date: the ingestion queue's
    /// depth (files waiting for or in ingestion, of every tenant) and the catalog's connection
    /// pool (when it has one). A metrics endpoint calls this before it renders.
    pub async fn sample_gauges(&self) -> Result<(), ServiceError> {
        if let Some(pool) = self.vectors.catalog().pool_status() {
            crate::metrics::pool(pool);
        }
        crate::metrics::queue_depth(self.catalog.queue_depth().await?);
        Ok(())
    }
}

/// The fewest cl100k tokens a window of [`embed_windows`] shrinks to.
const MIN_WINDOW_TOKENS: usize = 8;

/// One vector per text, for texts of any length: a text the model reads whole is embedded as
/// it is; a longer one is cut into consecutive windows the model reads (of the `auto` chunk
/// size, on character boundaries, nothing left out), and its vector is the mean of the
/// windows' vectors weighted by their lengths, normalised. A text whose window the model still
/// finds too long (text that splits into many word pieces) is cut smaller; the others are not
/// cut again.
pub async fn embed_windows(
    embedder: &dyn Embedder,
    texts: &[&str],
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let (auto, _) = auto_chunking(Some(embedder.max_input_tokens()));
    let mut windows = vec![auto as usize; texts.len()];
    loop {
        // (text index, window text) for every window of every text; a text read whole is one.
        let mut pieces: Vec<(usize, &str)> = Vec::new();
        let mut whole = vec![false; texts.len()];
        for (i, t) in texts.iter().enumerate() {
            if text::count_tokens(t) <= windows[i] {
                whole[i] = true;
                pieces.push((i, t));
            } else {
                pieces.extend(text::chunk(t, windows[i], 0).into_iter().map(|w| (i, w)));
            }
        }
        let inputs: Vec<String> = pieces.iter().map(|(_, w)| (*w).to_string()).collect();
        match embedder.embed(&inputs).await {
            Ok(vectors) => {
                let mut out = vec![vec![0f32; embedder.dimension()]; texts.len()];
                for ((i, w), v) in pieces.iter().zip(vectors) {
                    if whole[*i] {
                        // The model's own vector.
                        out[*i] = v;
                    } else {
                        let weight = w.len() as f32;
                        out[*i]
                            .iter_mut()
                            .zip(v)
                            .for_each(|(s, x)| *s += weight * x);
                    }
                }
                for (v, _) in out.iter_mut().zip(&whole).filter(|(_, w)| !**w) {
                    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                    v.iter_mut().for_each(|x| *x /= norm);
                }
                return Ok(out);
            }
            Err(EmbedError::InputTooLong { index, .. })
                if pieces
                    .get(index)
                    .is_some_and(|(i, _)| windows[*i] > MIN_WINDOW_TOKENS) =>
            {
                let i = pieces[index].0;
                windows[i] = (windows[i] * 3 / 4).max(MIN_WINDOW_TOKENS);
                tracing::debug!(
                    window = windows[i],
                    "a window was too long for the model; embedding that text in smaller windows"
                );
            }
            Err(e) => return Err(e),
        }
    }
}

/// Files of at most this many chunks, claimed together for one vector store, are embedded
/// together and written in one fenced write.
const GROUP_CHUNKS: usize = 64;

/// Texts per embedding request.
const EMBED_BATCH: usize = 64;

/// Files (and texts) of at most this many bytes among the jobs of one claim are embedded
/// together; larger ones run one after another, each holding its text only while it runs, so
/// that a worker holds one large text at a time however many jobs it claimed.
const GROUP_FILE_BYTES: u64 = 256 * 1024;

/// Claims and runs ingestion jobs.
#[derive(Debug, Clone)]
pub struct Ingestor {
    service: IngestService,
    lease_secs: i64,
    max_attempts: u32,
    max_retries: u32,
    jobs_per_claim: usize,
    runnable: Option<Runnable>,
}

/// A claimed job whose text is chunked, ready to embed and store.
struct Job<'a> {
    claim: &'a Claim,
    store: CollectionRecord,
    file: FileRecord,
    pieces: Vec<String>,
}

impl Ingestor {
    /// A worker that claims one job at a time, of any vector store; a job is tried again after
    /// [`DEFAULT_MAX_RETRIES`] passing faults at most.
    pub fn new(service: IngestService, lease_secs: i64, max_attempts: u32) -> Self {
        Self {
            service,
            lease_secs,
            max_attempts,
            max_retries: DEFAULT_MAX_RETRIES,
            jobs_per_claim: 1,
            runnable: None,
        }
    }

    /// Retries a job after at most `n` passing faults (each waits longer: see
    /// [`store_core::retry_delay_secs`]).
    pub fn with_max_retries(mut self, n: u32) -> Self {
        self.max_retries = n;
        self
    }

    /// Claims only jobs of vector stores whose back-end and embedding model this server has.
    pub fn claiming_only_runnable(mut self) -> Self {
        self.runnable = Some(self.service.vectors.runnable());
        self
    }

    /// Claims up to `n` jobs at once and runs them together: small files of one vector store
    /// are embedded in one request and written in one fenced write, each larger file on its
    /// own (all of them concurrently).
    pub fn with_jobs_per_claim(mut self, n: usize) -> Self {
        self.jobs_per_claim = n.max(1);
        self
    }

    /// Runs until `shutdown` is cancelled, sleeping `idle` when there is nothing to do. Once
    /// cancelled it claims nothing more, hands back the jobs it holds (another worker or server
    /// takes them within seconds, not after their lease) and returns.
    pub async fn run(self, idle: Duration, shutdown: CancellationToken) {
        while !shutdown.is_cancelled() {
            let pause = match self.run_once_until(&shutdown).await {
                Ok(true) => continue,
                Ok(false) => idle,
                Err(e) => {
                    tracing::warn!(error = %crate::error::error_chain(&e), "an ingestion step on the queue failed");
                    idle * 5
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = shutdown.cancelled() => {}
            }
        }
        tracing::debug!("ingestion worker stopped");
    }

    /// Claims jobs and runs them; false when there was none.
    pub async fn run_once(&self) -> Result<bool, ServiceError> {
        self.run_once_until(&CancellationToken::new()).await
    }

    async fn run_once_until(&self, shutdown: &CancellationToken) -> Result<bool, ServiceError> {
        let catalog = &self.service.catalog;
        let mut request =
            ClaimRequest::new(self.lease_secs, self.max_attempts, self.jobs_per_claim);
        request.runnable = self.runnable.clone();
        let claims = catalog.claim(request).await?;
        if claims.is_empty() {
            return Ok(false);
        }
        for c in &claims {
            tracing::debug!(vector_store = %c.job.vector_store_id, file = %c.job.file_id, attempt = c.job.attempts, "ingestion job claimed");
        }
        // The claims are renewed while the jobs run, however long they take.
        let work = async {
            tokio::select! {
                result = self.run_claims(&claims) => result,
                never = self.keep_claims(&claims) => match never {},
            }
        };
        tokio::pin!(work);
        tokio::select! {
            result = &mut work => result.map(|()| true),
            () = shutdown.cancelled() => {
                // Hand the jobs back while their work goes on: a chunk write in flight finishes
                // first (the hand-back waits for it), and none follows. Work that ends first
                // ends the jobs as usual.
                let hand_back = futures::future::join_all(claims.iter().map(|c| {
                    catalog.finish(&c.job.vector_store_id, &c.job.file_id, &c.token, JobOutcome::HandBack)
                }));
                tokio::select! {
                    handed = hand_back => {
                        tracing::info!(jobs = handed.len(), "shutting down: ingestion jobs handed back");
                        handed.into_iter().find_map(Result::err).map_or(Ok(true), |e| Err(e.into()))
                    }
                    result = &mut work => result.map(|()| true),
                }
            }
        }
    }

    /// Runs the claimed jobs to their end; the first error of the queue's own, once all ended.
    /// A doomed job is not run: what earlier tries wrote is removed and it ends `failed`.
    async fn run_claims(&self, claims: &[Claim]) -> Result<(), ServiceError> {
        let (doomed, claims): (Vec<&Claim>, Vec<&Claim>) =
            claims.iter().partition(|c| c.doomed.is_some());
        let doomed = futures::future::join_all(doomed.into_iter().map(|c| {
            let error = c.doomed.clone().expect("partitioned on it");
            tracing::warn!(vector_store = %c.job.vector_store_id, file = %c.job.file_id, message = %error.message, "ingestion job not run again");
            self.end(c, Err(Ended::Outcome(JobOutcome::Failed(error))))
        }));
        let (doomed, run) = futures::join!(doomed, self.run_live(claims));
        doomed.into_iter().collect::<Result<(), _>>().and(run)
    }

    /// Runs jobs that are not doomed.
    async fn run_live(&self, claims: Vec<&Claim>) -> Result<(), ServiceError> {
        let found = futures::future::join_all(claims.iter().map(|c| self.look_up(c))).await;
        let mut small = Vec::new();
        let mut large = Vec::new();
        let mut ended = Vec::new();
        for (&claim, f) in claims.iter().zip(found) {
            match f {
                Ok((store, file)) if file.bytes <= GROUP_FILE_BYTES => {
                    small.push((claim, store, file))
                }
                Ok(found) => large.push((claim, found)),
                Err(e) => ended.push((claim, e)),
            }
        }
        let small = self.run_small(small, ended);
        let large = async {
            let mut results = Vec::new();
            for (claim, (store, file)) in large {
                results.push(match self.read(claim, store, file).await {
                    Ok(job) => self.run_alone(job).await,
                    Err(e) => self.end(claim, Err(e)).await,
                });
            }
            results.into_iter().collect::<Result<(), ServiceError>>()
        };
        let (small, large) = futures::join!(small, large);
        small.and(large)
    }

    /// Runs the small files of a claim: those of one vector store in one group, each that has
    /// more than [`GROUP_CHUNKS`] chunks on its own, concurrently (one whose text is larger than
    /// [`GROUP_FILE_BYTES`] at once, alone); and ends `ended`.
    async fn run_small<'a>(
        &self,
        small: Vec<(&'a Claim, CollectionRecord, FileRecord)>,
        ended: Vec<(&'a Claim, Ended)>,
    ) -> Result<(), ServiceError> {
        let mut groups: Vec<Vec<Job<'_>>> = Vec::new();
        let mut alone = Vec::new();
        let mut ended = ended;
        let mut results = Vec::new();
        // Read one after another: a small file whose text is large (a compressed format) runs
        // alone at once, before the next is read.
        for (claim, store, file) in small {
            match self.read(claim, store, file).await {
                Err(e) => ended.push((claim, e)),
                Ok(job) if usage(&job.pieces) > GROUP_FILE_BYTES => {
                    results.push(self.run_alone(job).await)
                }
                Ok(job) if (1..=GROUP_CHUNKS).contains(&job.pieces.len()) => {
                    match groups.iter_mut().find(|g| g[0].store.id == job.store.id) {
                        Some(g) => g.push(job),
                        None => groups.push(vec![job]),
                    }
                }
                Ok(job) => alone.push(job),
            }
        }
        let (single, groups): (Vec<_>, Vec<_>) = groups.into_iter().partition(|g| g.len() == 1);
        alone.extend(single.into_iter().flatten());
        results.extend(
            futures::future::join_all(
                ended
                    .into_iter()
                    .map(|(claim, e)| {
                        Box::pin(self.end(claim, Err(e))) as futures::future::BoxFuture<'_, _>
                    })
                    .chain(
                        alone
                            .into_iter()
                            .map(|job| Box::pin(self.run_alone(job)) as _),
                    )
                    .chain(groups.into_iter().map(|g| Box::pin(self.run_group(g)) as _)),
            )
            .await,
        );
        results.into_iter().collect()
    }

    /// The job's vector store and file.
    async fn look_up(&self, claim: &Claim) -> Result<(CollectionRecord, FileRecord), Ended> {
        let job = &claim.job;
        let tenant = Tenant {
            id: job.tenant_id.clone(),
            name: String::new(),
        };
        let store = self
            .service
            .vectors
            .catalog()
            .get_collection(&job.tenant_id, &job.vector_store_id)
            .await
            .map_err(|e| self.on_error(job, e.into()))?;
        let file = self
            .service
            .files
            .get(&tenant, &job.file_id)
            .await
            .map_err(|e| match e {
                ServiceError::NotFound { .. } => {
                    failed("invalid_file", "the file was deleted".into())
                }
                other => self.on_error(job, other),
            })?;
        Ok((store, file))
    }

    /// The job's text, chunked.
    async fn read<'a>(
        &self,
        claim: &'a Claim,
        store: CollectionRecord,
        file: FileRecord,
    ) -> Result<Job<'a>, Ended> {
        let job = &claim.job;
        let text = match self.service.text_of(&file).await {
            Ok(text) => text,
            Err(Failure::Unsupported(m)) => return Err(failed("unsupported_file", m)),
            Err(Failure::Invalid(m)) => return Err(failed("invalid_file", m)),
            Err(Failure::Server(m)) => {
                return Err(self.on_error(job, ServiceError::internal_msg(m)));
            }
        };
        // Off the async threads: a long text takes a while, and the claim's renewals must go on.
        let (max, overlap) = (job.max_chunk_tokens as usize, job.overlap_tokens as usize);
        let pieces = tokio::task::spawn_blocking(move || {
            text::chunk(&text, max, overlap)
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|e| {
            self.on_error(
                job,
                ServiceError::internal_msg(format!("chunking stopped: {e}")),
            )
        })?;
        Ok(Job {
            claim,
            store,
            file,
            pieces,
        })
    }

    /// Stores one job's chunks and ends it.
    async fn run_alone(&self, job: Job<'_>) -> Result<(), ServiceError> {
        let claim = job.claim;
        let chunks = job.pieces.len() as u64;
        let result = self
            .store_chunks(&job.store, &job.file, claim, job.pieces)
            .await
            .map(|usage_bytes| Stored {
                usage_bytes,
                chunks,
                file_bytes: job.file.bytes,
            })
            .map_err(|step| self.ended(&claim.job, step));
        self.end(claim, result).await
    }

    /// Stores the chunks of several small files of one vector store in one fenced write and
    /// ends them together. A job whose claim the write did not find held, and every job when
    /// the group fails, runs again alone (which tells apart a lost claim, a file at fault and
    /// a passing fault).
    async fn run_group(&self, jobs: Vec<Job<'_>>) -> Result<(), ServiceError> {
        let store_id = jobs[0].store.id.clone();
        let written = match self.store_group(&jobs).await {
            Ok(written) => written,
            Err(e) => {
                tracing::debug!(vector_store = %store_id, jobs = jobs.len(), error = %crate::error::error_chain(&e), "a group of ingestion jobs failed; each runs alone");
                Vec::new()
            }
        };
        let (done, again): (Vec<_>, Vec<_>) =
            jobs.into_iter().partition(|j| written.contains(&j.file.id));
        if !done.is_empty() {
            let finished = self
                .service
                .catalog
                .finish_completed(
                    &store_id,
                    done.iter()
                        .map(|j| (j.file.id.clone(), j.claim.token.clone(), usage(&j.pieces)))
                        .collect(),
                )
                .await?;
            for j in &done {
                if finished.contains(&j.file.id) {
                    crate::metrics::job_completed(j.pieces.len() as u64, j.file.bytes);
                    tracing::info!(vector_store = %store_id, file = %j.file.id, outcome = ?JobOutcome::Completed { usage_bytes: usage(&j.pieces) }, "ingestion job ended");
                } else {
                    self.clean_up_cancelled(&j.claim.job).await?;
                }
            }
        }
        let results = futures::future::join_all(again.into_iter().map(|j| self.run_alone(j))).await;
        results.into_iter().collect()
    }

    /// Embeds the jobs' chunks and writes those of the jobs whose claims are held; their file
    /// ids.
    async fn store_group(&self, jobs: &[Job<'_>]) -> Result<Vec<String>, ServiceError> {
        let store = &jobs[0].store;
        let docs: Vec<DocumentInput> = jobs
            .iter()
            .flat_map(|j| documents(&j.file, j.claim, j.pieces.iter().cloned()))
            .collect();
        let chunks = self.embed_chunks(store, docs).await?;
        let backend = self.service.vectors.backend_of(store)?;
        let spec = store.spec();
        let generation = jobs.iter().map(|j| j.claim.generation).max().unwrap_or(0);
        let counts: Vec<(String, u32)> = jobs
            .iter()
            .map(|j| (j.file.id.clone(), chunk_count(&j.pieces)))
            .collect();
        let held = self
            .service
            .catalog
            .fenced_group(
                &store.id,
                jobs.iter()
                    .map(|j| (j.file.id.clone(), j.claim.token.clone()))
                    .collect(),
                Box::new(move |held: Vec<String>| {
                    Box::pin(async move {
                        let chunks: Vec<Chunk> = chunks
                            .into_iter()
                            .filter(|c| held.contains(&c.file_id))
                            .collect();
                        // Whatever an earlier try or attachment left goes first, and what
                        // one of their late writes added goes last.
                        backend.delete_files(&spec, &held).await?;
                        let n = backend.upsert_claimed(&spec, chunks, generation).await?;
                        let counts: Vec<(String, u32)> = counts
                            .into_iter()
                            .filter(|(f, _)| held.contains(f))
                            .collect();
                        backend.trim_files(&spec, &counts).await?;
                        Ok(n)
                    })
                }),
            )
            .await?;
        Ok(held)
    }

    /// Embeds `docs` (in requests of [`EMBED_BATCH`]) into chunks of `store`.
    async fn embed_chunks(
        &self,
        store: &CollectionRecord,
        docs: Vec<DocumentInput>,
    ) -> Result<Vec<Chunk>, ServiceError> {
        let embedder = self.service.vectors.embedder_of(store)?;
        let mut chunks = Vec::with_capacity(docs.len());
        for part in docs.chunks(EMBED_BATCH) {
            let texts: Vec<&str> = part.iter().map(|d| d.text.as_str()).collect();
            let vectors = embed_windows(embedder.as_ref(), &texts).await?;
            let part: Vec<DocumentInput> = part
                .iter()
                .cloned()
                .zip(vectors)
                .map(|(d, v)| DocumentInput {
                    vector: Some(v),
                    ..d
                })
                .collect();
            chunks.extend(self.service.vectors.embed_documents(store, part).await?);
        }
        Ok(chunks)
    }

    /// Ends a job with the result of its work: completed, failed (keeping none of its chunks)
    /// or released to be tried again; a job whose end was written is counted.
    async fn end(&self, claim: &Claim, result: Result<Stored, Ended>) -> Result<(), ServiceError> {
        let catalog = &self.service.catalog;
        let job = &claim.job;
        let (outcome, stored) = match result {
            Ok(stored) => (
                JobOutcome::Completed {
                    usage_bytes: stored.usage_bytes,
                },
                Some(stored),
            ),
            Err(Ended::Outcome(outcome)) => (outcome, None),
            Err(Ended::ClaimLost) => {
                tracing::debug!(vector_store = %job.vector_store_id, file = %job.file_id, "ingestion claim taken over; its work is dropped");
                return self.clean_up_cancelled(job).await;
            }
        };
        if let JobOutcome::Failed(_) = &outcome
            && let Err(e) = self.remove_chunks(claim).await
        {
            // A file that fails keeps none of the chunks it wrote; failing that, try again.
            tracing::warn!(file = %job.file_id, error = %crate::error::error_chain(&e), "could not remove the chunks of a failed file");
            catalog
                .finish(
                    &job.vector_store_id,
                    &job.file_id,
                    &claim.token,
                    JobOutcome::Retry,
                )
                .await?;
            return Ok(());
        }
        tracing::info!(vector_store = %job.vector_store_id, file = %job.file_id, outcome = ?outcome, "ingestion job ended");
        let failed = matches!(outcome, JobOutcome::Failed(_));
        if !catalog
            .finish(&job.vector_store_id, &job.file_id, &claim.token, outcome)
            .await?
        {
            return self.clean_up_cancelled(job).await;
        }
        if let Some(s) = stored {
            crate::metrics::job_completed(s.chunks, s.file_bytes);
        } else if failed {
            crate::metrics::jobs_ended(FileStatus::Failed, 1);
        }
        Ok(())
    }

    /// A job cancelled while it ran keeps no chunks. (A detached one's were removed by the
    /// detach; a re-attached or re-claimed one's belong to the new claim.)
    async fn clean_up_cancelled(&self, job: &AttachedFile) -> Result<(), ServiceError> {
        let now = self
            .service
            .catalog
            .status(&job.vector_store_id, &job.file_id)
            .await?;
        if now == Some(FileStatus::Cancelled)
            && let Ok(store) = self
                .service
                .vectors
                .catalog()
                .get_collection(&job.tenant_id, &job.vector_store_id)
                .await
        {
            self.service
                .vectors
                .delete_files(&store, std::slice::from_ref(&job.file_id))
                .await?;
        }
        Ok(())
    }

    /// Renews the claim every third of a lease until dropped. Once the claim is lost
    /// (cancelled, detached, re-attached, or claimed again after a stall) it stops renewing;
    /// the fenced writes and `finish` then refuse this worker.
    async fn keep_claim(&self, claim: &Claim) -> std::convert::Infallible {
        let every = Duration::from_millis((self.lease_secs.max(1) as u64) * 1000 / 3);
        let job = &claim.job;
        loop {
            tokio::time::sleep(every).await;
            match self
                .service
                .catalog
                .renew(
                    &job.vector_store_id,
                    &job.file_id,
                    &claim.token,
                    self.lease_secs,
                )
                .await
            {
                Ok(true) => {
                    tracing::debug!(vector_store = %job.vector_store_id, file = %job.file_id, "ingestion claim renewed")
                }
                Ok(false) => std::future::pending::<()>().await,
                Err(e) => {
                    tracing::warn!(error = %e, file = %job.file_id, "could not renew an ingestion claim")
                }
            }
        }
    }

    /// Renews every claim of `claims` until dropped.
    async fn keep_claims(&self, claims: &[Claim]) -> std::convert::Infallible {
        futures::future::join_all(claims.iter().map(|c| self.keep_claim(c))).await;
        std::future::pending().await
    }

    /// Runs `work` under the claim; `ClaimLost` when it is no longer held.
    async fn fenced(&self, claim: &Claim, work: FencedWork) -> Result<u64, Step> {
        let job = &claim.job;
        match self
            .service
            .catalog
            .fenced(&job.vector_store_id, &job.file_id, &claim.token, work)
            .await
        {
            Ok(Some(n)) => Ok(n),
            Ok(None) => Err(Step::ClaimLost),
            Err(e) => Err(Step::Failed(e.into())),
        }
    }

    /// Removes the file's chunks, under the claim.
    async fn remove_chunks(&self, claim: &Claim) -> Result<(), ServiceError> {
        let job = &claim.job;
        let store = self
            .service
            .vectors
            .catalog()
            .get_collection(&job.tenant_id, &job.vector_store_id)
            .await?;
        let backend = self.service.vectors.backend_of(&store)?;
        let (spec, file_id) = (store.spec(), job.file_id.clone());
        match self
            .fenced(
                claim,
                Box::pin(async move { backend.delete_files(&spec, &[file_id]).await }),
            )
            .await
        {
            Err(Step::Failed(e)) => Err(e),
            Ok(_) | Err(Step::ClaimLost) => Ok(()),
        }
    }

    /// Replaces the file's chunks with `pieces`; returns the bytes of text stored. Each batch
    /// is embedded first, then written under the claim (the first write also removes whatever
    /// an earlier try or attachment left).
    async fn store_chunks(
        &self,
        store: &CollectionRecord,
        file: &FileRecord,
        claim: &Claim,
        pieces: Vec<String>,
    ) -> Result<u64, Step> {
        let usage = usage(&pieces);
        let docs = documents(file, claim, pieces.into_iter());
        let backend = self
            .service
            .vectors
            .backend_of(store)
            .map_err(Step::Failed)?;
        let mut replaced = false;
        if docs.is_empty() {
            let (b, spec, file_id) = (backend.clone(), store.spec(), file.id.clone());
            self.fenced(
                claim,
                Box::pin(async move { b.delete_files(&spec, &[file_id]).await }),
            )
            .await?;
            return Ok(usage);
        }
        let count = chunk_count(&docs);
        let parts = docs.chunks(EMBED_BATCH).count();
        for (i, part) in docs.chunks(EMBED_BATCH).enumerate() {
            let chunks = self
                .embed_chunks(store, part.to_vec())
                .await
                .map_err(Step::Failed)?;
            let (b, spec, file_id) = (backend.clone(), store.spec(), file.id.clone());
            let first = !std::mem::replace(&mut replaced, true);
            let (last, generation) = (i + 1 == parts, claim.generation);
            self.fenced(
                claim,
                Box::pin(async move {
                    // Whatever an earlier try or attachment left goes first, and what one of
                    // their late writes added goes last.
                    if first {
                        b.delete_files(&spec, std::slice::from_ref(&file_id))
                            .await?;
                    }
                    let n = b.upsert_claimed(&spec, chunks, generation).await?;
                    if last {
                        b.trim_files(&spec, &[(file_id, count)]).await?;
                    }
                    Ok(n)
                }),
            )
            .await?;
        }
        Ok(usage)
    }

    /// What a step that stopped means for the job.
    fn ended(&self, job: &AttachedFile, step: Step) -> Ended {
        match step {
            Step::ClaimLost => Ended::ClaimLost,
            Step::Failed(e) if e.is_caller_fault() => failed("invalid_file", e.to_string()),
            Step::Failed(e) => self.on_error(job, e),
        }
    }

    /// A fault on the server's side (not the file's) is tried again, after a back-off, until
    /// the retries run out; then the file fails with `server_error`.
    fn on_error(&self, job: &AttachedFile, e: ServiceError) -> Ended {
        tracing::warn!(vector_store = %job.vector_store_id, file = %job.file_id, retry = job.retries, error = %crate::error::error_chain(&e), "ingestion step failed");
        Ended::Outcome(if job.retries < self.max_retries {
            JobOutcome::Retry
        } else {
            JobOutcome::Failed(store_core::retries_used_up(job.retries))
        })
    }
}

/// The page of `text` (read from byte `offset`, `more` when the file holds more after it) that
/// fits in `max` bytes written as a JSON string, and the offset of the next page.
fn page_of(text: &str, offset: u64, more: bool, max: usize) -> (String, Option<u64>) {
    // `"…"`: quotes, and each character as serde_json escapes it.
    let mut used = 2;
    let mut end = text.len();
    for (i, c) in text.char_indices() {
        used += match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 => 6,
            c => c.len_utf8(),
        };
        if used > max {
            end = i;
            break;
        }
    }
    // A page holds at least one character.
    if end == 0 && !text.is_empty() {
        end = text.chars().next().map_or(0, char::len_utf8);
    }
    let next = (end < text.len() || more).then_some(offset + end as u64);
    (text[..end].to_string(), next)
}

/// The job ends `failed` with this error.
fn failed(code: &str, message: String) -> Ended {
    Ended::Outcome(JobOutcome::Failed(LastError {
        code: code.into(),
        message,
    }))
}

/// How many chunks a file has (as a `chunk_index` bound).
fn chunk_count<T>(chunks: &[T]) -> u32 {
    u32::try_from(chunks.len()).unwrap_or(u32::MAX)
}

/// The bytes of text a file's chunks hold.
fn usage(pieces: &[String]) -> u64 {
    pieces.iter().map(|p| p.len() as u64).sum()
}

/// The documents of a file's chunks, ids `{file_id}:{index}`.
fn documents(
    file: &FileRecord,
    claim: &Claim,
    pieces: impl Iterator<Item = String>,
) -> Vec<DocumentInput> {
    pieces
        .enumerate()
        .map(|(i, text)| DocumentInput {
            id: format!("{}:{i}", file.id),
            file_id: file.id.clone(),
            filename: Some(file.filename.clone()),
            chunk_index: i as u32,
            text,
            vector: None,
            attributes: claim.job.attributes.clone(),
        })
        .collect()
}

/// What a job that completed stored.
#[derive(Debug)]
struct Stored {
    /// Bytes of the chunks' text.
    usage_bytes: u64,
    chunks: u64,
    /// Bytes of the job's file.
    file_bytes: u64,
}

/// How a job that did not complete ended.
#[derive(Debug)]
enum Ended {
    Outcome(JobOutcome),
    /// The claim was taken over (re-attached, detached, cancelled, or claimed again).
    ClaimLost,
}

/// Why a step of a job stopped.
#[derive(Debug)]
enum Step {
    /// It failed; the caller decides what that means for the file.
    Failed(ServiceError),
    ClaimLost,
}

#[cfg(test)]
mod tests {
    use super::*;
    use embeddings::MockEmbedder;

    /// A model of 2-d vectors that reads at most `max` of its tokens (a word each here) and
    /// embeds a text as (its words, 1), so a mean over windows can be checked.
    fn words_model(max: usize) -> MockEmbedder {
        let mut e = MockEmbedder::new();
        e.expect_model().return_const("words".to_string());
        e.expect_dimension().return_const(2usize);
        e.expect_max_input_tokens().return_const(256usize);
        e.expect_embed().returning(move |texts: &[String]| {
            texts
                .iter()
                .enumerate()
                .map(|(index, t)| {
                    let words = t.split_whitespace().count();
                    if words > max {
                        return Err(EmbedError::InputTooLong {
                            index,
                            tokens: words,
                            max,
                        });
                    }
                    Ok(vec![words as f32, 1.0])
                })
                .collect()
        });
        e
    }

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn content_pages_tile_the_text_and_fit_their_limit_as_json() {
        let text: String = "aé€😀\"\n\u{1}".repeat(50);
        for max in [64, 100, 333] {
            let (mut offset, mut got) = (0u64, String::new());
            loop {
                let rest = &text[offset as usize..];
                let (page, next) = page_of(rest, offset, false, max);
                assert!(!page.is_empty());
                assert!(serde_json::to_string(&page).unwrap().len() <= max, "{max}");
                got.push_str(&page);
                match next {
                    Some(n) => offset = n,
                    None => break,
                }
            }
            assert_eq!(got, text);
        }
        // More on disk after what was read: the next page starts after it.
        assert_eq!(page_of("abc", 10, true, 64), ("abc".to_string(), Some(13)));
    }

    #[tokio::test]
    async fn a_text_the_model_reads_whole_is_embedded_as_it_is() {
        let model = words_model(1000);
        let v = embed_windows(&model, &["three short words"]).await.unwrap();
        assert_eq!(v, vec![vec![3.0, 1.0]]);
    }

    #[tokio::test]
    async fn a_longer_text_is_the_normalised_mean_of_its_windows() {
        let model = words_model(1000);
        // About 400 cl100k tokens: more than the 128 of one window for a 256-token model.
        let long = "word ".repeat(400);
        let v = embed_windows(&model, &[long.trim(), "tiny"]).await.unwrap();
        let windows = text::chunk(long.trim(), 128, 0);
        assert!(windows.len() >= 3, "{}", windows.len());
        let mut mean = [0f32; 2];
        for w in &windows {
            let weight = w.len() as f32;
            mean[0] += weight * w.split_whitespace().count() as f32;
            mean[1] += weight;
        }
        let want = unit(&[mean[0], mean[1]]);
        assert!((v[0][0] - want[0]).abs() < 1e-5 && (v[0][1] - want[1]).abs() < 1e-5);
        assert_eq!(v[1], vec![1.0, 1.0]);
        let norm: f32 = v[0].iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[tokio::test]
    async fn windows_shrink_until_the_model_reads_them() {
        // The model reads 40 words: windows of 128 tokens are too long for it.
        let model = words_model(40);
        let long = "word ".repeat(300);
        let v = embed_windows(&model, &[long.trim()]).await.unwrap();
        assert_eq!(v.len(), 1);
        assert!(v[0].iter().all(|x| x.is_finite()));
    }

    #[tokio::test]
    async fn only_the_text_the_model_finds_too_long_is_cut_smaller() {
        let calls = Arc::new(std::sync::Mutex::new(Vec::<Vec<String>>::new()));
        let mut model = words_model(40);
        model.checkpoint();
        model.expect_dimension().return_const(2usize);
        model.expect_max_input_tokens().return_const(256usize);
        let seen = calls.clone();
        model.expect_embed().returning(move |texts: &[String]| {
            seen.lock().unwrap().push(texts.to_vec());
            match texts.iter().position(|t| t.split_whitespace().count() > 40) {
                Some(index) => Err(EmbedError::InputTooLong {
                    index,
                    tokens: 41,
                    max: 40,
                }),
                None => Ok(texts.iter().map(|_| vec![1.0, 1.0]).collect()),
            }
        });
        // Many words a window (too long for this model), and long words, few a window.
        let many = "word ".repeat(300);
        let few = "xqzjvkw ".repeat(150);
        let v = embed_windows(&model, &[many.trim(), few.trim()])
            .await
            .unwrap();
        assert_eq!(v.len(), 2);
        let calls = calls.lock().unwrap();
        assert!(calls.len() > 1, "the first windows were too long");
        let few_windows = text::chunk(few.trim(), 128, 0);
        for call in calls.iter() {
            assert!(
                call.ends_with(
                    &few_windows
                        .iter()
                        .map(|w| w.to_string())
                        .collect::<Vec<_>>()
                )
            );
        }
    }

    /// The worker, the queue and the gauges as the metrics see them, over mocks.
    mod counted {
        use super::*;
        use crate::metrics::testing::{Recorded, counter, gauge, recorded};
        use crate::metrics::{
            DB_POOL_CONNECTIONS, DB_POOL_IN_USE, DB_POOL_WAITING, INGESTION_BYTES,
            INGESTION_CHUNKS, INGESTION_JOBS, INGESTION_QUEUE_DEPTH,
        };
        use crate::sandbox::SandboxLimits;
        use embeddings::EmbedderRegistry;
        use store_core::{
            HybridOptions, MockCatalog, MockFileCatalog, MockIngestCatalog, MockVectorStore,
            PoolStatus, StoreError, StoreRegistry,
        };

        const TEXT: &str = "The quick brown fox jumps over the lazy dog. It was not amused \
            at all, and the dog said so, at length, to anyone who would listen that day.";
        const FILE_BYTES: u64 = 4321;
        /// Tokens a chunk of the job.
        const CHUNK_TOKENS: u32 = 12;

        fn record() -> CollectionRecord {
            CollectionRecord {
                id: "vs_1".into(),
                tenant_id: "t1".into(),
                collection: "docs".into(),
                name: None,
                backend: "pgvector".into(),
                model: Some("m".into()),
                dimension: 2,
                metadata: Map::new(),
                expires_after_days: None,
                created_at: 0,
                last_active_at: now_unix(),
            }
        }

        const GENERATION: u64 = 1 << 40;

        fn claim() -> Claim {
            Claim {
                job: AttachedFile {
                    vector_store_id: "vs_1".into(),
                    file_id: "file-1".into(),
                    tenant_id: "t1".into(),
                    batch_id: None,
                    status: FileStatus::InProgress,
                    last_error: None,
                    attributes: Map::new(),
                    max_chunk_tokens: CHUNK_TOKENS,
                    overlap_tokens: 0,
                    usage_bytes: 0,
                    created_at: 0,
                    attempts: 1,
                    retries: 0,
                },
                token: "token-1".into(),
                generation: GENERATION,
                doomed: None,
            }
        }

        /// An ingestion service over `queue`, `catalog` and mocks of the rest; its file
        /// `file-1` exists when `file_exists`, its text kept in `dir`.
        fn service(
            queue: MockIngestCatalog,
            mut catalog: MockCatalog,
            file_exists: bool,
            dir: &std::path::Path,
        ) -> IngestService {
            catalog
                .expect_get_collection()
                .returning(|_, _| Ok(record()));
            let mut files = MockFileCatalog::new();
            files.expect_get_file().returning(move |tenant_id, id| {
                if !file_exists {
                    return Err(StoreError::not_found("file", id));
                }
                Ok(FileRecord {
                    id: id.into(),
                    tenant_id: tenant_id.into(),
                    filename: "fox.txt".into(),
                    bytes: FILE_BYTES,
                    purpose: "assistants".into(),
                    created_at: 0,
                    expires_at: None,
                })
            });
            let mut store = MockVectorStore::new();
            store.expect_name().return_const("pgvector");
            store.expect_delete_files().returning(|_, _| Ok(0));
            // Every chunk is written as the claim's generation, and the file is trimmed to
            // the chunks written.
            let written = Arc::new(std::sync::atomic::AtomicU32::new(0));
            let counted = written.clone();
            store
                .expect_upsert_claimed()
                .withf(|_, _, generation| *generation == GENERATION)
                .returning(move |_, chunks, _| {
                    counted.fetch_add(chunks.len() as u32, std::sync::atomic::Ordering::SeqCst);
                    Ok(chunks.len() as u64)
                });
            store
                .expect_trim_files()
                .withf(move |_, files| {
                    let n = written.load(std::sync::atomic::Ordering::SeqCst);
                    files == [("file-1".to_string(), n)] && n > 0
                })
                .returning(|_, _| Ok(0));
            let mut model = MockEmbedder::new();
            model.expect_model().return_const("m".to_string());
            model.expect_dimension().return_const(2usize);
            model.expect_max_input_tokens().return_const(256usize);
            model
                .expect_embed()
                .returning(|texts: &[String]| Ok(texts.iter().map(|_| vec![1.0, 0.0]).collect()));
            let vectors = VectorService::new(
                Arc::new(catalog),
                StoreRegistry::new(vec![Arc::new(store)], "pgvector").unwrap(),
                EmbedderRegistry::new(vec![Arc::new(model)], "m").unwrap(),
                HybridOptions::default(),
            );
            let blobs = crate::BlobStore::new(dir).unwrap();
            let files = FileService::new(Arc::new(files), blobs, 1 << 20);
            let limits = SandboxLimits {
                timeout_secs: 1,
                memory_limit_mib: 64,
                max_text_bytes: 1 << 20,
            };
            let sandbox = Sandbox::with_program("/nonexistent".into(), limits);
            IngestService::new(vectors, files, Arc::new(queue), sandbox)
        }

        /// A queue holding one job, whose writes run and whose `finish` is accepted when
        /// `accepted` (the claim is still held), else finds the file re-attached.
        fn queue(accepted: bool) -> MockIngestCatalog {
            let mut queue = MockIngestCatalog::new();
            queue
                .expect_claim()
                .times(1)
                .returning(|_| Ok(vec![claim()]));
            queue
                .expect_fenced()
                .returning(|_, _, _, work| futures::executor::block_on(work).map(Some));
            queue
                .expect_finish()
                .times(1)
                .returning(move |_, _, _, _| Ok(accepted));
            queue
                .expect_status()
                .returning(|_, _| Ok(Some(FileStatus::InProgress)));
            queue
        }

        /// What one run of a worker over `queue` recorded.
        fn run_worker(queue: MockIngestCatalog, file_exists: bool) -> Recorded {
            let dir = tempfile::tempdir().unwrap();
            let service = service(queue, MockCatalog::new(), file_exists, dir.path());
            let (ran, recorded) = recorded(async {
                service.files.blobs().write_text("file-1", TEXT).await?;
                Ingestor::new(service.clone(), 60, 3).run_once().await
            });
            assert!(ran.unwrap(), "the job was claimed");
            recorded
        }

        #[test]
        fn a_doomed_job_is_not_run_its_chunks_are_removed_and_it_fails() {
            let error = store_core::crashed_too_often(3);
            let mut queue = MockIngestCatalog::new();
            let doomed = Claim {
                doomed: Some(error.clone()),
                ..claim()
            };
            queue
                .expect_claim()
                .times(1)
                .returning(move |_| Ok(vec![doomed.clone()]));
            // The removal of what earlier tries wrote runs under the claim.
            queue
                .expect_fenced()
                .times(1)
                .returning(|_, _, _, work| futures::executor::block_on(work).map(Some));
            queue
                .expect_finish()
                .times(1)
                .withf(move |_, _, token, outcome| {
                    token == "token-1" && *outcome == JobOutcome::Failed(error.clone())
                })
                .returning(|_, _, _, _| Ok(true));
            // The file is never read: it does not exist.
            let recorded = run_worker(queue, false);
            assert_eq!(jobs(&recorded, "failed"), 1);
            assert_eq!(counter(&recorded, INGESTION_CHUNKS, &[]), 0);
        }

        #[test]
        fn a_passing_fault_is_retried_until_the_retries_run_out() {
            let dir = tempfile::tempdir().unwrap();
            let service = service(
                MockIngestCatalog::new(),
                MockCatalog::new(),
                true,
                dir.path(),
            );
            let worker = Ingestor::new(service, 60, 3).with_max_retries(2);
            let outcome = |retries| {
                let job = AttachedFile {
                    retries,
                    ..claim().job
                };
                match worker.on_error(&job, ServiceError::internal_msg("down")) {
                    Ended::Outcome(o) => o,
                    Ended::ClaimLost => panic!("not a lost claim"),
                }
            };
            assert_eq!(outcome(0), JobOutcome::Retry);
            assert_eq!(outcome(1), JobOutcome::Retry);
            assert_eq!(
                outcome(2),
                JobOutcome::Failed(store_core::retries_used_up(2))
            );
        }

        #[tokio::test]
        async fn a_worker_claims_only_what_its_back_ends_and_models_can_run() {
            let mut queue = MockIngestCatalog::new();
            queue
                .expect_claim()
                .times(1)
                .withf(|r| {
                    r.runnable
                        == Some(Runnable {
                            backends: vec!["pgvector".into()],
                            models: vec!["m".into()],
                        })
                })
                .returning(|_| Ok(vec![]));
            let dir = tempfile::tempdir().unwrap();
            let service = service(queue, MockCatalog::new(), true, dir.path());
            let worker = Ingestor::new(service, 60, 3).claiming_only_runnable();
            assert!(!worker.run_once().await.unwrap());
        }

        fn jobs(recorded: &Recorded, outcome: &str) -> u64 {
            counter(recorded, INGESTION_JOBS, &[("outcome", outcome)])
        }

        #[test]
        fn a_completed_job_counts_once_with_its_chunks_and_its_files_bytes() {
            let chunks = text::chunk(TEXT, CHUNK_TOKENS as usize, 0).len() as u64;
            assert!(chunks > 1, "{chunks}");
            let recorded = run_worker(queue(true), true);
            assert_eq!(jobs(&recorded, "completed"), 1);
            assert_eq!(jobs(&recorded, "failed"), 0);
            assert_eq!(counter(&recorded, INGESTION_CHUNKS, &[]), chunks);
            assert_eq!(counter(&recorded, INGESTION_BYTES, &[]), FILE_BYTES);
            // The chunk writes went through the instrumented back-end.
            let upsert = [("backend", "pgvector"), ("operation", "upsert")];
            assert_eq!(
                counter(&recorded, store_core::metrics::BACKEND_REQUESTS, &upsert),
                1
            );
        }

        #[test]
        fn a_job_whose_claim_was_taken_over_is_not_counted() {
            let recorded = run_worker(queue(false), true);
            for outcome in ["completed", "failed", "cancelled"] {
                assert_eq!(jobs(&recorded, outcome), 0, "{outcome}");
            }
            assert_eq!(counter(&recorded, INGESTION_CHUNKS, &[]), 0);
            assert_eq!(counter(&recorded, INGESTION_BYTES, &[]), 0);
        }

        #[test]
        fn a_failed_job_counts_as_failed_with_no_chunks() {
            let recorded = run_worker(queue(true), false);
            assert_eq!(jobs(&recorded, "failed"), 1);
            assert_eq!(jobs(&recorded, "completed"), 0);
            assert_eq!(counter(&recorded, INGESTION_CHUNKS, &[]), 0);
        }

        #[test]
        fn the_files_a_cancel_ends_are_counted_cancelled() {
            let mut queue = MockIngestCatalog::new();
            queue.expect_cancel_batch().returning(|tenant_id, vs, id| {
                let batch = Batch {
                    id: id.into(),
                    vector_store_id: vs.into(),
                    tenant_id: tenant_id.into(),
                    created_at: 0,
                    cancelled: true,
                };
                Ok((batch, 2))
            });
            let dir = tempfile::tempdir().unwrap();
            let service = service(queue, MockCatalog::new(), true, dir.path());
            let tenant = Tenant::new("t1", "acme");
            let (batch, recorded) = recorded(service.cancel_batch(&tenant, &record(), "vsfb_1"));
            assert!(batch.unwrap().cancelled);
            assert_eq!(jobs(&recorded, "cancelled"), 2);
        }

        #[test]
        fn sampling_sets_the_queue_depth_and_the_pool_gauges() {
            let mut queue = MockIngestCatalog::new();
            queue.expect_queue_depth().times(1).returning(|| Ok(5));
            let mut catalog = MockCatalog::new();
            catalog.expect_pool_status().return_const(Some(PoolStatus {
                size: 4,
                in_use: 3,
                waiting: 2,
            }));
            let dir = tempfile::tempdir().unwrap();
            let service = service(queue, catalog, true, dir.path());
            let (sampled, recorded) = recorded(service.sample_gauges());
            sampled.unwrap();
            assert_eq!(gauge(&recorded, INGESTION_QUEUE_DEPTH), Some(5.0));
            assert_eq!(gauge(&recorded, DB_POOL_CONNECTIONS), Some(4.0));
            assert_eq!(gauge(&recorded, DB_POOL_IN_USE), Some(3.0));
            assert_eq!(gauge(&recorded, DB_POOL_WAITING), Some(2.0));
        }

        #[test]
        fn without_a_pool_only_the_queue_depth_is_sampled() {
            let mut queue = MockIngestCatalog::new();
            queue.expect_queue_depth().returning(|| Ok(0));
            let mut catalog = MockCatalog::new();
            catalog.expect_pool_status().return_const(None);
            let dir = tempfile::tempdir().unwrap();
            let service = service(queue, catalog, true, dir.path());
            let (sampled, recorded) = recorded(service.sample_gauges());
            sampled.unwrap();
            assert_eq!(gauge(&recorded, INGESTION_QUEUE_DEPTH), Some(0.0));
            assert_eq!(gauge(&recorded, DB_POOL_CONNECTIONS), None);
        }
    }

    #[test]
    fn every_static_size_openai_takes_is_taken_whatever_the_model() {
        let sized = |max, overlap| {
            Some(ChunkingStrategy::Static {
                static_: StaticChunking {
                    max_chunk_size_tokens: max,
                    chunk_overlap_tokens: overlap,
                },
            })
        };
        let field = || Field::ChunkingStrategy;
        assert_eq!(
            chunking(sized(4096, 2048), Some(256), field()).unwrap(),
            (4096, 2048)
        );
        let e = chunking(sized(99, 0), Some(256), field()).unwrap_err();
        assert_eq!(e.field(), Some(&Field::ChunkingStrategy));
        assert!(chunking(sized(200, 101), Some(256), field()).is_err());
    }
}
