//! Files attached to vector stores, their content, and file batches, under
//! `/v1/vector_stores/{id}/files` and `/v1/vector_stores/{id}/file_batches`.

use actix_web::{HttpResponse, HttpResponseBuilder, web};
use models::openai::{
    AttachFile, AttachedListQuery, BatchStatus, ChunkingStrategy, ContentQuery, CreateBatch,
    Deleted, FileBatch, FileContentPage, FileCounts, FileLastError, ListPage, StaticChunking,
    UpdateAttachedFile, VectorStoreFile,
};
use models::platform::ContentPart;
use models::wire::object;
use service::{AttachedFile, AttachedPage, Batch, FileStatus};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::extract::{ValidJson, ValidQuery};
use crate::openapi::{Authed, BadInput, Conflict, Endpoint, NotFound, tags};
use crate::routes::{StoreBatchId, StoreFileId, StoreId, VectorStorePath, page_order};
use crate::startup::AppState;

type State = web::Data<AppState>;

/// How long the SDK's polling helpers wait between polls.
const POLL_AFTER_MS: &str = "500";

fn ok_polled(in_progress: bool) -> HttpResponseBuilder {
    let mut res = HttpResponse::Ok();
    if in_progress {
        res.insert_header((models::wire::POLL_AFTER_HEADER, POLL_AFTER_MS));
    }
    res
}

pub fn file_view(f: AttachedFile) -> VectorStoreFile {
    VectorStoreFile {
        id: f.file_id,
        object: object::VECTOR_STORE_FILE.into(),
        created_at: f.created_at,
        vector_store_id: f.vector_store_id,
        usage_bytes: f.usage_bytes,
        status: f.status,
        last_error: f.last_error.map(|e| FileLastError {
            code: e.code,
            message: e.message,
        }),
        attributes: Some(f.attributes),
        chunking_strategy: Some(ChunkingStrategy::Static {
            static_: StaticChunking {
                max_chunk_size_tokens: f.max_chunk_tokens,
                chunk_overlap_tokens: f.overlap_tokens,
            },
        }),
    }
}

pub fn counts_view(c: service::StatusCounts) -> FileCounts {
    FileCounts {
        in_progress: c.in_progress,
        completed: c.completed,
        failed: c.failed,
        cancelled: c.cancelled,
        total: c.total(),
    }
}

async fn batch_view(
    state: &AppState,
    store: &service::CollectionRecord,
    b: Batch,
) -> Result<FileBatch, ApiError> {
    let (counts, status) = state.ingest().batch_state(store, &b).await?;
    Ok(FileBatch {
        id: b.id,
        object: object::FILES_BATCH.into(),
        created_at: b.created_at,
        vector_store_id: b.vector_store_id,
        status,
        file_counts: counts_view(counts),
    })
}

#[utoipa::path(
    post,
    path = "/{id}/files",
    tag = tags::VECTOR_STORE_FILES,
    operation_id = "createVectorStoreFile",
    summary = "Attach a file to a vector store",
    description = "Attaches an uploaded file; it is chunked and embedded in the background (poll \
                   the file until `completed` or `failed`).",
    params(StoreId),
    request_body = AttachFile,
    responses(
        (
            status = 200,
            description = "The attached file, `in_progress` until ingested.",
            body = VectorStoreFile
        ),
        BadInput,
        NotFound,
        Conflict,
        Authed
    ),
)]
async fn attach(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    ValidJson(body): ValidJson<AttachFile>,
) -> Result<HttpResponse, ApiError> {
    let attached = state
        .ingest()
        .attach_file(&caller.tenant, &store, body)
        .await?;
    Ok(ok_polled(true).json(file_view(attached)))
}

fn page_request(q: AttachedListQuery, batch_id: Option<String>) -> AttachedPage {
    AttachedPage {
        status: q.filter,
        batch_id,
        limit: q.page_size() as usize,
        order: page_order(q.order),
        after: q.after,
        before: q.before,
    }
}

fn page_view(files: Vec<AttachedFile>, has_more: bool) -> ListPage<VectorStoreFile> {
    let data: Vec<VectorStoreFile> = files.into_iter().map(file_view).collect();
    ListPage::new(data, has_more, |f| &f.id)
}

