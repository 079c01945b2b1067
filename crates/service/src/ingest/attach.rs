//! [`IngestService`]: attaching files to vector stores (each a durable job), batches, the
//! states of stores and batches, and a file's chunks and text as stored.

use std::sync::Arc;

use models::openai::{AttachFile, BatchStatus, CreateBatch, VectorStoreStatus};
use serde_json::{Map, Value};
use store_core::{
    AttachedFile, AttachedPage, Batch, CollectionRecord, Field, FileRecord, FileStatus,
    IngestCatalog, StatusCounts, Tenant, now_unix,
};

use super::chunking;
use crate::error::ServiceError;
use crate::sandbox::{Failure, Sandbox};
use crate::{CreateStoreInput, FileService, VectorService};

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
    pub(crate) vectors: VectorService,
    pub(crate) files: FileService,
    pub(crate) catalog: Arc<dyn IngestCatalog>,
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

    /// The vector stores' service this one attaches files to.
    pub fn vectors(&self) -> &VectorService {
        &self.vectors
    }

    /// The uploaded files' service this one reads files from.
    pub fn files(&self) -> &FileService {
        &self.files
    }

    /// The text of `file`: kept from an earlier extraction, or extracted now and kept.
    pub async fn text_of(&self, file: &FileRecord) -> Result<String, Failure> {
        let server = |e: ServiceError| Failure::Server(crate::error::error_chain(&e));
        let blobs = self.files.blobs();
        if let Some(text) = blobs.read_text(&file.id).await.map_err(server)? {
            return Ok(text);
        }
        use futures::TryStreamExt as _;
        // Streamed from the blob store (a file or an object) into the sandbox.
        let (stream, _) = blobs.open(&file.id).await.map_err(server)?;
        let bytes = tokio_util::io::StreamReader::new(stream.map_err(std::io::Error::other));
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
        let file = self.files.get(tenant, &req.file_id).await.map_err(|e| {
            if e.is_not_found() {
                ServiceError::invalid(field, format!("no file with id '{}'", req.file_id))
            } else {
                e
            }
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

    /// Stores `text` as a new file of the tenant's named `filename` (purpose `assistants`) and
    /// attaches it to `store` as `req` asks, in place of `req.file_id`. When the attachment is
    /// refused, the new file is deleted again: a refusal leaves no file behind.
    pub async fn attach_text(
        &self,
        tenant: &Tenant,
        store: &CollectionRecord,
        filename: String,
        text: String,
        mut req: AttachFile,
    ) -> Result<AttachedFile, ServiceError> {
        let id = FileService::new_id();
        let body = futures::stream::iter([Ok::<_, std::convert::Infallible>(text.into_bytes())]);
        let received = self.files.receive(&id, body).await?;
        let meta = crate::UploadMeta {
            filename: Some(filename),
            purpose: Some("assistants".into()),
            ..Default::default()
        };
        req.file_id = self
            .files
            .register(tenant, id, Some(received), meta)
            .await?
            .id;
        let file_id = req.file_id.clone();
        let attached = self.attach_file(tenant, store, req).await;
        if attached.is_err()
            && let Err(e) = self.files.delete(tenant, &file_id).await
        {
            tracing::warn!(file_id, error = %e, "a file whose attachment failed stays stored");
        }
        attached
    }

    /// Creates a collection with files attached (each split by the input's chunking strategy),
    /// with the default model when the input names none. Every file is checked before the
    /// collection is made; when one cannot be attached after all, the collection (and what was
    /// attached to it) is removed again.
    pub async fn create_store(
        &self,
        tenant: &Tenant,
        input: CreateStoreInput,
    ) -> Result<CollectionRecord, ServiceError> {
        let CreateStoreInput {
            collection: mut input,
            file_ids,
            chunking_strategy,
        } = input;
        if input.model.is_none() {
            input.model = Some(self.vectors.default_model().to_string());
        }
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
                    tracing::error!(
                        collection = %record.id,
                        error = %crate::error::error_chain(&undo),
                        "could not remove a vector store whose files could not be attached"
                    );
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
                    .set_file_attributes(&store.spec()?, file_id, attributes.clone())
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
            status @ (FileStatus::InProgress | FileStatus::Failed | FileStatus::Cancelled) => {
                Err(ServiceError::invalid(
                    Field::FileId,
                    format!(
                        "the content of file '{file_id}' is available once it has been \
                         processed; it is {}",
                        status.as_str()
                    ),
                ))
            }
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

#[cfg(test)]
mod tests;
