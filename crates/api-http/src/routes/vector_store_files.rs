//! Files attached to vector stores, their content, and file batches, under
//! `/v1/vector_stores/{id}/files` and `/v1/vector_stores/{id}/file_batches`.

use actix_web::{HttpResponse, HttpResponseBuilder, web};
use models::openai::{
    AttachFile, AttachedListQuery, BatchStatus, ChunkingStrategy, CreateBatch, Deleted, FileBatch,
    FileContentPage, FileCounts, FileLastError, ListPage, StaticChunking, UpdateAttachedFile,
    VectorStoreFile,
};
use models::platform::ContentPart;
use store_core::{AttachedFile, AttachedPage, Batch, FileStatus};

use crate::error::ApiError;
use crate::extract::{ValidJson, ValidQuery};
use crate::routes::{VectorStorePath, page_order};
use crate::startup::AppState;

type State = web::Data<AppState>;

/// How long the SDK's polling helpers wait between polls.
const POLL_AFTER_MS: &str = "500";

fn ok_polled(in_progress: bool) -> HttpResponseBuilder {
    let mut res = HttpResponse::Ok();
    if in_progress {
        res.insert_header(("openai-poll-after-ms", POLL_AFTER_MS));
    }
    res
}

pub fn file_view(f: AttachedFile) -> VectorStoreFile {
    VectorStoreFile {
        id: f.file_id,
        object: "vector_store.file".into(),
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

pub fn counts_view(c: store_core::StatusCounts) -> FileCounts {
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
    store: &store_core::CollectionRecord,
    b: Batch,
) -> Result<FileBatch, ApiError> {
    let (counts, status) = state.ingest.batch_state(store, &b).await?;
    Ok(FileBatch {
        id: b.id,
        object: "vector_store.files_batch".into(),
        created_at: b.created_at,
        vector_store_id: b.vector_store_id,
        status,
        file_counts: counts_view(counts),
    })
}

async fn attach(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    ValidJson(body): ValidJson<AttachFile>,
) -> Result<HttpResponse, ApiError> {
    let attached = state.ingest.attach_file(&caller.0, &store, body).await?;
    Ok(ok_polled(true).json(file_view(attached)))
}

fn page_request(q: AttachedListQuery, batch_id: Option<String>) -> AttachedPage {
    AttachedPage {
        status: q.filter,
        batch_id,
        limit: q.limit.unwrap_or(20) as usize,
        order: page_order(q.order),
        after: q.after,
        before: q.before,
    }
}

fn page_view(files: Vec<AttachedFile>, has_more: bool) -> ListPage<VectorStoreFile> {
    let data: Vec<VectorStoreFile> = files.into_iter().map(file_view).collect();
    ListPage::new(data, has_more, |f| &f.id)
}

async fn list(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    ValidQuery(q): ValidQuery<AttachedListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (files, has_more) = state
        .ingest
        .page(&caller.0, &store, page_request(q, None))
        .await?;
    Ok(HttpResponse::Ok().json(page_view(files, has_more)))
}

async fn retrieve(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_, file_id) = path.into_inner();
    let f = state.ingest.attached(&caller.0, &store, &file_id).await?;
    Ok(ok_polled(f.status == FileStatus::InProgress).json(file_view(f)))
}

async fn update(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    path: web::Path<(String, String)>,
    ValidJson(body): ValidJson<UpdateAttachedFile>,
) -> Result<HttpResponse, ApiError> {
    let (_, file_id) = path.into_inner();
    let f = state
        .ingest
        .set_attributes(
            &caller.0,
            &store,
            &file_id,
            body.attributes.unwrap_or_default(),
        )
        .await?;
    Ok(ok_polled(f.status == FileStatus::InProgress).json(file_view(f)))
}

async fn detach(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_, file_id) = path.into_inner();
    state.ingest.detach(&caller.0, &store, &file_id).await?;
    Ok(HttpResponse::Ok().json(Deleted {
        id: file_id,
        object: "vector_store.file.deleted".into(),
        deleted: true,
    }))
}

async fn content(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_, file_id) = path.into_inner();
    let text = state.ingest.content(&caller.0, &store, &file_id).await?;
    Ok(HttpResponse::Ok().json(FileContentPage {
        object: "vector_store.file_content.page".into(),
        data: vec![ContentPart::text(text)],
        has_more: false,
        next_page: None,
    }))
}

async fn create_batch(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    ValidJson(body): ValidJson<CreateBatch>,
) -> Result<HttpResponse, ApiError> {
    let batch = state.ingest.create_batch(&caller.0, &store, body).await?;
    Ok(ok_polled(true).json(batch_view(&state, &store, batch).await?))
}

async fn get_batch(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_, batch_id) = path.into_inner();
    let batch = state.ingest.batch(&caller.0, &store, &batch_id).await?;
    let view = batch_view(&state, &store, batch).await?;
    Ok(ok_polled(view.status == BatchStatus::InProgress).json(view))
}

async fn cancel_batch(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (_, batch_id) = path.into_inner();
    let batch = state
        .ingest
        .cancel_batch(&caller.0, &store, &batch_id)
        .await?;
    Ok(HttpResponse::Ok().json(batch_view(&state, &store, batch).await?))
}

async fn batch_files(
    state: State,
    VectorStorePath { caller, store }: VectorStorePath,
    path: web::Path<(String, String)>,
    ValidQuery(q): ValidQuery<AttachedListQuery>,
) -> Result<HttpResponse, ApiError> {
    let (_, batch_id) = path.into_inner();
    let batch = state.ingest.batch(&caller.0, &store, &batch_id).await?;
    let (files, has_more) = state
        .ingest
        .page(&caller.0, &store, page_request(q, Some(batch.id)))
        .await?;
    Ok(HttpResponse::Ok().json(page_view(files, has_more)))
}

/// Routes under the `/v1/vector_stores` scope, which [`super::openai`] shares.
pub fn configure(cfg: &mut web::ServiceConfig) {
    const BASE: &str = "/{id}";
    let at = |p: &str| format!("{BASE}{p}");
    cfg.service(
        web::resource(at("/files"))
            .route(web::get().to(list))
            .route(web::post().to(attach)),
    )
    .service(
        web::resource(at("/files/{file_id}"))
            .route(web::get().to(retrieve))
            .route(web::post().to(update))
            .route(web::delete().to(detach)),
    )
    .service(web::resource(at("/files/{file_id}/content")).route(web::get().to(content)))
    .service(web::resource(at("/file_batches")).route(web::post().to(create_batch)))
    .service(web::resource(at("/file_batches/{batch_id}")).route(web::get().to(get_batch)))
    .service(
        web::resource(at("/file_batches/{batch_id}/cancel")).route(web::post().to(cancel_batch)),
    )
    .service(web::resource(at("/file_batches/{batch_id}/files")).route(web::get().to(batch_files)));
}