#[utoipa::path(
    get,
    path = "/{id}/files",
    tag = tags::VECTOR_STORE_FILES,
    operation_id = "listVectorStoreFiles",
    summary = "List a vector store's files",
    params(StoreId, AttachedListQuery),
    responses(
        (
            status = 200,
            description = "A page of the store's files.",
            body = ListPage<VectorStoreFile>
        ),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn list(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    ValidQuery(q): ValidQuery<AttachedListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (files, has_more) = state
        .ingest()
        .page(&caller.tenant, &store, page_request(q, None))
        .await?;
    Ok(HttpResponse::Ok().json(page_view(files, has_more)))
}

#[utoipa::path(
    get,
    path = "/{id}/files/{file_id}",
    tag = tags::VECTOR_STORE_FILES,
    operation_id = "getVectorStoreFile",
    summary = "Retrieve a vector store file",
    params(StoreFileId),
    responses(
        (
            status = 200,
            description = "The attached file and its ingestion status.",
            body = VectorStoreFile
        ),
        NotFound,
        Authed
    ),
)]
async fn retrieve(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    path: web::Path<StoreFileId>,
) -> Result<HttpResponse, ApiError> {
    let file_id = path.into_inner().file_id;
    let f = state
        .ingest()
        .attached(&caller.tenant, &store, &file_id)
        .await?;
    Ok(ok_polled(f.status == FileStatus::InProgress).json(file_view(f)))
}

#[utoipa::path(
    post,
    path = "/{id}/files/{file_id}",
    tag = tags::VECTOR_STORE_FILES,
    operation_id = "updateVectorStoreFileAttributes",
    summary = "Update a vector store file's attributes",
    params(StoreFileId),
    request_body = UpdateAttachedFile,
    responses(
        (
            status = 200,
            description = "The attached file with its new attributes.",
            body = VectorStoreFile
        ),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn update(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    path: web::Path<StoreFileId>,
    ValidJson(body): ValidJson<UpdateAttachedFile>,
) -> Result<HttpResponse, ApiError> {
    let file_id = path.into_inner().file_id;
    let f = state
        .ingest()
        .set_attributes(
            &caller.tenant,
            &store,
            &file_id,
            body.attributes.unwrap_or_default(),
        )
        .await?;
    Ok(ok_polled(f.status == FileStatus::InProgress).json(file_view(f)))
}

#[utoipa::path(
    delete,
    path = "/{id}/files/{file_id}",
    tag = tags::VECTOR_STORE_FILES,
    operation_id = "deleteVectorStoreFile",
    summary = "Detach a file from a vector store",
    params(StoreFileId),
    responses(
        (
            status = 200,
            description = "The file is detached and its chunks gone; the file stays in \
                           `/v1/files`.",
            body = Deleted
        ),
        NotFound,
        Authed
    ),
)]
async fn detach(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    path: web::Path<StoreFileId>,
) -> Result<HttpResponse, ApiError> {
    let file_id = path.into_inner().file_id;
    state
        .ingest()
        .detach(&caller.tenant, &store, &file_id)
        .await?;
    Ok(HttpResponse::Ok().json(Deleted::new(file_id, object::VECTOR_STORE_FILE_DELETED)))
}

#[utoipa::path(
    get,
    path = "/{id}/files/{file_id}/content",
    tag = tags::VECTOR_STORE_FILES,
    operation_id = "retrieveVectorStoreFileContent",
    summary = "Retrieve a vector store file's parsed content",
    description = "The text extracted from the file, a page at a time: a page holds at most \
                   `limits.max_response_bytes` of JSON; ask for the next with `page` set to \
                   `next_page`.",
    params(StoreFileId, ContentQuery),
    responses(
        (
            status = 200,
            description = "A page of the text extracted from the file.",
            body = FileContentPage
        ),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn content(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    path: web::Path<StoreFileId>,
    ValidQuery(query): ValidQuery<ContentQuery>,
) -> Result<HttpResponse, ApiError> {
    let file_id = path.into_inner().file_id;
    let offset = match query.page.as_deref() {
        None => 0,
        Some(p) => p.parse::<u64>().map_err(|_| {
            ApiError::invalid(
                "page",
                "not a page of this file's content: pass a next_page as it came",
            )
        })?,
    };
    // The page's text, written as JSON, within the response limit (less the envelope).
    let max = state
        .vectors()
        .limits()
        .max_response_bytes
        .saturating_sub(256);
    let (text, next) = state
        .ingest()
        .content(&caller.tenant, &store, &file_id, offset, max)
        .await?;
    Ok(HttpResponse::Ok().json(FileContentPage {
        object: object::FILE_CONTENT_PAGE.into(),
        data: vec![ContentPart::text(text)],
        has_more: next.is_some(),
        next_page: next.map(|n| n.to_string()),
    }))
}

#[utoipa::path(
    post,
    path = "/{id}/file_batches",
    tag = tags::FILE_BATCHES,
    operation_id = "createVectorStoreFileBatch",
    summary = "Attach several files at once",
    description = "Attaches `file_ids` (with one chunking strategy and attributes) or `files` \
                   (each with its own).",
    params(StoreId),
    request_body = CreateBatch,
    responses(
        (
            status = 200,
            description = "The batch, `in_progress` until every file is ingested.",
            body = FileBatch
        ),
        BadInput,
        NotFound,
        Conflict,
        Authed
    ),
)]
async fn create_batch(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    ValidJson(body): ValidJson<CreateBatch>,
) -> Result<HttpResponse, ApiError> {
    let batch = state
        .ingest()
        .create_batch(&caller.tenant, &store, body)
        .await?;
    Ok(ok_polled(true).json(batch_view(&state, &store, batch).await?))
}

#[utoipa::path(
    get,
    path = "/{id}/file_batches/{batch_id}",
    tag = tags::FILE_BATCHES,
    operation_id = "getVectorStoreFileBatch",
    summary = "Retrieve a file batch",
    params(StoreBatchId),
    responses(
        (status = 200, description = "The batch and its file counts.", body = FileBatch),
        NotFound,
        Authed
    ),
)]
async fn get_batch(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    path: web::Path<StoreBatchId>,
) -> Result<HttpResponse, ApiError> {
    let batch_id = path.into_inner().batch_id;
    let batch = state
        .ingest()
        .batch(&caller.tenant, &store, &batch_id)
        .await?;
    let view = batch_view(&state, &store, batch).await?;
    Ok(ok_polled(view.status == BatchStatus::InProgress).json(view))
}

#[utoipa::path(
    post,
    path = "/{id}/file_batches/{batch_id}/cancel",
    tag = tags::FILE_BATCHES,
    operation_id = "cancelVectorStoreFileBatch",
    summary = "Cancel a file batch",
    params(StoreBatchId),
    responses(
        (
            status = 200,
            description = "The batch; its files not yet ingested are cancelled.",
            body = FileBatch
        ),
        NotFound,
        Authed
    ),
)]
async fn cancel_batch(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    path: web::Path<StoreBatchId>,
) -> Result<HttpResponse, ApiError> {
    let batch_id = path.into_inner().batch_id;
    let batch = state
        .ingest()
        .cancel_batch(&caller.tenant, &store, &batch_id)
        .await?;
    Ok(HttpResponse::Ok().json(batch_view(&state, &store, batch).await?))
}

#[utoipa::path(
    get,
    path = "/{id}/file_batches/{batch_id}/files",
    tag = tags::FILE_BATCHES,
    operation_id = "listFilesInVectorStoreBatch",
    summary = "List a file batch's files",
    params(StoreBatchId, AttachedListQuery),
    responses(
        (
            status = 200,
            description = "A page of the batch's files.",
            body = ListPage<VectorStoreFile>
        ),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn batch_files(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    path: web::Path<StoreBatchId>,
    ValidQuery(q): ValidQuery<AttachedListQuery>,
) -> Result<HttpResponse, ApiError> {
    let batch_id = path.into_inner().batch_id;
    let batch = state
        .ingest()
        .batch(&caller.tenant, &store, &batch_id)
        .await?;
    let (files, has_more) = state
        .ingest()
        .page(&caller.tenant, &store, page_request(q, Some(batch.id)))
        .await?;
    Ok(HttpResponse::Ok().json(page_view(files, has_more)))
}

/// Routes under the `/v1/vector_stores` scope, which [`super::openai`] shares.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(Endpoint::new(__path_list, list).and(__path_attach, attach))
        .service(
            Endpoint::new(__path_retrieve, retrieve)
                .and(__path_update, update)
                .and(__path_detach, detach),
        )
        .service(Endpoint::new(__path_content, content))
        .service(Endpoint::new(__path_create_batch, create_batch).large_body())
        .service(Endpoint::new(__path_get_batch, get_batch))
        .service(Endpoint::new(__path_cancel_batch, cancel_batch))
        .service(Endpoint::new(__path_batch_files, batch_files));
}
